//! `s3` events that create their bucket (v3 `compile/events/s3/index.js`, `newS3Buckets`).

use deployer_config::model::{Event, S3Event};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::naming::{normalize_alnum, normalized_function_name, upper_first};
use crate::{Ctx, TemplateError};

/// The buckets the events create, by bucket name: the bucket reference used in logical IDs
/// and the Lambda notifications.
type Buckets = IndexMap<String, (String, Vec<Value>)>;

/// Compiles every `s3` event: one bucket per bucket name with its notifications, then each
/// function's permission.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let mut buckets: Buckets = IndexMap::new();
    let mut enabled: Vec<(&String, String)> = Vec::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let Event::S3(s3) = event else { continue };
            let path = format!("functions.{key}.events[{i}].s3");
            let (bucket_name, id_ref, configuration) = lambda_configuration(ctx, key, s3, &path)?;
            buckets
                .entry(bucket_name.clone())
                .or_insert_with(|| (id_ref, Vec::new()))
                .1
                .push(configuration);
            enabled.push((key, bucket_name));
        }
    }
    for (bucket_name, (id_ref, configurations)) in &buckets {
        let resource = bucket(ctx, bucket_name, id_ref, configurations, &enabled);
        ctx.resources()
            .insert(format!("S3Bucket{}", normalize_alnum(id_ref)), resource);
    }
    for (key, bucket_name) in &enabled {
        compile_permission(ctx, key, bucket_name, &buckets[bucket_name].0);
    }
    Ok(())
}

/// One event's bucket name, bucket reference and `LambdaConfigurations` entry.
fn lambda_configuration(
    ctx: &Ctx,
    key: &str,
    s3: &S3Event,
    path: &str,
) -> Result<(String, String, Value), TemplateError> {
    let provider_s3 = ctx.service.provider.s3.as_ref();
    if s3.existing == Some(true) {
        return Err(TemplateError::unsupported(
            format!("{path}.existing"),
            "s3 events on existing buckets (they need Serverless' custom resources)",
        ));
    }
    let Value::String(bucket_ref) = &s3.bucket else {
        return Err(TemplateError::invalid(
            format!("{path}.bucket"),
            "When specifying \"s3.bucket\" with CloudFormation intrinsic function, you need to specify that the bucket is existing via \"existing: true\" property.",
        ));
    };
    let bucket_name = provider_s3
        .and_then(|p| p.get(bucket_ref))
        .map(|b| {
            b.get("name")
                .and_then(Value::as_str)
                .unwrap_or(bucket_ref)
                .to_owned()
        })
        .unwrap_or_else(|| bucket_ref.clone());
    let mut configuration = Map::new();
    configuration.insert(
        "Event".to_owned(),
        json!(s3.event.as_deref().unwrap_or("s3:ObjectCreated:*")),
    );
    configuration.insert("Function".to_owned(), ctx.lambda_arn(key));
    if !s3.rules.is_empty() {
        let rules: Vec<Value> = s3
            .rules
            .iter()
            .filter_map(|rule| rule.iter().next())
            .map(|(name, value)| json!({"Name": name, "Value": value}))
            .collect();
        configuration.insert("Filter".to_owned(), json!({"S3Key": {"Rules": rules}}));
    }
    let id_ref = if provider_s3.is_some_and(|p| p.contains_key(bucket_ref)) {
        bucket_ref.clone()
    } else {
        bucket_name.clone()
    };
    Ok((bucket_name, id_ref, Value::Object(configuration)))
}

/// `S3Bucket<Ref>`: the bucket's `provider.s3` settings and its notifications; it waits for
/// the permissions of the functions it notifies.
fn bucket(
    ctx: &Ctx,
    bucket_name: &str,
    id_ref: &str,
    configurations: &[Value],
    enabled: &[(&String, String)],
) -> Value {
    let provider_s3 = ctx.service.provider.s3.as_ref();
    let mut bucket_conf = Map::new();
    let mut provided_notifications = Map::new();
    if let Some(settings) = provider_s3
        .and_then(|p| p.get(id_ref))
        .and_then(Value::as_object)
    {
        for (k, v) in settings {
            if k == "name" {
                continue;
            }
            let property = upper_first(k);
            if property == "NotificationConfiguration" {
                if let Some(v) = v.as_object() {
                    provided_notifications = v.clone();
                }
            } else {
                bucket_conf.insert(property, v.clone());
            }
        }
    }
    let mut notification = Map::new();
    notification.insert(
        "LambdaConfigurations".to_owned(),
        Value::Array(configurations.to_vec()),
    );
    notification.extend(provided_notifications);
    let mut properties = Map::new();
    properties.insert("BucketName".to_owned(), json!(bucket_name));
    properties.insert(
        "NotificationConfiguration".to_owned(),
        Value::Object(notification),
    );
    properties.extend(bucket_conf);
    let mut depends_on: Vec<Value> = Vec::new();
    for (key, _) in enabled.iter().filter(|(_, b)| b == bucket_name) {
        depends_on.push(json!(permission_id(key, id_ref)));
        if let Some(alias) = ctx.alias_id(key) {
            depends_on.push(json!(alias));
        }
    }
    json!({"Type": "AWS::S3::Bucket", "Properties": properties, "DependsOn": depends_on})
}

/// `<Fn>LambdaPermission<Ref>S3`: the bucket may invoke the function.
fn compile_permission(ctx: &mut Ctx, key: &str, bucket_name: &str, id_ref: &str) {
    let permission = crate::resource_depending(
        "AWS::Lambda::Permission",
        ctx.alias_id(key).map(Value::String),
        json!({
            "FunctionName": ctx.lambda_arn(key),
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, format!(":s3:::{bucket_name}")]]},
            "SourceAccount": {"Ref": "AWS::AccountId"}
        }),
    );
    ctx.resources()
        .insert(permission_id(key, id_ref), permission);
}

/// `<Fn>LambdaPermission<Ref>S3`.
fn permission_id(key: &str, bucket_ref: &str) -> String {
    format!(
        "{}LambdaPermission{}S3",
        normalized_function_name(key),
        normalize_alnum(bucket_ref)
    )
}
