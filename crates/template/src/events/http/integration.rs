//! Method integrations and responses (v3 `method/integration.js`, `method/responses.js`, and
//! the request/response defaults of `validate.js`).

use serde_json::{Map, Value, json};

use super::{Cors, HttpEndpoint};
use crate::naming::lambda_logical_id;
use crate::{Ctx, TemplateError};

/// v3's request templates of the `lambda` integration.
pub(super) const LAMBDA_REQUEST_TEMPLATES: &str =
    include_str!("../../../../../templates/api-gateway-lambda-request-templates.json");

/// v3's `DEFAULT_STATUS_CODES` of the Lambda (`AWS`) integration.
pub(super) const DEFAULT_STATUS_CODES: [(&str, &str); 9] = [
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

/// The method's `Integration` and `MethodResponses` (v3 `getMethodIntegration`,
/// `getMethodResponses`, with `validate`'s request/response defaults).
pub(super) fn integration_and_responses(
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
pub(super) fn with_default_status_codes(response: Option<&Value>, lambda: bool) -> Value {
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

/// Response headers as `method.response.header.<name>` parameters.
pub(super) fn header_params(headers: &Map<String, Value>) -> Map<String, Value> {
    headers
        .iter()
        .map(|(h, v)| (format!("method.response.header.{h}"), v.clone()))
        .collect()
}

/// The CORS response headers of a non-proxy integration (`'<origin>'`, credentials).
pub(super) fn cors_response_headers(cors: Option<&Cors>) -> Map<String, Value> {
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

/// The `IntegrationResponses` of a non-proxy integration.
pub(super) fn integration_responses(response: Option<&Value>, cors: Option<&Cors>) -> Value {
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

/// The `MethodResponses` of a non-proxy integration.
pub(super) fn method_responses(response: Option<&Value>, cors: Option<&Cors>) -> Value {
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
pub(super) fn request_templates(request: &Value, lambda: bool, claims: &[String]) -> Option<Value> {
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
