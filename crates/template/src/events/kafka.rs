//! `msk` and `kafka` (self-managed) event source mappings (v3 `msk/index.js`, `kafka.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

fn ec2_statement() -> Value {
    json!({"Effect": "Allow", "Action": [
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
        "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
        "Resource": "*"})
}

fn events_of<'a>(
    ctx: &'a Ctx,
    kind: &'a str,
    key: &'a str,
) -> impl Iterator<Item = (usize, &'a Value)> + 'a {
    ctx.service.functions[key]
        .events
        .iter()
        .enumerate()
        .filter_map(move |(i, e)| match e {
            Event::Other(k, v) if k == kind => Some((i, v)),
            _ => None,
        })
}

fn starting_position(
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

fn filters(event: &Value) -> Option<Value> {
    let patterns = event.get("filterPatterns")?.as_array()?;
    let filters: Vec<Value> = patterns
        .iter()
        .map(|p| json!({"Pattern": serde_json::to_string(p).expect("JSON")}))
        .collect();
    Some(json!({"Filters": filters}))
}

fn depends_on(ctx: &Ctx, key: &str) -> Value {
    Value::Array(
        ctx.function_role_resource(key)
            .into_iter()
            .chain(ctx.alias_id(key))
            .map(Value::String)
            .collect(),
    )
}

pub fn compile_msk(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let keys: Vec<String> = ctx.service.functions.keys().cloned().collect();
    for key in &keys {
        let mut cluster_arns = Vec::new();
        let mut resources = Vec::new();
        for (i, event) in events_of(ctx, "msk", key) {
            let path = format!("functions.{key}.events[{i}].msk");
            let arn = event.get("arn").cloned().ok_or_else(|| {
                TemplateError::invalid(format!("{path}.arn"), "an msk event needs \"arn\"")
            })?;
            let topic = event.get("topic").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::invalid(format!("{path}.topic"), "an msk event needs \"topic\"")
            })?;
            let cluster = if let Some(import) = arn.get("Fn::ImportValue").and_then(Value::as_str) {
                import.to_owned()
            } else if let Some(r) = arn.get("Ref").and_then(Value::as_str) {
                r.to_owned()
            } else if let Some(s) = arn.as_str() {
                s.split('/').nth(1).unwrap_or_default().to_owned()
            } else {
                return Err(TemplateError::invalid(
                    format!("{path}.arn"),
                    "expected an ARN, Ref or Fn::ImportValue",
                ));
            };
            let (position, timestamp) = starting_position(event, key, &path)?;
            let cluster_id: String = normalize_alnum(&cluster).chars().take(79).collect();
            let topic_id: String = normalize_alnum(topic).chars().take(79).collect();
            let mut props = Map::new();
            props.insert("EventSourceArn".into(), arn.clone());
            props.insert("FunctionName".into(), ctx.lambda_arn(key));
            props.insert("StartingPosition".into(), position);
            props.insert("Topics".into(), json!([topic]));
            if let Some(ts) = timestamp {
                props.insert("StartingPositionTimestamp".into(), ts);
            }
            if let Some(v) = event
                .get("batchSize")
                .filter(|v| !v.is_null() && v != &&json!(0))
            {
                props.insert("BatchSize".into(), v.clone());
            }
            if let Some(v) = event
                .get("maximumBatchingWindow")
                .filter(|v| !v.is_null() && v != &&json!(0))
            {
                props.insert("MaximumBatchingWindowInSeconds".into(), v.clone());
            }
            if let Some(v) = event
                .get("consumerGroupId")
                .filter(|v| !v.is_null() && v != &&json!(""))
            {
                props.insert(
                    "AmazonManagedKafkaEventSourceConfig".into(),
                    json!({"ConsumerGroupId": v}),
                );
            }
            if let Some(v) = event.get("enabled").filter(|v| !v.is_null()) {
                props.insert("Enabled".into(), v.clone());
            }
            if let Some(v) = event.get("saslScram512").filter(|v| !v.is_null()) {
                props.insert(
                    "SourceAccessConfigurations".into(),
                    json!([{"Type": "SASL_SCRAM_512_AUTH", "URI": v}]),
                );
            }
            if let Some(f) = filters(event) {
                props.insert("FilterCriteria".into(), f);
            }
            cluster_arns.push(arn);
            resources.push((
                format!("{}EventSourceMappingMSK{cluster_id}{topic_id}", normalized_function_name(key)),
                json!({"Type": "AWS::Lambda::EventSourceMapping", "DependsOn": depends_on(ctx, key), "Properties": props}),
            ));
        }
        for (id, resource) in resources {
            ctx.resources().insert(id, resource);
        }
        if !cluster_arns.is_empty()
            && let Some(statements) = ctx.role_statements()
        {
            statements.push(json!({"Effect": "Allow", "Action": ["kafka:DescribeCluster", "kafka:GetBootstrapBrokers"], "Resource": cluster_arns}));
            statements.push(ec2_statement());
        }
    }
    Ok(())
}

pub fn compile_kafka(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let keys: Vec<String> = ctx.service.functions.keys().cloned().collect();
    for key in &keys {
        let mut secrets = Vec::new();
        let mut needs_ec2 = false;
        let mut has_kafka = false;
        let mut resources = Vec::new();
        for (i, event) in events_of(ctx, "kafka", key) {
            let path = format!("functions.{key}.events[{i}].kafka");
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
            has_kafka = true;
            let topic = event.get("topic").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::invalid(format!("{path}.topic"), "a kafka event needs \"topic\"")
            })?;
            let (position, timestamp) = starting_position(event, key, &path)?;
            let mut props = Map::new();
            props.insert("FunctionName".into(), ctx.lambda_arn(key));
            props.insert("StartingPosition".into(), position);
            props.insert(
                "SelfManagedEventSource".into(),
                json!({"Endpoints": {"KafkaBootstrapServers": event.get("bootstrapServers")}}),
            );
            props.insert("Topics".into(), json!([topic]));
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
                needs_ec2 |= prefix.ends_with(':');
                for value in values.as_array().into_iter().flatten() {
                    let text = value.as_str().unwrap_or_default();
                    if secret {
                        secrets.push(value.clone());
                    }
                    configurations.push(json!({"Type": kind, "URI": format!("{prefix}{text}")}));
                }
            }
            props.insert(
                "SourceAccessConfigurations".into(),
                Value::Array(configurations),
            );
            if let Some(v) = event
                .get("batchSize")
                .filter(|v| !v.is_null() && v != &&json!(0))
            {
                props.insert("BatchSize".into(), v.clone());
            }
            if let Some(v) = event
                .get("maximumBatchingWindow")
                .filter(|v| !v.is_null() && v != &&json!(0))
            {
                props.insert("MaximumBatchingWindowInSeconds".into(), v.clone());
            }
            if let Some(v) = event.get("enabled").filter(|v| !v.is_null()) {
                props.insert("Enabled".into(), v.clone());
            }
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
            if let Some(f) = filters(event) {
                props.insert("FilterCriteria".into(), f);
            }
            let topic_id: String = normalize_alnum(topic).chars().take(158).collect();
            resources.push((
                format!("{}EventSourceMappingKafka{topic_id}", normalized_function_name(key)),
                json!({"Type": "AWS::Lambda::EventSourceMapping", "DependsOn": depends_on(ctx, key), "Properties": props}),
            ));
        }
        for (id, resource) in resources {
            ctx.resources().insert(id, resource);
        }
        if has_kafka && let Some(statements) = ctx.role_statements() {
            if !secrets.is_empty() {
                statements.push(json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets}));
            }
            if needs_ec2 {
                statements.push(ec2_statement());
            }
        }
    }
    Ok(())
}
