//! `deployer-ops`: the operations of deployer — `package`, `deploy`, `diff`, `info`, `remove`,
//! `print`, `whoami`, `verify` — each a function taking a plain options struct and returning a
//! typed, serializable result. Nothing here writes to a terminal: warnings, details and
//! progress go to the caller's [`Observer`].
//!
//! Every operation reads the service the same way (configuration file → stage settings →
//! credentials and the account guard, for AWS operations → full resolution → model), and
//! every default lives in [`defaults`].

mod calls;
mod commands;
pub mod compose;
pub mod defaults;
pub mod errors;
mod lockfile;
mod observer;
mod pipeline;

pub use calls::AwsCalls;
pub use commands::apply::{Applied, ApplyOptions, apply_plan};
pub use commands::deploy::{DeployFailed, DeployOptions, DeployReport, Deployed, deploy};
pub use commands::deployments::{DeploymentEntry, DeploymentList, deploy_list};
pub use commands::diff::{DiffOptions, Diffed, diff};
pub use commands::drift::{Drift, DriftSection, drift};
pub use commands::function::{FunctionDeployed, FunctionOptions, deploy_function};
pub use commands::identity::{Identity, Verified, Who, verify, whoami};
pub use commands::info::{StageInfo, info};
pub use commands::invoke::{Invocation, InvokeOptions, Payload, invoke};
pub use commands::invoke_local::{LocalInvocation, LocalOptions, invoke_local};
pub use commands::logs::{LogLine, Logs, LogsOptions, logs, parse_since};
pub use commands::metrics::{Figures, Metrics, MetricsOptions, metrics};
pub use commands::package::{
    ArtifactSummary, PackageOptions, PackageSummary, TemplateFiles, package,
};
pub use commands::pin::{Pinned, pin};
pub use commands::plan::{DiscardOptions, Discarded, PlanFile, PlanOptions, discard_plan, plan};
pub use commands::print::{PrintOptions, Printed, print};
pub use commands::remove::{
    Confirmation, ConfirmationRequired, Removal, RemoveOptions, Removed, remove,
};
pub use commands::rollback::{RollbackOptions, RolledBack, rollback};
pub use commands::rollback_function::{
    FunctionRolledBack, RollbackFunctionOptions, rollback_function,
};
pub use commands::watch::{Shipped, WatchOptions, watch};
pub use observer::{Action, Observer};
pub use pipeline::builds::BuildsSummary;
pub use pipeline::local::LambdaError;
pub use pipeline::manifest::{Manifest, ManifestArtifact, PackageDir, read as read_package_dir};
pub use pipeline::plugins::Pruned;
pub use pipeline::service::ServiceOptions;
pub use pipeline::stack::name as stack_name;
pub use pipeline::stage::StageOptions;

/// The types of the lower crates that appear in the operations' options and results.
pub mod types {
    pub use deployer_aws::deploy::DeployStatus;
    pub use deployer_aws::flow::broadening::Broadening;
    pub use deployer_aws::lambda::InvokeType;
    pub use deployer_aws::progress::{Progress, Reporter, StackEvent};
    pub use deployer_aws::stack::Change;
    pub use deployer_aws::{AccountPin, AwsSession, CredentialOptions, GuardRefusal, MfaPrompt};
    pub use deployer_config::CliOptions;
    pub use deployer_template::plugins::{PluginTreatment, Treatment};
}
