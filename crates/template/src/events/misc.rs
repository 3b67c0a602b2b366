//! `alexaSkill`, `iot`, `cloudwatchEvent` and `cloudwatchLog` events (v3 `alexa-skill.js`,
//! `iot.js`, `cloud-watch-event.js`, `cloud-watch-log.js`).

use deployer_config::model::Event;
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.get(name).filter(|v| !v.is_null())
}

fn strip_newlines(s: &str) -> String {
    s.replace("\r\n", "").replace('\n', "")
}

pub fn compile_alexa_skill(ctx: &mut Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        let mut n = 0;
        for (i, event) in function.events.iter().enumerate() {
            let Event::AlexaSkill(value) = event else {
                continue;
            };
            n += 1;
            let (app_id, enabled) = match value {
                Value::String(s) => (Some(s.clone()), true),
                Value::Object(o) => (
                    o.get("appId").and_then(Value::as_str).map(str::to_owned),
                    o.get("enabled") != Some(&Value::Bool(false)),
                ),
                _ => {
                    return Err(TemplateError::invalid(
                        format!("functions.{key}.events[{i}].alexaSkill"),
                        "expected an app ID or alexaSkill settings",
                    ));
                }
            };
            let mut props = Map::new();
            props.insert("FunctionName".into(), ctx.lambda_arn(key));
            props.insert(
                "Action".into(),
                json!(if enabled {
                    "lambda:InvokeFunction"
                } else {
                    "lambda:DisableInvokeFunction"
                }),
            );
            props.insert("Principal".into(), json!("alexa-appkit.amazon.com"));
            if let Some(app_id) = app_id {
                props.insert(
                    "EventSourceToken".into(),
                    json!(app_id.replace("\\n", "").replace("\\r", "")),
                );
            }
            let alias_dep = ctx.alias_id(key).map(Value::String);
            ctx.resources().insert(
                format!(
                    "{}LambdaPermissionAlexaSkill{n}",
                    normalized_function_name(key)
                ),
                crate::resource_depending(
                    "AWS::Lambda::Permission",
                    alias_dep,
                    Value::Object(props),
                ),
            );
        }
    }
    Ok(())
}

pub fn compile_iot(ctx: &mut Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        let fn_id = normalized_function_name(key);
        let mut n = 0;
        for (i, event) in function.events.iter().enumerate() {
            let Event::Iot(value) = event else { continue };
            n += 1;
            let sql = field(value, "sql").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::invalid(
                    format!("functions.{key}.events[{i}].iot.sql"),
                    "an iot event needs \"sql\"",
                )
            })?;
            let rule_id = format!("{fn_id}IotTopicRule{n}");
            let mut payload = Map::new();
            payload.insert(
                "RuleDisabled".into(),
                json!(value.get("enabled") == Some(&Value::Bool(false))),
            );
            payload.insert("Sql".into(), json!(strip_newlines(sql)));
            payload.insert(
                "Actions".into(),
                json!([{"Lambda": {"FunctionArn": ctx.lambda_arn(key)}}]),
            );
            if let Some(d) = field(value, "description").and_then(Value::as_str) {
                payload.insert("Description".into(), json!(strip_newlines(d)));
            }
            if let Some(v) = field(value, "sqlVersion").and_then(Value::as_str) {
                payload.insert("AwsIotSqlVersion".into(), json!(strip_newlines(v)));
            }
            let mut props = Map::new();
            props.insert("TopicRulePayload".into(), Value::Object(payload));
            if let Some(name) = field(value, "name").and_then(Value::as_str) {
                props.insert("RuleName".into(), json!(strip_newlines(name)));
            }
            let target = ctx.lambda_arn(key);
            let alias = ctx.alias_id(key).map(Value::String);
            ctx.resources().insert(
                rule_id.clone(),
                crate::resource_depending(
                    "AWS::IoT::TopicRule",
                    alias.clone(),
                    Value::Object(props),
                ),
            );
            ctx.resources().insert(
                format!("{fn_id}LambdaPermissionIotTopicRule{n}"),
                crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                    "FunctionName": target, "Action": "lambda:InvokeFunction", "Principal": "iot.amazonaws.com",
                    "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iot:", {"Ref": "AWS::Region"},
                        ":", {"Ref": "AWS::AccountId"}, ":rule/", {"Ref": rule_id}]]}})),
            );
        }
    }
    Ok(())
}

pub fn compile_cloudwatch_event(ctx: &mut Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        let fn_id = normalized_function_name(key);
        let mut n = 0;
        for (i, event) in function.events.iter().enumerate() {
            let Event::CloudwatchEvent(value) = event else {
                continue;
            };
            n += 1;
            let path = format!("functions.{key}.events[{i}].cloudwatchEvent");
            let input = field(value, "input");
            let input_path = field(value, "inputPath");
            let transformer = field(value, "inputTransformer");
            if [input, input_path, transformer]
                .iter()
                .filter(|v| v.is_some())
                .count()
                > 1
            {
                return Err(TemplateError::invalid(
                    path,
                    "You can only set one of input, inputPath, or inputTransformer properties at the same time for cloudwatch events.",
                ));
            }
            let rule_id = format!("{fn_id}EventsRuleCloudWatchEvent{n}");
            let mut props = Map::new();
            props.insert(
                "EventPattern".into(),
                field(value, "event").cloned().unwrap_or(Value::Null),
            );
            props.insert(
                "State".into(),
                json!(if value.get("enabled") == Some(&Value::Bool(false)) {
                    "DISABLED"
                } else {
                    "ENABLED"
                }),
            );
            if let Some(d) = field(value, "description") {
                props.insert("Description".into(), d.clone());
            }
            if let Some(name) = field(value, "name") {
                props.insert("Name".into(), name.clone());
            }
            let mut target = Map::new();
            match input {
                Some(Value::String(s)) => {
                    target.insert("Input".into(), json!(s));
                }
                Some(other) => {
                    target.insert(
                        "Input".into(),
                        json!(serde_json::to_string(other).expect("JSON")),
                    );
                }
                None => {}
            }
            if let Some(p) = input_path {
                target.insert("InputPath".into(), p.clone());
            }
            if let Some(t) = transformer {
                let mut out = Map::new();
                out.insert(
                    "InputTemplate".into(),
                    t.get("inputTemplate").cloned().unwrap_or(Value::Null),
                );
                if let Some(m) = t.get("inputPathsMap") {
                    out.insert("InputPathsMap".into(), m.clone());
                }
                target.insert("InputTransformer".into(), Value::Object(out));
            }
            target.insert("Arn".into(), ctx.lambda_arn(key));
            target.insert("Id".into(), json!(format!("{key}CloudWatchEvent")));
            props.insert("Targets".into(), json!([target]));
            let arn = ctx.lambda_arn(key);
            let alias = ctx.alias_id(key).map(Value::String);
            ctx.resources().insert(
                rule_id.clone(),
                crate::resource_depending("AWS::Events::Rule", alias.clone(), Value::Object(props)),
            );
            ctx.resources().insert(
                format!("{fn_id}LambdaPermissionEventsRuleCloudWatchEvent{n}"),
                crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                    "FunctionName": arn, "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
                    "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}})),
            );
        }
    }
    Ok(())
}

/// v3 `longestCommonSuffix` (which is really the longest common prefix), `*` appended when
/// several log groups share one permission.
fn common_prefix(names: &[String]) -> String {
    let first = names.first().cloned().unwrap_or_default();
    let mut common: Vec<char> = first.chars().collect();
    for name in names {
        let other: Vec<char> = name.chars().collect();
        let len = common
            .iter()
            .zip(&other)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(len);
    }
    let mut common: String = common.into_iter().collect();
    if names.len() > 1 && !common.ends_with('*') {
        common.push('*');
    }
    common
}

pub fn compile_cloudwatch_log(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let mut per_group: IndexMap<String, usize> = IndexMap::new();
    for (key, function) in &ctx.service.functions {
        let fn_id = normalized_function_name(key);
        let mut n = 0;
        let mut groups = Vec::new();
        for (i, event) in function.events.iter().enumerate() {
            let Event::CloudwatchLog(value) = event else {
                continue;
            };
            n += 1;
            let path = format!("functions.{key}.events[{i}].cloudwatchLog");
            let (group, mut filter) = match value {
                Value::String(s) => (strip_newlines(s), String::new()),
                Value::Object(o) => (
                    o.get("logGroup")
                        .and_then(Value::as_str)
                        .map(strip_newlines)
                        .ok_or_else(|| {
                            TemplateError::invalid(
                                format!("{path}.logGroup"),
                                "a cloudwatchLog event needs \"logGroup\"",
                            )
                        })?,
                    o.get("filter")
                        .and_then(Value::as_str)
                        .map(strip_newlines)
                        .unwrap_or_default(),
                ),
                _ => {
                    return Err(TemplateError::invalid(
                        path,
                        "expected a log group name or settings",
                    ));
                }
            };
            let count = per_group.entry(group.clone()).or_insert(0);
            *count += 1;
            if *count > 2 {
                return Err(TemplateError::invalid(
                    path,
                    format!(
                        "Only 2 subscription filters can be configured per log group. You're attempting to configure more subscription filters than allowed for \"{group}\"."
                    ),
                ));
            }
            groups.push(group.clone());
            // v3 unescapes quotes once when the first quote is escaped.
            if let (Some(slash), Some(quote)) = (filter.find('\\'), filter.find('"'))
                && quote > slash
            {
                let mut out = String::new();
                let mut chars = filter.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '\\' && matches!(chars.peek(), Some('"' | '\\' | '\'')) {
                        out.push(chars.next().expect("peeked"));
                    } else {
                        out.push(c);
                    }
                }
                filter = out;
            }
            let permission_id =
                format!("{fn_id}LambdaPermissionLogsSubscriptionFilterCloudWatchLog");
            let arn = ctx.lambda_arn(key);
            let alias = ctx.alias_id(key);
            let filter_depends: Vec<Value> = std::iter::once(permission_id.clone())
                .chain(alias.clone())
                .map(Value::String)
                .collect();
            ctx.resources().insert(
                format!("{fn_id}LogsSubscriptionFilterCloudWatchLog{n}"),
                json!({"Type": "AWS::Logs::SubscriptionFilter", "DependsOn": filter_depends, "Properties": {
                    "LogGroupName": group, "FilterPattern": filter, "DestinationArn": arn}}),
            );
            let prefix = common_prefix(&groups);
            ctx.resources().insert(
                permission_id,
                crate::resource_depending("AWS::Lambda::Permission", alias.map(|a| json!([a])), json!({
                    "FunctionName": arn, "Action": "lambda:InvokeFunction",
                    "Principal": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
                    "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"},
                        ":", {"Ref": "AWS::AccountId"}, ":log-group:", prefix, ":*"]]}})),
            );
        }
    }
    Ok(())
}
