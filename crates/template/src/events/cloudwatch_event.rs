//! `cloudwatchEvent` events: CloudWatch Events rules (v3 `cloud-watch-event.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use super::events_rule::{compile_rule, input_transformer};
use super::settings::field;
use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

/// Compiles every `cloudwatchEvent` event into a rule and the permission it invokes with.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for (key, function) in &service.functions {
        let fn_id = normalized_function_name(key);
        let mut n = 0;
        for (i, event) in function.events.iter().enumerate() {
            let Event::CloudwatchEvent(value) = event else {
                continue;
            };
            n += 1;
            let path = format!("functions.{key}.events[{i}].cloudwatchEvent");
            let properties = rule_properties(ctx, key, value, &path)?;
            compile_rule(
                ctx,
                key,
                format!("{fn_id}EventsRuleCloudWatchEvent{n}"),
                format!("{fn_id}LambdaPermissionEventsRuleCloudWatchEvent{n}"),
                properties,
            );
        }
    }
    Ok(())
}

/// The rule: the event pattern, state, description, name and the function as its target.
fn rule_properties(
    ctx: &Ctx,
    key: &str,
    value: &Value,
    path: &str,
) -> Result<Map<String, Value>, TemplateError> {
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
    let mut target = target_input(value, path)?;
    target.insert("Arn".into(), ctx.lambda_arn(key));
    target.insert("Id".into(), json!(format!("{key}CloudWatchEvent")));
    props.insert("Targets".into(), json!([target]));
    Ok(props)
}

/// The target's `Input`, `InputPath` or `InputTransformer` (at most one of them).
fn target_input(value: &Value, path: &str) -> Result<Map<String, Value>, TemplateError> {
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
        target.insert("InputTransformer".into(), input_transformer(t));
    }
    Ok(target)
}
