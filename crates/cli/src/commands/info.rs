//! `deployer info`: the deployed stage: stack status, last deployment time, endpoints,
//! functions and outputs.

use crate::args::AwsCommandArgs;
use crate::commands::{options, render};
use crate::ui::{CliObserver, Output};

/// Runs `deployer info`.
pub async fn run(out: &Output, args: AwsCommandArgs) -> anyhow::Result<u8> {
    let options = options::stage(out, &args.service, &args.credentials)?;
    let info = deployer_ops::info(&options, &CliObserver::new(out)).await?;
    if out.json {
        out.json_result(&info);
        return Ok(crate::exit::OK);
    }
    out.result(&format!("service: {}", info.service));
    out.result(&format!("stage: {}", info.stage));
    out.result(&format!("region: {}", info.region));
    out.result(&format!("account: {}", info.account));
    out.result(&format!("stack: {} ({})", info.stack, info.status));
    if let Some(last) = &info.last_deployment {
        out.result(&format!("last deployment: {last}"));
    }
    render::summary(out, &info.endpoints, &info.functions, &info.outputs);
    Ok(crate::exit::OK)
}
