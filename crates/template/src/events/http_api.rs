//! `httpApi` events: API Gateway v2 HTTP API (v3 `compile/events/http-api.js`).

use deployer_config::model::{Event, HttpApiConfig, HttpApiEvent};
use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value, json};

use super::DEFAULT_CORS_HEADERS;
use crate::log_group::api_log_group;
use crate::naming::{normalize_path, normalized_function_name};
use crate::{Ctx, TemplateError};

const ALLOWED_METHODS: [&str; 8] = [
    "ANY", "GET", "POST", "PUT", "PATCH", "OPTIONS", "HEAD", "DELETE",
];

struct Route<'a> {
    function: &'a str,
    authorizer: Option<Value>,
    scopes: Option<Value>,
}

/// CORS settings; `methods` is filled from the routes when `fill_methods` is set.
struct Cors {
    settings: Map<String, Value>,
    methods: IndexSet<String>,
    fill_methods: bool,
}

/// The HTTP API being compiled: the provider settings and what every builder reads.
struct Api<'a> {
    config: &'a HttpApiConfig,
    /// `{"Ref": "HttpApi"}`, or the ID of an API created elsewhere.
    id: Value,
    authorizers: deployer_config::model::Map,
    tags: Option<Map<String, Value>>,
}

fn string_set(value: &Value) -> IndexSet<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => [s.clone()].into_iter().collect(),
        _ => IndexSet::new(),
    }
}

/// Compiles every `httpApi` event: the API, its log group and stage, the authorizers, then
/// each function's permission and integration and each route.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let provider = &service.provider;
    let default_config = HttpApiConfig::default();
    let config = provider.http_api.as_ref().unwrap_or(&default_config);
    let mut cors = cors(config)?;
    let authorizers = config.authorizers.clone().unwrap_or_default();
    if !authorizers.is_empty() && config.id.is_some() {
        return Err(TemplateError::invalid(
            "provider.httpApi.authorizers",
            "Cannot setup authorizers for externally configured HTTP API",
        ));
    }
    let api = Api {
        config,
        id: config
            .id
            .clone()
            .unwrap_or_else(|| json!({"Ref": "HttpApi"})),
        authorizers,
        tags: provider.tags.as_ref().map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<String, Value>>()
        }),
    };
    let routes = routes(ctx, &api, &mut cors)?;
    if routes.is_empty() {
        return Ok(());
    }
    let access_log_format = access_log_format(ctx, config)?;
    if config.id.is_none() {
        let resource = api_resource(ctx, &api, cors.as_ref());
        ctx.resources().insert("HttpApi".into(), resource);
    }
    if access_log_format.is_some() {
        let name = format!("/aws/http-api/{}", service.stack_name(ctx.stage));
        let group = api_log_group(ctx, name);
        ctx.resources().insert("HttpApiLogGroup".into(), group);
    }
    if config.id.is_none() {
        compile_stage(ctx, &api, access_log_format.as_ref());
    }
    compile_authorizers(ctx, &api)?;
    compile_routes(ctx, &api, &routes);
    Ok(())
}

/// `provider.httpApi.cors`: `true` for v3's defaults, or settings.
fn cors(config: &HttpApiConfig) -> Result<Option<Cors>, TemplateError> {
    let user = match &config.cors {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(None),
        Some(user) => user,
    };
    if config.id.is_some() {
        return Err(TemplateError::invalid(
            "provider.httpApi.cors",
            "Cannot setup CORS rules for externally configured HTTP API",
        ));
    }
    let default_headers: IndexSet<String> = DEFAULT_CORS_HEADERS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut settings = Map::new();
    if user == &Value::Bool(true) {
        settings.insert("origins".into(), json!(["*"]));
        settings.insert("headers".into(), json!(default_headers));
        return Ok(Some(Cors::filled(settings)));
    }
    let origins = user
        .get("allowedOrigins")
        .map(string_set)
        .unwrap_or_else(|| ["*".to_owned()].into_iter().collect());
    let headers = user
        .get("allowedHeaders")
        .map(string_set)
        .unwrap_or(default_headers);
    settings.insert("origins".into(), json!(origins));
    settings.insert("headers".into(), json!(headers));
    if user.get("allowCredentials") == Some(&Value::Bool(true)) {
        settings.insert("credentials".into(), json!(true));
    }
    if let Some(exposed) = user.get("exposedResponseHeaders") {
        settings.insert("exposed".into(), json!(string_set(exposed)));
    }
    if let Some(max_age) = user.get("maxAge") {
        settings.insert("maxAge".into(), max_age.clone());
    }
    Ok(Some(match user.get("allowedMethods") {
        Some(m) => Cors {
            settings,
            methods: string_set(m),
            fill_methods: false,
        },
        None => Cors::filled(settings),
    }))
}

impl Cors {
    /// Settings whose methods are `OPTIONS` plus those of the routes.
    fn filled(settings: Map<String, Value>) -> Self {
        Cors {
            settings,
            methods: ["OPTIONS".to_owned()].into_iter().collect(),
            fill_methods: true,
        }
    }

    /// Adds a route's method (`ANY`: every method) when the methods come from the routes.
    fn add_method(&mut self, method: String) {
        if !self.fill_methods {
            return;
        }
        if method == "ANY" {
            self.methods.extend(
                ALLOWED_METHODS
                    .iter()
                    .filter(|m| **m != "ANY")
                    .map(|m| (*m).to_owned()),
            );
        } else {
            self.methods.insert(method);
        }
    }
}

/// Every route, by route key, in the order of the functions and their events.
fn routes<'a>(
    ctx: &Ctx<'a>,
    api: &Api,
    cors: &mut Option<Cors>,
) -> Result<IndexMap<String, Route<'a>>, TemplateError> {
    let service = ctx.service;
    let mut routes: IndexMap<String, Route> = IndexMap::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let Event::HttpApi(e) = event else { continue };
            let path = format!("functions.{key}.events[{i}].httpApi");
            let (route_key, method) = route_key(e, key, &path)?;
            if route_key != "*" && routes.contains_key(&route_key) {
                return Err(TemplateError::invalid(
                    path,
                    format!("Duplicate route '{route_key}' configuration in function {key}"),
                ));
            }
            let (authorizer, scopes) = match &e.authorizer {
                Some(authorizer) => route_authorizer(api, authorizer, &path)?,
                None => (None, None),
            };
            let route = Route {
                function: key,
                authorizer,
                scopes,
            };
            routes.insert(route_key, route);
            if let Some(cors) = cors.as_mut() {
                cors.add_method(method);
            }
        }
    }
    Ok(routes)
}

/// The route key (`GET /items`, or `*` for the default route) and its method.
fn route_key(e: &HttpApiEvent, key: &str, path: &str) -> Result<(String, String), TemplateError> {
    if e.path == "*" {
        if e.method.as_deref().is_some_and(|m| m != "*") {
            return Err(TemplateError::invalid(
                format!("{path}.path"),
                format!("Invalid \"path\" property in function {key} for httpApi event"),
            ));
        }
        return Ok(("*".to_owned(), "ANY".to_owned()));
    }
    let Some(method) = &e.method else {
        return Err(TemplateError::invalid(
            format!("{path}.method"),
            format!("Missing \"method\" property in function {key} for httpApi event"),
        ));
    };
    let mut method = method.to_uppercase();
    if method == "*" {
        method = "ANY".to_owned();
    } else if !ALLOWED_METHODS.contains(&method.as_str()) {
        return Err(TemplateError::invalid(
            format!("{path}.method"),
            format!(
                "Invalid \"method\" property \"{method}\" (expected one of {})",
                ALLOWED_METHODS.join(", ")
            ),
        ));
    }
    if !e.path.starts_with('/') {
        return Err(TemplateError::invalid(
            format!("{path}.path"),
            "a route path must start with \"/\"",
        ));
    }
    Ok((format!("{method} {}", e.path), method))
}

/// A route's authorizer (`aws_iam`, an external ID, or a configured one) and its scopes.
fn route_authorizer(
    api: &Api,
    authorizer: &Value,
    path: &str,
) -> Result<(Option<Value>, Option<Value>), TemplateError> {
    let (name, id, kind, scopes) = match authorizer {
        Value::String(name) => (Some(name.clone()), None, None, None),
        Value::Object(o) => (
            o.get("name").and_then(Value::as_str).map(str::to_owned),
            o.get("id").cloned(),
            o.get("type").and_then(Value::as_str).map(str::to_owned),
            o.get("scopes").cloned(),
        ),
        _ => {
            return Err(TemplateError::invalid(
                format!("{path}.authorizer"),
                "expected a name or settings",
            ));
        }
    };
    let scopes = scopes.map(|s| json!(string_set(&s)));
    if kind.as_deref() == Some("aws_iam") {
        return Ok((Some(json!({"type": "aws_iam"})), scopes));
    }
    if let Some(id) = id {
        if api.config.id.is_none() {
            return Err(TemplateError::invalid(
                format!("{path}.authorizer.id"),
                "Event references external authorizer, but httpApi is part of the current stack.",
            ));
        }
        return Ok((Some(json!({"id": id, "type": kind})), scopes));
    }
    let name = name.unwrap_or_default();
    let Some(settings) = api.authorizers.get(&name) else {
        return Err(TemplateError::invalid(
            format!("{path}.authorizer"),
            format!("Event references not configured authorizer '{name}'"),
        ));
    };
    let display = settings
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&name);
    let authorizer = json!({"name": display, "type": settings.get("type")});
    Ok((Some(authorizer), scopes))
}

/// `provider.logs.httpApi`: the access log format, if access logs are on.
fn access_log_format(ctx: &Ctx, config: &HttpApiConfig) -> Result<Option<Value>, TemplateError> {
    let logs = ctx.service.provider.logs.as_ref();
    let settings = match logs.and_then(|l| l.get("httpApi")) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(None),
        Some(settings) => settings,
    };
    if config.id.is_some() {
        return Err(TemplateError::invalid(
            "provider.logs.httpApi",
            "Cannot setup access logs for externally configured HTTP API",
        ));
    }
    Ok(Some(settings.get("format").cloned().unwrap_or_else(|| {
        json!("{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\"requestTime\":\"$context.requestTime\",\"httpMethod\":\"$context.httpMethod\",\"routeKey\":\"$context.routeKey\",\"status\":\"$context.status\",\"protocol\":\"$context.protocol\",\"responseLength\":\"$context.responseLength\"}")
    })))
}

/// `HttpApi`: the `AWS::ApiGatewayV2::Api`.
fn api_resource(ctx: &Ctx, api: &Api, cors: Option<&Cors>) -> Value {
    let config = api.config;
    let service = ctx.service;
    let mut props = Map::new();
    let name = config.name.clone().unwrap_or_else(|| {
        if config.should_start_name_with_service == Some(true) {
            format!("{}-{}", service.service, ctx.stage)
        } else {
            format!("{}-{}", ctx.stage, service.service)
        }
    });
    props.insert("Name".into(), json!(name));
    if let Some(d) = &config.description {
        props.insert("Description".into(), json!(d));
    }
    props.insert("ProtocolType".into(), json!("HTTP"));
    if let Some(d) = config.disable_default_endpoint {
        props.insert("DisableExecuteApiEndpoint".into(), json!(d));
    }
    if let Some(tags) = &api.tags {
        props.insert("Tags".into(), Value::Object(tags.clone()));
    }
    if let Some(cors) = cors {
        props.insert("CorsConfiguration".into(), cors_configuration(cors));
    }
    json!({"Type": "AWS::ApiGatewayV2::Api", "Properties": props})
}

/// The API's `CorsConfiguration`.
fn cors_configuration(cors: &Cors) -> Value {
    let settings = &cors.settings;
    let mut c = Map::new();
    if let Some(v) = settings.get("credentials") {
        c.insert("AllowCredentials".into(), v.clone());
    }
    c.insert("AllowHeaders".into(), settings["headers"].clone());
    c.insert("AllowMethods".into(), json!(cors.methods));
    c.insert("AllowOrigins".into(), settings["origins"].clone());
    if let Some(v) = settings.get("exposed") {
        c.insert("ExposeHeaders".into(), v.clone());
    }
    if let Some(v) = settings.get("maxAge") {
        c.insert("MaxAge".into(), v.clone());
    }
    Value::Object(c)
}

/// `HttpApiStage` (the auto-deployed `$default` stage) and the API's ID and URL outputs.
fn compile_stage(ctx: &mut Ctx, api: &Api, access_log_format: Option<&Value>) {
    let mut props = Map::new();
    props.insert("ApiId".into(), json!({"Ref": "HttpApi"}));
    props.insert("StageName".into(), json!("$default"));
    props.insert("AutoDeploy".into(), json!(true));
    props.insert(
        "DefaultRouteSettings".into(),
        json!({"DetailedMetricsEnabled": api.config.metrics.unwrap_or(false)}),
    );
    if let Some(tags) = &api.tags {
        props.insert("Tags".into(), Value::Object(tags.clone()));
    }
    let mut stage = Map::new();
    stage.insert("Type".into(), json!("AWS::ApiGatewayV2::Stage"));
    if let Some(format) = access_log_format {
        props.insert(
            "AccessLogSettings".into(),
            json!({
            "DestinationArn": {"Fn::GetAtt": ["HttpApiLogGroup", "Arn"]}, "Format": format}),
        );
        stage.insert("Properties".into(), Value::Object(props));
        stage.insert("DependsOn".into(), json!("HttpApiLogGroup"));
    } else {
        stage.insert("Properties".into(), Value::Object(props));
    }
    ctx.resources()
        .insert("HttpApiStage".into(), Value::Object(stage));
    ctx.outputs().insert(
        "HttpApiId".into(),
        json!({"Description": "Id of the HTTP API", "Value": {"Ref": "HttpApi"}}),
    );
    ctx.outputs().insert("HttpApiUrl".into(), json!({"Description": "URL of the HTTP API", "Value": {
        "Fn::Join": ["", ["https://", {"Ref": "HttpApi"}, ".execute-api.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]}}));
}

/// `HttpApiAuthorizer<Name>` for every configured authorizer: JWT, or a Lambda (`request`).
fn compile_authorizers(ctx: &mut Ctx, api: &Api) -> Result<(), TemplateError> {
    for (name, settings) in &api.authorizers {
        // v3 names the resource after the authorizer's `name` when it has one.
        let display = settings.get("name").and_then(Value::as_str).unwrap_or(name);
        let identity = match settings.get("identitySource") {
            Some(Value::Array(items)) => Value::Array(items.clone()),
            Some(other) => json!([other]),
            None => json!([]),
        };
        if settings.get("type").and_then(Value::as_str) == Some("request") {
            compile_request_authorizer(ctx, name, display, settings, &api.id, identity)?;
            continue;
        }
        let audience = settings
            .get("audience")
            .map(|a| match a {
                Value::Array(items) => Value::Array(items.clone()),
                other => json!([other]),
            })
            .unwrap_or(json!([]));
        ctx.resources().insert(
            format!("HttpApiAuthorizer{}", normalized_function_name(display)),
            json!({"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {
                "ApiId": api.id, "Name": display, "IdentitySource": identity,
                "AuthorizerType": "JWT",
                "JwtConfiguration": {"Audience": audience, "Issuer": settings.get("issuerUrl")}
            }}),
        );
    }
    Ok(())
}

/// Each function's permission and integration (once per function), then every route.
fn compile_routes(ctx: &mut Ctx, api: &Api, routes: &IndexMap<String, Route>) {
    let mut seen = IndexSet::new();
    for (route_key, route) in routes {
        let integration_id = format!(
            "HttpApiIntegration{}",
            normalized_function_name(route.function)
        );
        if seen.insert(route.function) {
            compile_integration(ctx, api, route.function, &integration_id);
        }
        let route_id = if route_key == "*" {
            "HttpApiRouteDefault".to_owned()
        } else {
            format!("HttpApiRoute{}", normalize_path(route_key))
        };
        let resource = route_resource(api, route_key, route, &integration_id);
        ctx.resources().insert(route_id, resource);
    }
}

/// API Gateway may invoke `target` for any route of the API.
fn invoke_permission(target: &Value, api_id: &Value, depends_on: Option<Value>) -> Value {
    crate::resource_then_depending(
        "AWS::Lambda::Permission",
        json!({
        "FunctionName": target, "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":execute-api:",
            {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":", api_id, "/*"]]}}),
        depends_on,
    )
}

/// `<Fn>LambdaPermissionHttpApi` and `HttpApiIntegration<Fn>`.
fn compile_integration(ctx: &mut Ctx, api: &Api, function_key: &str, integration_id: &str) {
    let api_id = &api.id;
    let target = ctx.lambda_arn(function_key);
    let alias = ctx.alias_id(function_key).map(Value::String);
    ctx.resources().insert(
        format!(
            "{}LambdaPermissionHttpApi",
            normalized_function_name(function_key)
        ),
        invoke_permission(&target, api_id, alias.clone()),
    );
    let function = &ctx.service.functions[function_key];
    let payload = function
        .extra
        .get("httpApi")
        .and_then(|h| h.get("payload"))
        .and_then(|p| {
            p.as_str()
                .map(str::to_owned)
                .or_else(|| p.as_f64().map(|f| format!("{f:.1}")))
        })
        .or_else(|| api.config.payload.clone())
        .unwrap_or_else(|| "2.0".to_owned());
    ctx.resources().insert(
        integration_id.to_owned(),
        crate::resource_depending(
            "AWS::ApiGatewayV2::Integration",
            alias,
            json!({
            "ApiId": api_id, "IntegrationType": "AWS_PROXY", "IntegrationUri": target,
            "PayloadFormatVersion": payload, "TimeoutInMillis": 30000}),
        ),
    );
}

/// `HttpApiRoute<Key>`: the route key, its integration and its authorization.
fn route_resource(api: &Api, route_key: &str, route: &Route, integration_id: &str) -> Value {
    let mut props = Map::new();
    props.insert("ApiId".into(), api.id.clone());
    props.insert(
        "RouteKey".into(),
        json!(if route_key == "*" {
            "$default"
        } else {
            route_key
        }),
    );
    props.insert(
        "Target".into(),
        json!({"Fn::Join": ["/", ["integrations", {"Ref": integration_id}]]}),
    );
    if let Some(authorizer) = &route.authorizer {
        let kind = authorizer.get("type").and_then(Value::as_str);
        props.insert(
            "AuthorizationType".into(),
            json!(match kind {
                Some("aws_iam") => "AWS_IAM",
                Some("request") => "CUSTOM",
                _ => "JWT",
            }),
        );
        if kind != Some("aws_iam") {
            let id = authorizer.get("id").cloned().unwrap_or_else(|| {
                let name = authorizer
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                json!({"Ref": format!("HttpApiAuthorizer{}", normalized_function_name(name))})
            });
            props.insert("AuthorizerId".into(), id);
            if let Some(scopes) = &route.scopes {
                props.insert("AuthorizationScopes".into(), scopes.clone());
            }
        }
    }
    json!({"Type": "AWS::ApiGatewayV2::Route", "Properties": props, "DependsOn": integration_id})
}

/// A Lambda (`type: request`) authorizer: `HttpApiAuthorizer<Name>` and, unless managed
/// externally, `<Name>LambdaAuthorizerPermissionHttpApi`.
fn compile_request_authorizer(
    ctx: &mut Ctx,
    key: &str,
    name: &str,
    settings: &Value,
    api_id: &Value,
    identity: Value,
) -> Result<(), TemplateError> {
    let path = format!("provider.httpApi.authorizers.{key}");
    let (target, alias) = authorizer_target(ctx, key, settings, &path)?;
    let ttl = settings.get("resultTtlInSeconds").filter(|v| !v.is_null());
    if ttl.is_some_and(|t| t != &json!(0)) && settings.get("identitySource").is_none() {
        return Err(TemplateError::invalid(
            path,
            format!(
                "Property \"identitySource\" has to be set on authorizer \"{key}\" when \"resultTtlInSeconds\" is set to non-zero value."
            ),
        ));
    }
    let mut props = Map::new();
    props.insert("ApiId".into(), api_id.clone());
    props.insert("Name".into(), json!(name));
    props.insert("IdentitySource".into(), identity);
    props.insert("AuthorizerType".into(), json!("REQUEST"));
    if let Some(v) = settings
        .get("enableSimpleResponses")
        .filter(|v| !v.is_null())
    {
        props.insert("EnableSimpleResponses".into(), v.clone());
    }
    if let Some(v) = ttl {
        props.insert("AuthorizerResultTtlInSeconds".into(), v.clone());
    }
    props.insert(
        "AuthorizerPayloadFormatVersion".into(),
        settings
            .get("payloadVersion")
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or_else(|| json!("2.0")),
    );
    props.insert("AuthorizerUri".into(), json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
        ":apigateway:", {"Ref": "AWS::Region"}, ":lambda:path/2015-03-31/functions/", target, "/invocations"]]}));
    let alias_dep = alias.clone().map(Value::String);
    // v3 adds the permission before the authorizer itself.
    if settings.get("managedExternally") != Some(&Value::Bool(true)) {
        ctx.resources().insert(
            format!(
                "{}LambdaAuthorizerPermissionHttpApi",
                normalized_function_name(name)
            ),
            invoke_permission(&target, api_id, alias_dep.clone()),
        );
    }
    ctx.resources().insert(
        format!("HttpApiAuthorizer{}", normalized_function_name(name)),
        crate::resource_then_depending(
            "AWS::ApiGatewayV2::Authorizer",
            Value::Object(props),
            alias_dep,
        ),
    );
    Ok(())
}

/// The authorizer's function: `functionName` (a function of the service, possibly through
/// its alias) or `functionArn`, exactly one of them.
fn authorizer_target(
    ctx: &Ctx,
    key: &str,
    settings: &Value,
    path: &str,
) -> Result<(Value, Option<String>), TemplateError> {
    let function_name = settings.get("functionName").and_then(Value::as_str);
    let function_arn = settings.get("functionArn").filter(|v| !v.is_null());
    Ok(match (function_name, function_arn) {
        (Some(_), Some(_)) => {
            return Err(TemplateError::invalid(
                path,
                format!(
                    "Either \"functionArn\" or \"functionName\" (not both) property needs to be set on authorizer \"{key}\""
                ),
            ));
        }
        (None, None) => {
            return Err(TemplateError::invalid(
                path,
                format!(
                    "Either \"functionArn\" or \"functionName\" property needs to be set on authorizer \"{key}\""
                ),
            ));
        }
        (Some(function), None) => {
            if !ctx.service.functions.contains_key(function) {
                return Err(TemplateError::invalid(
                    format!("{path}.functionName"),
                    format!(
                        "Function \"{function}\" for HTTP API authorizer \"{key}\" not found in service."
                    ),
                ));
            }
            (ctx.lambda_arn(function), ctx.alias_id(function))
        }
        (None, Some(arn)) => (arn.clone(), None),
    })
}
