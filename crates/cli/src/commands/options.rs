//! Command-line arguments → the options of the operations.

use std::collections::BTreeMap;

use anyhow::Context;
use deployer_ops::types::{CliOptions, CredentialOptions, MfaPrompt};
use deployer_ops::{ServiceOptions, StageOptions};
use serde_json::Value;

use crate::args::{CredentialArgs, ServiceArgs};
use crate::ui::{self, Output};

/// The service options of `--config`, `--stage`, `--region`, `--param`; `extra` are the other
/// options the command declares for `${opt:…}`.
pub fn service(args: &ServiceArgs, extra: CliOptions) -> anyhow::Result<ServiceOptions> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    Ok(ServiceOptions {
        config: args.config.clone(),
        cwd,
        cli: CliOptions {
            stage: args.stage.clone(),
            region: args.region.clone(),
            params: args.params.clone(),
            ..extra
        },
        ignore_plugins: Vec::new(),
    })
}

/// The options every stage command declares for `${opt:…}`, as v3's common options: `config`,
/// `aws-profile`, `verbose`, `json`; one not given is `null`, a flag given is `true`.
pub fn common(
    out: &Output,
    service: &ServiceArgs,
    creds: &CredentialArgs,
) -> BTreeMap<String, Value> {
    let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
    let flag = |on: bool| if on { Value::Bool(true) } else { Value::Null };
    let config = service.config.as_ref().map(|p| p.display().to_string());
    [
        ("config", text(config)),
        ("aws-profile", text(creds.aws_profile.clone())),
        ("json", flag(out.json)),
        ("verbose", flag(out.verbose)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The stage options of an AWS command; the MFA prompt only when a person can answer.
pub fn stage(
    out: &Output,
    service: &ServiceArgs,
    creds: &CredentialArgs,
) -> anyhow::Result<StageOptions> {
    let interactive_mfa = out
        .interactive
        .then(|| Box::new(ui::prompt_mfa) as MfaPrompt);
    let declared = CliOptions {
        extra: common(out, service, creds),
        ..Default::default()
    };
    Ok(StageOptions {
        service: self::service(service, declared)?,
        credentials: CredentialOptions {
            aws_profile: creds.aws_profile.clone(),
            no_profile: creds.no_profile,
            expect_account: creds.expect_account.clone(),
            mfa_code: creds.mfa_code.clone(),
            interactive_mfa,
        },
        accept_account: creds.accept_account.clone(),
    })
}
