//! REST API authorizers as v3's `getAuthorizer` normalises them.

use serde_json::{Map, Value, json};

use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

/// A REST API authorizer as v3's `getAuthorizer` normalises it.
#[derive(Clone)]
pub(super) struct Authorizer {
    pub(super) kind: Option<String>,
    pub(super) name: String,
    pub(super) arn: Option<Value>,
    pub(super) authorizer_id: Option<Value>,
    pub(super) ttl: u64,
    pub(super) identity_source: Option<String>,
    pub(super) identity_validation_expression: Option<String>,
    pub(super) scopes: Option<Value>,
    pub(super) managed_externally: bool,
    /// Alias of the local authorizer function (provisioned concurrency, SnapStart).
    pub(super) alias: Option<String>,
}

impl Authorizer {
    /// Whether this is a Cognito user pool authorizer (by type or pool ARN).
    pub(super) fn is_cognito(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("COGNITO_USER_POOLS"))
            || self
                .arn
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(is_cognito_arn)
    }

    /// `<Name>ApiGatewayAuthorizer`.
    pub(super) fn logical_id(&self) -> String {
        format!(
            "{}ApiGatewayAuthorizer",
            normalized_function_name(&self.name)
        )
    }
}

/// Whether an ARN is a Cognito user pool's.
pub(super) fn is_cognito_arn(arn: &str) -> bool {
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
pub(super) fn name_from_arn(arn: &str) -> String {
    let last = arn.rsplit(':').next().unwrap_or(arn);
    last.rsplit('-').next().unwrap_or(last).to_owned()
}

/// v3 `getAuthorizer`.
pub(super) fn parse_authorizer(
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
    let function_name = match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.eq_ignore_ascii_case("aws_iam") => {
            a.kind = Some("AWS_IAM".into());
            None
        }
        Value::String(s) if !s.contains(':') => {
            a.name = s.clone();
            Some(s.clone())
        }
        Value::String(s) => {
            a.name = name_from_arn(s);
            a.arn = Some(json!(s));
            None
        }
        Value::Object(o) => parse_settings(&mut a, o, path, proxy_integration)?,
        _ => {
            return Err(TemplateError::invalid(
                path,
                "expected a function name, an ARN or authorizer settings",
            ));
        }
    };
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

/// Authorizer settings; returns the local function it names, if any.
fn parse_settings(
    a: &mut Authorizer,
    o: &Map<String, Value>,
    path: &str,
    proxy_integration: bool,
) -> Result<Option<String>, TemplateError> {
    let function_name = parse_target(a, o, path)?;
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
    Ok(function_name)
}

/// What the settings authorize with: an existing authorizer, IAM, an ARN or a local
/// function (returned).
fn parse_target(
    a: &mut Authorizer,
    o: &Map<String, Value>,
    path: &str,
) -> Result<Option<String>, TemplateError> {
    let kind = o.get("type").and_then(Value::as_str).map(str::to_owned);
    let mut function_name = None;
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
    Ok(function_name)
}
