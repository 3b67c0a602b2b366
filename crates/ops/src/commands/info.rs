//! `info`: the deployed stage: stack status, last deployment, endpoints, functions, outputs.

use indexmap::IndexMap;
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::observer::Observer;
use crate::pipeline::manifest::rfc3339;
use crate::pipeline::report::{self, Names};
use crate::pipeline::stack;
use crate::pipeline::stage::{self, Guard, StageOptions};

/// The deployed stage.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInfo {
    /// `service:` name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Region.
    pub region: String,
    /// The account of the stage.
    pub account: String,
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// Stack status.
    pub status: String,
    /// When the stack last changed (RFC 3339).
    pub last_deployment: Option<String>,
    /// Stack outputs.
    pub outputs: IndexMap<String, String>,
    /// `METHOD - URL` of each API route.
    pub endpoints: Vec<String>,
    /// Function key → deployed name.
    pub functions: IndexMap<String, String>,
    /// Number of stack resources.
    pub resources: usize,
    /// Secondary calls that failed (the rest of the information is still correct).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// Opens the stage (guard first) and describes its stack.
pub async fn info(options: &StageOptions, observer: &dyn Observer) -> anyhow::Result<StageInfo> {
    let stage = stage::open(options, Guard::Enforce, observer).await?;
    let resolved = stage
        .source
        .resolve(None, &mut stage.aws_answers(), observer)?;
    let service = stage.source.service(&resolved)?;
    let stack_name = stack::name(&service, &resolved.stage);
    let info = stage
        .run(async { Ok(deployer_aws::deploy::info(&stage.clients, &stack_name).await?) })
        .await?;
    for w in &info.warnings {
        observer.warning(w);
    }
    let session = &stage.session;
    Ok(StageInfo {
        service: service.service.clone(),
        stage: session.stage.clone(),
        region: session.region.clone(),
        account: session.identity.account.clone(),
        stack: info.stack.name.clone(),
        stack_id: info.stack.id.clone(),
        status: info.stack.status.clone(),
        last_deployment: info.stack.last_changed().map(rfc3339),
        outputs: report::outputs(&info.stack.outputs),
        endpoints: report::endpoints(&service, &info.stack.outputs),
        functions: report::functions(&service, Names::Resources(&info.resources)),
        resources: info.resources.len(),
        warnings: info.warnings.clone(),
        aws_calls: stage.calls(),
    })
}
