//! `up --plan FILE`: executes a saved plan (`commands/plan.rs`) exactly as reviewed. Before
//! any write: the guard holds the credentials to the plan's account (exit 3 otherwise); the
//! plan must be for this stage and region; unless `--skip-source-check`, the checkout is
//! packaged again and must give the planned template and zips (the files that differ are
//! named); a protected stage refuses `--force-unlock` and, without `--approve-broadening`, a
//! plan that broadens access. The flow (`deployer_aws::flow::apply`) then checks the stack,
//! the change set and the uploads, and executes the change set.

use std::path::PathBuf;
use std::time::Duration;

use deployer_aws::artifacts::stage_prefix;
use deployer_aws::flow::apply::{ApplyError, ApplyRequest};
use deployer_aws::lock::LockOptions;
use deployer_aws::stack::Waits;
use indexmap::IndexMap;
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::commands::deployments::{self, Target};
use crate::commands::plan::{PlanFile, hold_to_plan, same_stage};
use crate::errors::{OpError, OpErrorKind};
use crate::observer::{Action, Observer};
use crate::pipeline::protect::{self, Shortcut};
use crate::pipeline::request::{Deployable, keep, stack_params};
use crate::pipeline::stage::StageOptions;
use crate::pipeline::{self, report, stack};

/// The plan to execute and how.
#[derive(Debug, Default)]
pub struct ApplyOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// The plan file.
    pub plan: PathBuf,
    /// Do not package the checkout to compare (the source is not here).
    pub skip_source_check: bool,
    /// On a protected stage: execute a plan that broadens access.
    pub approve_broadening: bool,
    /// On a protected stage: execute a plan made on a drifted stack.
    pub accept_drift: bool,
    /// Remove a deploy lock left by a killed run first (refused on a protected stage).
    pub force_unlock: bool,
    /// Longest wait for the stack operation.
    pub timeout: Option<Duration>,
}

/// What `up --plan` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// `deployed`, or `unchanged` for a plan without changes.
    pub status: &'static str,
    /// `service:`.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// The change set executed.
    pub change_set_id: Option<String>,
    /// Final stack status.
    pub stack_status: String,
    /// The account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Stack outputs.
    pub outputs: IndexMap<String, String>,
    /// Old deployment directories removed.
    pub removed_deployments: usize,
    /// True when termination protection was turned on (a protected stage).
    pub termination_protection: bool,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// Executes the plan of `options.plan`; see the module documentation.
pub async fn apply_plan(
    mut options: ApplyOptions,
    observer: &dyn Observer,
) -> anyhow::Result<Applied> {
    let plan = PlanFile::read(&options.stage.service.cwd.join(&options.plan))?;
    // Another stage or region is refused before its credentials are even tried.
    let early = pipeline::service::load(&options.stage.service, observer)?;
    same_stage(&plan, &early.stage.stage, &early.stage.region)?;
    hold_to_plan(&mut options.stage, &plan)?;
    let target = if options.skip_source_check {
        deployments::open(&options.stage, observer).await?
    } else {
        let prepared = pipeline::prepare(&options.stage, None, Action::Deploy, observer).await?;
        same_source(&plan, &prepared.built)?;
        Target {
            service: prepared.built.service,
            name: prepared.built.stage,
            stack: prepared.built.stack,
            stage: prepared.stage,
        }
    };
    let settings = &target.stage.source.stage;
    same_stage(&plan, &target.name, &target.stage.session.region)?;
    if plan.service != target.service.service || plan.stack != target.stack {
        return Err(OpError::error(
            OpErrorKind::Plan,
            format!(
                "the plan is for service {} (stack {}), this configuration is service {} (stack \
                 {}); nothing was changed",
                plan.service, plan.stack, target.service.service, target.stack
            ),
        ));
    }
    let drifted = plan.drift.as_ref().is_some_and(|d| d.drifted);
    protect::refuse_used(
        settings,
        &[
            (options.force_unlock, Shortcut::ForceUnlock),
            (drifted && !options.accept_drift, Shortcut::Drifted),
        ],
    )?;
    if !plan.broadening.is_empty() && !options.approve_broadening {
        protect::refuse_planned_broadening(settings, &plan.broadening)?;
    }
    let Some(change_set_id) = plan.change_set_id.clone() else {
        return Ok(applied(
            &target,
            &plan,
            "unchanged",
            plan.stack_status.clone(),
        ));
    };
    let req = request(&target, &plan, change_set_id, &options);
    let outcome = target
        .stage
        .run(async {
            let clients = &target.stage.clients;
            match deployer_aws::flow::apply::apply(clients, &req, observer).await {
                Ok(o) => Ok(o),
                Err(ApplyError::Aws(e)) => Err(e.into()),
                Err(ApplyError::Stale(why)) => Err(stale(&plan, &why)),
            }
        })
        .await?;
    let mut done = applied(&target, &plan, "deployed", outcome.stack_status);
    done.outputs = report::outputs(&outcome.outputs);
    done.removed_deployments = outcome.removed_deployments;
    done.termination_protection = outcome.termination_protection;
    Ok(done)
}

/// The checkout packages to the planned template and zips; else the files that differ.
fn same_source(plan: &PlanFile, built: &Deployable) -> anyhow::Result<()> {
    let text = serde_json::to_string(built.update.as_ref())?.replace(
        &format!("{}/", built.directory),
        &format!("{}/", plan.artifact_directory),
    );
    let mut differ = Vec::new();
    if deployer_aws::change_set::sha256_base64(text.as_bytes()) != plan.template.sha256 {
        differ.push(format!("{} (the compiled template)", plan.template.name));
    }
    for a in &plan.artifacts {
        match built.artifacts.iter().find(|b| b.name == a.name) {
            Some(b) if b.sha256_base64 == a.sha256 => {}
            Some(_) => differ.push(a.name.clone()),
            None => differ.push(format!("{} (no longer packaged)", a.name)),
        }
    }
    for b in &built.artifacts {
        if !plan.artifacts.iter().any(|a| a.name == b.name) {
            differ.push(format!("{} (not in the plan)", b.name));
        }
    }
    if differ.is_empty() {
        return Ok(());
    }
    Err(OpError::error(
        OpErrorKind::Plan,
        format!(
            "the checkout no longer packages to what the plan reviewed: {} differ; nothing was \
             changed. Plan again and have that reviewed (or --skip-source-check where the source \
             is not here); a file written into the service directory since the plan (a plan \
             file too) is packaged: keep plan files outside it",
            differ.join(", ")
        ),
    ))
}

/// The flow's request: the plan's change set, bucket and uploads on the stage's stack.
fn request(
    target: &Target,
    plan: &PlanFile,
    change_set_id: String,
    options: &ApplyOptions,
) -> ApplyRequest {
    let service = &target.service;
    let session = &target.stage.session;
    let prefix = stage_prefix(
        stack::deployment_prefix(service),
        &service.service,
        &target.name,
    );
    let mut waits = Waits::default();
    if let Some(t) = options.timeout {
        waits.operation = t;
    }
    ApplyRequest {
        params: stack_params(service, target.stack.clone(), &target.name, &session.region),
        stack_id: plan.stack_id.clone(),
        stack_status: plan.stack_status.clone(),
        stack_changed_ms: plan.stack_last_updated,
        stack_template_sha256: plan.stack_template_sha256.clone(),
        change_set_id,
        bucket: plan.bucket.clone(),
        objects: std::iter::once(plan.template.clone())
            .chain(plan.artifacts.iter().cloned())
            .collect(),
        directory: plan.artifact_directory.clone(),
        stage_prefix: prefix.clone(),
        max_previous_deployments: keep(service),
        waits,
        lock: deployer_aws::flow::LockRequest {
            bucket: plan.bucket.clone(),
            stage_prefix: prefix,
            service: service.service.clone(),
            stage: target.name.clone(),
            options: LockOptions {
                force_unlock: options.force_unlock,
                ..LockOptions::from_env()
            },
        },
        protect: target.stage.source.stage.protection.is_some(),
    }
}

fn stale(plan: &PlanFile, why: &str) -> anyhow::Error {
    OpError::error(
        OpErrorKind::Plan,
        format!(
            "the plan for stage {} cannot be executed as reviewed: {why}; nothing was changed. \
             Plan again (`deployer plan --stage {} --out FILE`) and have that reviewed",
            plan.stage, plan.stage
        ),
    )
}

fn applied(
    target: &Target,
    plan: &PlanFile,
    status: &'static str,
    stack_status: String,
) -> Applied {
    let session = &target.stage.session;
    Applied {
        status,
        service: target.service.service.clone(),
        stage: target.name.clone(),
        stack: target.stack.clone(),
        stack_id: plan.stack_id.clone(),
        change_set_id: plan.change_set_id.clone(),
        stack_status,
        account: session.identity.account.clone(),
        region: session.region.clone(),
        outputs: IndexMap::new(),
        removed_deployments: 0,
        termination_protection: false,
        aws_calls: target.stage.calls(),
    }
}
