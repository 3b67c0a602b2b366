//! The typed errors an operation's `anyhow::Error` chain may hold, each with its documented
//! kind ([`Classify`]), and [`classify`]: the one place that finds them in a chain, so callers
//! (the command line's `--json` error object, its exit codes) only render.

pub use deployer_aws::error::{AwsError, FailureKind, LockHeld};
pub use deployer_aws::{Broken, CredentialError, Evidence, GuardRefusal};
pub use deployer_config::model::ModelError;
pub use deployer_config::{Classify, ConfigError, Kind, json_fields};
pub use deployer_package::PackageError;
pub use deployer_package::build::BuildError;
pub use deployer_template::TemplateError;
pub use deployer_template::plugins::PluginError;

pub use crate::pipeline::preflight::PreflightError;

use serde_json::{Map, Value, json};

mod aws;

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
    /// A protected stage refuses a shortcut (remove, deploy function, --force-unlock, …).
    Protected,
    /// A saved plan cannot be executed as reviewed (another stage, the stack or its code moved).
    Plan,
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

impl Classify for OpError {
    fn kind(&self) -> Kind {
        match self.kind {
            OpErrorKind::Function => Kind::Function,
            OpErrorKind::PackageDir => Kind::PackageDir,
            OpErrorKind::Deployment => Kind::Deployment,
            OpErrorKind::Input => Kind::Usage,
            OpErrorKind::LockFile => Kind::LockFile,
            OpErrorKind::Declined => Kind::Declined,
            OpErrorKind::NoSuchPath => Kind::NoSuchPath,
            OpErrorKind::Protected => Kind::Protected,
            OpErrorKind::Plan => Kind::Plan,
        }
    }
}

impl Classify for PreflightError {
    fn kind(&self) -> Kind {
        Kind::Preflight
    }

    fn fields(&self) -> Map<String, Value> {
        json_fields(json!({"problems": self.problems}))
    }
}

/// A pinned stage was to be removed without a confirmation and nobody could give one.
#[derive(Debug)]
pub struct ConfirmationRequired {
    /// Stage.
    pub stage: String,
    /// Stack name.
    pub stack: String,
}

impl std::fmt::Display for ConfirmationRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stage {} is pinned to an account: removing stack {} needs confirmation; pass --yes \
             to remove it without a terminal",
            self.stage, self.stack
        )
    }
}

impl std::error::Error for ConfirmationRequired {}

impl Classify for ConfirmationRequired {
    fn kind(&self) -> Kind {
        Kind::ConfirmationRequired
    }

    fn fields(&self) -> Map<String, Value> {
        json_fields(json!({"stage": self.stage, "stack": self.stack, "flag": "--yes"}))
    }
}

/// A failure's documented kind and the typed fields of its `--json` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The kind (and so the exit code).
    pub kind: Kind,
    /// The typed fields, camelCase, without the ones that do not apply.
    pub fields: Map<String, Value>,
}

impl Classified {
    fn of(c: &dyn Classify) -> Self {
        Self {
            kind: c.kind(),
            fields: c.fields(),
        }
    }
}

/// The kind of `e` when it is one of the typed errors of the workspace; `None` otherwise.
/// Rust cannot downcast a `dyn Error` to a trait object, so the types are tried here, once.
pub fn classify(e: &(dyn std::error::Error + 'static)) -> Option<Classified> {
    macro_rules! first_of {
        ($($t:ty),*) => {
            $(if let Some(x) = e.downcast_ref::<$t>() {
                return Some(Classified::of(x));
            })*
        };
    }
    first_of!(
        OpError,
        PreflightError,
        ConfirmationRequired,
        ConfigError,
        ModelError,
        PluginError,
        BuildError,
        PackageError,
        TemplateError,
        deployer_host::HostError,
        std::io::Error
    );
    aws::classify(e)
}

/// The first typed error in the chain of `err` decides its kind.
pub fn classify_chain(err: &anyhow::Error) -> Option<Classified> {
    err.chain().find_map(classify)
}

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
