//! Stage protection: which stages are protected against changes that bypass review, and by
//! which setting. Three places can say it; the first one set decides alone:
//!
//! 1. `custom.deployer.protect: [prod, ...]` (deployer's own; wins when set),
//! 2. `provider.deletionProtection: true | {stages: [prod, ...]}` (osls),
//! 3. the `serverless-stack-termination-protection` plugin under `plugins:`, with
//!    `custom.serverlessTerminationProtection.stages` (every stage when absent).

use serde::Serialize;
use serde_json::Value;

/// `custom.deployer.protect`.
pub const PROTECT: &str = "custom.deployer.protect";
/// `provider.deletionProtection`.
pub const DELETION_PROTECTION: &str = "provider.deletionProtection";
/// The plugin treated as native through protection.
pub const PLUGIN: &str = "serverless-stack-termination-protection";
/// The plugin's stage list.
pub const PLUGIN_STAGES: &str = "custom.serverlessTerminationProtection.stages";

/// A protected stage and the setting that protects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Protection {
    /// The setting, as messages name it (`custom.deployer.protect`).
    pub setting: &'static str,
}

/// The raw values of the three places (after the early resolution), `None` when unset.
#[derive(Debug, Default, Clone)]
pub struct ProtectionSources {
    /// `custom.deployer.protect`.
    pub protect: Option<Value>,
    /// `provider.deletionProtection`.
    pub deletion_protection: Option<Value>,
    /// `plugins`.
    pub plugins: Option<Value>,
    /// `custom.serverlessTerminationProtection.stages`.
    pub plugin_stages: Option<Value>,
}

/// Whether `stage` is protected; `Err((path, message))` for a value of the wrong shape.
pub fn protection(
    sources: &ProtectionSources,
    stage: &str,
) -> Result<Option<Protection>, (&'static str, String)> {
    let set = |v: &Option<Value>| v.as_ref().filter(|v| !v.is_null()).cloned();
    if let Some(v) = set(&sources.protect) {
        let stages = stage_list(&v).ok_or_else(|| (PROTECT, shape("a list of stage names", &v)))?;
        return Ok(listed(&stages, stage, PROTECT));
    }
    if let Some(v) = set(&sources.deletion_protection) {
        let on = match &v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" || s == "false" => Some(s == "true"),
            _ => None,
        };
        if let Some(on) = on {
            return Ok(on.then_some(Protection {
                setting: DELETION_PROTECTION,
            }));
        }
        let stages = v.get("stages").and_then(stage_list).ok_or_else(|| {
            (
                DELETION_PROTECTION,
                shape("true, false or {stages: [...]}", &v),
            )
        })?;
        return Ok(listed(&stages, stage, DELETION_PROTECTION));
    }
    if declares_plugin(sources.plugins.as_ref()) {
        return match set(&sources.plugin_stages) {
            None => Ok(Some(Protection { setting: PLUGIN })),
            Some(v) => {
                let stages = stage_list(&v)
                    .ok_or_else(|| (PLUGIN_STAGES, shape("a list of stage names", &v)))?;
                Ok(listed(&stages, stage, PLUGIN))
            }
        };
    }
    Ok(None)
}

fn listed(stages: &[String], stage: &str, setting: &'static str) -> Option<Protection> {
    stages
        .iter()
        .any(|s| s == stage)
        .then_some(Protection { setting })
}

/// A list of names, or a single name.
fn stage_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// `plugins: [...]` or `plugins: {modules: [...]}` names the plugin.
fn declares_plugin(plugins: Option<&Value>) -> bool {
    let list = match plugins {
        Some(Value::Object(m)) => m.get("modules"),
        other => other,
    };
    list.and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|p| p.as_str() == Some(PLUGIN)))
}

fn shape(expected: &str, found: &Value) -> String {
    format!("expected {expected}, found {found}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sources(
        protect: Value,
        deletion: Value,
        plugins: Value,
        stages: Value,
    ) -> ProtectionSources {
        ProtectionSources {
            protect: Some(protect),
            deletion_protection: Some(deletion),
            plugins: Some(plugins),
            plugin_stages: Some(stages),
        }
    }

    fn setting(s: &ProtectionSources, stage: &str) -> Option<&'static str> {
        protection(s, stage).unwrap().map(|p| p.setting)
    }

    #[test]
    fn custom_deployer_protect_wins_over_deletion_protection() {
        let s = sources(json!(["prod"]), json!(true), Value::Null, Value::Null);
        assert_eq!(setting(&s, "prod"), Some(PROTECT));
        assert_eq!(setting(&s, "dev"), None, "protect decides alone when set");
    }

    #[test]
    fn deletion_protection_takes_true_or_a_stage_list() {
        let all = sources(Value::Null, json!(true), Value::Null, Value::Null);
        assert_eq!(setting(&all, "dev"), Some(DELETION_PROTECTION));
        let off = sources(Value::Null, json!(false), Value::Null, Value::Null);
        assert_eq!(setting(&off, "prod"), None);
        let some = sources(
            Value::Null,
            json!({"stages": ["prod"]}),
            Value::Null,
            Value::Null,
        );
        assert_eq!(setting(&some, "prod"), Some(DELETION_PROTECTION));
        assert_eq!(setting(&some, "dev"), None);
    }

    #[test]
    fn the_termination_protection_plugin_protects_its_stages_or_all() {
        let all = sources(Value::Null, Value::Null, json!([PLUGIN]), Value::Null);
        assert_eq!(setting(&all, "dev"), Some(PLUGIN));
        let some = sources(
            Value::Null,
            Value::Null,
            json!({"modules": [PLUGIN]}),
            json!(["prod"]),
        );
        assert_eq!(setting(&some, "prod"), Some(PLUGIN));
        assert_eq!(setting(&some, "dev"), None);
        let none = sources(Value::Null, Value::Null, json!(["other"]), Value::Null);
        assert_eq!(setting(&none, "prod"), None);
    }

    #[test]
    fn a_wrong_shape_names_the_setting() {
        let s = sources(json!({"prod": true}), Value::Null, Value::Null, Value::Null);
        assert_eq!(protection(&s, "prod").unwrap_err().0, PROTECT);
        let d = sources(Value::Null, json!(3), Value::Null, Value::Null);
        let (path, message) = protection(&d, "prod").unwrap_err();
        assert_eq!(path, DELETION_PROTECTION);
        assert!(message.contains("{stages: [...]}"), "{message}");
    }
}
