//! `alarms` of a state machine (`compileAlarms.js`): one CloudWatch alarm per metric.

use serde_json::{Map, Value, json};

use super::Machine;
use crate::naming::upper_first;
use crate::{Ctx, TemplateError};

/// Metric name in the config → the text of the alarm description.
const METRICS: &[(&str, &str)] = &[
    ("executionsTimedOut", "executions timed out"),
    ("executionsFailed", "executions failed"),
    ("executionsAborted", "executions aborted"),
    ("executionThrottled", "execution throttled"),
    ("executionsSucceeded", "executions succeeded"),
];

pub fn compile(ctx: &mut Ctx, machine: &Machine) -> Result<(), TemplateError> {
    let Some(alarms) = machine.get("alarms") else {
        return Ok(());
    };
    let path = format!("{}.alarms", machine.path);
    let alarms = alarms
        .as_object()
        .ok_or_else(|| TemplateError::invalid(&path, "expected a map"))?;
    super::super::reject_unknown_keys(
        &path,
        alarms,
        &["topics", "metrics", "treatMissingData", "period"],
    )?;
    let topics = alarms
        .get("topics")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    super::super::reject_unknown_keys(
        &format!("{path}.topics"),
        &topics,
        &["ok", "alarm", "insufficientData"],
    )?;
    let metrics = alarms
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, metric) in metrics.iter().enumerate() {
        let (id, alarm) = alarm(
            ctx,
            machine,
            alarms,
            &topics,
            metric,
            &format!("{path}.metrics[{i}]"),
        )?;
        ctx.resources().insert(id, alarm);
    }
    Ok(())
}

fn alarm(
    ctx: &Ctx,
    machine: &Machine,
    alarms: &Map<String, Value>,
    topics: &Map<String, Value>,
    metric: &Value,
    path: &str,
) -> Result<(String, Value), TemplateError> {
    let settings = match metric {
        Value::String(name) => {
            let mut m = Map::new();
            m.insert("metric".into(), json!(name));
            m
        }
        Value::Object(m) => m.clone(),
        _ => {
            return Err(TemplateError::invalid(
                path,
                "expected a metric name or {metric, ...}",
            ));
        }
    };
    super::super::reject_unknown_keys(
        path,
        &settings,
        &[
            "metric",
            "logicalId",
            "alarmName",
            "treatMissingData",
            "period",
        ],
    )?;
    let name = settings
        .get("metric")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some((_, text)) = METRICS.iter().find(|(m, _)| *m == name) else {
        let known: Vec<&str> = METRICS.iter().map(|(m, _)| *m).collect();
        return Err(TemplateError::invalid(
            path,
            format!(
                "unknown metric {name:?}; expected one of {}",
                known.join(", ")
            ),
        ));
    };
    let sm = machine.logical_id();
    let metric_name = upper_first(name);
    let id = settings
        .get("logicalId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{sm}{metric_name}Alarm"));
    let label = machine.str_setting("name").unwrap_or(machine.key);
    let actions = |key: &str| topics.get(key).map(|t| json!([t])).unwrap_or(json!([]));
    let pick = |key: &str, default: Value| {
        settings
            .get(key)
            .or(alarms.get(key))
            .cloned()
            .unwrap_or(default)
    };
    let mut props = Map::new();
    props.insert("Namespace".into(), json!("AWS/States"));
    props.insert("MetricName".into(), json!(metric_name));
    props.insert(
        "AlarmDescription".into(),
        json!(format!(
            "{label}[{}][{}]: {text}",
            ctx.stage, ctx.input.region
        )),
    );
    props.insert("Threshold".into(), json!(1));
    props.insert("Period".into(), pick("period", json!(60)));
    props.insert("EvaluationPeriods".into(), json!(1));
    props.insert(
        "ComparisonOperator".into(),
        json!("GreaterThanOrEqualToThreshold"),
    );
    props.insert("Statistic".into(), json!("Sum"));
    props.insert("OKActions".into(), actions("ok"));
    props.insert("AlarmActions".into(), actions("alarm"));
    props.insert(
        "InsufficientDataActions".into(),
        actions("insufficientData"),
    );
    props.insert(
        "TreatMissingData".into(),
        pick("treatMissingData", json!("missing")),
    );
    props.insert(
        "Dimensions".into(),
        json!([{"Name": "StateMachineArn", "Value": {"Ref": sm}}]),
    );
    if let Some(name) = settings.get("alarmName") {
        props.insert("AlarmName".into(), name.clone());
    }
    Ok((
        id,
        json!({"Type": "AWS::CloudWatch::Alarm", "Properties": props}),
    ))
}
