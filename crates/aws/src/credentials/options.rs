//! What the caller says about a stage's credentials: the stage's configuration and the
//! command-line choices. Plain data, read by every other credentials module.

use std::fmt;

use super::guard::RecordedAccount;

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
    /// The account recorded for the stage (account lock file or `--accept-account`).
    pub recorded_account: Option<RecordedAccount>,
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

/// A stage in `us-east-1` with an optional `provider.profile`, for unit tests.
#[cfg(test)]
pub(crate) fn test_target(stage: &str, profile: Option<&str>) -> StageTarget {
    StageTarget {
        stage: stage.into(),
        region: "us-east-1".into(),
        profile: profile.map(str::to_string),
        ..Default::default()
    }
}
