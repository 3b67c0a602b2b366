//! `sns` events (v3 `compile/events/sns.js`).

use deployer_config::model::{Event, SnsEvent};
use serde_json::{Map, Value, json};

use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

/// Compiles every `sns` event: the topic (unless given by ARN), the subscription and the
/// permission.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            if let Event::Sns(sns) = event {
                compile_event(ctx, key, sns, &format!("functions.{key}.events[{i}].sns"))?;
            }
        }
    }
    Ok(())
}

/// One event's topic, subscription and permission.
fn compile_event(
    ctx: &mut Ctx,
    key: &str,
    sns: &SnsEvent,
    path: &str,
) -> Result<(), TemplateError> {
    let topic_name = match (&sns.topic_name, &sns.arn) {
        (Some(name), _) => name.clone(),
        (None, Some(Value::String(arn))) => arn.rsplit(':').next().unwrap_or(arn).to_owned(),
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
            sns.arn.clone(),
            &format!("{path}.redrivePolicy"),
        )?),
        None => None,
    };
    let subscription_id = format!(
        "{}SnsSubscription{}",
        normalized_function_name(key),
        normalize_alnum(&topic_name)
    );
    let topic_arn = match &sns.arn {
        Some(arn) => {
            subscribe(ctx, key, sns, arn, redrive.as_ref(), subscription_id);
            arn.clone()
        }
        None => subscribe_new_topic(
            ctx,
            key,
            sns,
            &topic_name,
            redrive.as_ref(),
            subscription_id,
        ),
    };
    let target = ctx.lambda_arn(key);
    let alias = ctx.alias_id(key).map(Value::String);
    ctx.resources().insert(
        format!(
            "{}LambdaPermission{}SNS",
            normalized_function_name(key),
            normalize_alnum(&topic_name)
        ),
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
    Ok(())
}

/// The subscription's `FilterPolicy`, `FilterPolicyScope` and `RedrivePolicy`.
fn insert_filter_and_redrive(
    props: &mut Map<String, Value>,
    sns: &SnsEvent,
    redrive: Option<&Value>,
) {
    if let Some(f) = &sns.filter_policy {
        props.insert("FilterPolicy".to_owned(), f.clone());
    }
    if let Some(f) = &sns.filter_policy_scope {
        props.insert("FilterPolicyScope".to_owned(), f.clone());
    }
    if let Some(redrive) = redrive {
        props.insert("RedrivePolicy".to_owned(), redrive.clone());
    }
}

/// `<Fn>SnsSubscription<Topic>` to a topic given by ARN (in another region if the ARN says so).
fn subscribe(
    ctx: &mut Ctx,
    key: &str,
    sns: &SnsEvent,
    arn: &Value,
    redrive: Option<&Value>,
    subscription_id: String,
) {
    let mut props = Map::new();
    props.insert("TopicArn".to_owned(), arn.clone());
    props.insert("Protocol".to_owned(), json!("lambda"));
    props.insert("Endpoint".to_owned(), ctx.lambda_arn(key));
    insert_filter_and_redrive(&mut props, sns, redrive);
    if let Some(region) = arn.as_str().and_then(|a| a.split(':').nth(3))
        && region != ctx.input.region
    {
        props.insert("Region".to_owned(), json!(region));
    }
    let alias = ctx.alias_id(key).map(Value::String);
    ctx.resources().insert(
        subscription_id,
        crate::resource_depending("AWS::SNS::Subscription", alias, Value::Object(props)),
    );
}

/// `SNSTopic<Topic>` (once per topic) and the function's subscription: inline in the topic,
/// or a resource of its own when it filters or has a dead-letter queue. Returns the topic ARN.
fn subscribe_new_topic(
    ctx: &mut Ctx,
    key: &str,
    sns: &SnsEvent,
    topic_name: &str,
    redrive: Option<&Value>,
    subscription_id: String,
) -> Value {
    let alias = ctx.alias_id(key).map(Value::String);
    let topic_id = format!("SNSTopic{}", normalize_alnum(topic_name));
    if !ctx.has_resource(&topic_id) {
        let mut props = Map::new();
        props.insert("TopicName".to_owned(), json!(topic_name));
        if let Some(d) = &sns.display_name {
            props.insert("DisplayName".to_owned(), json!(d));
        }
        ctx.resources().insert(
            topic_id.clone(),
            crate::resource_depending("AWS::SNS::Topic", alias.clone(), Value::Object(props)),
        );
    }
    let subscription = json!({"Endpoint": ctx.lambda_arn(key), "Protocol": "lambda"});
    if sns.filter_policy.is_some() || redrive.is_some() {
        let mut props = subscription.as_object().cloned().unwrap_or_default();
        props.insert("TopicArn".to_owned(), json!({"Ref": topic_id}));
        insert_filter_and_redrive(&mut props, sns, redrive);
        ctx.resources().insert(
            subscription_id,
            crate::resource_depending("AWS::SNS::Subscription", alias, Value::Object(props)),
        );
    } else if let Some(props) = ctx.resources()[&topic_id]["Properties"].as_object_mut() {
        props
            .entry("Subscription")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("Subscription is a list")
            .push(subscription);
    }
    json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:",
        {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":", topic_name]]})
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
