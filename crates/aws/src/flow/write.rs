//! The writing half of a deploy, under the stage lock: upload, change the stack (create it,
//! UpdateStack or a change set), then read the outputs and remove old deployments.

use std::time::SystemTime;

use crate::artifacts::{self, Deployment, TEMPLATE_FILE, Upload, UploadBody, template_url};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::lock::StageLock;
use crate::progress::{Progress, Scoped};
use crate::stack::{self, Operation, TemplateSource, UpdateStart};

use super::changes::ChangeCheck;
use super::outcome::{DeployOutcome, DeployStatus, Prepared};
use super::request::{DeployRequest, Method};
use super::retention;
use super::update::{confirm_update, update_by_change_set};

/// What the stack operation did.
struct StackChange {
    status: DeployStatus,
    /// CloudFormation's reason when it found nothing to do.
    reason: Option<String>,
    /// The stack status it ended in.
    final_status: String,
    /// True when this run created the stack.
    created: bool,
    stack_id: Option<String>,
}

/// The writing half of a deploy, under the stage lock: upload, change the stack, clean up.
pub(super) async fn write(
    clients: &AwsClients,
    req: &DeployRequest,
    progress: Scoped<'_>,
    mut prepared: Prepared,
    lock: &StageLock,
    hooks: &dyn super::hooks::DeployHooks,
) -> Result<DeployOutcome, AwsError> {
    let run_started = SystemTime::now();
    let bucket = prepared.bucket.clone();
    if lock.waited {
        ensure_directory_is_ours(clients, &bucket, req, &prepared.deployments).await?;
    }
    let (uploaded, skipped) = upload(clients, req, &bucket, &prepared.check, progress).await?;
    hooks.uploaded(&bucket).map_err(AwsError::Hook)?;
    prepared.clock.lap("upload");

    // The stack operation, only while this run still holds the lock.
    lock.verify(&clients.s3).await?;
    let change = change_stack(clients, req, progress, &prepared, run_started).await?;
    prepared.clock.lap("stack update");
    let removed = retention::finish(clients, req, progress, &prepared, change.status).await;
    let Prepared {
        check, mut clock, ..
    } = prepared;
    clock.lap("finish");
    let info = removed.info;
    let params = &req.params;
    Ok(DeployOutcome {
        status: change.status,
        reason: change.reason.unwrap_or(check.reason),
        stack: params.stack.clone(),
        stack_id: info
            .as_ref()
            .map(|i| i.id.clone())
            .or(change.stack_id)
            .unwrap_or_default(),
        stack_status: info
            .as_ref()
            .map(|i| i.status.clone())
            .unwrap_or(change.final_status),
        created: change.created,
        bucket,
        directory: Some(req.artifact_directory.clone()),
        uploaded,
        skipped_uploads: skipped,
        removed_deployments: removed.directories,
        outputs: info.map(|i| i.outputs).unwrap_or_default(),
        timings: clock.finish(),
        termination_protection: false,
    })
}

/// After a wait for the lock: refuses when the run that held it started in the same millisecond
/// and uploaded into the artifact directory this run would use. The stack's S3 keys would not
/// change, so CloudFormation would keep that run's code.
async fn ensure_directory_is_ours(
    clients: &AwsClients,
    bucket: &str,
    req: &DeployRequest,
    before: &[Deployment],
) -> Result<(), AwsError> {
    let dir = &req.artifact_directory;
    // Already there when this run looked: a re-deploy of the same package directory.
    if before.iter().any(|d| &d.directory == dir) {
        return Ok(());
    }
    let now = artifacts::list_deployments(&clients.s3, bucket, &req.stage_prefix()).await?;
    if now.iter().any(|d| &d.directory == dir) {
        return Err(AwsError::failed(
            format!("deploy of stage {}", req.stage),
            format!(
                "another deploy of stage {} started in the same millisecond and used the \
                 artifact directory s3://{bucket}/{dir}; nothing was changed by this run; \
                 re-run to deploy this code",
                req.stage
            ),
            crate::error::FailureKind::Other,
        ));
    }
    Ok(())
}

/// Uploads the minified template and the zips, skipping files already there byte for byte
/// (a re-deploy of the same `--package` directory). Returns the keys uploaded and how many
/// files were skipped.
pub(super) async fn upload(
    clients: &AwsClients,
    req: &DeployRequest,
    bucket: &str,
    check: &ChangeCheck,
    progress: Scoped<'_>,
) -> Result<(Vec<String>, usize), AwsError> {
    let template_bytes = serde_json::to_vec(req.template.as_ref())
        .map_err(|e| AwsError::Invalid(format!("template: {e}")))?;
    let dir = &req.artifact_directory;
    let mut uploads = vec![Upload {
        key: format!("{dir}/{TEMPLATE_FILE}"),
        size: template_bytes.len() as u64,
        body: UploadBody::Bytes(template_bytes),
        content_type: "application/json",
        sha256_base64: req.template_hash.clone(),
    }];
    for a in &req.artifacts {
        uploads.push(Upload {
            key: format!("{dir}/{}", a.name),
            body: UploadBody::File(a.path.clone()),
            content_type: "application/zip",
            sha256_base64: a.sha256_base64.clone(),
            size: a.size,
        });
    }
    let total = uploads.len();
    uploads.retain(|u| !check.has(&u.key, &u.sha256_base64));
    let skipped = total - uploads.len();
    let uploaded: Vec<String> = uploads.iter().map(|u| u.key.clone()).collect();
    progress.report(|scope| Progress::Uploading {
        scope,
        bucket: bucket.to_string(),
        directory: dir.clone(),
        files: uploads.len(),
        bytes: uploads.iter().map(|u| u.size).sum(),
        skipped,
    });
    artifacts::upload_all(&clients.s3, bucket, uploads, clients.timeouts(), progress).await?;
    Ok((uploaded, skipped))
}

/// Creates the full stack (a named bucket and no stack yet) or updates the existing one, and
/// follows the operation to its end.
async fn change_stack(
    clients: &AwsClients,
    req: &DeployRequest,
    progress: Scoped<'_>,
    prepared: &Prepared,
    run_started: SystemTime,
) -> Result<StackChange, AwsError> {
    let params = &req.params;
    let key = format!("{}/{TEMPLATE_FILE}", req.artifact_directory);
    let url = template_url(&prepared.bucket, &params.region, &key);
    if prepared.existing.is_none() && !prepared.created {
        return create_full(clients, req, progress, url).await;
    }
    let id = (prepared.stack_id.clone()).unwrap_or_else(|| params.stack.clone());
    let started = start(clients, req, progress, &id, url, run_started).await?;
    let (status, reason, final_status) = match started {
        UpdateStart::NoChanges => (
            DeployStatus::Unchanged,
            Some("CloudFormation found no changes to perform".to_string()),
            prepared
                .existing
                .as_ref()
                .map(|i| i.status.clone())
                .unwrap_or_default(),
        ),
        UpdateStart::Started(sid) => {
            let followed = follow(clients, req, progress, &sid, Operation::Update).await?;
            if req.method == Method::ChangeSets {
                policy_after_change_set(clients, params, &sid).await?;
            }
            (DeployStatus::Deployed, None, followed)
        }
    };
    Ok(StackChange {
        status,
        reason,
        final_status,
        created: prepared.created,
        stack_id: prepared.stack_id.clone(),
    })
}

/// v3 applies `provider.stackPolicy` with SetStackPolicy once an executed change set has
/// finished (UpdateStack and CreateStack carry it themselves).
pub(super) async fn policy_after_change_set(
    clients: &AwsClients,
    params: &stack::StackParams,
    stack_id: &str,
) -> Result<(), AwsError> {
    match &params.stack_policy {
        Some(body) => crate::protection::set_stack_policy(&clients.cfn, stack_id, body).await,
        None => Ok(()),
    }
}

/// Named bucket and no stack yet: create the full stack directly.
async fn create_full(
    clients: &AwsClients,
    req: &DeployRequest,
    progress: Scoped<'_>,
    url: String,
) -> Result<StackChange, AwsError> {
    let params = &req.params;
    progress.report(|scope| Progress::StackOperation {
        scope,
        operation: "create",
    });
    let caps = stack::capabilities(&req.template);
    let id = stack::create(&clients.cfn, params, &TemplateSource::Url(url), caps, true).await?;
    let final_status = follow(clients, req, progress, &id, Operation::Create).await?;
    Ok(StackChange {
        status: DeployStatus::Deployed,
        reason: None,
        final_status,
        created: true,
        stack_id: Some(id),
    })
}

/// Starts the update of stack `id` as `req.method` says.
async fn start(
    clients: &AwsClients,
    req: &DeployRequest,
    progress: Scoped<'_>,
    id: &str,
    url: String,
    run_started: SystemTime,
) -> Result<UpdateStart, AwsError> {
    let params = &req.params;
    let caps = stack::capabilities(&req.template);
    let operation = match req.method {
        Method::Direct => "update",
        Method::ChangeSets => "change set",
    };
    progress.report(|scope| Progress::StackOperation { scope, operation });
    match req.method {
        Method::Direct => {
            let sent = stack::update(&clients.cfn, params, &url, caps).await;
            confirm_update(
                &clients.cfn,
                &params.stack,
                &req.template,
                sent,
                run_started,
            )
            .await
        }
        Method::ChangeSets => {
            update_by_change_set(&clients.cfn, params, id, url, caps, &req.waits).await
        }
    }
}

/// Follows stack `id`'s `operation` to its end; returns the final status.
async fn follow(
    clients: &AwsClients,
    req: &DeployRequest,
    progress: Scoped<'_>,
    id: &str,
    operation: Operation,
) -> Result<String, AwsError> {
    let params = &req.params;
    let followed = stack::follow(
        &clients.cfn,
        id,
        &params.stack,
        &params.region,
        operation,
        &req.waits,
        progress,
    )
    .await?;
    Ok(followed.status)
}
