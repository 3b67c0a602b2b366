//! `cloudwatchEvent` events: CloudWatch Events rules (v3 `cloud-watch-event.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use super::settings::field;
use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

/// Compiles every `cloudwatchEvent` event into a rule and the permission it invokes with.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        let fn_id = normalized_function_name(key);
        let mut n = 0;
        for (i, event) in function.events.iter().enumerate() {
            let Event::CloudwatchEvent(value) = event else {
                continue;
            };
            n += 1;
            let path = format!("functions.{key}.events[{i}].cloudwatchEvent");
            let input = field(value, "input");
            let input_path = field(value, "inputPath");
            let transformer = field(value, "inputTransformer");
            if [input, input_path, transformer]
                .iter()
                .filter(|v| v.is_some())
                .count()
                > 1
            {
                return Err(TemplateError::invalid(
                    path,
                    "You can only set one of input, inputPath, or inputTransformer properties at the same time for cloudwatch events.",
                ));
            }
            let rule_id = format!("{fn_id}EventsRuleCloudWatchEvent{n}");
            let mut props = Map::new();
            props.insert(
                "EventPattern".into(),
                field(value, "event").cloned().unwrap_or(Value::Null),
            );
            props.insert(
                "State".into(),
                json!(if value.get("enabled") == Some(&Value::Bool(false)) {
                    "DISABLED"
                } else {
                    "ENABLED"
                }),
            );
            if let Some(d) = field(value, "description") {
                props.insert("Description".into(), d.clone());
            }
            if let Some(name) = field(value, "name") {
                props.insert("Name".into(), name.clone());
            }
            let mut target = Map::new();
            match input {
                Some(Value::String(s)) => {
                    target.insert("Input".into(), json!(s));
                }
                Some(other) => {
                    target.insert(
                        "Input".into(),
                        json!(serde_json::to_string(other).expect("JSON")),
                    );
                }
                None => {}
            }
            if let Some(p) = input_path {
                target.insert("InputPath".into(), p.clone());
            }
            if let Some(t) = transformer {
                let mut out = Map::new();
                out.insert(
                    "InputTemplate".into(),
                    t.get("inputTemplate").cloned().unwrap_or(Value::Null),
                );
                if let Some(m) = t.get("inputPathsMap") {
                    out.insert("InputPathsMap".into(), m.clone());
                }
                target.insert("InputTransformer".into(), Value::Object(out));
            }
            target.insert("Arn".into(), ctx.lambda_arn(key));
            target.insert("Id".into(), json!(format!("{key}CloudWatchEvent")));
            props.insert("Targets".into(), json!([target]));
            let arn = ctx.lambda_arn(key);
            let alias = ctx.alias_id(key).map(Value::String);
            ctx.resources().insert(
                rule_id.clone(),
                crate::resource_depending("AWS::Events::Rule", alias.clone(), Value::Object(props)),
            );
            ctx.resources().insert(
                format!("{fn_id}LambdaPermissionEventsRuleCloudWatchEvent{n}"),
                crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                    "FunctionName": arn, "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
                    "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}})),
            );
        }
    }
    Ok(())
}
