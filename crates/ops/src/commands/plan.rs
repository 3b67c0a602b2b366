//! `diff --out FILE` (alias `plan`): a saved plan, reviewed then executed exactly by
//! `up --plan FILE` (`commands/apply.rs`): the change set is kept, the template and zips are
//! uploaded under the stage's deployment prefix and the file records where the stack stood,
//! the change set and the SHA-256 of everything it executes. `plan --discard FILE` deletes the
//! kept change set.

use std::path::{Path, PathBuf};

use deployer_aws::flow::apply::millis;
use deployer_aws::flow::broadening::Broadening;
use deployer_aws::flow::plan::PlannedObject;
use deployer_aws::stack::Change;
use serde::{Deserialize, Serialize};

use crate::calls::AwsCalls;
use crate::commands::drift::{DriftSection, detect};
use crate::defaults::PLAN_FORMAT;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::{Action, Observer};
use crate::pipeline;
use crate::pipeline::stage::{self, Guard, StageOptions};

/// The plan file (`--json` prints the same object).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanFile {
    /// The layout's version; another one is refused.
    pub format_version: u32,
    /// The deployer version that wrote it.
    pub deployer_version: String,
    /// `service:`.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Region.
    pub region: String,
    /// The account STS proved when planning; `up --plan` holds the credentials to it.
    pub account: String,
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// The stack's status when planned.
    pub stack_status: String,
    /// Its last change when planned, milliseconds since the epoch.
    pub stack_last_updated: Option<u64>,
    /// SHA-256 (base64) of the template the stack ran when planned.
    pub stack_template_sha256: String,
    /// The kept change set (`None`: nothing to change).
    pub change_set_id: Option<String>,
    /// Its name.
    pub change_set_name: Option<String>,
    /// The deployment bucket.
    pub bucket: String,
    /// The deployment directory the plan uploaded to.
    pub artifact_directory: String,
    /// The uploaded template and its SHA-256.
    pub template: PlannedObject,
    /// The uploaded zips and their SHA-256.
    pub artifacts: Vec<PlannedObject>,
    /// The changes, as `diff` prints them.
    pub changes: Vec<Change>,
    /// The changes that broaden access.
    pub broadening: Vec<Broadening>,
    /// True when there is nothing to change (`up --plan` is then a no-op).
    pub no_changes: bool,
    /// Why there are (or are no) changes.
    pub reason: String,
    /// With `--drift`: whether (and how) the stack had drifted when planned; `up --plan` on a
    /// protected stage refuses a drifted one without `--accept-drift`.
    #[serde(default)]
    pub drift: Option<DriftSection>,
    /// When it was planned, milliseconds since the epoch.
    pub planned_at: u64,
    /// AWS calls made by the planning run (not part of what is executed).
    #[serde(default, skip_deserializing)]
    pub aws_calls: Option<AwsCalls>,
}

impl PlanFile {
    /// Reads and checks a plan file.
    pub(crate) fn read(path: &Path) -> anyhow::Result<PlanFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            OpError::error(
                OpErrorKind::Plan,
                format!(
                    "cannot read plan file {}: {e}; save one with `deployer plan --stage STAGE \
                     --out {}` first",
                    path.display(),
                    path.display()
                ),
            )
        })?;
        let plan: PlanFile = serde_json::from_str(&text).map_err(|e| {
            OpError::error(
                OpErrorKind::Plan,
                format!(
                    "plan file {} is not a deployer plan ({e}); pass the file `deployer plan \
                     --out FILE` wrote",
                    path.display()
                ),
            )
        })?;
        if plan.format_version != PLAN_FORMAT {
            return Err(OpError::error(
                OpErrorKind::Plan,
                format!(
                    "plan file {} has format version {} (this deployer reads {PLAN_FORMAT}); plan again",
                    path.display(),
                    plan.format_version
                ),
            ));
        }
        Ok(plan)
    }
}

/// What to plan.
#[derive(Debug, Default)]
pub struct PlanOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// Plan this package directory instead of packaging now.
    pub package_dir: Option<PathBuf>,
    /// Where to write the plan (relative to the working directory).
    pub out: PathBuf,
    /// `--drift`: record drift detection's findings in the plan.
    pub drift: bool,
}

/// Packages, plans on the stage's stack (the change set is kept), writes the plan file.
pub async fn plan(options: &PlanOptions, observer: &dyn Observer) -> anyhow::Result<PlanFile> {
    let prepared = pipeline::prepare(
        &options.stage,
        options.package_dir.as_deref(),
        Action::Diff,
        observer,
    )
    .await?;
    let req = prepared.request(false);
    let stage = &prepared.stage;
    let planned = stage
        .run(async { Ok(deployer_aws::flow::plan::plan(&stage.clients, &req, observer).await?) })
        .await?;
    let session = &stage.session;
    let drift = match options.drift {
        true => Some(detect(stage, &prepared.built.service, &planned.stack.name).await?),
        false => None,
    };
    let file = PlanFile {
        format_version: PLAN_FORMAT,
        deployer_version: env!("CARGO_PKG_VERSION").to_string(),
        service: prepared.built.service.service.clone(),
        stage: session.stage.clone(),
        region: session.region.clone(),
        account: session.identity.account.clone(),
        stack: planned.stack.name.clone(),
        stack_id: planned.stack.id.clone(),
        stack_status: planned.stack.status.clone(),
        stack_last_updated: planned.stack.last_changed().map(millis),
        stack_template_sha256: planned.stack_template_sha256,
        no_changes: planned.change_set_id.is_none(),
        change_set_name: planned
            .change_set_id
            .as_ref()
            .map(|_| planned.change_set_name.clone()),
        change_set_id: planned.change_set_id,
        bucket: planned.bucket,
        artifact_directory: req.artifact_directory.clone(),
        template: planned.template,
        artifacts: planned.artifacts,
        changes: planned.changes,
        broadening: planned.broadening,
        reason: planned.reason,
        drift,
        planned_at: millis(std::time::SystemTime::now()),
        aws_calls: Some(stage.calls()),
    };
    write(&options.stage.service.cwd.join(&options.out), &file)?;
    Ok(file)
}

/// Writes the plan file (without the planning run's call counts).
fn write(path: &Path, plan: &PlanFile) -> anyhow::Result<()> {
    let mut stored = plan.clone();
    stored.aws_calls = None;
    let text = serde_json::to_string_pretty(&stored)?;
    std::fs::write(path, text + "\n").map_err(|e| {
        OpError::error(
            OpErrorKind::Plan,
            format!("writing plan file {}: {e}", path.display()),
        )
    })
}

/// The credentials' account held to the plan's (an account-guard refusal otherwise).
pub(crate) fn hold_to_plan(stage: &mut StageOptions, plan: &PlanFile) -> anyhow::Result<()> {
    match &stage.credentials.expect_account {
        Some(other) if *other != plan.account => Err(OpError::error(
            OpErrorKind::Plan,
            format!(
                "--expect-account {other} contradicts the plan, made in account {}",
                plan.account
            ),
        )),
        _ => {
            stage.credentials.expect_account = Some(plan.account.clone());
            Ok(())
        }
    }
}

/// What to discard.
#[derive(Debug, Default)]
pub struct DiscardOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// The plan file.
    pub plan: PathBuf,
}

/// The result of `plan --discard`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discarded {
    /// `discarded`, or `nothing` when the plan kept no change set.
    pub status: &'static str,
    /// Stack name.
    pub stack: String,
    /// The change set deleted.
    pub change_set_id: Option<String>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// Deletes the change set a plan kept (guarded, in the plan's account).
pub async fn discard_plan(
    mut options: DiscardOptions,
    observer: &dyn Observer,
) -> anyhow::Result<Discarded> {
    let plan = PlanFile::read(&options.stage.service.cwd.join(&options.plan))?;
    hold_to_plan(&mut options.stage, &plan)?;
    let stage = stage::open(&options.stage, Guard::Enforce, observer).await?;
    same_stage(&plan, &stage.source.stage.stage, &stage.source.stage.region)?;
    let mut status = "nothing";
    if let Some(id) = &plan.change_set_id {
        let cfn = &stage.clients.cfn;
        stage
            .run(async { Ok(deployer_aws::flow::plan::discard(cfn, &plan.stack_id, id).await?) })
            .await?;
        status = "discarded";
    }
    Ok(Discarded {
        status,
        stack: plan.stack.clone(),
        change_set_id: plan.change_set_id.clone(),
        aws_calls: stage.calls(),
    })
}

/// Refuses a plan made for another stage or region.
pub(crate) fn same_stage(plan: &PlanFile, stage: &str, region: &str) -> anyhow::Result<()> {
    if plan.stage == stage && plan.region == region {
        return Ok(());
    }
    Err(OpError::error(
        OpErrorKind::Plan,
        format!(
            "the plan is for stage {} in {}, this run is for stage {stage} in {region}; nothing \
             was changed: pass --stage {} (and --region {}) or plan this stage",
            plan.stage, plan.region, plan.stage, plan.region
        ),
    ))
}
