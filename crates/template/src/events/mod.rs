//! Event compilers, one module per v3 event plugin, run in the order of v3's plugin list
//! (which fixes the order of resources and of IAM statements in the template).
//!
//! [`PLUGINS`] is the one list of supported event types: it drives both the "is this event
//! supported" check and the compile order. Adding an event type is one module here and one
//! row in that table, at the position of its plugin in v3's list.

use deployer_config::model::Event;

use crate::{Ctx, TemplateError};

mod activemq;
mod alb;
mod alexa_skill;
mod alexa_smart_home;
mod broker;
mod cloudwatch_event;
mod cloudwatch_log;
mod cognito_user_pool;
mod event_bridge;
mod event_source_mapping;
mod events_rule;
mod http;
mod http_api;
mod iot;
mod iot_fleet_provisioning;
mod kafka;
mod msk;
mod rabbitmq;
mod s3;
mod schedule;
mod settings;
mod sns;
mod sqs;
mod stream;
mod websocket;

/// The headers API Gateway's CORS settings allow by default (REST and HTTP APIs alike).
const DEFAULT_CORS_HEADERS: [&str; 7] = [
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
];

/// One event plugin: the event type it compiles and how.
pub(crate) struct EventPlugin {
    /// The event type as written in the configuration ([`Event::kind`]).
    pub kind: &'static str,
    /// Adds the resources, outputs and IAM statements of every event of this type.
    pub compile: fn(&mut Ctx) -> Result<(), TemplateError>,
}

/// The supported event types, in v3's plugin order.
pub(crate) static PLUGINS: &[EventPlugin] = &[
    plugin("schedule", schedule::compile),
    plugin("s3", s3::compile),
    plugin("http", http::compile),
    plugin("websocket", websocket::compile),
    plugin("sns", sns::compile),
    plugin("stream", stream::compile),
    plugin("kafka", kafka::compile),
    plugin("activemq", activemq::compile),
    plugin("rabbitmq", rabbitmq::compile),
    plugin("msk", msk::compile),
    plugin("alb", alb::compile),
    plugin("alexaSkill", alexa_skill::compile),
    plugin("alexaSmartHome", alexa_smart_home::compile),
    plugin("iot", iot::compile),
    plugin("iotFleetProvisioning", iot_fleet_provisioning::compile),
    plugin("cloudwatchEvent", cloudwatch_event::compile),
    plugin("cloudwatchLog", cloudwatch_log::compile),
    plugin("cognitoUserPool", cognito_user_pool::compile),
    plugin("eventBridge", event_bridge::compile),
    plugin("sqs", sqs::compile),
    plugin("httpApi", http_api::compile),
];

const fn plugin(
    kind: &'static str,
    compile: fn(&mut Ctx) -> Result<(), TemplateError>,
) -> EventPlugin {
    EventPlugin { kind, compile }
}

/// Whether some plugin compiles this event.
pub(crate) fn is_supported(event: &Event) -> bool {
    PLUGINS.iter().any(|p| p.kind == event.kind())
}

/// Fails on the first event that no plugin handles, naming the function, index and type.
fn check_supported(ctx: &Ctx) -> Result<(), TemplateError> {
    for (key, function) in &ctx.service.functions {
        for (i, event) in function.events.iter().enumerate() {
            if !is_supported(event) {
                return Err(TemplateError::unsupported(
                    format!("functions.{key}.events[{i}]"),
                    format!("event type \"{}\"", event.kind()),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that every event is supported, then runs every plugin in order.
pub(crate) fn compile_events(ctx: &mut Ctx) -> Result<(), TemplateError> {
    check_supported(ctx)?;
    for plugin in PLUGINS {
        (plugin.compile)(ctx)?;
    }
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
