//! `iotFleetProvisioning` events: IoT provisioning templates with a pre-provisioning hook
//! (v3 `iot-fleet-provisioning.js`).

use serde_json::{Map, Value, json};

use super::settings::other_events;
use crate::naming::normalized_function_name;
use crate::{Ctx, TemplateError};

/// Compiles the `iotFleetProvisioning` event of each function (at most one per function).
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    for key in service.functions.keys() {
        let events: Vec<_> = other_events(service, "iotFleetProvisioning", key).collect();
        if events.len() > 1 {
            return Err(TemplateError::invalid(
                format!("functions.{key}.events"),
                format!("Found more than one iotFleetProvision event for function {key}"),
            ));
        }
        let Some((i, event)) = events.into_iter().next() else {
            continue;
        };
        let path = format!("functions.{key}.events[{i}].iotFleetProvisioning");
        let fn_id = normalized_function_name(key);
        let permission_id = format!("{fn_id}LambdaPermissionIotProvisioningTemplate");
        let body = event
            .get("templateBody")
            .filter(|v| v.is_object())
            .ok_or_else(|| {
                TemplateError::invalid(
                    format!("{path}.templateBody"),
                    "an iotFleetProvisioning event needs \"templateBody\"",
                )
            })?;
        let mut props = Map::new();
        props.insert(
            "Enabled".into(),
            event
                .get("enabled")
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or(json!(true)),
        );
        props.insert(
            "PreProvisioningHook".into(),
            json!({"TargetArn": ctx.lambda_arn(key)}),
        );
        props.insert(
            "ProvisioningRoleArn".into(),
            event
                .get("provisioningRoleArn")
                .cloned()
                .unwrap_or(Value::Null),
        );
        props.insert(
            "TemplateBody".into(),
            json!(serde_json::to_string(body).expect("JSON")),
        );
        if let Some(name) = event
            .get("templateName")
            .filter(|v| !v.is_null() && v != &&json!(""))
        {
            props.insert("TemplateName".into(), name.clone());
        }
        let depends_on: Vec<Value> = std::iter::once(permission_id.clone())
            .chain(ctx.alias_id(key))
            .map(Value::String)
            .collect();
        let alias = ctx.alias_id(key).map(Value::String);
        let target = ctx.lambda_arn(key);
        ctx.resources().insert(
            format!("{fn_id}IotProvisioningTemplate"),
            json!({"Type": "AWS::IoT::ProvisioningTemplate", "Properties": props, "DependsOn": depends_on}),
        );
        ctx.resources().insert(
            permission_id,
            crate::resource_depending("AWS::Lambda::Permission", alias, json!({
                "FunctionName": target, "Action": "lambda:InvokeFunction", "Principal": "iot.amazonaws.com"})),
        );
    }
    Ok(())
}
