//! `cognitoUserPool` events on pools the stack creates (v3 `cognito-user-pool.js`,
//! `newCognitoUserPools`).

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::settings::other_events;
use crate::naming::{lambda_logical_id, normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

const CUSTOM_SENDERS: [&str; 2] = ["CustomSMSSender", "CustomEmailSender"];
const TRIGGERS: [&str; 12] = [
    "PreSignUp",
    "PostConfirmation",
    "PreAuthentication",
    "PostAuthentication",
    "PreTokenGeneration",
    "CustomMessage",
    "DefineAuthChallenge",
    "CreateAuthChallenge",
    "VerifyAuthChallengeResponse",
    "UserMigration",
    "CustomSMSSender",
    "CustomEmailSender",
];

struct Trigger<'a> {
    function: &'a str,
    pool: String,
    trigger: String,
    kms_key_id: Option<Value>,
}

/// Compiles every `cognitoUserPool` event: one pool per pool name with its triggers, then
/// each trigger's permission.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let mut triggers = Vec::new();
    for key in service.functions.keys() {
        for (i, value) in other_events(service, "cognitoUserPool", key) {
            let path = format!("functions.{key}.events[{i}].cognitoUserPool");
            triggers.push(parse_trigger(key, value, &path)?);
        }
    }
    let mut pools: IndexMap<&str, Vec<&Trigger>> = IndexMap::new();
    for trigger in &triggers {
        pools
            .entry(trigger.pool.as_str())
            .or_default()
            .push(trigger);
    }
    for (pool, pool_triggers) in &pools {
        let resource = user_pool(ctx, pool, pool_triggers)?;
        ctx.resources().insert(
            format!("CognitoUserPool{}", normalize_alnum(pool)),
            resource,
        );
    }
    for t in &triggers {
        compile_permission(ctx, t);
    }
    Ok(())
}

/// One event, checked.
fn parse_trigger<'a>(
    function: &'a str,
    value: &Value,
    path: &str,
) -> Result<Trigger<'a>, TemplateError> {
    if value.get("existing") == Some(&Value::Bool(true)) {
        return Err(TemplateError::unsupported(
            format!("{path}.existing"),
            "cognitoUserPool events on existing pools (they need Serverless' custom resources)",
        ));
    }
    let pool = value.get("pool").and_then(Value::as_str).ok_or_else(|| {
        TemplateError::invalid(
            format!("{path}.pool"),
            "a cognitoUserPool event needs \"pool\"",
        )
    })?;
    let trigger = value
        .get("trigger")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !TRIGGERS.contains(&trigger) {
        return Err(TemplateError::invalid(
            format!("{path}.trigger"),
            format!("expected one of {}", TRIGGERS.join(", ")),
        ));
    }
    Ok(Trigger {
        function,
        pool: pool.to_owned(),
        trigger: trigger.to_owned(),
        kms_key_id: value.get("kmsKeyId").filter(|v| !v.is_null()).cloned(),
    })
}

/// `CognitoUserPool<Pool>` with its `LambdaConfig`; custom senders need one KMS key.
fn user_pool(ctx: &Ctx, pool: &str, triggers: &[&Trigger]) -> Result<Value, TemplateError> {
    let mut config = Map::new();
    let mut kms: Option<&Value> = None;
    for t in triggers {
        let target = ctx.lambda_arn(t.function);
        if !CUSTOM_SENDERS.contains(&t.trigger.as_str()) {
            config.insert(t.trigger.clone(), target);
            continue;
        }
        let Some(key) = &t.kms_key_id else {
            return Err(TemplateError::invalid(
                format!("functions.{}.events", t.function),
                format!(
                    "KMS Key must be set when using a Custom Sender Source Trigger (CustomSMSSender and/or CustomEmailSender). Affected Cognito User Pool: \"{pool}\"."
                ),
            ));
        };
        if kms.is_some_and(|k| k != key) {
            return Err(TemplateError::invalid(
                format!("functions.{}.events", t.function),
                format!(
                    "Only one KMS Key for can be configured per Cognito User Pool. Affected Cognito User Pool: \"{pool}\"."
                ),
            ));
        }
        kms = Some(key);
        config.insert(
            t.trigger.clone(),
            json!({"LambdaArn": target, "LambdaVersion": "V1_0"}),
        );
        config.insert("KMSKeyID".into(), key.clone());
    }
    let depends_on: Vec<Value> = triggers
        .iter()
        .map(|t| {
            json!(
                ctx.alias_id(t.function)
                    .unwrap_or_else(|| lambda_logical_id(t.function))
            )
        })
        .collect();
    Ok(json!({"Type": "AWS::Cognito::UserPool",
           "Properties": {"UserPoolName": pool, "LambdaConfig": config},
           "DependsOn": depends_on}))
}

/// `<Fn>LambdaPermissionCognitoUserPool<Pool>TriggerSource<Trigger>`.
fn compile_permission(ctx: &mut Ctx, t: &Trigger) {
    let pool_id = format!("CognitoUserPool{}", normalize_alnum(&t.pool));
    let alias = ctx.alias_id(t.function).map(Value::String);
    let target = ctx.lambda_arn(t.function);
    ctx.resources().insert(
        format!(
            "{}LambdaPermissionCognitoUserPool{}TriggerSource{}",
            normalized_function_name(t.function),
            normalize_alnum(&t.pool),
            normalize_alnum(&t.trigger)
        ),
        crate::resource_depending(
            "AWS::Lambda::Permission",
            alias,
            json!({"FunctionName": target, "Action": "lambda:InvokeFunction",
                   "Principal": "cognito-idp.amazonaws.com", "SourceArn": {"Fn::GetAtt": [pool_id, "Arn"]}}),
        ),
    );
}
