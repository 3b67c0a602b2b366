//! `deployer invoke local -f NAME`: the handler's result as JSON on stdout, its own output on
//! stderr; a thrown error or a timeout prints Lambda's error shape and exits 1.

use deployer_ops::{LocalInvocation, LocalOptions, Payload};

use crate::args::InvokeLocalArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer invoke local`.
pub async fn run(out: &Output, args: InvokeLocalArgs) -> anyhow::Result<u8> {
    let payload = match (&args.data, &args.path) {
        (Some(d), _) => Payload::Data(d.clone()),
        (None, Some(p)) => Payload::File(p.clone()),
        (None, None) => Payload::None,
    };
    let options = LocalOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        function: args.function.clone(),
        payload,
        env: args.env.clone(),
        context: args.context.clone(),
        with_credentials: args.with_credentials,
    };
    let observer = CliObserver::new(out);
    let result = deployer_ops::invoke_local(&options, &observer).await;
    observer.finish();
    let done = result?;
    show(out, &done);
    Ok(match &done.error {
        Some(_) => crate::exit::FAILURE,
        None => crate::exit::OK,
    })
}

fn show(out: &Output, done: &LocalInvocation) {
    if out.json {
        out.json_result(done);
    } else {
        let shown = match &done.error {
            Some(error) => serde_json::to_value(error).unwrap_or_default(),
            None => done.result.clone(),
        };
        out.result(&serde_json::to_string_pretty(&shown).unwrap_or_default());
    }
    let Some(error) = &done.error else {
        return;
    };
    let why = if done.status == "timedOut" {
        format!(
            "timed out after {} s, its timeout (functions.{}.timeout, else provider.timeout, \
             else 6)",
            done.timeout_seconds, done.function
        )
    } else {
        format!("failed: {}: {}", error.error_type, error.error_message)
    };
    out.error(&anyhow::anyhow!(
        "function {} ({}) {why}",
        done.function,
        done.name
    ));
}
