//! `iot` events: IoT topic rules (v3 `iot.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use super::settings::{field, strip_newlines};
use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

/// Compiles every `iot` event into a topic rule and the permission it invokes with.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        let fn_id = normalized_function_name(key);
        let mut n = 0;
        for (i, event) in function.events.iter().enumerate() {
            let Event::Iot(value) = event else { continue };
            n += 1;
            let sql = field(value, "sql").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::invalid(
                    format!("functions.{key}.events[{i}].iot.sql"),
                    "an iot event needs \"sql\"",
                )
            })?;
            let rule_id = format!("{fn_id}IotTopicRule{n}");
            let mut payload = Map::new();
            payload.insert(
                "RuleDisabled".into(),
                json!(value.get("enabled") == Some(&Value::Bool(false))),
            );
            payload.insert("Sql".into(), json!(strip_newlines(sql)));
            payload.insert(
                "Actions".into(),
                json!([{"Lambda": {"FunctionArn": ctx.lambda_arn(key)}}]),
            );
            if let Some(d) = field(value, "description").and_then(Value::as_str) {
                payload.insert("Description".into(), json!(strip_newlines(d)));
            }
            if let Some(v) = field(value, "sqlVersion").and_then(Value::as_str) {
                payload.insert("AwsIotSqlVersion".into(), json!(strip_newlines(v)));
            }
            let mut props = Map::new();
            props.insert("TopicRulePayload".into(), Value::Object(payload));
            if let Some(name) = field(value, "name").and_then(Value::as_str) {
                props.insert("RuleName".into(), json!(strip_newlines(name)));
            }
            let target = ctx.lambda_arn(key);
            let alias = ctx.alias_id(key).map(Value::String);
            ctx.resources().insert(
                rule_id.clone(),
                crate::resource_depending(
                    "AWS::IoT::TopicRule",
                    alias.clone(),
                    Value::Object(props),
                ),
            );
            ctx.resources().insert(
                format!("{fn_id}LambdaPermissionIotTopicRule{n}"),
                crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                    "FunctionName": target, "Action": "lambda:InvokeFunction", "Principal": "iot.amazonaws.com",
                    "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iot:", {"Ref": "AWS::Region"},
                        ":", {"Ref": "AWS::AccountId"}, ":rule/", {"Ref": rule_id}]]}})),
            );
        }
    }
    Ok(())
}
