//! API keys and usage plans (v3 `api-keys.js`, `usage-plan.js`, `usage-plan-keys.js`).

use serde_json::{Map, Value, json};

use crate::{Ctx, TemplateError};

pub(super) fn api_key_id(number: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!(
            "ApiGatewayApiKey{}{number}",
            crate::naming::upper_first(name)
        ),
        None => format!("ApiGatewayApiKey{number}"),
    }
}

pub(super) fn usage_plan_id(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("ApiGatewayUsagePlan{}", crate::naming::upper_first(name)),
        None => "ApiGatewayUsagePlan".to_owned(),
    }
}

/// `ApiGatewayApiKey*`, `ApiGatewayUsagePlan*`, `ApiGatewayUsagePlanKey*` (v3 `api-keys.js`,
/// `usage-plan.js`, `usage-plan-keys.js`).
pub(super) fn compile_api_keys_and_usage_plans(
    ctx: &mut Ctx,
    api_gateway: &deployer_config::model::ApiGatewayConfig,
    rest_api_id: &Value,
    deployment_id: &str,
) -> Result<(), TemplateError> {
    let api_keys = api_gateway.extra.get("apiKeys").and_then(Value::as_array);
    let usage_plan = api_gateway.extra.get("usagePlan").filter(|v| !v.is_null());
    if api_keys.is_none() && usage_plan.is_none() {
        return Ok(());
    }
    let plans: Vec<String> = match usage_plan {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|p| p.as_object().and_then(|o| o.keys().next().cloned()))
            .collect(),
        _ => Vec::new(),
    };
    let stage = ctx.stage.to_owned();
    let service = ctx.service.service.clone();

    // API keys: a key group named after a usage plan numbers its keys from 1 again.
    let key_resource = |key: &Value| -> Value {
        let (name, value, description, customer_id, enabled) = match key {
            Value::String(name) => (json!(name), None, None, None, json!(true)),
            other => (
                other.get("name").cloned().unwrap_or(Value::Null),
                other
                    .get("value")
                    .filter(|v| !v.is_null() && v != &&json!(""))
                    .cloned(),
                other.get("description").cloned(),
                other.get("customerId").cloned(),
                other
                    .get("enabled")
                    .filter(|v| !v.is_null())
                    .cloned()
                    .unwrap_or(json!(true)),
            ),
        };
        let mut props = Map::new();
        props.insert("Enabled".into(), enabled);
        props.insert("Name".into(), name);
        for (k, v) in [
            ("Value", value),
            ("Description", description),
            ("CustomerId", customer_id),
        ] {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                props.insert(k.into(), v);
            }
        }
        props.insert(
            "StageKeys".into(),
            json!([{"RestApiId": rest_api_id, "StageName": stage}]),
        );
        json!({"Type": "AWS::ApiGateway::ApiKey", "Properties": props, "DependsOn": deployment_id})
    };
    let group_of = |definition: &Value| -> Option<(String, Vec<Value>)> {
        let object = definition.as_object()?;
        let (name, keys) = object.iter().next()?;
        if !plans.contains(name) {
            return None;
        }
        Some((name.clone(), keys.as_array().cloned().unwrap_or_default()))
    };
    if let Some(keys) = api_keys {
        let mut number = 0;
        for definition in keys {
            if let Some((name, group)) = group_of(definition) {
                number = 0;
                for key in &group {
                    number += 1;
                    let resource = key_resource(key);
                    ctx.resources()
                        .insert(api_key_id(number, Some(&name)), resource);
                }
            } else {
                number += 1;
                let resource = key_resource(definition);
                ctx.resources().insert(api_key_id(number, None), resource);
            }
        }
    }

    // Usage plans: a list of named plans, or one default plan.
    let limits = |settings: Option<&Value>, resource: &mut Map<String, Value>| {
        let settings = settings.cloned().unwrap_or(Value::Null);
        let pick = |section: &str, fields: &[(&str, &str)]| -> Option<Value> {
            let section = settings.get(section)?.as_object()?;
            let out: Map<String, Value> = fields
                .iter()
                .filter_map(|(from, to)| section.get(*from).map(|v| ((*to).to_owned(), v.clone())))
                .collect();
            Some(Value::Object(out))
        };
        if let Some(q) = pick(
            "quota",
            &[
                ("limit", "Limit"),
                ("offset", "Offset"),
                ("period", "Period"),
            ],
        ) {
            resource.insert("Quota".into(), q);
        }
        if let Some(t) = pick(
            "throttle",
            &[("burstLimit", "BurstLimit"), ("rateLimit", "RateLimit")],
        ) {
            resource.insert("Throttle".into(), t);
        }
    };
    let api_stages = json!([{"ApiId": rest_api_id, "Stage": stage}]);
    match usage_plan {
        Some(Value::Array(items)) => {
            for name in &plans {
                let settings = items.iter().rev().find_map(|p| p.get(name.as_str()));
                let mut props = Map::new();
                props.insert("ApiStages".into(), api_stages.clone());
                props.insert(
                    "Description".into(),
                    json!(format!("Usage plan \"{name}\" for {service} {stage} stage")),
                );
                props.insert(
                    "UsagePlanName".into(),
                    json!(format!("{service}-{name}-{stage}")),
                );
                limits(settings, &mut props);
                ctx.resources().insert(
                    usage_plan_id(Some(name)),
                    json!({"Type": "AWS::ApiGateway::UsagePlan", "DependsOn": deployment_id, "Properties": props}),
                );
            }
        }
        other => {
            let mut props = Map::new();
            props.insert("ApiStages".into(), api_stages.clone());
            props.insert(
                "Description".into(),
                json!(format!("Usage plan for {service} {stage} stage")),
            );
            props.insert("UsagePlanName".into(), json!(format!("{service}-{stage}")));
            limits(other, &mut props);
            ctx.resources().insert(
                usage_plan_id(None),
                json!({"Type": "AWS::ApiGateway::UsagePlan", "DependsOn": deployment_id, "Properties": props}),
            );
        }
    }
    let plan_names: Vec<String> = if plans.is_empty() {
        vec!["default".to_owned()]
    } else {
        plans.clone()
    };

    if let Some(keys) = api_keys {
        let mut number = 0;
        for definition in keys {
            let group = definition.as_object().and_then(|o| o.iter().next());
            if let Some((name, value)) = group
                && (value.is_array() || value.is_object())
                && !plan_names.contains(name)
            {
                return Err(TemplateError::invalid(
                    "provider.apiGateway.apiKeys",
                    format!("API key \"{name}\" has no usage plan defined"),
                ));
            }
            let key_ref = |number: usize, name: Option<&str>| -> Value {
                json!({"Type": "AWS::ApiGateway::UsagePlanKey", "Properties": {
                    "KeyId": {"Ref": api_key_id(number, name)}, "KeyType": "API_KEY",
                    "UsagePlanId": {"Ref": usage_plan_id(name)}}})
            };
            if let Some((name, group)) = group_of(definition) {
                number = 0;
                for _ in &group {
                    number += 1;
                    let resource = key_ref(number, Some(&name));
                    ctx.resources().insert(
                        format!(
                            "ApiGatewayUsagePlanKey{}{number}",
                            crate::naming::upper_first(&name)
                        ),
                        resource,
                    );
                }
            } else {
                number += 1;
                let resource = key_ref(number, None);
                ctx.resources()
                    .insert(format!("ApiGatewayUsagePlanKey{number}"), resource);
            }
        }
    }
    Ok(())
}
