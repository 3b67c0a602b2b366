//! `deployer info`: the deployed stage: stack status, last deployment time, endpoints,
//! functions and outputs.

use std::time::SystemTime;

use deployer_aws::deploy;
use deployer_config::model::Service;
use serde_json::json;

use crate::args::AwsCommandArgs;
use crate::commands::{prepare, report};
use crate::context;
use crate::output::Output;

pub fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let rt = context::runtime()?;
    let opened = prepare::open(out, &rt, &args.service, &args.credentials)?;
    let resolved = prepare::resolve(out, &rt, &opened, &args.service)?;
    let service = Service::from_value(&resolved.value)?;
    let stack_name = prepare::stack_name(&service, &resolved.stage);
    let info = rt.block_on(deploy::info(&opened.clients, &stack_name))?;
    let session = &opened.stage.session;
    let endpoints = report::endpoints(&service, &info.stack.outputs);
    let functions = report::functions(&service, Some(&info.resources), None);
    let last = info.stack.last_changed().map(iso);
    if out.json {
        out.json_result(&json!({
            "service": service.service,
            "stage": session.stage,
            "region": session.region,
            "account": session.identity.account,
            "stack": info.stack.name,
            "stackId": info.stack.id,
            "status": info.stack.status,
            "lastDeployment": last,
            "outputs": report::outputs_json(&info.stack.outputs),
            "endpoints": endpoints,
            "functions": functions.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "resources": info.resources.len(),
            "awsCalls": report::calls_json(&opened.clients.counter().summary()),
        }));
        return Ok(crate::exit::OK);
    }
    out.result(&format!("service: {}", service.service));
    out.result(&format!("stage: {}", session.stage));
    out.result(&format!("region: {}", session.region));
    out.result(&format!("account: {}", session.identity.account));
    out.result(&format!(
        "stack: {} ({})",
        info.stack.name, info.stack.status
    ));
    if let Some(last) = last {
        out.result(&format!("last deployment: {last}"));
    }
    report::print_summary(out, &endpoints, &functions, &info.stack.outputs);
    Ok(crate::exit::OK)
}

fn iso(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let at = time::OffsetDateTime::UNIX_EPOCH + d;
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
