//! `diff`: open the stage (guard first), package now or read a package directory, and
//! compare with the deployed stack through a temporary change set.

use std::path::PathBuf;

use deployer_aws::flow::broadening::Broadening;
use deployer_aws::stack::Change;
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::commands::drift::{DriftSection, detect};
use crate::observer::{Action, Observer};
use crate::pipeline;
use crate::pipeline::stage::StageOptions;

/// What to compare with the deployed stack.
#[derive(Debug, Default)]
pub struct DiffOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// Compare this package directory instead of packaging now.
    pub package_dir: Option<PathBuf>,
    /// `--drift`: also run drift detection on the stack.
    pub drift: bool,
}

/// What a deploy would change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diffed {
    /// Stack name.
    pub stack: String,
    /// Whether the stack exists.
    pub stack_exists: bool,
    /// The account compared.
    pub account: String,
    /// Region.
    pub region: String,
    /// The changes, from a temporary change set.
    pub changes: Vec<Change>,
    /// The changes that broaden access, in their own list (a protected stage deploys them
    /// only with `--approve-broadening`).
    pub broadening: Vec<Broadening>,
    /// Why there are (or are no) changes.
    pub reason: String,
    /// Clean-up that failed (a temporary change set or template left), each naming what was
    /// left and how to delete it; also reported as warnings.
    pub warnings: Vec<String>,
    /// With `--drift`: what drifted on the stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftSection>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// Packages (or reads `package_dir`) and compares with the deployed stack through a temporary
/// change set, deleted afterwards.
pub async fn diff(options: &DiffOptions, observer: &dyn Observer) -> anyhow::Result<Diffed> {
    let prepared = pipeline::prepare(
        &options.stage,
        options.package_dir.as_deref(),
        Action::Diff,
        observer,
    )
    .await?;
    let req = prepared.request(false);
    let stage = &prepared.stage;
    let diff = stage
        .run(async { Ok(deployer_aws::deploy::diff(&stage.clients, &req, observer).await?) })
        .await?;
    for warning in &diff.warnings {
        observer.warning(warning);
    }
    let drift = match options.drift && diff.stack_exists {
        true => Some(detect(stage, &prepared.built.service, &diff.stack).await?),
        false => None,
    };
    Ok(Diffed {
        stack: diff.stack,
        stack_exists: diff.stack_exists,
        account: stage.session.identity.account.clone(),
        region: stage.session.region.clone(),
        changes: diff.changes,
        broadening: diff.broadening,
        reason: diff.reason,
        warnings: diff.warnings,
        drift,
        aws_calls: stage.calls(),
    })
}
