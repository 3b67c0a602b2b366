//! The deploy, diff, info and remove flows, compatible with stacks and buckets that
//! Serverless v3 deployed.
//!
//! Deploy, in order: stack state (wait for a busy stack, recreate one that never finished
//! creating, stop with the recovery step for a stuck one) → deployment bucket (create the core
//! stack when the stack is absent, or use `provider.deploymentBucket.name`) → change detection
//! (v3's `filesha256` comparison with the newest deployment) → parallel uploads → UpdateStack
//! (or a change set) → follow events → keep the newest N deployments.
//!
//! Change detection, compared with v3: the local hash list is the normalized template hash plus
//! each zip's hash; deployer does not upload `serverless-state.json` (it holds the resolved
//! configuration, secrets included), so the first deployer run after a v3 deploy always
//! deploys. Skipping additionally requires that the stack's last operation succeeded and that
//! the deployed template references the newest deployment directory: a deploy that uploaded
//! but never updated the stack (v3 issue #3983) is not mistaken for "no changes".

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::types::ChangeSetType;
use serde::Serialize;

use crate::artifacts::{
    self, Deployment, TEMPLATE_FILE, Upload, UploadBody, stage_prefix, template_url,
};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::lock::{self, LockOptions, StageLock};
use crate::progress::{Progress, Reporter};
use crate::stack::{
    self, Change, ChangeSetResult, Operation, StackInfo, StackOutput, StackParams, StackResource,
    StackState, TemplateSource, UpdateStart, Waits,
};

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

/// `provider.deploymentMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// UpdateStack (deployer's default, v4's default).
    #[default]
    Direct,
    /// A `<stack>-change-set` change set, created then executed (v3's default).
    ChangeSets,
}

/// A packaged artifact to deploy.
#[derive(Debug, Clone)]
pub struct DeployArtifact {
    /// File name in the deployment directory (e.g. `service-name.zip`).
    pub name: String,
    /// Local path of the zip.
    pub path: PathBuf,
    /// SHA-256 of the bytes, base64.
    pub sha256_base64: String,
    /// Size in bytes.
    pub size: u64,
}

/// Everything the deploy flow needs, computed offline by config/package/template.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Service name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Stack parameters (name, region, tags, stack parameters, notification ARNs, role).
    pub params: StackParams,
    /// `provider.deploymentPrefix` (default `serverless`).
    pub deployment_prefix: String,
    /// Bucket choice.
    pub bucket: BucketChoice,
    /// `provider.deploymentBucket.maxPreviousDeploymentArtifacts` (default 5).
    pub max_previous_deployments: usize,
    /// The core template (deployment bucket only), used when the stack does not exist.
    pub core_template: serde_json::Value,
    /// The compiled template.
    pub template: serde_json::Value,
    /// v3's normalized template hash (SHA-256, base64).
    pub template_hash: String,
    /// `<prefix>/<service>/<stage>/<ms>-<ISO>` the template's S3 keys point into.
    pub artifact_directory: String,
    /// The zips.
    pub artifacts: Vec<DeployArtifact>,
    /// Deployment method.
    pub method: Method,
    /// `--force`: deploy even when nothing changed.
    pub force: bool,
    /// Polling and waiting limits; `waits.operation` is the overall limit of the stack wait
    /// (`--timeout`).
    pub waits: Waits,
    /// The stage's deploy lock (`--force-unlock`, how long to wait for another run).
    pub lock: LockOptions,
}

impl DeployRequest {
    fn stage_prefix(&self) -> String {
        stage_prefix(&self.deployment_prefix, &self.service, &self.stage)
    }

    fn local_hashes(&self) -> Vec<String> {
        let mut h: Vec<String> = std::iter::once(self.template_hash.clone())
            .chain(self.artifacts.iter().map(|a| a.sha256_base64.clone()))
            .collect();
        h.sort();
        h
    }
}

/// Result status of `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    /// The stack was created or updated.
    Deployed,
    /// Nothing changed; no upload, no stack update (or CloudFormation found nothing to do).
    Unchanged,
}

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployOutcome {
    /// Deployed or unchanged.
    pub status: DeployStatus,
    /// Why (change detection's reason, or CloudFormation's "no updates").
    pub reason: String,
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// Final stack status.
    pub stack_status: String,
    /// True when this run created the stack.
    pub created: bool,
    /// Deployment bucket.
    pub bucket: String,
    /// The deployment directory used (uploaded to, or the unchanged newest one).
    pub directory: Option<String>,
    /// Keys uploaded in this run.
    pub uploaded: Vec<String>,
    /// Files not uploaded because identical bytes were already there.
    pub skipped_uploads: usize,
    /// Old deployment directories removed.
    pub removed_deployments: usize,
    /// Stack outputs after the deploy.
    pub outputs: Vec<StackOutput>,
    /// Duration of each phase in milliseconds, in order.
    pub timings: Vec<(String, u64)>,
}

struct Clock {
    start: Instant,
    last: Instant,
    phases: Vec<(String, u64)>,
}

impl Clock {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            start: now,
            last: now,
            phases: Vec::new(),
        }
    }
    fn lap(&mut self, name: &str) {
        let now = Instant::now();
        self.phases
            .push((name.to_string(), (now - self.last).as_millis() as u64));
        self.last = now;
    }
    fn finish(mut self) -> Vec<(String, u64)> {
        self.phases
            .push(("total".into(), self.start.elapsed().as_millis() as u64));
        self.phases
    }
}

/// Bring the stack into a state a deploy can work with: `None` when it must be created.
async fn settle(
    clients: &AwsClients,
    params: &StackParams,
    waits: &Waits,
    reporter: &dyn Reporter,
) -> Result<Option<StackInfo>, AwsError> {
    let mut info = stack::describe(&clients.cfn, &params.stack).await?;
    loop {
        let Some(current) = info.take() else {
            return Ok(None);
        };
        match stack::classify(&current.status, &params.stack, &params.region) {
            StackState::Ready => return Ok(Some(current)),
            StackState::Busy => {
                info = stack::wait_settled(&clients.cfn, &params.stack, waits, reporter).await?;
            }
            StackState::Recreate => {
                reporter.report(Progress::StackRecreating {
                    stack: params.stack.clone(),
                    status: current.status.clone(),
                });
                stack::delete(&clients.cfn, &current.id, params.role_arn.as_deref()).await?;
                reporter.report(Progress::StackOperation {
                    stack: params.stack.clone(),
                    operation: "delete",
                });
                stack::follow(
                    &clients.cfn,
                    &current.id,
                    &params.stack,
                    &params.region,
                    Operation::Delete,
                    waits,
                    reporter,
                )
                .await?;
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

/// The bucket of an existing stack: the `ServerlessDeploymentBucketName` output (no extra
/// call), else the `ServerlessDeploymentBucket` resource's physical id.
async fn stack_bucket(
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

/// Result of comparing local files with the newest deployment.
#[derive(Debug, Clone)]
struct ChangeCheck {
    unchanged: bool,
    reason: String,
    /// `filesha256` of each object of the newest deployment (key → hash).
    newest_hashes: Vec<(String, Option<String>)>,
}

async fn check_changes(
    clients: &AwsClients,
    req: &DeployRequest,
    bucket: &str,
    info: &StackInfo,
    deployments: &[Deployment],
    deployed_template: Option<&str>,
) -> Result<ChangeCheck, AwsError> {
    let Some(newest) = deployments.last() else {
        return Ok(ChangeCheck {
            unchanged: false,
            reason: "no previous deployment in the bucket".into(),
            newest_hashes: Vec::new(),
        });
    };
    let keys: Vec<String> = newest.objects.iter().map(|o| o.key.clone()).collect();
    let hashes = artifacts::head_hashes(&clients.s3, bucket, &keys).await?;
    let newest_hashes: Vec<(String, Option<String>)> = keys.into_iter().zip(hashes).collect();
    let mut remote: Vec<String> = newest_hashes
        .iter()
        .filter_map(|(_, h)| h.clone())
        .collect();
    remote.sort();
    let reason = if req.force {
        "--force".to_string()
    } else if remote != req.local_hashes() {
        "the template or code changed".to_string()
    } else if !stack::last_operation_succeeded(&info.status) {
        format!(
            "the stack's last operation did not succeed ({})",
            info.status
        )
    } else if !references_newest(deployed_template, &req.stage_prefix(), &newest.directory) {
        "the newest upload was never deployed to the stack".to_string()
    } else {
        return Ok(ChangeCheck {
            unchanged: true,
            reason: format!("no changes since {}", newest.directory),
            newest_hashes,
        });
    };
    Ok(ChangeCheck {
        unchanged: false,
        reason,
        newest_hashes,
    })
}

/// Starts updating `params.stack` (id `stack_id`) to `template`, stored at `url`, the way
/// `method` says: one UpdateStack (its uncertain outcomes settled by [`confirm_update`], as
/// `up` does), or v3's `<stack>-change-set` created, then executed.
pub async fn start_update(
    cfn: &aws_sdk_cloudformation::Client,
    params: &StackParams,
    stack_id: &str,
    url: String,
    template: &serde_json::Value,
    method: Method,
    waits: &Waits,
) -> Result<UpdateStart, AwsError> {
    let caps = stack::capabilities(template);
    match method {
        Method::Direct => {
            let sent_at = SystemTime::now();
            let sent = stack::update(cfn, params, &url, caps).await;
            confirm_update(cfn, &params.stack, template, sent, sent_at).await
        }
        Method::ChangeSets => update_by_change_set(cfn, params, stack_id, url, caps, waits).await,
    }
}

/// v3's change-set update: `<stack>-change-set` from the template at `url`, executed unless
/// it is empty.
async fn update_by_change_set(
    cfn: &aws_sdk_cloudformation::Client,
    params: &StackParams,
    stack_id: &str,
    url: String,
    caps: Vec<aws_sdk_cloudformation::types::Capability>,
    waits: &Waits,
) -> Result<UpdateStart, AwsError> {
    let created = stack::create_change_set(
        cfn,
        params,
        &stack::change_set_name(&params.stack),
        &TemplateSource::Url(url),
        caps,
        ChangeSetType::Update,
        waits,
    )
    .await?;
    match created {
        ChangeSetResult::NoChanges => Ok(UpdateStart::NoChanges),
        ChangeSetResult::Ready { id: cs, .. } => {
            stack::execute_change_set(cfn, params, &cs).await?;
            Ok(UpdateStart::Started(stack_id.to_string()))
        }
    }
}

/// True when the deployed template points at the newest deployment directory, or points at no
/// deployment directory of this stage at all (a service without code artifacts).
fn references_newest(template: Option<&str>, stage_prefix: &str, newest: &str) -> bool {
    let Some(body) = template else { return true };
    !body.contains(&format!("{stage_prefix}/")) || body.contains(&format!("{newest}/"))
}

/// Deploy: see the module documentation for the order of steps.
pub async fn deploy(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
) -> Result<DeployOutcome, AwsError> {
    let mut clock = Clock::new();
    let params = &req.params;
    stack::validate_stack_name(&params.stack)?;
    let existing = settle(clients, params, &req.waits, reporter).await?;
    clock.lap("stack");

    // Deployment bucket: the stack's own (creating the core stack when absent) or a named one.
    let mut created = false;
    let mut stack_id = existing.as_ref().map(|i| i.id.clone());
    let bucket = match (&existing, &req.bucket) {
        (_, BucketChoice::Named(name)) => name.clone(),
        (Some(info), BucketChoice::Stack) => stack_bucket(clients, &req.bucket, info).await?,
        (None, BucketChoice::Stack) => {
            reporter.report(Progress::StackCreating {
                stack: params.stack.clone(),
            });
            let body = serde_json::to_string(&req.core_template)
                .map_err(|e| AwsError::Invalid(format!("core template: {e}")))?;
            let id = create_core(clients, req, body, reporter).await?;
            created = true;
            stack_id = Some(id);
            stack::physical_id(&clients.cfn, &params.stack, BUCKET_LOGICAL_ID)
                .await?
                .ok_or_else(|| {
                    AwsError::Bucket(format!(
                        "the core stack \"{}\" was created without a {BUCKET_LOGICAL_ID}",
                        params.stack
                    ))
                })?
        }
    };
    clock.lap("bucket");

    // Change detection: list deployments and read the deployed template in parallel.
    let prefix = req.stage_prefix();
    let (deployments, deployed_template) = if created {
        (Vec::new(), None)
    } else if let Some(info) = &existing {
        let (list, template) = tokio::join!(
            artifacts::list_deployments(&clients.s3, &bucket, &prefix),
            deployed_template_body(clients, &info.id),
        );
        (list?, template?)
    } else {
        (
            artifacts::list_deployments(&clients.s3, &bucket, &prefix).await?,
            None,
        )
    };
    let check = match &existing {
        Some(info) => {
            check_changes(
                clients,
                req,
                &bucket,
                info,
                &deployments,
                deployed_template.as_deref(),
            )
            .await?
        }
        None => ChangeCheck {
            unchanged: false,
            reason: if created {
                "first deploy (the new stack holds only its deployment bucket until this update)"
                    .into()
            } else {
                "the stack does not exist".into()
            },
            newest_hashes: Vec::new(),
        },
    };
    clock.lap("check");
    reporter.report(Progress::ChangeCheck {
        unchanged: check.unchanged,
        reason: check.reason.clone(),
    });
    if check.unchanged {
        let info = existing.expect("unchanged implies an existing stack");
        return Ok(DeployOutcome {
            status: DeployStatus::Unchanged,
            reason: check.reason,
            stack: params.stack.clone(),
            stack_id: info.id.clone(),
            stack_status: info.status.clone(),
            created: false,
            bucket,
            directory: deployments.last().map(|d| d.directory.clone()),
            uploaded: Vec::new(),
            skipped_uploads: 0,
            removed_deployments: 0,
            outputs: info.outputs,
            timings: clock.finish(),
        });
    }

    // Only one run writes to a stage at a time; the lock is released whatever happens.
    let lock = lock::acquire(
        &clients.s3,
        &bucket,
        &lock::lock_key(&prefix),
        &req.stage,
        &LockOptions {
            ttl: req.lock.ttl.max(req.waits.operation + req.waits.settle),
            ..req.lock
        },
        reporter,
    )
    .await?;
    let prepared = Prepared {
        existing,
        created,
        stack_id,
        bucket,
        check,
        deployments,
        deployed_template,
        clock,
    };
    let result = write(clients, req, reporter, prepared, &lock).await;
    lock.release_after(&clients.s3, result).await
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

/// What the read-only first half of a deploy found.
struct Prepared {
    existing: Option<StackInfo>,
    created: bool,
    stack_id: Option<String>,
    bucket: String,
    check: ChangeCheck,
    deployments: Vec<Deployment>,
    deployed_template: Option<String>,
    clock: Clock,
}

/// The writing half of a deploy, under the stage lock: upload, change the stack, clean up.
async fn write(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
    prepared: Prepared,
    lock: &StageLock,
) -> Result<DeployOutcome, AwsError> {
    let Prepared {
        existing,
        mut created,
        mut stack_id,
        bucket,
        check,
        deployments,
        deployed_template,
        mut clock,
    } = prepared;
    let params = &req.params;
    let run_started = SystemTime::now();
    if lock.waited {
        ensure_directory_is_ours(clients, &bucket, req, &deployments).await?;
    }

    // Uploads: the minified template and the zips, skipping files already there byte for byte
    // (a re-deploy of the same `--package` directory).
    let template_bytes = serde_json::to_vec(&req.template)
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
    uploads.retain(|u| {
        !check
            .newest_hashes
            .iter()
            .any(|(k, h)| *k == u.key && h.as_deref() == Some(&u.sha256_base64))
    });
    let skipped = total - uploads.len();
    let uploaded: Vec<String> = uploads.iter().map(|u| u.key.clone()).collect();
    reporter.report(Progress::Uploading {
        bucket: bucket.clone(),
        directory: dir.clone(),
        files: uploads.len(),
        bytes: uploads.iter().map(|u| u.size).sum(),
        skipped,
    });
    artifacts::upload_all(&clients.s3, &bucket, uploads, clients.timeouts(), reporter).await?;
    clock.lap("upload");

    // The stack operation, only while this run still holds the lock.
    lock.verify(&clients.s3).await?;
    let url = template_url(&bucket, &params.region, &format!("{dir}/{TEMPLATE_FILE}"));
    let caps = stack::capabilities(&req.template);
    let mut status = DeployStatus::Deployed;
    let mut reason = check.reason.clone();
    let final_status;
    match (&existing, created) {
        (None, false) => {
            // Named bucket and no stack yet: create the full stack directly.
            reporter.report(Progress::StackOperation {
                stack: params.stack.clone(),
                operation: "create",
            });
            let id =
                stack::create(&clients.cfn, params, &TemplateSource::Url(url), caps, true).await?;
            final_status = stack::follow(
                &clients.cfn,
                &id,
                &params.stack,
                &params.region,
                Operation::Create,
                &req.waits,
                reporter,
            )
            .await?
            .status;
            created = true;
            stack_id = Some(id);
        }
        _ => {
            let id = stack_id.clone().unwrap_or_else(|| params.stack.clone());
            let started = match req.method {
                Method::Direct => {
                    reporter.report(Progress::StackOperation {
                        stack: params.stack.clone(),
                        operation: "update",
                    });
                    let sent = stack::update(&clients.cfn, params, &url, caps).await;
                    confirm_update(
                        &clients.cfn,
                        &params.stack,
                        &req.template,
                        sent,
                        run_started,
                    )
                    .await?
                }
                Method::ChangeSets => {
                    reporter.report(Progress::StackOperation {
                        stack: params.stack.clone(),
                        operation: "change set",
                    });
                    update_by_change_set(&clients.cfn, params, &id, url, caps, &req.waits).await?
                }
            };
            match started {
                UpdateStart::NoChanges => {
                    status = DeployStatus::Unchanged;
                    reason = "CloudFormation found no changes to perform".into();
                    final_status = existing
                        .as_ref()
                        .map(|i| i.status.clone())
                        .unwrap_or_default();
                }
                UpdateStart::Started(sid) => {
                    final_status = stack::follow(
                        &clients.cfn,
                        &sid,
                        &params.stack,
                        &params.region,
                        Operation::Update,
                        &req.waits,
                        reporter,
                    )
                    .await?
                    .status;
                }
            }
        }
    }
    clock.lap("stack update");

    // Outputs and retention of old deployments, in parallel.
    let mut all = deployments.clone();
    if !all.iter().any(|d| d.directory == *dir) {
        all.push(Deployment {
            directory: dir.clone(),
            objects: Vec::new(),
        });
    }
    // The stack references this run's directory once deployed; else still the one it had.
    let mut protected = vec![dir.clone()];
    if status != DeployStatus::Deployed {
        protected.extend(referenced_dirs(deployed_template.as_deref(), &deployments));
    }
    let (info, removed) = tokio::join!(
        stack::describe(&clients.cfn, &params.stack),
        cleanup(
            clients,
            &bucket,
            &all,
            &protected,
            req.max_previous_deployments
        ),
    );
    // The stack is deployed by now: a failed read-back or clean-up must not report a failure.
    let info = info.unwrap_or_else(|e| {
        tracing::warn!("could not read the stack after the deploy: {e}");
        None
    });
    let removed = removed.unwrap_or_else(|e| {
        tracing::warn!("could not remove old deployments (the next deploy retries): {e}");
        (0, 0)
    });
    if removed.0 > 0 {
        reporter.report(Progress::Cleanup {
            directories: removed.0,
            objects: removed.1,
        });
    }
    clock.lap("finish");
    Ok(DeployOutcome {
        status,
        reason,
        stack: params.stack.clone(),
        stack_id: info
            .as_ref()
            .map(|i| i.id.clone())
            .or(stack_id)
            .unwrap_or_default(),
        stack_status: info
            .as_ref()
            .map(|i| i.status.clone())
            .unwrap_or(final_status),
        created,
        bucket,
        directory: Some(dir.clone()),
        uploaded,
        skipped_uploads: skipped,
        removed_deployments: removed.0,
        outputs: info.map(|i| i.outputs).unwrap_or_default(),
        timings: clock.finish(),
    })
}

/// Create the core stack (the deployment bucket only) and wait for it. When it already exists
/// — another run's first deploy of the stage got there first, or our own CreateStack landed
/// and its answer was lost — that stack is used once it has settled: the stage lock then
/// orders the two runs.
async fn create_core(
    clients: &AwsClients,
    req: &DeployRequest,
    body: String,
    reporter: &dyn Reporter,
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
            let settled = stack::wait_settled(&clients.cfn, &params.stack, &req.waits, reporter)
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
        reporter,
    )
    .await?;
    Ok(id)
}

/// The deployment directories a deployed template points into.
fn referenced_dirs(template: Option<&str>, deployments: &[Deployment]) -> Vec<String> {
    let Some(body) = template else {
        return Vec::new();
    };
    deployments
        .iter()
        .filter(|d| body.contains(&format!("{}/", d.directory)))
        .map(|d| d.directory.clone())
        .collect()
}

/// True for UpdateStack answers that may follow our own first attempt having landed (the SDK
/// retried after a lost response).
fn maybe_landed(err: &AwsError) -> bool {
    err.is_transient() || err.to_string().contains("can not be updated")
}

/// Read the stack's real state when the outcome of UpdateStack is uncertain (an error after
/// which the update may still have started, or "no updates" that our own lost first attempt
/// may have caused): started when the stack now holds exactly `template`.
pub async fn confirm_update(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    template: &serde_json::Value,
    sent: Result<UpdateStart, AwsError>,
    run_started: SystemTime,
) -> Result<UpdateStart, AwsError> {
    let err = match sent {
        Ok(UpdateStart::Started(id)) => return Ok(UpdateStart::Started(id)),
        Ok(UpdateStart::NoChanges) => None,
        Err(e) if maybe_landed(&e) => Some(e),
        Err(e) => return Err(e.with_state("the stack was not changed; re-running is safe")),
    };
    let info = stack::describe(cfn, stack).await;
    let body = stack::template(cfn, stack).await;
    let (info, body) = match (info, body) {
        (Ok(Some(info)), Ok(body)) => (info, body),
        _ => {
            return match err {
                None => Ok(UpdateStart::NoChanges),
                Some(e) => Err(e.with_state(format!(
                    "the stack's state could not be read either: check it with `deployer info` \
                     (stack {stack}); re-running is safe"
                ))),
            };
        }
    };
    let ours = body.as_ref() == Some(template);
    let recent = info.last_updated.is_some_and(|t| t >= run_started);
    match err {
        None if ours && recent => Ok(UpdateStart::Started(info.id)),
        None => Ok(UpdateStart::NoChanges),
        Some(_) if ours => Ok(UpdateStart::Started(info.id)),
        Some(e) => Err(e.with_state(format!(
            "the stack was not changed by this run (status {}); re-running is safe",
            info.status
        ))),
    }
}

async fn deployed_template_body(
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

/// Keep the newest `keep` deployments (the `protected` ones — this run's and the one the stack
/// references — always stay); delete the others' objects. Only deployment directories are
/// ever listed here, so foreign objects under the stage prefix are never touched, nor is a
/// directory a concurrent run uploaded after this run listed the bucket. Returns
/// (directories, objects) removed.
async fn cleanup(
    clients: &AwsClients,
    bucket: &str,
    deployments: &[Deployment],
    protected: &[String],
    keep: usize,
) -> Result<(usize, usize), AwsError> {
    let mut sorted: Vec<&Deployment> = deployments.iter().collect();
    sorted.sort_by(|a, b| {
        a.timestamp_ms()
            .cmp(&b.timestamp_ms())
            .then_with(|| a.directory.cmp(&b.directory))
    });
    let excess = sorted.len().saturating_sub(keep.max(1));
    let old: Vec<&Deployment> = sorted
        .into_iter()
        .take(excess)
        .filter(|d| !protected.contains(&d.directory))
        .collect();
    let keys: Vec<String> = old
        .iter()
        .flat_map(|d| d.objects.iter().map(|o| o.key.clone()))
        .collect();
    if keys.is_empty() {
        return Ok((0, 0));
    }
    let n = artifacts::delete_keys(&clients.s3, bucket, &keys).await?;
    Ok((old.len(), n))
}

/// What `diff` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffOutcome {
    /// Stack name.
    pub stack: String,
    /// False when the stack does not exist yet (every resource is an `Add`).
    pub stack_exists: bool,
    /// The changes (empty when nothing would change).
    pub changes: Vec<Change>,
    /// Why there are no changes, or what was compared.
    pub reason: String,
    /// Clean-up that failed: a temporary change set or template left behind, each naming it
    /// and how to delete it.
    pub warnings: Vec<String>,
}

/// Compute what `deploy` would change: nothing when change detection would skip; otherwise a
/// temporary change set (deleted afterwards). Entries that CloudFormation lists as `Modify`
/// without any detail while the resource's definition is identical in the deployed template
/// are dropped (emulators list every resource).
pub async fn diff(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
) -> Result<DiffOutcome, AwsError> {
    let params = &req.params;
    stack::validate_stack_name(&params.stack)?;
    let info = stack::describe(&clients.cfn, &params.stack).await?;
    let info = match info {
        Some(i) => match stack::classify(&i.status, &params.stack, &params.region) {
            StackState::Ready => Some(i),
            StackState::Recreate => None,
            StackState::Busy => {
                return Err(AwsError::Invalid(format!(
                    "stack \"{}\" is busy ({}); run diff again when it has finished",
                    params.stack, i.status
                )));
            }
            StackState::Stuck(advice) => {
                return Err(AwsError::NeedsRecovery {
                    stack: params.stack.clone(),
                    region: params.region.clone(),
                    status: i.status,
                    advice,
                });
            }
        },
        None => None,
    };
    let Some(info) = info else {
        let changes = resources_of(&req.template)
            .map(|(id, r)| Change {
                action: "Add".into(),
                logical_id: id.clone(),
                resource_type: r
                    .get("Type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("")
                    .to_string(),
                replacement: None,
                details: Vec::new(),
            })
            .collect();
        return Ok(DiffOutcome {
            stack: params.stack.clone(),
            stack_exists: false,
            changes,
            reason: "the stack does not exist yet".into(),
            warnings: Vec::new(),
        });
    };
    let bucket = stack_bucket(clients, &req.bucket, &info).await?;
    let prefix = req.stage_prefix();
    let (deployments, deployed) = tokio::join!(
        artifacts::list_deployments(&clients.s3, &bucket, &prefix),
        deployed_template_body(clients, &info.id),
    );
    let deployments = deployments?;
    let deployed = deployed?;
    let mut check_req = req.clone();
    check_req.force = false;
    let check = check_changes(
        clients,
        &check_req,
        &bucket,
        &info,
        &deployments,
        deployed.as_deref(),
    )
    .await?;
    if check.unchanged {
        return Ok(DiffOutcome {
            stack: params.stack.clone(),
            stack_exists: true,
            changes: Vec::new(),
            reason: check.reason,
            warnings: Vec::new(),
        });
    }
    // When every zip is already in the newest deployment, point the code keys there so the
    // change set shows configuration changes rather than a new upload location.
    let mut template_text = serde_json::to_string(&req.template)
        .map_err(|e| AwsError::Invalid(format!("template: {e}")))?;
    if let Some(newest) = deployments.last() {
        let all_there = req.artifacts.iter().all(|a| {
            let key = format!("{}/{}", newest.directory, a.name);
            check
                .newest_hashes
                .iter()
                .any(|(k, h)| *k == key && h.as_deref() == Some(&a.sha256_base64))
        });
        if all_there && !req.artifacts.is_empty() {
            template_text = template_text.replace(
                &format!("{}/", req.artifact_directory),
                &format!("{}/", newest.directory),
            );
        }
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let temp_key = format!("{prefix}/deployer-diff-{stamp}/{TEMPLATE_FILE}");
    let source = if template_text.len() <= MAX_TEMPLATE_BODY {
        TemplateSource::Body(template_text.clone())
    } else {
        let bytes = template_text.clone().into_bytes();
        artifacts::upload_all(
            &clients.s3,
            &bucket,
            vec![Upload {
                key: temp_key.clone(),
                size: bytes.len() as u64,
                body: UploadBody::Bytes(bytes),
                content_type: "application/json",
                sha256_base64: req.template_hash.clone(),
            }],
            clients.timeouts(),
            reporter,
        )
        .await?;
        TemplateSource::Url(template_url(&bucket, &params.region, &temp_key))
    };
    let name = format!("{}-deployer-diff-{stamp}", params.stack);
    let result = stack::create_change_set(
        &clients.cfn,
        params,
        &name,
        &source,
        stack::capabilities(&req.template),
        ChangeSetType::Update,
        &req.waits,
    )
    .await;
    let mut warnings = Vec::new();
    if matches!(source, TemplateSource::Url(_))
        && let Err(e) =
            artifacts::delete_keys(&clients.s3, &bucket, std::slice::from_ref(&temp_key)).await
    {
        warnings.push(temp_template_left(e, &bucket, &temp_key));
    }
    let changes = match result? {
        ChangeSetResult::NoChanges => Vec::new(),
        ChangeSetResult::Ready { id, changes } => {
            if let Err(e) = stack::delete_change_set(&clients.cfn, &params.stack, &id).await {
                warnings.push(change_set_left(e, params, &name));
            }
            let local: serde_json::Value =
                serde_json::from_str(&template_text).unwrap_or(serde_json::Value::Null);
            let remote: serde_json::Value = deployed
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(serde_json::Value::Null);
            changes
                .into_iter()
                .filter(|c| {
                    !(c.action == "Modify"
                        && c.details.is_empty()
                        && local["Resources"].get(&c.logical_id).is_some()
                        && local["Resources"].get(&c.logical_id)
                            == remote["Resources"].get(&c.logical_id))
                })
                .collect()
        }
    };
    Ok(DiffOutcome {
        stack: params.stack.clone(),
        stack_exists: true,
        reason: if changes.is_empty() {
            "CloudFormation found no changes".into()
        } else {
            check.reason
        },
        changes,
        warnings,
    })
}

/// The warning for a temporary change set of `diff` that could not be deleted.
fn change_set_left(err: AwsError, params: &StackParams, name: &str) -> String {
    let stack = &params.stack;
    with_advice(
        err,
        format!(
            "the temporary change set {name} of stack {stack} was left (diff never executes \
             it); delete it with `aws cloudformation delete-change-set --stack-name {stack} \
             --change-set-name {name} --region {}`",
            params.region
        ),
    )
}

/// The warning for a temporary template of `diff` that could not be deleted.
fn temp_template_left(err: AwsError, bucket: &str, key: &str) -> String {
    with_advice(
        err,
        format!(
            "the temporary template s3://{bucket}/{key} of this diff was left; delete it with \
             `aws s3 rm s3://{bucket}/{key}` (`deployer remove` deletes it with the stage)"
        ),
    )
}

/// `err`'s message with `advice` as where things stand.
fn with_advice(err: AwsError, advice: String) -> String {
    match err {
        AwsError::Call { .. } => err.with_state(advice).to_string(),
        other => format!("{other}; {advice}"),
    }
}

fn resources_of(
    template: &serde_json::Value,
) -> impl Iterator<Item = (&String, &serde_json::Value)> {
    template
        .get("Resources")
        .and_then(|r| r.as_object())
        .into_iter()
        .flat_map(|m| m.iter())
}

/// What `info` found.
#[derive(Debug, Clone)]
pub struct InfoOutcome {
    /// The stack.
    pub stack: StackInfo,
    /// Its resources (empty when listing them failed: see `warnings`).
    pub resources: Vec<StackResource>,
    /// Secondary calls that failed, each naming the call; the stack status and outputs are
    /// still there.
    pub warnings: Vec<String>,
}

/// Stack status, outputs and resources (two calls in parallel).
pub async fn info(clients: &AwsClients, stack_name: &str) -> Result<InfoOutcome, AwsError> {
    let (info, resources) = tokio::join!(
        stack::describe(&clients.cfn, stack_name),
        stack::resources(&clients.cfn, stack_name),
    );
    let Some(info) = info? else {
        return Err(AwsError::StackMissing {
            stack: stack_name.to_string(),
            region: clients.region.clone(),
        });
    };
    // The resource list only adds function names: its failure degrades to a warning.
    let (resources, warnings) = match resources {
        Ok(r) => (r, Vec::new()),
        Err(e) => (Vec::new(), vec![format!("{e} (functions are not listed)")]),
    };
    Ok(InfoOutcome {
        stack: info,
        resources,
        warnings,
    })
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

/// Delete deployer's own objects of the stage (see [`artifacts::own_key`]) and leave every
/// other object under its prefix. `(deleted, left keys)`; nothing when the bucket is gone.
async fn empty_stage(
    clients: &AwsClients,
    bucket: &str,
    stage_prefix: &str,
    reporter: &dyn Reporter,
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
    reporter.report(Progress::Emptied {
        bucket: bucket.to_string(),
        objects: deleted,
    });
    Ok((deleted, others))
}

/// Delete deployer's objects of the stage from the deployment bucket (never another service's
/// under an overlapping prefix: see [`artifacts::own_key`]), delete the stack and wait.
#[allow(clippy::too_many_arguments)]
pub async fn remove(
    clients: &AwsClients,
    params: &StackParams,
    deployment_prefix: &str,
    service: &str,
    stage: &str,
    bucket_choice: &BucketChoice,
    waits: &Waits,
    reporter: &dyn Reporter,
) -> Result<RemoveOutcome, AwsError> {
    let start = Instant::now();
    let Some(mut info) = stack::describe(&clients.cfn, &params.stack).await? else {
        return Err(AwsError::StackMissing {
            stack: params.stack.clone(),
            region: params.region.clone(),
        });
    };
    if stack::classify(&info.status, &params.stack, &params.region) == StackState::Busy {
        match stack::wait_settled(&clients.cfn, &params.stack, waits, reporter).await? {
            Some(settled) => info = settled,
            None => {
                return Err(AwsError::StackMissing {
                    stack: params.stack.clone(),
                    region: params.region.clone(),
                });
            }
        }
    }
    let bucket = match stack_bucket(clients, bucket_choice, &info).await {
        Ok(b) => Some(b),
        Err(AwsError::Bucket(_)) => None,
        Err(e) => return Err(e),
    };
    let (deleted, left) = match &bucket {
        Some(bucket) => {
            let prefix = stage_prefix(deployment_prefix, service, stage);
            let (deleted, left) = empty_stage(clients, bucket, &prefix, reporter).await?;
            if !left.is_empty() && *bucket_choice == BucketChoice::Stack {
                // Said before the stack delete, which then fails on the non-empty bucket.
                tracing::warn!(
                    "{} object(s) under s3://{bucket}/{prefix}/ were not written by deployer for \
                     this stage and were left (e.g. {}); the stack's own deployment bucket \
                     cannot be deleted while it holds objects",
                    left.len(),
                    left[0]
                );
            }
            (deleted, left)
        }
        None => (0, Vec::new()),
    };
    reporter.report(Progress::StackOperation {
        stack: params.stack.clone(),
        operation: "delete",
    });
    stack::delete(&clients.cfn, &info.id, params.role_arn.as_deref()).await?;
    stack::follow(
        &clients.cfn,
        &info.id,
        &params.stack,
        &params.region,
        Operation::Delete,
        waits,
        reporter,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_reference_rule() {
        let p = "serverless/s/dev";
        let body = r#"{"Code":{"S3Key":"serverless/s/dev/2-2026-01-01T00:00:00.000Z/s.zip"}}"#;
        assert!(references_newest(
            Some(body),
            p,
            "serverless/s/dev/2-2026-01-01T00:00:00.000Z"
        ));
        assert!(!references_newest(
            Some(body),
            p,
            "serverless/s/dev/3-2026-01-02T00:00:00.000Z"
        ));
        assert!(references_newest(
            Some(r#"{"Resources":{}}"#),
            p,
            "serverless/s/dev/3-x"
        ));
        assert!(references_newest(None, p, "x"));
    }
}
