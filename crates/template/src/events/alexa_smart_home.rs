//! `alexaSmartHome` events: Alexa Smart Home permissions (v3 `alexa-smart-home.js`).

use serde_json::{Value, json};

use super::settings::other_events;
use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

/// Compiles every `alexaSmartHome` event into a `<Fn>LambdaPermissionAlexaSmartHome<n>`.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for key in service.functions.keys() {
        for (n, (i, event)) in other_events(service, "alexaSmartHome", key).enumerate() {
            let (token, enabled) = match event {
                Value::String(s) => (s.clone(), true),
                Value::Object(o) => (
                    o.get("appId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    o.get("enabled") != Some(&Value::Bool(false)),
                ),
                _ => {
                    return Err(TemplateError::invalid(
                        format!("functions.{key}.events[{i}].alexaSmartHome"),
                        "expected an app ID or alexaSmartHome settings",
                    ));
                }
            };
            let alias = ctx.alias_id(key).map(Value::String);
            let target = ctx.lambda_arn(key);
            ctx.resources().insert(
                format!("{}LambdaPermissionAlexaSmartHome{}", normalized_function_name(key), n + 1),
                crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                    "FunctionName": target,
                    "Action": if enabled { "lambda:InvokeFunction" } else { "lambda:DisableInvokeFunction" },
                    "Principal": "alexa-connectedhome.amazon.com",
                    "EventSourceToken": token.replace("\\n", "").replace("\\r", "")})),
            );
        }
    }
    Ok(())
}
