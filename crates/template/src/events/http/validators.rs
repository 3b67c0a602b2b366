//! Request validation (v3 `request-validator.js`).

use serde_json::{Map, Value, json};

use super::HttpEndpoint;
use crate::naming::{normalize_path, upper_first};
use crate::{Ctx, TemplateError};

/// lodash `words` for ASCII text: runs of lower case letters (with one leading capital),
/// runs of capitals, runs of digits.
pub(super) fn lodash_words(text: &str) -> Vec<String> {
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
pub(super) fn start_case(text: &str) -> String {
    lodash_words(text).iter().map(|w| upper_first(w)).collect()
}

/// lodash `upperFirst(camelCase(text))` (`post-create` → `PostCreate`).
pub(super) fn pascal_case(text: &str) -> String {
    lodash_words(text)
        .iter()
        .map(|w| upper_first(&w.to_lowercase()))
        .collect()
}

/// Where the models of one REST API go.
struct Models<'a> {
    rest_api_id: &'a Value,
    /// The API of models from `provider.apiGateway.request.schemas`.
    provider_model_api: Value,
    provider_schemas: Map<String, Value>,
}

/// Request validation (v3 `request-validator.js`): `ApiGateway<Service>RequestValidator` for
/// endpoints with required parameters or body schemas, and their `AWS::ApiGateway::Model`s.
pub(super) fn compile_request_validators(
    ctx: &mut Ctx,
    endpoints: &[HttpEndpoint],
    rest_api_id: &Value,
    api_gateway: &deployer_config::model::ApiGatewayConfig,
) -> Result<(), TemplateError> {
    let validator_id = format!(
        "ApiGateway{}RequestValidator",
        crate::naming::normalize_alnum(&ctx.service.service)
    );
    let models = Models {
        rest_api_id,
        provider_model_api: if api_gateway.rest_api_id.is_some() {
            rest_api_id.clone()
        } else {
            json!({"Ref": "ApiGatewayRestApi"})
        },
        provider_schemas: api_gateway
            .extra
            .get("request")
            .and_then(|r| r.get("schemas"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    };
    for endpoint in endpoints {
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
            compile_validator(ctx, &validator_id, rest_api_id);
        }
        validate_method(ctx, &models, endpoint, &schemas, &validator_id);
    }
    Ok(())
}

/// `ApiGateway<Service>RequestValidator`: validates bodies and parameters.
fn compile_validator(ctx: &mut Ctx, validator_id: &str, rest_api_id: &Value) {
    let name = format!(
        "{}-{} | Validate request body and querystring parameters",
        ctx.service.service, ctx.stage
    );
    ctx.resources().insert(
        validator_id.to_owned(),
        json!({"Type": "AWS::ApiGateway::RequestValidator", "Properties": {
            "RestApiId": rest_api_id, "ValidateRequestBody": true,
            "ValidateRequestParameters": true, "Name": name}}),
    );
}

/// Adds the validator and the body models to an endpoint's method.
fn validate_method(
    ctx: &mut Ctx,
    models: &Models,
    endpoint: &HttpEndpoint,
    schemas: &Map<String, Value>,
    validator_id: &str,
) {
    let method_id = format!(
        "ApiGatewayMethod{}{}",
        if endpoint.path.is_empty() {
            String::new()
        } else {
            normalize_path(&endpoint.path)
        },
        upper_first(&endpoint.method)
    );
    let mut request_models = Map::new();
    for (content_type, config) in schemas {
        let provider_schema = config
            .as_str()
            .and_then(|id| models.provider_schemas.get(id).map(|s| (id, s)));
        let (model_id, model) = match provider_schema {
            Some((schema_id, settings)) => provider_model(models, schema_id, settings),
            None => endpoint_model(models, &method_id, content_type, config),
        };
        ctx.resources().insert(model_id.clone(), model);
        request_models.insert(content_type.clone(), json!({"Ref": model_id}));
    }
    if let Some(props) = ctx.resources()[&method_id]["Properties"].as_object_mut() {
        props.insert("RequestValidatorId".into(), json!({"Ref": validator_id}));
        if !request_models.is_empty() {
            let entry = props.entry("RequestModels").or_insert_with(|| json!({}));
            if let Some(existing) = entry.as_object_mut() {
                existing.extend(request_models);
            }
        }
    }
}

/// `ApiGateway<Schema>Model`: a model named in `provider.apiGateway.request.schemas`.
fn provider_model(models: &Models, schema_id: &str, settings: &Value) -> (String, Value) {
    let model_id = format!("ApiGateway{}Model", pascal_case(schema_id));
    let mut props = Map::new();
    props.insert("RestApiId".into(), models.provider_model_api.clone());
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
    (
        model_id,
        json!({"Type": "AWS::ApiGateway::Model", "Properties": props}),
    )
}

/// `<Method><ContentType>Model`: a schema written on the event.
fn endpoint_model(
    models: &Models,
    method_id: &str,
    content_type: &str,
    config: &Value,
) -> (String, Value) {
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
    props.insert("RestApiId".into(), models.rest_api_id.clone());
    props.insert("ContentType".into(), json!(content_type));
    props.insert("Schema".into(), schema);
    if let Some(n) = name.filter(|v| !v.is_null()) {
        props.insert("Name".into(), n);
    }
    if let Some(d) = description.filter(|v| !v.is_null()) {
        props.insert("Description".into(), d);
    }
    (
        model_id,
        json!({"Type": "AWS::ApiGateway::Model", "Properties": props}),
    )
}
