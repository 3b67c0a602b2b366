//! `deployer up` (alias `deploy`): guard, package, resolve AWS variables, create or update the
//! stack, keep the newest deployments, print endpoints, functions and outputs.

use deployer_ops::types::DeployStatus;
use deployer_ops::{DeployOptions, DeployReport, Deployed};

use crate::args::UpArgs;
use crate::commands::{options, render};
use crate::ui::{CliObserver, Output};

/// Runs `deployer up`.
pub fn run(out: &Output, args: UpArgs) -> anyhow::Result<u8> {
    let options = DeployOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        force: args.force,
        package_dir: args.package.clone(),
        timeout: Some(std::time::Duration::from_secs(args.timeout.max(1) * 60)),
        force_unlock: args.force_unlock,
    };
    let observer = CliObserver::new(out);
    let report = deployer_ops::deploy(&options, &observer);
    observer.finish();
    match report? {
        DeployReport::Done(deployed) => {
            show(out, &deployed);
            Ok(crate::exit::OK)
        }
        DeployReport::Failed(failed) => {
            if let Some(raw) = failed.cause.raw_chain() {
                out.detail(&format!("AWS SDK error chain: {raw}"));
            }
            if out.json {
                out.json_result(&failed);
            }
            Err(failed.into_error())
        }
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
