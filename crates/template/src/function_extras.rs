//! Function URLs and asynchronous invocation settings (v3 `compileFunctionUrl`,
//! `compileFunctionEventInvokeConfig`).

use serde_json::{Map, Value, json};

use crate::naming::{lambda_logical_id, normalized_function_name};
use crate::{Ctx, TemplateError};

/// v3's default CORS headers of function URLs (`url.cors: true` or no `allowedHeaders`): the
/// same list as its HTTP API default, `X-Amzn-Trace-Id` included.
const DEFAULT_URL_HEADERS: [&str; 7] = [
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
];

fn unique_strings(value: &Value) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for item in value.as_array().into_iter().flatten() {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    Value::Array(out)
}

/// `<Fn>LambdaFunctionUrl` (+ output of the same name) and, for a public URL,
/// `<Fn>LambdaPermissionFnUrl`.
pub fn compile_url(ctx: &mut Ctx, key: &str) -> Result<(), TemplateError> {
    let function = &ctx.service.functions[key];
    let Some(url) = function
        .extra
        .get("url")
        .filter(|u| !matches!(u, Value::Null | Value::Bool(false)))
    else {
        return Ok(());
    };
    let path = format!("functions.{key}.url");
    if !url.is_object() && url != &Value::Bool(true) {
        return Err(TemplateError::invalid(
            path,
            "expected true or URL settings",
        ));
    }
    let auth = if url.get("authorizer").and_then(Value::as_str) == Some("aws_iam") {
        "AWS_IAM"
    } else {
        "NONE"
    };
    let target = ctx.lambda_arn(key);
    let mut props = Map::new();
    props.insert("AuthType".into(), json!(auth));
    props.insert("TargetFunctionArn".into(), target.clone());
    if let Some(cors) = url
        .get("cors")
        .filter(|c| !matches!(c, Value::Null | Value::Bool(false)))
    {
        let setting = |name: &str, default: Option<Value>| -> Option<Value> {
            match cors.get(name) {
                Some(Value::Null) => None,
                Some(v) => Some(unique_strings(v)),
                None => default,
            }
        };
        let mut c = Map::new();
        if cors.get("allowCredentials") == Some(&Value::Bool(true)) {
            c.insert("AllowCredentials".into(), json!(true));
        }
        if let Some(v) = setting("allowedHeaders", Some(json!(DEFAULT_URL_HEADERS))) {
            c.insert("AllowHeaders".into(), v);
        }
        if let Some(v) = setting("allowedMethods", Some(json!(["*"]))) {
            c.insert("AllowMethods".into(), v);
        }
        if let Some(v) = setting("allowedOrigins", Some(json!(["*"]))) {
            c.insert("AllowOrigins".into(), v);
        }
        if let Some(v) = setting("exposedResponseHeaders", None) {
            c.insert("ExposeHeaders".into(), v);
        }
        if let Some(v) = cors.get("maxAge").filter(|v| !v.is_null()) {
            c.insert("MaxAge".into(), v.clone());
        }
        props.insert("Cors".into(), Value::Object(c));
    }
    if url.get("invokeMode").and_then(Value::as_str) == Some("RESPONSE_STREAM") {
        props.insert("InvokeMode".into(), json!("RESPONSE_STREAM"));
    }
    let id = format!("{}LambdaFunctionUrl", normalized_function_name(key));
    let alias_dep = ctx.alias_id(key).map(Value::String);
    ctx.resources().insert(
        id.clone(),
        crate::resource_then_depending("AWS::Lambda::Url", Value::Object(props), alias_dep),
    );
    ctx.outputs().insert(
        id.clone(),
        json!({"Description": "Lambda Function URL", "Value": {"Fn::GetAtt": [id, "FunctionUrl"]}}),
    );
    if auth == "NONE" {
        let alias_dep = ctx.alias_id(key).map(Value::String);
        ctx.resources().insert(
            format!("{}LambdaPermissionFnUrl", normalized_function_name(key)),
            crate::resource_then_depending(
                "AWS::Lambda::Permission",
                json!({
                "FunctionName": target, "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
                "FunctionUrlAuthType": "NONE"}),
                alias_dep,
            ),
        );
    }
    Ok(())
}

/// The ARN and IAM action of one destination (`onSuccess`/`onFailure`).
fn destination(
    ctx: &Ctx,
    value: &Value,
    path: &str,
) -> Result<(Value, &'static str, Value), TemplateError> {
    match value {
        Value::String(s) if s.starts_with("arn:") => {
            let action = if s.contains(":function:") {
                "lambda:InvokeFunction"
            } else if s.contains(":sqs:") {
                "sqs:SendMessage"
            } else if s.contains(":sns:") {
                "sns:Publish"
            } else if s.contains(":event-bus/") {
                "events:PutEvents"
            } else {
                return Err(TemplateError::invalid(
                    path,
                    format!("Unsupported destination target {s}"),
                ));
            };
            Ok((json!(s), action, json!(s)))
        }
        Value::String(name) => {
            if !ctx.service.functions.contains_key(name) {
                return Err(TemplateError::invalid(
                    path,
                    format!("function \"{name}\" is not defined in this service"),
                ));
            }
            // The role cannot reference the target with Fn::GetAtt (the role is used by the
            // target itself, which would be circular): v3 builds the ARN with Fn::Sub.
            let resource = json!({"Fn::Sub": format!(
                "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
                ctx.function_name(name)
            )});
            Ok((
                json!({"Fn::GetAtt": [lambda_logical_id(name), "Arn"]}),
                "lambda:InvokeFunction",
                resource,
            ))
        }
        Value::Object(o) => {
            let arn = o.get("arn").cloned().ok_or_else(|| {
                TemplateError::invalid(format!("{path}.arn"), "a destination needs \"arn\"")
            })?;
            let action = match o.get("type").and_then(Value::as_str) {
                Some("function") => "lambda:InvokeFunction",
                Some("sqs") => "sqs:SendMessage",
                Some("sns") => "sns:Publish",
                Some("eventBus") => "events:PutEvents",
                _ => {
                    return Err(TemplateError::invalid(
                        format!("{path}.type"),
                        "expected function, sqs, sns or eventBus",
                    ));
                }
            };
            Ok((arn.clone(), action, arn))
        }
        _ => Err(TemplateError::invalid(
            path,
            "expected an ARN, a function name or destination settings",
        )),
    }
}

/// `<Fn>LambdaEvConf` for `destinations`, `maximumEventAge`, `maximumRetryAttempts`, with the
/// role statements that let the function reach its destinations.
pub fn compile_event_invoke_config(ctx: &mut Ctx, key: &str) -> Result<(), TemplateError> {
    let function = &ctx.service.functions[key];
    let get = |name: &str| function.extra.get(name).filter(|v| !v.is_null());
    let destinations = get("destinations");
    let max_age = get("maximumEventAge");
    let max_retries = get("maximumRetryAttempts");
    if destinations.is_none() && max_age.is_none() && max_retries.is_none() {
        return Ok(());
    }
    let mut config = Map::new();
    let mut statements = Vec::new();
    let custom_role = ctx.custom_execution_role(key).is_some();
    for (name, field) in [("onSuccess", "OnSuccess"), ("onFailure", "OnFailure")] {
        if let Some(target) = destinations
            .and_then(|d| d.get(name))
            .filter(|v| !v.is_null())
        {
            let (arn, action, resource) =
                destination(ctx, target, &format!("functions.{key}.destinations.{name}"))?;
            config.insert(field.into(), json!({"Destination": arn}));
            if !custom_role {
                statements.push(json!({"Effect": "Allow", "Action": action, "Resource": resource}));
            }
        }
    }
    let mut props = Map::new();
    props.insert(
        "FunctionName".into(),
        json!({"Ref": lambda_logical_id(key)}),
    );
    props.insert("DestinationConfig".into(), Value::Object(config));
    props.insert(
        "Qualifier".into(),
        json!(ctx.alias_name(key).unwrap_or_else(|| "$LATEST".to_owned())),
    );
    if let Some(age) = max_age {
        props.insert("MaximumEventAgeInSeconds".into(), age.clone());
    }
    if let Some(retries) = max_retries {
        props.insert("MaximumRetryAttempts".into(), retries.clone());
    }
    if let Some(role) = ctx.role_statements() {
        for statement in statements {
            if !role.contains(&statement) {
                role.push(statement);
            }
        }
    }
    let alias_dep = ctx.alias_id(key).map(Value::String);
    ctx.resources().insert(
        format!("{}LambdaEvConf", normalized_function_name(key)),
        crate::resource_then_depending(
            "AWS::Lambda::EventInvokeConfig",
            Value::Object(props),
            alias_dep,
        ),
    );
    Ok(())
}
