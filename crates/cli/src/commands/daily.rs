//! `deployer deploy` with its subcommands: plain `deploy [flags]` is `up`; `deploy function -f
//! NAME` replaces one function's code; `deploy list` lists the deployments in the bucket.

use deployer_ops::{DeploymentList, FunctionDeployed, FunctionOptions};

use crate::args::{AwsCommandArgs, DeployCommand, DeployFunctionArgs, UpArgs};
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer up`/`deploy`, or the `deploy` subcommand given.
pub async fn deploy(out: &Output, mut args: UpArgs) -> anyhow::Result<u8> {
    match args.target.take() {
        None => crate::commands::up::run(out, args).await,
        // `deploy --force-unlock function -f F` means the same as the flag after `function`.
        Some(DeployCommand::Function(a)) => function(out, a, args.force_unlock).await,
        Some(DeployCommand::List(a)) => list(out, a).await,
    }
}

/// Runs `deployer deploy function`.
async fn function(
    out: &Output,
    args: DeployFunctionArgs,
    force_unlock: bool,
) -> anyhow::Result<u8> {
    let stage = options::stage(out, &args.service, &args.credentials)?;
    let options = FunctionOptions {
        stage,
        function: args.function.clone(),
        update_config: args.update_config,
        force: args.force,
        out_dir: None,
        now: std::time::SystemTime::now(),
        force_unlock: force_unlock || args.force_unlock,
    };
    let observer = CliObserver::new(out);
    let result = deployer_ops::deploy_function(&options, &observer).await;
    observer.finish();
    show_function(out, &result?);
    Ok(crate::exit::OK)
}

fn show_function(out: &Output, d: &FunctionDeployed) {
    if out.json {
        out.json_result(d);
        return;
    }
    let secs = d.millis as f32 / 1000.0;
    if d.code_updated {
        out.result(&format!(
            "✔ Function code of {} ({}) deployed ({secs:.1}s)",
            d.function, d.name
        ));
    } else {
        out.result(&format!(
            "Code did not change. Function deployment skipped: {} ({secs:.1}s)",
            d.name
        ));
    }
    if !d.config_updated.is_empty() {
        out.result(&format!(
            "✔ Function configuration updated: {}",
            d.config_updated.join(", ")
        ));
    }
}

/// Runs `deployer deploy list`.
pub async fn list(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let options = options::stage(out, &args.service, &args.credentials)?;
    let list = deployer_ops::deploy_list(&options, &CliObserver::new(out)).await?;
    show_list(out, &list);
    Ok(crate::exit::OK)
}

/// The deployments, newest first, as `deploy list` and `rollback` without `-t` print them.
pub fn show_list(out: &Output, list: &DeploymentList) {
    if out.json {
        out.json_result(list);
        return;
    }
    if list.deployments.is_empty() {
        out.result(&format!(
            "No deployments of stage {} in s3://{}",
            list.stage, list.bucket
        ));
        return;
    }
    for d in &list.deployments {
        let mark = if d.current { "  (deployed)" } else { "" };
        out.result(&format!("{}{mark}", d.date));
        out.result(&format!("Timestamp: {}", d.timestamp));
        out.result("Files:");
        for f in &d.files {
            out.result(&format!("  - {f}"));
        }
    }
}
