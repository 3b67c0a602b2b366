//! `schedule` events (v3 `compile/events/schedule.js`).

use deployer_config::model::Event;
use serde_json::{Map, Value, json};

use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let mut scheduler_resources = Vec::new();
    for (key, function) in &service.functions {
        let fn_id = normalized_function_name(key);
        let mut n = 0;
        let mut uses_scheduler = false;
        for (i, event) in function.events.iter().enumerate() {
            let Event::Schedule(schedule) = event else {
                continue;
            };
            let path = format!("functions.{key}.events[{i}].schedule");
            let method = schedule.method.as_deref().unwrap_or("eventBus");
            if method != "eventBus" && method != "scheduler" {
                return Err(TemplateError::invalid(
                    format!("{path}.method"),
                    "expected \"eventBus\" or \"scheduler\"",
                ));
            }
            if schedule.rate.len() > 1 && schedule.name.is_some() {
                return Err(TemplateError::invalid(
                    path,
                    "You cannot specify a name when defining more than one rate expression",
                ));
            }
            let state = if schedule.enabled == Some(false) {
                "DISABLED"
            } else {
                "ENABLED"
            };
            let input = match &schedule.input {
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
            };
            let target = ctx.lambda_arn(key);
            for expression in &schedule.rate {
                n += 1;
                if method == "scheduler" {
                    uses_scheduler = true;
                    if schedule.input_path.is_some() || schedule.input_transformer.is_some() {
                        return Err(TemplateError::invalid(
                            path.clone(),
                            "\"inputPath\" and \"inputTransformer\" are not supported with \"scheduler\" mode",
                        ));
                    }
                    let role = schedule.role_arn.clone().unwrap_or_else(|| {
                        ctx.template["Resources"][crate::naming::lambda_logical_id(key)]["Properties"]["Role"].clone()
                    });
                    let mut target_props = Map::new();
                    target_props.insert("Arn".to_owned(), target.clone());
                    target_props.insert("RoleArn".to_owned(), role);
                    if let Some(input) = &input {
                        target_props.insert("Input".to_owned(), json!(input));
                    }
                    let mut props = Map::new();
                    props.insert("ScheduleExpression".to_owned(), expression.clone());
                    props.insert("State".to_owned(), json!(state));
                    props.insert("Target".to_owned(), Value::Object(target_props));
                    props.insert("FlexibleTimeWindow".to_owned(), json!({"Mode": "OFF"}));
                    if let Some(name) = &schedule.name {
                        props.insert("Name".to_owned(), json!(name));
                    }
                    if let Some(d) = &schedule.description {
                        props.insert("Description".to_owned(), json!(d));
                    }
                    if let Some(tz) = &schedule.timezone {
                        props.insert("ScheduleExpressionTimezone".to_owned(), json!(tz));
                    }
                    let alias_dep = ctx.alias_id(key).map(Value::String);
                    ctx.resources().insert(
                        format!("{fn_id}SchedulerSchedule{n}"),
                        crate::resource_depending(
                            "AWS::Scheduler::Schedule",
                            alias_dep,
                            Value::Object(props),
                        ),
                    );
                    continue;
                }
                if schedule.timezone.is_some() {
                    return Err(TemplateError::invalid(
                        format!("{path}.timezone"),
                        "\"timezone\" is only supported with \"scheduler\" mode",
                    ));
                }
                let rule_id = format!("{fn_id}EventsRuleSchedule{n}");
                let mut target_props = Map::new();
                if let Some(input) = &input {
                    target_props.insert("Input".to_owned(), json!(input));
                }
                if let Some(input_path) = &schedule.input_path {
                    target_props.insert("InputPath".to_owned(), json!(input_path));
                }
                if let Some(t) = &schedule.input_transformer {
                    let mut out = Map::new();
                    out.insert(
                        "InputTemplate".to_owned(),
                        t.get("inputTemplate").cloned().unwrap_or(Value::Null),
                    );
                    if let Some(m) = t.get("inputPathsMap") {
                        out.insert("InputPathsMap".to_owned(), m.clone());
                    }
                    target_props.insert("InputTransformer".to_owned(), Value::Object(out));
                }
                target_props.insert("Arn".to_owned(), target.clone());
                target_props.insert("Id".to_owned(), json!(format!("{key}Schedule")));
                let mut props = Map::new();
                props.insert("ScheduleExpression".to_owned(), expression.clone());
                props.insert("State".to_owned(), json!(state));
                if let Some(name) = &schedule.name {
                    props.insert("Name".to_owned(), json!(name));
                }
                if let Some(d) = &schedule.description {
                    props.insert("Description".to_owned(), json!(d));
                }
                props.insert("Targets".to_owned(), json!([target_props]));
                let alias = ctx.alias_id(key).map(Value::String);
                ctx.resources().insert(
                    rule_id.clone(),
                    crate::resource_depending(
                        "AWS::Events::Rule",
                        alias.clone(),
                        Value::Object(props),
                    ),
                );
                ctx.resources().insert(
                    format!("{fn_id}LambdaPermissionEventsRuleSchedule{n}"),
                    crate::resource_depending(
                        "AWS::Lambda::Permission",
                        alias,
                        json!({
                            "FunctionName": target,
                            "Action": "lambda:InvokeFunction",
                            "Principal": "events.amazonaws.com",
                            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}
                        }),
                    ),
                );
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
    if !scheduler_resources.is_empty()
        && let Some(role) = ctx.resources().get_mut(crate::naming::ROLE_LOGICAL_ID)
    {
        if let Some(services) = role
            .pointer_mut("/Properties/AssumeRolePolicyDocument/Statement/0/Principal/Service")
            .and_then(Value::as_array_mut)
        {
            services.push(json!("scheduler.amazonaws.com"));
        }
        if let Some(statements) = ctx.role_statements() {
            statements.push(
                json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                                   "Resource": scheduler_resources}),
            );
        }
    }
    Ok(())
}
