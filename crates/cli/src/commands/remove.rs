//! `deployer remove`: guarded; asks on a terminal before removing a stage with an account pin
//! (unless `--yes`; without a terminal `--yes` is required), empties the stage's prefix in the
//! deployment bucket, deletes the stack and waits.

use std::io::{BufRead, Write};

use deployer_aws::deploy;
use deployer_aws::stack::{StackParams, Waits};
use deployer_config::model::Service;
use serde_json::json;

use crate::args::RemoveArgs;
use crate::commands::prepare::{self, ProgressPrinter};
use crate::commands::report;
use crate::context;
use crate::exit::{Coded, USAGE};
use crate::output::Output;

pub fn run(out: &Output, args: RemoveArgs) -> anyhow::Result<u8> {
    let rt = context::runtime()?;
    let opened = prepare::open(out, &rt, &args.service, &args.credentials)?;
    let resolved = prepare::resolve(out, &rt, &opened, &args.service)?;
    let service = Service::from_value(&resolved.value)?;
    let session = &opened.stage.session;
    let stage = resolved.stage.clone();
    let stack = prepare::stack_name(&service, &stage);
    report::announce(out, &format!("Removing {} from", service.service), session);
    if session.pin.is_pinned() && !args.yes {
        if !out.interactive {
            return Err(Coded::new(
                USAGE,
                format!(
                    "stage {stage} is pinned to an account: removing stack {stack} needs \
                     confirmation; pass --yes to remove it without a terminal"
                ),
            )
            .into());
        }
        if !confirm(&stack, &session.identity.account)? {
            out.progress("Not removed.");
            return Ok(crate::exit::FAILURE);
        }
    }
    let bucket = prepare::bucket_choice(&service);
    let params = StackParams {
        stack: stack.clone(),
        region: session.region.clone(),
        role_arn: prepare::deployment_role(&service),
        ..Default::default()
    };
    let printer = ProgressPrinter::new(out);
    let result = rt.block_on(deploy::remove(
        &opened.clients,
        &params,
        service
            .provider
            .deployment_prefix
            .as_deref()
            .unwrap_or("serverless"),
        &service.service,
        &stage,
        &bucket,
        &Waits::default(),
        &printer,
    ));
    printer.finish();
    let removed = result?;
    if out.json {
        out.json_result(&json!({
            "status": "removed",
            "stack": removed.stack,
            "stackId": removed.stack_id,
            "account": session.identity.account,
            "region": session.region,
            "bucket": removed.bucket,
            "objectsDeleted": removed.objects_deleted,
            "millis": removed.millis,
            "awsCalls": report::calls_json(&opened.clients.counter().summary()),
        }));
    } else {
        out.result(&format!(
            "✔ Stack {} removed from account {} ({} object(s) deleted, {:.1}s)",
            removed.stack,
            session.identity.account,
            removed.objects_deleted,
            removed.millis as f32 / 1000.0
        ));
    }
    Ok(crate::exit::OK)
}

fn confirm(stack: &str, account: &str) -> anyhow::Result<bool> {
    let mut err = std::io::stderr().lock();
    write!(
        err,
        "Remove stack {stack} and its deployment artifacts from account {account}? Type the stack name to confirm: "
    )?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == stack)
}
