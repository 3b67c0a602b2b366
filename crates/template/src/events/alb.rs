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

/// `provider.alb`: the target group name prefix and the named authorizers.
struct Settings {
    prefix: String,
    authorizers: Map<String, Value>,
}

impl AlbEvent<'_> {
    /// `<Fn>Alb[MultiValue]TargetGroup<albId>`.
    fn target_group_id(&self) -> String {
        format!(
            "{}Alb{}TargetGroup{}",
            normalized_function_name(self.function),
            if self.multi_value_headers {
                "MultiValue"
            } else {
                ""
            },
            self.alb_id
        )
    }

    /// The target group's `Name` tag, and (with `multi`) the source of its hashed name.
    fn tag_value(&self, ctx: &Ctx, multi: bool) -> String {
        format!(
            "{}-{}-{}-{}{}",
            ctx.service.service,
            self.function,
            self.alb_id,
            if multi { "multi-value-" } else { "" },
            ctx.stage
        )
    }
}

/// Compiles every `alb` event: the target groups, then the listener rules, then the
/// permissions.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let provider_alb = service.provider.extra.get("alb");
    let settings = Settings {
        prefix: provider_alb
            .and_then(|a| a.get("targetGroupPrefix"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        authorizers: provider_alb
            .and_then(|a| a.get("authorizers"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    };
    let mut events = Vec::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let Event::Other(kind, value) = event else {
                continue;
            };
            if kind == "alb" {
                let path = format!("functions.{key}.events[{i}].alb");
                events.push(parse_event(&settings, key, value, &path)?);
            }
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    check_priorities(&events)?;
    for e in &events {
        let resource = target_group(ctx, &settings, e);
        ctx.resources().insert(e.target_group_id(), resource);
    }
    for e in &events {
        ctx.resources().insert(
            format!(
                "{}AlbListenerRule{}",
                normalized_function_name(e.function),
                e.priority
            ),
            listener_rule(&settings, e),
        );
    }
    for e in &events {
        compile_permissions(ctx, e);
    }
    Ok(())
}

/// One event, checked.
fn parse_event<'a>(
    settings: &Settings,
    key: &'a str,
    value: &Value,
    path: &str,
) -> Result<AlbEvent<'a>, TemplateError> {
    let listener_arn = value.get("listenerArn").cloned().unwrap_or(Value::Null);
    let (alb_id, listener_id) = parse_listener(&listener_arn, &format!("{path}.listenerArn"), key)?;
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
    if target_group_name.is_some() && !settings.prefix.is_empty() {
        return Err(TemplateError::invalid(
            format!("{path}.targetGroupName"),
            "ALB \"targetGroupName\" setting is exclusive with \"provider.alb.targetGroupPrefix\": Please specify only one.",
        ));
    }
    Ok(AlbEvent {
        function: key,
        alb_id,
        listener_id,
        listener_arn,
        priority: value.get("priority").cloned().unwrap_or(Value::Null),
        conditions,
        multi_value_headers: value.get("multiValueHeaders") == Some(&Value::Bool(true)),
        target_group_name,
        authorizers: event_authorizers(settings, key, value, path)?,
        health_check: health_check(value),
    })
}

/// The event's authorizer names, each registered in `provider.alb.authorizers`.
fn event_authorizers(
    settings: &Settings,
    key: &str,
    value: &Value,
    path: &str,
) -> Result<Vec<String>, TemplateError> {
    let names: Vec<String> = value
        .get("authorizer")
        .map(as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    if let Some(name) = names
        .iter()
        .find(|name| !settings.authorizers.contains_key(*name))
    {
        return Err(TemplateError::invalid(
            format!("{path}.authorizer"),
            format!(
                "No match for \"{name}\" in function \"{key}\" found in registered ALB authorizers"
            ),
        ));
    }
    Ok(names)
}

/// `healthCheck`: `true` or settings, both enabling it.
fn health_check(value: &Value) -> Option<Value> {
    match value.get("healthCheck") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Object(o)) => {
            let mut o = o.clone();
            o.insert("enabled".into(), json!(true));
            Some(Value::Object(o))
        }
        Some(_) => Some(json!({"enabled": true})),
    }
}

/// v3's priority rules: unique per function, and per listener across functions.
fn check_priorities(events: &[AlbEvent]) -> Result<(), TemplateError> {
    for (i, a) in events.iter().enumerate() {
        for b in &events[..i] {
            if a.priority != b.priority {
                continue;
            }
            let hint = if a.function == b.function && a.listener_id != b.listener_id {
                "\n  Events in the same function cannot use the same priority even if they have a different listenerArn."
            } else if a.function != b.function && a.listener_id == b.listener_id {
                ""
            } else {
                continue;
            };
            return Err(TemplateError::invalid(
                format!("functions.{}.events", a.function),
                format!(
                    "ALB event in function \"{}\" cannot use priority \"{}\" because it is already in use.{hint}",
                    a.function, a.priority
                ),
            ));
        }
    }
    Ok(())
}

/// `<Fn>Alb…TargetGroup…`: the Lambda target group of one event.
fn target_group(ctx: &Ctx, settings: &Settings, e: &AlbEvent) -> Value {
    let name = e.target_group_name.clone().unwrap_or_else(|| {
        let hash = hex::encode(Md5::digest(
            e.tag_value(ctx, e.multi_value_headers).as_bytes(),
        ));
        format!("{}{hash}", settings.prefix)
            .chars()
            .take(32)
            .collect()
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
        json!([{"Key": "Name", "Value": e.tag_value(ctx, false)}]),
    );
    props.insert(
        "TargetGroupAttributes".into(),
        json!([{"Key": "lambda.multi_value_headers.enabled", "Value": e.multi_value_headers}]),
    );
    props.insert("HealthCheckEnabled".into(), json!(false));
    if let Some(hc) = &e.health_check {
        insert_health_check(&mut props, hc);
    }
    let mut depends_on = vec![json!(format!(
        "{}LambdaPermissionRegisterTarget",
        normalized_function_name(e.function)
    ))];
    if let Some(alias) = ctx.alias_id(e.function) {
        depends_on.push(json!(alias));
    }
    json!({"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": props, "DependsOn": depends_on})
}

/// v3's health check defaults, then the event's settings.
fn insert_health_check(props: &mut Map<String, Value>, hc: &Value) {
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

/// `<Fn>AlbListenerRule<priority>`: authenticate actions, then forward to the target group.
fn listener_rule(settings: &Settings, e: &AlbEvent) -> Value {
    let mut actions: Vec<Value> = e
        .authorizers
        .iter()
        .enumerate()
        .map(|(i, name)| authenticate_action(&settings.authorizers[name], i + 1))
        .collect();
    let mut forward = Map::new();
    forward.insert("Type".into(), json!("forward"));
    forward.insert("TargetGroupArn".into(), json!({"Ref": e.target_group_id()}));
    if !actions.is_empty() {
        forward.insert("Order".into(), json!(actions.len() + 1));
    }
    actions.push(Value::Object(forward));
    json!({"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
        "Actions": actions, "Conditions": conditions(&e.conditions),
        "ListenerArn": e.listener_arn, "Priority": e.priority}})
}

/// An `authenticate-cognito` or `authenticate-oidc` action.
fn authenticate_action(auth: &Value, order: usize) -> Value {
    let get = |k: &str| auth.get(k).filter(|v| !v.is_null()).cloned();
    let mut config = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            config.insert(k.to_owned(), v);
        }
    };
    let cognito = auth.get("type").and_then(Value::as_str) == Some("cognito");
    let identity: &[(&str, &str)] = if cognito {
        &[
            ("UserPoolArn", "userPoolArn"),
            ("UserPoolClientId", "userPoolClientId"),
            ("UserPoolDomain", "userPoolDomain"),
        ]
    } else {
        &[
            ("AuthorizationEndpoint", "authorizationEndpoint"),
            ("ClientId", "clientId"),
            ("Issuer", "issuer"),
            ("TokenEndpoint", "tokenEndpoint"),
            ("UserInfoEndpoint", "userInfoEndpoint"),
        ]
    };
    for (to, from) in identity {
        put(to, get(from));
    }
    put(
        "OnUnauthenticatedRequest",
        Some(get("onUnauthenticatedRequest").unwrap_or_else(|| json!("deny"))),
    );
    put(
        "AuthenticationRequestExtraParams",
        get("requestExtraParams"),
    );
    put("Scope", get("scope"));
    put("SessionCookieName", get("sessionCookieName"));
    put("SessionTimeout", get("sessionTimeout"));
    if cognito {
        return json!({"Type": "authenticate-cognito", "Order": order, "AuthenticateCognitoConfig": config});
    }
    match get("clientSecret") {
        Some(secret) => put("ClientSecret", Some(secret)),
        None => put("UseExistingClientSecret", Some(json!(true))),
    }
    json!({"Type": "authenticate-oidc", "Order": order, "AuthenticateOidcConfig": config})
}

/// The rule's conditions, in v3's order.
fn conditions(c: &Map<String, Value>) -> Vec<Value> {
    let mut conditions = Vec::new();
    if let Some(paths) = c.get("path") {
        conditions.push(json!({"Field": "path-pattern", "Values": as_list(paths)}));
    }
    if let Some(hosts) = c.get("host") {
        conditions
            .push(json!({"Field": "host-header", "HostHeaderConfig": {"Values": as_list(hosts)}}));
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
        conditions.push(json!({"Field": "query-string", "QueryStringConfig": {"Values": values}}));
    }
    if let Some(ips) = c.get("ip") {
        conditions.push(json!({"Field": "source-ip", "SourceIpConfig": {"Values": as_list(ips)}}));
    }
    conditions
}

/// `<Fn>LambdaPermissionAlb` (invoke from the target group) and
/// `<Fn>LambdaPermissionRegisterTarget` (register the function as a target).
fn compile_permissions(ctx: &mut Ctx, e: &AlbEvent) {
    let fn_id = normalized_function_name(e.function);
    let alias = ctx.alias_id(e.function).map(|a| json!([a]));
    let target = ctx.lambda_arn(e.function);
    let base = json!({"FunctionName": target, "Action": "lambda:InvokeFunction",
                      "Principal": "elasticloadbalancing.amazonaws.com"});
    let mut with_source = base.clone();
    with_source["SourceArn"] = json!({"Ref": e.target_group_id()});
    ctx.resources().insert(
        format!("{fn_id}LambdaPermissionAlb"),
        crate::resource_then_depending("AWS::Lambda::Permission", with_source, alias.clone()),
    );
    ctx.resources().insert(
        format!("{fn_id}LambdaPermissionRegisterTarget"),
        crate::resource_then_depending("AWS::Lambda::Permission", base, alias),
    );
}
