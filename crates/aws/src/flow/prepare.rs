//! The first steps of a deploy: bring the stack into a state a deploy can work with, and find
//! (or create, with the core stack) the deployment bucket.

use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::progress::{Progress, Scoped};
use crate::stack::{self, Operation, StackInfo, StackParams, StackState, TemplateSource, Waits};

use super::request::DeployRequest;
use super::{BUCKET_LOGICAL_ID, BucketChoice, stack_bucket};

/// Bring the stack into a state a deploy can work with: `None` when it must be created.
pub(super) async fn settle(
    clients: &AwsClients,
    params: &StackParams,
    waits: &Waits,
    progress: Scoped<'_>,
) -> Result<Option<StackInfo>, AwsError> {
    let mut info = stack::describe(&clients.cfn, &params.stack).await?;
    loop {
        let Some(current) = info.take() else {
            return Ok(None);
        };
        match stack::classify(&current.status, &params.stack, &params.region) {
            StackState::Ready => return Ok(Some(current)),
            StackState::Busy => {
                info = stack::wait_settled(&clients.cfn, &params.stack, waits, progress).await?;
            }
            StackState::Recreate => {
                recreate(clients, params, &current, waits, progress).await?;
                return Ok(None);
            }
            StackState::Stuck(advice) => {
                return Err(AwsError::NeedsRecovery {
                    stack: params.stack.clone(),
                    region: params.region.clone(),
                    status: current.status,
                    advice,
                });
            }
        }
    }
}

/// Delete a stack that never finished creating, and wait until it is gone.
async fn recreate(
    clients: &AwsClients,
    params: &StackParams,
    current: &StackInfo,
    waits: &Waits,
    progress: Scoped<'_>,
) -> Result<(), AwsError> {
    progress.report(|scope| Progress::StackRecreating {
        scope,
        status: current.status.clone(),
    });
    stack::delete(&clients.cfn, &current.id, params.role_arn.as_deref()).await?;
    progress.report(|scope| Progress::StackOperation {
        scope,
        operation: "delete",
    });
    stack::follow(
        &clients.cfn,
        &current.id,
        &params.stack,
        &params.region,
        Operation::Delete,
        waits,
        progress,
    )
    .await?;
    Ok(())
}

/// The deployment bucket found or made by [`bucket`].
pub(super) struct Bucket {
    /// Its name.
    pub(super) name: String,
    /// The id of the core stack this run created with it, if it did.
    pub(super) created_stack: Option<String>,
}

/// The deployment bucket: the stack's own (creating the core stack when absent) or a named one.
pub(super) async fn bucket(
    clients: &AwsClients,
    req: &DeployRequest,
    existing: Option<&StackInfo>,
    progress: Scoped<'_>,
) -> Result<Bucket, AwsError> {
    let params = &req.params;
    let found = |name| Bucket {
        name,
        created_stack: None,
    };
    match (existing, &req.bucket) {
        (_, BucketChoice::Named(name)) => Ok(found(name.clone())),
        (Some(info), BucketChoice::Stack) => {
            Ok(found(stack_bucket(clients, &req.bucket, info).await?))
        }
        (None, BucketChoice::Stack) => {
            progress.report(|scope| Progress::StackCreating { scope });
            let body = serde_json::to_string(req.core_template.as_ref())
                .map_err(|e| AwsError::Invalid(format!("core template: {e}")))?;
            let id = create_core(clients, req, body, progress).await?;
            let name = stack::physical_id(&clients.cfn, &params.stack, BUCKET_LOGICAL_ID)
                .await?
                .ok_or_else(|| {
                    AwsError::Bucket(format!(
                        "the core stack \"{}\" was created without a {BUCKET_LOGICAL_ID}",
                        params.stack
                    ))
                })?;
            Ok(Bucket {
                name,
                created_stack: Some(id),
            })
        }
    }
}

/// Create the core stack (the deployment bucket only) and wait for it. When it already exists
/// — another run's first deploy of the stage got there first, or our own CreateStack landed
/// and its answer was lost — that stack is used once it has settled: the stage lock then
/// orders the two runs.
async fn create_core(
    clients: &AwsClients,
    req: &DeployRequest,
    body: String,
    progress: Scoped<'_>,
) -> Result<String, AwsError> {
    let params = &req.params;
    let created = stack::create(
        &clients.cfn,
        params,
        &TemplateSource::Body(body),
        stack::capabilities(&req.core_template),
        false,
    )
    .await;
    let id = match created {
        Ok(id) => id,
        Err(e) if e.code() == Some("AlreadyExistsException") => {
            let settled = stack::wait_settled(&clients.cfn, &params.stack, &req.waits, progress)
                .await?
                .ok_or(e)?;
            if stack::last_operation_succeeded(&settled.status) {
                return Ok(settled.id);
            }
            return Err(AwsError::NeedsRecovery {
                stack: params.stack.clone(),
                region: params.region.clone(),
                status: settled.status,
                advice: "another run created it at the same time and did not finish; run \
                         `deployer up` again"
                    .into(),
            });
        }
        Err(e) => return Err(e),
    };
    stack::follow(
        &clients.cfn,
        &id,
        &params.stack,
        &params.region,
        Operation::Create,
        &req.waits,
        progress,
    )
    .await?;
    Ok(id)
}
