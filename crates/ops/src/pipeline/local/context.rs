//! What the handler is told about itself: Lambda's identity of the function (name, handler,
//! runtime, memory, region) and the fields of the context object the runners build.

use deployer_config::Resolved;
use deployer_config::model::Service;
use serde_json::{Value, json};

use crate::errors::{OpError, OpErrorKind};
use crate::pipeline::local::env::{self, Identity};

/// Lambda's default memory size when neither the function nor the provider sets one.
const DEFAULT_MEMORY: u64 = 1024;

/// What Lambda would tell the function about itself.
pub(crate) fn identity(
    service: &Service,
    key: &str,
    resolved: &Resolved,
) -> anyhow::Result<Identity> {
    let function = &service.functions[key];
    let handler = function.handler.clone().ok_or_else(|| {
        OpError::error(
            OpErrorKind::Function,
            format!("function \"{key}\" has no handler (an image function cannot run locally)"),
        )
    })?;
    Ok(Identity {
        name: service.function_name(key, &resolved.stage),
        handler,
        runtime: function
            .runtime
            .clone()
            .or_else(|| service.provider.runtime.clone())
            .unwrap_or_else(|| "nodejs20.x".into()),
        memory: function
            .memory_size
            .or(service.provider.memory_size)
            .unwrap_or(DEFAULT_MEMORY),
        region: resolved.region.clone(),
    })
}

/// The context object's fields, for the runner.
pub(crate) fn context_of(
    identity: &Identity,
    account: Option<&str>,
    timeout: u64,
    client: Option<Value>,
) -> Value {
    let account = account.unwrap_or("123456789012");
    json!({
        "awsRequestId": request_id(),
        "functionName": identity.name,
        "functionVersion": "$LATEST",
        "invokedFunctionArn": format!(
            "arn:aws:lambda:{}:{account}:function:{}", identity.region, identity.name
        ),
        "memoryLimitInMB": identity.memory,
        "logGroupName": format!("/aws/lambda/{}", identity.name),
        "logStreamName": env::LOG_STREAM,
        "timeoutMs": timeout * 1000,
        "clientContext": client,
    })
}

/// A fresh request id in Lambda's UUID form.
fn request_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut bits = [0u64; 2];
    for (i, b) in bits.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        *b = h.finish();
    }
    let hex = format!("{:016x}{:016x}", bits[0], bits[1]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_lambdas() {
        let id = request_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_ne!(id, request_id());
    }
}
