//! The compose commands that write no stack: `package`, `print`, `info`, `whoami`,
//! `verify`, `deploy list`, `graph`; and the options of one service for the commands that act
//! on one function (`invoke`, `logs`, `deploy function`).

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::Serialize;

use super::outputs::{Missing, Outputs, read_deployed};
use super::runner::{Unit, bounded, timed};
use super::{ComposeOptions, ComposeResult, Named, Project, guard, stage_options};
use crate::commands::deployments::deploy_list;
use crate::commands::identity::{verify, whoami};
use crate::commands::info::info;
use crate::commands::package::{PackageOptions, package};
use crate::commands::print::{PrintOptions, print};
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::stage::StageOptions;

type Job<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Unit> + 'a>>;

/// The producers' outputs for `package` and `print`: read from their stacks unless
/// `offline`; what cannot be read becomes a placeholder with a note.
async fn offline_outputs(
    project: &Project,
    opts: &ComposeOptions,
    offline: bool,
    observer: &dyn Observer,
) -> Outputs {
    let outputs = Outputs::default();
    let producers = project.producers();
    if offline {
        for p in &producers {
            outputs.unavailable(p, "not read: --offline opens no credentials".into());
        }
    } else {
        read_deployed(project, &producers, opts, observer, &outputs).await;
    }
    outputs
}

/// Runs `each` for every selected service, `--max-concurrency` at once, with its params
/// (placeholders for outputs that cannot be read, one note each).
async fn per_service<'a, F>(
    command: &'static str,
    project: &'a Project,
    opts: &'a ComposeOptions,
    outputs: &'a Outputs,
    each: F,
) -> ComposeResult
where
    F: Fn(String, StageOptions) -> Job<'a>,
{
    let notes = RefCell::new(Vec::new());
    let jobs: Vec<Job<'a>> = project
        .selected
        .iter()
        .map(
            |name| match outputs.params(project, name, &Missing::Placeholder(&notes)) {
                Ok(params) => timed(each(
                    name.clone(),
                    stage_options(project, name, params, opts),
                )),
                Err(e) => {
                    let unit = Unit::failed(name, e);
                    Box::pin(async move { unit }) as Job<'a>
                }
            },
        )
        .collect();
    let units = bounded(jobs, opts.max_concurrency).await;
    let mut result = ComposeResult::new(command, project, units);
    result.notes = notes.into_inner();
    result
}

/// `package` of every selected service, each into its own `.serverless/`.
pub async fn compose_package(
    opts: &ComposeOptions,
    offline: bool,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let project = Project::read(opts)?;
    let outputs = offline_outputs(&project, opts, offline, observer).await;
    let now = SystemTime::now();
    Ok(
        per_service("package", &project, opts, &outputs, |name, stage| {
            Box::pin(async move {
                let options = PackageOptions {
                    stage,
                    out_dir: None,
                    now,
                    offline,
                };
                Unit::finished(&name, package(&options, &Named::new(observer, &name)).await)
            })
        })
        .await,
    )
}

/// `print` of every selected service.
pub async fn compose_print(
    opts: &ComposeOptions,
    path: Option<String>,
    offline: bool,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let project = Project::read(opts)?;
    let outputs = offline_outputs(&project, opts, offline, observer).await;
    let path = &path;
    Ok(
        per_service("print", &project, opts, &outputs, |name, stage| {
            Box::pin(async move {
                let options = PrintOptions {
                    stage,
                    path: path.clone(),
                    offline,
                };
                Unit::finished(&name, print(&options, &Named::new(observer, &name)).await)
            })
        })
        .await,
    )
}

/// `info` of every selected service.
pub async fn compose_info(
    opts: &ComposeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let project = Project::read(opts)?;
    let outputs = offline_outputs(&project, opts, false, observer).await;
    Ok(
        per_service("info", &project, opts, &outputs, |name, stage| {
            Box::pin(async move {
                Unit::finished(&name, info(&stage, &Named::new(observer, &name)).await)
            })
        })
        .await,
    )
}

/// `deploy list` of every selected service.
pub async fn compose_deploy_list(
    opts: &ComposeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let project = Project::read(opts)?;
    let outputs = offline_outputs(&project, opts, false, observer).await;
    Ok(
        per_service("deploy list", &project, opts, &outputs, |name, stage| {
            Box::pin(async move {
                Unit::finished(
                    &name,
                    deploy_list(&stage, &Named::new(observer, &name)).await,
                )
            })
        })
        .await,
    )
}

/// `whoami` of every selected service (a refused account is reported, not an error).
pub async fn compose_whoami(
    opts: &ComposeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let project = Project::read(opts)?;
    let outputs = Outputs::default();
    offline_outputs_none(&project, &outputs);
    let mut result = per_service("whoami", &project, opts, &outputs, |name, stage| {
        Box::pin(async move {
            Unit::finished(&name, whoami(&stage, &Named::new(observer, &name)).await)
        })
    })
    .await;
    result.notes.clear();
    Ok(result)
}

/// `verify` of every selected service: `Err` naming each service whose account is refused
/// or cannot be proven (exit 3 when one is refused).
pub async fn compose_verify(
    opts: &ComposeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let project = Project::read(opts)?;
    let outputs = Outputs::default();
    offline_outputs_none(&project, &outputs);
    let mut result = per_service("verify", &project, opts, &outputs, |name, stage| {
        Box::pin(async move {
            Unit::finished(&name, verify(&stage, &Named::new(observer, &name)).await)
        })
    })
    .await;
    let failed: Vec<(String, anyhow::Error)> = result
        .services
        .iter_mut()
        .filter_map(|u| u.cause.take().map(|c| (u.service.clone(), c)))
        .collect();
    if failed.is_empty() {
        return Ok(result);
    }
    Err(guard::refusal(&project, failed))
}

/// The outputs of whoami/verify: never needed (the credentials do not depend on them), so
/// every reference is a placeholder and no note is kept.
fn offline_outputs_none(project: &Project, outputs: &Outputs) {
    for p in project.producers() {
        outputs.unavailable(&p, "not needed".into());
    }
}

/// One service of `graph`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// The service's key in the compose file.
    pub service: String,
    /// Its folder, relative to the compose file.
    pub path: String,
    /// Its wave (0 first).
    pub wave: usize,
    /// Its stack.
    pub stack: String,
    /// Its region.
    pub region: String,
    /// The account it is pinned to (allowedAccountIds, else deployer.accounts.json).
    pub account: Option<String>,
    /// `provider.profile`.
    pub profile: Option<String>,
    /// The services it depends on.
    pub depends_on: Vec<String>,
}

/// `graph`: the waves, and the same services flat (`include`) for a CI matrix.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphResult {
    /// The stage.
    pub stage: String,
    /// The compose file.
    pub file: String,
    /// The services by wave.
    pub waves: Vec<Vec<GraphNode>>,
    /// Every service with its wave: `strategy.matrix.include` of a CI job.
    pub include: Vec<GraphNode>,
}

/// The dependency graph of the selected services (offline: no credentials opened).
pub fn graph(opts: &ComposeOptions) -> anyhow::Result<GraphResult> {
    let project = Project::read(opts)?;
    let waves = deployer_config::compose::graph::only(&project.compose.waves, &project.selected);
    let node = |wave: usize, name: &String| {
        let m = project.member(name);
        let f = &project.facts[name];
        GraphNode {
            service: name.clone(),
            path: m.path.clone(),
            wave,
            stack: f.stack.clone(),
            region: f.region.clone(),
            account: f.account.clone(),
            profile: f.profile.clone(),
            depends_on: m.depends_on.clone(),
        }
    };
    let by_wave = |i: usize, w: &Vec<String>| w.iter().map(|n| node(i, n)).collect::<Vec<_>>();
    Ok(GraphResult {
        stage: project.compose.stage.clone(),
        file: project.compose.file.display().to_string(),
        waves: waves
            .iter()
            .enumerate()
            .map(|(i, w)| by_wave(i, w))
            .collect(),
        include: waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| by_wave(i, w))
            .collect(),
    })
}

/// One service's folder, configuration, region and params (its producers' outputs read
/// from their stacks; placeholders, each with a warning, for those that cannot be read), for
/// a command that acts on one function of it.
#[derive(Debug)]
pub struct ServiceArgs {
    /// The service folder (the command's working directory).
    pub dir: PathBuf,
    /// `config:`, relative to `dir`.
    pub config: Option<PathBuf>,
    /// `region:`.
    pub region: Option<String>,
    /// The stage.
    pub stage: String,
    /// `key=value` params.
    pub params: Vec<String>,
}

/// The [`ServiceArgs`] of the one service `opts.services` names.
pub async fn service_options(
    opts: &ComposeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<ServiceArgs> {
    let project = Project::read(opts)?;
    let [name] = project.selected.as_slice() else {
        let known = project.compose.services.keys().cloned().collect::<Vec<_>>();
        return Err(OpError::error(
            OpErrorKind::Input,
            format!(
                "at a compose root this command acts on one service: name it with --service \
                 (one of {})",
                known.join(", ")
            ),
        ));
    };
    let outputs = Outputs::default();
    let producers: Vec<String> = project
        .member(name)
        .references()
        .map(|(_, r)| r.service.clone())
        .collect();
    read_deployed(&project, &producers, opts, observer, &outputs).await;
    let notes = RefCell::new(Vec::new());
    let params = outputs.params(&project, name, &Missing::Placeholder(&notes))?;
    for note in notes.into_inner() {
        observer.warning(&note);
    }
    let m = project.member(name);
    Ok(ServiceArgs {
        dir: m.dir.clone(),
        config: m.config.as_ref().map(PathBuf::from),
        region: m.region.clone(),
        stage: project.compose.stage.clone(),
        params,
    })
}
