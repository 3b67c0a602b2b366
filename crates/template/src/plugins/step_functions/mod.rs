//! serverless-step-functions 3.31.2: `stepFunctions.stateMachines` and `activities` at
//! `package:compileFunctions`, their events at `package:compileEvents`.

use serde_json::{Map, Value, json};

use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

mod alarms;
mod definition;
mod events;
mod role;

const MACHINE_KEYS: &[&str] = &[
    "definition",
    "name",
    "id",
    "type",
    "role",
    "dependsOn",
    "tags",
    "inheritGlobalTags",
    "loggingConfig",
    "tracingConfig",
    "iamRoleStatements",
    "events",
    "alarms",
];

/// Keys the plugin knows and deployer does not compile yet: refused by name.
const MACHINE_KEYS_REFUSED: &[&str] = &[
    "notifications",
    "retain",
    "encryptionConfig",
    "kmsKeyArns",
    "useExactVersion",
    "configureTaskTimeouts",
];

/// One `stepFunctions.stateMachines.<key>` entry.
pub(super) struct Machine<'a> {
    pub key: &'a str,
    pub config: &'a Map<String, Value>,
    pub path: String,
}

impl Machine<'_> {
    /// `N(key)StepFunctionsStateMachine`, or `N(id || name)`.
    pub fn logical_id(&self) -> String {
        match self.str_setting("id").or(self.str_setting("name")) {
            Some(id) => normalized_function_name(id),
            None => format!(
                "{}StepFunctionsStateMachine",
                normalized_function_name(self.key)
            ),
        }
    }

    fn output_id(&self) -> String {
        match self.str_setting("id").or(self.str_setting("name")) {
            Some(id) => format!("{}Arn", normalized_function_name(id)),
            None => format!(
                "{}StepFunctionsStateMachineArn",
                normalized_function_name(self.key)
            ),
        }
    }

    pub fn str_setting(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.config.get(key).filter(|v| !v.is_null())
    }
}

/// `stepFunctions`, checked: its keys and every machine's keys.
fn settings<'a>(ctx: &Ctx<'a>) -> Result<Option<&'a Map<String, Value>>, TemplateError> {
    let Some(raw) = ctx
        .service
        .extra
        .get("stepFunctions")
        .filter(|v| !v.is_null())
    else {
        return Ok(None);
    };
    let map = raw
        .as_object()
        .ok_or_else(|| TemplateError::invalid("stepFunctions", "expected a map"))?;
    super::reject_unknown_keys(
        "stepFunctions",
        map,
        &["stateMachines", "activities", "validate", "noOutput"],
    )?;
    Ok(Some(map))
}

pub(super) fn machines<'a>(ctx: &Ctx<'a>) -> Result<Vec<Machine<'a>>, TemplateError> {
    let Some(settings) = settings(ctx)? else {
        return Ok(Vec::new());
    };
    let Some(raw) = settings.get("stateMachines").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let map = raw.as_object().ok_or_else(|| {
        TemplateError::invalid(
            "stepFunctions.stateMachines",
            "expected a map of state machines",
        )
    })?;
    let mut out = Vec::new();
    for (key, config) in map {
        let path = format!("stepFunctions.stateMachines.{key}");
        let config = config
            .as_object()
            .ok_or_else(|| TemplateError::invalid(&path, "expected a map"))?;
        if let Some(refused) = MACHINE_KEYS_REFUSED
            .iter()
            .find(|k| config.contains_key(**k))
        {
            return Err(TemplateError::unsupported(
                format!("{path}.{refused}"),
                format!("the state machine setting {refused}"),
            ));
        }
        super::reject_unknown_keys(&path, config, MACHINE_KEYS)?;
        out.push(Machine { key, config, path });
    }
    Ok(out)
}

fn flag(ctx: &Ctx, key: &str) -> Result<bool, TemplateError> {
    match settings(ctx)?.and_then(|s| s.get(key)) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(TemplateError::invalid(
            format!("stepFunctions.{key}"),
            "expected true or false",
        )),
    }
}

/// Roles, then state machines (with their outputs), activities, alarms: the plugin's order.
pub fn compile_machines(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let machines = machines(ctx)?;
    let validate = flag(ctx, "validate")?;
    let no_output = flag(ctx, "noOutput")?;
    let mut compiled = Vec::new();
    for machine in &machines {
        let definition = definition::checked(machine, validate)?;
        if machine.get("role").is_none() {
            let role = role::machine_role(ctx, machine, &definition)?;
            ctx.resources()
                .insert(format!("{}Role", machine.logical_id()), role);
        }
        compiled.push(definition);
    }
    for (machine, definition) in machines.iter().zip(&compiled) {
        let resource = machine_resource(ctx, machine, definition)?;
        ctx.resources().insert(machine.logical_id(), resource);
        if !no_output {
            ctx.outputs().insert(
                machine.output_id(),
                json!({"Description": "Current StateMachine Arn", "Value": {"Ref": machine.logical_id()}}),
            );
        }
    }
    compile_activities(ctx, no_output)?;
    for machine in &machines {
        alarms::compile(ctx, machine)?;
    }
    Ok(())
}

/// `schedule`, `cloudwatchEvent`/`eventBridge` and `http` events of every machine.
pub fn compile_events(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let machines = machines(ctx)?;
    events::compile(ctx, &machines)
}

fn machine_resource(
    ctx: &Ctx,
    machine: &Machine,
    definition: &Value,
) -> Result<Value, TemplateError> {
    let id = machine.logical_id();
    let mut props = Map::new();
    props.insert(
        "DefinitionString".into(),
        definition::definition_string(ctx, definition),
    );
    let role = machine
        .get("role")
        .cloned()
        .unwrap_or_else(|| json!({"Fn::GetAtt": [format!("{id}Role"), "Arn"]}));
    props.insert("RoleArn".into(), role);
    if let Some(kind) = machine.get("type") {
        props.insert("StateMachineType".into(), kind.clone());
    }
    if let Some(logging) = machine.get("loggingConfig") {
        props.insert(
            "LoggingConfiguration".into(),
            logging_configuration(machine, logging)?,
        );
    }
    if let Some(tracing) = machine.get("tracingConfig") {
        props.insert(
            "TracingConfiguration".into(),
            tracing_configuration(machine, tracing)?,
        );
    }
    let tags = tags(ctx, machine)?;
    if !tags.is_empty() {
        props.insert("Tags".into(), Value::Array(tags));
    }
    if let Some(name) = machine.get("name") {
        props.insert("StateMachineName".into(), name.clone());
    }
    let mut depends = Vec::new();
    if machine.get("role").is_none() {
        depends.push(json!(format!("{id}Role")));
    }
    match machine.get("dependsOn") {
        Some(Value::Array(list)) => depends.extend(list.iter().cloned()),
        Some(other) => depends.push(other.clone()),
        None => {}
    }
    let mut resource = Map::new();
    resource.insert("Type".into(), json!("AWS::StepFunctions::StateMachine"));
    resource.insert("Properties".into(), Value::Object(props));
    if !depends.is_empty() {
        resource.insert("DependsOn".into(), Value::Array(depends));
    }
    Ok(Value::Object(resource))
}

/// `loggingConfig: {level, includeExecutionData, destinations}`.
fn logging_configuration(machine: &Machine, config: &Value) -> Result<Value, TemplateError> {
    let path = format!("{}.loggingConfig", machine.path);
    let map = config
        .as_object()
        .ok_or_else(|| TemplateError::invalid(&path, "expected a map"))?;
    super::reject_unknown_keys(
        &path,
        map,
        &["level", "includeExecutionData", "destinations"],
    )?;
    let destinations: Vec<Value> = map
        .get("destinations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|arn| json!({"CloudWatchLogsLogGroup": {"LogGroupArn": arn}}))
        .collect();
    Ok(json!({
        "Level": map.get("level").cloned().unwrap_or(json!("OFF")),
        "IncludeExecutionData": map.get("includeExecutionData").cloned().unwrap_or(json!(false)),
        "Destinations": destinations,
    }))
}

/// `tracingConfig: {enabled}`.
fn tracing_configuration(machine: &Machine, config: &Value) -> Result<Value, TemplateError> {
    let path = format!("{}.tracingConfig", machine.path);
    let map = config
        .as_object()
        .ok_or_else(|| TemplateError::invalid(&path, "expected a map"))?;
    super::reject_unknown_keys(&path, map, &["enabled"])?;
    Ok(json!({"Enabled": map.get("enabled").cloned().unwrap_or(json!(false))}))
}

/// `provider.tags` (unless `inheritGlobalTags: false`) then the machine's `tags`.
fn tags(ctx: &Ctx, machine: &Machine) -> Result<Vec<Value>, TemplateError> {
    let mut merged: Map<String, Value> = Map::new();
    if machine.get("inheritGlobalTags") != Some(&Value::Bool(false)) {
        for (k, v) in ctx.service.provider.tags.iter().flatten() {
            merged.insert(k.clone(), v.clone());
        }
    }
    match machine.get("tags") {
        None => {}
        Some(Value::Object(own)) => merged.extend(own.clone()),
        Some(_) => {
            return Err(TemplateError::invalid(
                format!("{}.tags", machine.path),
                "expected a map of tag names to values",
            ));
        }
    }
    Ok(merged
        .into_iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect())
}

/// `stepFunctions.activities`: `N(name)StepFunctionsActivity` and its ARN output.
fn compile_activities(ctx: &mut Ctx, no_output: bool) -> Result<(), TemplateError> {
    let Some(raw) = settings(ctx)?
        .and_then(|s| s.get("activities"))
        .filter(|v| !v.is_null())
    else {
        return Ok(());
    };
    let names: Vec<String> = raw
        .as_array()
        .and_then(|l| l.iter().map(|n| n.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| {
            TemplateError::invalid(
                "stepFunctions.activities",
                "expected a list of activity names",
            )
        })?;
    for name in names {
        let id = format!("{}StepFunctionsActivity", normalized_function_name(&name));
        ctx.resources().insert(
            id.clone(),
            json!({"Type": "AWS::StepFunctions::Activity", "Properties": {"Name": name}}),
        );
        if !no_output {
            ctx.outputs().insert(
                format!("{id}Arn"),
                json!({"Description": "Current StateMachine Activity Arn", "Value": {"Ref": id}}),
            );
        }
    }
    Ok(())
}
