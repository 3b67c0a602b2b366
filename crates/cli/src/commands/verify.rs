//! `deployer verify`: the account guard alone, for a CI step before a deploy. Exit 0 and one
//! line when the stage's credentials belong to its account, 3 when they do not, 1 on any
//! other error (no credentials, rejected keys, unreachable STS).

use deployer_aws::Verdict;
use serde_json::json;

use crate::args::AwsCommandArgs;
use crate::commands::whoami::describe_pin;
use crate::context::{self, Guard};
use crate::output::Output;

pub fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let stage = context::runtime()?.block_on(context::open(
        out,
        &args.service,
        &args.credentials,
        Guard::Enforce,
    ))?;
    let s = &stage.session;
    if out.json {
        out.json_result(&json!({
            "stage": s.stage,
            "region": s.region,
            "profile": s.source.profile(),
            "credentialSource": s.source.to_string(),
            "account": s.identity.account,
            "arn": s.identity.arn,
            "pinned": s.pin.is_pinned(),
            "allowed": true,
        }));
        return Ok(crate::exit::OK);
    }
    let who = format!(
        "stage {}: account {} ({}) via {}",
        s.stage, s.identity.account, s.identity.arn, s.source
    );
    match s.verdict {
        Verdict::Holds => out.result(&format!("OK {who} matches {}", describe_pin(s))),
        _ => out.result(&format!(
            "OK {who}; the stage has no account pin (add provider.allowedAccountIds or pass --expect-account)"
        )),
    }
    Ok(crate::exit::OK)
}
