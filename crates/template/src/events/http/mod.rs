//! `http` events: API Gateway REST API (v3 `compile/events/api-gateway/*`): resources, methods,
//! CORS, authorizers, validators, the deployment, API keys, usage plans and permissions.

use deployer_config::model::{ApiGatewayConfig, Event, HttpEvent};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::DEFAULT_CORS_HEADERS;
use crate::log_group::api_log_group;
use crate::naming::{normalize_path, normalized_function_name, upper_first};
use crate::{Ctx, TemplateError};

mod api_keys;
mod authorizers;
mod integration;
mod validators;

use api_keys::compile_api_keys_and_usage_plans;
use authorizers::{Authorizer, parse_authorizer};
use integration::integration_and_responses;
use validators::compile_request_validators;

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "options", "head", "delete", "any",
];

struct HttpEndpoint<'a> {
    function: &'a str,
    path: String,
    method: String,
    private: bool,
    request_parameters: Map<String, Value>,
    /// The same parameters with their settings as written (`mappedValue` for integrations).
    parameter_settings: Map<String, Value>,
    operation_id: Option<String>,
    timeout: Option<u64>,
    authorizer: Option<Authorizer>,
    /// `AWS_PROXY`, `AWS`, `HTTP`, `HTTP_PROXY` or `MOCK`.
    integration: String,
    request: Option<Value>,
    response: Option<Value>,
    /// This event's own CORS settings (response headers of non-proxy integrations).
    cors: Option<Cors>,
    is_async: bool,
    claims: Vec<String>,
}

#[derive(Default)]
struct Cors {
    origin: Option<String>,
    origins: Vec<String>,
    headers: Vec<String>,
    methods: Vec<String>,
    allow_credentials: bool,
    max_age: Option<Value>,
    cache_control: Option<String>,
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn union(left: &[String], right: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in left.iter().chain(right) {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// v3 `getCors`: the CORS settings of one event.
fn event_cors(cors: &Value, method: &str) -> Cors {
    let method = method.to_uppercase();
    let default_headers: Vec<String> = DEFAULT_CORS_HEADERS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let Value::Object(o) = cors else {
        return Cors {
            origin: Some("*".to_owned()),
            headers: default_headers,
            methods: vec!["OPTIONS".to_owned(), method],
            ..Default::default()
        };
    };
    let mut c = Cors {
        origin: if o.contains_key("origins") {
            None
        } else {
            Some("*".to_owned())
        },
        headers: default_headers,
        ..Default::default()
    };
    if let Some(origin) = o.get("origin").and_then(Value::as_str) {
        c.origin = Some(origin.to_owned());
    }
    c.origins = strings(o.get("origins")).unwrap_or_default();
    if let Some(headers) = strings(o.get("headers")) {
        c.headers = headers;
    }
    c.methods = strings(o.get("methods")).unwrap_or_default();
    c.allow_credentials = o.get("allowCredentials") == Some(&Value::Bool(true));
    c.max_age = o.get("maxAge").cloned();
    c.cache_control = o
        .get("cacheControl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if !c.methods.iter().any(|m| m == "OPTIONS") {
        c.methods.push("OPTIONS".to_owned());
    }
    if !c.methods.contains(&method) {
        c.methods.push(method);
    }
    c
}

/// Compiles every `http` event: the REST API, its resources, the CORS preflight methods,
/// each endpoint's method, then validators, authorizers, the deployment, keys and permissions.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let api_gateway = ctx.service.provider.api_gateway.clone().unwrap_or_default();
    let (endpoints, preflight) = endpoints(ctx, &api_gateway)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    crate::events::check_api_gateway_logs_role(ctx, "restApi")?;
    let (rest_api_id, root_id) = rest_api_ids(ctx, &api_gateway)?;
    let resources = compile_resources(ctx, &endpoints, &rest_api_id, root_id);
    let mut method_ids = Vec::new();
    for (path, cors) in &preflight {
        method_ids.push(compile_preflight(ctx, &resources, &rest_api_id, path, cors));
    }
    for endpoint in &endpoints {
        method_ids.push(compile_method(ctx, &resources, &rest_api_id, endpoint)?);
    }
    compile_request_validators(ctx, &endpoints, &rest_api_id, &api_gateway)?;
    compile_authorizers_and_rest(ctx, &endpoints, &rest_api_id, method_ids, &api_gateway)
}

/// Every `http` event as an endpoint, and the merged CORS settings of each path.
fn endpoints<'a>(
    ctx: &Ctx<'a>,
    api_gateway: &ApiGatewayConfig,
) -> Result<(Vec<HttpEndpoint<'a>>, IndexMap<String, Cors>), TemplateError> {
    let service = ctx.service;
    let mut endpoints = Vec::new();
    let mut preflight: IndexMap<String, Cors> = IndexMap::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let Event::Http(http) = event else { continue };
            let path = format!("functions.{key}.events[{i}].http");
            let endpoint = endpoint(ctx, key, http, &path, api_gateway)?;
            if let Some(cors) = &endpoint.cors {
                merge_preflight(preflight.entry(endpoint.path.clone()).or_default(), cors);
            }
            endpoints.push(endpoint);
        }
    }
    Ok((endpoints, preflight))
}

/// One event, checked.
fn endpoint<'a>(
    ctx: &Ctx,
    key: &'a str,
    http: &HttpEvent,
    path: &str,
    api_gateway: &ApiGatewayConfig,
) -> Result<HttpEndpoint<'a>, TemplateError> {
    let method = http.method.to_lowercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(TemplateError::invalid(
            format!("{path}.method"),
            format!(
                "\"{}\" is not an HTTP method API Gateway accepts",
                http.method
            ),
        ));
    }
    let is_async = http.is_async == Some(true);
    let integration = integration_type(http, path, is_async)?;
    let claims: Vec<String> = http
        .authorizer
        .as_ref()
        .and_then(|a| a.get("claims"))
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let authorizer = match &http.authorizer {
        Some(value) => parse_authorizer(
            ctx,
            value,
            &format!("{path}.authorizer"),
            integration == "AWS_PROXY",
        )?,
        None => None,
    };
    let (request_parameters, parameter_settings) = request_parameters(http, path)?;
    let cors = http
        .cors
        .as_ref()
        .filter(|c| !matches!(c, Value::Null | Value::Bool(false)))
        .map(|c| event_cors(c, &method));
    Ok(HttpEndpoint {
        function: key,
        path: http
            .path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_owned(),
        method,
        private: http.private == Some(true),
        request_parameters,
        parameter_settings,
        operation_id: http.operation_id.clone(),
        timeout: http.timeout_in_millis.or(api_gateway.timeout_in_millis),
        authorizer,
        integration,
        request: http.request.clone(),
        response: http.response.clone(),
        cors,
        is_async,
        claims,
    })
}

/// The integration type (`lambda` → `AWS`, `lambda-proxy` → `AWS_PROXY`, ...), checked.
fn integration_type(http: &HttpEvent, path: &str, is_async: bool) -> Result<String, TemplateError> {
    let integration = match http
        .integration
        .as_deref()
        .map(|i| i.to_uppercase().replacen('-', "_", 1))
    {
        Some(i) if i == "LAMBDA" => "AWS".to_owned(),
        Some(i) if i == "LAMBDA_PROXY" => "AWS_PROXY".to_owned(),
        Some(i) => i,
        None if is_async => "AWS".to_owned(),
        None => "AWS_PROXY".to_owned(),
    };
    if !["AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"].contains(&integration.as_str()) {
        return Err(TemplateError::invalid(
            format!("{path}.integration"),
            format!("unknown integration \"{integration}\""),
        ));
    }
    if (integration == "HTTP" || integration == "HTTP_PROXY")
        && http.request.as_ref().and_then(|r| r.get("uri")).is_none()
    {
        return Err(TemplateError::invalid(
            format!("{path}.request.uri"),
            format!("You need to set the request uri when using the {integration} integration."),
        ));
    }
    if http
        .extra
        .get("connectionType")
        .is_some_and(|v| !v.is_null())
    {
        return Err(TemplateError::unsupported(
            format!("{path}.connectionType"),
            "VPC link integrations",
        ));
    }
    Ok(integration)
}

/// Method request parameters by `method.request.<where>.<name>`.
type Parameters = Map<String, Value>;

/// `request.parameters`: `method.request.<where>.<name>` → required, and → the settings.
fn request_parameters(
    http: &HttpEvent,
    path: &str,
) -> Result<(Parameters, Parameters), TemplateError> {
    let mut request_parameters = Map::new();
    let mut parameter_settings = Map::new();
    let Some(request) = &http.request else {
        return Ok((request_parameters, parameter_settings));
    };
    for (location, singular) in [
        ("querystrings", "querystring"),
        ("paths", "path"),
        ("headers", "header"),
    ] {
        let params = request
            .get("parameters")
            .and_then(|p| p.get(location))
            .and_then(Value::as_object);
        for (name, value) in params.into_iter().flatten() {
            let required = match value {
                Value::Object(o) => o.get("required").cloned().unwrap_or(json!(true)),
                other => other.clone(),
            };
            let key = format!("method.request.{singular}.{name}");
            parameter_settings.insert(key.clone(), value.clone());
            request_parameters.insert(key, required);
        }
    }
    if request.get("schema").is_some_and(|v| !v.is_null()) {
        return Err(TemplateError::invalid(
            format!("{path}.request.schema"),
            "use \"schemas\" (a map of content type to schema)",
        ));
    }
    Ok((request_parameters, parameter_settings))
}

/// Adds one event's CORS settings to those of its path (v3 merges them across events).
fn merge_preflight(merged: &mut Cors, event: &Cors) {
    merged.headers = union(&event.headers, &merged.headers);
    merged.methods = union(&event.methods, &merged.methods);
    merged.origins = union(&event.origins, &merged.origins);
    merged.origin = event.origin.clone();
    merged.allow_credentials = merged.allow_credentials || event.allow_credentials;
    if event.max_age.is_some() {
        merged.max_age = event.max_age.clone();
    }
    if event.cache_control.is_some() {
        merged.cache_control = event.cache_control.clone();
    }
}

/// The REST API's ID and root resource ID: the configured ones, or those of
/// `ApiGatewayRestApi`, which this compiles.
fn rest_api_ids(
    ctx: &mut Ctx,
    api_gateway: &ApiGatewayConfig,
) -> Result<(Value, Value), TemplateError> {
    let Some(id) = &api_gateway.rest_api_id else {
        compile_rest_api(ctx, api_gateway)?;
        return Ok((
            json!({"Ref": "ApiGatewayRestApi"}),
            json!({"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]}),
        ));
    };
    let root = api_gateway.rest_api_root_resource_id.clone().ok_or_else(|| {
        TemplateError::invalid(
            "provider.apiGateway.restApiRootResourceId",
            "Missing required \"provider.apiGateway.restApiRootResourceId\" property (needed if \"provider.apiGateway.restApiId\" is provided)",
        )
    })?;
    Ok((id.clone(), root))
}

/// The `AWS::ApiGateway::Resource` of every path, by path.
struct Resources {
    root_id: Value,
    ids: IndexMap<String, String>,
}

impl Resources {
    /// The resource of a path (the root for `""`).
    fn reference(&self, path: &str) -> Value {
        if path.is_empty() {
            self.root_id.clone()
        } else {
            json!({"Ref": self.ids[path]})
        }
    }

    /// A path as it appears in method logical IDs.
    fn name(path: &str) -> String {
        if path.is_empty() {
            String::new()
        } else {
            normalize_path(path)
        }
    }
}

/// Every path prefix, depth first in the order paths first appear.
fn ordered_paths(endpoints: &[HttpEndpoint]) -> Vec<String> {
    let mut children: IndexMap<String, Vec<String>> = IndexMap::new();
    for endpoint in endpoints.iter().filter(|e| !e.path.is_empty()) {
        let mut current = String::new();
        let mut parent = String::new();
        for part in endpoint.path.split('/') {
            current = if current.is_empty() {
                part.to_owned()
            } else {
                format!("{current}/{part}")
            };
            let siblings = children.entry(parent.clone()).or_default();
            if !siblings.contains(&current) {
                siblings.push(current.clone());
            }
            parent = current.clone();
        }
    }
    fn walk(node: &str, children: &IndexMap<String, Vec<String>>, out: &mut Vec<String>) {
        for child in children.get(node).into_iter().flatten() {
            out.push(child.clone());
            walk(child, children, out);
        }
    }
    let mut ordered = Vec::new();
    walk("", &children, &mut ordered);
    ordered
}

/// `ApiGatewayResource<Path>` for every path prefix.
fn compile_resources(
    ctx: &mut Ctx,
    endpoints: &[HttpEndpoint],
    rest_api_id: &Value,
    root_id: Value,
) -> Resources {
    let mut ids: IndexMap<String, String> = IndexMap::new();
    for path in ordered_paths(endpoints) {
        let id = format!("ApiGatewayResource{}", normalize_path(&path));
        let (parent, part) = match path.rsplit_once('/') {
            Some((parent, part)) => (json!({"Ref": ids[parent]}), part),
            None => (root_id.clone(), path.as_str()),
        };
        ctx.resources().insert(
            id.clone(),
            json!({"Type": "AWS::ApiGateway::Resource", "Properties": {
            "ParentId": parent, "PathPart": part, "RestApiId": rest_api_id}}),
        );
        ids.insert(path, id);
    }
    Resources { root_id, ids }
}

/// The response headers of a preflight (name, quoted value) and the allowed origins.
fn preflight_headers(cors: &Cors) -> (Vec<(String, String)>, Vec<String>) {
    let mut origins = cors.origins.clone();
    let mut origin = cors.origin.clone().unwrap_or_default();
    if origin.contains(',') {
        origins = origin.split(',').map(|o| o.trim().to_owned()).collect();
    }
    if let Some(first) = origins.first() {
        origin = first.clone();
    }
    let mut headers: Vec<(String, String)> = vec![
        ("Access-Control-Allow-Origin".into(), format!("'{origin}'")),
        (
            "Access-Control-Allow-Headers".into(),
            format!("'{}'", cors.headers.join(",")),
        ),
        (
            "Access-Control-Allow-Methods".into(),
            format!("'{}'", cors.methods.join(",")),
        ),
    ];
    if cors.allow_credentials {
        headers.push(("Access-Control-Allow-Credentials".into(), "'true'".into()));
    }
    if let Some(max_age) = &cors.max_age {
        let text = match max_age {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        headers.push(("Access-Control-Max-Age".into(), format!("'{text}'")));
    }
    if let Some(cc) = &cors.cache_control {
        headers.push(("Cache-Control".into(), format!("'{cc}'")));
    }
    if cors.methods.iter().any(|m| m == "ANY") {
        headers[2].1 = headers[2]
            .1
            .replacen("ANY", "DELETE,GET,HEAD,PATCH,POST,PUT", 1);
    }
    (headers, origins)
}

/// The preflight's response template: echoes the request's origin when it is allowed.
fn origin_template(origins: &[String]) -> String {
    if origins.is_empty() {
        return String::new();
    }
    let conditions: Vec<String> = origins
        .iter()
        .map(|o| {
            format!(
                "$origin.matches(\"{}\")",
                o.replace('.', "[.]").replacen('*', ".+", 1)
            )
        })
        .collect();
    format!(
        "#set($origin = $input.params(\"Origin\"))\n#if($origin == \"\") #set($origin = $input.params(\"origin\")) #end\n#if({}) #set($context.responseOverride.header.Access-Control-Allow-Origin = $origin) #end",
        conditions.join(" || ")
    )
}

/// `ApiGatewayMethod<Path>Options`: the CORS preflight of one path, answered by a mock.
fn compile_preflight(
    ctx: &mut Ctx,
    resources: &Resources,
    rest_api_id: &Value,
    path: &str,
    cors: &Cors,
) -> String {
    let id = format!("ApiGatewayMethod{}Options", Resources::name(path));
    let (headers, origins) = preflight_headers(cors);
    let method_headers: Map<String, Value> = headers
        .iter()
        .map(|(h, _)| (format!("method.response.header.{h}"), json!(true)))
        .collect();
    let integration_headers: Map<String, Value> = headers
        .iter()
        .map(|(h, v)| (format!("method.response.header.{h}"), json!(v)))
        .collect();
    let template = origin_template(&origins);
    ctx.resources().insert(id.clone(), json!({"Type": "AWS::ApiGateway::Method", "Properties": {
        "AuthorizationType": "NONE",
        "HttpMethod": "OPTIONS",
        "MethodResponses": [{"StatusCode": "200", "ResponseParameters": method_headers, "ResponseModels": {}}],
        "RequestParameters": {},
        "Integration": {
            "Type": "MOCK",
            "RequestTemplates": {"application/json": "{statusCode:200}"},
            "ContentHandling": "CONVERT_TO_TEXT",
            "IntegrationResponses": [{"StatusCode": "200", "ResponseParameters": integration_headers,
                "ResponseTemplates": {"application/json": template}}]
        },
        "ResourceId": resources.reference(path),
        "RestApiId": rest_api_id
    }}));
    id
}

/// `ApiGatewayMethod<Path><Method>`: one endpoint's method and integration.
fn compile_method(
    ctx: &mut Ctx,
    resources: &Resources,
    rest_api_id: &Value,
    endpoint: &HttpEndpoint,
) -> Result<String, TemplateError> {
    let id = format!(
        "ApiGatewayMethod{}{}",
        Resources::name(&endpoint.path),
        upper_first(&endpoint.method)
    );
    let permission = format!(
        "{}LambdaPermissionApiGateway",
        normalized_function_name(endpoint.function)
    );
    let mut props = Map::new();
    props.insert("HttpMethod".into(), json!(endpoint.method.to_uppercase()));
    props.insert(
        "RequestParameters".into(),
        Value::Object(endpoint.request_parameters.clone()),
    );
    props.insert("ResourceId".into(), resources.reference(&endpoint.path));
    props.insert("RestApiId".into(), rest_api_id.clone());
    if let Some(op) = &endpoint.operation_id {
        props.insert("OperationName".into(), json!(op));
    }
    props.insert("ApiKeyRequired".into(), json!(endpoint.private));
    let mut depends_on = vec![json!(permission)];
    if let Some(alias) = ctx.alias_id(endpoint.function) {
        depends_on.push(json!(alias));
    }
    authorization(&mut props, &mut depends_on, endpoint.authorizer.as_ref());
    let (integration, method_responses) = integration_and_responses(ctx, endpoint)?;
    props.insert("Integration".into(), Value::Object(integration));
    props.insert("MethodResponses".into(), method_responses);
    ctx.resources().insert(
        id.clone(),
        json!({"Type": "AWS::ApiGateway::Method", "Properties": props, "DependsOn": depends_on}),
    );
    Ok(id)
}

/// A method's `AuthorizationType`, `AuthorizerId` and `AuthorizationScopes`.
fn authorization(
    props: &mut Map<String, Value>,
    depends_on: &mut [Value],
    authorizer: Option<&Authorizer>,
) {
    let non_empty_scopes = |a: &Authorizer| {
        a.scopes
            .as_ref()
            .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
            .cloned()
    };
    match authorizer {
        None => {
            props.insert("AuthorizationType".into(), json!("NONE"));
        }
        Some(a) if a.kind.as_deref() == Some("AWS_IAM") => {
            props.insert("AuthorizationType".into(), json!("AWS_IAM"));
        }
        Some(a) if a.authorizer_id.is_some() => {
            let kind = a.kind.clone().unwrap_or_default();
            let upper = kind.to_uppercase();
            let authorization = if upper == "TOKEN" || upper == "REQUEST" {
                "CUSTOM".to_owned()
            } else {
                kind
            };
            props.insert("AuthorizationType".into(), json!(authorization));
            props.insert(
                "AuthorizerId".into(),
                a.authorizer_id.clone().unwrap_or_default(),
            );
            if upper == "COGNITO_USER_POOLS"
                && let Some(scopes) = non_empty_scopes(a)
            {
                props.insert("AuthorizationScopes".into(), scopes);
            }
        }
        Some(a) => {
            // v3 lodash-merges the method's `DependsOn: [permission]` with the
            // authorizer's `DependsOn: [authorizer]` index by index: the authorizer wins.
            depends_on[0] = json!(a.logical_id());
            if a.is_cognito() {
                props.insert("AuthorizationType".into(), json!("COGNITO_USER_POOLS"));
                props.insert("AuthorizerId".into(), json!({"Ref": a.logical_id()}));
                if let Some(scopes) = non_empty_scopes(a) {
                    props.insert("AuthorizationScopes".into(), scopes);
                }
            } else {
                props.insert("AuthorizationType".into(), json!("CUSTOM"));
                props.insert("AuthorizerId".into(), json!({"Ref": a.logical_id()}));
            }
        }
    }
}

/// The endpoints' authorizers, the deployment and its endpoint output, API keys and usage
/// plans, the permissions, then the access log group.
fn compile_authorizers_and_rest(
    ctx: &mut Ctx,
    endpoints: &[HttpEndpoint],
    rest_api_id: &Value,
    method_ids: Vec<String>,
    api_gateway: &ApiGatewayConfig,
) -> Result<(), TemplateError> {
    for a in endpoints.iter().filter_map(|e| e.authorizer.as_ref()) {
        if let Some(arn) = &a.arn {
            compile_authorizer(ctx, a, arn, rest_api_id);
        }
    }
    let deployment_id = compile_deployment(ctx, rest_api_id, method_ids, api_gateway);
    compile_api_keys_and_usage_plans(ctx, api_gateway, rest_api_id, &deployment_id)?;
    for endpoint in endpoints {
        compile_permissions(ctx, endpoint, rest_api_id);
    }
    compile_access_log_group(ctx);
    Ok(())
}

/// `<Name>ApiGatewayAuthorizer`: a Cognito user pool or Lambda authorizer.
fn compile_authorizer(ctx: &mut Ctx, a: &Authorizer, arn: &Value, rest_api_id: &Value) {
    let mut props = Map::new();
    props.insert("AuthorizerResultTtlInSeconds".into(), json!(a.ttl));
    if let Some(source) = &a.identity_source {
        props.insert("IdentitySource".into(), json!(source));
    }
    props.insert("Name".into(), json!(a.name));
    props.insert("RestApiId".into(), rest_api_id.clone());
    if let Some(expression) = &a.identity_validation_expression {
        props.insert("IdentityValidationExpression".into(), json!(expression));
    }
    if a.is_cognito() {
        props.insert("Type".into(), json!("COGNITO_USER_POOLS"));
        props.insert("ProviderARNs".into(), json!([arn]));
    } else {
        props.insert("AuthorizerUri".into(), json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
            ":apigateway:", {"Ref": "AWS::Region"}, ":lambda:path/2015-03-31/functions/", arn, "/invocations"]]}));
        props.insert(
            "Type".into(),
            json!(
                a.kind
                    .as_deref()
                    .map_or("TOKEN".to_owned(), str::to_uppercase)
            ),
        );
    }
    ctx.resources().insert(
        a.logical_id(),
        crate::resource_depending(
            "AWS::ApiGateway::Authorizer",
            a.alias.clone().map(Value::String),
            Value::Object(props),
        ),
    );
}

/// `ApiGatewayDeployment<instance>` after every method, and the `ServiceEndpoint` output;
/// returns the deployment's ID.
fn compile_deployment(
    ctx: &mut Ctx,
    rest_api_id: &Value,
    method_ids: Vec<String>,
    api_gateway: &ApiGatewayConfig,
) -> String {
    let mut deployment_props = Map::new();
    deployment_props.insert("RestApiId".into(), rest_api_id.clone());
    deployment_props.insert("StageName".into(), json!(ctx.stage));
    if let Some(d) = &api_gateway.description {
        deployment_props.insert("Description".into(), d.clone());
    }
    let deployment_id = format!("ApiGatewayDeployment{}", ctx.input.instance_id);
    let stage_path = format!("/{}", ctx.stage);
    ctx.resources().insert(
        deployment_id.clone(),
        json!({"Type": "AWS::ApiGateway::Deployment", "Properties": deployment_props, "DependsOn": method_ids}),
    );
    ctx.outputs().insert(
        "ServiceEndpoint".into(),
        json!({"Description": "URL of the service endpoint", "Value": {
        "Fn::Join": ["", ["https://", rest_api_id, ".execute-api.", {"Ref": "AWS::Region"}, ".",
            {"Ref": "AWS::URLSuffix"}, stage_path]]}}),
    );
    deployment_id
}

/// `<Fn>LambdaPermissionApiGateway` for an endpoint's function, and for its Lambda
/// authorizer unless the authorizer is managed elsewhere or has one already.
fn compile_permissions(ctx: &mut Ctx, endpoint: &HttpEndpoint, rest_api_id: &Value) {
    let source_arn = json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":execute-api:",
        {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":", rest_api_id, "/*/*"]]});
    let id = format!(
        "{}LambdaPermissionApiGateway",
        normalized_function_name(endpoint.function)
    );
    let permission = crate::resource_then_depending(
        "AWS::Lambda::Permission",
        json!({
            "FunctionName": ctx.lambda_arn(endpoint.function),
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": source_arn
        }),
        ctx.alias_id(endpoint.function).map(Value::String),
    );
    ctx.resources().insert(id, permission);
    let Some(a) = &endpoint.authorizer else {
        return;
    };
    let Some(arn) = &a.arn else { return };
    let authorizer_permission = format!(
        "{}LambdaPermissionApiGateway",
        normalized_function_name(&a.name)
    );
    if a.is_cognito() || a.managed_externally || ctx.has_resource(&authorizer_permission) {
        return;
    }
    let function_name = match &a.alias {
        Some(alias) => json!({"Ref": alias}),
        None => arn.clone(),
    };
    let permission = json!({"Type": "AWS::Lambda::Permission", "Properties": {
        "FunctionName": function_name,
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": source_arn
    }});
    ctx.resources().insert(authorizer_permission, permission);
}

/// v3 `compileStage`: the REST API's access log group. The stage settings themselves (format,
/// tracing, tags) are applied with API Gateway calls after the deploy, as v3 does.
fn compile_access_log_group(ctx: &mut Ctx) {
    let provider = &ctx.service.provider;
    let Some(logs) = provider
        .logs
        .as_ref()
        .and_then(|l| l.get("restApi"))
        .filter(|v| !matches!(v, Value::Null | Value::Bool(false)))
    else {
        return;
    };
    if logs.get("accessLogging") == Some(&Value::Bool(false)) {
        return;
    }
    let name = format!("/aws/api-gateway/{}-{}", ctx.service.service, ctx.stage);
    let group = api_log_group(ctx, name);
    ctx.resources().insert("ApiGatewayLogGroup".into(), group);
}

fn compile_rest_api(ctx: &mut Ctx, api_gateway: &ApiGatewayConfig) -> Result<(), TemplateError> {
    let provider = &ctx.service.provider;
    let name = provider.api_name.clone().unwrap_or_else(|| {
        if api_gateway.should_start_name_with_service == Some(true) {
            format!("{}-{}", ctx.service.service, ctx.stage)
        } else {
            format!("{}-{}", ctx.stage, ctx.service.service)
        }
    });
    let endpoint_type = provider
        .endpoint_type
        .as_deref()
        .unwrap_or("EDGE")
        .to_uppercase();
    let mut endpoint = Map::new();
    endpoint.insert("Types".into(), json!([endpoint_type]));
    if let Some(ids) = &provider.vpc_endpoint_ids {
        if endpoint_type != "PRIVATE" {
            return Err(TemplateError::invalid(
                "provider.vpcEndpointIds",
                "VPC endpoint IDs are only available for private APIs",
            ));
        }
        endpoint.insert("VpcEndpointIds".into(), ids.clone());
    }
    let mut props = Map::new();
    props.insert("Name".into(), json!(name));
    if let Some(types) = &api_gateway.binary_media_types {
        props.insert("BinaryMediaTypes".into(), types.clone());
    }
    if let Some(d) = api_gateway.disable_default_endpoint {
        props.insert("DisableExecuteApiEndpoint".into(), json!(d));
    }
    props.insert("EndpointConfiguration".into(), Value::Object(endpoint));
    match &api_gateway.resource_policy {
        Some(statements) if !statements.is_empty() => {
            props.insert(
                "Policy".into(),
                json!({"Version": "2012-10-17", "Statement": statements}),
            );
        }
        _ => {
            props.insert("Policy".into(), json!(""));
        }
    }
    if let Some(t) = &api_gateway.api_key_source_type {
        props.insert("ApiKeySourceType".into(), json!(t.to_uppercase()));
    }
    if let Some(size) = &api_gateway.minimum_compression_size {
        props.insert("MinimumCompressionSize".into(), size.clone());
    }
    if let Some(d) = &api_gateway.description {
        props.insert("Description".into(), d.clone());
    }
    ctx.resources().insert(
        "ApiGatewayRestApi".into(),
        json!({"Type": "AWS::ApiGateway::RestApi", "Properties": props}),
    );
    Ok(())
}
