//! `kafka` events: self-managed Apache Kafka event source mappings (v3 `kafka.js`).

use serde_json::{Map, Value, json};

use super::event_source_mapping as esm;
use super::settings::other_events;
use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

/// What a function's Kafka mappings need from its role.
#[derive(Default)]
struct Access {
    secrets: Vec<Value>,
    needs_ec2: bool,
}

/// Compiles every `kafka` event: one mapping per topic, then the secret and network
/// statements per function.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for key in service.functions.keys() {
        let mut access = Access::default();
        let mut has_kafka = false;
        for (i, event) in other_events(service, "kafka", key) {
            let path = format!("functions.{key}.events[{i}].kafka");
            let (id, resource) = mapping(ctx, key, event, &path, &mut access)?;
            has_kafka = true;
            ctx.resources().insert(id, resource);
        }
        if has_kafka && let Some(statements) = ctx.role_statements() {
            if !access.secrets.is_empty() {
                statements.push(esm::secrets_statement(access.secrets));
            }
            if access.needs_ec2 {
                statements.push(esm::ec2_statement());
            }
        }
    }
    Ok(())
}

/// `accessConfigurations`, checked: VPC subnets and security groups come together.
fn access_configurations<'a>(
    event: &'a Value,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, TemplateError> {
    let access = event
        .get("accessConfigurations")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            TemplateError::invalid(
                format!("{path}.accessConfigurations"),
                "a kafka event needs \"accessConfigurations\"",
            )
        })?;
    let (has_sg, has_subnet) = (
        access.contains_key("vpcSecurityGroup"),
        access.contains_key("vpcSubnet"),
    );
    if has_sg != has_subnet {
        let missing = if has_sg {
            "vpcSubnet"
        } else {
            "vpcSecurityGroup"
        };
        return Err(TemplateError::invalid(
            format!("{path}.accessConfigurations"),
            format!(
                "You must specify at least one \"{missing}\" accessConfiguration for function: {key}"
            ),
        ));
    }
    Ok(access)
}

/// `SourceAccessConfigurations`, noting the secrets and whether the source is in a VPC.
fn source_access(access: &Map<String, Value>, needs: &mut Access) -> Value {
    let mut configurations = Vec::new();
    for (kind, values) in access {
        let (kind, prefix, secret) = match kind.as_str() {
            "vpcSubnet" => ("VPC_SUBNET", "subnet:", false),
            "vpcSecurityGroup" => ("VPC_SECURITY_GROUP", "security_group:", false),
            "saslPlainAuth" => ("BASIC_AUTH", "", true),
            "saslScram256Auth" => ("SASL_SCRAM_256_AUTH", "", true),
            "saslScram512Auth" => ("SASL_SCRAM_512_AUTH", "", true),
            "clientCertificateTlsAuth" => ("CLIENT_CERTIFICATE_TLS_AUTH", "", true),
            "serverRootCaCertificate" => ("SERVER_ROOT_CA_CERTIFICATE", "", true),
            other => (other, "", false),
        };
        needs.needs_ec2 |= prefix.ends_with(':');
        for value in values.as_array().into_iter().flatten() {
            let text = value.as_str().unwrap_or_default();
            if secret {
                needs.secrets.push(value.clone());
            }
            configurations.push(json!({"Type": kind, "URI": format!("{prefix}{text}")}));
        }
    }
    Value::Array(configurations)
}

/// One event's mapping: its logical ID and the resource.
fn mapping(
    ctx: &Ctx,
    key: &str,
    event: &Value,
    path: &str,
    needs: &mut Access,
) -> Result<(String, Value), TemplateError> {
    let access = access_configurations(event, key, path)?;
    let topic = event.get("topic").and_then(Value::as_str).ok_or_else(|| {
        TemplateError::invalid(format!("{path}.topic"), "a kafka event needs \"topic\"")
    })?;
    let (position, timestamp) = esm::starting_position(event, key, path)?;
    let mut props = Map::new();
    props.insert("FunctionName".into(), ctx.lambda_arn(key));
    props.insert("StartingPosition".into(), position);
    props.insert(
        "SelfManagedEventSource".into(),
        json!({"Endpoints": {"KafkaBootstrapServers": event.get("bootstrapServers")}}),
    );
    props.insert("Topics".into(), json!([topic]));
    props.insert(
        "SourceAccessConfigurations".into(),
        source_access(access, needs),
    );
    esm::copy_batching(&mut props, event);
    esm::copy_unless(&mut props, event, "enabled", "Enabled", None);
    if let Some(v) = event
        .get("consumerGroupId")
        .filter(|v| !v.is_null() && v != &&json!(""))
    {
        props.insert(
            "SelfManagedKafkaEventSourceConfig".into(),
            json!({"ConsumerGroupId": v}),
        );
    }
    if let Some(ts) = timestamp {
        props.insert("StartingPositionTimestamp".into(), ts);
    }
    if let Some(patterns) = event.get("filterPatterns").and_then(Value::as_array) {
        props.insert("FilterCriteria".into(), esm::filter_criteria(patterns));
    }
    let topic_id: String = normalize_alnum(topic).chars().take(158).collect();
    let id = format!(
        "{}EventSourceMappingKafka{topic_id}",
        normalized_function_name(key)
    );
    Ok((id, esm::mapping(esm::depends_on(ctx, key), props)))
}
