//! The rollback flow: under the stage's deploy lock, update the stack to an earlier
//! deployment's template (by its URL in the bucket, as `deploymentMethod` says; a lost answer
//! settled by reading the stack, as `up` does) and follow the update to its end. Which
//! deployment, and whether its artifacts are all still there, `crates/ops` decides.

use serde_json::Value;

use crate::clients::AwsClients;
use crate::progress::{Reporter, Scope, Scoped};
use crate::stack::{self, Operation, StackParams, UpdateStart, Waits};

use super::request::Method;
use super::update::start_update;
use super::{LockRequest, Locked, under_lock};

/// What to roll back to.
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    /// The stack's parameters (name, region, tags, role).
    pub params: StackParams,
    /// The stack's id.
    pub stack_id: String,
    /// The URL of the deployment's template in the bucket.
    pub template_url: String,
    /// That template (compared with the stack's after a lost answer).
    pub template: Value,
    /// `provider.deploymentMethod`.
    pub method: Method,
    /// Polling and waiting limits.
    pub waits: Waits,
    /// The stage's deploy lock.
    pub lock: LockRequest,
}

/// How a rollback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackStatus {
    /// The stack was updated to the deployment's template.
    RolledBack,
    /// CloudFormation found nothing to change.
    Unchanged,
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct RollbackOutcome {
    /// Rolled back or unchanged.
    pub status: RollbackStatus,
    /// The final stack status (`no changes` when unchanged).
    pub stack_status: String,
}

/// Updates the stack to `req.template_url` under the stage's deploy lock, released whatever
/// happens.
pub async fn rollback(
    clients: &AwsClients,
    req: &RollbackRequest,
    reporter: &dyn Reporter,
) -> Locked<RollbackOutcome> {
    let scope = Scope::new(&req.lock.service, &req.params.stack);
    let progress = Scoped::new(&scope, reporter);
    under_lock(clients, &req.lock, progress, update(clients, req, progress)).await
}

/// Starts the update and follows it to the end.
async fn update(
    clients: &AwsClients,
    req: &RollbackRequest,
    progress: Scoped<'_>,
) -> Result<RollbackOutcome, crate::error::AwsError> {
    let params = &req.params;
    let started = start_update(
        &clients.cfn,
        params,
        &req.stack_id,
        req.template_url.clone(),
        &req.template,
        req.method,
        &req.waits,
    )
    .await?;
    let UpdateStart::Started(id) = started else {
        return Ok(RollbackOutcome {
            status: RollbackStatus::Unchanged,
            stack_status: "no changes".into(),
        });
    };
    let followed = stack::follow(
        &clients.cfn,
        &id,
        &params.stack,
        &params.region,
        Operation::Update,
        &req.waits,
        progress,
    )
    .await?;
    if req.method == super::request::Method::ChangeSets {
        super::write::policy_after_change_set(clients, params, &id).await?;
    }
    Ok(RollbackOutcome {
        status: RollbackStatus::RolledBack,
        stack_status: followed.status,
    })
}
