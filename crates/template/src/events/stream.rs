//! `stream` events: DynamoDB and Kinesis event source mappings (v3 `compile/events/stream.js`).

use deployer_config::model::{Event, StreamEvent};
use serde_json::{Map, Value, json};

use super::event_source_mapping::{self as esm, source_name};
use crate::naming::{normalize_alnum, normalized_function_name, upper_first};
use crate::{Ctx, TemplateError};

/// The resources of one function's statements, in v3's statement order.
#[derive(Default)]
struct Sources {
    dynamodb: Vec<Value>,
    kinesis: Vec<Value>,
    kinesis_consumer_streams: Vec<Value>,
    consumers: Vec<Value>,
    on_failure_sns: Vec<Value>,
    on_failure_sqs: Vec<Value>,
}

/// Compiles every `stream` event: one mapping per stream (and a consumer when asked for),
/// then the read, consumer and failure-destination statements per function.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for (key, function) in &service.functions {
        let mut sources = Sources::default();
        for (i, event) in function.events.iter().enumerate() {
            let Event::Stream(stream) = event else {
                continue;
            };
            let path = format!("functions.{key}.events[{i}].stream");
            compile_mapping(ctx, key, stream, &path, &mut sources)?;
        }
        if let Some(statements) = ctx.role_statements() {
            statements.extend(sources.statements());
        }
    }
    Ok(())
}

/// `dynamodb` or `kinesis`: the `type`, else the service in the ARN.
fn stream_type(stream: &StreamEvent, path: &str) -> Result<String, TemplateError> {
    let stream_type = match (&stream.stream_type, &stream.arn) {
        (Some(t), _) => t.clone(),
        (None, Value::String(s)) => s.split(':').nth(2).unwrap_or_default().to_owned(),
        _ => {
            return Err(TemplateError::invalid(
                format!("{path}.type"),
                "set \"type\" (dynamodb or kinesis) when \"arn\" is an intrinsic function",
            ));
        }
    };
    if stream_type != "dynamodb" && stream_type != "kinesis" {
        return Err(TemplateError::invalid(
            format!("{path}.type"),
            format!("expected dynamodb or kinesis, found \"{stream_type}\""),
        ));
    }
    Ok(stream_type)
}

/// The stream's name in the mapping's logical ID.
fn stream_name(arn: &Value, path: &str) -> Result<String, TemplateError> {
    Ok(match arn {
        Value::String(s) => s.split('/').nth(1).unwrap_or_default().to_owned(),
        other if other.get("Fn::Join").is_some() => {
            let name = source_name(other, &format!("{path}.arn"))?;
            name.rsplit('/').next().unwrap_or(&name).to_owned()
        }
        other => source_name(other, &format!("{path}.arn"))?,
    })
}

/// `<Fn>EventSourceMapping<Type><Stream>`, and `<Fn><Stream>ConsumerStreamConsumer` when
/// `consumer: true`.
fn compile_mapping(
    ctx: &mut Ctx,
    key: &str,
    stream: &StreamEvent,
    path: &str,
    sources: &mut Sources,
) -> Result<(), TemplateError> {
    let arn = &stream.arn;
    let stream_type = stream_type(stream, path)?;
    let stream_name = stream_name(arn, path)?;
    let logical_id = format!(
        "{}EventSourceMapping{}{}",
        normalized_function_name(key),
        upper_first(&stream_type),
        normalize_alnum(&stream_name)
    );
    let mut depends_on = esm::depends_on(ctx, key);
    let uses_consumer = stream
        .consumer
        .as_ref()
        .is_some_and(|c| !matches!(c, Value::Null | Value::Bool(false)));
    if stream_type == "dynamodb" {
        sources.dynamodb.push(arn.clone());
    } else if uses_consumer {
        sources.kinesis_consumer_streams.push(arn.clone());
    } else {
        sources.kinesis.push(arn.clone());
    }
    let mut props = properties(ctx, key, stream);
    if let Some(destinations) = &stream.destinations {
        let destination = on_failure(destinations, path, sources)?;
        props.insert(
            "DestinationConfig".to_owned(),
            json!({"OnFailure": {"Destination": destination}}),
        );
    }
    if let Some(patterns) = &stream.filter_patterns {
        props.insert("FilterCriteria".to_owned(), esm::filter_criteria(patterns));
    }
    let mut consumer_resource = None;
    if uses_consumer && stream_type == "kinesis" {
        consumer_resource = consumer(key, stream, &stream_name, &mut props, sources);
        if let Some((id, _)) = &consumer_resource {
            depends_on.push(json!(id));
        }
    }
    ctx.resources()
        .insert(logical_id, esm::mapping(depends_on, props));
    if let Some((id, resource)) = consumer_resource {
        ctx.resources().insert(id, resource);
    }
    Ok(())
}

/// The mapping's settings, up to the failure destination.
fn properties(ctx: &Ctx, key: &str, stream: &StreamEvent) -> Map<String, Value> {
    let mut props = Map::new();
    props.insert(
        "BatchSize".to_owned(),
        json!(stream.batch_size.unwrap_or(10)),
    );
    props.insert("Enabled".to_owned(), json!(stream.enabled.unwrap_or(true)));
    props.insert("EventSourceArn".to_owned(), stream.arn.clone());
    props.insert("FunctionName".to_owned(), ctx.lambda_arn(key));
    if let Some(p) = stream.parallelization_factor {
        props.insert("ParallelizationFactor".to_owned(), json!(p));
    }
    let position = stream
        .starting_position
        .as_deref()
        .unwrap_or("TRIM_HORIZON");
    props.insert("StartingPosition".to_owned(), json!(position));
    if let Some(w) = stream.batch_window {
        props.insert("MaximumBatchingWindowInSeconds".to_owned(), json!(w));
    }
    if let Some(v) = &stream.maximum_retry_attempts {
        props.insert("MaximumRetryAttempts".to_owned(), v.clone());
    }
    if let Some(v) = stream.bisect_batch_on_function_error {
        props.insert("BisectBatchOnFunctionError".to_owned(), json!(v));
    }
    if let Some(t) = &stream.function_response_type {
        props.insert("FunctionResponseTypes".to_owned(), json!([t]));
    }
    if let Some(v) = stream
        .maximum_record_age_in_seconds
        .as_ref()
        .filter(|v| !v.is_null())
    {
        props.insert("MaximumRecordAgeInSeconds".to_owned(), v.clone());
    }
    if let Some(v) = stream.tumbling_window_in_seconds {
        props.insert("TumblingWindowInSeconds".to_owned(), json!(v));
    }
    props
}

/// `destinations.onFailure`: the destination, noted as an SNS topic or an SQS queue.
fn on_failure(
    destinations: &Value,
    path: &str,
    sources: &mut Sources,
) -> Result<Value, TemplateError> {
    let on_failure = destinations.get("onFailure").ok_or_else(|| {
        TemplateError::invalid(format!("{path}.destinations"), "\"onFailure\" is required")
    })?;
    let (destination, kind) = match on_failure {
        Value::String(s) => (json!(s), s.split(':').nth(2).unwrap_or_default().to_owned()),
        other => {
            let arn = other.get("arn").cloned().unwrap_or(Value::Null);
            let kind = other
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    arn.as_str()
                        .and_then(|a| a.split(':').nth(2))
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            (arn, kind)
        }
    };
    if kind == "sns" {
        sources.on_failure_sns.push(destination.clone());
    } else {
        sources.on_failure_sqs.push(destination.clone());
    }
    Ok(destination)
}

/// A Kinesis consumer: the mapping reads through it; with `consumer: true` the stack
/// creates it (returned as `(id, resource)`).
fn consumer(
    key: &str,
    stream: &StreamEvent,
    stream_name: &str,
    props: &mut Map<String, Value>,
    sources: &mut Sources,
) -> Option<(String, Value)> {
    let consumer = stream.consumer.clone().expect("checked by the caller");
    let mut created = None;
    if consumer == Value::Bool(true) {
        let consumer_name = format!("{key}{stream_name}Consumer");
        let consumer_id = format!("{}StreamConsumer", normalized_function_name(&consumer_name));
        created = Some((
            consumer_id.clone(),
            json!({"Type": "AWS::Kinesis::StreamConsumer",
                   "Properties": {"StreamARN": stream.arn, "ConsumerName": consumer_name}}),
        ));
        props.insert("EventSourceArn".to_owned(), json!({"Ref": consumer_id}));
        sources.consumers.push(json!({"Ref": consumer_id}));
    } else {
        props.insert("EventSourceArn".to_owned(), consumer.clone());
        sources.consumers.push(consumer);
    }
    if let Some(ts) = &stream.starting_position_timestamp {
        props.insert("StartingPositionTimestamp".to_owned(), ts.clone());
    }
    created
}

impl Sources {
    /// One statement per non-empty group.
    fn statements(self) -> Vec<Value> {
        let groups = [
            (
                self.dynamodb,
                json!([
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:DescribeStream",
                    "dynamodb:ListStreams"
                ]),
            ),
            (
                self.kinesis,
                json!([
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:DescribeStream",
                    "kinesis:ListStreams"
                ]),
            ),
            (
                self.kinesis_consumer_streams,
                json!([
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:ListShards"
                ]),
            ),
            (self.consumers, json!(["kinesis:SubscribeToShard"])),
            (self.on_failure_sns, json!(["sns:Publish"])),
            (
                self.on_failure_sqs,
                json!(["sqs:ListQueues", "sqs:SendMessage"]),
            ),
        ];
        groups
            .into_iter()
            .filter(|(resources, _)| !resources.is_empty())
            .map(|(resources, actions)| esm::allow(actions, resources))
            .collect()
    }
}
