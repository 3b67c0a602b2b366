//! `deployer up` (alias `deploy`): guard, package, resolve AWS variables, create or update the
//! stack, keep the newest deployments, print endpoints, functions and outputs.

use deployer_ops::types::DeployStatus;
use deployer_ops::{DeployOptions, DeployReport, Deployed};

use crate::args::UpArgs;
use crate::commands::{options, render};
use crate::ui::{CliObserver, Output};

/// Runs `deployer up`.
pub async fn run(out: &Output, args: UpArgs) -> anyhow::Result<u8> {
    let mut stage = options::stage(out, &args.service, &args.credentials)?;
    stage.service.ignore_plugins = args.ignore_plugins.clone();
    let options = DeployOptions {
        stage,
        force: args.force,
        package_dir: args.package.clone(),
        timeout: Some(std::time::Duration::from_secs(args.timeout.max(1) * 60)),
        force_unlock: args.force_unlock,
    };
    let observer = CliObserver::new(out);
    let report = deployer_ops::deploy(&options, &observer).await;
    observer.finish();
    match report? {
        DeployReport::Done(deployed) => {
            show(out, &deployed);
            Ok(crate::exit::OK)
        }
        // The error object of `--json` carries the stage, stack and account (one object).
        DeployReport::Failed(failed) => Err(crate::errors::deploy_failed(*failed)),
    }
}

fn show(out: &Output, d: &Deployed) {
    if out.json {
        out.json_result(d);
        return;
    }
    let secs = d.elapsed.as_secs_f32();
    match d.status {
        DeployStatus::Deployed => out.result(&format!(
            "✔ Service deployed to stack {} in account {} ({secs:.1}s)",
            d.stack, d.account
        )),
        DeployStatus::Unchanged => out.result(&format!(
            "No changes to deploy. Deployment skipped: {} ({secs:.1}s)",
            d.reason
        )),
    }
    render::summary(out, &d.endpoints, &d.functions, &d.outputs);
    if let Some(p) = &d.pruned {
        out.result(&format!(
            "Pruned {} old function version(s) and {} layer version(s)",
            p.function_versions, p.layer_versions
        ));
    }
    if let Some(file) = &d.account_recorded {
        out.result(&format!(
            "Stage {} is now locked to account {} in {file}: commit this file; later runs with \
             another account are refused (--accept-account ID re-records it)",
            d.stage, d.account
        ));
    }
    out.detail(&format!(
        "AWS calls: {}",
        serde_json::to_string(&d.aws_calls).unwrap_or_default()
    ));
}
