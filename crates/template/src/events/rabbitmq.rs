//! `rabbitmq` events: Amazon MQ for RabbitMQ event source mappings (v3 `rabbitmq.js`).

use super::broker::{self, Engine};
use crate::{Ctx, TemplateError};

/// Compiles every `rabbitmq` event.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    broker::compile(ctx, Engine::RabbitMq)
}
