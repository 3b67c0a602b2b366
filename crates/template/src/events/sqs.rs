//! `sqs` events: queue event source mappings (v3 `compile/events/sqs.js`).

use deployer_config::model::{Event, SqsEvent};
use serde_json::{Map, Value, json};

use super::event_source_mapping::{self as esm, source_name};
use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

/// Compiles every `sqs` event into a mapping, then one statement for all queues.
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
            arns.push(sqs.arn.clone());
            let resource = esm::mapping(esm::depends_on(ctx, key), properties(ctx, key, sqs));
            ctx.resources().insert(
                format!(
                    "{}EventSourceMappingSQS{}",
                    normalized_function_name(key),
                    normalize_alnum(&queue_name)
                ),
                resource,
            );
        }
    }
    if !arns.is_empty()
        && let Some(statements) = ctx.role_statements()
    {
        statements.push(esm::allow(
            json!([
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes"
            ]),
            arns,
        ));
    }
    Ok(())
}

fn properties(ctx: &Ctx, key: &str, sqs: &SqsEvent) -> Map<String, Value> {
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
        props.insert("FilterCriteria".to_owned(), esm::filter_criteria(patterns));
    }
    if let Some(c) = sqs.maximum_concurrency {
        props.insert("ScalingConfig".to_owned(), json!({"MaximumConcurrency": c}));
    }
    props
}
