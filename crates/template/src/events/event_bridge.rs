//! `eventBridge` events with native CloudFormation resources (v3 default).

use deployer_config::model::{Event, EventBridgeEvent};
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::naming::{normalize_alnum, normalized_function_name, upper_first};
use crate::{Ctx, TemplateError};

/// Names longer than 64 characters are shortened with an MD5 suffix (v3 `hashName`).
fn hash_name(name: &str, suffix: &str) -> String {
    let digest = hex::encode(Md5::digest(name.as_bytes()));
    let keep: String = name.chars().take(31 - suffix.len()).collect();
    format!("{keep}{digest}-{suffix}")
}

/// v3's default rule name.
fn rule_name(function_name: &str, index: usize) -> String {
    format!("{function_name}-rule-{index}")
}

/// The bus a rule is on: its name (or ARN intrinsic) and whether it exists already.
struct Bus {
    name: Option<Value>,
    exists: bool,
}

impl Bus {
    fn of(event: &EventBridgeEvent) -> Self {
        let (name, exists) = match &event.event_bus {
            None => (None, false),
            Some(Value::String(s)) if s.starts_with("arn") => {
                (Some(json!(s[s.find('/').map_or(0, |p| p + 1)..])), true)
            }
            Some(Value::String(s)) => (Some(json!(s)), false),
            Some(other) => (Some(other.clone()), true),
        };
        Bus { name, exists }
    }

    fn is_default(&self) -> bool {
        self.name.as_ref().and_then(Value::as_str) == Some("default")
    }
}

/// Compiles every `eventBridge` event: the bus it names (unless it exists), the rule and
/// the permission.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    if let Some(options) = &service.provider.event_bridge
        && options.get("useCloudFormation") == Some(&Value::Bool(false))
        && service
            .functions
            .values()
            .any(|f| f.events.iter().any(|e| matches!(e, Event::EventBridge(_))))
    {
        return Err(TemplateError::unsupported(
            "provider.eventBridge.useCloudFormation",
            "EventBridge through custom resources (useCloudFormation: false)",
        ));
    }
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            if let Event::EventBridge(eb) = event {
                compile_event(ctx, key, eb, i)?;
            }
        }
    }
    Ok(())
}

/// One event's bus, rule and permission.
fn compile_event(
    ctx: &mut Ctx,
    key: &str,
    eb: &EventBridgeEvent,
    i: usize,
) -> Result<(), TemplateError> {
    let idx = i + 1;
    let function_name = ctx.function_name(key);
    let rule = match &eb.name {
        Some(name) => name.clone(),
        None => {
            let name = rule_name(&function_name, idx);
            if name.len() > 64 {
                hash_name(&name, &format!("rule-{idx}"))
            } else {
                name
            }
        }
    };
    let inputs = [
        eb.input.is_some(),
        eb.input_path.is_some(),
        eb.input_transformer.is_some(),
    ];
    if inputs.iter().filter(|b| **b).count() > 1 {
        return Err(TemplateError::invalid(
            format!("functions.{key}.events[{i}].eventBridge"),
            "You can only set one of input, inputPath, or inputTransformer properties for eventBridge events.",
        ));
    }
    let bus = Bus::of(eb);
    let mut depends_on = ctx.alias_id(key);
    if !bus.exists && bus.name.is_some() && !bus.is_default() {
        depends_on = Some(compile_bus(ctx, &bus));
    }
    let target = rule_target(ctx, key, eb, &rule);
    let mut resource = Map::new();
    resource.insert("Type".to_owned(), json!("AWS::Events::Rule"));
    if let Some(d) = depends_on {
        resource.insert("DependsOn".to_owned(), json!(d));
    }
    resource.insert(
        "Properties".to_owned(),
        rule_properties(eb, &bus, &rule, target),
    );
    let rule_id = format!(
        "{}EventBridgeRule",
        normalize_alnum(&rule_name(&function_name, idx))
    );
    ctx.resources().insert(rule_id, Value::Object(resource));
    compile_permission(ctx, key, idx, &bus, &rule);
    Ok(())
}

/// `<Bus>EventBridgeEventBus`; returns its logical ID.
fn compile_bus(ctx: &mut Ctx, bus: &Bus) -> String {
    let name = bus
        .name
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bus_id = format!(
        "{}EventBridgeEventBus",
        upper_first(&name.replace('-', "Dash").replace('_', "Underscore"))
    );
    ctx.resources().insert(
        bus_id.clone(),
        json!({"Type": "AWS::Events::EventBus", "Properties": {"Name": name}}),
    );
    bus_id
}

/// The rule's target: the function, its retry policy, dead-letter queue and input.
fn rule_target(ctx: &Ctx, key: &str, eb: &EventBridgeEvent, rule: &str) -> Map<String, Value> {
    let target_id = {
        let id = format!("{rule}-target");
        if id.len() > 64 {
            hash_name(&id, "target")
        } else {
            id
        }
    };
    let mut target = Map::new();
    target.insert("Arn".to_owned(), ctx.lambda_arn(key));
    target.insert("Id".to_owned(), json!(target_id));
    if let Some(policy) = &eb.retry_policy {
        let mut p = Map::new();
        if let Some(v) = policy.get("maximumEventAge") {
            p.insert("MaximumEventAgeInSeconds".to_owned(), v.clone());
        }
        if let Some(v) = policy.get("maximumRetryAttempts") {
            p.insert("MaximumRetryAttempts".to_owned(), v.clone());
        }
        target.insert("RetryPolicy".to_owned(), Value::Object(p));
    }
    if let Some(dlq) = &eb.dead_letter_queue_arn {
        target.insert("DeadLetterConfig".to_owned(), json!({"Arn": dlq}));
    }
    if let Some(input) = &eb.input {
        target.insert(
            "Input".to_owned(),
            json!(serde_json::to_string(input).expect("JSON")),
        );
    } else if let Some(input_path) = &eb.input_path {
        target.insert("InputPath".to_owned(), json!(input_path));
    } else if let Some(t) = &eb.input_transformer {
        let t: Map<String, Value> = t.iter().map(|(k, v)| (upper_first(k), v.clone())).collect();
        target.insert("InputTransformer".to_owned(), Value::Object(t));
    }
    target
}

/// The rule's properties.
fn rule_properties(
    eb: &EventBridgeEvent,
    bus: &Bus,
    rule: &str,
    target: Map<String, Value>,
) -> Value {
    let mut props = Map::new();
    if let Some(d) = &eb.description {
        props.insert("Description".to_owned(), json!(d));
    }
    if let Some(name) = bus.name.as_ref().filter(|_| !bus.is_default()) {
        props.insert("EventBusName".to_owned(), name.clone());
    }
    if let Some(pattern) = &eb.pattern {
        props.insert("EventPattern".to_owned(), pattern.clone());
    }
    props.insert("Name".to_owned(), json!(rule));
    if let Some(schedule) = &eb.schedule {
        props.insert("ScheduleExpression".to_owned(), json!(schedule));
    }
    props.insert(
        "State".to_owned(),
        json!(if eb.enabled == Some(false) {
            "DISABLED"
        } else {
            "ENABLED"
        }),
    );
    props.insert("Targets".to_owned(), json!([target]));
    Value::Object(props)
}

/// `<Fn>EventBridgeLambdaPermission<n>`: EventBridge may invoke the function for the rule.
fn compile_permission(ctx: &mut Ctx, key: &str, idx: usize, bus: &Bus, rule: &str) {
    let mut rule_path = vec![json!("rule")];
    if let Some(name) = &bus.name {
        rule_path.push(name.clone());
    }
    rule_path.push(json!(rule));
    let target = ctx.lambda_arn(key);
    let alias_dep = ctx.alias_id(key).map(Value::String);
    ctx.resources().insert(
        format!(
            "{}EventBridgeLambdaPermission{idx}",
            normalized_function_name(key)
        ),
        crate::resource_depending(
            "AWS::Lambda::Permission",
            alias_dep,
            json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": target,
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, "events",
                    {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"},
                    {"Fn::Join": ["/", rule_path]}]]}
            }),
        ),
    );
}
