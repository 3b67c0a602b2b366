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
