//! `deploy`: open the stage (guard first), package now or read a package directory, and
//! create or update the stack.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::cell::RefCell;

use anyhow::Context as _;

use deployer_aws::deploy::{DeployHooks, DeployStatus};
use deployer_aws::error::AwsError;
use deployer_host::Section;
use deployer_template::plugins::PluginTreatment;
use indexmap::IndexMap;
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::observer::{Action, Observer};
use crate::pipeline::builds::BuildsSummary;
use crate::pipeline::hooks::PluginHost;
use crate::pipeline::plugins::{self, Pruned};
use crate::pipeline::report::{self, Names};
use crate::pipeline::stage::{Stage, StageOptions};
use crate::pipeline::{self, Prepared, approval};

/// What to deploy.
#[derive(Debug, Default)]
pub struct DeployOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// Deploy even when nothing changed.
    pub force: bool,
    /// Deploy this package directory instead of packaging now.
    pub package_dir: Option<PathBuf>,
    /// Longest wait for the stack operation to finish (default: the aws crate's).
    pub timeout: Option<Duration>,
    /// Remove a deploy lock left by a killed run of this stage first.
    pub force_unlock: bool,
    /// `--approve-broadening`: a protected stage deploys changes that broaden access only so.
    pub approve_broadening: bool,
}

/// The result of a deploy that reached the stack: done, or failed there.
#[derive(Debug)]
pub enum DeployReport {
    /// The stack is deployed (or was already up to date).
    Done(Box<Deployed>),
    /// The stack operation failed.
    Failed(Box<DeployFailed>),
}

/// A finished deploy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployed {
    /// Deployed or unchanged.
    pub status: DeployStatus,
    /// Why.
    pub reason: String,
    /// `service:` name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// Final stack status.
    pub stack_status: String,
    /// The account deployed to.
    pub account: String,
    /// Region.
    pub region: String,
    /// Deployment bucket.
    pub bucket: String,
    /// The deployment directory used.
    pub directory: Option<String>,
    /// Keys uploaded in this run.
    pub uploaded: Vec<String>,
    /// Files not uploaded because identical bytes were already there.
    pub skipped_uploads: usize,
    /// Old deployment directories removed.
    pub removed_deployments: usize,
    /// Stack outputs.
    pub outputs: IndexMap<String, String>,
    /// `METHOD - URL` of each API route.
    pub endpoints: Vec<String>,
    /// Function key → deployed name.
    pub functions: IndexMap<String, String>,
    /// Milliseconds per phase, in order, then `total`.
    pub timings: IndexMap<String, u64>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
    /// Each declared plugin with its treatment.
    pub plugins: Vec<PluginTreatment>,
    /// What serverless-prune-plugin deleted (`None` when it is not declared or not automatic).
    pub pruned: Option<Pruned>,
    /// What the build step did (absent when a package directory was deployed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builds: Option<BuildsSummary>,
    /// The account lock file, when this deploy recorded the stage's account in it (the first
    /// deploy of a stage nothing pins).
    pub account_recorded: Option<String>,
    /// Sections plugins run by the plugin host added to the summary.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    /// True when termination protection was turned on after the deploy (a protected stage).
    pub termination_protection: bool,
    /// Wall-clock time of the whole deploy.
    #[serde(skip)]
    pub elapsed: Duration,
}

/// A deploy whose stack operation failed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployFailed {
    /// Always `failed`.
    pub status: &'static str,
    /// Stack name.
    pub stack: String,
    /// The account deployed to.
    pub account: String,
    /// Region.
    pub region: String,
    /// Stage.
    pub stage: String,
    /// What failed.
    pub error: String,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
    /// The failure.
    #[serde(skip)]
    pub cause: deployer_aws::error::AwsError,
    /// Wall-clock time until the failure.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl DeployFailed {
    /// The failure as an error naming the stack and the time it took.
    pub fn into_error(self) -> anyhow::Error {
        let context = format!(
            "Stack {} failed to deploy ({:.1}s)",
            self.stack,
            self.elapsed.as_secs_f32()
        );
        anyhow::Error::new(self.cause).context(context)
    }
}

/// The refusal of a credential refresh during the deploy, as its cause: it wins over whatever
/// the flow made of the request it stopped.
fn refused_refresh(stage: &Stage, stack: &str) -> Option<AwsError> {
    let refusal = stage.session.refresh_refusal()?;
    Some(AwsError::Refused {
        action: format!("the deploy of stack \"{stack}\""),
        refusal: Box::new(refusal.clone()),
    })
}

/// Packages (or reads `package_dir`) and deploys the stage.
pub async fn deploy(
    options: &DeployOptions,
    observer: &dyn Observer,
) -> anyhow::Result<DeployReport> {
    let started = Instant::now();
    let prepared = pipeline::prepare(
        &options.stage,
        options.package_dir.as_deref(),
        Action::Deploy,
        observer,
    )
    .await?;
    let packaged_ms = pipeline::millis(started) - prepared.guard_ms;
    let mut req = prepared.request(options.force);
    let Prepared {
        mut stage,
        built,
        guard_ms,
        mut host,
    } = prepared;
    let session = &stage.session;
    req.lock.force_unlock = options.force_unlock;
    approval::refuse_deploy(&stage, &req, options.approve_broadening).await?;
    if let Some(timeout) = options.timeout {
        req.waits.operation = timeout;
    }
    let hooks = UploadHooks {
        host: RefCell::new(host.as_mut()),
        observer,
    };
    let result = deployer_aws::deploy::deploy_hooked(&stage.clients, &req, observer, &hooks).await;
    let result = match refused_refresh(&stage, &req.params.stack) {
        Some(refused) => Err(refused),
        None => result,
    };
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(cause) => {
            return Ok(DeployReport::Failed(Box::new(DeployFailed {
                status: "failed",
                stack: req.params.stack.clone(),
                account: session.identity.account.clone(),
                region: session.region.clone(),
                stage: session.stage.clone(),
                error: cause.to_string(),
                aws_calls: stage.calls(),
                cause,
                elapsed: started.elapsed(),
            })));
        }
    };
    let mut timings = IndexMap::from([
        ("guard".to_string(), guard_ms),
        ("resolve and package".to_string(), packaged_ms),
    ]);
    timings.extend(
        outcome
            .timings
            .iter()
            .filter(|(k, _)| k != "total")
            .cloned(),
    );
    if let Some(host) = host.as_mut() {
        let hooked = tokio::task::block_in_place(|| host.after_deploy(&outcome.bucket, observer));
        stage.ensure_proven()?;
        hooked.with_context(|| {
            format!(
                "stack {} was deployed, then a plugin's after-deploy hook failed",
                outcome.stack
            )
        })?;
    }
    let functions = report::functions(&built.service, Names::Template(&built.update));
    let pruned = plugins::prune_deployed(
        &stage,
        &built.service,
        &built.plugins,
        &built.update,
        &functions,
        observer,
    )
    .await;
    stage.ensure_proven()?;
    timings.insert("total".into(), pipeline::millis(started));
    let account_recorded = stage.record_first_deploy()?;
    let session = &stage.session;
    Ok(DeployReport::Done(Box::new(Deployed {
        status: outcome.status,
        reason: outcome.reason,
        service: built.service.service.clone(),
        stage: session.stage.clone(),
        stack: outcome.stack,
        stack_id: outcome.stack_id,
        stack_status: outcome.stack_status,
        account: session.identity.account.clone(),
        region: session.region.clone(),
        bucket: outcome.bucket,
        directory: outcome.directory,
        uploaded: outcome.uploaded,
        skipped_uploads: outcome.skipped_uploads,
        removed_deployments: outcome.removed_deployments,
        outputs: report::outputs(&outcome.outputs),
        endpoints: report::endpoints(&built.service, &outcome.outputs),
        functions,
        timings,
        aws_calls: stage.calls(),
        plugins: built.plugins,
        pruned,
        builds: built.builds,
        account_recorded,
        sections: host.map(|h| h.sections).unwrap_or_default(),
        termination_protection: outcome.termination_protection,
        elapsed: started.elapsed(),
    })))
}

/// The plugin host's hooks at the upload (`aws:deploy:deploy:uploadArtifacts`).
struct UploadHooks<'a> {
    host: RefCell<Option<&'a mut PluginHost>>,
    observer: &'a dyn Observer,
}

impl DeployHooks for UploadHooks<'_> {
    fn uploaded(&self, bucket: &str) -> Result<(), String> {
        let mut host = self.host.borrow_mut();
        let Some(host) = host.as_mut() else {
            return Ok(());
        };
        // The host blocks on its pipe; other tasks move off this worker meanwhile.
        tokio::task::block_in_place(|| host.upload(bucket, self.observer))
            .map_err(|e| format!("{e:#}"))
    }
}
