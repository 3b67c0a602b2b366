//! `deployer diff` (alias `plan`): what `up` would change, from a temporary CloudFormation
//! change set (deleted afterwards). Exit 0 without changes; with `--detailed-exitcode`, 2 when
//! there are changes; 1 on error.

use deployer_ops::types::Change;
use deployer_ops::{DiffOptions, Diffed};

use crate::args::DiffArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer diff`.
pub async fn run(out: &Output, args: DiffArgs) -> anyhow::Result<u8> {
    let mut stage = options::stage(out, &args.service, &args.credentials)?;
    stage.service.ignore_plugins = args.ignore_plugins.clone();
    let options = DiffOptions {
        stage,
        package_dir: args.package.clone(),
    };
    let observer = CliObserver::new(out);
    let diff = deployer_ops::diff(&options, &observer).await;
    observer.finish();
    let diff = diff?;
    if out.json {
        out.json_result(&diff);
    } else {
        show(out, &diff);
    }
    let has_changes = !diff.changes.is_empty();
    Ok(if has_changes && args.detailed_exitcode {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    })
}

fn show(out: &Output, diff: &Diffed) {
    if diff.changes.is_empty() {
        out.result(&format!(
            "No changes for stack {}: {}",
            diff.stack, diff.reason
        ));
        return;
    }
    let state = if diff.stack_exists {
        "exists"
    } else {
        "will be created"
    };
    out.result(&format!(
        "Stack {} ({state}): {} change(s)",
        diff.stack,
        diff.changes.len()
    ));
    for change in &diff.changes {
        out.result(&change_line(change));
    }
}

/// `+ Add Queue AWS::SQS::Queue (replacement) [details]`.
fn change_line(c: &Change) -> String {
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
    format!(
        "{sign} {} {} {}{replacement}{details}",
        c.action, c.logical_id, c.resource_type
    )
}
