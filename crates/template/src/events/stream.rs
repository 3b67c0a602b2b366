//! `stream` events: DynamoDB and Kinesis (v3 `compile/events/stream.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use super::event_source_mapping::source_name;
use crate::naming::{normalize_alnum, normalized_function_name, upper_first};
use crate::{Ctx, TemplateError};

pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for (key, function) in &service.functions {
        let mut dynamodb = Vec::new();
        let mut kinesis = Vec::new();
        let mut kinesis_consumer_streams = Vec::new();
        let mut consumers = Vec::new();
        let mut on_failure_sns = Vec::new();
        let mut on_failure_sqs = Vec::new();
        for (i, event) in function.events.iter().enumerate() {
            let Event::Stream(stream) = event else {
                continue;
            };
            let path = format!("functions.{key}.events[{i}].stream");
            let arn = &stream.arn;
            let stream_type = match (&stream.stream_type, arn) {
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
            let stream_name = match arn {
                Value::String(s) => s.split('/').nth(1).unwrap_or_default().to_owned(),
                other if other.get("Fn::Join").is_some() => {
                    let name = source_name(other, &format!("{path}.arn"))?;
                    name.rsplit('/').next().unwrap_or(&name).to_owned()
                }
                other => source_name(other, &format!("{path}.arn"))?,
            };
            let logical_id = format!(
                "{}EventSourceMapping{}{}",
                normalized_function_name(key),
                upper_first(&stream_type),
                normalize_alnum(&stream_name)
            );
            let mut depends_on: Vec<Value> = ctx
                .function_role_resource(key)
                .into_iter()
                .chain(ctx.alias_id(key))
                .map(Value::String)
                .collect();
            let mut props = Map::new();
            props.insert(
                "BatchSize".to_owned(),
                json!(stream.batch_size.unwrap_or(10)),
            );
            props.insert("Enabled".to_owned(), json!(stream.enabled.unwrap_or(true)));
            props.insert("EventSourceArn".to_owned(), arn.clone());
            props.insert("FunctionName".to_owned(), ctx.lambda_arn(key));
            if let Some(p) = stream.parallelization_factor {
                props.insert("ParallelizationFactor".to_owned(), json!(p));
            }
            props.insert(
                "StartingPosition".to_owned(),
                json!(
                    stream
                        .starting_position
                        .as_deref()
                        .unwrap_or("TRIM_HORIZON")
                ),
            );
            let uses_consumer = stream
                .consumer
                .as_ref()
                .is_some_and(|c| !matches!(c, Value::Null | Value::Bool(false)));
            if stream_type == "dynamodb" {
                dynamodb.push(arn.clone());
            } else if uses_consumer {
                kinesis_consumer_streams.push(arn.clone());
            } else {
                kinesis.push(arn.clone());
            }
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
            if let Some(destinations) = &stream.destinations {
                let on_failure = destinations.get("onFailure").ok_or_else(|| {
                    TemplateError::invalid(
                        format!("{path}.destinations"),
                        "\"onFailure\" is required",
                    )
                })?;
                let (destination, kind) = match on_failure {
                    Value::String(s) => {
                        (json!(s), s.split(':').nth(2).unwrap_or_default().to_owned())
                    }
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
                    on_failure_sns.push(destination.clone());
                } else {
                    on_failure_sqs.push(destination.clone());
                }
                props.insert(
                    "DestinationConfig".to_owned(),
                    json!({"OnFailure": {"Destination": destination}}),
                );
            }
            if let Some(patterns) = &stream.filter_patterns {
                let filters: Vec<Value> = patterns
                    .iter()
                    .map(|p| json!({"Pattern": serde_json::to_string(p).expect("JSON")}))
                    .collect();
                props.insert("FilterCriteria".to_owned(), json!({"Filters": filters}));
            }
            let mut consumer_resource = None;
            if uses_consumer && stream_type == "kinesis" {
                let consumer = stream.consumer.clone().expect("checked above");
                if consumer == Value::Bool(true) {
                    let consumer_name = format!("{key}{stream_name}Consumer");
                    let consumer_id =
                        format!("{}StreamConsumer", normalized_function_name(&consumer_name));
                    consumer_resource = Some((
                        consumer_id.clone(),
                        json!({"Type": "AWS::Kinesis::StreamConsumer",
                               "Properties": {"StreamARN": arn, "ConsumerName": consumer_name}}),
                    ));
                    depends_on.push(json!(consumer_id));
                    props.insert("EventSourceArn".to_owned(), json!({"Ref": consumer_id}));
                    consumers.push(json!({"Ref": consumer_id}));
                } else {
                    props.insert("EventSourceArn".to_owned(), consumer.clone());
                    consumers.push(consumer);
                }
                if let Some(ts) = &stream.starting_position_timestamp {
                    props.insert("StartingPositionTimestamp".to_owned(), ts.clone());
                }
            }
            ctx.resources().insert(
                logical_id,
                json!({"Type": "AWS::Lambda::EventSourceMapping", "DependsOn": depends_on, "Properties": props}),
            );
            if let Some((id, resource)) = consumer_resource {
                ctx.resources().insert(id, resource);
            }
        }
        if let Some(statements) = ctx.role_statements() {
            let groups = [
                (
                    dynamodb,
                    json!([
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:DescribeStream",
                        "dynamodb:ListStreams"
                    ]),
                ),
                (
                    kinesis,
                    json!([
                        "kinesis:GetRecords",
                        "kinesis:GetShardIterator",
                        "kinesis:DescribeStream",
                        "kinesis:ListStreams"
                    ]),
                ),
                (
                    kinesis_consumer_streams,
                    json!([
                        "kinesis:GetRecords",
                        "kinesis:GetShardIterator",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:ListShards"
                    ]),
                ),
                (consumers, json!(["kinesis:SubscribeToShard"])),
                (on_failure_sns, json!(["sns:Publish"])),
                (on_failure_sqs, json!(["sqs:ListQueues", "sqs:SendMessage"])),
            ];
            for (resources, actions) in groups {
                if !resources.is_empty() {
                    statements
                        .push(json!({"Effect": "Allow", "Action": actions, "Resource": resources}));
                }
            }
        }
    }
    Ok(())
}
