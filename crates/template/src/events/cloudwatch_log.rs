//! `cloudwatchLog` events: log subscription filters (v3 `cloud-watch-log.js`).

use deployer_config::model::Event;
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::settings::strip_newlines;
use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

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

/// Compiles every `cloudwatchLog` event: a subscription filter per event, and one permission
/// per function covering all its log groups.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let mut per_group: IndexMap<String, usize> = IndexMap::new();
    for (key, function) in &service.functions {
        let mut n = 0;
        let mut groups = Vec::new();
        for (i, event) in function.events.iter().enumerate() {
            let Event::CloudwatchLog(value) = event else {
                continue;
            };
            n += 1;
            let path = format!("functions.{key}.events[{i}].cloudwatchLog");
            let (group, filter) = parse(value, &path)?;
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
            compile_filter(ctx, key, n, &group, &groups, unescape_quotes(filter));
        }
    }
    Ok(())
}

/// The log group and the filter pattern.
fn parse(value: &Value, path: &str) -> Result<(String, String), TemplateError> {
    match value {
        Value::String(s) => Ok((strip_newlines(s), String::new())),
        Value::Object(o) => Ok((
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
        )),
        _ => Err(TemplateError::invalid(
            path,
            "expected a log group name or settings",
        )),
    }
}

/// v3 unescapes quotes once when the first quote is escaped.
fn unescape_quotes(filter: String) -> String {
    let (Some(slash), Some(quote)) = (filter.find('\\'), filter.find('"')) else {
        return filter;
    };
    if quote <= slash {
        return filter;
    }
    let mut out = String::new();
    let mut chars = filter.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('"' | '\\' | '\'')) {
            out.push(chars.next().expect("peeked"));
        } else {
            out.push(c);
        }
    }
    out
}

/// `<Fn>LogsSubscriptionFilterCloudWatchLog<n>`, and the function's permission rewritten to
/// cover every log group so far.
fn compile_filter(
    ctx: &mut Ctx,
    key: &str,
    n: usize,
    group: &str,
    groups: &[String],
    filter: String,
) {
    let fn_id = normalized_function_name(key);
    let permission_id = format!("{fn_id}LambdaPermissionLogsSubscriptionFilterCloudWatchLog");
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
    let prefix = common_prefix(groups);
    ctx.resources().insert(
        permission_id,
        crate::resource_depending("AWS::Lambda::Permission", alias.map(|a| json!([a])), json!({
            "FunctionName": arn, "Action": "lambda:InvokeFunction",
            "Principal": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
            "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"},
                ":", {"Ref": "AWS::AccountId"}, ":log-group:", prefix, ":*"]]}})),
    );
}
