//! `deployer whoami`: which credentials and account a stage resolves to, and whether the
//! stage's account pin holds. Reports a broken pin (with a warning) instead of failing; use
//! `deployer verify` to gate on it.

use deployer_ops::Identity;

use crate::args::AwsCommandArgs;
use crate::commands::{options, render};
use crate::ui::{CliObserver, Output};

/// Runs `deployer whoami`.
pub async fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let options = options::stage(out, &args.service, &args.credentials)?;
    let id = deployer_ops::whoami(&options, &CliObserver::new(out)).await?;
    if out.json {
        out.json_result(&id);
        return Ok(crate::exit::OK);
    }
    out.result(&format!("stage:       {}", id.who.stage));
    out.result(&format!("region:      {}", id.who.region));
    out.result(&format!(
        "profile:     {}",
        id.who.profile.as_deref().unwrap_or("-")
    ));
    out.result(&format!("credentials: {}", id.who.credential_source));
    out.result(&format!("account:     {}", id.who.account));
    out.result(&format!("principal:   {}", id.who.arn));
    out.result(&format!("pin:         {}", pin_line(&id)));
    if id.pinned {
        out.result(&format!("pin from:    {}", id.pin_origins.join(" + ")));
    }
    Ok(crate::exit::OK)
}

/// One line about the pin.
fn pin_line(id: &Identity) -> String {
    if !id.pinned {
        "none (add provider.allowedAccountIds, or run `deployer pin` to record the account in \
         deployer.accounts.json)"
            .into()
    } else if id.refusal.is_some() {
        format!("REFUSED ({})", render::describe_pin(&id.pin))
    } else {
        format!("holds ({})", render::describe_pin(&id.pin))
    }
}
