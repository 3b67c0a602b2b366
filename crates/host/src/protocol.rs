//! The messages between deployer and the host (one JSON object per line).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message from the host.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum FromHost {
    /// A line a plugin printed.
    Log {
        level: String,
        plugin: Option<String>,
        text: String,
    },
    /// `provider.naming.<fn>(...args)`.
    Naming {
        #[serde(rename = "fn")]
        function: String,
        args: Vec<Value>,
        plugin: Option<String>,
    },
    /// Credentials for one AWS call of a plugin.
    Credentials {
        service: String,
        method: String,
        plugin: Option<String>,
    },
    /// `provider.getAccountInfo()`.
    Account { plugin: Option<String> },
    /// `provider.getServerlessDeploymentBucketName()`.
    Bucket { plugin: Option<String> },
    /// The command finished.
    Done(Done),
    /// The command failed.
    Failed(Failed),
}

/// The end of a command that went well.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Done {
    /// `init`: the events some plugin hooks into.
    #[serde(default)]
    pub hooks: Vec<String>,
    /// `run` with `wantService`: the service configuration as the plugins left it.
    pub service: Option<Value>,
    /// `run` with a template: the template as the plugins left it.
    pub template: Option<Value>,
    /// Sections the plugins added to the summary (`addServiceOutputSection`).
    #[serde(default)]
    pub sections: Vec<Section>,
}

/// A command that failed: the plugin and hook it failed in, and the plugin's own error.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Failed {
    pub plugin: Option<String>,
    pub hook: Option<String>,
    pub message: String,
    pub code: Option<String>,
    #[serde(default)]
    pub stack: Option<String>,
}

/// A section a plugin added to the deploy summary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Section {
    /// The section's title.
    pub name: String,
    /// Its lines.
    pub lines: Vec<String>,
}

/// What the host asks deployer while a hook runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// `provider.naming.<function>(...args)`: v3's naming rule, as deployer implements it.
    Naming {
        /// The naming function.
        function: String,
        /// Its arguments.
        args: Vec<Value>,
        /// The plugin that asked.
        plugin: Option<String>,
    },
    /// Credentials for one AWS call (`{accessKeyId, secretAccessKey, sessionToken}`): the
    /// stage's proven ones; the answer counts the call.
    Credentials {
        /// The AWS service (SDK v2 name: `CloudFormation`, `S3`).
        service: String,
        /// The method (`describeStacks`).
        method: String,
        /// The plugin that asked.
        plugin: Option<String>,
    },
    /// `{accountId, partition, arn, userId}` of the proven identity.
    Account {
        /// The plugin that asked.
        plugin: Option<String>,
    },
    /// The deployment bucket's name.
    Bucket {
        /// The plugin that asked.
        plugin: Option<String>,
    },
}

/// What a run of hooks gave back.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// The service configuration as the plugins left it (when asked for).
    pub service: Option<Value>,
    /// The template as the plugins left it (when one was handed over).
    pub template: Option<Value>,
    /// Summary sections the plugins added.
    pub sections: Vec<Section>,
}

/// A reply to a question.
pub(crate) fn reply(answer: Result<Value, String>) -> Value {
    match answer {
        Ok(value) => serde_json::json!({ "ok": value }),
        Err(error) => serde_json::json!({ "error": error }),
    }
}

impl FromHost {
    /// The question this message asks, if it is one.
    pub(crate) fn question(self) -> Result<Question, FromHost> {
        match self {
            FromHost::Naming {
                function,
                args,
                plugin,
            } => Ok(Question::Naming {
                function,
                args,
                plugin,
            }),
            FromHost::Credentials {
                service,
                method,
                plugin,
            } => Ok(Question::Credentials {
                service,
                method,
                plugin,
            }),
            FromHost::Account { plugin } => Ok(Question::Account { plugin }),
            FromHost::Bucket { plugin } => Ok(Question::Bucket { plugin }),
            other => Err(other),
        }
    }
}
