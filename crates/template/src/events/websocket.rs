//! `websocket` events: API Gateway v2 WebSocket API (v3 `compile/events/websockets/*`).

use base64::Engine;
use deployer_config::model::Event;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::log_group::api_log_group;
use crate::naming::{lambda_logical_id, normalized_function_name};
use crate::{Ctx, TemplateError};

struct Authorizer {
    name: String,
    uri: Value,
    identity_source: Value,
    /// A function ARN (string or intrinsic) or the logical ID of a local function.
    permission: Value,
    local: bool,
}

struct WsEvent<'a> {
    function: &'a str,
    route: String,
    route_response: Option<String>,
    authorizer: Option<Authorizer>,
}

fn route_key_id(route: &str) -> String {
    route
        .replace('$', "S")
        .replace('/', "Slash")
        .replace('-', "Dash")
        .replace('_', "Underscore")
        .replace('.', "Period")
}

fn invocation_uri(target: Value) -> Value {
    json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"},
        ":lambda:path/2015-03-31/functions/", target, "/invocations"]]})
}

fn parse_authorizer(ctx: &Ctx, value: &Value, path: &str) -> Result<Authorizer, TemplateError> {
    let default_identity = json!(["route.request.header.Auth"]);
    let local = |name: &str| -> Result<Authorizer, TemplateError> {
        if !ctx.service.functions.contains_key(name) {
            return Err(TemplateError::invalid(
                path,
                format!("function \"{name}\" is not defined in this service"),
            ));
        }
        Ok(Authorizer {
            name: name.to_owned(),
            uri: invocation_uri(ctx.lambda_arn(name)),
            identity_source: default_identity.clone(),
            permission: json!(lambda_logical_id(name)),
            local: true,
        })
    };
    match value {
        Value::String(s) if s.contains(':') => Ok(Authorizer {
            name: s.rsplit(':').next().unwrap_or(s).to_owned(),
            uri: invocation_uri(json!(s)),
            identity_source: default_identity,
            permission: json!(s),
            local: false,
        }),
        Value::String(s) => local(s),
        Value::Object(o) => {
            let mut authorizer = if let Some(arn) = o.get("arn") {
                let name = match (arn, o.get("name").and_then(Value::as_str)) {
                    (Value::String(s), _) => s.rsplit(':').next().unwrap_or(s).to_owned(),
                    (_, Some(name)) => name.to_owned(),
                    _ => {
                        return Err(TemplateError::invalid(
                            path,
                            "Websocket Authorizer: Non-string \"arn\" needs to be accompanied with \"name\"",
                        ));
                    }
                };
                Authorizer {
                    name,
                    uri: invocation_uri(arn.clone()),
                    identity_source: default_identity,
                    permission: arn.clone(),
                    local: false,
                }
            } else if let Some(name) = o.get("name").and_then(Value::as_str) {
                local(name)?
            } else {
                return Err(TemplateError::invalid(
                    path,
                    "an authorizer needs \"name\" or \"arn\"",
                ));
            };
            if let Some(identity) = o.get("identitySource") {
                authorizer.identity_source = identity.clone();
            }
            Ok(authorizer)
        }
        _ => Err(TemplateError::invalid(
            path,
            "expected a function name, an ARN or authorizer settings",
        )),
    }
}

/// The WebSocket API being compiled.
struct Api {
    /// `{"Ref": "WebsocketsApi"}`, or the ID of an API created elsewhere.
    id: Value,
    /// Whether the API was created elsewhere (`provider.apiGateway.websocketApiId`).
    external: bool,
    description: Value,
    /// `provider.logs.websocket` when logs are on.
    logs: Option<Value>,
}

/// Compiles every `websocket` event: the API, integrations, route responses, authorizers,
/// permissions, routes, the stage and its log group, then the deployment.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let provider = &service.provider;
    let mut events = Vec::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            if let Event::Websocket(value) = event {
                let path = format!("functions.{key}.events[{i}].websocket");
                events.push(parse_event(ctx, key, value, &path)?);
            }
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    let logs = provider
        .logs
        .as_ref()
        .and_then(|l| l.get("websocket"))
        .filter(|v| !matches!(v, Value::Null | Value::Bool(false)))
        .cloned();
    if logs.is_some() {
        crate::events::check_api_gateway_logs_role(ctx, "websocket")?;
    }
    let external_id = provider
        .api_gateway
        .as_ref()
        .and_then(|a| a.extra.get("websocketApiId"))
        .filter(|v| !v.is_null())
        .cloned();
    let api = Api {
        external: external_id.is_some(),
        id: external_id.unwrap_or_else(|| json!({"Ref": "WebsocketsApi"})),
        description: provider_setting(ctx, "websocketsDescription")
            .cloned()
            .unwrap_or_else(|| json!("Serverless Websockets")),
        logs,
    };
    if !api.external {
        compile_api(ctx, &api);
    }
    compile_integrations(ctx, &api, &events);
    compile_authorizers(ctx, &api, &events);
    compile_permissions(ctx, &api, &events);
    compile_routes(ctx, &api, &events);
    if !api.external {
        compile_stage(ctx, &api)?;
    }
    compile_deployment(ctx, &api, &events);
    Ok(())
}

/// A `provider` setting the model keeps as written, unless `null`.
fn provider_setting<'a>(ctx: &Ctx<'a>, name: &str) -> Option<&'a Value> {
    ctx.service
        .provider
        .extra
        .get(name)
        .filter(|v| !v.is_null())
}

/// One event: a route, or settings with a route.
fn parse_event<'a>(
    ctx: &Ctx,
    key: &'a str,
    value: &Value,
    path: &str,
) -> Result<WsEvent<'a>, TemplateError> {
    match value {
        Value::String(route) => Ok(WsEvent {
            function: key,
            route: route.clone(),
            route_response: None,
            authorizer: None,
        }),
        Value::Object(o) => {
            let route = o.get("route").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::invalid(
                    format!("{path}.route"),
                    "a websocket event needs a \"route\"",
                )
            })?;
            let authorizer = match o.get("authorizer") {
                None | Some(Value::Null) => None,
                Some(a) => Some(parse_authorizer(ctx, a, &format!("{path}.authorizer"))?),
            };
            Ok(WsEvent {
                function: key,
                route: route.to_owned(),
                route_response: o
                    .get("routeResponseSelectionExpression")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                authorizer,
            })
        }
        _ => Err(TemplateError::invalid(
            path,
            "expected a route or websocket settings",
        )),
    }
}

/// `WebsocketsApi` and the statement that lets functions post to connections.
fn compile_api(ctx: &mut Ctx, api: &Api) {
    let service = ctx.service;
    let name = provider_setting(ctx, "websocketsApiName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-{}-websockets", ctx.stage, service.service));
    let mut props = Map::new();
    props.insert("Name".into(), json!(name));
    props.insert(
        "RouteSelectionExpression".into(),
        provider_setting(ctx, "websocketsApiRouteSelectionExpression")
            .cloned()
            .unwrap_or_else(|| json!("$request.body.action")),
    );
    props.insert("Description".into(), api.description.clone());
    props.insert("ProtocolType".into(), json!("WEBSOCKET"));
    let use_tags = provider_setting(ctx, "websocket").and_then(|w| w.get("useProviderTags"))
        == Some(&Value::Bool(true));
    if use_tags && let Some(tags) = &service.provider.tags {
        props.insert(
            "Tags".into(),
            Value::Object(tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        );
    }
    ctx.resources().insert(
        "WebsocketsApi".into(),
        json!({"Type": "AWS::ApiGatewayV2::Api", "Properties": props}),
    );
    if let Some(statements) = ctx.role_statements() {
        statements.push(
            json!({"Effect": "Allow", "Action": ["execute-api:ManageConnections"],
            "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:execute-api:*:*:*/@connections/*"}]}),
        );
    }
}

/// `<Fn>WebsocketsIntegration` for every event, then the route responses.
fn compile_integrations(ctx: &mut Ctx, api: &Api, events: &[WsEvent]) {
    let api_id = &api.id;
    for event in events {
        let target = ctx.lambda_arn(event.function);
        let alias_dep = ctx.alias_id(event.function).map(Value::String);
        ctx.resources().insert(
            format!("{}WebsocketsIntegration", normalized_function_name(event.function)),
            crate::resource_depending("AWS::ApiGatewayV2::Integration", alias_dep, json!({
                "ApiId": api_id, "IntegrationType": "AWS_PROXY", "IntegrationUri": invocation_uri(target)})),
        );
    }
    for event in events.iter().filter(|e| e.route_response.is_some()) {
        let route_id = format!("{}WebsocketsRoute", route_key_id(&event.route));
        ctx.resources().insert(
            format!("{route_id}Response"),
            json!({"Type": "AWS::ApiGatewayV2::RouteResponse", "Properties": {
                "ApiId": api_id, "RouteId": {"Ref": route_id}, "RouteResponseKey": "$default"}}),
        );
    }
}

/// `<Name>WebsocketsAuthorizer` for every event with an authorizer.
fn compile_authorizers(ctx: &mut Ctx, api: &Api, events: &[WsEvent]) {
    for a in events.iter().filter_map(|e| e.authorizer.as_ref()) {
        let mut resource = Map::new();
        resource.insert("Type".into(), json!("AWS::ApiGatewayV2::Authorizer"));
        resource.insert(
            "Properties".into(),
            json!({"ApiId": api.id, "Name": a.name, "AuthorizerType": "REQUEST",
            "AuthorizerUri": a.uri, "IdentitySource": a.identity_source}),
        );
        ctx.resources().insert(
            format!("{}WebsocketsAuthorizer", normalized_function_name(&a.name)),
            Value::Object(resource),
        );
    }
}

/// `<Fn>LambdaPermissionWebsockets` for every event's function and authorizer.
fn compile_permissions(ctx: &mut Ctx, api: &Api, events: &[WsEvent]) {
    let api_ref = api.id.get("Ref").cloned();
    for event in events {
        let mut depends_on: Vec<Value> = api_ref.iter().cloned().collect();
        depends_on.push(json!(
            ctx.alias_id(event.function)
                .unwrap_or_else(|| lambda_logical_id(event.function))
        ));
        let target = ctx.lambda_arn(event.function);
        ctx.resources().insert(
            format!("{}LambdaPermissionWebsockets", normalized_function_name(event.function)),
            json!({"Type": "AWS::Lambda::Permission", "DependsOn": depends_on, "Properties": {
                "FunctionName": target, "Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com"}}),
        );
        if let Some(a) = &event.authorizer {
            let resource = authorizer_permission(ctx, api_ref.as_ref(), a);
            ctx.resources().insert(
                format!(
                    "{}LambdaPermissionWebsockets",
                    normalized_function_name(&a.name)
                ),
                resource,
            );
        }
    }
}

/// The permission API Gateway invokes an authorizer with.
fn authorizer_permission(ctx: &Ctx, api_ref: Option<&Value>, a: &Authorizer) -> Value {
    let mut depends_on: Vec<Value> = api_ref.into_iter().cloned().collect();
    let mut props = Map::new();
    props.insert("Action".into(), json!("lambda:InvokeFunction"));
    props.insert("Principal".into(), json!("apigateway.amazonaws.com"));
    if a.local {
        props.insert("FunctionName".into(), ctx.lambda_arn(&a.name));
        depends_on.push(a.permission.clone());
        if let Some(alias) = ctx.alias_id(&a.name) {
            depends_on.push(json!(alias));
        }
    } else {
        props.insert("FunctionName".into(), a.permission.clone());
    }
    json!({"Type": "AWS::Lambda::Permission", "DependsOn": depends_on, "Properties": props})
}

/// `<Route>WebsocketsRoute` for every event.
fn compile_routes(ctx: &mut Ctx, api: &Api, events: &[WsEvent]) {
    for event in events {
        let mut props = Map::new();
        props.insert("ApiId".into(), api.id.clone());
        props.insert("RouteKey".into(), json!(event.route));
        props.insert("AuthorizationType".into(), json!("NONE"));
        props.insert("Target".into(), json!({"Fn::Join": ["/", ["integrations",
            {"Ref": format!("{}WebsocketsIntegration", normalized_function_name(event.function))}]]}));
        if let Some(expression) = &event.route_response {
            props.insert("RouteResponseSelectionExpression".into(), json!(expression));
        }
        if let Some(a) = &event.authorizer {
            props.insert("AuthorizationType".into(), json!("CUSTOM"));
            props.insert("AuthorizerId".into(), json!({"Ref": format!("{}WebsocketsAuthorizer", normalized_function_name(&a.name))}));
        }
        ctx.resources().insert(
            format!("{}WebsocketsRoute", route_key_id(&event.route)),
            json!({"Type": "AWS::ApiGatewayV2::Route", "Properties": props}),
        );
    }
}

/// `WebsocketsDeploymentStage`, with its log settings and `WebsocketsLogGroup` when logs
/// are on.
fn compile_stage(ctx: &mut Ctx, api: &Api) -> Result<(), TemplateError> {
    let mut stage = json!({"Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {"ApiId": api.id, "StageName": ctx.stage, "Description": api.description}});
    if let Some(logs) = &api.logs {
        let props = stage["Properties"]
            .as_object_mut()
            .expect("stage Properties");
        insert_log_settings(props, logs)?;
    }
    ctx.resources()
        .insert("WebsocketsDeploymentStage".into(), stage);
    if api.logs.is_some() {
        let name = format!("/aws/websocket/{}-{}", ctx.service.service, ctx.stage);
        let group = api_log_group(ctx, name);
        ctx.resources().insert("WebsocketsLogGroup".into(), group);
    }
    Ok(())
}

/// The stage's `DefaultRouteSettings` and `AccessLogSettings` from `provider.logs.websocket`.
fn insert_log_settings(props: &mut Map<String, Value>, logs: &Value) -> Result<(), TemplateError> {
    let flag = |name: &str| logs.get(name) != Some(&Value::Bool(false));
    let level = if !flag("executionLogging") {
        json!("OFF")
    } else {
        match logs.get("level").and_then(Value::as_str) {
            None => json!("INFO"),
            Some(level @ ("INFO" | "ERROR")) => json!(level),
            Some(other) => {
                return Err(TemplateError::invalid(
                    "provider.logs.websocket.level",
                    format!(
                        "provider.logs.websocket.level is set to an invalid value. Support values are INFO, ERROR, got {other}."
                    ),
                ));
            }
        }
    };
    props.insert(
        "DefaultRouteSettings".into(),
        json!({"DataTraceEnabled": flag("fullExecutionData"), "LoggingLevel": level}),
    );
    if flag("accessLogging") {
        let format = logs.get("format").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
            "$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] \"$context.eventType $context.routeKey $context.connectionId\" $context.requestId".to_owned()
        });
        props.insert("AccessLogSettings".into(), json!({
            "DestinationArn": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${WebsocketsLogGroup}"},
            "Format": format}));
    }
    Ok(())
}

/// The deployment ID hashes every WebSocket resource, so any change redeploys the API.
fn deployment_id(ctx: &Ctx) -> String {
    let part: Map<String, Value> = ctx.template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(id, r)| {
            id.as_str() == "WebsocketsApi"
                || r.pointer("/Properties/ApiId/Ref").and_then(Value::as_str)
                    == Some("WebsocketsApi")
                || r.get("DependsOn")
                    .and_then(Value::as_array)
                    .is_some_and(|d| d.contains(&json!("WebsocketsApi")))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(
        serde_json::to_string(&part).expect("JSON").as_bytes(),
    ));
    format!(
        "WebsocketsDeployment{}",
        digest
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    )
}

/// `WebsocketsDeployment<hash>` after every route, the endpoint output, and the stage's
/// `DeploymentId`.
fn compile_deployment(ctx: &mut Ctx, api: &Api, events: &[WsEvent]) {
    let deployment_id = deployment_id(ctx);
    let mut depends_on = Vec::new();
    for event in events {
        let route_id = format!("{}WebsocketsRoute", route_key_id(&event.route));
        if event.route_response.is_some() {
            depends_on.push(json!(format!("{route_id}Response")));
        }
        depends_on.push(json!(route_id));
    }
    let mut props = Map::new();
    props.insert("ApiId".into(), api.id.clone());
    props.insert("Description".into(), api.description.clone());
    if api.external {
        props.insert("StageName".into(), json!(ctx.stage));
    }
    ctx.resources().insert(deployment_id.clone(), json!({"Type": "AWS::ApiGatewayV2::Deployment", "DependsOn": depends_on, "Properties": props}));
    let stage_path = format!("/{}", ctx.stage);
    ctx.outputs().insert("ServiceEndpointWebsocket".into(), json!({"Description": "URL of the service endpoint", "Value": {
        "Fn::Join": ["", ["wss://", api.id, ".execute-api.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}, stage_path]]}}));
    if let Some(props) = ctx
        .resources()
        .get_mut("WebsocketsDeploymentStage")
        .and_then(|s| s.get_mut("Properties"))
        .and_then(Value::as_object_mut)
    {
        props.insert("DeploymentId".into(), json!({"Ref": deployment_id}));
    }
}
