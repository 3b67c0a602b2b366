//! `deployer whoami`: which credentials and account a stage resolves to, and whether the
//! stage's account pin holds. Reports a broken pin (with a warning) instead of failing; use
//! `deployer verify` to gate on it.

use deployer_aws::{AwsSession, Verdict};
use serde_json::json;

use crate::args::AwsCommandArgs;
use crate::context::{self, Guard};
use crate::output::Output;

pub fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let stage = context::runtime()?.block_on(context::open(
        out,
        &args.service,
        &args.credentials,
        Guard::Report,
    ))?;
    let s = &stage.session;
    if out.json {
        let mut value = report(s);
        value["configFile"] = json!(stage.config.path.display().to_string());
        value["configuredProfile"] = json!(stage.settings.profile);
        out.json_result(&value);
    } else {
        let profile = s.source.profile().unwrap_or("-");
        out.result(&format!("stage:       {}", s.stage));
        out.result(&format!("region:      {}", s.region));
        out.result(&format!("profile:     {profile}"));
        out.result(&format!("credentials: {}", s.source));
        out.result(&format!("account:     {}", s.identity.account));
        out.result(&format!("principal:   {}", s.identity.arn));
        out.result(&format!("pin:         {}", pin_line(s)));
    }
    if let Verdict::Refused(refusal) = &s.verdict {
        out.warn(&refusal.to_string());
    }
    Ok(crate::exit::OK)
}

/// One line about the pin.
fn pin_line(s: &AwsSession) -> String {
    match &s.verdict {
        Verdict::Unpinned => {
            "none (add provider.allowedAccountIds to pin the stage to its account)".into()
        }
        Verdict::Holds => format!("holds ({})", describe_pin(s)),
        Verdict::Refused(_) => format!("REFUSED ({})", describe_pin(s)),
    }
}

/// The rules of the pin, e.g. `allowedAccountIds 111111111111`.
pub(crate) fn describe_pin(s: &AwsSession) -> String {
    let mut parts = Vec::new();
    if !s.pin.allowed.is_empty() {
        parts.push(format!("allowedAccountIds {}", s.pin.allowed.join(", ")));
    }
    if !s.pin.forbidden.is_empty() {
        parts.push(format!(
            "forbiddenAccountIds {}",
            s.pin.forbidden.join(", ")
        ));
    }
    if let Some(e) = &s.pin.expect {
        parts.push(format!("--expect-account {e}"));
    }
    parts.join("; ")
}

/// The `--json` object.
fn report(s: &AwsSession) -> serde_json::Value {
    json!({
        "stage": s.stage,
        "region": s.region,
        "profile": s.source.profile(),
        "credentialSource": s.source.to_string(),
        "account": s.identity.account,
        "arn": s.identity.arn,
        "userId": s.identity.user_id,
        "pinned": s.pin.is_pinned(),
        "allowed": s.verdict.allowed(),
        "allowedAccountIds": s.pin.allowed,
        "forbiddenAccountIds": s.pin.forbidden,
        "expectAccount": s.pin.expect,
        "refusal": match &s.verdict {
            Verdict::Refused(r) => Some(r.to_string()),
            _ => None,
        },
    })
}
