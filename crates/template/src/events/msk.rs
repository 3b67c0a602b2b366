//! `msk` events: Amazon MSK event source mappings (v3 `msk/index.js`).

use serde_json::{Map, Value, json};

use super::event_source_mapping as esm;
use super::settings::other_events;
use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

/// Compiles every `msk` event: one mapping per cluster and topic, then the cluster and
/// network statements per function.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for key in service.functions.keys() {
        let mut cluster_arns = Vec::new();
        for (i, event) in other_events(service, "msk", key) {
            let path = format!("functions.{key}.events[{i}].msk");
            let (id, resource, arn) = mapping(ctx, key, event, &path)?;
            cluster_arns.push(arn);
            ctx.resources().insert(id, resource);
        }
        if !cluster_arns.is_empty()
            && let Some(statements) = ctx.role_statements()
        {
            statements.push(esm::allow(
                json!(["kafka:DescribeCluster", "kafka:GetBootstrapBrokers"]),
                cluster_arns,
            ));
            statements.push(esm::ec2_statement());
        }
    }
    Ok(())
}

/// The cluster name in the mapping's logical ID.
fn cluster_name(arn: &Value, path: &str) -> Result<String, TemplateError> {
    if let Some(import) = arn.get("Fn::ImportValue").and_then(Value::as_str) {
        Ok(import.to_owned())
    } else if let Some(r) = arn.get("Ref").and_then(Value::as_str) {
        Ok(r.to_owned())
    } else if let Some(s) = arn.as_str() {
        Ok(s.split('/').nth(1).unwrap_or_default().to_owned())
    } else {
        Err(TemplateError::invalid(
            format!("{path}.arn"),
            "expected an ARN, Ref or Fn::ImportValue",
        ))
    }
}

/// One event's mapping: its logical ID, the resource and the cluster ARN.
fn mapping(
    ctx: &Ctx,
    key: &str,
    event: &Value,
    path: &str,
) -> Result<(String, Value, Value), TemplateError> {
    let arn = event.get("arn").cloned().ok_or_else(|| {
        TemplateError::invalid(format!("{path}.arn"), "an msk event needs \"arn\"")
    })?;
    let topic = event.get("topic").and_then(Value::as_str).ok_or_else(|| {
        TemplateError::invalid(format!("{path}.topic"), "an msk event needs \"topic\"")
    })?;
    let cluster = cluster_name(&arn, path)?;
    let (position, timestamp) = esm::starting_position(event, key, path)?;
    let mut props = Map::new();
    props.insert("EventSourceArn".into(), arn.clone());
    props.insert("FunctionName".into(), ctx.lambda_arn(key));
    props.insert("StartingPosition".into(), position);
    props.insert("Topics".into(), json!([topic]));
    if let Some(ts) = timestamp {
        props.insert("StartingPositionTimestamp".into(), ts);
    }
    esm::copy_batching(&mut props, event);
    if let Some(v) = event
        .get("consumerGroupId")
        .filter(|v| !v.is_null() && v != &&json!(""))
    {
        props.insert(
            "AmazonManagedKafkaEventSourceConfig".into(),
            json!({"ConsumerGroupId": v}),
        );
    }
    esm::copy_unless(&mut props, event, "enabled", "Enabled", None);
    if let Some(v) = event.get("saslScram512").filter(|v| !v.is_null()) {
        props.insert(
            "SourceAccessConfigurations".into(),
            json!([{"Type": "SASL_SCRAM_512_AUTH", "URI": v}]),
        );
    }
    if let Some(patterns) = event.get("filterPatterns").and_then(Value::as_array) {
        props.insert("FilterCriteria".into(), esm::filter_criteria(patterns));
    }
    let cluster_id: String = normalize_alnum(&cluster).chars().take(79).collect();
    let topic_id: String = normalize_alnum(topic).chars().take(79).collect();
    let id = format!(
        "{}EventSourceMappingMSK{cluster_id}{topic_id}",
        normalized_function_name(key)
    );
    Ok((id, esm::mapping(esm::depends_on(ctx, key), props), arn))
}
