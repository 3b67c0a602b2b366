//! `<stateMachineId>Role`: the role the plugin generates from the definition's Task states
//! (`compileIamRole.js`).

use serde_json::{Value, json};

use super::Machine;
use super::definition::{
    function_arn_text, is_intrinsic, nested_machines, referenced_function, translate,
};
use crate::{Ctx, TemplateError};

const LOGGING_ACTIONS: &str = "logs:CreateLogDelivery,logs:GetLogDelivery,logs:UpdateLogDelivery,logs:DeleteLogDelivery,logs:ListLogDeliveries,logs:PutResourcePolicy,logs:DescribeResourcePolicies,logs:DescribeLogGroups";
const TRACING_ACTIONS: &str =
    "xray:PutTraceSegments,xray:PutTelemetryRecords,xray:GetSamplingRules,xray:GetSamplingTargets";

/// One permission before consolidation: comma-separated actions on resources.
struct Permission {
    action: String,
    resource: Value,
}

/// The generated role of a machine without `role`.
pub fn machine_role(
    ctx: &Ctx,
    machine: &Machine,
    definition: &Value,
) -> Result<Value, TemplateError> {
    let mut permissions = Vec::new();
    collect_tasks(ctx, machine, definition, &mut permissions)?;
    if machine.get("loggingConfig").is_some() {
        permissions.push(Permission {
            action: LOGGING_ACTIONS.into(),
            resource: json!("*"),
        });
    }
    if machine.get("tracingConfig").is_some() {
        permissions.push(Permission {
            action: TRACING_ACTIONS.into(),
            resource: json!("*"),
        });
    }
    let mut statements = consolidate(permissions);
    if statements.is_empty() {
        statements.push(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
    }
    match machine.get("iamRoleStatements") {
        None => {}
        Some(Value::Array(extra)) => statements.extend(extra.iter().cloned()),
        Some(_) => {
            return Err(TemplateError::invalid(
                format!("{}.iamRoleStatements", machine.path),
                "expected a list of IAM statements",
            ));
        }
    }
    let policy_name = format!("{}-{}-statemachine", ctx.stage, ctx.service.service);
    let mut props = serde_json::Map::new();
    props.insert(
        "AssumeRolePolicyDocument".into(),
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": {"Fn::Sub": "states.${AWS::Region}.amazonaws.com"}},
            "Action": "sts:AssumeRole"
        }]}),
    );
    props.insert(
        "Policies".into(),
        json!([{"PolicyName": policy_name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]),
    );
    if let Some(boundary) = ctx.service.provider.extra.get("rolePermissionsBoundary") {
        props.insert("PermissionsBoundary".into(), boundary.clone());
    }
    if let Some(path) = role_path(ctx) {
        props.insert("Path".into(), path);
    }
    Ok(json!({"Type": "AWS::IAM::Role", "Properties": props}))
}

fn role_path(ctx: &Ctx) -> Option<Value> {
    match ctx.service.provider.iam.as_ref()?.role.as_ref()? {
        deployer_config::model::IamRole::Generated(settings) => settings.path.clone(),
        _ => None,
    }
}

/// Every Task state's permissions, nested state machines included.
fn collect_tasks(
    ctx: &Ctx,
    machine: &Machine,
    definition: &Value,
    out: &mut Vec<Permission>,
) -> Result<(), TemplateError> {
    let states = definition.get("States").and_then(Value::as_object);
    for (name, state) in states.into_iter().flatten() {
        if state.get("Type").and_then(Value::as_str) == Some("Task")
            && let Some(resource) = state.get("Resource")
        {
            task_permission(ctx, machine, name, resource, out)?;
        }
        for nested in nested_machines(state) {
            collect_tasks(ctx, machine, &Value::Object(nested.clone()), out)?;
        }
    }
    Ok(())
}

fn task_permission(
    ctx: &Ctx,
    machine: &Machine,
    state: &str,
    resource: &Value,
    out: &mut Vec<Permission>,
) -> Result<(), TemplateError> {
    let invoke = |resource: Value| Permission {
        action: "lambda:InvokeFunction".into(),
        resource,
    };
    if is_intrinsic(resource) {
        let target = translate(ctx, resource);
        if let Some(key) = referenced_function(ctx, &target) {
            let arn = function_arn_text(&ctx.function_name(&key));
            out.push(invoke(
                json!([{"Fn::Sub": arn}, {"Fn::Sub": format!("{arn}:*")}]),
            ));
        } else if let Some(sub) = target.get("Fn::Sub").and_then(Value::as_str) {
            out.push(invoke(
                json!([target.clone(), {"Fn::Sub": format!("{sub}:*")}]),
            ));
        } else {
            out.push(invoke(
                json!([target.clone(), {"Fn::Sub": ["${functionArn}:*", {"functionArn": target}]}]),
            ));
        }
        return Ok(());
    }
    let arn = resource.as_str().unwrap_or_default();
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() >= 7 && parts[2] == "lambda" && parts[5] == "function" {
        // An alias or version suffix is not part of the function's ARN.
        let function = parts[..7].join(":");
        out.push(invoke(
            json!([function, {"Fn::Sub": ["${functionArn}:*", {"functionArn": function}]}]),
        ));
        return Ok(());
    }
    if parts.len() >= 6 && parts[2] == "states" && parts[5] == "activity" {
        // Activity workers poll for tasks; the machine needs no permission (as the plugin).
        return Ok(());
    }
    let shown = if arn.is_empty() {
        resource.to_string()
    } else {
        arn.to_string()
    };
    Err(no_role(machine, state, &shown))
}

/// The refusal for a Task resource whose permissions are not derived (only Lambda functions
/// and activities are): the machine needs a role of its own.
fn no_role(machine: &Machine, state: &str, arn: &str) -> TemplateError {
    TemplateError::invalid(
        format!("{}.definition.States.{state}.Resource", machine.path),
        format!(
            "state machine \"{}\" has no role, and deployer cannot work out the IAM \
             permissions its Task state \"{state}\" needs to call {arn}: set role: on the \
             state machine to the ARN of a role that grants them",
            machine.key
        ),
    )
}

/// Merged by action, then by identical resources, as `consolidatePermissions*` does.
fn consolidate(permissions: Vec<Permission>) -> Vec<Value> {
    let mut by_action: Vec<Permission> = Vec::new();
    for p in permissions {
        match by_action.iter_mut().find(|q| q.action == p.action) {
            Some(q) => q.resource = union(&q.resource, &p.resource),
            None => by_action.push(p),
        }
    }
    let mut by_resource: Vec<Permission> = Vec::new();
    for p in by_action {
        match by_resource.iter_mut().find(|q| q.resource == p.resource) {
            Some(q) => q.action = format!("{},{}", q.action, p.action),
            None => by_resource.push(p),
        }
    }
    by_resource
        .into_iter()
        .map(|p| {
            let actions: Vec<&str> = p.action.split(',').collect();
            json!({"Effect": "Allow", "Action": actions, "Resource": p.resource})
        })
        .collect()
}

fn union(a: &Value, b: &Value) -> Value {
    if a == &json!("*") || b == &json!("*") {
        return json!("*");
    }
    let mut items: Vec<Value> = a.as_array().cloned().unwrap_or_else(|| vec![a.clone()]);
    for item in b.as_array().cloned().unwrap_or_else(|| vec![b.clone()]) {
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_without_derived_permissions_asks_for_a_role_in_one_sentence() {
        let config = serde_json::Map::new();
        let machine = Machine {
            key: "orders",
            config: &config,
            path: "stepFunctions.stateMachines.orders".into(),
        };
        let arn = "arn:aws:states:::sqs:sendMessage";
        let text = no_role(&machine, "Notify", arn).to_string();
        assert_eq!(
            text,
            "stepFunctions.stateMachines.orders.definition.States.Notify.Resource: state machine \
             \"orders\" has no role, and deployer cannot work out the IAM permissions its Task \
             state \"Notify\" needs to call arn:aws:states:::sqs:sendMessage: set role: on the \
             state machine to the ARN of a role that grants them"
        );
        assert!(!text.contains("not supported by deployer yet"), "{text}");
    }

    #[test]
    fn permissions_merge_by_action_then_by_resource() {
        let p = |a: &str, r: Value| Permission {
            action: a.into(),
            resource: r,
        };
        let statements = consolidate(vec![
            p("lambda:InvokeFunction", json!(["a"])),
            p("lambda:InvokeFunction", json!(["b", "a"])),
            p(LOGGING_ACTIONS, json!("*")),
            p(TRACING_ACTIONS, json!("*")),
        ]);
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Resource"], json!(["a", "b"]));
        assert_eq!(statements[1]["Resource"], json!("*"));
        assert_eq!(statements[1]["Action"].as_array().unwrap().len(), 12);
    }
}
