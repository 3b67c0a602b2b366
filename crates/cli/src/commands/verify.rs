//! `deployer verify`: the account guard alone, for a CI step before a deploy. Exit 0 and one
//! line when the stage's credentials belong to its account, 3 when they do not or when nothing
//! pins the stage (no allowedAccountIds, no deployer.accounts.json record, no
//! --expect-account), 1 on any other error (no credentials, rejected keys, unreachable STS).

use crate::args::AwsCommandArgs;
use crate::commands::{options, render};
use crate::ui::{CliObserver, Output};

/// Runs `deployer verify`.
pub async fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let options = options::stage(out, &args.service, &args.credentials)?;
    let v = deployer_ops::verify(&options, &CliObserver::new(out)).await?;
    if out.json {
        out.json_result(&v);
        return Ok(crate::exit::OK);
    }
    let who = format!(
        "stage {}: account {} ({}) via {}",
        v.who.stage, v.who.account, v.who.arn, v.who.credential_source
    );
    // `verify` refuses an unpinned stage (exit 3), so a pin is always there.
    out.result(&format!(
        "OK {who} matches {}",
        render::describe_pin(&v.pin)
    ));
    Ok(crate::exit::OK)
}
