//! What the Amazon MQ plugins (`activemq`, `rabbitmq`) share: one event source mapping per
//! queue, then the secret, broker and network statements per function.

use serde_json::{Map, Value, json};

use super::event_source_mapping as esm;
use super::settings::other_events;
use crate::naming::{normalize_alnum, normalized_function_name};
use crate::{Ctx, TemplateError};

/// The broker engine of an event kind.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `activemq`.
    ActiveMq,
    /// `rabbitmq` (adds the virtual host).
    RabbitMq,
}

impl Engine {
    fn kind(self) -> &'static str {
        match self {
            Engine::ActiveMq => "activemq",
            Engine::RabbitMq => "rabbitmq",
        }
    }

    fn id_kind(self) -> &'static str {
        match self {
            Engine::ActiveMq => "ActiveMQ",
            Engine::RabbitMq => "RabbitMQ",
        }
    }
}

/// Compiles every event of the engine's kind.
pub fn compile(ctx: &mut Ctx, engine: Engine) -> Result<(), TemplateError> {
    let service = ctx.service;
    for key in service.functions.keys() {
        let mut brokers = Vec::new();
        let mut secrets = Vec::new();
        for (i, event) in other_events(service, engine.kind(), key) {
            let path = format!("functions.{key}.events[{i}].{}", engine.kind());
            let (id, resource, arn, auth) = mapping(ctx, engine, key, event, &path)?;
            brokers.push(arn);
            secrets.push(auth);
            ctx.resources().insert(id, resource);
        }
        if !brokers.is_empty()
            && let Some(statements) = ctx.role_statements()
        {
            statements.push(esm::secrets_statement(secrets));
            statements.push(esm::allow(json!(["mq:DescribeBroker"]), brokers));
            statements.push(esm::ec2_statement());
        }
    }
    Ok(())
}

/// One queue's mapping: its logical ID, the resource, the broker ARN and the secret ARN.
fn mapping(
    ctx: &Ctx,
    engine: Engine,
    key: &str,
    event: &Value,
    path: &str,
) -> Result<(String, Value, Value, Value), TemplateError> {
    let kind = engine.kind();
    let arn = esm::required(event, "arn", path, kind)?;
    let auth = esm::required(event, "basicAuthArn", path, kind)?;
    let queue = esm::required(event, "queue", path, kind)?;
    let mut access = vec![json!({"Type": "BASIC_AUTH", "URI": auth})];
    if engine == Engine::RabbitMq
        && let Some(host) = event
            .get("virtualHost")
            .filter(|v| !v.is_null() && v != &&json!(""))
    {
        access.push(json!({"Type": "VIRTUAL_HOST", "URI": host}));
    }
    let mut props = Map::new();
    props.insert("FunctionName".into(), ctx.lambda_arn(key));
    props.insert("EventSourceArn".into(), arn.clone());
    props.insert("Queues".into(), json!([queue]));
    props.insert("SourceAccessConfigurations".into(), Value::Array(access));
    esm::copy_batching(&mut props, event);
    esm::copy_unless(&mut props, event, "enabled", "Enabled", None);
    if let Some(patterns) = event.get("filterPatterns").and_then(Value::as_array) {
        props.insert("FilterCriteria".into(), esm::filter_criteria(patterns));
    }
    let queue_id: String = normalize_alnum(queue.as_str().unwrap_or_default())
        .chars()
        .take(150)
        .collect();
    let id = format!(
        "{}EventSourceMapping{}{queue_id}",
        normalized_function_name(key),
        engine.id_kind()
    );
    Ok((
        id,
        esm::mapping(esm::depends_on(ctx, key), props),
        arn,
        auth,
    ))
}
