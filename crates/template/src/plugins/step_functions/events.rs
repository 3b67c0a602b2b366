//! State machine events (`lib/deploy/events/**`): `schedule`, `cloudwatchEvent` /
//! `eventBridge` rules, and `http` methods that start an execution.

use serde_json::{Map, Value, json};

use super::Machine;
use crate::naming::{normalize_path, normalize_path_part, normalized_function_name, upper_first};
use crate::{Ctx, TemplateError};

const REQUEST_TEMPLATE: &str = "\n#set( $body = $util.escapeJavaScript($input.json('$')).replaceAll(\"\\\\'\", \"'\") )\n{\"input\": \"$body\", \"name\": \"$context.requestId\", \"stateMachineArn\":\"${StateMachineArn}\"}";
const HTTP_ROLE: &str = "ApigatewayToStepFunctionsRole";
const REST_API: &str = "ApiGatewayRestApi";

/// Schedules and rules per machine, then the REST API parts of every `http` event.
pub fn compile(ctx: &mut Ctx, machines: &[Machine]) -> Result<(), TemplateError> {
    let mut http = Vec::new();
    for machine in machines {
        let events = match machine.get("events") {
            None => continue,
            Some(Value::Array(list)) => list,
            Some(_) => {
                return Err(TemplateError::invalid(
                    format!("{}.events", machine.path),
                    "expected a list of events",
                ));
            }
        };
        let (mut schedules, mut rules) = (0, 0);
        for (i, event) in events.iter().enumerate() {
            let path = format!("{}.events[{i}]", machine.path);
            let (kind, config) = event_kind(event, &path)?;
            match kind {
                "schedule" => {
                    schedules += 1;
                    schedule(ctx, machine, config, schedules, &format!("{path}.schedule"))?;
                }
                "cloudwatchEvent" | "eventBridge" => {
                    rules += 1;
                    rule(ctx, machine, config, rules, &format!("{path}.{kind}"))?;
                }
                "http" => http.push((machine, http_event(config, &format!("{path}.http"))?)),
                other => {
                    return Err(TemplateError::unsupported(
                        path,
                        format!("state machine event type {other:?}"),
                    ));
                }
            }
        }
    }
    if !http.is_empty() {
        compile_http(ctx, &http)?;
    }
    Ok(())
}

fn event_kind<'a>(event: &'a Value, path: &str) -> Result<(&'a str, &'a Value), TemplateError> {
    event
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
        .map(|(k, v)| (k.as_str(), v))
        .ok_or_else(|| TemplateError::invalid(path, "expected one event type with its settings"))
}

fn settings_map(
    config: &Value,
    path: &str,
    known: &[&str],
) -> Result<Map<String, Value>, TemplateError> {
    let map = config
        .as_object()
        .cloned()
        .ok_or_else(|| TemplateError::invalid(path, "expected a map"))?;
    super::super::reject_unknown_keys(path, &map, known)?;
    Ok(map)
}

fn state(map: &Map<String, Value>) -> Value {
    match map.get("enabled") {
        Some(Value::Bool(false)) => json!("DISABLED"),
        _ => json!("ENABLED"),
    }
}

/// `Input` (objects as JSON text), `InputPath`, `InputTransformer` of a target.
fn target_inputs(map: &Map<String, Value>, target: &mut Map<String, Value>) {
    if let Some(input) = map.get("input") {
        let text = match input {
            Value::String(s) => s.clone(),
            other => serde_json::to_string(other).expect("a JSON value serializes"),
        };
        target.insert("Input".into(), json!(text));
    }
    if let Some(path) = map.get("inputPath") {
        target.insert("InputPath".into(), path.clone());
    }
    if let Some(transformer) = map.get("inputTransformer") {
        target.insert(
            "InputTransformer".into(),
            json!({"InputPathsMap": transformer.get("inputPathsMap"), "InputTemplate": transformer.get("inputTemplate")}),
        );
    }
}

/// The role EventBridge assumes to start executions of the machine.
fn events_role(ctx: &Ctx, machine: &Machine, suffix: &str) -> Value {
    let policy = format!(
        "{}-{}-{}-{}-{suffix}",
        ctx.stage, ctx.input.region, ctx.service.service, machine.key
    );
    json!({"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": policy, "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": {"Ref": machine.logical_id()}}]}}]
    }})
}

fn schedule(
    ctx: &mut Ctx,
    machine: &Machine,
    config: &Value,
    n: usize,
    path: &str,
) -> Result<(), TemplateError> {
    let map = match config {
        Value::String(rate) => Map::from_iter([("rate".to_owned(), json!(rate))]),
        other => settings_map(
            other,
            path,
            &[
                "rate",
                "enabled",
                "input",
                "inputPath",
                "inputTransformer",
                "name",
                "description",
                "role",
            ],
        )?,
    };
    let rate = map.get("rate").filter(|r| r.is_string()).ok_or_else(|| {
        TemplateError::invalid(
            format!("{path}.rate"),
            "expected a rate() or cron() expression",
        )
    })?;
    let key = normalized_function_name(machine.key);
    let role_id = format!("{key}ScheduleToStepFunctionsRole");
    let mut props = Map::new();
    props.insert("ScheduleExpression".into(), rate.clone());
    props.insert("State".into(), state(&map));
    insert_name_description(&map, &mut props);
    props.insert(
        "Targets".into(),
        json!([target(&map, machine, "StepFunctionsSchedule", &role_id)]),
    );
    ctx.resources().insert(
        format!("{key}StepFunctionsEventsRuleSchedule{n}"),
        json!({"Type": "AWS::Events::Rule", "Properties": props}),
    );
    if !map.contains_key("role") {
        let role = events_role(ctx, machine, "schedule");
        ctx.resources().entry(role_id).or_insert(role);
    }
    Ok(())
}

fn insert_name_description(map: &Map<String, Value>, props: &mut Map<String, Value>) {
    for (from, to) in [("name", "Name"), ("description", "Description")] {
        if let Some(v) = map.get(from) {
            props.insert(to.into(), v.clone());
        }
    }
}

fn target(map: &Map<String, Value>, machine: &Machine, id_suffix: &str, role_id: &str) -> Value {
    let mut target = Map::new();
    target_inputs(map, &mut target);
    target.insert("Arn".into(), json!({"Ref": machine.logical_id()}));
    target.insert("Id".into(), json!(format!("{}{id_suffix}", machine.key)));
    let role = map
        .get("role")
        .or(map.get("iamRole"))
        .cloned()
        .unwrap_or_else(|| json!({"Fn::GetAtt": [role_id, "Arn"]}));
    target.insert("RoleArn".into(), role);
    Value::Object(target)
}

fn rule(
    ctx: &mut Ctx,
    machine: &Machine,
    config: &Value,
    n: usize,
    path: &str,
) -> Result<(), TemplateError> {
    let map = settings_map(
        config,
        path,
        &[
            "event",
            "eventBusName",
            "name",
            "description",
            "enabled",
            "input",
            "inputPath",
            "inputTransformer",
            "iamRole",
        ],
    )?;
    let pattern = map.get("event").ok_or_else(|| {
        TemplateError::invalid(format!("{path}.event"), "the event pattern is required")
    })?;
    let key = normalized_function_name(machine.key);
    let role_id = format!("{key}EventToStepFunctionsRole");
    let mut props = Map::new();
    if let Some(bus) = map.get("eventBusName") {
        props.insert("EventBusName".into(), bus.clone());
    }
    props.insert("EventPattern".into(), pattern.clone());
    props.insert("State".into(), state(&map));
    insert_name_description(&map, &mut props);
    props.insert(
        "Targets".into(),
        json!([target(&map, machine, "CloudWatchEvent", &role_id)]),
    );
    ctx.resources().insert(
        format!("{key}EventsRuleCloudWatchEvent{n}"),
        json!({"Type": "AWS::Events::Rule", "Properties": props}),
    );
    if !map.contains_key("iamRole") {
        let role = events_role(ctx, machine, "event");
        ctx.resources().entry(role_id).or_insert(role);
    }
    Ok(())
}

/// One `http` event: path without slashes at the ends, upper-case method, optional role.
struct HttpEvent {
    path: String,
    method: String,
    iam_role: Option<Value>,
}

fn http_event(config: &Value, path: &str) -> Result<HttpEvent, TemplateError> {
    let (route, method, iam_role) = match config {
        Value::String(text) => {
            let (method, route) = text
                .split_once(' ')
                .ok_or_else(|| TemplateError::invalid(path, "expected \"METHOD path\""))?;
            (route.to_owned(), method.to_owned(), None)
        }
        other => {
            let map = settings_map(other, path, &["path", "method", "iamRole"])?;
            let get = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
            let route = get("path")
                .ok_or_else(|| TemplateError::invalid(format!("{path}.path"), "required"))?;
            let method = get("method")
                .ok_or_else(|| TemplateError::invalid(format!("{path}.method"), "required"))?;
            (route, method, map.get("iamRole").cloned())
        }
    };
    Ok(HttpEvent {
        path: route.trim_matches('/').to_owned(),
        method: method.to_uppercase(),
        iam_role,
    })
}

/// The REST API (created unless core `http` events made it), resources, methods, the role
/// API Gateway assumes, and the deployment with the `ServiceEndpoint` output.
fn compile_http(ctx: &mut Ctx, events: &[(&Machine, HttpEvent)]) -> Result<(), TemplateError> {
    ensure_rest_api(ctx)?;
    for (_, event) in events {
        ensure_resources(ctx, &event.path);
    }
    let mut methods = Vec::new();
    for (machine, event) in events {
        let id = format!(
            "ApiGatewayMethod{}{}",
            normalize_path(&event.path),
            upper_first(&event.method.to_lowercase())
        );
        let method = method(machine, event);
        ctx.resources().insert(id.clone(), method);
        methods.push(json!(id));
    }
    if events.iter().any(|(_, e)| e.iam_role.is_none()) {
        ctx.resources().insert(HTTP_ROLE.into(), http_role());
    }
    deployment(ctx, methods);
    Ok(())
}

fn ensure_rest_api(ctx: &mut Ctx) -> Result<(), TemplateError> {
    if ctx.has_resource(REST_API) {
        return Ok(());
    }
    let provider = &ctx.service.provider;
    if provider.api_gateway.is_some() {
        return Err(TemplateError::unsupported(
            "provider.apiGateway",
            "REST API settings for a REST API that only state machine http events use",
        ));
    }
    let name = provider
        .api_name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", ctx.stage, ctx.service.service));
    let endpoint = provider
        .endpoint_type
        .clone()
        .unwrap_or_else(|| "EDGE".into())
        .to_uppercase();
    if endpoint == "PRIVATE" {
        return Err(TemplateError::unsupported(
            "provider.endpointType",
            "a private REST API for state machine http events",
        ));
    }
    ctx.resources().insert(
        REST_API.into(),
        json!({"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": name, "EndpointConfiguration": {"Types": [endpoint]}}}),
    );
    Ok(())
}

/// `ApiGatewayResource<Path>` for every prefix of the path that does not exist yet.
fn ensure_resources(ctx: &mut Ctx, path: &str) {
    if path.is_empty() {
        return;
    }
    let parts: Vec<&str> = path.split('/').collect();
    for depth in 1..=parts.len() {
        let id = resource_id(&parts[..depth].join("/"));
        if ctx.has_resource(&id) {
            continue;
        }
        let parent = if depth == 1 {
            json!({"Fn::GetAtt": [REST_API, "RootResourceId"]})
        } else {
            json!({"Ref": resource_id(&parts[..depth - 1].join("/"))})
        };
        ctx.resources().insert(
            id,
            json!({"Type": "AWS::ApiGateway::Resource", "Properties": {
                "ParentId": parent, "PathPart": parts[depth - 1], "RestApiId": {"Ref": REST_API}}}),
        );
    }
}

fn resource_id(path: &str) -> String {
    let name: String = path.split('/').map(normalize_path_part).collect();
    format!("ApiGatewayResource{name}")
}

fn method(machine: &Machine, event: &HttpEvent) -> Value {
    let resource_id = if event.path.is_empty() {
        json!({"Fn::GetAtt": [REST_API, "RootResourceId"]})
    } else {
        json!({"Ref": resource_id(&event.path)})
    };
    let template =
        json!({"Fn::Sub": [REQUEST_TEMPLATE, {"StateMachineArn": {"Ref": machine.logical_id()}}]});
    let credentials = event
        .iam_role
        .clone()
        .unwrap_or_else(|| json!({"Fn::GetAtt": [HTTP_ROLE, "Arn"]}));
    let responses = |code: u16, pattern: &str| json!({"StatusCode": code, "SelectionPattern": pattern, "ResponseParameters": {}, "ResponseTemplates": {}});
    let method_response =
        |code: u16| json!({"ResponseParameters": {}, "ResponseModels": {}, "StatusCode": code});
    json!({"Type": "AWS::ApiGateway::Method", "Properties": {
        "HttpMethod": event.method,
        "RequestParameters": {},
        "AuthorizationType": "NONE",
        "ApiKeyRequired": false,
        "ResourceId": resource_id,
        "RestApiId": {"Ref": REST_API},
        "Integration": {
            "IntegrationHttpMethod": "POST",
            "Type": "AWS",
            "Credentials": credentials,
            "Uri": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"}, ":states:action/StartExecution"]]},
            "PassthroughBehavior": "NEVER",
            "RequestTemplates": {"application/json": template, "application/x-www-form-urlencoded": template},
            "IntegrationResponses": [responses(200, ""), responses(400, "400")]
        },
        "MethodResponses": [method_response(200), method_response(400)]
    }})
}

fn http_role() -> Value {
    json!({"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "apigatewaytostepfunctions", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": "*"}]}}]
    }})
}

/// Extends core's `ApiGatewayDeployment<id>` or creates it, with `ServiceEndpoint`.
fn deployment(ctx: &mut Ctx, methods: Vec<Value>) {
    let existing = ctx.template["Resources"].as_object().and_then(|r| {
        r.keys()
            .find(|k| k.starts_with("ApiGatewayDeployment"))
            .cloned()
    });
    if let Some(id) = existing {
        let resource = &mut ctx.resources()[&id];
        let mut depends = resource
            .get("DependsOn")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        depends.extend(methods);
        resource["DependsOn"] = Value::Array(depends);
        return;
    }
    let id = format!("ApiGatewayDeployment{}", ctx.input.instance_id);
    let stage = ctx.stage.to_owned();
    ctx.resources().insert(
        id,
        json!({"Type": "AWS::ApiGateway::Deployment",
               "Properties": {"RestApiId": {"Ref": REST_API}, "StageName": stage},
               "DependsOn": methods}),
    );
    if ctx.template["Outputs"].get("ServiceEndpoint").is_none() {
        ctx.outputs().insert(
            "ServiceEndpoint".into(),
            json!({"Description": "URL of the service endpoint", "Value": {"Fn::Join": ["", [
                "https://", {"Ref": REST_API}, ".execute-api.", {"Ref": "AWS::Region"}, ".",
                {"Ref": "AWS::URLSuffix"}, format!("/{stage}")]]}}),
        );
    }
}
