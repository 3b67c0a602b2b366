//! `alb` events: Application Load Balancer target groups and listener rules (v3
//! `compile/events/alb/*`).

use deployer_config::model::Event;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

struct AlbEvent<'a> {
    function: &'a str,
    alb_id: String,
    listener_id: String,
    listener_arn: Value,
    priority: Value,
    conditions: Map<String, Value>,
    multi_value_headers: bool,
    target_group_name: Option<String>,
    authorizers: Vec<String>,
    health_check: Option<Value>,
}

/// `arn:aws…:elasticloadbalancing:…:listener/app/<name>/<albId>/<listenerId>`.
fn parse_listener(arn: &Value, path: &str, key: &str) -> Result<(String, String), TemplateError> {
    if let Some(r) = arn.get("Ref").and_then(Value::as_str) {
        return Ok((r.to_owned(), r.to_owned()));
    }
    let invalid = || {
        TemplateError::invalid(
            path,
            format!("Invalid ALB listenerArn in function \"{key}\"."),
        )
    };
    let text = arn.as_str().ok_or_else(invalid)?;
    let valid_prefix = text.starts_with("arn:aws") && text.contains(":elasticloadbalancing:");
    let (_, rest) = text.split_once(":listener/app/").ok_or_else(invalid)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !valid_prefix || parts.len() != 3 || !parts.iter().all(|p| word(p)) {
        return Err(invalid());
    }
    Ok((parts[1].to_owned(), parts[2].to_owned()))
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let provider_alb = service
        .provider
        .extra
        .get("alb")
        .cloned()
        .unwrap_or(Value::Null);
    let prefix = provider_alb
        .get("targetGroupPrefix")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let authorizers = provider_alb
        .get("authorizers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut events = Vec::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let Event::Other(kind, value) = event else {
                continue;
            };
            if kind != "alb" {
                continue;
            }
            let path = format!("functions.{key}.events[{i}].alb");
            let listener_arn = value.get("listenerArn").cloned().unwrap_or(Value::Null);
            let (alb_id, listener_id) =
                parse_listener(&listener_arn, &format!("{path}.listenerArn"), key)?;
            let conditions = value
                .get("conditions")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if conditions.is_empty() {
                return Err(TemplateError::invalid(
                    format!("{path}.conditions"),
                    format!(
                        "Cannot setup \"alb\" event in \"{key}\" function: At least one condition must be defined"
                    ),
                ));
            }
            let target_group_name = value
                .get("targetGroupName")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if target_group_name.is_some() && !prefix.is_empty() {
                return Err(TemplateError::invalid(
                    format!("{path}.targetGroupName"),
                    "ALB \"targetGroupName\" setting is exclusive with \"provider.alb.targetGroupPrefix\": Please specify only one.",
                ));
            }
            let event_authorizers: Vec<String> = value
                .get("authorizer")
                .map(as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            for name in &event_authorizers {
                if !authorizers.contains_key(name) {
                    return Err(TemplateError::invalid(
                        format!("{path}.authorizer"),
                        format!(
                            "No match for \"{name}\" in function \"{key}\" found in registered ALB authorizers"
                        ),
                    ));
                }
            }
            let health_check = match value.get("healthCheck") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => None,
                Some(Value::Object(o)) => {
                    let mut o = o.clone();
                    o.insert("enabled".into(), json!(true));
                    Some(Value::Object(o))
                }
                Some(_) => Some(json!({"enabled": true})),
            };
            events.push(AlbEvent {
                function: key,
                alb_id,
                listener_id,
                listener_arn,
                priority: value.get("priority").cloned().unwrap_or(Value::Null),
                conditions,
                multi_value_headers: value.get("multiValueHeaders") == Some(&Value::Bool(true)),
                target_group_name,
                authorizers: event_authorizers,
                health_check,
            });
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    for (i, a) in events.iter().enumerate() {
        for b in &events[..i] {
            if a.priority != b.priority {
                continue;
            }
            if a.function == b.function && a.listener_id != b.listener_id {
                return Err(TemplateError::invalid(
                    format!("functions.{}.events", a.function),
                    format!(
                        "ALB event in function \"{}\" cannot use priority \"{}\" because it is already in use.\n  Events in the same function cannot use the same priority even if they have a different listenerArn.",
                        a.function, a.priority
                    ),
                ));
            }
            if a.function != b.function && a.listener_id == b.listener_id {
                return Err(TemplateError::invalid(
                    format!("functions.{}.events", a.function),
                    format!(
                        "ALB event in function \"{}\" cannot use priority \"{}\" because it is already in use.",
                        a.function, a.priority
                    ),
                ));
            }
        }
    }

    let stage = ctx.stage.to_owned();
    let target_group_id = |e: &AlbEvent| {
        format!(
            "{}Alb{}TargetGroup{}",
            normalized_function_name(e.function),
            if e.multi_value_headers {
                "MultiValue"
            } else {
                ""
            },
            e.alb_id
        )
    };
    let tag_value = |e: &AlbEvent, multi: bool| {
        format!(
            "{}-{}-{}-{}{stage}",
            service.service,
            e.function,
            e.alb_id,
            if multi { "multi-value-" } else { "" }
        )
    };
    for e in &events {
        let name = e.target_group_name.clone().unwrap_or_else(|| {
            let hash = hex::encode(Md5::digest(tag_value(e, e.multi_value_headers).as_bytes()));
            format!("{prefix}{hash}").chars().take(32).collect()
        });
        let mut props = Map::new();
        props.insert("TargetType".into(), json!("lambda"));
        props.insert(
            "Targets".into(),
            json!([{"Id": ctx.lambda_arn(e.function)}]),
        );
        props.insert("Name".into(), json!(name));
        props.insert(
            "Tags".into(),
            json!([{"Key": "Name", "Value": tag_value(e, false)}]),
        );
        props.insert(
            "TargetGroupAttributes".into(),
            json!([{"Key": "lambda.multi_value_headers.enabled", "Value": e.multi_value_headers}]),
        );
        props.insert("HealthCheckEnabled".into(), json!(false));
        if let Some(hc) = &e.health_check {
            props.insert("HealthCheckEnabled".into(), json!(false));
            props.insert("HealthCheckPath".into(), json!("/"));
            props.insert("HealthCheckIntervalSeconds".into(), json!(35));
            props.insert("HealthCheckTimeoutSeconds".into(), json!(30));
            props.insert("HealthyThresholdCount".into(), json!(5));
            props.insert("UnhealthyThresholdCount".into(), json!(5));
            props.insert("Matcher".into(), json!({"HttpCode": "200"}));
            for (from, to) in [
                ("enabled", "HealthCheckEnabled"),
                ("intervalSeconds", "HealthCheckIntervalSeconds"),
                ("path", "HealthCheckPath"),
                ("timeoutSeconds", "HealthCheckTimeoutSeconds"),
                ("healthyThresholdCount", "HealthyThresholdCount"),
                ("unhealthyThresholdCount", "UnhealthyThresholdCount"),
            ] {
                if let Some(v) = hc.get(from).filter(|v| !v.is_null()) {
                    props.insert(to.into(), v.clone());
                }
            }
            if let Some(code) = hc
                .get("matcher")
                .and_then(|m| m.get("httpCode"))
                .filter(|v| !v.is_null())
            {
                props.insert("Matcher".into(), json!({"HttpCode": code}));
            }
        }
        let mut depends_on = vec![json!(format!(
            "{}LambdaPermissionRegisterTarget",
            normalized_function_name(e.function)
        ))];
        if let Some(alias) = ctx.alias_id(e.function) {
            depends_on.push(json!(alias));
        }
        let id = target_group_id(e);
        ctx.resources().insert(
            id,
            json!({"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": props, "DependsOn": depends_on}),
        );
    }
    for e in &events {
        let mut actions = Vec::new();
        let mut order = 0;
        for name in &e.authorizers {
            let auth = &authorizers[name];
            let get = |k: &str| auth.get(k).filter(|v| !v.is_null()).cloned();
            let on_unauthenticated =
                get("onUnauthenticatedRequest").unwrap_or_else(|| json!("deny"));
            order += 1;
            let mut config = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    config.insert(k.to_owned(), v);
                }
            };
            if auth.get("type").and_then(Value::as_str) == Some("cognito") {
                put("UserPoolArn", get("userPoolArn"));
                put("UserPoolClientId", get("userPoolClientId"));
                put("UserPoolDomain", get("userPoolDomain"));
                put("OnUnauthenticatedRequest", Some(on_unauthenticated));
                put(
                    "AuthenticationRequestExtraParams",
                    get("requestExtraParams"),
                );
                put("Scope", get("scope"));
                put("SessionCookieName", get("sessionCookieName"));
                put("SessionTimeout", get("sessionTimeout"));
                actions.push(json!({"Type": "authenticate-cognito", "Order": order, "AuthenticateCognitoConfig": config}));
            } else {
                put("AuthorizationEndpoint", get("authorizationEndpoint"));
                put("ClientId", get("clientId"));
                put("Issuer", get("issuer"));
                put("TokenEndpoint", get("tokenEndpoint"));
                put("UserInfoEndpoint", get("userInfoEndpoint"));
                put("OnUnauthenticatedRequest", Some(on_unauthenticated));
                put(
                    "AuthenticationRequestExtraParams",
                    get("requestExtraParams"),
                );
                put("Scope", get("scope"));
                put("SessionCookieName", get("sessionCookieName"));
                put("SessionTimeout", get("sessionTimeout"));
                match get("clientSecret") {
                    Some(secret) => put("ClientSecret", Some(secret)),
                    None => put("UseExistingClientSecret", Some(json!(true))),
                }
                actions.push(json!({"Type": "authenticate-oidc", "Order": order, "AuthenticateOidcConfig": config}));
            }
        }
        let mut forward = Map::new();
        forward.insert("Type".into(), json!("forward"));
        forward.insert("TargetGroupArn".into(), json!({"Ref": target_group_id(e)}));
        if order > 0 {
            forward.insert("Order".into(), json!(order + 1));
        }
        actions.push(Value::Object(forward));

        let mut conditions = Vec::new();
        let c = &e.conditions;
        if let Some(paths) = c.get("path") {
            conditions.push(json!({"Field": "path-pattern", "Values": as_list(paths)}));
        }
        if let Some(hosts) = c.get("host") {
            conditions.push(
                json!({"Field": "host-header", "HostHeaderConfig": {"Values": as_list(hosts)}}),
            );
        }
        if let Some(methods) = c.get("method") {
            conditions.push(json!({"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": as_list(methods)}}));
        }
        if let Some(headers) = c.get("header") {
            for header in as_list(headers) {
                conditions.push(json!({"Field": "http-header", "HttpHeaderConfig": {
                    "HttpHeaderName": header.get("name"), "Values": header.get("values")}}));
            }
        }
        if let Some(query) = c.get("query").and_then(Value::as_object) {
            let values: Vec<Value> = query
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect();
            conditions
                .push(json!({"Field": "query-string", "QueryStringConfig": {"Values": values}}));
        }
        if let Some(ips) = c.get("ip") {
            conditions
                .push(json!({"Field": "source-ip", "SourceIpConfig": {"Values": as_list(ips)}}));
        }
        ctx.resources().insert(
            format!("{}AlbListenerRule{}", normalized_function_name(e.function), e.priority),
            json!({"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
                "Actions": actions, "Conditions": conditions, "ListenerArn": e.listener_arn, "Priority": e.priority}}),
        );
    }
    for e in &events {
        let fn_id = normalized_function_name(e.function);
        let alias = ctx.alias_id(e.function).map(|a| json!([a]));
        let target = ctx.lambda_arn(e.function);
        let base = json!({"FunctionName": target, "Action": "lambda:InvokeFunction",
                          "Principal": "elasticloadbalancing.amazonaws.com"});
        let mut with_source = base.clone();
        with_source["SourceArn"] = json!({"Ref": target_group_id(e)});
        ctx.resources().insert(
            format!("{fn_id}LambdaPermissionAlb"),
            crate::resource_then_depending("AWS::Lambda::Permission", with_source, alias.clone()),
        );
        ctx.resources().insert(
            format!("{fn_id}LambdaPermissionRegisterTarget"),
            crate::resource_then_depending("AWS::Lambda::Permission", base, alias),
        );
    }
    Ok(())
}
