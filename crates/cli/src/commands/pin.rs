//! `deployer pin`: record the stage's current account, proven with STS, in the account lock
//! file (deployer.accounts.json next to the configuration) so later runs with another
//! account are refused.

use crate::args::AwsCommandArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer pin`.
pub async fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let options = options::stage(out, &args.service, &args.credentials)?;
    let p = deployer_ops::pin(&options, &CliObserver::new(out)).await?;
    if out.json {
        out.json_result(&p);
        return Ok(crate::exit::OK);
    }
    let what = match (&p.previous, p.changed) {
        (Some(prev), true) => format!("re-recorded (was {prev})"),
        (Some(_), false) => "already recorded".to_string(),
        (None, _) => "recorded".to_string(),
    };
    out.result(&format!(
        "Stage {}: account {} ({}) {what} in {}; commit this file",
        p.who.stage, p.who.account, p.who.arn, p.lock_file
    ));
    Ok(crate::exit::OK)
}
