//! `deployer diff` (alias `plan`): what `up` would change, from a temporary CloudFormation
//! change set (deleted afterwards). Exit 0 without changes; with `--detailed-exitcode`, 2 when
//! there are changes; 1 on error.

use deployer_aws::deploy;
use serde_json::json;

use crate::args::DiffArgs;
use crate::commands::prepare::{self, ProgressPrinter};
use crate::commands::report;
use crate::context;
use crate::output::Output;

pub fn run(out: &Output, args: DiffArgs) -> anyhow::Result<u8> {
    let rt = context::runtime()?;
    let opened = prepare::open(out, &rt, &args.service, &args.credentials)?;
    let built = prepare::deployable(out, &rt, &opened, &args.service, args.package.as_deref())?;
    let session = &opened.stage.session;
    report::announce(
        out,
        &format!("Comparing {} with", built.service.service),
        session,
    );
    let request = prepare::deploy_request(&built, false);
    let printer = ProgressPrinter::new(out);
    let result = rt.block_on(deploy::diff(&opened.clients, &request, &printer));
    printer.finish();
    let diff = result?;
    let has_changes = !diff.changes.is_empty();
    if out.json {
        out.json_result(&json!({
            "stack": diff.stack,
            "stackExists": diff.stack_exists,
            "account": session.identity.account,
            "region": session.region,
            "changes": diff.changes,
            "reason": diff.reason,
            "awsCalls": report::calls_json(&opened.clients.counter().summary()),
        }));
    } else if !has_changes {
        out.result(&format!(
            "No changes for stack {}: {}",
            diff.stack, diff.reason
        ));
    } else {
        out.result(&format!(
            "Stack {} ({}): {} change(s)",
            diff.stack,
            if diff.stack_exists {
                "exists"
            } else {
                "will be created"
            },
            diff.changes.len()
        ));
        for c in &diff.changes {
            let sign = match c.action.as_str() {
                "Add" => "+",
                "Remove" => "-",
                _ => "~",
            };
            let replacement = match c.replacement.as_deref() {
                Some("True") => " (replacement)",
                Some("Conditional") => " (may be replaced)",
                _ => "",
            };
            let details = if c.details.is_empty() {
                String::new()
            } else {
                format!(" [{}]", c.details.join(", "))
            };
            out.result(&format!(
                "{sign} {} {} {}{replacement}{details}",
                c.action, c.logical_id, c.resource_type
            ));
        }
    }
    Ok(if has_changes && args.detailed_exitcode {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    })
}
