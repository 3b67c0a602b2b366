//! `deployer rollback -t TIMESTAMP`: update the stack to an earlier deployment; without `-t`,
//! list the deployments (as v3 does).

use deployer_ops::{RollbackFunctionOptions, RollbackOptions};

use crate::args::{AwsCommandArgs, RollbackArgs, RollbackCommand, RollbackFunctionArgs};
use crate::commands::{daily, options};
use crate::ui::{CliObserver, Output};

/// Runs `deployer rollback`, or `rollback function`.
pub async fn run(out: &Output, mut args: RollbackArgs) -> anyhow::Result<u8> {
    if let Some(RollbackCommand::Function(f)) = args.target.take() {
        return function(out, f).await;
    }
    let Some(timestamp) = args.timestamp.clone() else {
        return daily::list(
            out,
            AwsCommandArgs {
                service: args.service,
                credentials: args.credentials,
            },
        )
        .await;
    };
    let options = RollbackOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        timestamp,
        force_unlock: args.force_unlock,
        approve_rollback: args.approve_rollback,
    };
    let observer = CliObserver::new(out);
    let result = deployer_ops::rollback(&options, &observer).await;
    observer.finish();
    let done = result?;
    if out.json {
        out.json_result(&done);
    } else if done.status == "alreadyRunning" {
        out.result(&format!(
            "Stack {} is already running deployment {}; nothing was changed",
            done.stack, done.timestamp
        ));
    } else if done.status == "unchanged" {
        out.result(&format!(
            "CloudFormation found nothing to change in stack {} for deployment {}; nothing was \
             changed",
            done.stack, done.timestamp
        ));
    } else {
        out.result(&format!(
            "✔ Stack {} rolled back to deployment {} ({})",
            done.stack, done.timestamp, done.stack_status
        ));
    }
    Ok(crate::exit::OK)
}

/// Runs `deployer rollback function -f NAME --function-version N`.
async fn function(out: &Output, args: RollbackFunctionArgs) -> anyhow::Result<u8> {
    let options = RollbackFunctionOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        function: args.function.clone(),
        version: args.function_version.clone(),
        force_unlock: args.force_unlock,
        approve_rollback: args.approve_rollback,
    };
    let observer = CliObserver::new(out);
    let result = deployer_ops::rollback_function(&options, &observer).await;
    observer.finish();
    let done = result?;
    if out.json {
        out.json_result(&done);
    } else if done.status == "alreadyRunning" {
        out.result(&format!(
            "Function {} ({}) already runs the code of version {}; nothing was changed",
            done.function, done.name, done.version
        ));
    } else {
        out.result(&format!(
            "✔ Function {} ({}) rolled back to the code of version {} ({:.1}s)",
            done.function,
            done.name,
            done.version,
            done.millis as f32 / 1000.0
        ));
    }
    Ok(crate::exit::OK)
}
