//! `deploy function -f NAME`: package the service the usual way, take that function's zip,
//! and replace the deployed function's code when its SHA-256 differs from `CodeSha256`
//! (`--update-config`: also its memory, timeout, environment, layers, role and VPC). The
//! stack is not touched, so its template is out of date afterwards, as with v3. The writes
//! happen under the stage's deploy lock, like `up` and `rollback`.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use deployer_aws::flow;
use deployer_aws::flow::function::{FunctionError, FunctionRequest, NewCode};
use deployer_aws::lambda::{self, FunctionSettings};
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::commands::deployments::{self, Target};
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::function::{artifact_of, settings_of};
use crate::pipeline::package::{self, Build, BuildTarget, HostAccess};
use crate::pipeline::protect::{self, Shortcut};
use crate::pipeline::stage::StageOptions;

/// Which function to deploy and how.
#[derive(Debug)]
pub struct FunctionOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// The function's key in `functions:`.
    pub function: String,
    /// Also apply the function's settings (`--update-config`).
    pub update_config: bool,
    /// Update the code even when its hash is unchanged (`--force`).
    pub force: bool,
    /// The package directory (`None`: as `package` chooses).
    pub out_dir: Option<PathBuf>,
    /// The time of this run.
    pub now: SystemTime,
    /// Break a deploy lock left by a killed run.
    pub force_unlock: bool,
}

/// The result of `deploy function`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeployed {
    /// `updated` or `unchanged`.
    pub status: &'static str,
    /// The function's key.
    pub function: String,
    /// Its deployed name.
    pub name: String,
    /// Whether the code was replaced.
    pub code_updated: bool,
    /// The deployed CodeSha256 before.
    pub previous_code_sha256: String,
    /// The CodeSha256 now.
    pub code_sha256: String,
    /// The artifact's file.
    pub artifact: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The settings applied with `--update-config`.
    pub config_updated: Vec<String>,
    /// Settings not applied because they reference stack resources (`deployer up` applies them).
    pub config_skipped: Vec<String>,
    /// Duration in milliseconds.
    pub millis: u64,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// Opens the stage (guard first), packages, compares and updates the function.
pub async fn deploy_function(
    options: &FunctionOptions,
    observer: &dyn Observer,
) -> anyhow::Result<FunctionDeployed> {
    let started = Instant::now();
    let target = deployments::open(&options.stage, observer).await?;
    protect::refuse(&target.stage.source.stage, Shortcut::DeployFunction)?;
    let build = package::build(
        &target.stage.source,
        &BuildTarget {
            service: &options.stage.service,
            out_dir: options.out_dir.as_deref(),
            now: options.now,
            plugins: None,
            host: HostAccess::deploy(&target.stage.session),
        },
        &mut target.stage.aws_answers(),
        observer,
    )?;
    let key = &options.function;
    deployments::ensure_function(&build.service, key, &target.stage.source.file.path)?;
    let mut result = target
        .stage
        .run(update(&target, &build, options, observer))
        .await?;
    result.millis = started.elapsed().as_millis() as u64;
    result.aws_calls = target.stage.calls();
    if result.status == "updated" {
        observer.warning(&format!(
            "stack \"{}\" was not changed: its template is now out of date for function \
             \"{key}\"; the next `deployer up` brings it in line",
            target.stack
        ));
    }
    Ok(result)
}

/// Compares function `options.function`'s zip in `build` with the deployed code and writes what
/// changed (under the stage's deploy lock). `watch` ships each change through it too.
pub(crate) async fn update(
    target: &Target,
    build: &Build,
    options: &FunctionOptions,
    observer: &dyn Observer,
) -> anyhow::Result<FunctionDeployed> {
    let key = &options.function;
    let name = build.service.function_name(key, &target.name);
    let lambda = &target.stage.clients.lambda;
    let Some(remote) = lambda::get_function(lambda, &name).await? else {
        let info = target.deployed_stack().await?;
        return Err(OpError::error(
            OpErrorKind::Function,
            format!(
                "function \"{key}\" ({name}) is not deployed in stack \"{}\" ({}): run \
                 `deployer up --stage {}` first",
                info.name, info.status, target.name
            ),
        ));
    };
    let artifact = artifact_of(build, key)?;
    let changed = options.force || artifact.sha256_base64 != remote.code_sha256;
    let (settings, applied, skipped) = if options.update_config {
        settings_of(&build.templates.update, &name)
    } else {
        Default::default()
    };
    for s in &skipped {
        observer.warning(&format!(
            "{s} of function \"{key}\" references a stack resource and was not applied; \
             `deployer up` applies it"
        ));
    }
    if !changed {
        observer.detail("Code did not change. Function deployment skipped.");
    }
    let plan = Plan {
        key,
        name: &name,
        code: changed.then_some(artifact),
        settings: &settings,
    };
    let code_sha256 = if changed || !settings.is_empty() {
        locked_write(target, &plan, options, observer).await?
    } else {
        remote.code_sha256.clone()
    };
    let updated = changed || !applied.is_empty();
    Ok(FunctionDeployed {
        status: if updated { "updated" } else { "unchanged" },
        function: key.clone(),
        name: name.clone(),
        code_updated: changed,
        previous_code_sha256: remote.code_sha256,
        code_sha256,
        artifact: artifact.path.clone(),
        size: artifact.size,
        config_updated: applied,
        config_skipped: skipped,
        millis: 0,
        aws_calls: target.stage.calls(),
    })
}

/// What to write to the function.
struct Plan<'a> {
    /// The function's key.
    key: &'a str,
    /// Its deployed name.
    name: &'a str,
    /// The new code, when it is to be replaced.
    code: Option<&'a deployer_package::Artifact>,
    /// The settings to apply (empty: none).
    settings: &'a FunctionSettings,
}

/// The deploy function flow under the stage's deploy lock (taken as `up` and `rollback` take
/// it), so that a deploy of the stage running at the same time cannot put other code back;
/// released whatever happens. Returns the CodeSha256 the function runs.
async fn locked_write(
    target: &Target,
    plan: &Plan<'_>,
    options: &FunctionOptions,
    observer: &dyn Observer,
) -> anyhow::Result<String> {
    let info = target.deployed_stack().await?;
    let bucket = target.bucket(&info).await?;
    let req = FunctionRequest {
        key: plan.key.to_string(),
        name: plan.name.to_string(),
        stack: target.stack.clone(),
        code: plan.code.map(|a| NewCode {
            file_name: a.name.clone(),
            path: a.path.clone(),
            size: a.size,
            sha256_base64: a.sha256_base64.clone(),
        }),
        settings: plan.settings.clone(),
        lock: target.lock_request(bucket, options.force_unlock),
    };
    let run = flow::function::deploy_function(&target.stage.clients, &req, observer).await;
    if let Some(e) = run.lock_left {
        observer.warning(&format!("could not remove the deploy lock: {e}"));
    }
    run.result.map_err(|e| match e {
        FunctionError::Aws(e) => e.into(),
        FunctionError::Read { path, source } => {
            anyhow::Error::new(source).context(format!("cannot read {}", path.display()))
        }
    })
}
