//! `deployer rollback -t TIMESTAMP`: update the stack to an earlier deployment; without `-t`,
//! list the deployments (as v3 does).

use deployer_ops::RollbackOptions;

use crate::args::{AwsCommandArgs, RollbackArgs};
use crate::commands::{daily, options};
use crate::ui::{CliObserver, Output};

/// Runs `deployer rollback`.
pub async fn run(out: &Output, args: RollbackArgs) -> anyhow::Result<u8> {
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
