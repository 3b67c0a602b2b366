//! `deployer diff` (alias `plan`): what `up` would change, from a temporary CloudFormation
//! change set (deleted afterwards). Exit 0 without changes; with `--detailed-exitcode`, 2 when
//! there are changes; 1 on error.

use deployer_ops::types::{Broadening, Change};
use std::path::PathBuf;

use deployer_ops::{DiffOptions, Diffed, DiscardOptions, DriftSection, PlanOptions, StageOptions};

use crate::args::DiffArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer diff`.
pub async fn run(out: &Output, args: DiffArgs) -> anyhow::Result<u8> {
    let mut stage = options::stage(out, &args.service, &args.credentials)?;
    stage.service.ignore_plugins = args.ignore_plugins.clone();
    if let Some(plan) = args.discard.clone() {
        return discard(out, stage, plan).await;
    }
    if let Some(file) = args.out.clone() {
        return save(out, &args, stage, file).await;
    }
    let options = DiffOptions {
        stage,
        package_dir: args.package.clone(),
        drift: args.drift,
    };
    let observer = CliObserver::new(out);
    let diff = deployer_ops::diff(&options, &observer).await;
    observer.finish();
    let diff = diff?;
    if out.json {
        out.json_result(&diff);
    } else {
        show(out, &Shown::of(&diff));
    }
    let has_changes = !diff.changes.is_empty();
    Ok(if has_changes && args.detailed_exitcode {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    })
}

/// `diff --out FILE`: the saved plan.
async fn save(
    out: &Output,
    args: &DiffArgs,
    stage: StageOptions,
    file: PathBuf,
) -> anyhow::Result<u8> {
    let options = PlanOptions {
        stage,
        package_dir: args.package.clone(),
        out: file.clone(),
        drift: args.drift,
    };
    let observer = CliObserver::new(out);
    let plan = deployer_ops::plan(&options, &observer).await;
    observer.finish();
    let plan = plan?;
    if out.json {
        out.json_result(&plan);
    } else {
        let shown = Shown {
            stack: &plan.stack,
            stack_exists: true,
            changes: &plan.changes,
            broadening: &plan.broadening,
            reason: &plan.reason,
            drift: plan.drift.as_ref(),
        };
        show(out, &shown);
        out.result(&match &plan.change_set_name {
            Some(name) => format!(
                "Plan saved to {} (change set {name} kept): `deployer up --stage {} --plan {}` \
                 executes exactly this",
                file.display(),
                plan.stage,
                file.display()
            ),
            None => format!(
                "Plan saved to {}: no changes; `up --plan` will change nothing",
                file.display()
            ),
        });
    }
    Ok(if !plan.no_changes && args.detailed_exitcode {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    })
}

/// `plan --discard FILE`.
async fn discard(out: &Output, stage: StageOptions, plan: PathBuf) -> anyhow::Result<u8> {
    let observer = CliObserver::new(out);
    let done = deployer_ops::discard_plan(DiscardOptions { stage, plan }, &observer).await;
    observer.finish();
    let done = done?;
    if out.json {
        out.json_result(&done);
    } else if let Some(id) = &done.change_set_id {
        out.result(&format!("Change set {id} of stack {} deleted", done.stack));
    } else {
        out.result("The plan kept no change set: nothing to discard");
    }
    Ok(crate::exit::OK)
}

/// What the text output shows, from a diff or a saved plan.
struct Shown<'a> {
    stack: &'a str,
    stack_exists: bool,
    changes: &'a [Change],
    broadening: &'a [Broadening],
    reason: &'a str,
    drift: Option<&'a DriftSection>,
}

impl<'a> Shown<'a> {
    fn of(d: &'a Diffed) -> Self {
        Self {
            stack: &d.stack,
            stack_exists: d.stack_exists,
            changes: &d.changes,
            broadening: &d.broadening,
            reason: &d.reason,
            drift: d.drift.as_ref(),
        }
    }
}

fn show(out: &Output, diff: &Shown<'_>) {
    show_changes(out, diff);
    match diff.drift {
        Some(d) if d.drifted => {
            out.result(&format!(
                "Drift: {} resource(s) and {} function code(s) changed outside the stack \
                 (`deployer drift` shows the differences)",
                d.resources.len(),
                d.code.len()
            ));
            for r in &d.resources {
                out.result(&format!(
                    "~ {} {} {}",
                    r.logical_id, r.resource_type, r.status
                ));
            }
            for c in &d.code {
                out.result(&format!(
                    "~ {} code changed outside the stack",
                    c.logical_id
                ));
            }
        }
        Some(_) => out.result("Drift: none, the stack is as deployed"),
        None => {}
    }
}

fn show_changes(out: &Output, diff: &Shown<'_>) {
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
    for change in diff.changes {
        out.result(&change_line(change));
    }
    if !diff.broadening.is_empty() {
        out.result(&format!(
            "Broadening ({}; a protected stage deploys them only with --approve-broadening):",
            diff.broadening.len()
        ));
        for b in diff.broadening {
            out.result(&format!(
                "! {} {}: {}",
                b.logical_id, b.resource_type, b.what
            ));
        }
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
