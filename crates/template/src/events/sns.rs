//! `sns` events (v3 `compile/events/sns.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for (key, function) in &service.functions {
        let fn_id = normalized_function_name(key);
        for (i, event) in function.events.iter().enumerate() {
            let Event::Sns(sns) = event else { continue };
            let path = format!("functions.{key}.events[{i}].sns");
            let mut topic_arn = sns.arn.clone();
            let topic_name = match (&sns.topic_name, &topic_arn) {
                (Some(name), _) => name.clone(),
                (None, Some(Value::String(arn))) => {
                    arn.rsplit(':').next().unwrap_or(arn).to_owned()
                }
                _ => {
                    return Err(TemplateError::invalid(
                        path,
                        "Missing \"sns.topicName\" setting (it needs to be provided if \"sns.arn\" is not provided as plain ARN string)",
                    ));
                }
            };
            let redrive = match &sns.redrive_policy {
                Some(policy) => Some(dead_letter_queue(
                    ctx,
                    policy,
                    key,
                    &topic_name,
                    topic_arn.clone(),
                    &format!("{path}.redrivePolicy"),
                )?),
                None => None,
            };
            let endpoint = ctx.lambda_arn(key);
            let alias = ctx.alias_id(key).map(Value::String);
            let subscription_id = format!("{fn_id}SnsSubscription{}", normalize_alnum(&topic_name));
            if let Some(arn) = &topic_arn {
                let mut props = Map::new();
                props.insert("TopicArn".to_owned(), arn.clone());
                props.insert("Protocol".to_owned(), json!("lambda"));
                props.insert("Endpoint".to_owned(), endpoint.clone());
                if let Some(f) = &sns.filter_policy {
                    props.insert("FilterPolicy".to_owned(), f.clone());
                }
                if let Some(f) = &sns.filter_policy_scope {
                    props.insert("FilterPolicyScope".to_owned(), f.clone());
                }
                if let Some(redrive) = &redrive {
                    props.insert("RedrivePolicy".to_owned(), redrive.clone());
                }
                if let Some(region) = arn.as_str().and_then(|a| a.split(':').nth(3))
                    && region != ctx.input.region
                {
                    props.insert("Region".to_owned(), json!(region));
                }
                ctx.resources().insert(
                    subscription_id,
                    crate::resource_depending(
                        "AWS::SNS::Subscription",
                        alias.clone(),
                        Value::Object(props),
                    ),
                );
            } else {
                let arn = json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:",
                    {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":", topic_name]]});
                topic_arn = Some(arn);
                let topic_id = format!("SNSTopic{}", normalize_alnum(&topic_name));
                if !ctx.has_resource(&topic_id) {
                    let mut props = Map::new();
                    props.insert("TopicName".to_owned(), json!(topic_name));
                    if let Some(d) = &sns.display_name {
                        props.insert("DisplayName".to_owned(), json!(d));
                    }
                    ctx.resources().insert(
                        topic_id.clone(),
                        crate::resource_depending(
                            "AWS::SNS::Topic",
                            alias.clone(),
                            Value::Object(props),
                        ),
                    );
                }
                let subscription = json!({"Endpoint": endpoint, "Protocol": "lambda"});
                if sns.filter_policy.is_some() || redrive.is_some() {
                    let mut props = subscription.as_object().cloned().unwrap_or_default();
                    props.insert("TopicArn".to_owned(), json!({"Ref": topic_id}));
                    if let Some(filter) = &sns.filter_policy {
                        props.insert("FilterPolicy".to_owned(), filter.clone());
                    }
                    if let Some(f) = &sns.filter_policy_scope {
                        props.insert("FilterPolicyScope".to_owned(), f.clone());
                    }
                    if let Some(redrive) = &redrive {
                        props.insert("RedrivePolicy".to_owned(), redrive.clone());
                    }
                    ctx.resources().insert(
                        subscription_id,
                        crate::resource_depending(
                            "AWS::SNS::Subscription",
                            alias.clone(),
                            Value::Object(props),
                        ),
                    );
                } else if let Some(props) = ctx.resources()[&topic_id]["Properties"].as_object_mut()
                {
                    props
                        .entry("Subscription")
                        .or_insert_with(|| json!([]))
                        .as_array_mut()
                        .expect("Subscription is a list")
                        .push(subscription);
                }
            }
            let target = ctx.lambda_arn(key);
            ctx.resources().insert(
                format!("{fn_id}LambdaPermission{}SNS", normalize_alnum(&topic_name)),
                crate::resource_depending(
                    "AWS::Lambda::Permission",
                    alias,
                    json!({
                        "FunctionName": target,
                        "Action": "lambda:InvokeFunction",
                        "Principal": "sns.amazonaws.com",
                        "SourceArn": topic_arn
                    }),
                ),
            );
        }
    }
    Ok(())
}

/// The subscription's dead-letter queue: its `RedrivePolicy` value, and the
/// `<Topic>To<Fn>DLQPolicy` queue policy that lets SNS send to it (v3 `compileSNSEvents`).
fn dead_letter_queue(
    ctx: &mut Ctx,
    policy: &Value,
    key: &str,
    topic_name: &str,
    topic_arn: Option<Value>,
    path: &str,
) -> Result<Value, TemplateError> {
    let (arn, url) = if let Some(Value::String(arn)) = policy.get("deadLetterTargetArn") {
        let mut parts = arn.rsplit(':');
        let (queue, account, region) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        (
            json!(arn),
            json!({"Fn::Join": ["", [format!("https://sqs.{region}."), {"Ref": "AWS::URLSuffix"},
                format!("/{account}/{queue}")]]}),
        )
    } else if let Some(Value::String(target)) = policy.get("deadLetterTargetRef") {
        (
            json!({"Fn::GetAtt": [target, "Arn"]}),
            json!({"Ref": target}),
        )
    } else if let Some(import) = policy.get("deadLetterTargetImport") {
        (
            json!({"Fn::ImportValue": import.get("arn")}),
            json!({"Fn::ImportValue": import.get("url")}),
        )
    } else {
        return Err(TemplateError::invalid(
            path,
            "set one of deadLetterTargetArn, deadLetterTargetRef or deadLetterTargetImport",
        ));
    };
    let policy_id = format!(
        "{}To{}DLQPolicy",
        normalize_alnum(topic_name),
        normalized_function_name(key)
    );
    // For a topic given by name v3 has no ARN yet at this point, so its condition is empty.
    let mut arn_equals = Map::new();
    if let Some(topic_arn) = topic_arn {
        arn_equals.insert("aws:SourceArn".to_owned(), topic_arn);
    }
    ctx.resources().insert(
        policy_id.clone(),
        json!({"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "PolicyDocument": {"Version": "2012-10-17", "Id": policy_id, "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnEquals": arn_equals}}]},
            "Queues": [url]}}),
    );
    Ok(json!({"deadLetterTargetArn": arn}))
}
