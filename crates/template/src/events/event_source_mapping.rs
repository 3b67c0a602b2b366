//! What the event-source-mapping plugins (sqs, stream, kafka, msk, activemq, rabbitmq) share:
//! the mapping resource and its dependencies, the optional settings they copy the same way,
//! and the IAM statements they add.

use serde_json::{Map, Value, json};

use crate::{Ctx, TemplateError};

/// `{Type: AWS::Lambda::EventSourceMapping, DependsOn, Properties}`.
pub fn mapping(depends_on: Vec<Value>, properties: Map<String, Value>) -> Value {
    json!({"Type": "AWS::Lambda::EventSourceMapping", "DependsOn": depends_on, "Properties": properties})
}

/// A mapping waits for the function's role (its permissions are checked on creation) and for
/// the alias it targets.
pub fn depends_on(ctx: &Ctx, key: &str) -> Vec<Value> {
    ctx.function_role_resource(key)
        .into_iter()
        .chain(ctx.alias_id(key))
        .map(Value::String)
        .collect()
}

/// `FilterCriteria`: each pattern as a JSON string.
pub fn filter_criteria(patterns: &[Value]) -> Value {
    let filters: Vec<Value> = patterns
        .iter()
        .map(|p| json!({"Pattern": serde_json::to_string(p).expect("JSON")}))
        .collect();
    json!({"Filters": filters})
}

/// Copies `event[name]` to `props[prop]` unless it is absent, `null` or equal to `unset`
/// (v3 tests these settings for truthiness, so `0` and `""` mean "not set").
pub fn copy_unless(
    props: &mut Map<String, Value>,
    event: &Value,
    name: &str,
    prop: &str,
    unset: Option<Value>,
) {
    if let Some(v) = event
        .get(name)
        .filter(|v| !v.is_null() && Some(*v) != unset.as_ref())
    {
        props.insert(prop.into(), v.clone());
    }
}

/// `batchSize` and `maximumBatchingWindow` of the broker and Kafka mappings.
pub fn copy_batching(props: &mut Map<String, Value>, event: &Value) {
    copy_unless(props, event, "batchSize", "BatchSize", Some(json!(0)));
    copy_unless(
        props,
        event,
        "maximumBatchingWindow",
        "MaximumBatchingWindowInSeconds",
        Some(json!(0)),
    );
}

/// `event[name]`, or the error naming the missing setting.
pub fn required(event: &Value, name: &str, path: &str, kind: &str) -> Result<Value, TemplateError> {
    event
        .get(name)
        .filter(|v| !v.is_null())
        .cloned()
        .ok_or_else(|| {
            TemplateError::invalid(
                format!("{path}.{name}"),
                format!("a {kind} event needs \"{name}\""),
            )
        })
}

/// `startingPosition` (default `TRIM_HORIZON`) and `startingPositionTimestamp` of a Kafka or
/// MSK event; `AT_TIMESTAMP` needs the timestamp.
pub fn starting_position(
    event: &Value,
    key: &str,
    path: &str,
) -> Result<(Value, Option<Value>), TemplateError> {
    let position = event
        .get("startingPosition")
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or(json!("TRIM_HORIZON"));
    let timestamp = event
        .get("startingPositionTimestamp")
        .filter(|v| !v.is_null())
        .cloned();
    if position == "AT_TIMESTAMP" && timestamp.is_none() {
        return Err(TemplateError::invalid(
            path,
            format!(
                "You must specify startingPositionTimestamp for function: {key} when startingPosition is AT_TIMESTAMP."
            ),
        ));
    }
    Ok((position, timestamp))
}

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

/// An `Allow` statement.
pub fn allow(actions: Value, resource: impl Into<Value>) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource.into()})
}

/// Reading the secrets that hold a broker's or cluster's credentials.
pub fn secrets_statement(secrets: Vec<Value>) -> Value {
    allow(json!(["secretsmanager:GetSecretValue"]), secrets)
}

/// The network interfaces Lambda creates to reach a source inside a VPC.
pub fn ec2_statement() -> Value {
    allow(
        json!([
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeVpcs",
            "ec2:DeleteNetworkInterface",
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups"
        ]),
        "*",
    )
}
