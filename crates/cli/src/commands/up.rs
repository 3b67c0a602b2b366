//! `deployer up` (alias `deploy`): guard, package, resolve AWS variables, create or update the
//! stack, keep the newest deployments, print endpoints, functions and outputs.

use deployer_ops::types::DeployStatus;
use std::path::PathBuf;

use deployer_ops::{ApplyOptions, DeployOptions, DeployReport, Deployed, StageOptions};

use crate::args::UpArgs;
use crate::commands::{options, render};
use crate::ui::{CliObserver, Output};

/// Runs `deployer up`.
pub async fn run(out: &Output, args: UpArgs) -> anyhow::Result<u8> {
    let mut stage = options::stage(out, &args.service, &args.credentials)?;
    stage.service.ignore_plugins = args.ignore_plugins.clone();
    if let Some(plan) = args.plan.clone() {
        return apply(out, &args, stage, plan).await;
    }
    let options = DeployOptions {
        stage,
        force: args.force,
        package_dir: args.package.clone(),
        timeout: Some(std::time::Duration::from_secs(args.timeout.max(1) * 60)),
        force_unlock: args.force_unlock,
        approve_broadening: args.approve_broadening,
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

/// `up --plan FILE`: executes the saved plan.
async fn apply(
    out: &Output,
    args: &UpArgs,
    stage: StageOptions,
    plan: PathBuf,
) -> anyhow::Result<u8> {
    let options = ApplyOptions {
        stage,
        plan,
        skip_source_check: args.skip_source_check,
        approve_broadening: args.approve_broadening,
        accept_drift: args.accept_drift,
        force_unlock: args.force_unlock,
        timeout: Some(std::time::Duration::from_secs(args.timeout.max(1) * 60)),
    };
    let observer = CliObserver::new(out);
    let applied = deployer_ops::apply_plan(options, &observer).await;
    observer.finish();
    let applied = applied?;
    if out.json {
        out.json_result(&applied);
    } else if applied.status == "unchanged" {
        out.result(&format!(
            "The plan has no changes: stack {} was not touched",
            applied.stack
        ));
    } else {
        out.result(&format!(
            "✔ Plan executed on stack {} in account {} ({})",
            applied.stack, applied.account, applied.stack_status
        ));
        render::summary(out, &[], &Default::default(), &applied.outputs);
    }
    Ok(crate::exit::OK)
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
