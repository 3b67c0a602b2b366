//! `deployer-ops`: the operations of deployer — `package`, `deploy`, `diff`, `info`, `remove`,
//! `print`, `whoami`, `verify` — each a function taking a plain options struct and returning a
//! typed, serializable result. Nothing here writes to a terminal: warnings, details and
//! progress go to the caller's [`Observer`].
//!
//! Every operation reads the service the same way (configuration file → stage settings →
//! credentials and the account guard, for AWS operations → full resolution → model), and
//! every default lives in [`defaults`].

mod builds;
mod calls;
pub mod defaults;
mod deploy;
mod deployments;
pub mod errors;
mod function;
mod identity;
mod info;
mod invoke;
mod lockfile;
mod logs;
mod manifest;
mod metrics;
mod observer;
mod outdir;
mod package;
mod pin;
mod plugins;
mod preflight;
mod print;
mod remove;
mod report;
mod request;
mod rollback;
mod service;
mod stack;
mod stage;

pub use builds::BuildsSummary;
pub use calls::AwsCalls;
pub use deploy::{
    DeployFailed, DeployOptions, DeployReport, Deployed, DiffOptions, Diffed, deploy, diff,
};
pub use deployments::{DeploymentEntry, DeploymentList, deploy_list};
pub use function::{FunctionDeployed, FunctionOptions, deploy_function};
pub use identity::{Identity, Verified, Who, verify, whoami};
pub use info::{StageInfo, info};
pub use invoke::{Invocation, InvokeOptions, Payload, invoke};
pub use logs::{LogLine, Logs, LogsOptions, logs, parse_since};
pub use manifest::{Manifest, ManifestArtifact, PackageDir, read as read_package_dir};
pub use metrics::{Figures, Metrics, MetricsOptions, metrics};
pub use observer::{Action, Observer};
pub use package::{ArtifactSummary, PackageOptions, PackageSummary, TemplateFiles, package};
pub use pin::{Pinned, pin};
pub use plugins::Pruned;
pub use print::{PrintOptions, Printed, print};
pub use remove::{Confirmation, ConfirmationRequired, Removal, RemoveOptions, Removed, remove};
pub use rollback::{RollbackOptions, RolledBack, rollback};
pub use service::ServiceOptions;
pub use stack::name as stack_name;
pub use stage::StageOptions;

/// The types of the lower crates that appear in the operations' options and results.
pub mod types {
    pub use deployer_aws::deploy::DeployStatus;
    pub use deployer_aws::lambda::InvokeType;
    pub use deployer_aws::progress::{Progress, Reporter, StackEvent};
    pub use deployer_aws::stack::Change;
    pub use deployer_aws::{AccountPin, AwsSession, CredentialOptions, GuardRefusal, MfaPrompt};
    pub use deployer_config::CliOptions;
    pub use deployer_template::plugins::{PluginTreatment, Treatment};
}
