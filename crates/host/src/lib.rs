//! The plugin host: Serverless v3 plugins that deployer has no native equivalent for run in one
//! Node.js child process per command, with the v3 plugin API (`js/host.js`, shipped inside
//! the binary). deployer drives it over the child's stdin/stdout, one JSON message per line:
//! it starts the host with the resolved service ([`Host::start`]), then asks it to run the
//! hooks of some lifecycle events ([`Host::run`]) at the matching points of its own pipeline,
//! handing over the compiled template and taking back what the plugins changed.
//!
//! While a hook runs, the host asks deployer for what only deployer knows — v3's naming rules,
//! the stage's proven credentials for an AWS call, the account, the deployment bucket — through
//! [`Callbacks`]; the host blocks until the answer comes, as v3's synchronous calls do. This
//! crate knows nothing of AWS or templates: the answers come from the caller.

mod error;
mod process;
mod protocol;

pub use error::HostError;
pub use process::{Host, HostStart, find_node, node_version};
pub use protocol::{Question, RunOutcome, Schema, Section};

/// What deployer answers while hooks run, and where plugin output goes.
pub trait Callbacks {
    /// A line a plugin printed (`level`: error, warning, notice, info, debug, verbose).
    fn log(&mut self, level: &str, plugin: Option<&str>, text: &str);
    /// The answer to a question the host asked (see [`Question`]); `Err` is thrown in the
    /// plugin as an `Error` with that message.
    fn answer(&mut self, question: &Question) -> Result<serde_json::Value, String>;
}

/// The v3 lifecycle events whose hooks run before deployer compiles: they may change the
/// service. In v3's order (`serverless deploy` spawns `package`).
pub const CONFIGURATION_EVENTS: &[&str] = &[
    "initialize",
    "before:deploy:deploy:package",
    "before:package:cleanup",
    "package:cleanup",
    "after:package:cleanup",
    "before:package:initialize",
    "package:initialize",
    "after:package:initialize",
    "before:package:setupProviderConfiguration",
    "package:setupProviderConfiguration",
    "after:package:setupProviderConfiguration",
    "before:package:createDeploymentArtifacts",
];

/// The events whose hooks run right after deployer wrote the artifacts and before it compiles
/// the functions: they may rewrite the artifacts and still change the service (v3 compiles
/// the functions only at `package:compileFunctions`).
pub const PACKAGING_EVENTS: &[&str] = &[
    "package:createDeploymentArtifacts",
    "after:package:createDeploymentArtifacts",
    "before:package:compileLayers",
    "package:compileLayers",
    "after:package:compileLayers",
    "before:package:compileFunctions",
];

/// The template events, in order, each with the point of deployer's compile it follows.
pub const TEMPLATE_POINTS: &[(&str, &[&str])] = &[
    (
        "functions",
        &[
            "package:compileFunctions",
            "after:package:compileFunctions",
            "before:package:compileEvents",
        ],
    ),
    (
        "events",
        &[
            "package:compileEvents",
            "after:package:compileEvents",
            "before:package:finalize",
            "before:aws:package:finalize:addExportNameForOutputs",
        ],
    ),
    (
        "exports",
        &[
            "aws:package:finalize:addExportNameForOutputs",
            "after:aws:package:finalize:addExportNameForOutputs",
            "before:aws:package:finalize:mergeCustomProviderResources",
        ],
    ),
    (
        "merge",
        &[
            "aws:package:finalize:mergeCustomProviderResources",
            "after:aws:package:finalize:mergeCustomProviderResources",
            "before:aws:package:finalize:stripNullPropsFromTemplateResources",
        ],
    ),
    (
        "strip",
        &[
            "aws:package:finalize:stripNullPropsFromTemplateResources",
            "after:aws:package:finalize:stripNullPropsFromTemplateResources",
            "before:aws:package:finalize:saveServiceState",
            "aws:package:finalize:saveServiceState",
            "after:aws:package:finalize:saveServiceState",
            "package:finalize",
            "after:package:finalize",
        ],
    ),
];

/// Hooks of `deploy` before the stack changes: the template may still change here.
pub const BEFORE_DEPLOY_EVENTS: &[&str] = &["before:deploy:deploy"];

/// Hooks at the upload of the artifacts, once the deployment bucket exists.
pub const UPLOAD_EVENTS: &[&str] = &[
    "before:aws:deploy:deploy:uploadArtifacts",
    "aws:deploy:deploy:uploadArtifacts",
    "after:aws:deploy:deploy:uploadArtifacts",
];

/// Hooks after a successful stack update.
pub const AFTER_DEPLOY_EVENTS: &[&str] = &[
    "deploy:deploy",
    "after:deploy:deploy",
    "before:deploy:finalize",
    "deploy:finalize",
    "after:deploy:finalize",
    "finalize",
];

/// Hooks before the stack is deleted.
pub const BEFORE_REMOVE_EVENTS: &[&str] = &["initialize", "before:remove:remove"];

/// Hooks after the stack is deleted.
pub const AFTER_REMOVE_EVENTS: &[&str] = &["remove:remove", "after:remove:remove", "finalize"];

/// The JavaScript of the host, run with `node -e`.
pub const HOST_JS: &str = include_str!("../js/host.js");
