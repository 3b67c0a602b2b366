//! `whoami` and `verify`: which credentials and account a stage resolves to, and whether its
//! account pin holds.

use deployer_aws::{AccountPin, AwsSession, Verdict};
use serde::Serialize;

use crate::observer::Observer;
use crate::stage::{self, Guard, StageOptions};

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
    fn of(s: &AwsSession) -> Self {
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
    /// The pin, for display.
    #[serde(skip)]
    pub pin: AccountPin,
}

/// Opens the stage and reports who its credentials are, without enforcing the guard.
pub fn whoami(options: &StageOptions, observer: &dyn Observer) -> anyhow::Result<Identity> {
    let stage = stage::open(options, Guard::Report, observer)?;
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
/// the credentials do not belong to the stage's account.
pub fn verify(options: &StageOptions, observer: &dyn Observer) -> anyhow::Result<Verified> {
    let stage = stage::open(options, Guard::Enforce, observer)?;
    let s = &stage.session;
    Ok(Verified {
        who: Who::of(s),
        pinned: s.pin.is_pinned(),
        allowed: true,
        pin: s.pin.clone(),
    })
}
