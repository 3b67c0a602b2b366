//! Opening a stage for an AWS command, the same way for every command: load the service
//! configuration → resolve the stage (stage, region, profile, account pins) → pick the
//! credentials → prove the account with STS → judge it with the guard → an SDK configuration.

use std::io::{BufRead, Write};

use anyhow::Context as _;
use deployer_aws::{AwsSession, CredentialError, CredentialOptions, StageTarget};
use deployer_config::{CliOptions, ConfigFile, LoadOptions, ProcessEnv, StageSettings};

use crate::args::{CredentialArgs, ServiceArgs};
use crate::output::Output;

/// A stage opened for AWS work.
pub struct Stage {
    /// The service configuration file, before full variable resolution.
    pub config: ConfigFile,
    /// Stage, region, profile and pins as resolved in the early phase.
    pub settings: StageSettings,
    /// The verified credentials and SDK configuration.
    pub session: AwsSession,
}

/// Whether a refused account stops the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Stop with exit code 3 (every command that touches the stage's resources).
    Enforce,
    /// Return the session with its verdict (`whoami` reports it).
    Report,
}

/// A tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The [`deployer_config::CliOptions`] of the service arguments.
pub fn cli_options(service: &ServiceArgs) -> CliOptions {
    CliOptions {
        stage: service.stage.clone(),
        region: service.region.clone(),
        params: service.params.clone(),
        ..Default::default()
    }
}

/// Load the service configuration and resolve the stage's early settings; prints the
/// configuration's warnings.
pub fn load_stage(
    out: &Output,
    service: &ServiceArgs,
) -> anyhow::Result<(ConfigFile, StageSettings)> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let config = deployer_config::load(&LoadOptions {
        config: service.config.clone(),
        cwd,
    })?;
    let settings = deployer_config::resolve_stage(&config, &cli_options(service), &ProcessEnv)?;
    for w in &settings.warnings {
        out.warn(w);
    }
    Ok((config, settings))
}

/// The credential options of the command line; the MFA prompt only when a person can answer.
pub fn credential_options(out: &Output, creds: &CredentialArgs) -> CredentialOptions {
    let interactive_mfa: Option<deployer_aws::MfaPrompt> = out
        .interactive
        .then(|| Box::new(prompt_mfa) as deployer_aws::MfaPrompt);
    CredentialOptions {
        aws_profile: creds.aws_profile.clone(),
        no_profile: creds.no_profile,
        expect_account: creds.expect_account.clone(),
        mfa_code: creds.mfa_code.clone(),
        interactive_mfa,
    }
}

/// Ask for an MFA code on the terminal (prompt on stderr, answer on stdin).
fn prompt_mfa(serial: &str) -> Result<String, String> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "Enter MFA code for {serial}: ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let code = line.trim().to_string();
    if code.is_empty() {
        Err("no code entered".into())
    } else {
        Ok(code)
    }
}

/// The [`StageTarget`] of resolved settings.
pub fn target(settings: &StageSettings) -> StageTarget {
    StageTarget {
        stage: settings.stage.clone(),
        region: settings.region.clone(),
        profile: settings.profile.clone(),
        allowed_account_ids: settings.allowed_account_ids.clone(),
        forbidden_account_ids: settings.forbidden_account_ids.clone(),
    }
}

/// Turn a credential error into the command's error; a guard refusal keeps its type so the
/// exit code is 3.
pub fn credential_error(err: CredentialError) -> anyhow::Error {
    match err {
        CredentialError::Refused(refusal) => anyhow::Error::new(*refusal),
        other => anyhow::Error::new(other),
    }
}

/// Open the stage: configuration, credentials, one STS call, the guard.
pub async fn open(
    out: &Output,
    service: &ServiceArgs,
    creds: &CredentialArgs,
    guard: Guard,
) -> anyhow::Result<Stage> {
    let (config, settings) = load_stage(out, service)?;
    let target = target(&settings);
    let options = credential_options(out, creds);
    let session = deployer_aws::open(&target, &options)
        .await
        .map_err(credential_error)?;
    out.detail(&format!(
        "stage {} in {}: credentials from {}, account {} ({})",
        session.stage,
        session.region,
        session.source,
        session.identity.account,
        session.identity.arn
    ));
    if guard == Guard::Enforce {
        session.ensure_allowed().map_err(credential_error)?;
    }
    Ok(Stage {
        config,
        settings,
        session,
    })
}

/// Print, on stderr, the account a command acts on; for unpinned stages with a hint to pin.
// Called by the commands that deploy, diff, inspect or remove a stage.
#[allow(dead_code)]
pub fn announce(out: &Output, session: &AwsSession) {
    let pinned = session.pin.is_pinned();
    out.progress(&format!(
        "Stage {} → account {} ({}) via {}{}",
        session.stage,
        session.identity.account,
        session.identity.arn,
        session.source,
        if pinned {
            ""
        } else {
            " [no account pin: add provider.allowedAccountIds]"
        }
    ));
}
