//! The deploy flow (`up`), compatible with stacks and buckets that Serverless v3 deployed.
//!
//! In order: stack state (wait for a busy stack, recreate one that never finished creating,
//! stop with the recovery step for a stuck one) → deployment bucket (create the core stack
//! when the stack is absent, or use `provider.deploymentBucket.name`) → change detection
//! (v3's `filesha256` comparison with the newest deployment) → under the stage lock: parallel
//! uploads → UpdateStack (or a change set) → follow events → keep the newest N deployments.
//! This file holds the read-only first half; `prepare.rs` the stack and bucket steps,
//! `write.rs` the half under the lock.
//!
//! Change detection, compared with v3: the local hash list is the normalized template hash plus
//! each zip's hash; deployer does not upload `serverless-state.json` (it holds the resolved
//! configuration, secrets included), so the first deployer run after a v3 deploy always
//! deploys. Skipping additionally requires that the stack's last operation succeeded and that
//! the deployed template references the newest deployment directory: a deploy that uploaded
//! but never updated the stack (v3 issue #3983) is not mistaken for "no changes".

use crate::artifacts::{self, Deployment};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::lock::{self, LockOptions};
use crate::progress::{Progress, Reporter, Scoped};
use crate::protection;
use crate::stack::{self, StackInfo};

use super::changes::{ChangeCheck, check_changes};
use super::deployed_template_body;
use super::hooks::{DeployHooks, NoHooks};
use super::outcome::{Clock, Prepared};
use super::prepare;
use super::request::DeployRequest;
use super::write;

pub use super::outcome::{DeployOutcome, DeployStatus};

/// Deploy: see the module documentation for the order of steps.
pub async fn deploy(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
) -> Result<DeployOutcome, AwsError> {
    deploy_hooked(clients, req, reporter, &NoHooks).await
}

/// [`deploy`] with `hooks` run at their points; on a protected stage, termination protection
/// is turned on after every successful deploy (unchanged ones too: a stage protected since
/// its last deploy gets it now).
pub async fn deploy_hooked(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
    hooks: &dyn DeployHooks,
) -> Result<DeployOutcome, AwsError> {
    let mut outcome = deploy_steps(clients, req, reporter, hooks).await?;
    if req.protect {
        let id = if outcome.stack_id.is_empty() {
            &req.params.stack
        } else {
            &outcome.stack_id
        };
        protection::protect_stack(&clients.cfn, id).await?;
        outcome.termination_protection = true;
    }
    Ok(outcome)
}

async fn deploy_steps(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
    hooks: &dyn DeployHooks,
) -> Result<DeployOutcome, AwsError> {
    let scope = req.scope();
    let progress = Scoped::new(&scope, reporter);
    let mut clock = Clock::new();
    let params = &req.params;
    stack::validate_stack_name(&params.stack)?;
    let existing = prepare::settle(clients, params, &req.waits, progress).await?;
    clock.lap("stack");
    let bucket = prepare::bucket(clients, req, existing.as_ref(), progress).await?;
    let created = bucket.created_stack.is_some();
    let stack_id = bucket
        .created_stack
        .or_else(|| existing.as_ref().map(|i| i.id.clone()));
    let bucket = bucket.name;
    clock.lap("bucket");

    let (deployments, deployed_template) =
        read_deployments(clients, req, &bucket, existing.as_ref(), created).await?;
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
        None if created => ChangeCheck::changed(
            "first deploy (the new stack holds only its deployment bucket until this update)",
        ),
        None => ChangeCheck::changed("the stack does not exist"),
    };
    clock.lap("check");
    progress.report(|scope| Progress::ChangeCheck {
        scope,
        unchanged: check.unchanged,
        reason: check.reason.clone(),
    });
    if check.unchanged {
        let info = existing.expect("unchanged implies an existing stack");
        return Ok(unchanged(req, info, bucket, &deployments, check, clock));
    }
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
    locked_write(clients, req, progress, prepared, hooks).await
}

/// The stage's deployments and the deployed template (read in parallel); nothing for a stack
/// this run just created.
async fn read_deployments(
    clients: &AwsClients,
    req: &DeployRequest,
    bucket: &str,
    existing: Option<&StackInfo>,
    created: bool,
) -> Result<(Vec<Deployment>, Option<String>), AwsError> {
    let prefix = req.stage_prefix();
    if created {
        return Ok((Vec::new(), None));
    }
    let Some(info) = existing else {
        let list = artifacts::list_deployments(&clients.s3, bucket, &prefix).await?;
        return Ok((list, None));
    };
    let (list, template) = tokio::join!(
        artifacts::list_deployments(&clients.s3, bucket, &prefix),
        deployed_template_body(clients, &info.id),
    );
    Ok((list?, template?))
}

/// The outcome of a deploy that change detection skipped.
fn unchanged(
    req: &DeployRequest,
    info: StackInfo,
    bucket: String,
    deployments: &[Deployment],
    check: ChangeCheck,
    clock: Clock,
) -> DeployOutcome {
    DeployOutcome {
        status: DeployStatus::Unchanged,
        reason: check.reason,
        stack: req.params.stack.clone(),
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
        termination_protection: false,
    }
}

/// The writing half under the stage lock: only one run writes to a stage at a time; the lock
/// is released whatever happens.
async fn locked_write(
    clients: &AwsClients,
    req: &DeployRequest,
    progress: Scoped<'_>,
    prepared: Prepared,
    hooks: &dyn DeployHooks,
) -> Result<DeployOutcome, AwsError> {
    let lock = lock::acquire(
        &clients.s3,
        &prepared.bucket,
        &lock::lock_key(&req.stage_prefix()),
        &req.stage,
        &LockOptions {
            ttl: req.lock.ttl.max(req.waits.operation + req.waits.settle),
            ..req.lock
        },
        progress,
    )
    .await?;
    let result = write::write(clients, req, progress, prepared, &lock, hooks).await;
    lock.release_after(&clients.s3, result).await
}
