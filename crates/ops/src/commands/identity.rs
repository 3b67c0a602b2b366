//! `whoami` and `verify`: which credentials and account a stage resolves to, and whether its
//! account pin holds.

use deployer_aws::{AccountPin, AwsSession, Verdict};
use serde::Serialize;

use crate::observer::Observer;
use crate::pipeline::stage::{self, Guard, StageOptions};

/// Who a stage's credentials are.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Who {
    /// Stage.
    pub stage: String,
    /// Region.
    pub region: String,
    /// The AWS profile the credentials come from, if any.
    pub profile: Option<String>,
    /// Where the credentials come from.
    pub credential_source: String,
    /// The account of the credentials.
    pub account: String,
    /// The principal.
    pub arn: String,
}

impl Who {
    pub(crate) fn of(s: &AwsSession) -> Self {
        Self {
            stage: s.stage.clone(),
            region: s.region.clone(),
            profile: s.source.profile().map(str::to_string),
            credential_source: s.source.to_string(),
            account: s.identity.account.clone(),
            arn: s.identity.arn.clone(),
        }
    }
}

/// What `whoami` found; a refused account is reported, not an error.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// Stage, account and principal.
    #[serde(flatten)]
    pub who: Who,
    /// STS user id.
    pub user_id: String,
    /// The stage has an account pin.
    pub pinned: bool,
    /// The guard lets the credentials act on the stage.
    pub allowed: bool,
    /// `provider.allowedAccountIds`.
    pub allowed_account_ids: Vec<String>,
    /// `provider.forbiddenAccountIds`.
    pub forbidden_account_ids: Vec<String>,
    /// `--expect-account`.
    pub expect_account: Option<String>,
    /// The account recorded for the stage (account lock file or `--accept-account`).
    pub recorded_account: Option<String>,
    /// Where each rule of the pin comes from: `provider.allowedAccountIds`,
    /// `provider.forbiddenAccountIds`, `--expect-account`, the lock file's path or
    /// `--accept-account`. Every one must hold.
    pub pin_origins: Vec<String>,
    /// The account lock file of the service (whether it exists or not).
    pub lock_file: String,
    /// Why the guard refuses the credentials.
    pub refusal: Option<String>,
    /// The configuration file read.
    pub config_file: String,
    /// `provider.profile` as resolved.
    pub configured_profile: Option<String>,
    /// The pin, for display.
    #[serde(skip)]
    pub pin: AccountPin,
}

/// What `verify` proved: the guard holds (or the stage has no pin).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// Stage, account and principal.
    #[serde(flatten)]
    pub who: Who,
    /// The stage has an account pin.
    pub pinned: bool,
    /// Always true: a refusal is an error.
    pub allowed: bool,
    /// Where each rule of the pin comes from (see [`Identity::pin_origins`]).
    pub pin_origins: Vec<String>,
    /// The pin, for display.
    #[serde(skip)]
    pub pin: AccountPin,
}

/// Opens the stage and reports who its credentials are, without enforcing the guard.
pub async fn whoami(options: &StageOptions, observer: &dyn Observer) -> anyhow::Result<Identity> {
    let stage = stage::open(options, Guard::Report, observer).await?;
    let s = &stage.session;
    if let Verdict::Refused(refusal) = &s.verdict {
        observer.warning(&refusal.to_string());
    }
    Ok(Identity {
        who: Who::of(s),
        user_id: s.identity.user_id.clone(),
        pinned: s.pin.is_pinned(),
        allowed: s.verdict.allowed(),
        allowed_account_ids: s.pin.allowed.clone(),
        forbidden_account_ids: s.pin.forbidden.clone(),
        expect_account: s.pin.expect.clone(),
        recorded_account: s.pin.recorded.as_ref().map(|r| r.account.clone()),
        pin_origins: pin_origins(&s.pin),
        lock_file: stage.lock.path.display().to_string(),
        refusal: match &s.verdict {
            Verdict::Refused(r) => Some(r.to_string()),
            _ => None,
        },
        config_file: stage.source.file.path.display().to_string(),
        configured_profile: stage.source.stage.profile.clone(),
        pin: s.pin.clone(),
    })
}

/// Opens the stage with the guard enforced: an error (a [`deployer_aws::GuardRefusal`]) when
/// the credentials do not belong to the stage's account, and also when nothing pins the
/// stage (no `allowedAccountIds`/`forbiddenAccountIds`, no lock file record, no
/// `--expect-account`): a gate must not let an unpinned stage through.
pub async fn verify(options: &StageOptions, observer: &dyn Observer) -> anyhow::Result<Verified> {
    let stage = stage::open(options, Guard::Enforce, observer).await?;
    let s = &stage.session;
    s.ensure_pinned(&stage.lock.path.display().to_string())
        .map_err(|e| match e {
            deployer_aws::CredentialError::Refused(r) => anyhow::Error::new(*r),
            other => anyhow::Error::new(other),
        })?;
    Ok(Verified {
        who: Who::of(s),
        pinned: s.pin.is_pinned(),
        allowed: true,
        pin_origins: pin_origins(&s.pin),
        pin: s.pin.clone(),
    })
}

/// Where each rule of `pin` comes from, in the order the guard checks them.
pub(crate) fn pin_origins(pin: &AccountPin) -> Vec<String> {
    let mut origins = Vec::new();
    if pin.expect.is_some() {
        origins.push("--expect-account".to_string());
    }
    if !pin.allowed.is_empty() {
        origins.push("provider.allowedAccountIds".to_string());
    }
    if !pin.forbidden.is_empty() {
        origins.push("provider.forbiddenAccountIds".to_string());
    }
    if let Some(r) = &pin.recorded {
        origins.push(r.origin.clone());
    }
    origins
}
