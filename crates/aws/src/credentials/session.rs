//! The [`AwsSession`] every AWS command works with: the stage's credentials resolved once,
//! proven with one STS GetCallerIdentity and judged by the guard, with the call counter that
//! every request of the session (STS included) lands in.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_types::SdkConfig;
use aws_types::region::Region;

use super::error::CredentialError;
use super::guard::{AccountPin, Broken, Evidence, GuardRefusal, Verdict, is_account_id};
use super::options::{CredentialOptions, StageTarget};
use super::profile::{ProfileInfo, Profiles};
use super::proof::{ProofState, Proving};
use super::source::{CredentialSource, Resolved, Resolver, select_source, stage_env_stems};
use super::sts::{self, CallerIdentity, Claimant};
use crate::calls::CallCounter;

/// A set of credentials handed to a child process; `Debug` shows none of it.
#[derive(Clone)]
pub struct ExportedCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for ExportedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExportedCredentials(redacted)")
    }
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
    counter: CallCounter,
    proofs: Arc<ProofState>,
}

impl AwsSession {
    /// The SDK configuration: the stage's region, these credentials, endpoints as the SDK
    /// configures them (`AWS_ENDPOINT_URL`, profile `endpoint_url`…).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The proven credentials, for a local process that calls AWS as the stage
    /// (`invoke local --with-credentials`, the plugin host's AWS calls). The provider proves
    /// a refreshed set before it hands it out, so these are the guard's account's; once a
    /// refresh went to another account, this is that refusal.
    pub async fn export_credentials(&self) -> Result<ExportedCredentials, CredentialError> {
        if let Some(refusal) = self.refresh_refusal() {
            return Err(CredentialError::Refused(Box::new(refusal.clone())));
        }
        let failed = |reason: String| match self.refresh_refusal() {
            Some(refusal) => CredentialError::Refused(Box::new(refusal.clone())),
            None => CredentialError::Provider {
                source_name: self.source.to_string(),
                reason,
            },
        };
        let provider = self
            .config
            .credentials_provider()
            .ok_or_else(|| failed("the session has no credentials provider".into()))?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(ExportedCredentials {
            access_key_id: creds.access_key_id().to_string(),
            secret_access_key: creds.secret_access_key().to_string(),
            session_token: creds.session_token().map(str::to_string),
        })
    }

    /// The counter every request of the session lands in: the guard's GetCallerIdentity,
    /// the role assumptions, and the calls of every client built with it.
    pub fn counter(&self) -> &CallCounter {
        &self.counter
    }

    /// The verified account id.
    pub fn account(&self) -> &str {
        &self.identity.account
    }

    /// The refusal of a credential refresh into another account, once one happened during the
    /// run: every later request of the session fails, and the operation reports this.
    pub fn refresh_refusal(&self) -> Option<&GuardRefusal> {
        self.proofs.refusal()
    }

    /// How many refreshed credential sets were proven with a GetCallerIdentity of their own.
    pub fn refresh_proofs(&self) -> u32 {
        self.proofs.reproofs()
    }

    /// `Err` when the guard refused these credentials; call before touching stage resources.
    pub fn ensure_allowed(&self) -> Result<(), CredentialError> {
        match &self.verdict {
            Verdict::Refused(r) => Err(CredentialError::Refused(Box::new(r.clone()))),
            _ => Ok(()),
        }
    }

    /// `Err` (a [`Broken::Unpinned`] refusal) when nothing pins the stage's account: for
    /// gates that must not pass an unpinned stage. `lock_file` is where `deployer pin` would
    /// record the account.
    pub fn ensure_pinned(&self, lock_file: &str) -> Result<(), CredentialError> {
        if self.pin.is_pinned() {
            return Ok(());
        }
        Err(CredentialError::Refused(Box::new(GuardRefusal {
            stage: self.stage.clone(),
            account: self.identity.account.clone(),
            source: self.source.to_string(),
            broken: Broken::Unpinned {
                lock_file: lock_file.to_string(),
            },
            evidence: Evidence::Caller {
                arn: self.identity.arn.clone(),
            },
            stage_env: stage_env_stems(&self.stage).remove(0),
        })))
    }

    /// The custom endpoint every client talks to (`AWS_ENDPOINT_URL`, a profile's
    /// `endpoint_url`), if one is configured.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.config.endpoint_url()
    }

    /// An S3 client; path-style addressing when a custom endpoint is configured (emulators,
    /// `localhost` endpoints cannot do virtual-hosted buckets).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.custom_s3_endpoint)
            .interceptor(self.counter.interceptor())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A CloudFormation client.
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        let conf = aws_sdk_cloudformation::config::Builder::from(&self.config)
            .interceptor(self.counter.interceptor())
            .build();
        aws_sdk_cloudformation::Client::from_conf(conf)
    }

    /// An STS client.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        sts::client(&self.config, &self.counter)
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
    let counter = CallCounter::new();
    let pin = pin_of(target, opts)?;
    let selection = select_source(target, opts, &env)?;
    let profiles = Profiles::load().await?;
    let resolver = Resolver {
        target,
        opts,
        pin: &pin,
        profiles: &profiles,
        region: Region::new(target.region.clone()),
        counter: &counter,
        stage_env: stage_env_stems(&target.stage).remove(0),
        env: &env,
    };
    let Resolved { provider, profile } = selection.resolve(&resolver).await?;
    let mut source = selection.source;
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| resolver.provider_error(e, &source, profile.as_ref()))?;
    if let CredentialSource::DefaultChain { detail, profile: p } = &mut source {
        (*detail, *p) = chain_link_of(&creds, profile.as_ref(), &env);
    }
    let proofs = ProofState::new(creds);
    let config = sdk_config(&resolver.region, &proofs, provider, profile.as_ref()).await;
    let claimant = claimant(&source, profile.as_ref(), &profiles);
    let identity = sts::caller_identity(&config, &counter, claimant).await?;
    proofs.proven(
        &identity.account,
        resolver.subject(&source),
        &config,
        &counter,
    );
    let verdict = resolver
        .subject(&source)
        .verdict(&pin, &identity.account, &identity.arn);
    let custom_s3_endpoint =
        config.endpoint_url().is_some() || env("AWS_ENDPOINT_URL_S3").is_some();
    Ok(AwsSession {
        stage: target.stage.clone(),
        region: target.region.clone(),
        source,
        identity,
        pin,
        verdict,
        config,
        custom_s3_endpoint,
        counter,
        proofs,
    })
}

fn chain_link_of(
    creds: &Credentials,
    info: Option<&ProfileInfo>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<String>, Option<String>) {
    let (detail, profile) = super::chain::chain_link(creds, info, env);
    (Some(detail), profile)
}

/// The session's SDK configuration: the stage's region, and credentials that hand out the
/// verified set first (so the SDK does not resolve them again: a second AssumeRole, a second
/// MFA prompt) and prove every refreshed set before a request uses it.
async fn sdk_config(
    region: &Region,
    proofs: &Arc<ProofState>,
    provider: SharedCredentialsProvider,
    info: Option<&ProfileInfo>,
) -> SdkConfig {
    let primed = SharedCredentialsProvider::new(Proving {
        inner: provider,
        state: proofs.clone(),
    });
    let mut loader =
        crate::clients::bounded_loader(aws_config::defaults(BehaviorVersion::latest()))
            .region(region.clone())
            .credentials_provider(primed);
    if let Some(info) = info {
        // Profile-level settings such as endpoint_url follow the chosen profile.
        loader = loader.profile_name(info.name.clone());
    }
    loader.load().await
}

/// Who the credentials claim to be, and what to check when STS rejects them.
fn claimant(
    source: &CredentialSource,
    info: Option<&ProfileInfo>,
    profiles: &Profiles,
) -> Claimant {
    let rejected_hint = match (source.profile(), info) {
        (Some(p), Some(i)) if i.has_static_keys => format!(
            "Check the keys of profile \"{p}\" in {} (or run `aws configure --profile {p}`)",
            profiles.paths.credentials.display()
        ),
        (Some(p), _) => format!(
            "Check the settings of profile \"{p}\" in {}",
            profiles.paths
        ),
        (None, _) => "Check the access key id, secret and session token variables".into(),
    };
    Claimant {
        source_name: source.to_string(),
        rejected_hint,
    }
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
        recorded: target.recorded_account.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::options::test_target as target;

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
