//! The remove flow: delete deployer's objects of the stage from the deployment bucket (never
//! another service's under an overlapping prefix: see [`artifacts::own_key`]), then delete the
//! stack and follow it to the end.

use std::time::Instant;

use serde::Serialize;

use crate::artifacts::{self, stage_prefix};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::progress::{Progress, Reporter, Scope, Scoped};
use crate::stack::{self, Operation, StackInfo, StackParams, StackState, Waits};

use super::{BucketChoice, stack_bucket};

/// What `remove` is given.
#[derive(Debug, Clone)]
pub struct RemoveRequest {
    /// Stack parameters (name, region, deployment role).
    pub params: StackParams,
    /// `provider.deploymentPrefix`.
    pub deployment_prefix: String,
    /// Service name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Where the deployments are.
    pub bucket: BucketChoice,
    /// Polling and waiting limits.
    pub waits: Waits,
}

/// What `remove` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveOutcome {
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// Deployment bucket, when one was found.
    pub bucket: Option<String>,
    /// Objects deleted under the stage's prefix: deployer's own (deployments, the deploy lock,
    /// `deploy function` zips, a left `diff` template).
    pub objects_deleted: usize,
    /// Objects under the stage's prefix that are not deployer's (another service's under an
    /// overlapping prefix, a user's file): left in place.
    pub objects_left: usize,
    /// A few of the keys left, for the message.
    pub left_keys: Vec<String>,
    /// Duration in milliseconds.
    pub millis: u64,
}

/// How many of the keys left a result names.
const LEFT_KEYS_SHOWN: usize = 5;

/// Delete deployer's objects of the stage from the deployment bucket, delete the stack and
/// wait.
pub async fn remove(
    clients: &AwsClients,
    req: &RemoveRequest,
    reporter: &dyn Reporter,
) -> Result<RemoveOutcome, AwsError> {
    let scope = Scope::new(&req.service, &req.params.stack);
    let progress = Scoped::new(&scope, reporter);
    let start = Instant::now();
    let params = &req.params;
    let info = settled_stack(clients, req, progress).await?;
    let bucket = match stack_bucket(clients, &req.bucket, &info).await {
        Ok(b) => Some(b),
        Err(AwsError::Bucket(_)) => None,
        Err(e) => return Err(e),
    };
    let (deleted, left) = match &bucket {
        Some(bucket) => empty_bucket(clients, req, bucket, progress).await?,
        None => (0, Vec::new()),
    };
    progress.report(|scope| Progress::StackOperation {
        scope,
        operation: "delete",
    });
    stack::delete(&clients.cfn, &info.id, params.role_arn.as_deref()).await?;
    stack::follow(
        &clients.cfn,
        &info.id,
        &params.stack,
        &params.region,
        Operation::Delete,
        &req.waits,
        progress,
    )
    .await?;
    Ok(RemoveOutcome {
        stack: params.stack.clone(),
        stack_id: info.id,
        bucket,
        objects_deleted: deleted,
        objects_left: left.len(),
        left_keys: left.into_iter().take(LEFT_KEYS_SHOWN).collect(),
        millis: start.elapsed().as_millis() as u64,
    })
}

/// The stack, once a running operation of it has settled.
async fn settled_stack(
    clients: &AwsClients,
    req: &RemoveRequest,
    progress: Scoped<'_>,
) -> Result<StackInfo, AwsError> {
    let params = &req.params;
    let missing = || AwsError::StackMissing {
        stack: params.stack.clone(),
        region: params.region.clone(),
    };
    let Some(info) = stack::describe(&clients.cfn, &params.stack).await? else {
        return Err(missing());
    };
    if stack::classify(&info.status, &params.stack, &params.region) != StackState::Busy {
        return Ok(info);
    }
    stack::wait_settled(&clients.cfn, &params.stack, &req.waits, progress)
        .await?
        .ok_or_else(missing)
}

/// Empties the stage's part of `bucket`, warning about the objects left.
async fn empty_bucket(
    clients: &AwsClients,
    req: &RemoveRequest,
    bucket: &str,
    progress: Scoped<'_>,
) -> Result<(usize, Vec<String>), AwsError> {
    let prefix = stage_prefix(&req.deployment_prefix, &req.service, &req.stage);
    let (deleted, left) = empty_stage(clients, bucket, &prefix, progress).await?;
    if !left.is_empty() && req.bucket == BucketChoice::Stack {
        // Said before the stack delete, which then fails on the non-empty bucket.
        tracing::warn!(
            "{} object(s) under s3://{bucket}/{prefix}/ were not written by deployer for \
             this stage and were left (e.g. {}); the stack's own deployment bucket \
             cannot be deleted while it holds objects",
            left.len(),
            left[0]
        );
    }
    Ok((deleted, left))
}

/// Delete deployer's own objects of the stage (see [`artifacts::own_key`]) and leave every
/// other object under its prefix. `(deleted, left keys)`; nothing when the bucket is gone.
async fn empty_stage(
    clients: &AwsClients,
    bucket: &str,
    stage_prefix: &str,
    progress: Scoped<'_>,
) -> Result<(usize, Vec<String>), AwsError> {
    let objects =
        match artifacts::list_objects(&clients.s3, bucket, &format!("{stage_prefix}/")).await {
            Ok(objects) => objects,
            // The bucket is already gone: nothing to empty, the stack can still go.
            Err(AwsError::Bucket(_)) => return Ok((0, Vec::new())),
            Err(e) => return Err(e),
        };
    let (own, others): (Vec<String>, Vec<String>) = objects
        .into_iter()
        .map(|o| o.key)
        .partition(|k| artifacts::own_key(stage_prefix, k).is_some());
    let deleted = if own.is_empty() {
        0
    } else {
        artifacts::delete_keys(&clients.s3, bucket, &own).await?
    };
    progress.report(|scope| Progress::Emptied {
        scope,
        bucket: bucket.to_string(),
        objects: deleted,
    });
    Ok((deleted, others))
}
