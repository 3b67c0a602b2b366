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
    /// `init`: what the plugins added to the v3 schema.
    #[serde(default)]
    pub schema: Schema,
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

/// What the plugins declared through `configSchemaHandler`: settings that are theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    /// `defineTopLevelProperty` names.
    #[serde(default)]
    pub top_level: Vec<String>,
    /// `defineFunctionEvent` event names.
    #[serde(default)]
    pub function_events: Vec<String>,
    /// `defineFunctionEventProperties`: `<event>.<property>`.
    #[serde(default)]
    pub function_event_properties: Vec<String>,
    /// `defineFunctionProperties` property names.
    #[serde(default)]
    pub function_properties: Vec<String>,
}

impl Schema {
    /// Whether the setting at `path` (`functions.charge.alarms`,
    /// `functions.f.events[0].apiGatewayServiceProxy`) was declared by a plugin.
    pub fn claims(&self, path: &str) -> bool {
        let under = |path: &str, key: &str| {
            path == key
                || path.starts_with(&format!("{key}."))
                || path.starts_with(&format!("{key}["))
        };
        if self.top_level.iter().any(|k| under(path, k)) {
            return true;
        }
        let Some(rest) = path.strip_prefix("functions.") else {
            return false;
        };
        let Some((_, in_function)) = rest.split_once('.') else {
            return false;
        };
        if self
            .function_properties
            .iter()
            .any(|k| under(in_function, k))
        {
            return true;
        }
        let Some(event) = in_function
            .strip_prefix("events[")
            .and_then(|e| e.split_once("]."))
            .map(|(_, e)| e)
        else {
            return false;
        };
        self.function_events.iter().any(|k| under(event, k))
            || self
                .function_event_properties
                .iter()
                .any(|k| under(event, k))
    }
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
    pub(crate) fn question(self) -> Option<Question> {
        match self {
            FromHost::Naming {
                function,
                args,
                plugin,
            } => Some(Question::Naming {
                function,
                args,
                plugin,
            }),
            FromHost::Credentials {
                service,
                method,
                plugin,
            } => Some(Question::Credentials {
                service,
                method,
                plugin,
            }),
            FromHost::Account { plugin } => Some(Question::Account { plugin }),
            FromHost::Bucket { plugin } => Some(Question::Bucket { plugin }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_settings_are_claimed_by_path() {
        let schema = Schema {
            top_level: vec!["stepFunctions".into()],
            function_events: vec!["apiGatewayServiceProxy".into()],
            function_event_properties: vec!["http.caching".into()],
            function_properties: vec!["alarms".into()],
        };
        for path in [
            "stepFunctions",
            "stepFunctions.stateMachines",
            "functions.charge.alarms",
            "functions.charge.alarms[0].name",
            "functions.f.events[2].apiGatewayServiceProxy.path",
            "functions.f.events[0].http.caching",
        ] {
            assert!(schema.claims(path), "{path}");
        }
        for path in [
            "provider.alarms",
            "functions.charge.alarmsx",
            "functions.f.events[0].http.path",
            "stepFunctionsx",
        ] {
            assert!(!schema.claims(path), "{path}");
        }
    }
}
