//! The typed errors an operation's `anyhow::Error` chain may hold, for callers that classify
//! failures (the command line's `--json` error object, its exit codes).

pub use deployer_aws::error::{AwsError, FailureKind, LockHeld};
pub use deployer_aws::{Broken, CredentialError, Evidence, GuardRefusal};
pub use deployer_config::ConfigError;
pub use deployer_config::model::ModelError;
pub use deployer_package::PackageError;
pub use deployer_package::build::BuildError;
pub use deployer_template::TemplateError;
pub use deployer_template::plugins::PluginError;

pub use crate::preflight::PreflightError;
pub use crate::remove::ConfirmationRequired;

/// A failure of an operation itself (not AWS's, the configuration's or the credentials'),
/// with its kind, so callers can tell the failures apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// What kind of failure.
    pub kind: OpErrorKind,
    /// What happened and what to do.
    pub message: String,
}

/// The kinds of [`OpError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpErrorKind {
    /// The function named on the command line is not in the configuration or not deployed.
    Function,
    /// The package directory (`--package DIR`) cannot be deployed as it is.
    PackageDir,
    /// The deployment to roll back to is missing or incomplete.
    Deployment,
    /// A command-line value the argument parser cannot check (a time, a path, a payload).
    Input,
    /// The account lock file is malformed.
    LockFile,
    /// The person asked to confirm declined; nothing was changed.
    Declined,
    /// `print --path`: the configuration has no value there.
    NoSuchPath,
}

impl OpError {
    /// The error as an `anyhow::Error`, for `?` and `Err(…)` in operations.
    pub(crate) fn error(kind: OpErrorKind, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Self {
            kind,
            message: message.into(),
        })
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_survives_context() {
        let err = OpError::error(
            OpErrorKind::Function,
            "function \"x\" is not in serverless.yml",
        )
        .context("while deploying");
        let op = err.downcast_ref::<OpError>().unwrap();
        assert_eq!(op.kind, OpErrorKind::Function);
        assert_eq!(op.to_string(), "function \"x\" is not in serverless.yml");
    }
}
