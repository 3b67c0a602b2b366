//! Event compilers, run in the order of v3's plugin list (which fixes the order of resources
//! and of IAM statements in the template).

use deployer_config::model::Event;

use crate::{Ctx, TemplateError};

mod alb;
mod cognito;
mod event_bridge;
mod http;
mod http_api;
mod kafka;
mod misc;
mod more;
mod s3;
mod schedule;
mod sns;
mod sqs;
mod stream;
mod websocket;

/// Fails on the first event that no compiler handles, naming the function, index and type.
fn check_supported(ctx: &Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        for (i, event) in function.events.iter().enumerate() {
            let supported = matches!(
                event,
                Event::Http(_)
                    | Event::HttpApi(_)
                    | Event::Schedule(_)
                    | Event::S3(_)
                    | Event::Sns(_)
                    | Event::Sqs(_)
                    | Event::Stream(_)
                    | Event::EventBridge(_)
                    | Event::Websocket(_)
                    | Event::AlexaSkill(_)
                    | Event::Iot(_)
                    | Event::CloudwatchEvent(_)
                    | Event::CloudwatchLog(_)
            ) || matches!(event, Event::Other(kind, _) if ["cognitoUserPool", "msk", "kafka", "alb", "activemq", "rabbitmq", "alexaSmartHome", "iotFleetProvisioning"].contains(&kind.as_str()));
            if !supported {
                return Err(TemplateError::unsupported(
                    format!("functions.{key}.events[{i}]"),
                    format!("event type \"{}\"", event.kind()),
                ));
            }
        }
    }
    Ok(())
}

/// Compiles every event, in v3's plugin order: schedule, s3, http, websocket, sns, stream,
/// kafka, activemq, rabbitmq, msk, alb, alexaSkill, alexaSmartHome, iot, iotFleetProvisioning,
/// cloudwatchEvent, cloudwatchLog, cognitoUserPool, eventBridge, sqs, httpApi.
pub fn compile_events(ctx: &mut Ctx) -> Result<(), TemplateError> {
    check_supported(ctx)?;
    schedule::compile(ctx)?;
    s3::compile(ctx)?;
    http::compile(ctx)?;
    websocket::compile(ctx)?;
    sns::compile(ctx)?;
    stream::compile(ctx)?;
    kafka::compile_kafka(ctx)?;
    more::compile_mq(ctx, false)?;
    more::compile_mq(ctx, true)?;
    kafka::compile_msk(ctx)?;
    alb::compile(ctx)?;
    misc::compile_alexa_skill(ctx)?;
    more::compile_alexa_smart_home(ctx)?;
    misc::compile_iot(ctx)?;
    more::compile_iot_fleet_provisioning(ctx)?;
    misc::compile_cloudwatch_event(ctx)?;
    misc::compile_cloudwatch_log(ctx)?;
    cognito::compile(ctx)?;
    event_bridge::compile(ctx)?;
    sqs::compile(ctx)?;
    http_api::compile(ctx)?;
    Ok(())
}

/// REST and WebSocket API logs need API Gateway's account-wide CloudWatch role. v3 sets it
/// with a custom resource Lambda unless `provider.logs.restApi.roleManagedExternally` says the
/// role exists; deployer supports only the latter.
pub(crate) fn check_api_gateway_logs_role(ctx: &Ctx, kind: &str) -> Result<(), TemplateError> {
    let logs = ctx.service.provider.logs.as_ref();
    let enabled = logs
        .and_then(|l| l.get(kind))
        .is_some_and(|v| !matches!(v, serde_json::Value::Null | serde_json::Value::Bool(false)));
    let managed = logs
        .and_then(|l| l.get("restApi"))
        .and_then(|r| r.get("roleManagedExternally"))
        == Some(&serde_json::Value::Bool(true));
    if enabled && !managed {
        return Err(TemplateError::unsupported(
            format!("provider.logs.{kind}"),
            "API Gateway logs without `provider.logs.restApi.roleManagedExternally: true` \
             (Serverless sets the account's CloudWatch role with a custom resource; set the role up \
             once and add that setting)",
        ));
    }
    Ok(())
}
