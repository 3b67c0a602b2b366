//! The deploy function flow: under the stage's deploy lock, replace a function's code (when it
//! changed) and apply its settings, each followed until Lambda has finished it. The stack is
//! not touched. What to write (the code's hash compared, the settings taken from the
//! template) `crates/ops` decides.

use std::path::PathBuf;

use crate::clients::AwsClients;
use crate::error::{AwsError, FailureKind};
use crate::lambda::{self, CodeSource, FunctionSettings, INLINE_ZIP_LIMIT, UPDATE_WAIT};
use crate::progress::{Reporter, Scope, Scoped};

use super::{LockRequest, Locked, under_lock};

/// The new code of a function.
#[derive(Debug, Clone)]
pub struct NewCode {
    /// The zip's file name (its key under `<stage prefix>/deploy-function/` when it is too big
    /// to send inline).
    pub file_name: String,
    /// The zip.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, base64 (Lambda's CodeSha256).
    pub sha256_base64: String,
}

/// What to write to a function.
#[derive(Debug, Clone)]
pub struct FunctionRequest {
    /// The function's key in `functions:` (for messages).
    pub key: String,
    /// Its deployed name.
    pub name: String,
    /// The stage's stack, for progress events.
    pub stack: String,
    /// The new code, when it is to be replaced.
    pub code: Option<NewCode>,
    /// The settings to apply (empty: none).
    pub settings: FunctionSettings,
    /// The stage's deploy lock (its bucket also takes a zip too big to send inline).
    pub lock: LockRequest,
}

/// Why the deploy function flow failed.
#[derive(Debug)]
pub enum FunctionError {
    /// The zip could not be read.
    Read {
        /// The zip.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An AWS call failed.
    Aws(AwsError),
}

impl From<AwsError> for FunctionError {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

/// Writes `req` under the stage's deploy lock, released whatever happens. The result is the
/// CodeSha256 the function runs. A failure after Lambda accepted the code says so, with the
/// new CodeSha256.
pub async fn deploy_function(
    clients: &AwsClients,
    req: &FunctionRequest,
    reporter: &dyn Reporter,
) -> Locked<String, FunctionError> {
    // Its events name the stage's stack, which this flow never touches.
    let scope = Scope::new(&req.lock.service, &req.stack);
    let progress = Scoped::new(&scope, reporter);
    under_lock(clients, &req.lock, progress, write(clients, req)).await
}

/// Replaces the code (when it changed), then applies the settings.
async fn write(clients: &AwsClients, req: &FunctionRequest) -> Result<String, FunctionError> {
    let lambda = &clients.lambda;
    let mut sha = None;
    if let Some(code) = &req.code {
        sha = Some(write_code(clients, req, code).await?);
    }
    if req.settings.is_empty() {
        return Ok(sha.unwrap_or_default());
    }
    let applied = async {
        lambda::update_settings(lambda, &req.name, &req.settings).await?;
        lambda::settle_update(lambda, &req.name, UPDATE_WAIT).await
    }
    .await;
    let key = &req.key;
    match (applied, sha) {
        (Ok(state), None) => Ok(state.code_sha256),
        (Ok(_), Some(sha)) => Ok(sha),
        (Err(e), None) => Err(e.into()),
        (Err(e), Some(sha)) => Err(e
            .with_state(format!(
                "the new code of function \"{key}\" is deployed (CodeSha256 {sha}), its \
                 configuration may not be: run `deployer deploy function -f {key} --update-config` \
                 again"
            ))
            .into()),
    }
}

/// UpdateFunctionCode (a lost answer settled by reading the function), followed until the
/// update has landed. Returns the CodeSha256 the function runs.
async fn write_code(
    clients: &AwsClients,
    req: &FunctionRequest,
    code: &NewCode,
) -> Result<String, FunctionError> {
    let lambda = &clients.lambda;
    let source = code_source(clients, &req.lock, code).await?;
    let accepted = match lambda::update_code(lambda, &req.name, &source).await {
        Ok(sha) => sha,
        Err(e) => lambda::confirm_code(lambda, &req.name, &code.sha256_base64, e).await?,
    };
    let landed = lambda::settle_update(lambda, &req.name, UPDATE_WAIT)
        .await
        .map_err(|e| code_accepted(e, &req.key, &accepted))?;
    Ok(if landed.code_sha256.is_empty() {
        accepted
    } else {
        landed.code_sha256
    })
}

/// The error of a step after Lambda accepted the new code, saying so with its CodeSha256.
fn code_accepted(err: AwsError, key: &str, sha: &str) -> AwsError {
    let state = if err.kind() == Some(FailureKind::Service) {
        format!(
            "Lambda accepted the new code of function \"{key}\" (CodeSha256 {sha}), then the \
             update failed: fix the cause and run `deployer deploy function -f {key} --force`"
        )
    } else {
        format!(
            "Lambda accepted the new code of function \"{key}\" (CodeSha256 {sha}), but whether \
             the update finished could not be confirmed: run `deployer deploy function -f {key}` \
             again to check (it skips code that is already deployed)"
        )
    };
    err.with_state(state)
}

/// The zip inline, or uploaded to the deployment bucket when too big to send inline.
async fn code_source(
    clients: &AwsClients,
    lock: &LockRequest,
    code: &NewCode,
) -> Result<CodeSource, FunctionError> {
    let path = &code.path;
    if code.size <= INLINE_ZIP_LIMIT {
        let bytes = std::fs::read(path).map_err(|source| FunctionError::Read {
            path: path.clone(),
            source,
        })?;
        return Ok(CodeSource::Zip(bytes));
    }
    let bucket = &lock.bucket;
    let key = format!("{}/deploy-function/{}", lock.stage_prefix, code.file_name);
    lambda::upload_code(&clients.s3, bucket, &key, path).await?;
    Ok(CodeSource::S3 {
        bucket: bucket.to_string(),
        key,
    })
}
