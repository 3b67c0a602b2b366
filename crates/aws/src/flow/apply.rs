//! Executing a saved plan (`up --plan`): before any write, the stack must be where it was when
//! planned (status and last-updated time), the kept change set still executable and every
//! uploaded object still hold the planned bytes (SHA-256); then, under the stage's deploy
//! lock, that change set is executed and followed, the stack policy applied (as after any
//! change set), termination protection turned on for a protected stage and old deployments
//! removed.

use std::time::SystemTime;

use crate::artifacts;
use crate::change_set::{self, sha256_base64};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::progress::{Reporter, Scope, Scoped};
use crate::protection;
use crate::stack::{self, Operation, StackOutput, StackParams, Waits};

use super::plan::PlannedObject;
use super::{LockRequest, under_lock};

/// A saved plan to execute.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// Stack parameters (name, region, stack policy).
    pub params: StackParams,
    /// The stack's id when planned.
    pub stack_id: String,
    /// Its status when planned.
    pub stack_status: String,
    /// Its last change when planned (milliseconds since the epoch).
    pub stack_changed_ms: Option<u64>,
    /// SHA-256 (base64) of the template it ran when planned.
    pub stack_template_sha256: String,
    /// The kept change set's id.
    pub change_set_id: String,
    /// The deployment bucket.
    pub bucket: String,
    /// The uploaded template and zips with their planned SHA-256.
    pub objects: Vec<PlannedObject>,
    /// The plan's deployment directory (kept by the retention).
    pub directory: String,
    /// `<prefix>/<service>/<stage>`.
    pub stage_prefix: String,
    /// How many deployments to keep.
    pub max_previous_deployments: usize,
    /// Polling limits.
    pub waits: Waits,
    /// The stage's deploy lock.
    pub lock: LockRequest,
    /// A protected stage: turn termination protection on afterwards.
    pub protect: bool,
}

/// Why a plan cannot be executed any more (nothing was written).
#[derive(Debug)]
pub enum ApplyError {
    /// The stack, the change set or the uploads moved since the plan: what and where.
    Stale(String),
    /// An AWS call failed.
    Aws(AwsError),
}

impl From<AwsError> for ApplyError {
    fn from(e: AwsError) -> Self {
        ApplyError::Aws(e)
    }
}

/// What executing a plan did.
#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    /// The final stack status.
    pub stack_status: String,
    /// The stack's outputs afterwards.
    pub outputs: Vec<StackOutput>,
    /// Old deployment directories removed.
    pub removed_deployments: usize,
    /// True when termination protection was turned on.
    pub termination_protection: bool,
}

/// Checks, then executes `req`'s change set; see the module documentation.
pub async fn apply(
    clients: &AwsClients,
    req: &ApplyRequest,
    reporter: &dyn Reporter,
) -> Result<ApplyOutcome, ApplyError> {
    check(clients, req).await?;
    let scope = Scope::new(&req.lock.service, &req.params.stack);
    let progress = Scoped::new(&scope, reporter);
    let run = under_lock(
        clients,
        &req.lock,
        progress,
        execute(clients, req, progress),
    )
    .await;
    if let Some(e) = run.lock_left {
        tracing::warn!("could not remove the deploy lock: {e}");
    }
    run.result
}

/// The checks before any write.
async fn check(clients: &AwsClients, req: &ApplyRequest) -> Result<(), ApplyError> {
    let stack = &req.params.stack;
    let Some(info) = stack::describe(&clients.cfn, &req.stack_id).await? else {
        return Err(ApplyError::Stale(format!("stack {stack} no longer exists")));
    };
    let changed_ms = info.last_changed().map(millis);
    if info.status != req.stack_status || changed_ms != req.stack_changed_ms {
        return Err(ApplyError::Stale(format!(
            "stack {stack} moved since the plan (status {} changed at {}; planned: {} at {})",
            info.status,
            stamp(changed_ms),
            req.stack_status,
            stamp(req.stack_changed_ms)
        )));
    }
    // The template too: an update between plan and execution changes it, even where the
    // last-updated time is not kept (emulators) or a deploy left the status as it was.
    let body = super::deployed_template_body(clients, &req.stack_id).await?;
    if sha256_base64(body.as_deref().unwrap_or("").as_bytes()) != req.stack_template_sha256 {
        return Err(ApplyError::Stale(format!(
            "stack {stack} moved since the plan: it runs another template now"
        )));
    }
    match change_set::state(&clients.cfn, &req.stack_id, &req.change_set_id).await? {
        None => Err(ApplyError::Stale(format!(
            "the plan's change set {} no longer exists",
            req.change_set_id
        ))),
        Some(s) if !s.executable() => Err(ApplyError::Stale(format!(
            "the plan's change set {} can no longer be executed (status {}, execution {}{})",
            req.change_set_id,
            s.status,
            s.execution_status,
            s.reason.map(|r| format!(": {r}")).unwrap_or_default()
        ))),
        Some(_) => check_objects(clients, req).await,
    }
}

/// Every uploaded object still holds the planned bytes.
async fn check_objects(clients: &AwsClients, req: &ApplyRequest) -> Result<(), ApplyError> {
    let mut changed = Vec::new();
    for o in &req.objects {
        let bytes = artifacts::get_bytes(&clients.s3, &req.bucket, &o.key).await;
        match bytes {
            Ok(b) if sha256_base64(&b) == o.sha256 => {}
            Ok(_) => changed.push(format!("s3://{}/{} (other bytes)", req.bucket, o.key)),
            Err(AwsError::Call { code, status, .. })
                if code.as_deref() == Some("NoSuchKey") || status == Some(404) =>
            {
                changed.push(format!("s3://{}/{} (gone)", req.bucket, o.key))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(ApplyError::Stale(format!(
        "the plan's artifacts in S3 changed since the plan: {}",
        changed.join(", ")
    )))
}

/// Under the lock: execute, follow, then policy, protection and retention.
async fn execute(
    clients: &AwsClients,
    req: &ApplyRequest,
    progress: Scoped<'_>,
) -> Result<ApplyOutcome, ApplyError> {
    let params = &req.params;
    stack::execute_change_set(&clients.cfn, params, &req.change_set_id).await?;
    let followed = stack::follow(
        &clients.cfn,
        &req.stack_id,
        &params.stack,
        &params.region,
        Operation::Update,
        &req.waits,
        progress,
    )
    .await?;
    if let Some(body) = &params.stack_policy {
        protection::set_stack_policy(&clients.cfn, &req.stack_id, body).await?;
    }
    if req.protect {
        protection::protect_stack(&clients.cfn, &req.stack_id).await?;
    }
    let removed = super::retention::keep_newest(
        clients,
        &req.bucket,
        &req.stage_prefix,
        &req.directory,
        req.max_previous_deployments,
    )
    .await;
    let info = stack::describe(&clients.cfn, &req.stack_id)
        .await
        .ok()
        .flatten();
    Ok(ApplyOutcome {
        stack_status: info.as_ref().map_or(followed.status, |i| i.status.clone()),
        outputs: info.map(|i| i.outputs).unwrap_or_default(),
        removed_deployments: removed,
        termination_protection: req.protect,
    })
}

/// Milliseconds since the epoch.
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn stamp(ms: Option<u64>) -> String {
    ms.map_or_else(|| "creation".into(), |m| format!("{m} ms"))
}
