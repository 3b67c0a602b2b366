//! `activemq`, `rabbitmq`, `alexaSmartHome` and `iotFleetProvisioning` events (v3
//! `activemq.js`, `rabbitmq.js`, `alexa-smart-home.js`, `iot-fleet-provisioning.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

fn events_of<'a>(ctx: &'a Ctx, kind: &'a str, key: &'a str) -> Vec<(usize, Value)> {
    ctx.service.functions[key]
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::Other(k, v) if k == kind => Some((i, v.clone())),
            _ => None,
        })
        .collect()
}

/// `activemq` (`rabbitmq == false`) and `rabbitmq` event source mappings.
pub fn compile_mq(ctx: &mut Ctx, rabbitmq: bool) -> Result<(), TemplateError> {
    let kind = if rabbitmq { "rabbitmq" } else { "activemq" };
    let id_kind = if rabbitmq { "RabbitMQ" } else { "ActiveMQ" };
    let keys: Vec<String> = ctx.service.functions.keys().cloned().collect();
    for key in &keys {
        let events = events_of(ctx, kind, key);
        if events.is_empty() {
            continue;
        }
        let mut brokers = Vec::new();
        let mut secrets = Vec::new();
        for (i, event) in &events {
            let path = format!("functions.{key}.events[{i}].{kind}");
            let field = |name: &str| -> Result<Value, TemplateError> {
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
            };
            let (arn, auth, queue) = (field("arn")?, field("basicAuthArn")?, field("queue")?);
            let mut access = vec![json!({"Type": "BASIC_AUTH", "URI": auth})];
            if rabbitmq
                && let Some(host) = event
                    .get("virtualHost")
                    .filter(|v| !v.is_null() && v != &&json!(""))
            {
                access.push(json!({"Type": "VIRTUAL_HOST", "URI": host}));
            }
            let mut props = Map::new();
            props.insert("FunctionName".into(), ctx.lambda_arn(key));
            props.insert("EventSourceArn".into(), arn.clone());
            props.insert("Queues".into(), json!([queue]));
            props.insert("SourceAccessConfigurations".into(), Value::Array(access));
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
            if let Some(patterns) = event.get("filterPatterns").and_then(Value::as_array) {
                let filters: Vec<Value> = patterns
                    .iter()
                    .map(|p| json!({"Pattern": serde_json::to_string(p).expect("JSON")}))
                    .collect();
                props.insert("FilterCriteria".into(), json!({"Filters": filters}));
            }
            let depends_on: Vec<Value> = ctx
                .function_role_resource(key)
                .into_iter()
                .chain(ctx.alias_id(key))
                .map(Value::String)
                .collect();
            let queue_id: String = normalize_alnum(queue.as_str().unwrap_or_default())
                .chars()
                .take(150)
                .collect();
            brokers.push(arn);
            secrets.push(auth);
            ctx.resources().insert(
                format!("{}EventSourceMapping{id_kind}{queue_id}", normalized_function_name(key)),
                json!({"Type": "AWS::Lambda::EventSourceMapping", "DependsOn": depends_on, "Properties": props}),
            );
        }
        if let Some(statements) = ctx.role_statements() {
            statements.push(json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets}));
            statements.push(
                json!({"Effect": "Allow", "Action": ["mq:DescribeBroker"], "Resource": brokers}),
            );
            statements.push(json!({"Effect": "Allow", "Action": [
                "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
                "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
                "Resource": "*"}));
        }
    }
    Ok(())
}

pub fn compile_alexa_smart_home(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let keys: Vec<String> = ctx.service.functions.keys().cloned().collect();
    for key in &keys {
        for (n, (i, event)) in events_of(ctx, "alexaSmartHome", key)
            .into_iter()
            .enumerate()
        {
            let (token, enabled) = match &event {
                Value::String(s) => (s.clone(), true),
                Value::Object(o) => (
                    o.get("appId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    o.get("enabled") != Some(&Value::Bool(false)),
                ),
                _ => {
                    return Err(TemplateError::invalid(
                        format!("functions.{key}.events[{i}].alexaSmartHome"),
                        "expected an app ID or alexaSmartHome settings",
                    ));
                }
            };
            let alias = ctx.alias_id(key).map(Value::String);
            let target = ctx.lambda_arn(key);
            ctx.resources().insert(
                format!("{}LambdaPermissionAlexaSmartHome{}", normalized_function_name(key), n + 1),
                crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                    "FunctionName": target,
                    "Action": if enabled { "lambda:InvokeFunction" } else { "lambda:DisableInvokeFunction" },
                    "Principal": "alexa-connectedhome.amazon.com",
                    "EventSourceToken": token.replace("\\n", "").replace("\\r", "")})),
            );
        }
    }
    Ok(())
}

pub fn compile_iot_fleet_provisioning(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let keys: Vec<String> = ctx.service.functions.keys().cloned().collect();
    for key in &keys {
        let events = events_of(ctx, "iotFleetProvisioning", key);
        if events.len() > 1 {
            return Err(TemplateError::invalid(
                format!("functions.{key}.events"),
                format!("Found more than one iotFleetProvision event for function {key}"),
            ));
        }
        let Some((i, event)) = events.into_iter().next() else {
            continue;
        };
        let path = format!("functions.{key}.events[{i}].iotFleetProvisioning");
        let fn_id = normalized_function_name(key);
        let permission_id = format!("{fn_id}LambdaPermissionIotProvisioningTemplate");
        let body = event
            .get("templateBody")
            .filter(|v| v.is_object())
            .ok_or_else(|| {
                TemplateError::invalid(
                    format!("{path}.templateBody"),
                    "an iotFleetProvisioning event needs \"templateBody\"",
                )
            })?;
        let mut props = Map::new();
        props.insert(
            "Enabled".into(),
            event
                .get("enabled")
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or(json!(true)),
        );
        props.insert(
            "PreProvisioningHook".into(),
            json!({"TargetArn": ctx.lambda_arn(key)}),
        );
        props.insert(
            "ProvisioningRoleArn".into(),
            event
                .get("provisioningRoleArn")
                .cloned()
                .unwrap_or(Value::Null),
        );
        props.insert(
            "TemplateBody".into(),
            json!(serde_json::to_string(body).expect("JSON")),
        );
        if let Some(name) = event
            .get("templateName")
            .filter(|v| !v.is_null() && v != &&json!(""))
        {
            props.insert("TemplateName".into(), name.clone());
        }
        let depends_on: Vec<Value> = std::iter::once(permission_id.clone())
            .chain(ctx.alias_id(key))
            .map(Value::String)
            .collect();
        let alias = ctx.alias_id(key).map(Value::String);
        let target = ctx.lambda_arn(key);
        ctx.resources().insert(
            format!("{fn_id}IotProvisioningTemplate"),
            json!({"Type": "AWS::IoT::ProvisioningTemplate", "Properties": props, "DependsOn": depends_on}),
        );
        ctx.resources().insert(
            permission_id,
            crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                "FunctionName": target, "Action": "lambda:InvokeFunction", "Principal": "iot.amazonaws.com"})),
        );
    }
    Ok(())
}
