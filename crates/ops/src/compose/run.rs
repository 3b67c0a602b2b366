//! `up`, `diff` and `remove` of a compose project: every account proven first, then the
//! services in waves (`remove`: in reverse), each as its single-service command runs it.

use std::cell::RefCell;

use deployer_aws::deploy::DeployStatus;
use deployer_config::compose::graph;
use indexmap::IndexMap;

use super::outputs::{Missing, Outputs, read_deployed};
use super::runner::{self, Status, Unit, bounded};
use super::{ComposeOptions, ComposeResult, Named, Project, UpSettings, guard, stage_options};
use crate::commands::deploy::{DeployOptions, DeployReport, deploy};
use crate::commands::diff::{DiffOptions, diff};
use crate::commands::remove::{Confirmation, Removal, RemoveOptions, remove};
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;

type Job<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Unit> + 'a>>;

/// Deploys the selected services in waves; a producer's outputs go to its consumers.
pub async fn compose_up(
    opts: &ComposeOptions,
    settings: &UpSettings,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let project = Project::read(opts)?;
    let needed = project.with_producers();
    guard::every_account(&project, &needed, opts, observer).await?;
    let outputs = Outputs::default();
    let unselected: Vec<String> = needed
        .iter()
        .filter(|n| !project.selected.contains(n))
        .cloned()
        .collect();
    read_deployed(&project, &unselected, opts, observer, &outputs).await;
    let deps = project.compose.dependencies();
    let waves = graph::only(&project.compose.waves, &project.selected);
    let blocked = |s: &str| graph::dependents(&deps, s);
    let units = runner::waves(&waves, opts.max_concurrency, &blocked, |name| -> Job<'_> {
        Box::pin(up_one(&project, name, opts, settings, &outputs, observer))
    })
    .await;
    Ok(ComposeResult::new("up", &project, units))
}

async fn up_one(
    project: &Project,
    name: String,
    opts: &ComposeOptions,
    settings: &UpSettings,
    outputs: &Outputs,
    observer: &dyn Observer,
) -> Unit {
    let params = match outputs.params(project, &name, &Missing::Fail) {
        Ok(p) => p,
        Err(e) => return Unit::failed(&name, e),
    };
    let options = DeployOptions {
        stage: stage_options(project, &name, params, opts),
        force: settings.force,
        package_dir: None,
        timeout: settings.timeout,
        force_unlock: settings.force_unlock,
        approve_broadening: settings.approve_broadening,
    };
    let named = Named::new(observer, &name);
    match deploy(&options, &named).await {
        Ok(DeployReport::Done(d)) => {
            outputs.set(&name, d.outputs.clone());
            let status = match d.status {
                DeployStatus::Unchanged => Status::Unchanged,
                DeployStatus::Deployed => Status::Deployed,
            };
            Unit::done(&name, status, &*d)
        }
        Ok(DeployReport::Failed(f)) => {
            let result = serde_json::to_value(&*f).ok();
            let mut unit = Unit::failed(&name, f.into_error());
            unit.result = result;
            unit
        }
        Err(e) => Unit::failed(&name, e),
    }
}

/// What each selected service's deploy would change, all at once. The outputs a consumer
/// gets are the producers' deployed ones; a consumer of a producer with changes says so.
pub async fn compose_diff(
    opts: &ComposeOptions,
    drift: bool,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let (project, outputs) = proven_with_deployed(opts, observer).await?;
    let notes = RefCell::new(Vec::new());
    let jobs: Vec<Job<'_>> = project
        .selected
        .iter()
        .map(|name| -> Job<'_> {
            let (project, outputs, notes) = (&project, &outputs, &notes);
            runner::timed(Box::pin(async move {
                let params = match outputs.params(project, name, &Missing::Placeholder(notes)) {
                    Ok(p) => p,
                    Err(e) => return Unit::failed(name, e),
                };
                let options = DiffOptions {
                    stage: stage_options(project, name, params, opts),
                    package_dir: None,
                    drift,
                };
                Unit::finished(name, diff(&options, &Named::new(observer, name)).await)
            }))
        })
        .collect();
    let units = bounded(jobs, opts.max_concurrency).await;
    let mut notes = notes.into_inner();
    notes.extend(changing_inputs(&project, &units));
    let mut result = ComposeResult::new("diff", &project, units);
    result.notes = notes;
    Ok(result)
}

/// The project once every account it needs is proven, with the producers' deployed outputs:
/// where `diff` and `remove` start (they change no producer before reading it).
async fn proven_with_deployed(
    opts: &ComposeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<(Project, Outputs)> {
    let project = Project::read(opts)?;
    guard::every_account(&project, &project.with_producers(), opts, observer).await?;
    let outputs = Outputs::default();
    read_deployed(&project, &project.producers(), opts, observer, &outputs).await;
    Ok((project, outputs))
}

/// A note for each consumer whose producer's diff has changes.
fn changing_inputs(project: &Project, units: &[Unit]) -> Vec<String> {
    let changes: IndexMap<&str, bool> = units
        .iter()
        .map(|u| {
            let changed = u
                .result
                .as_ref()
                .and_then(|r| r.get("changes"))
                .and_then(|c| c.as_array())
                .is_some_and(|c| !c.is_empty());
            (u.service.as_str(), changed)
        })
        .collect();
    let mut notes = Vec::new();
    for name in &project.selected {
        for (key, r) in project.member(name).references() {
            if changes.get(r.service.as_str()) == Some(&true) {
                notes.push(format!(
                    "{name}: params.{key} reads {r}, and {} has changes: the value may change \
                     when it is deployed",
                    r.service
                ));
            }
        }
    }
    notes
}

/// Removes the selected services in reverse waves: consumers before their producers. A
/// consumer that fails keeps its producers.
pub async fn compose_remove(
    opts: &ComposeOptions,
    confirmation: &Confirmation<'_>,
    observer: &dyn Observer,
) -> anyhow::Result<ComposeResult> {
    let (project, outputs) = proven_with_deployed(opts, observer).await?;
    let deps = project.compose.dependencies();
    let mut reversed: IndexMap<String, Vec<String>> = IndexMap::new();
    for (name, on) in &deps {
        reversed.entry(name.clone()).or_default();
        for d in on {
            reversed.entry(d.clone()).or_default().push(name.clone());
        }
    }
    let mut waves = graph::only(&project.compose.waves, &project.selected);
    waves.reverse();
    let blocked = |s: &str| graph::dependents(&reversed, s);
    let notes = RefCell::new(Vec::new());
    // A question on the terminal is asked for one service at a time.
    let max = match confirmation {
        Confirmation::Ask(_) => 1,
        _ => opts.max_concurrency,
    };
    let units = runner::waves(&waves, max, &blocked, |name| -> Job<'_> {
        let (project, outputs, notes) = (&project, &outputs, &notes);
        Box::pin(async move {
            let params = match outputs.params(project, &name, &Missing::Placeholder(notes)) {
                Ok(p) => p,
                Err(e) => return Unit::failed(&name, e),
            };
            let options = RemoveOptions {
                stage: stage_options(project, &name, params, opts),
                confirmation: same(confirmation),
            };
            match remove(&options, &Named::new(observer, &name)).await {
                Ok(Removal::Removed(r)) => Unit::done(&name, Status::Removed, &*r),
                Ok(Removal::Declined) => Unit::failed(
                    &name,
                    OpError::error(
                        OpErrorKind::Declined,
                        format!("the removal of {name} was declined; it was not removed"),
                    ),
                ),
                Err(e) => Unit::failed(&name, e),
            }
        })
    })
    .await;
    let mut result = ComposeResult::new("remove", &project, units);
    result.waves.reverse();
    result.notes = notes.into_inner();
    Ok(result)
}

fn same<'a>(c: &Confirmation<'a>) -> Confirmation<'a> {
    match c {
        Confirmation::Given => Confirmation::Given,
        Confirmation::Ask(f) => Confirmation::Ask(*f),
        Confirmation::Unavailable => Confirmation::Unavailable,
    }
}
