//! `http` events: API Gateway REST API with Lambda proxy integrations
//! (v3 `compile/events/api-gateway/*`).

use deployer_config::model::Event;
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::naming::{lambda_logical_id, normalize_path, normalized_function_name, upper_first};
use crate::{Ctx, TemplateError};

const DEFAULT_CORS_HEADERS: [&str; 7] = [
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
];
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

const LAMBDA_REQUEST_TEMPLATES: &str =
    include_str!("../../../../templates/api-gateway-lambda-request-templates.json");

/// v3's `DEFAULT_STATUS_CODES` of the Lambda (`AWS`) integration.
const DEFAULT_STATUS_CODES: [(&str, &str); 9] = [
    ("200", ""),
    ("400", "[\\s\\S]*\\[400\\][\\s\\S]*"),
    ("401", "[\\s\\S]*\\[401\\][\\s\\S]*"),
    ("403", "[\\s\\S]*\\[403\\][\\s\\S]*"),
    ("404", "[\\s\\S]*\\[404\\][\\s\\S]*"),
    ("422", "[\\s\\S]*\\[422\\][\\s\\S]*"),
    (
        "500",
        "[\\s\\S]*(Process\\s?exited\\s?before\\s?completing\\s?request|\\[500\\])[\\s\\S]*",
    ),
    ("502", "[\\s\\S]*\\[502\\][\\s\\S]*"),
    (
        "504",
        "([\\s\\S]*\\[504\\][\\s\\S]*)|(.*Task timed out after \\d+\\.\\d+ seconds$)",
    ),
];

/// A REST API authorizer as v3's `getAuthorizer` normalises it.
#[derive(Clone)]
struct Authorizer {
    kind: Option<String>,
    name: String,
    arn: Option<Value>,
    authorizer_id: Option<Value>,
    ttl: u64,
    identity_source: Option<String>,
    identity_validation_expression: Option<String>,
    scopes: Option<Value>,
    managed_externally: bool,
    /// Alias of the local authorizer function (provisioned concurrency, SnapStart).
    alias: Option<String>,
}

impl Authorizer {
    fn is_cognito(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("COGNITO_USER_POOLS"))
            || self
                .arn
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(is_cognito_arn)
    }

    fn logical_id(&self) -> String {
        format!(
            "{}ApiGatewayAuthorizer",
            normalized_function_name(&self.name)
        )
    }
}

fn is_cognito_arn(arn: &str) -> bool {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(partition, rest)| {
            partition
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '-')
                && rest.starts_with("cognito-idp")
        })
}

/// v3 `extractAuthorizerNameFromArn`: the last `-` part of the function name in the ARN.
fn name_from_arn(arn: &str) -> String {
    let last = arn.rsplit(':').next().unwrap_or(arn);
    last.rsplit('-').next().unwrap_or(last).to_owned()
}

/// v3 `getAuthorizer`.
fn parse_authorizer(
    ctx: &Ctx,
    value: &Value,
    path: &str,
    proxy_integration: bool,
) -> Result<Option<Authorizer>, TemplateError> {
    let mut a = Authorizer {
        kind: None,
        name: String::new(),
        arn: None,
        authorizer_id: None,
        ttl: 300,
        identity_source: None,
        identity_validation_expression: None,
        scopes: None,
        managed_externally: false,
        alias: None,
    };
    let mut function_name = None;
    match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.eq_ignore_ascii_case("aws_iam") => a.kind = Some("AWS_IAM".into()),
        Value::String(s) if !s.contains(':') => {
            a.name = s.clone();
            function_name = Some(s.clone());
        }
        Value::String(s) => {
            a.name = name_from_arn(s);
            a.arn = Some(json!(s));
        }
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).map(str::to_owned);
            if let (Some(kind), Some(id)) = (&kind, o.get("authorizerId")) {
                a.kind = Some(kind.clone());
                a.authorizer_id = Some(id.clone());
            } else if kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("aws_iam"))
            {
                a.kind = Some("AWS_IAM".into());
            } else if let Some(arn) = o.get("arn") {
                a.arn = Some(arn.clone());
                a.name = match (o.get("name").and_then(Value::as_str), arn) {
                    (Some(name), _) => name.to_owned(),
                    (None, Value::String(s)) => name_from_arn(s),
                    (None, _) => {
                        return Err(TemplateError::invalid(
                            format!("{path}.name"),
                            "Please provide an authorizer name for authorizers whose arn is an intrinsic function",
                        ));
                    }
                };
            } else if let Some(name) = o.get("name").and_then(Value::as_str) {
                a.name = name.to_owned();
                function_name = Some(name.to_owned());
            } else {
                return Err(TemplateError::invalid(
                    path,
                    "Please provide either an authorizer name or ARN",
                ));
            }
            if a.kind.is_none() {
                a.kind = kind;
            }
            a.ttl = match o.get("resultTtlInSeconds") {
                Some(Value::Number(n)) => n.as_u64().unwrap_or(300),
                Some(Value::String(s)) => s.parse().unwrap_or(300),
                _ => 300,
            };
            a.scopes = o.get("scopes").filter(|v| !v.is_null()).cloned();
            a.identity_source = o
                .get("identitySource")
                .and_then(Value::as_str)
                .map(str::to_owned);
            a.identity_validation_expression = o
                .get("identityValidationExpression")
                .and_then(Value::as_str)
                .map(str::to_owned);
            a.managed_externally = o.get("managedExternally") == Some(&Value::Bool(true));
            if o.get("claims")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty())
                && a.is_cognito()
                && proxy_integration
            {
                return Err(TemplateError::invalid(
                    format!("{path}.claims"),
                    "Cognito claims can only be filtered when using the lambda integration type",
                ));
            }
        }
        _ => {
            return Err(TemplateError::invalid(
                path,
                "expected a function name, an ARN or authorizer settings",
            ));
        }
    }
    if let Some(function) = function_name {
        if !ctx.service.functions.contains_key(&function) {
            return Err(TemplateError::invalid(
                path,
                format!("function \"{function}\" is not defined in this service"),
            ));
        }
        a.arn = Some(ctx.lambda_arn(&function));
        a.alias = ctx.alias_id(&function);
    }
    let is_uncached_request = a
        .kind
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("REQUEST"))
        && a.ttl == 0;
    if a.identity_source.is_none() && !is_uncached_request {
        a.identity_source = Some("method.request.header.Authorization".into());
    }
    Ok(Some(a))
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

pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let provider = &service.provider;
    let api_gateway = provider.api_gateway.clone().unwrap_or_default();

    let mut endpoints = Vec::new();
    let mut preflight: IndexMap<String, Cors> = IndexMap::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let Event::Http(http) = event else { continue };
            let path = format!("functions.{key}.events[{i}].http");
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
                    format!(
                        "You need to set the request uri when using the {integration} integration."
                    ),
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
            let mut request_parameters = Map::new();
            let mut parameter_settings = Map::new();
            if let Some(request) = &http.request {
                for (location, singular) in [
                    ("querystrings", "querystring"),
                    ("paths", "path"),
                    ("headers", "header"),
                ] {
                    if let Some(params) = request
                        .get("parameters")
                        .and_then(|p| p.get(location))
                        .and_then(Value::as_object)
                    {
                        for (name, value) in params {
                            let required = match value {
                                Value::Object(o) => {
                                    o.get("required").cloned().unwrap_or(json!(true))
                                }
                                other => other.clone(),
                            };
                            let key = format!("method.request.{singular}.{name}");
                            parameter_settings.insert(key.clone(), value.clone());
                            request_parameters.insert(key, required);
                        }
                    }
                }
                if request.get("schema").is_some_and(|v| !v.is_null()) {
                    return Err(TemplateError::invalid(
                        format!("{path}.request.schema"),
                        "use \"schemas\" (a map of content type to schema)",
                    ));
                }
            }
            let resource_path = http
                .path
                .trim_start_matches('/')
                .trim_end_matches('/')
                .to_owned();
            if let Some(cors) = http
                .cors
                .as_ref()
                .filter(|c| !matches!(c, Value::Null | Value::Bool(false)))
            {
                let event = event_cors(cors, &method);
                let merged = preflight.entry(resource_path.clone()).or_default();
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
            let event_cors = http
                .cors
                .as_ref()
                .filter(|c| !matches!(c, Value::Null | Value::Bool(false)))
                .map(|c| event_cors(c, &method));
            endpoints.push(HttpEndpoint {
                function: key,
                path: resource_path,
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
                cors: event_cors,
                is_async,
                claims,
            });
        }
    }
    if endpoints.is_empty() {
        return Ok(());
    }
    crate::events::check_api_gateway_logs_role(ctx, "restApi")?;

    let (rest_api_id, root_id) = match &api_gateway.rest_api_id {
        Some(id) => {
            let root = api_gateway.rest_api_root_resource_id.clone().ok_or_else(|| {
                TemplateError::invalid(
                    "provider.apiGateway.restApiRootResourceId",
                    "Missing required \"provider.apiGateway.restApiRootResourceId\" property (needed if \"provider.apiGateway.restApiId\" is provided)",
                )
            })?;
            (id.clone(), root)
        }
        None => {
            compile_rest_api(ctx, &api_gateway)?;
            (
                json!({"Ref": "ApiGatewayRestApi"}),
                json!({"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]}),
            )
        }
    };

    // Resources: every path prefix, depth first in the order paths first appear.
    let mut resource_ids: IndexMap<String, String> = IndexMap::new();
    let mut ordered: Vec<String> = Vec::new();
    let mut children: IndexMap<String, Vec<String>> = IndexMap::new();
    for endpoint in &endpoints {
        if endpoint.path.is_empty() {
            continue;
        }
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
    walk("", &children, &mut ordered);
    for path in &ordered {
        let id = format!("ApiGatewayResource{}", normalize_path(path));
        let (parent, part) = match path.rsplit_once('/') {
            Some((parent, part)) => (json!({"Ref": resource_ids[parent]}), part),
            None => (root_id.clone(), path.as_str()),
        };
        ctx.resources().insert(
            id.clone(),
            json!({"Type": "AWS::ApiGateway::Resource", "Properties": {
            "ParentId": parent, "PathPart": part, "RestApiId": rest_api_id}}),
        );
        resource_ids.insert(path.clone(), id);
    }
    let resource_ref = |path: &str| -> Value {
        if path.is_empty() {
            root_id.clone()
        } else {
            json!({"Ref": resource_ids[path]})
        }
    };
    let resource_name = |path: &str| -> String {
        if path.is_empty() {
            String::new()
        } else {
            normalize_path(path)
        }
    };

    let mut method_ids = Vec::new();
    for (path, cors) in &preflight {
        let id = format!("ApiGatewayMethod{}Options", resource_name(path));
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
        let method_headers: Map<String, Value> = headers
            .iter()
            .map(|(h, _)| (format!("method.response.header.{h}"), json!(true)))
            .collect();
        let integration_headers: Map<String, Value> = headers
            .iter()
            .map(|(h, v)| (format!("method.response.header.{h}"), json!(v)))
            .collect();
        let template = if origins.is_empty() {
            String::new()
        } else {
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
        };
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
            "ResourceId": resource_ref(path),
            "RestApiId": rest_api_id
        }}));
        method_ids.push(id);
    }

    for endpoint in &endpoints {
        let id = format!(
            "ApiGatewayMethod{}{}",
            resource_name(&endpoint.path),
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
        props.insert("ResourceId".into(), resource_ref(&endpoint.path));
        props.insert("RestApiId".into(), rest_api_id.clone());
        if let Some(op) = &endpoint.operation_id {
            props.insert("OperationName".into(), json!(op));
        }
        props.insert("ApiKeyRequired".into(), json!(endpoint.private));
        let mut depends_on = vec![json!(permission)];
        if let Some(alias) = ctx.alias_id(endpoint.function) {
            depends_on.push(json!(alias));
        }
        match &endpoint.authorizer {
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
                    && let Some(scopes) = a
                        .scopes
                        .as_ref()
                        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
                {
                    props.insert("AuthorizationScopes".into(), scopes.clone());
                }
            }
            Some(a) => {
                // v3 lodash-merges the method's `DependsOn: [permission]` with the
                // authorizer's `DependsOn: [authorizer]` index by index: the authorizer wins.
                depends_on[0] = json!(a.logical_id());
                if a.is_cognito() {
                    props.insert("AuthorizationType".into(), json!("COGNITO_USER_POOLS"));
                    props.insert("AuthorizerId".into(), json!({"Ref": a.logical_id()}));
                    if let Some(scopes) = a
                        .scopes
                        .as_ref()
                        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
                    {
                        props.insert("AuthorizationScopes".into(), scopes.clone());
                    }
                } else {
                    props.insert("AuthorizationType".into(), json!("CUSTOM"));
                    props.insert("AuthorizerId".into(), json!({"Ref": a.logical_id()}));
                }
            }
        }
        let (integration, method_responses) = integration_and_responses(ctx, endpoint)?;
        props.insert("Integration".into(), Value::Object(integration));
        props.insert("MethodResponses".into(), method_responses);
        ctx.resources().insert(id.clone(), json!({"Type": "AWS::ApiGateway::Method", "Properties": props, "DependsOn": depends_on}));
        method_ids.push(id);
    }
    compile_request_validators(ctx, &endpoints, &rest_api_id, &api_gateway)?;
    compile_authorizers_and_rest(ctx, &endpoints, &rest_api_id, method_ids, &api_gateway)
}

/// The method's `Integration` and `MethodResponses` (v3 `getMethodIntegration`,
/// `getMethodResponses`, with `validate`'s request/response defaults).
fn integration_and_responses(
    ctx: &Ctx,
    endpoint: &HttpEndpoint,
) -> Result<(Map<String, Value>, Value), TemplateError> {
    let kind = endpoint.integration.as_str();
    let mut integration = Map::new();
    integration.insert("IntegrationHttpMethod".into(), json!("POST"));
    integration.insert("Type".into(), json!(kind));
    if let Some(t) = endpoint.timeout {
        integration.insert("TimeoutInMillis".into(), json!(t));
    }
    let request = endpoint.request.clone().unwrap_or(Value::Null);
    if kind == "AWS" || kind == "AWS_PROXY" {
        let mut uri = vec![
            json!("arn:"),
            json!({"Ref": "AWS::Partition"}),
            json!(":apigateway:"),
            json!({"Ref": "AWS::Region"}),
            json!(":lambda:path/2015-03-31/functions/"),
            json!({"Fn::GetAtt": [lambda_logical_id(endpoint.function), "Arn"]}),
        ];
        if let Some(alias) = ctx.alias_name(endpoint.function) {
            uri.push(json!(":"));
            uri.push(json!(alias));
        }
        uri.push(json!("/invocations"));
        integration.insert("Uri".into(), json!({"Fn::Join": ["", uri]}));
    } else if kind == "HTTP" || kind == "HTTP_PROXY" {
        integration.insert(
            "Uri".into(),
            request.get("uri").cloned().unwrap_or(Value::Null),
        );
        let method = request
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or(&endpoint.method)
            .to_uppercase();
        integration.insert("IntegrationHttpMethod".into(), json!(method));
    }

    // Lambda and HTTP integrations get v3's request/response defaults; MOCK uses the
    // settings as written.
    let response = match kind {
        "AWS" => Some(with_default_status_codes(endpoint.response.as_ref(), true)),
        "HTTP" => endpoint
            .response
            .as_ref()
            .map(|r| with_default_status_codes(Some(r), false)),
        "MOCK" => endpoint.response.clone(),
        _ => None,
    };
    if matches!(kind, "AWS" | "HTTP" | "MOCK") {
        let pass_through = request
            .get("passThrough")
            .cloned()
            .or_else(|| (kind == "AWS").then(|| json!("NEVER")));
        if let Some(p) = pass_through {
            integration.insert("PassthroughBehavior".into(), p);
        }
        if let Some(c) = request.get("contentHandling").filter(|v| !v.is_null()) {
            integration.insert("ContentHandling".into(), c.clone());
        }
        if let Some(templates) = request_templates(&request, kind == "AWS", &endpoint.claims) {
            integration.insert("RequestTemplates".into(), templates);
        }
        integration.insert(
            "IntegrationResponses".into(),
            integration_responses(response.as_ref(), endpoint.cors.as_ref()),
        );
    }
    let parameters = request
        .get("parameters")
        .and_then(Value::as_object)
        .filter(|p| !p.is_empty());
    if (matches!(kind, "AWS" | "HTTP" | "HTTP_PROXY") && parameters.is_some()) || endpoint.is_async
    {
        let mut mapped = Map::new();
        for (key, value) in &endpoint.parameter_settings {
            let target = format!("integration.{}", key.strip_prefix("method.").unwrap_or(key));
            let source = value
                .get("mappedValue")
                .cloned()
                .unwrap_or_else(|| json!(key));
            mapped.insert(target, source);
        }
        if endpoint.is_async {
            mapped.insert(
                "integration.request.header.X-Amz-Invocation-Type".into(),
                json!("'Event'"),
            );
        }
        integration.insert("RequestParameters".into(), Value::Object(mapped));
    }
    let method_responses = if matches!(kind, "AWS" | "HTTP" | "MOCK") {
        method_responses(response.as_ref(), endpoint.cors.as_ref())
    } else {
        json!([])
    };
    Ok((integration, method_responses))
}

/// v3 `getResponse`: status codes sorted like a JavaScript object with integer keys, a `200`
/// with an empty pattern added when none has one; the Lambda integration defaults to v3's
/// status codes when no response is configured.
fn with_default_status_codes(response: Option<&Value>, lambda: bool) -> Value {
    let mut out = response
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let defaults = || -> Map<String, Value> {
        DEFAULT_STATUS_CODES
            .iter()
            .map(|(code, pattern)| ((*code).to_owned(), json!({"pattern": pattern})))
            .collect()
    };
    if response.is_none() && !lambda {
        return Value::Object(out);
    }
    let codes = match out.get("statusCodes").and_then(Value::as_object) {
        Some(codes) => {
            let mut codes = codes.clone();
            if !codes.values().any(|c| c.get("pattern") == Some(&json!(""))) {
                codes.insert("200".into(), json!({"pattern": ""}));
            }
            codes
        }
        None => defaults(),
    };
    let mut keys: Vec<&String> = codes.keys().collect();
    keys.sort_by_key(|k| k.parse::<u32>().unwrap_or(u32::MAX));
    let sorted: Map<String, Value> = keys
        .into_iter()
        .map(|k| (k.clone(), codes[k].clone()))
        .collect();
    out.insert("statusCodes".into(), Value::Object(sorted));
    Value::Object(out)
}

fn header_params(headers: &Map<String, Value>) -> Map<String, Value> {
    headers
        .iter()
        .map(|(h, v)| (format!("method.response.header.{h}"), v.clone()))
        .collect()
}

/// The CORS response headers of a non-proxy integration (`'<origin>'`, credentials).
fn cors_response_headers(cors: Option<&Cors>) -> Map<String, Value> {
    let mut headers = Map::new();
    if let Some(cors) = cors {
        let origin = if cors.origins.is_empty() {
            cors.origin.clone().unwrap_or_default()
        } else {
            cors.origins.join(",")
        };
        headers.insert(
            "Access-Control-Allow-Origin".into(),
            json!(format!("'{origin}'")),
        );
        if cors.allow_credentials {
            headers.insert("Access-Control-Allow-Credentials".into(), json!("true"));
        }
    }
    headers
}

fn integration_responses(response: Option<&Value>, cors: Option<&Cors>) -> Value {
    let Some(response) = response else {
        return json!([]);
    };
    let mut headers = cors_response_headers(cors);
    if let Some(extra) = response.get("headers").and_then(Value::as_object) {
        headers.extend(extra.clone());
    }
    let mut out = Vec::new();
    for (code, config) in response
        .get("statusCodes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut parameters = header_params(&headers);
        if let Some(h) = config.get("headers").and_then(Value::as_object) {
            parameters.extend(header_params(h));
        }
        let mut templates = Map::new();
        if let Some(t) = response.get("template").filter(|v| !v.is_null()) {
            templates.insert("application/json".into(), t.clone());
        }
        match config.get("template") {
            Some(Value::String(t)) => {
                templates.insert("application/json".into(), json!(t));
            }
            Some(Value::Object(t)) => templates.extend(t.clone()),
            _ => {}
        }
        let mut item = Map::new();
        item.insert("StatusCode".into(), json!(code));
        item.insert(
            "SelectionPattern".into(),
            config
                .get("pattern")
                .cloned()
                .filter(|p| !p.is_null())
                .unwrap_or_else(|| json!("")),
        );
        item.insert("ResponseParameters".into(), Value::Object(parameters));
        item.insert("ResponseTemplates".into(), Value::Object(templates));
        if code.starts_with('2')
            && let Some(c) = response.get("contentHandling").filter(|v| !v.is_null())
        {
            item.insert("ContentHandling".into(), c.clone());
        }
        out.push(Value::Object(item));
    }
    Value::Array(out)
}

fn method_responses(response: Option<&Value>, cors: Option<&Cors>) -> Value {
    let Some(response) = response else {
        return json!([]);
    };
    let mut headers = cors_response_headers(cors);
    if let Some(extra) = response.get("headers").and_then(Value::as_object) {
        headers.extend(extra.clone());
    }
    let flags = |h: &Map<String, Value>| -> Map<String, Value> {
        h.keys()
            .map(|k| (format!("method.response.header.{k}"), json!(true)))
            .collect()
    };
    let mut out = Vec::new();
    for (code, config) in response
        .get("statusCodes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut parameters = flags(&headers);
        if let Some(h) = config.get("headers").and_then(Value::as_object) {
            parameters.extend(flags(h));
        }
        out.push(
            json!({"ResponseParameters": parameters, "ResponseModels": {}, "StatusCode": code}),
        );
    }
    Value::Array(out)
}

/// v3 `getIntegrationRequestTemplates`: the Lambda defaults (with Cognito claims filled in),
/// then `request.template` (`null` removes a content type).
fn request_templates(request: &Value, lambda: bool, claims: &[String]) -> Option<Value> {
    let mut templates = Map::new();
    if lambda {
        let defaults: Map<String, Value> =
            serde_json::from_str(LAMBDA_REQUEST_TEMPLATES).expect("request templates are JSON");
        templates = defaults;
    }
    if let Some(custom) = request.get("template").and_then(Value::as_object) {
        for (content_type, template) in custom {
            if template.is_null() {
                templates.shift_remove(content_type);
            } else {
                templates.insert(content_type.clone(), template.clone());
            }
        }
    }
    // v3 replaces the `extraCognitoPoolClaims` placeholder in every template.
    let claims_text = if claims.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = claims
            .iter()
            .map(|claim| match claim.split_once(':') {
                Some((_, sub)) => format!("\"{sub}\": \"$context.authorizer.claims['{claim}']\""),
                None => format!("\"{claim}\": \"$context.authorizer.claims.{claim}\""),
            })
            .collect();
        format!("{},", parts.join(","))
    };
    for template in templates.values_mut() {
        if let Some(text) = template.as_str() {
            *template = json!(text.replacen("extraCognitoPoolClaims", &claims_text, 1));
        }
    }
    (!templates.is_empty()).then_some(Value::Object(templates))
}

fn compile_authorizers_and_rest(
    ctx: &mut Ctx,
    endpoints: &[HttpEndpoint],
    rest_api_id: &Value,
    method_ids: Vec<String>,
    api_gateway: &deployer_config::model::ApiGatewayConfig,
) -> Result<(), TemplateError> {
    for endpoint in endpoints {
        let Some(a) = &endpoint.authorizer else {
            continue;
        };
        let Some(arn) = &a.arn else { continue };
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
    compile_api_keys_and_usage_plans(ctx, api_gateway, rest_api_id, &deployment_id)?;

    for endpoint in endpoints {
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
                "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":execute-api:",
                    {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":", rest_api_id, "/*/*"]]}
            }),
            ctx.alias_id(endpoint.function).map(Value::String),
        );
        ctx.resources().insert(id, permission);
        let Some(a) = &endpoint.authorizer else {
            continue;
        };
        let Some(arn) = &a.arn else { continue };
        let authorizer_permission = format!(
            "{}LambdaPermissionApiGateway",
            normalized_function_name(&a.name)
        );
        if a.is_cognito() || a.managed_externally || ctx.has_resource(&authorizer_permission) {
            continue;
        }
        let function_name = match &a.alias {
            Some(alias) => json!({"Ref": alias}),
            None => arn.clone(),
        };
        let permission = json!({"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": function_name,
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":execute-api:",
                {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":", rest_api_id, "/*/*"]]}
        }});
        ctx.resources().insert(authorizer_permission, permission);
    }
    compile_access_log_group(ctx);
    Ok(())
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
    let mut props = Map::new();
    props.insert(
        "LogGroupName".into(),
        json!(format!(
            "/aws/api-gateway/{}-{}",
            ctx.service.service, ctx.stage
        )),
    );
    if let Some(days) = provider.log_retention_in_days {
        props.insert("RetentionInDays".into(), json!(days));
    }
    if let Some(policy) = &provider.log_data_protection_policy {
        props.insert("DataProtectionPolicy".into(), policy.clone());
    }
    ctx.resources().insert(
        "ApiGatewayLogGroup".into(),
        json!({"Type": "AWS::Logs::LogGroup", "Properties": props}),
    );
}

fn compile_rest_api(
    ctx: &mut Ctx,
    api_gateway: &deployer_config::model::ApiGatewayConfig,
) -> Result<(), TemplateError> {
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

fn api_key_id(number: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!(
            "ApiGatewayApiKey{}{number}",
            crate::naming::upper_first(name)
        ),
        None => format!("ApiGatewayApiKey{number}"),
    }
}

fn usage_plan_id(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("ApiGatewayUsagePlan{}", crate::naming::upper_first(name)),
        None => "ApiGatewayUsagePlan".to_owned(),
    }
}

/// `ApiGatewayApiKey*`, `ApiGatewayUsagePlan*`, `ApiGatewayUsagePlanKey*` (v3 `api-keys.js`,
/// `usage-plan.js`, `usage-plan-keys.js`).
fn compile_api_keys_and_usage_plans(
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

/// lodash `words` for ASCII text: runs of lower case letters (with one leading capital),
/// runs of capitals, runs of digits.
fn lodash_words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            words.push(chars[start..i].iter().collect());
        } else if c.is_ascii_uppercase() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_uppercase() {
                i += 1;
            }
            if i < chars.len() && chars[i].is_ascii_lowercase() {
                // "APIModel": "API" then "Model".
                if i - start > 1 {
                    words.push(chars[start..i - 1].iter().collect());
                }
                let word_start = i - 1;
                while i < chars.len() && chars[i].is_ascii_lowercase() {
                    i += 1;
                }
                words.push(chars[word_start..i].iter().collect());
            } else {
                words.push(chars[start..i].iter().collect());
            }
        } else if c.is_ascii_lowercase() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                i += 1;
            }
            words.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    words
}

/// lodash `startCase` without spaces (`application/json` → `ApplicationJson`).
fn start_case(text: &str) -> String {
    lodash_words(text).iter().map(|w| upper_first(w)).collect()
}

/// lodash `upperFirst(camelCase(text))` (`post-create` → `PostCreate`).
fn pascal_case(text: &str) -> String {
    lodash_words(text)
        .iter()
        .map(|w| upper_first(&w.to_lowercase()))
        .collect()
}

/// Request validation (v3 `request-validator.js`): `ApiGateway<Service>RequestValidator` for
/// endpoints with required parameters or body schemas, and their `AWS::ApiGateway::Model`s.
fn compile_request_validators(
    ctx: &mut Ctx,
    endpoints: &[HttpEndpoint],
    rest_api_id: &Value,
    api_gateway: &deployer_config::model::ApiGatewayConfig,
) -> Result<(), TemplateError> {
    let validator_id = format!(
        "ApiGateway{}RequestValidator",
        crate::naming::normalize_alnum(&ctx.service.service)
    );
    let provider_schemas = api_gateway
        .extra
        .get("request")
        .and_then(|r| r.get("schemas"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let provider_model_api = if api_gateway.rest_api_id.is_some() {
        rest_api_id.clone()
    } else {
        json!({"Ref": "ApiGatewayRestApi"})
    };
    for endpoint in endpoints {
        let method_id = format!(
            "ApiGatewayMethod{}{}",
            if endpoint.path.is_empty() {
                String::new()
            } else {
                normalize_path(&endpoint.path)
            },
            upper_first(&endpoint.method)
        );
        let needs_parameters = endpoint.request_parameters.values().any(|v| match v {
            Value::Bool(b) => *b,
            Value::Null => false,
            _ => true,
        });
        let schemas = endpoint
            .request
            .as_ref()
            .and_then(|r| r.get("schemas"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if !needs_parameters && schemas.is_empty() {
            continue;
        }
        if !ctx.has_resource(&validator_id) {
            let name = format!(
                "{}-{} | Validate request body and querystring parameters",
                ctx.service.service, ctx.stage
            );
            ctx.resources().insert(
                validator_id.clone(),
                json!({"Type": "AWS::ApiGateway::RequestValidator", "Properties": {
                    "RestApiId": rest_api_id, "ValidateRequestBody": true,
                    "ValidateRequestParameters": true, "Name": name}}),
            );
        }
        let mut models = Map::new();
        for (content_type, config) in &schemas {
            let model_id = match config
                .as_str()
                .and_then(|id| provider_schemas.get(id).map(|s| (id, s)))
            {
                Some((schema_id, settings)) => {
                    let model_id = format!("ApiGateway{}Model", pascal_case(schema_id));
                    let mut props = Map::new();
                    props.insert("RestApiId".into(), provider_model_api.clone());
                    props.insert(
                        "Schema".into(),
                        settings
                            .get("schema")
                            .filter(|v| !v.is_null())
                            .cloned()
                            .unwrap_or_else(|| settings.clone()),
                    );
                    props.insert("ContentType".into(), json!("application/json"));
                    if let Some(name) = settings
                        .get("name")
                        .filter(|v| !v.is_null() && v != &&json!(""))
                    {
                        props.insert("Name".into(), name.clone());
                    }
                    if let Some(d) = settings
                        .get("description")
                        .filter(|v| !v.is_null() && v != &&json!(""))
                    {
                        props.insert("Description".into(), d.clone());
                    }
                    ctx.resources().insert(
                        model_id.clone(),
                        json!({"Type": "AWS::ApiGateway::Model", "Properties": props}),
                    );
                    model_id
                }
                None => {
                    let (name, description, schema) = match config {
                        Value::Object(o) if o.get("schema").is_some_and(|s| !s.is_null()) => (
                            o.get("name").cloned(),
                            o.get("description").cloned(),
                            o["schema"].clone(),
                        ),
                        other => (None, None, other.clone()),
                    };
                    let model_id = format!("{method_id}{}Model", start_case(content_type));
                    let mut props = Map::new();
                    props.insert("RestApiId".into(), rest_api_id.clone());
                    props.insert("ContentType".into(), json!(content_type));
                    props.insert("Schema".into(), schema);
                    if let Some(n) = name.filter(|v| !v.is_null()) {
                        props.insert("Name".into(), n);
                    }
                    if let Some(d) = description.filter(|v| !v.is_null()) {
                        props.insert("Description".into(), d);
                    }
                    ctx.resources().insert(
                        model_id.clone(),
                        json!({"Type": "AWS::ApiGateway::Model", "Properties": props}),
                    );
                    model_id
                }
            };
            models.insert(content_type.clone(), json!({"Ref": model_id}));
        }
        if let Some(props) = ctx.resources()[&method_id]["Properties"].as_object_mut() {
            props.insert("RequestValidatorId".into(), json!({"Ref": validator_id}));
            if !models.is_empty() {
                let entry = props.entry("RequestModels").or_insert_with(|| json!({}));
                if let Some(existing) = entry.as_object_mut() {
                    existing.extend(models);
                }
            }
        }
    }
    Ok(())
}
