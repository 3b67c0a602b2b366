//! `deployer invoke -f NAME`: the response payload on stdout, the log tail (`-l`) on stderr; a
//! function error exits 1 with its type and message.

use anyhow::anyhow;
use deployer_ops::types::InvokeType;
use deployer_ops::{InvokeOptions, Payload};

use crate::args::{InvokeArgs, InvokeCommand, InvokeKind};
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer invoke`, or `invoke local`.
pub async fn run(out: &Output, mut args: InvokeArgs) -> anyhow::Result<u8> {
    if let Some(InvokeCommand::Local(local)) = args.local.take() {
        return crate::commands::invoke_local::run(out, local).await;
    }
    let payload = match (&args.data, &args.path) {
        (Some(d), _) => Payload::Data(d.clone()),
        (None, Some(p)) => Payload::File(p.clone()),
        (None, None) => Payload::None,
    };
    let options = InvokeOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        // clap requires -f unless `local` is given.
        function: args.function.clone().unwrap_or_default(),
        payload,
        kind: match args.kind {
            InvokeKind::RequestResponse => InvokeType::RequestResponse,
            InvokeKind::Event => InvokeType::Event,
            InvokeKind::DryRun => InvokeType::DryRun,
        },
        log: args.log,
        qualifier: args.qualifier.clone(),
    };
    let done = deployer_ops::invoke(&options, &CliObserver::new(out)).await?;
    if out.json {
        out.json_result(&done);
    } else {
        if !done.payload.is_empty() {
            out.result(&done.payload);
        }
        if let Some(log) = &done.log {
            out.progress(log.trim_end());
        }
    }
    match &done.error {
        Some(error) => Err(anyhow!(
            "function {} ({}) failed: {error}",
            done.function,
            done.name
        )),
        None => Ok(crate::exit::OK),
    }
}
