//! The STS calls deployer makes itself — GetCallerIdentity for the guard, AssumeRole for
//! role profiles and AssumeRoleWithWebIdentity for web identity roles — on clients that count
//! their requests in the session's [`CallCounter`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_types::SdkConfig;
use aws_types::region::Region;

use super::error::{CredentialError, error_chain};
use super::profile::ProfileInfo;
use crate::calls::CallCounter;

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

/// An STS client for `config` whose requests land in `counter`.
pub(crate) fn client(config: &SdkConfig, counter: &CallCounter) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::config::Builder::from(config)
        .interceptor(counter.interceptor())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// Who the credentials are said to be, for the messages of a failed GetCallerIdentity.
pub(crate) struct Claimant {
    /// Display form of the credential source.
    pub source_name: String,
    /// What to check when STS rejects the keys.
    pub rejected_hint: String,
}

/// One GetCallerIdentity with the session's credentials.
pub(crate) async fn caller_identity(
    config: &SdkConfig,
    counter: &CallCounter,
    claimant: Claimant,
) -> Result<CallerIdentity, CredentialError> {
    let source_name = claimant.source_name.clone();
    let out = client(config, counter)
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| identity_error(err, config, claimant))?;
    let Some(account) = out.account().filter(|a| super::guard::is_account_id(a)) else {
        return Err(CredentialError::Sts {
            source_name,
            reason: "GetCallerIdentity answered without an account id, so nothing proves \
                     which account the credentials belong to"
                .into(),
        });
    };
    Ok(CallerIdentity {
        account: account.to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}

/// Codes STS answers with when the key id, secret or token is wrong.
const REJECTED_CODES: [&str; 6] = [
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "UnrecognizedClientException",
    "AuthFailure",
    "IncompleteSignature",
];

fn identity_error(
    err: SdkError<GetCallerIdentityError, HttpResponse>,
    config: &SdkConfig,
    claimant: Claimant,
) -> CredentialError {
    let Claimant {
        source_name,
        rejected_hint,
    } = claimant;
    let SdkError::ServiceError(se) = &err else {
        return transport_error(&err, config, source_name);
    };
    let status = se.raw().status().as_u16();
    let code = se.err().code();
    let detail = match code {
        Some(c) => format!("HTTP {status} {c}"),
        None => format!("HTTP {status}"),
    };
    if code.is_some_and(|c| c.starts_with("ExpiredToken")) {
        return CredentialError::Expired {
            source_name,
            detail,
        };
    }
    let rejected = code.is_none_or(|c| REJECTED_CODES.contains(&c));
    if status == 403 && rejected {
        return CredentialError::Rejected {
            source_name,
            detail,
            hint: rejected_hint,
        };
    }
    let message = se.err().message().unwrap_or_default();
    CredentialError::Sts {
        source_name,
        reason: format!("{detail} {message}").trim().into(),
    }
}

fn transport_error(
    err: &SdkError<GetCallerIdentityError, HttpResponse>,
    config: &SdkConfig,
    source_name: String,
) -> CredentialError {
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => CredentialError::Unreachable {
            endpoint: config
                .endpoint_url()
                .map(str::to_string)
                .unwrap_or_else(|| "the regional STS endpoint".into()),
            source_name,
            reason: error_chain(err),
        },
        _ => CredentialError::Sts {
            source_name,
            reason: error_chain(err),
        },
    }
}

/// What to assume: a role profile's settings, plus the MFA device and code when it has one.
#[derive(Clone)]
pub(crate) struct RoleRequest {
    /// `role_arn`.
    pub role_arn: String,
    /// `role_session_name`, else `deployer-<unix time>`.
    pub session_name: Option<String>,
    /// `duration_seconds`.
    pub duration_seconds: Option<i32>,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `(mfa_serial, code)`.
    pub mfa: Option<(String, String)>,
}

/// One AssumeRole with `base` credentials in the region of `config`, counted in `counter`.
/// The error is the service's code and message (or the transport's), for the caller's message.
pub(crate) async fn assume_role(
    config: &SdkConfig,
    counter: &CallCounter,
    base: SharedCredentialsProvider,
    req: &RoleRequest,
) -> Result<Credentials, String> {
    let config = config.to_builder().credentials_provider(base).build();
    let (serial, code) = req.mfa.clone().unzip();
    let out = client(&config, counter)
        .assume_role()
        .role_arn(&req.role_arn)
        .role_session_name(
            req.session_name
                .clone()
                .unwrap_or_else(default_session_name),
        )
        .set_serial_number(serial)
        .set_token_code(code)
        .set_duration_seconds(req.duration_seconds)
        .set_external_id(req.external_id.clone())
        .send()
        .await
        .map_err(|err| service_reason(&err))?;
    let c = out
        .credentials()
        .ok_or_else(|| "STS answered without credentials".to_string())?;
    Ok(temporary(c, "deployer-assume-role"))
}

/// The service's code and message of a failed STS call, or the transport's error.
fn service_reason<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err.as_service_error() {
        Some(se) => format!(
            "{} {}",
            se.code().unwrap_or("error"),
            se.message().unwrap_or_default()
        )
        .trim()
        .to_string(),
        None => error_chain(err),
    }
}

/// STS's temporary credentials as the SDK's type.
fn temporary(c: &aws_sdk_sts::types::Credentials, provider: &'static str) -> Credentials {
    let expiration = u64::try_from(c.expiration().secs()).unwrap_or(0);
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        Some(UNIX_EPOCH + Duration::from_secs(expiration)),
        provider,
    )
}

impl RoleRequest {
    /// The role of profile `info`, with `(mfa_serial, code)` when it needs MFA.
    pub(crate) fn for_profile(info: &ProfileInfo, mfa: Option<(String, String)>) -> Self {
        RoleRequest {
            role_arn: info.role_arn.clone().unwrap_or_default(),
            session_name: info.role_session_name.clone(),
            duration_seconds: info.duration_seconds,
            external_id: info.external_id.clone(),
            mfa,
        }
    }
}

/// The configuration AssumeRole for profile `info` runs with: `base` credentials, the stage's
/// region, endpoints as the profile and the environment set them.
pub(crate) async fn role_config(
    info: &ProfileInfo,
    region: &Region,
    base: SharedCredentialsProvider,
) -> SdkConfig {
    crate::clients::bounded_loader(aws_config::defaults(BehaviorVersion::latest()))
        .region(region.clone())
        .profile_name(info.name.clone())
        .credentials_provider(base)
        .load()
        .await
}

/// The configuration of an unsigned STS call (AssumeRoleWithWebIdentity): the stage's region,
/// endpoints as profile `profile` (if any) and the environment set them.
pub(crate) async fn unsigned_config(profile: Option<&str>, region: &Region) -> SdkConfig {
    let mut loader =
        crate::clients::bounded_loader(aws_config::defaults(BehaviorVersion::latest()))
            .region(region.clone())
            .no_credentials();
    if let Some(name) = profile {
        loader = loader.profile_name(name);
    }
    loader.load().await
}

impl std::fmt::Debug for RoleRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleRequest")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("mfa_serial", &self.mfa.as_ref().map(|(serial, _)| serial))
            .finish_non_exhaustive()
    }
}

fn default_session_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("deployer-{now}")
}

/// A role profile's credentials: AssumeRole with the base profile's credentials, again each
/// time the SDK asks (after expiry), every call counted.
#[derive(Debug)]
pub(crate) struct AssumeRoleProvider {
    config: SdkConfig,
    counter: CallCounter,
    req: RoleRequest,
}

impl AssumeRoleProvider {
    /// `config` carries the base credentials, the region and the endpoints.
    pub(crate) fn new(config: SdkConfig, counter: &CallCounter, req: RoleRequest) -> Self {
        Self {
            config,
            counter: counter.clone(),
            req,
        }
    }
}

impl ProvideCredentials for AssumeRoleProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let base = self
                .config
                .credentials_provider()
                .ok_or_else(|| CredentialsError::not_loaded("no base credentials"))?;
            assume_role(&self.config, &self.counter, base, &self.req)
                .await
                .map_err(|reason| {
                    CredentialsError::provider_error(format!(
                        "AssumeRole into {}: {reason}",
                        self.req.role_arn
                    ))
                })
        })
    }
}

/// A web identity role: the token file (read again at each refresh), the role and the session.
#[derive(Debug, Clone)]
pub(crate) struct WebIdentity {
    /// `web_identity_token_file` / `AWS_WEB_IDENTITY_TOKEN_FILE`.
    pub token_file: String,
    /// `role_arn` / `AWS_ROLE_ARN`.
    pub role_arn: String,
    /// `role_session_name` / `AWS_ROLE_SESSION_NAME`.
    pub session_name: Option<String>,
}

/// Web identity credentials: AssumeRoleWithWebIdentity with the token file's contents on the
/// session's counted STS client, again each time the SDK asks.
#[derive(Debug)]
pub(crate) struct WebIdentityProvider {
    config: SdkConfig,
    counter: CallCounter,
    identity: WebIdentity,
}

impl WebIdentityProvider {
    /// `config` carries the region and the endpoints (see [`unsigned_config`]).
    pub(crate) fn new(config: SdkConfig, counter: &CallCounter, identity: WebIdentity) -> Self {
        Self {
            config,
            counter: counter.clone(),
            identity,
        }
    }

    async fn assume(&self) -> Result<Credentials, CredentialsError> {
        let id = &self.identity;
        let token = std::fs::read_to_string(&id.token_file).map_err(|e| {
            CredentialsError::invalid_configuration(format!(
                "cannot read the web identity token file {}: {e}",
                id.token_file
            ))
        })?;
        let out = client(&self.config, &self.counter)
            .assume_role_with_web_identity()
            .role_arn(&id.role_arn)
            .role_session_name(id.session_name.clone().unwrap_or_else(default_session_name))
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|err| {
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity into {}: {}",
                    id.role_arn,
                    service_reason(&err)
                ))
            })?;
        let c = out
            .credentials()
            .ok_or_else(|| CredentialsError::provider_error("STS answered without credentials"))?;
        Ok(temporary(c, "deployer-web-identity"))
    }
}

impl ProvideCredentials for WebIdentityProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}
