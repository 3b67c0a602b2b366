//! Every sequence of AWS calls that changes (or previews a change of) a stage, one file per
//! flow, built from the primitives of `stack.rs`, `artifacts.rs`, `lock.rs`, `lambda.rs` and
//! `prune.rs`. Each flow takes a plain request and returns a typed outcome; `crates/ops`
//! chooses what to ask for and renders the outcome.
//!
//! | Flow | Entry | Files |
//! |---|---|---|
//! | deploy (`up`) | [`deploy::deploy`] | `deploy.rs` (read half), `prepare.rs` (stack state, core stack), `write.rs` (under the lock), `changes.rs`, `retention.rs`, `outcome.rs` (the types they share) |
//! | diff | [`diff::diff`] | `diff.rs`, `changes.rs`, `broadening.rs` |
//! | plan (`diff --out`, a kept change set) | [`plan::plan`] | `plan.rs` (uploads with `write.rs`) |
//! | executing a plan (`up --plan`) | [`apply::apply`] | `apply.rs`, `retention.rs` |
//! | info (read only) | [`info::info`] | `info.rs` |
//! | drift (read only) | [`drift::drift`] | `drift.rs` (CloudFormation's part in `crate::drift`) |
//! | remove | [`remove::remove`] | `remove.rs` |
//! | rollback | [`rollback::rollback`] | `rollback.rs`, `update.rs` |
//! | deploy function | [`function::deploy_function`] | `function.rs` |
//! | rollback function | [`rollback_function::rollback_function`] | `rollback_function.rs` |
//! | prune (serverless-prune-plugin) | [`prune::prune_function`], [`prune::prune_layer`] | `prune.rs` |
//!
//! Shared steps: `request.rs` (what deploy and diff are given), `update.rs` (starting a stack
//! update and settling an uncertain answer, used by deploy and rollback) and this module (the
//! deployment bucket of a stack, the deployed template, and [`Locked`] work under the stage's
//! deploy lock for rollback and deploy function; deploy holds the lock itself, as its read
//! half decides whether to take it).

pub mod apply;
pub mod broadening;
pub mod changes;
pub mod deploy;
pub mod diff;
pub mod drift;
pub mod function;
pub mod hooks;
pub mod info;
mod outcome;
pub mod plan;
mod prepare;
pub mod prune;
pub mod remove;
pub mod request;
mod retention;
pub mod rollback;
pub mod rollback_function;
pub mod update;
mod write;

use std::future::Future;

use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::lock::{self, LockOptions};
use crate::progress::Scoped;
use crate::stack::{self, StackInfo, StackParams, StackState};

/// Logical id of the framework's deployment bucket.
pub const BUCKET_LOGICAL_ID: &str = "ServerlessDeploymentBucket";
/// Output holding the deployment bucket's name.
pub const BUCKET_OUTPUT: &str = "ServerlessDeploymentBucketName";
/// Largest inline template body CloudFormation accepts.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// Which bucket holds the deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketChoice {
    /// The stack's own `ServerlessDeploymentBucket` (created with the core stack).
    Stack,
    /// `provider.deploymentBucket.name`: an existing bucket; no core stack.
    Named(String),
}

/// The bucket of an existing stack: the `ServerlessDeploymentBucketName` output (no extra
/// call), else the `ServerlessDeploymentBucket` resource's physical id.
pub(crate) async fn stack_bucket(
    clients: &AwsClients,
    choice: &BucketChoice,
    info: &StackInfo,
) -> Result<String, AwsError> {
    if let BucketChoice::Named(name) = choice {
        return Ok(name.clone());
    }
    if let Some(name) = info.output(BUCKET_OUTPUT).filter(|n| !n.is_empty()) {
        return Ok(name.to_string());
    }
    stack::physical_id(&clients.cfn, &info.name, BUCKET_LOGICAL_ID)
        .await?
        .ok_or_else(|| {
            AwsError::Bucket(format!(
                "stack \"{}\" has no {BUCKET_LOGICAL_ID} resource and provider.deploymentBucket is \
             not set: name an existing bucket in provider.deploymentBucket.name",
                info.name
            ))
        })
}

/// The stack when a change set can be made on it; `None` when it does not exist (or never
/// finished creating, so `up` would create it again).
pub(crate) async fn ready_stack(
    clients: &AwsClients,
    params: &StackParams,
) -> Result<Option<StackInfo>, AwsError> {
    let Some(i) = stack::describe(&clients.cfn, &params.stack).await? else {
        return Ok(None);
    };
    match stack::classify(&i.status, &params.stack, &params.region) {
        StackState::Ready => Ok(Some(i)),
        StackState::Recreate => Ok(None),
        StackState::Busy => Err(AwsError::Invalid(format!(
            "stack \"{}\" is busy ({}); run diff again when it has finished",
            params.stack, i.status
        ))),
        StackState::Stuck(advice) => Err(AwsError::NeedsRecovery {
            stack: params.stack.clone(),
            region: params.region.clone(),
            status: i.status,
            advice,
        }),
    }
}

/// The template body the stack runs now, as CloudFormation returns it.
pub(crate) async fn deployed_template_body(
    clients: &AwsClients,
    stack_id: &str,
) -> Result<Option<String>, AwsError> {
    let out = clients
        .cfn
        .get_template()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("GetTemplate on stack \"{stack_id}\""), e))?;
    Ok(out.template_body().map(str::to_string))
}

/// Where the stage's deploy lock lives and how to take it.
#[derive(Debug, Clone)]
pub struct LockRequest {
    /// The deployment bucket.
    pub bucket: String,
    /// `<prefix>/<service>/<stage>`: the lock is a key under it.
    pub stage_prefix: String,
    /// The service, for messages and progress events.
    pub service: String,
    /// The stage, for messages.
    pub stage: String,
    /// `--force-unlock`, how long to wait for another run.
    pub options: LockOptions,
}

/// What a flow's work under the stage's deploy lock came to, and whether the lock was left.
#[derive(Debug)]
pub struct Locked<T, E = AwsError> {
    /// The work's result, or the error of taking the lock (the work did not run then).
    pub result: Result<T, E>,
    /// Deleting the lock after the work failed: the lock is left (the error says where and
    /// how to remove it). Said whatever the work came to.
    pub lock_left: Option<AwsError>,
}

/// Runs `work` under the stage's deploy lock (so that a deploy of the stage at the same time
/// cannot undo it) and deletes the lock whatever happens.
pub(crate) async fn under_lock<T, E: From<AwsError>>(
    clients: &AwsClients,
    req: &LockRequest,
    progress: Scoped<'_>,
    work: impl Future<Output = Result<T, E>>,
) -> Locked<T, E> {
    let key = lock::lock_key(&req.stage_prefix);
    let acquired = lock::acquire(
        &clients.s3,
        &req.bucket,
        &key,
        &req.stage,
        &req.options,
        progress,
    )
    .await;
    let held = match acquired {
        Ok(held) => held,
        Err(e) => {
            return Locked {
                result: Err(e.into()),
                lock_left: None,
            };
        }
    };
    let result = work.await;
    Locked {
        result,
        lock_left: held.release(&clients.s3).await.err(),
    }
}
