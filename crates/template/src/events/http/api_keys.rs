//! API keys and usage plans (v3 `api-keys.js`, `usage-plan.js`, `usage-plan-keys.js`).

use serde_json::{Map, Value, json};

use crate::{Ctx, TemplateError};

/// `ApiGatewayApiKey[<Plan>]<n>`.
pub(super) fn api_key_id(number: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!(
            "ApiGatewayApiKey{}{number}",
            crate::naming::upper_first(name)
        ),
        None => format!("ApiGatewayApiKey{number}"),
    }
}

/// `ApiGatewayUsagePlan[<Plan>]`.
pub(super) fn usage_plan_id(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("ApiGatewayUsagePlan{}", crate::naming::upper_first(name)),
        None => "ApiGatewayUsagePlan".to_owned(),
    }
}

/// What every key and plan resource refers to.
struct Plans<'a> {
    rest_api_id: &'a Value,
    deployment_id: &'a str,
    stage: String,
    service: String,
    /// The names of `usagePlan` given as a list of named plans.
    names: Vec<String>,
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
    let plans = Plans {
        rest_api_id,
        deployment_id,
        stage: ctx.stage.to_owned(),
        service: ctx.service.service.clone(),
        names: match usage_plan {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|p| p.as_object().and_then(|o| o.keys().next().cloned()))
                .collect(),
            _ => Vec::new(),
        },
    };
    if let Some(keys) = api_keys {
        compile_api_keys(ctx, &plans, keys);
    }
    compile_usage_plans(ctx, &plans, usage_plan);
    if let Some(keys) = api_keys {
        compile_usage_plan_keys(ctx, &plans, keys)?;
    }
    Ok(())
}

impl Plans<'_> {
    /// A key group named after a usage plan: its name and keys.
    fn group_of(&self, definition: &Value) -> Option<(String, Vec<Value>)> {
        let object = definition.as_object()?;
        let (name, keys) = object.iter().next()?;
        if !self.names.contains(name) {
            return None;
        }
        Some((name.clone(), keys.as_array().cloned().unwrap_or_default()))
    }

    /// Every key's number and group: keys of a group are numbered from 1 again.
    fn numbered_keys(&self, keys: &[Value]) -> Vec<(usize, Option<String>, Value)> {
        let mut out = Vec::new();
        let mut number = 0;
        for definition in keys {
            if let Some((name, group)) = self.group_of(definition) {
                number = 0;
                for key in group {
                    number += 1;
                    out.push((number, Some(name.clone()), key));
                }
            } else {
                number += 1;
                out.push((number, None, definition.clone()));
            }
        }
        out
    }
}

/// `ApiGatewayApiKey[<Plan>]<n>` for every key.
fn compile_api_keys(ctx: &mut Ctx, plans: &Plans, keys: &[Value]) {
    for (number, group, key) in plans.numbered_keys(keys) {
        let resource = api_key(plans, &key);
        ctx.resources()
            .insert(api_key_id(number, group.as_deref()), resource);
    }
}

/// One API key: a name, or settings.
fn api_key(plans: &Plans, key: &Value) -> Value {
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
        json!([{"RestApiId": plans.rest_api_id, "StageName": plans.stage}]),
    );
    json!({"Type": "AWS::ApiGateway::ApiKey", "Properties": props, "DependsOn": plans.deployment_id})
}

/// `ApiGatewayUsagePlan<Name>` for every named plan, or one default `ApiGatewayUsagePlan`.
fn compile_usage_plans(ctx: &mut Ctx, plans: &Plans, usage_plan: Option<&Value>) {
    let (service, stage) = (&plans.service, &plans.stage);
    if let Some(Value::Array(items)) = usage_plan {
        for name in &plans.names {
            let settings = items.iter().rev().find_map(|p| p.get(name.as_str()));
            let resource = usage_plan_resource(
                plans,
                format!("Usage plan \"{name}\" for {service} {stage} stage"),
                format!("{service}-{name}-{stage}"),
                settings,
            );
            ctx.resources().insert(usage_plan_id(Some(name)), resource);
        }
        return;
    }
    let resource = usage_plan_resource(
        plans,
        format!("Usage plan for {service} {stage} stage"),
        format!("{service}-{stage}"),
        usage_plan,
    );
    ctx.resources().insert(usage_plan_id(None), resource);
}

/// One usage plan on the API's stage, with its quota and throttle.
fn usage_plan_resource(
    plans: &Plans,
    description: String,
    name: String,
    settings: Option<&Value>,
) -> Value {
    let mut props = Map::new();
    props.insert(
        "ApiStages".into(),
        json!([{"ApiId": plans.rest_api_id, "Stage": plans.stage}]),
    );
    props.insert("Description".into(), json!(description));
    props.insert("UsagePlanName".into(), json!(name));
    let pick = |section: &str, fields: &[(&str, &str)]| -> Option<Value> {
        let section = settings?.get(section)?.as_object()?;
        let out: Map<String, Value> = fields
            .iter()
            .filter_map(|(from, to)| section.get(*from).map(|v| ((*to).to_owned(), v.clone())))
            .collect();
        Some(Value::Object(out))
    };
    let quota = [
        ("limit", "Limit"),
        ("offset", "Offset"),
        ("period", "Period"),
    ];
    if let Some(q) = pick("quota", &quota) {
        props.insert("Quota".into(), q);
    }
    let throttle = [("burstLimit", "BurstLimit"), ("rateLimit", "RateLimit")];
    if let Some(t) = pick("throttle", &throttle) {
        props.insert("Throttle".into(), t);
    }
    json!({"Type": "AWS::ApiGateway::UsagePlan", "DependsOn": plans.deployment_id, "Properties": props})
}

/// `ApiGatewayUsagePlanKey[<Plan>]<n>`: every key joins its group's plan, or the default one.
fn compile_usage_plan_keys(
    ctx: &mut Ctx,
    plans: &Plans,
    keys: &[Value],
) -> Result<(), TemplateError> {
    let plan_names: Vec<String> = if plans.names.is_empty() {
        vec!["default".to_owned()]
    } else {
        plans.names.clone()
    };
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
    }
    for (number, group, _) in plans.numbered_keys(keys) {
        let name = group.as_deref();
        let id = match name {
            Some(name) => format!(
                "ApiGatewayUsagePlanKey{}{number}",
                crate::naming::upper_first(name)
            ),
            None => format!("ApiGatewayUsagePlanKey{number}"),
        };
        ctx.resources().insert(
            id,
            json!({"Type": "AWS::ApiGateway::UsagePlanKey", "Properties": {
                "KeyId": {"Ref": api_key_id(number, name)}, "KeyType": "API_KEY",
                "UsagePlanId": {"Ref": usage_plan_id(name)}}}),
        );
    }
    Ok(())
}
