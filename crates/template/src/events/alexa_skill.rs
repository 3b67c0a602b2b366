//! `alexaSkill` events: Alexa Skills Kit permissions (v3 `alexa-skill.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

/// Compiles every `alexaSkill` event with settings into a `<Fn>LambdaPermissionAlexaSkill<n>`.
///
/// A bare `- alexaSkill` (no app ID) compiles nothing and is not counted: v3 dropped the old
/// "any skill" syntax and its compiler only acts on `event.alexaSkill`, which a bare name lacks.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        let mut n = 0;
        for (i, event) in function.events.iter().enumerate() {
            let Event::AlexaSkill(value) = event else {
                continue;
            };
            let (app_id, enabled) = match value {
                Value::Null => continue,
                Value::String(s) if s.is_empty() => continue,
                Value::String(s) => (Some(s.clone()), true),
                Value::Object(o) => (
                    o.get("appId").and_then(Value::as_str).map(str::to_owned),
                    o.get("enabled") != Some(&Value::Bool(false)),
                ),
                _ => {
                    return Err(TemplateError::invalid(
                        format!("functions.{key}.events[{i}].alexaSkill"),
                        "expected an app ID or alexaSkill settings",
                    ));
                }
            };
            n += 1;
            let mut props = Map::new();
            props.insert("FunctionName".into(), ctx.lambda_arn(key));
            props.insert(
                "Action".into(),
                json!(if enabled {
                    "lambda:InvokeFunction"
                } else {
                    "lambda:DisableInvokeFunction"
                }),
            );
            props.insert("Principal".into(), json!("alexa-appkit.amazon.com"));
            if let Some(app_id) = app_id {
                props.insert(
                    "EventSourceToken".into(),
                    json!(app_id.replace("\\n", "").replace("\\r", "")),
                );
            }
            let alias_dep = ctx.alias_id(key).map(Value::String);
            ctx.resources().insert(
                format!(
                    "{}LambdaPermissionAlexaSkill{n}",
                    normalized_function_name(key)
                ),
                crate::resource_depending(
                    "AWS::Lambda::Permission",
                    alias_dep,
                    Value::Object(props),
                ),
            );
        }
    }
    Ok(())
}
