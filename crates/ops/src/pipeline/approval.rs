//! What a deploy of a protected stage needs before any write: no `--force-unlock`, an account
//! pinned for the stage, and `--approve-broadening` for a change that broadens access
//! (compared with the template the stack runs). The refusals themselves are `protect.rs`'s.

use deployer_aws::deploy::DeployRequest;
use deployer_aws::flow::broadening::broadening;
use serde_json::Value;

use crate::errors::{OpError, OpErrorKind};
use crate::pipeline::protect::{self, Shortcut};
use crate::pipeline::stage::Stage;

/// The refusals of `up` on a protected stage (nothing for another stage).
pub(crate) async fn refuse_deploy(
    stage: &Stage,
    req: &DeployRequest,
    approve_broadening: bool,
) -> anyhow::Result<()> {
    protect::refuse_used(
        &stage.source.stage,
        &[
            (req.lock.force_unlock, Shortcut::ForceUnlock),
            (!stage.session.pin.is_pinned(), Shortcut::Unpinned),
        ],
    )?;
    if approve_broadening {
        return Ok(());
    }
    refuse_broadening(stage, &req.params.stack, &req.template).await
}

/// On a protected stage without `--approve-broadening`: refuses a deploy of `template` that
/// broadens access compared with the template stack `stack` runs (DescribeStacks and
/// GetTemplate, reads only).
async fn refuse_broadening(stage: &Stage, stack: &str, template: &Value) -> anyhow::Result<()> {
    let Some(protection) = &stage.source.stage.protection else {
        return Ok(());
    };
    let cfn = &stage.clients.cfn;
    let deployed = stage
        .run(async {
            let Some(info) = deployer_aws::stack::describe(cfn, stack).await? else {
                return Ok(None);
            };
            Ok(deployer_aws::stack::template(cfn, &info.id).await?)
        })
        .await?;
    let found = broadening(deployed.as_ref(), template);
    if found.is_empty() {
        return Ok(());
    }
    Err(OpError::error(
        OpErrorKind::Protected,
        protect::broadening_message(&stage.source.stage.stage, protection.setting, &found),
    ))
}
