//! Why a stage's credentials could not be used: one error type for every source, and the
//! way SDK errors become its messages.

use super::guard::GuardRefusal;

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
    /// The `source_profile` settings of role profiles loop back.
    #[error(
        "the source_profile settings of the AWS profiles form a cycle ({chain}): every role \
         profile must end at a profile with keys, SSO, a credential_process or a \
         credential_source. Fix source_profile in the config file"
    )]
    SourceProfileCycle {
        /// The profiles in order, the repeated one last (`a → b → a`).
        chain: String,
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
