//! `sqs` events (v3 `compile/events/sqs.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

/// The name used in a logical ID for a queue or stream ARN (string or intrinsic).
pub fn source_name(arn: &Value, path: &str) -> Result<String, TemplateError> {
    if let Some(target) = arn
        .get("Fn::GetAtt")
        .and_then(|g| g.get(0))
        .and_then(Value::as_str)
    {
        return Ok(target.to_owned());
    }
    if let Some(import) = arn.get("Fn::ImportValue").and_then(Value::as_str) {
        return Ok(import.to_owned());
    }
    if let Some(r) = arn.get("Ref").and_then(Value::as_str) {
        return Ok(r.to_owned());
    }
    if let Some(last) = arn
        .get("Fn::Join")
        .and_then(|j| j.get(1))
        .and_then(Value::as_array)
        .and_then(|parts| parts.last())
        .and_then(Value::as_str)
    {
        return Ok(last.to_owned());
    }
    match arn {
        Value::String(s) => Ok(s.clone()),
        _ => Err(TemplateError::invalid(
            path,
            "expected an ARN string or Fn::GetAtt / Fn::ImportValue / Fn::Join / Ref",
        )),
    }
}

pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let mut arns = Vec::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let Event::Sqs(sqs) = event else { continue };
            let path = format!("functions.{key}.events[{i}].sqs.arn");
            let name = source_name(&sqs.arn, &path)?;
            let queue_name = if sqs.arn.is_string() {
                name.rsplit(':').next().unwrap_or(&name).to_owned()
            } else {
                name
            };
            let mut props = Map::new();
            props.insert("BatchSize".to_owned(), json!(sqs.batch_size.unwrap_or(10)));
            if let Some(w) = sqs.maximum_batching_window {
                props.insert("MaximumBatchingWindowInSeconds".to_owned(), json!(w));
            }
            props.insert("EventSourceArn".to_owned(), sqs.arn.clone());
            props.insert("FunctionName".to_owned(), ctx.lambda_arn(key));
            props.insert("Enabled".to_owned(), json!(sqs.enabled.unwrap_or(true)));
            if let Some(t) = &sqs.function_response_type {
                props.insert("FunctionResponseTypes".to_owned(), json!([t]));
            }
            if let Some(patterns) = &sqs.filter_patterns {
                let filters: Vec<Value> = patterns
                    .iter()
                    .map(|p| json!({"Pattern": serde_json::to_string(p).expect("JSON")}))
                    .collect();
                props.insert("FilterCriteria".to_owned(), json!({"Filters": filters}));
            }
            if let Some(c) = sqs.maximum_concurrency {
                props.insert("ScalingConfig".to_owned(), json!({"MaximumConcurrency": c}));
            }
            let depends_on: Vec<Value> = ctx
                .function_role_resource(key)
                .into_iter()
                .chain(ctx.alias_id(key))
                .map(Value::String)
                .collect();
            arns.push(sqs.arn.clone());
            ctx.resources().insert(
                format!(
                    "{}EventSourceMappingSQS{}",
                    normalized_function_name(key),
                    normalize_alnum(&queue_name)
                ),
                json!({"Type": "AWS::Lambda::EventSourceMapping", "DependsOn": depends_on, "Properties": props}),
            );
        }
    }
    if !arns.is_empty()
        && let Some(statements) = ctx.role_statements()
    {
        statements.push(json!({"Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": arns}));
    }
    Ok(())
}
