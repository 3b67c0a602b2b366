//! `deployer up` (alias `deploy`): guard, package, resolve AWS variables, create or update the
//! stack, keep the newest deployments, print endpoints, functions and outputs.

use std::time::Instant;

use deployer_aws::deploy::{self, DeployStatus};
use serde_json::json;

use crate::args::UpArgs;
use crate::commands::prepare::{self, ProgressPrinter};
use crate::commands::report;
use crate::context;
use crate::output::Output;

pub fn run(out: &Output, args: UpArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let rt = context::runtime()?;
    let opened = prepare::open(out, &rt, &args.service, &args.credentials)?;
    let guard_ms = started.elapsed().as_millis() as u64;
    let built = prepare::deployable(out, &rt, &opened, &args.service, args.package.as_deref())?;
    let packaged_ms = started.elapsed().as_millis() as u64 - guard_ms;
    let session = &opened.stage.session;
    report::announce(
        out,
        &format!("Deploying {} to", built.service.service),
        session,
    );
    let mut request = prepare::deploy_request(&built, args.force);
    request.waits.operation = std::time::Duration::from_secs(args.timeout.max(1) * 60);
    request.lock.force_unlock = args.force_unlock;
    let printer = ProgressPrinter::new(out);
    let result = rt.block_on(deploy::deploy(&opened.clients, &request, &printer));
    printer.finish();
    let calls = report::calls_json(&opened.clients.counter().summary());
    let outcome = match result {
        Ok(o) => o,
        Err(err) => {
            if let Some(raw) = err.raw_chain() {
                out.detail(&format!("AWS SDK error chain: {raw}"));
            }
            if out.json {
                out.json_result(&json!({
                    "status": "failed",
                    "stack": request.params.stack,
                    "account": session.identity.account,
                    "region": session.region,
                    "stage": session.stage,
                    "error": err.to_string(),
                    "awsCalls": calls,
                }));
            }
            return Err(anyhow::Error::new(err).context(format!(
                "Stack {} failed to deploy ({:.1}s)",
                request.params.stack,
                started.elapsed().as_secs_f32()
            )));
        }
    };
    let endpoints = report::endpoints(&built.service, &outcome.outputs);
    let functions = report::functions(&built.service, None, Some(&built.update));
    let secs = started.elapsed().as_secs_f32();
    if out.json {
        let mut timings = serde_json::Map::new();
        timings.insert("guard".into(), json!(guard_ms));
        timings.insert("resolve and package".into(), json!(packaged_ms));
        for (k, v) in &outcome.timings {
            if k != "total" {
                timings.insert(k.clone(), json!(v));
            }
        }
        timings.insert("total".into(), json!(started.elapsed().as_millis() as u64));
        out.json_result(&json!({
            "status": outcome.status,
            "reason": outcome.reason,
            "service": built.service.service,
            "stage": session.stage,
            "stack": outcome.stack,
            "stackId": outcome.stack_id,
            "stackStatus": outcome.stack_status,
            "account": session.identity.account,
            "region": session.region,
            "bucket": outcome.bucket,
            "directory": outcome.directory,
            "uploaded": outcome.uploaded,
            "skippedUploads": outcome.skipped_uploads,
            "removedDeployments": outcome.removed_deployments,
            "outputs": report::outputs_json(&outcome.outputs),
            "endpoints": endpoints,
            "functions": functions.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "timings": timings,
            "awsCalls": calls,
        }));
        return Ok(crate::exit::OK);
    }
    match outcome.status {
        DeployStatus::Deployed => out.result(&format!(
            "✔ Service deployed to stack {} in account {} ({secs:.1}s)",
            outcome.stack, session.identity.account
        )),
        DeployStatus::Unchanged => out.result(&format!(
            "No changes to deploy. Deployment skipped: {} ({secs:.1}s)",
            outcome.reason
        )),
    }
    report::print_summary(out, &endpoints, &functions, &outcome.outputs);
    out.detail(&format!("AWS calls: {calls}"));
    Ok(crate::exit::OK)
}
