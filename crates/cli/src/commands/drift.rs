//! `deployer drift`: the drifted resources with their property differences (expected vs
//! actual) and the functions whose live code is not the deployed zip. Exit 0 in sync, 2
//! drifted (as `diff --detailed-exitcode`), 1 on failure.

use deployer_ops::Drift;

use crate::args::AwsCommandArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer drift`.
pub async fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let options = options::stage(out, &args.service, &args.credentials)?;
    let observer = CliObserver::new(out);
    let found = deployer_ops::drift(&options, &observer).await;
    observer.finish();
    let found = found?;
    if out.json {
        out.json_result(&found);
    } else {
        show(out, &found);
    }
    Ok(if found.drifted() {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    })
}

fn show(out: &Output, d: &Drift) {
    if !d.drifted() {
        out.result(&format!(
            "Stack {} is in sync with what was deployed",
            d.stack
        ));
        return;
    }
    out.result(&format!(
        "Stack {} drifted: {} resource(s), {} function code(s)",
        d.stack,
        d.resources.len(),
        d.code.len()
    ));
    for r in &d.resources {
        out.result(&format!(
            "~ {} {} ({}) {}",
            r.logical_id, r.resource_type, r.physical_id, r.status
        ));
        for p in &r.differences {
            out.result(&format!(
                "    {} [{}]: expected {} actual {}",
                p.path, p.difference, p.expected, p.actual
            ));
        }
    }
    for c in &d.code {
        out.result(&format!(
            "~ {} code changed outside the stack (deploy function?): {} runs CodeSha256 {}, the \
             deployed zip is {}",
            c.logical_id, c.function_name, c.live_sha256, c.deployed_sha256
        ));
    }
}
