//! `activemq` events: Amazon MQ for ActiveMQ event source mappings (v3 `activemq.js`).

use super::broker::{self, Engine};
use crate::{Ctx, TemplateError};

/// Compiles every `activemq` event.
pub fn compile(ctx: &mut Ctx) -> Result<(), TemplateError> {
    broker::compile(ctx, Engine::ActiveMq)
}
