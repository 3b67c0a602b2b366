//! Every account before the first write: each service's stage is opened with its own
//! credentials (its profile, its pins, `--aws-profile` for all when given) and judged by the
//! guard. One refusal, or one stage that cannot be opened, and nothing runs anywhere.

use deployer_aws::GuardRefusal;

use super::runner::bounded;
use super::{ComposeOptions, Named, Project, stage_options, static_params};
use crate::observer::Observer;
use crate::pipeline::stage::{self, Guard};

/// Opens the stage of each of `names` and runs its guard; `Err` lists every service that
/// failed. The error keeps the first refusal's type (exit 3) when there is one.
pub(crate) async fn every_account(
    project: &Project,
    names: &[String],
    opts: &ComposeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<()> {
    let jobs = names
        .iter()
        .map(|name| {
            let params = static_params(project, name);
            let options = stage_options(project, name, params, opts);
            Box::pin(async move {
                let named = Named::new(observer, name);
                let opened = stage::open(&options, Guard::Enforce, &named).await;
                (name.clone(), opened.map(|_| ()))
            })
                as std::pin::Pin<
                    Box<dyn std::future::Future<Output = (String, anyhow::Result<()>)>>,
                >
        })
        .collect();
    let results = bounded(jobs, opts.max_concurrency.max(1)).await;
    let failed: Vec<(String, anyhow::Error)> = results
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|e| (name, e)))
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(refusal(project, failed))
}

/// One error naming every failing service, carrying the first refusal (or failure) as its
/// cause so that its kind and exit code decide.
pub(crate) fn refusal(project: &Project, failed: Vec<(String, anyhow::Error)>) -> anyhow::Error {
    let lines: Vec<String> = failed
        .iter()
        .map(|(name, e)| {
            let stack = project.facts.get(name).map(|f| f.stack.as_str());
            format!("  - {name} ({}): {e}", stack.unwrap_or("?"))
        })
        .collect();
    let headline = format!(
        "Nothing was written: {} of the services of stage {} cannot act on their account\n{}",
        failed.len(),
        project.compose.stage,
        lines.join("\n")
    );
    let first_refusal = failed
        .iter()
        .position(|(_, e)| e.downcast_ref::<GuardRefusal>().is_some());
    match failed.into_iter().nth(first_refusal.unwrap_or(0)) {
        Some((_, cause)) => cause.context(headline),
        None => anyhow::anyhow!(headline),
    }
}
