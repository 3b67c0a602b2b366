//! Stage credentials: which source a stage's credentials come from (explicit beats ambient),
//! resolving them once, proving the account with one STS GetCallerIdentity, and the
//! [`AwsSession`] every AWS command works with.
//!
//! Precedence, highest first:
//! 1. `--aws-profile NAME` (that profile only);
//! 2. `AWS_<STAGE>_PROFILE`, then `AWS_<STAGE>_ACCESS_KEY_ID` + `AWS_<STAGE>_SECRET_ACCESS_KEY`
//!    (+ `AWS_<STAGE>_SESSION_TOKEN`);
//! 3. `provider.profile` (that profile only; skipped with `--no-profile`);
//! 4. the SDK's default chain (environment keys, `AWS_PROFILE`, web identity, SSO,
//!    `credential_process`, container, instance metadata).
//!
//! A named profile (1–3) must exist: it never falls through to another source.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::Credentials;
use aws_credential_types::credential_feature::AwsCredentialFeature;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::guard::{AccountPin, Evidence, GuardRefusal, Verdict, is_account_id};
use crate::mfa;
use crate::profile::{ProfileInfo, Profiles, account_of_arn};

/// What the stage's configuration says about credentials (from `deployer_config::StageSettings`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageTarget {
    /// The stage name.
    pub stage: String,
    /// The stage's region (`--region` / `provider.region`); `AWS_REGION` never changes it.
    pub region: String,
    /// `provider.profile` as resolved for the stage.
    pub profile: Option<String>,
    /// `provider.allowedAccountIds`.
    pub allowed_account_ids: Vec<String>,
    /// `provider.forbiddenAccountIds`.
    pub forbidden_account_ids: Vec<String>,
}

/// A prompt for an MFA code: gets the device serial, returns the code (or why it failed).
pub type MfaPrompt = Box<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// Command-line choices about credentials.
#[derive(Default)]
pub struct CredentialOptions {
    /// `--aws-profile`.
    pub aws_profile: Option<String>,
    /// `--no-profile`: ignore `provider.profile`.
    pub no_profile: bool,
    /// `--expect-account` / `DEPLOYER_EXPECT_ACCOUNT`.
    pub expect_account: Option<String>,
    /// `--mfa-code` / `DEPLOYER_MFA_CODE`.
    pub mfa_code: Option<String>,
    /// Asks for an MFA code; only given when a person is at a terminal.
    pub interactive_mfa: Option<MfaPrompt>,
}

impl fmt::Debug for CredentialOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialOptions")
            .field("aws_profile", &self.aws_profile)
            .field("no_profile", &self.no_profile)
            .field("expect_account", &self.expect_account)
            .field("mfa_code", &self.mfa_code.as_ref().map(|_| "<given>"))
            .field("interactive_mfa", &self.interactive_mfa.is_some())
            .finish()
    }
}

/// Which source the stage's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `--aws-profile NAME`.
    CliProfile {
        /// Profile name.
        name: String,
    },
    /// `AWS_<STAGE>_PROFILE`.
    StageEnvProfile {
        /// The variable, e.g. `AWS_PROD_PROFILE`.
        var: String,
        /// Profile name.
        name: String,
    },
    /// `AWS_<STAGE>_ACCESS_KEY_ID` and friends.
    StageEnvKeys {
        /// The key id variable, e.g. `AWS_PROD_ACCESS_KEY_ID`.
        var: String,
    },
    /// `provider.profile`.
    ConfigProfile {
        /// Profile name.
        name: String,
    },
    /// The SDK's default chain.
    DefaultChain {
        /// Which link of the chain answered, once known (e.g. `environment variables`).
        detail: Option<String>,
        /// The profile it used, when it used one (`AWS_PROFILE` or `default`).
        profile: Option<String>,
    },
}

impl CredentialSource {
    /// The profile the credentials come from, if any.
    pub fn profile(&self) -> Option<&str> {
        match self {
            CredentialSource::CliProfile { name }
            | CredentialSource::StageEnvProfile { name, .. }
            | CredentialSource::ConfigProfile { name } => Some(name),
            CredentialSource::DefaultChain { profile, .. } => profile.as_deref(),
            CredentialSource::StageEnvKeys { .. } => None,
        }
    }

    /// A profile chosen by name (1–3 of the precedence), which must exist.
    fn named_profile(&self) -> Option<&str> {
        match self {
            CredentialSource::CliProfile { name }
            | CredentialSource::StageEnvProfile { name, .. }
            | CredentialSource::ConfigProfile { name } => Some(name),
            _ => None,
        }
    }

    /// Where a named profile was chosen, for messages.
    fn origin(&self) -> String {
        match self {
            CredentialSource::CliProfile { .. } => "--aws-profile".into(),
            CredentialSource::StageEnvProfile { var, .. } => var.clone(),
            CredentialSource::ConfigProfile { .. } => "provider.profile".into(),
            CredentialSource::StageEnvKeys { var } => var.clone(),
            CredentialSource::DefaultChain { .. } => "the default chain".into(),
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::CliProfile { name } => {
                write!(f, "profile \"{name}\" (--aws-profile)")
            }
            CredentialSource::StageEnvProfile { var, name } => {
                write!(f, "{var} profile \"{name}\"")
            }
            CredentialSource::StageEnvKeys { var } => write!(f, "environment {var}"),
            CredentialSource::ConfigProfile { name } => write!(f, "profile \"{name}\""),
            CredentialSource::DefaultChain {
                detail: Some(d), ..
            } => write!(f, "default chain ({d})"),
            CredentialSource::DefaultChain { detail: None, .. } => f.write_str("default chain"),
        }
    }
}

/// The principal STS GetCallerIdentity reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// 12-digit account id.
    pub account: String,
    /// Principal ARN.
    pub arn: String,
    /// Unique id of the principal.
    pub user_id: String,
}

/// Why a stage's credentials could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The account guard refused (before or after STS).
    #[error(transparent)]
    Refused(Box<GuardRefusal>),
    /// `--expect-account` is not an account id.
    #[error(
        "--expect-account / DEPLOYER_EXPECT_ACCOUNT must be a 12-digit AWS account id, got {0:?}"
    )]
    InvalidExpectAccount(String),
    /// A named profile does not exist.
    #[error(
        "AWS profile \"{name}\" (from {origin}) is not in {files}{known}. Create it with \
         `aws configure --profile {name}`, or choose another profile with --aws-profile"
    )]
    ProfileNotFound {
        /// Profile name.
        name: String,
        /// What chose it (`provider.profile`, `--aws-profile`, `AWS_PROD_PROFILE`).
        origin: String,
        /// The files searched.
        files: String,
        /// ` (profiles found: a, b)` or empty.
        known: String,
    },
    /// A profile file does not parse.
    #[error("cannot read the AWS profiles in {files}: {reason}")]
    ProfileFiles {
        /// The files.
        files: String,
        /// Parser message.
        reason: String,
    },
    /// Half a key pair in the stage variables.
    #[error(
        "{present} is set but {missing} is not: set both (and {stem}_SESSION_TOKEN for temporary keys)"
    )]
    IncompleteStageKeys {
        /// The variable that is set.
        present: String,
        /// The one that is missing.
        missing: String,
        /// `AWS_PROD`.
        stem: String,
    },
    /// Nothing in the default chain produced credentials.
    #[error(
        "no AWS credentials found for stage {stage}: no --aws-profile, no {stem}_PROFILE or \
         {stem}_ACCESS_KEY_ID, {config_profile}, and the default chain (AWS_ACCESS_KEY_ID, \
         AWS_PROFILE / profile \"default\" in {files}, web identity, container and instance \
         metadata) found nothing. Set provider.profile in the service configuration, pass \
         --aws-profile NAME, or run `aws configure`"
    )]
    NoCredentials {
        /// The stage.
        stage: String,
        /// What became of `provider.profile`.
        config_profile: String,
        /// `AWS_DEV`.
        stem: String,
        /// The profile files searched.
        files: String,
    },
    /// The SSO session of an SSO profile is missing or expired.
    #[error(
        "the AWS SSO session of profile \"{profile}\" has expired or was never started. Run \
         `aws sso login --profile {profile}` and try again ({reason})"
    )]
    SsoLogin {
        /// Profile name.
        profile: String,
        /// The SDK's message.
        reason: String,
    },
    /// A credential provider failed (process, role, web identity…).
    #[error("cannot get credentials from {source_name}: {reason}")]
    Provider {
        /// Display form of the source.
        source_name: String,
        /// The SDK's message.
        reason: String,
    },
    /// A role profile needs an MFA code and there is no way to ask for one.
    #[error(
        "profile \"{profile}\" needs an MFA code for {serial} and there is no terminal to ask \
         for it: pass --mfa-code CODE or set DEPLOYER_MFA_CODE"
    )]
    MfaCodeRequired {
        /// Profile name.
        profile: String,
        /// The MFA device.
        serial: String,
    },
    /// MFA on a profile shape deployer cannot assume.
    #[error("profile \"{profile}\" uses mfa_serial {detail}")]
    MfaUnsupported {
        /// Profile name.
        profile: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// AssumeRole with the MFA code failed.
    #[error(
        "AssumeRole into {role_arn} for profile \"{profile}\" with MFA device {serial} failed: {reason}. Check the code and try again"
    )]
    MfaAssumeRole {
        /// Profile name.
        profile: String,
        /// The role.
        role_arn: String,
        /// The MFA device.
        serial: String,
        /// The service's message.
        reason: String,
    },
    /// STS rejected the credentials (bad key id, bad secret, bogus token).
    #[error(
        "the credentials of {source_name} were rejected by AWS STS ({detail}): the access key does \
         not exist, is inactive, or its secret or session token is wrong. {hint}"
    )]
    Rejected {
        /// Display form of the source.
        source_name: String,
        /// HTTP status and code.
        detail: String,
        /// What to do.
        hint: String,
    },
    /// The temporary credentials have expired.
    #[error(
        "the credentials of {source_name} have expired ({detail}). Refresh them (new session token, `aws sso login`, or a new CI token) and try again"
    )]
    Expired {
        /// Display form of the source.
        source_name: String,
        /// HTTP status and code.
        detail: String,
    },
    /// STS could not be reached.
    #[error("cannot reach AWS STS at {endpoint} to check the account of {source_name}: {reason}")]
    Unreachable {
        /// The endpoint tried.
        endpoint: String,
        /// Display form of the source.
        source_name: String,
        /// The transport error.
        reason: String,
    },
    /// Any other STS failure.
    #[error("STS GetCallerIdentity with the credentials of {source_name} failed: {reason}")]
    Sts {
        /// Display form of the source.
        source_name: String,
        /// The service's message.
        reason: String,
    },
}

/// Static keys taken from the stage's environment variables. Debug never shows the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct StageKeys {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl fmt::Debug for StageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageKeys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// The outcome of the precedence rules, before anything is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The winning source.
    pub source: CredentialSource,
    /// The keys, for [`CredentialSource::StageEnvKeys`].
    pub keys: Option<StageKeys>,
}

/// The stage's variable stems: `AWS_` + the stage upper-cased with every non-alphanumeric
/// character as `_`, then Serverless's form that keeps the characters (`AWS_MY-STAGE`).
pub fn stage_env_stems(stage: &str) -> Vec<String> {
    let upper = stage.to_uppercase();
    let sanitized: String = upper
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut stems = vec![format!("AWS_{sanitized}")];
    if sanitized != upper {
        stems.push(format!("AWS_{upper}"));
    }
    stems
}

/// Apply the precedence rules to the options and an environment lookup (pure).
pub fn select_source(
    target: &StageTarget,
    opts: &CredentialOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Selection, CredentialError> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(name) = opts.aws_profile.as_ref().filter(|n| !n.is_empty()) {
        return Ok(named(CredentialSource::CliProfile { name: name.clone() }));
    }
    let stems = stage_env_stems(&target.stage);
    for stem in &stems {
        let var = format!("{stem}_PROFILE");
        if let Some(name) = get(&var) {
            return Ok(named(CredentialSource::StageEnvProfile { var, name }));
        }
    }
    for stem in &stems {
        let id_var = format!("{stem}_ACCESS_KEY_ID");
        let secret_var = format!("{stem}_SECRET_ACCESS_KEY");
        match (get(&id_var), get(&secret_var)) {
            (Some(access_key_id), Some(secret_access_key)) => {
                return Ok(Selection {
                    source: CredentialSource::StageEnvKeys { var: id_var },
                    keys: Some(StageKeys {
                        access_key_id,
                        secret_access_key,
                        session_token: get(&format!("{stem}_SESSION_TOKEN")),
                    }),
                });
            }
            (Some(_), None) => {
                return Err(CredentialError::IncompleteStageKeys {
                    present: id_var,
                    missing: secret_var,
                    stem: stem.clone(),
                });
            }
            (None, Some(_)) => {
                return Err(CredentialError::IncompleteStageKeys {
                    present: secret_var,
                    missing: id_var,
                    stem: stem.clone(),
                });
            }
            (None, None) => {}
        }
    }
    if !opts.no_profile
        && let Some(name) = target.profile.as_ref().filter(|n| !n.is_empty())
    {
        return Ok(named(CredentialSource::ConfigProfile {
            name: name.clone(),
        }));
    }
    Ok(named(CredentialSource::DefaultChain {
        detail: None,
        profile: None,
    }))
}

fn named(source: CredentialSource) -> Selection {
    Selection { source, keys: None }
}

/// Resolved, verified credentials of a stage and the SDK configuration built from them.
#[derive(Debug, Clone)]
pub struct AwsSession {
    /// The stage.
    pub stage: String,
    /// The stage's region (every client uses it).
    pub region: String,
    /// Which source won.
    pub source: CredentialSource,
    /// Who STS says the credentials belong to.
    pub identity: CallerIdentity,
    /// The stage's pin.
    pub pin: AccountPin,
    /// The guard's verdict on `identity`.
    pub verdict: Verdict,
    config: SdkConfig,
    custom_s3_endpoint: bool,
}

impl AwsSession {
    /// The SDK configuration: the stage's region, these credentials, endpoints as the SDK
    /// configures them (`AWS_ENDPOINT_URL`, profile `endpoint_url`…).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The verified account id.
    pub fn account(&self) -> &str {
        &self.identity.account
    }

    /// `Err` when the guard refused these credentials; call before touching stage resources.
    pub fn ensure_allowed(&self) -> Result<(), CredentialError> {
        match &self.verdict {
            Verdict::Refused(r) => Err(CredentialError::Refused(Box::new(r.clone()))),
            _ => Ok(()),
        }
    }

    /// An S3 client; path-style addressing when a custom endpoint is configured (emulators,
    /// `localhost` endpoints cannot do virtual-hosted buckets).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.custom_s3_endpoint)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A CloudFormation client.
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    /// An STS client.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }
}

/// Resolve the stage's credentials, verify them with one STS GetCallerIdentity and judge
/// them with the guard. A refusal the profile already reveals (role or SSO account) is an
/// error before any network call; a refusal found by STS is in [`AwsSession::verdict`] (see
/// [`open_guarded`] for commands that must stop).
pub async fn open(
    target: &StageTarget,
    opts: &CredentialOptions,
) -> Result<AwsSession, CredentialError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let pin = pin_of(target, opts)?;
    let selection = select_source(target, opts, &env)?;
    let mut source = selection.source.clone();
    let stage_env = stage_env_stems(&target.stage).remove(0);
    let region = Region::new(target.region.clone());
    let profiles = Profiles::load().await?;

    // The profile whose settings apply (named, or the default chain's AWS_PROFILE/default).
    let mut profile_info: Option<ProfileInfo> = None;
    let provider: SharedCredentialsProvider = match (&selection.keys, source.named_profile()) {
        (Some(keys), _) => SharedCredentialsProvider::new(Credentials::new(
            keys.access_key_id.clone(),
            keys.secret_access_key.clone(),
            keys.session_token.clone(),
            None,
            "deployer-stage-env",
        )),
        (None, Some(name)) => {
            let info = profiles
                .info(name)
                .ok_or_else(|| not_found(name, &source, &profiles))?;
            early_check(target, &pin, &source, &info, &stage_env)?;
            let provider = profile_provider(&info, &profiles, &region, opts, &source).await?;
            profile_info = Some(info);
            provider
        }
        (None, None) => {
            // Mirror the chain's order (environment keys, then the profile, then web
            // identity) to find what it will use, for the early account check.
            let ambient_keys = env("AWS_ACCESS_KEY_ID").is_some();
            let chain_profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
            let info = if ambient_keys {
                None
            } else {
                profiles.info(&chain_profile)
            };
            // Like the AWS CLI, a named AWS_PROFILE that does not exist is an error, not a
            // silent fall-through to a runner's instance role.
            if !ambient_keys
                && info.is_none()
                && let Some(name) = env("AWS_PROFILE")
            {
                return Err(CredentialError::ProfileNotFound {
                    known: known_profiles(&profiles),
                    name,
                    origin: "AWS_PROFILE".into(),
                    files: profiles.paths.to_string(),
                });
            }
            if let Some(info) = &info {
                early_check(target, &pin, &source, info, &stage_env)?;
            } else if !ambient_keys
                && env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some()
                && let Some(role) = env("AWS_ROLE_ARN")
                && let Some(account) = account_of_arn(&role)
            {
                let how = format!("assumes {role} (AWS_ROLE_ARN, web identity)");
                declared_check(target, &pin, &source, account, how, &stage_env)?;
            }
            let provider = match &info {
                Some(info) if info.needs_mfa() => {
                    profile_provider(info, &profiles, &region, opts, &source).await?
                }
                _ => SharedCredentialsProvider::new(default_chain(&region).await),
            };
            profile_info = info;
            provider
        }
    };

    let creds = provider.provide_credentials().await.map_err(|e| {
        provider_error(
            e,
            target,
            &source,
            profile_info.as_ref(),
            &profiles,
            &stage_env,
        )
    })?;
    if let CredentialSource::DefaultChain { detail, profile } = &mut source {
        let (d, p) = chain_link(&creds, profile_info.as_ref(), &env);
        *detail = Some(d);
        *profile = p;
    }

    let primed = SharedCredentialsProvider::new(Primed {
        first: Mutex::new(Some(creds)),
        inner: provider,
    });
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region.clone())
        .credentials_provider(primed);
    if let Some(info) = &profile_info {
        // Profile-level settings such as endpoint_url follow the chosen profile.
        loader = loader.profile_name(info.name.clone());
    }
    let config = loader.load().await;
    let custom_s3_endpoint =
        config.endpoint_url().is_some() || env("AWS_ENDPOINT_URL_S3").is_some();

    let identity = caller_identity(&config, &source, profile_info.as_ref(), &profiles).await?;
    let verdict = match pin.check(&identity.account) {
        Ok(false) => Verdict::Unpinned,
        Ok(true) => Verdict::Holds,
        Err(broken) => Verdict::Refused(GuardRefusal {
            stage: target.stage.clone(),
            account: identity.account.clone(),
            source: source.to_string(),
            broken,
            evidence: Evidence::Caller {
                arn: identity.arn.clone(),
            },
            stage_env,
        }),
    };
    Ok(AwsSession {
        stage: target.stage.clone(),
        region: target.region.clone(),
        source,
        identity,
        pin,
        verdict,
        config,
        custom_s3_endpoint,
    })
}

/// [`open`], then stop with [`CredentialError::Refused`] when the guard refuses: for every
/// command that reads or writes the stage's resources.
pub async fn open_guarded(
    target: &StageTarget,
    opts: &CredentialOptions,
) -> Result<AwsSession, CredentialError> {
    let session = open(target, opts).await?;
    session.ensure_allowed()?;
    Ok(session)
}

fn pin_of(target: &StageTarget, opts: &CredentialOptions) -> Result<AccountPin, CredentialError> {
    // An empty value (an unset CI variable) is refused: it must never mean "no pin".
    let expect = opts.expect_account.as_ref().map(|e| e.trim().to_string());
    if let Some(e) = &expect
        && !is_account_id(e)
    {
        return Err(CredentialError::InvalidExpectAccount(e.clone()));
    }
    Ok(AccountPin {
        allowed: target.allowed_account_ids.clone(),
        forbidden: target.forbidden_account_ids.clone(),
        expect,
    })
}

fn not_found(name: &str, source: &CredentialSource, profiles: &Profiles) -> CredentialError {
    CredentialError::ProfileNotFound {
        name: name.to_string(),
        origin: source.origin(),
        files: profiles.paths.to_string(),
        known: known_profiles(profiles),
    }
}

/// ` (profiles found: a, b)` for messages about a missing profile.
fn known_profiles(profiles: &Profiles) -> String {
    let names = profiles.names();
    if names.is_empty() {
        " (no profiles found there)".into()
    } else {
        format!(" (profiles found: {})", names.join(", "))
    }
}

/// Refuse before any network call when the profile itself names an account the pin rules out.
fn early_check(
    target: &StageTarget,
    pin: &AccountPin,
    source: &CredentialSource,
    info: &ProfileInfo,
    stage_env: &str,
) -> Result<(), CredentialError> {
    match info.declared_account() {
        Some((account, how)) => declared_check(target, pin, source, &account, how, stage_env),
        None => Ok(()),
    }
}

fn declared_check(
    target: &StageTarget,
    pin: &AccountPin,
    source: &CredentialSource,
    account: &str,
    how: String,
    stage_env: &str,
) -> Result<(), CredentialError> {
    match pin.check(account) {
        Ok(_) => Ok(()),
        Err(broken) => Err(CredentialError::Refused(Box::new(GuardRefusal {
            stage: target.stage.clone(),
            account: account.to_string(),
            source: source.to_string(),
            broken,
            evidence: Evidence::Declared { how },
            stage_env: stage_env.to_string(),
        }))),
    }
}

/// The provider for one named profile, built directly so a failure never falls through to
/// another source; MFA role profiles go through [`mfa`].
async fn profile_provider(
    info: &ProfileInfo,
    profiles: &Profiles,
    region: &Region,
    opts: &CredentialOptions,
    source: &CredentialSource,
) -> Result<SharedCredentialsProvider, CredentialError> {
    if info.needs_mfa() {
        let creds = mfa::assume_role(info, profiles, region, opts, source).await?;
        return Ok(SharedCredentialsProvider::new(creds));
    }
    Ok(SharedCredentialsProvider::new(named_profile_provider(
        &info.name, region,
    )))
}

/// `ProfileFileCredentialsProvider` for `name`, role assumptions in `region`.
pub(crate) fn named_profile_provider(
    name: &str,
    region: &Region,
) -> ProfileFileCredentialsProvider {
    let conf = ProviderConfig::without_region().with_region(Some(region.clone()));
    ProfileFileCredentialsProvider::builder()
        .profile_name(name)
        .configure(&conf)
        .build()
}

/// How long to wait for the instance metadata service: it only exists on EC2, and elsewhere a
/// default-chain miss must fail within a second or two, not after several retries.
const IMDS_TIMEOUT: Duration = Duration::from_millis(400);

/// The SDK's default chain (environment, profile, web identity, container, instance
/// metadata), with instance metadata bounded to one short attempt whose failure counts as
/// "nothing found" rather than a loud error.
async fn default_chain(region: &Region) -> CredentialsProviderChain {
    let conf = ProviderConfig::without_region().with_region(Some(region.clone()));
    let imds_client = aws_config::imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .operation_timeout(IMDS_TIMEOUT * 3)
        .build();
    let imds = ImdsCredentialsProvider::builder()
        .imds_client(imds_client)
        .configure(&conf)
        .build();
    CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "Profile",
        ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .build(),
    )
    .or_else(
        "WebIdentityToken",
        WebIdentityTokenCredentialsProvider::builder()
            .configure(&conf)
            .build(),
    )
    .or_else(
        "EcsContainer",
        EcsCredentialsProvider::builder().configure(&conf).build(),
    )
    .or_else("Ec2InstanceMetadata", QuietImds(imds))
}

/// Instance metadata that is unreachable or refused (not on EC2, IMDS disabled, a proxy in
/// the way) means "no credentials here", so the chain ends with a clean not-loaded error.
#[derive(Debug)]
struct QuietImds(ImdsCredentialsProvider);

impl ProvideCredentials for QuietImds {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.0.provide_credentials().await.map_err(|e| match e {
                CredentialsError::CredentialsNotLoaded(_) => e,
                other => {
                    tracing::debug!("instance metadata: {}", error_chain(&other));
                    CredentialsError::not_loaded("instance metadata did not provide credentials")
                }
            })
        })
    }
}

/// Which link of the default chain produced `creds`.
fn chain_link(
    creds: &Credentials,
    info: Option<&ProfileInfo>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (String, Option<String>) {
    let features = creds
        .get_property::<Vec<AwsCredentialFeature>>()
        .cloned()
        .unwrap_or_default();
    let has = |f: AwsCredentialFeature| features.contains(&f);
    let profile = info.map(|i| i.name.clone());
    if has(AwsCredentialFeature::CredentialsEnvVars) {
        ("environment variables".into(), None)
    } else if has(AwsCredentialFeature::CredentialsEnvVarsStsWebIdToken)
        || has(AwsCredentialFeature::CredentialsProfileStsWebIdToken)
        || has(AwsCredentialFeature::CredentialsStsAssumeRoleWebId)
        || (profile.is_none() && env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some())
    {
        let role = env("AWS_ROLE_ARN").unwrap_or_default();
        (format!("web identity token, role {role}"), None)
    } else if has(AwsCredentialFeature::CredentialsHttp) {
        ("container credentials".into(), None)
    } else if has(AwsCredentialFeature::CredentialsImds) {
        ("instance metadata".into(), None)
    } else if let Some(p) = profile {
        let via = if env("AWS_PROFILE").is_some() {
            "AWS_PROFILE"
        } else {
            "default"
        };
        (format!("{via} profile \"{p}\""), Some(p))
    } else {
        ("unknown provider".into(), None)
    }
}

fn provider_error(
    err: CredentialsError,
    target: &StageTarget,
    source: &CredentialSource,
    info: Option<&ProfileInfo>,
    profiles: &Profiles,
    stage_env: &str,
) -> CredentialError {
    let reason = error_chain(&err);
    if let Some(info) = info.filter(|i| i.is_sso) {
        return CredentialError::SsoLogin {
            profile: info.name.clone(),
            reason,
        };
    }
    let nothing_found = matches!(err, CredentialsError::CredentialsNotLoaded(_));
    match source {
        CredentialSource::DefaultChain { .. } if nothing_found => CredentialError::NoCredentials {
            stage: target.stage.clone(),
            config_profile: match &target.profile {
                Some(p) => format!("provider.profile \"{p}\" skipped by --no-profile"),
                None => "no provider.profile".into(),
            },
            stem: stage_env.to_string(),
            files: profiles.paths.to_string(),
        },
        _ => CredentialError::Provider {
            source_name: source.to_string(),
            reason,
        },
    }
}

async fn caller_identity(
    config: &SdkConfig,
    source: &CredentialSource,
    info: Option<&ProfileInfo>,
    profiles: &Profiles,
) -> Result<CallerIdentity, CredentialError> {
    let client = aws_sdk_sts::Client::new(config);
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| sts_error(err, config, source, info, profiles))?;
    Ok(CallerIdentity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}

fn sts_error(
    err: SdkError<GetCallerIdentityError, HttpResponse>,
    config: &SdkConfig,
    source: &CredentialSource,
    info: Option<&ProfileInfo>,
    profiles: &Profiles,
) -> CredentialError {
    let source_name = source.to_string();
    let endpoint = config
        .endpoint_url()
        .map(str::to_string)
        .unwrap_or_else(|| "the regional STS endpoint".into());
    match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().map(str::to_string);
            let detail = match &code {
                Some(c) => format!("HTTP {status} {c}"),
                None => format!("HTTP {status}"),
            };
            let rejected = matches!(
                code.as_deref(),
                None | Some(
                    "InvalidClientTokenId"
                        | "SignatureDoesNotMatch"
                        | "InvalidAccessKeyId"
                        | "UnrecognizedClientException"
                        | "AuthFailure"
                        | "IncompleteSignature"
                )
            );
            if code
                .as_deref()
                .is_some_and(|c| c.starts_with("ExpiredToken"))
            {
                CredentialError::Expired {
                    source_name,
                    detail,
                }
            } else if status == 403 && rejected {
                let hint = match (source.profile(), info) {
                    (Some(p), Some(i)) if i.has_static_keys => format!(
                        "Check the keys of profile \"{p}\" in {} (or run `aws configure --profile {p}`)",
                        profiles.paths.credentials.display()
                    ),
                    (Some(p), _) => format!(
                        "Check the settings of profile \"{p}\" in {}",
                        profiles.paths
                    ),
                    (None, _) => {
                        "Check the access key id, secret and session token variables".into()
                    }
                };
                CredentialError::Rejected {
                    source_name,
                    detail,
                    hint,
                }
            } else {
                let message = se.err().message().map(str::to_string).unwrap_or_default();
                CredentialError::Sts {
                    source_name,
                    reason: format!("{detail} {message}").trim().into(),
                }
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => CredentialError::Unreachable {
            endpoint,
            source_name,
            reason: error_chain(&err),
        },
        _ => CredentialError::Sts {
            source_name,
            reason: error_chain(&err),
        },
    }
}

/// The messages of an error and its sources, joined (never the Debug dump, which can carry
/// whole HTTP responses).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Hands out the credentials resolved (and verified) at start first, so the SDK does not
/// resolve them again (a second AssumeRole, a second MFA prompt); later refreshes after
/// expiry go to the real provider.
#[derive(Debug)]
struct Primed {
    first: Mutex<Option<Credentials>>,
    inner: SharedCredentialsProvider,
}

impl ProvideCredentials for Primed {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
        let fresh = first.filter(|c| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + Duration::from_secs(60))
        });
        match fresh {
            Some(c) => future::ProvideCredentials::ready(Ok(c)),
            None => self.inner.provide_credentials(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(stage: &str, profile: Option<&str>) -> StageTarget {
        StageTarget {
            stage: stage.into(),
            region: "us-east-1".into(),
            profile: profile.map(str::to_string),
            ..Default::default()
        }
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn stems_sanitize_and_keep_serverless_form() {
        assert_eq!(stage_env_stems("prod"), vec!["AWS_PROD"]);
        assert_eq!(
            stage_env_stems("my-stage"),
            vec!["AWS_MY_STAGE", "AWS_MY-STAGE"]
        );
    }

    #[test]
    fn cli_profile_beats_everything() {
        let env = env_of(&[("AWS_PROD_PROFILE", "x"), ("AWS_PROFILE", "y")]);
        let opts = CredentialOptions {
            aws_profile: Some("cli".into()),
            ..Default::default()
        };
        let s = select_source(&target("prod", Some("yml")), &opts, &env).unwrap();
        assert_eq!(
            s.source,
            CredentialSource::CliProfile { name: "cli".into() }
        );
    }

    #[test]
    fn stage_profile_then_stage_keys_beat_provider_profile() {
        let env = env_of(&[
            ("AWS_PROD_PROFILE", "stageprof"),
            ("AWS_PROD_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_PROD_SECRET_ACCESS_KEY", "s"),
        ]);
        let s = select_source(
            &target("prod", Some("yml")),
            &CredentialOptions::default(),
            &env,
        )
        .unwrap();
        assert_eq!(
            s.source.to_string(),
            "AWS_PROD_PROFILE profile \"stageprof\""
        );

        let env = env_of(&[
            ("AWS_PROD_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_PROD_SECRET_ACCESS_KEY", "s"),
        ]);
        let s = select_source(
            &target("prod", Some("yml")),
            &CredentialOptions::default(),
            &env,
        )
        .unwrap();
        assert_eq!(s.source.to_string(), "environment AWS_PROD_ACCESS_KEY_ID");
        assert!(
            !format!("{s:?}").contains("\"s\""),
            "Debug must not show the secret"
        );
    }

    #[test]
    fn serverless_dash_form_is_accepted() {
        let env = env_of(&[("AWS_MY-STAGE_PROFILE", "p")]);
        let s = select_source(
            &target("my-stage", None),
            &CredentialOptions::default(),
            &env,
        )
        .unwrap();
        assert_eq!(s.source.profile(), Some("p"));
    }

    #[test]
    fn ambient_profile_and_keys_never_beat_provider_profile() {
        let env = env_of(&[
            ("AWS_PROFILE", "ambient"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let s = select_source(
            &target("dev", Some("devAccount")),
            &CredentialOptions::default(),
            &env,
        )
        .unwrap();
        assert_eq!(
            s.source,
            CredentialSource::ConfigProfile {
                name: "devAccount".into()
            }
        );
    }

    #[test]
    fn no_profile_skips_provider_profile() {
        let env = env_of(&[]);
        let opts = CredentialOptions {
            no_profile: true,
            ..Default::default()
        };
        let s = select_source(&target("dev", Some("devAccount")), &opts, &env).unwrap();
        assert_eq!(
            s.source,
            CredentialSource::DefaultChain {
                detail: None,
                profile: None
            }
        );
    }

    #[test]
    fn half_a_key_pair_is_an_error() {
        let env = env_of(&[("AWS_PROD_ACCESS_KEY_ID", "AKIA")]);
        let err =
            select_source(&target("prod", None), &CredentialOptions::default(), &env).unwrap_err();
        assert!(
            err.to_string()
                .contains("AWS_PROD_SECRET_ACCESS_KEY is not"),
            "{err}"
        );
    }

    #[test]
    fn expect_account_must_be_an_account_id() {
        let opts = CredentialOptions {
            expect_account: Some("12".into()),
            ..Default::default()
        };
        assert!(matches!(
            pin_of(&target("p", None), &opts),
            Err(CredentialError::InvalidExpectAccount(_))
        ));
    }

    #[test]
    fn empty_expect_account_is_refused_not_ignored() {
        for value in ["", "  "] {
            let opts = CredentialOptions {
                expect_account: Some(value.into()),
                ..Default::default()
            };
            assert!(matches!(
                pin_of(&target("p", None), &opts),
                Err(CredentialError::InvalidExpectAccount(_))
            ));
        }
    }
}
