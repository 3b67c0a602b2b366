//! `schedule` events: EventBridge rules or EventBridge Scheduler schedules (v3
//! `compile/events/schedule.js`).

use deployer_config::model::{Event, ScheduleEvent};
use serde_json::{Map, Value, json};

use super::events_rule::{compile_rule, input_transformer};
use crate::naming::{self, normalized_function_name};
use crate::{Ctx, TemplateError};

/// One schedule event, checked, with what every expression of it shares.
struct Schedule<'a> {
    event: &'a ScheduleEvent,
    path: String,
    scheduler: bool,
    state: &'static str,
    input: Option<String>,
}

/// Compiles every `schedule` event: one rule (or schedule) per rate expression, then lets
/// the Scheduler invoke the functions that use it.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let mut scheduler_resources = Vec::new();
    for (key, function) in &service.functions {
        let mut n = 0;
        let mut uses_scheduler = false;
        for (i, event) in function.events.iter().enumerate() {
            let Event::Schedule(event) = event else {
                continue;
            };
            let schedule = parse(event, format!("functions.{key}.events[{i}].schedule"))?;
            uses_scheduler |= schedule.scheduler;
            for expression in &event.rate {
                n += 1;
                if schedule.scheduler {
                    compile_scheduler_schedule(ctx, key, &schedule, expression, n)?;
                } else {
                    compile_events_rule(ctx, key, &schedule, expression, n)?;
                }
            }
        }
        if uses_scheduler {
            let arn = format!(
                "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
                ctx.function_name(key)
            );
            scheduler_resources.push(json!({"Fn::Sub": arn}));
            scheduler_resources.push(json!({"Fn::Sub": format!("{arn}:*")}));
        }
    }
    if !scheduler_resources.is_empty() {
        allow_scheduler(ctx, scheduler_resources);
    }
    Ok(())
}

/// The event's method, state and input, checked.
fn parse(event: &ScheduleEvent, path: String) -> Result<Schedule<'_>, TemplateError> {
    let method = event.method.as_deref().unwrap_or("eventBus");
    if method != "eventBus" && method != "scheduler" {
        return Err(TemplateError::invalid(
            format!("{path}.method"),
            "expected \"eventBus\" or \"scheduler\"",
        ));
    }
    if event.rate.len() > 1 && event.name.is_some() {
        return Err(TemplateError::invalid(
            path,
            "You cannot specify a name when defining more than one rate expression",
        ));
    }
    Ok(Schedule {
        event,
        scheduler: method == "scheduler",
        state: if event.enabled == Some(false) {
            "DISABLED"
        } else {
            "ENABLED"
        },
        input: input(event, &path)?,
        path,
    })
}

/// `input` as the JSON text the target receives (`body` given as text is parsed first).
fn input(event: &ScheduleEvent, path: &str) -> Result<Option<String>, TemplateError> {
    Ok(match &event.input {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => {
            let mut o = o.clone();
            if let Some(Value::String(body)) = o.get("body") {
                let parsed: Value = serde_json::from_str(body).map_err(|e| {
                    TemplateError::invalid(
                        format!("{path}.input.body"),
                        format!("not valid JSON: {e}"),
                    )
                })?;
                o.insert("body".to_owned(), parsed);
            }
            Some(serde_json::to_string(&o).expect("JSON serializes"))
        }
        Some(other) => Some(other.to_string()),
    })
}

/// `<Fn>SchedulerSchedule<n>`.
fn compile_scheduler_schedule(
    ctx: &mut Ctx,
    key: &str,
    schedule: &Schedule,
    expression: &Value,
    n: usize,
) -> Result<(), TemplateError> {
    let event = schedule.event;
    if event.input_path.is_some() || event.input_transformer.is_some() {
        return Err(TemplateError::invalid(
            schedule.path.clone(),
            "\"inputPath\" and \"inputTransformer\" are not supported with \"scheduler\" mode",
        ));
    }
    let role = event.role_arn.clone().unwrap_or_else(|| {
        ctx.template["Resources"][naming::lambda_logical_id(key)]["Properties"]["Role"].clone()
    });
    let mut target = Map::new();
    target.insert("Arn".to_owned(), ctx.lambda_arn(key));
    target.insert("RoleArn".to_owned(), role);
    if let Some(input) = &schedule.input {
        target.insert("Input".to_owned(), json!(input));
    }
    let mut props = Map::new();
    props.insert("ScheduleExpression".to_owned(), expression.clone());
    props.insert("State".to_owned(), json!(schedule.state));
    props.insert("Target".to_owned(), Value::Object(target));
    props.insert("FlexibleTimeWindow".to_owned(), json!({"Mode": "OFF"}));
    if let Some(name) = &event.name {
        props.insert("Name".to_owned(), json!(name));
    }
    if let Some(d) = &event.description {
        props.insert("Description".to_owned(), json!(d));
    }
    if let Some(tz) = &event.timezone {
        props.insert("ScheduleExpressionTimezone".to_owned(), json!(tz));
    }
    let alias_dep = ctx.alias_id(key).map(Value::String);
    ctx.resources().insert(
        format!("{}SchedulerSchedule{n}", normalized_function_name(key)),
        crate::resource_depending("AWS::Scheduler::Schedule", alias_dep, Value::Object(props)),
    );
    Ok(())
}

/// `<Fn>EventsRuleSchedule<n>` and its permission.
fn compile_events_rule(
    ctx: &mut Ctx,
    key: &str,
    schedule: &Schedule,
    expression: &Value,
    n: usize,
) -> Result<(), TemplateError> {
    let event = schedule.event;
    if event.timezone.is_some() {
        return Err(TemplateError::invalid(
            format!("{}.timezone", schedule.path),
            "\"timezone\" is only supported with \"scheduler\" mode",
        ));
    }
    let mut target = Map::new();
    if let Some(input) = &schedule.input {
        target.insert("Input".to_owned(), json!(input));
    }
    if let Some(input_path) = &event.input_path {
        target.insert("InputPath".to_owned(), json!(input_path));
    }
    if let Some(t) = &event.input_transformer {
        target.insert("InputTransformer".to_owned(), input_transformer(t));
    }
    target.insert("Arn".to_owned(), ctx.lambda_arn(key));
    target.insert("Id".to_owned(), json!(format!("{key}Schedule")));
    let mut props = Map::new();
    props.insert("ScheduleExpression".to_owned(), expression.clone());
    props.insert("State".to_owned(), json!(schedule.state));
    if let Some(name) = &event.name {
        props.insert("Name".to_owned(), json!(name));
    }
    if let Some(d) = &event.description {
        props.insert("Description".to_owned(), json!(d));
    }
    props.insert("Targets".to_owned(), json!([target]));
    let fn_id = normalized_function_name(key);
    compile_rule(
        ctx,
        key,
        format!("{fn_id}EventsRuleSchedule{n}"),
        format!("{fn_id}LambdaPermissionEventsRuleSchedule{n}"),
        props,
    );
    Ok(())
}

/// The Scheduler assumes the generated role and invokes the functions through it.
fn allow_scheduler(ctx: &mut Ctx, resources: Vec<Value>) {
    let Some(role) = ctx.resources().get_mut(naming::ROLE_LOGICAL_ID) else {
        return;
    };
    if let Some(services) = role
        .pointer_mut("/Properties/AssumeRolePolicyDocument/Statement/0/Principal/Service")
        .and_then(Value::as_array_mut)
    {
        services.push(json!("scheduler.amazonaws.com"));
    }
    if let Some(statements) = ctx.role_statements() {
        statements.push(
            json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": resources}),
        );
    }
}
