//! `rollback function -f NAME --function-version N` (v3's command): the function runs the
//! code of its published version N again. The version's zip comes from the stage's deployment
//! bucket (found by its hash); the write happens under the stage's deploy lock, like
//! `deploy function`. The stack is not touched.

use std::time::Instant;

use deployer_aws::flow::rollback_function::{
    RollbackFunctionError, RollbackFunctionRequest, rollback_function as flow,
};
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::commands::deployments;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::protect::{self, Shortcut};
use crate::pipeline::stage::StageOptions;

/// Which function and version.
#[derive(Debug, Default)]
pub struct RollbackFunctionOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// The function's key in `functions:`.
    pub function: String,
    /// The published version (`--function-version`).
    pub version: String,
    /// Break a deploy lock left by a killed run.
    pub force_unlock: bool,
    /// `--approve-rollback`: a protected stage rolls back only with it.
    pub approve_rollback: bool,
}

/// The result of `rollback function`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionRolledBack {
    /// `rolledBack`, or `alreadyRunning` when the function ran that code (nothing sent).
    pub status: &'static str,
    /// The function's key.
    pub function: String,
    /// Its deployed name.
    pub name: String,
    /// The version restored.
    pub version: String,
    /// CodeSha256 before.
    pub previous_code_sha256: String,
    /// CodeSha256 now (the version's).
    pub code_sha256: String,
    /// The zip sent, from the deployment bucket.
    pub zip_key: Option<String>,
    /// Duration in milliseconds.
    pub millis: u64,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// Opens the stage (guard first) and restores the version's code.
pub async fn rollback_function(
    options: &RollbackFunctionOptions,
    observer: &dyn Observer,
) -> anyhow::Result<FunctionRolledBack> {
    let started = Instant::now();
    if options.version.is_empty() || !options.version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OpError::error(
            OpErrorKind::Input,
            format!(
                "--function-version {:?} is not a published version number (1, 2, …)",
                options.version
            ),
        ));
    }
    let target = deployments::open(&options.stage, observer).await?;
    protect::refuse_used(
        &target.stage.source.stage,
        &[
            (!options.approve_rollback, Shortcut::Rollback),
            (options.force_unlock, Shortcut::ForceUnlock),
        ],
    )?;
    let key = &options.function;
    deployments::ensure_function(&target.service, key, &target.stage.source.file.path)?;
    let name = target.service.function_name(key, &target.name);
    let run = async {
        let info = target.deployed_stack().await?;
        let bucket = target.bucket(&info).await?;
        let req = RollbackFunctionRequest {
            name: name.clone(),
            stack: target.stack.clone(),
            version: options.version.clone(),
            lock: target.lock_request(bucket, options.force_unlock),
        };
        let run = flow(&target.stage.clients, &req, observer).await;
        if let Some(e) = run.lock_left {
            observer.warning(&format!("could not remove the deploy lock: {e}"));
        }
        run.result.map_err(|e| explain(e, key, &target.name))
    };
    let done = target.stage.run(run).await?;
    if done.zip_key.is_some() {
        observer.warning(&format!(
            "stack \"{}\" was not changed: its template is now out of date for function \
             \"{key}\"; the next `deployer up` brings it in line",
            target.stack
        ));
    }
    Ok(FunctionRolledBack {
        status: if done.zip_key.is_some() {
            "rolledBack"
        } else {
            "alreadyRunning"
        },
        function: key.clone(),
        name,
        version: options.version.clone(),
        previous_code_sha256: done.previous_code_sha256,
        code_sha256: done.code_sha256,
        zip_key: done.zip_key,
        millis: started.elapsed().as_millis() as u64,
        aws_calls: target.stage.calls(),
    })
}

/// The flow's refusals as the operation's errors, each saying what to do.
fn explain(err: RollbackFunctionError, key: &str, stage: &str) -> anyhow::Error {
    let function = |message: String| OpError::error(OpErrorKind::Function, message);
    match err {
        RollbackFunctionError::Aws(e) => e.into(),
        RollbackFunctionError::NotDeployed { name } => function(format!(
            "function \"{key}\" ({name}) is not deployed: run `deployer up --stage {stage}` first"
        )),
        RollbackFunctionError::NoVersion {
            name,
            version,
            versions,
        } => {
            let known = if versions.is_empty() {
                "it has no published version (versionFunctions: false?)".to_string()
            } else {
                format!("its published versions: {}", versions.join(", "))
            };
            function(format!(
                "function \"{key}\" ({name}) has no version {version}; {known}"
            ))
        }
        RollbackFunctionError::CodeNotFound { version, sha } => OpError::error(
            OpErrorKind::Deployment,
            format!(
                "the code of version {version} of function \"{key}\" (CodeSha256 {sha}) is in \
                 no zip of the deployment bucket (pruned, or not deployed by a deploy); roll \
                 the stack back with `deployer rollback -t TIMESTAMP` instead"
            ),
        ),
    }
}
