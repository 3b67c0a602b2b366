//! The rollback function flow (v3's `rollback function`): the code of one published version
//! of a function becomes its `$LATEST` code again. The version's zip is found in the stage's
//! deployment bucket by its hash (the `filesha256` metadata every deployment's zip carries,
//! which is the version's CodeSha256), then sent with UpdateFunctionCode under the stage's
//! deploy lock and followed until Lambda has finished. The stack is not touched.

use crate::artifacts;
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::lambda::{self, CodeSource, UPDATE_WAIT};
use crate::progress::{Reporter, Scope, Scoped};

use super::{LockRequest, Locked, under_lock};

/// Which version to restore.
#[derive(Debug, Clone)]
pub struct RollbackFunctionRequest {
    /// The function's deployed name.
    pub name: String,
    /// The stage's stack, for progress events.
    pub stack: String,
    /// The published version (`--function-version`).
    pub version: String,
    /// The stage's deploy lock; its bucket holds the deployments' zips.
    pub lock: LockRequest,
}

/// What the rollback did.
#[derive(Debug, Clone)]
pub struct RolledBackFunction {
    /// The CodeSha256 before.
    pub previous_code_sha256: String,
    /// The version's CodeSha256, which the function runs now.
    pub code_sha256: String,
    /// The zip sent (its key in the deployment bucket); `None` when the function already ran
    /// that code and nothing was sent.
    pub zip_key: Option<String>,
}

/// Why the rollback could not happen.
#[derive(Debug, thiserror::Error)]
pub enum RollbackFunctionError {
    /// The function is not deployed.
    #[error("function {name} is not deployed")]
    NotDeployed {
        /// Deployed name.
        name: String,
    },
    /// No such published version.
    #[error("version {version} of function {name} does not exist")]
    NoVersion {
        /// Deployed name.
        name: String,
        /// The version asked for.
        version: String,
        /// The versions that exist.
        versions: Vec<String>,
    },
    /// The version's code is in no zip of the deployment bucket.
    #[error("the code of version {version} (CodeSha256 {sha}) is not in the deployment bucket")]
    CodeNotFound {
        /// The version asked for.
        version: String,
        /// Its CodeSha256.
        sha: String,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Restores version `req.version`'s code as the function's code.
pub async fn rollback_function(
    clients: &AwsClients,
    req: &RollbackFunctionRequest,
    reporter: &dyn Reporter,
) -> Locked<RolledBackFunction, RollbackFunctionError> {
    let scope = Scope::new(&req.lock.service, &req.stack);
    let progress = Scoped::new(&scope, reporter);
    under_lock(clients, &req.lock, progress, restore(clients, req)).await
}

async fn restore(
    clients: &AwsClients,
    req: &RollbackFunctionRequest,
) -> Result<RolledBackFunction, RollbackFunctionError> {
    let lambda = &clients.lambda;
    let name = &req.name;
    let current = lambda::get_function(lambda, name)
        .await?
        .ok_or_else(|| RollbackFunctionError::NotDeployed { name: name.clone() })?;
    let Some(sha) = lambda::get_version(lambda, name, &req.version).await? else {
        return Err(RollbackFunctionError::NoVersion {
            name: name.clone(),
            version: req.version.clone(),
            versions: lambda::list_versions(lambda, name).await?,
        });
    };
    if sha == current.code_sha256 {
        return Ok(RolledBackFunction {
            previous_code_sha256: current.code_sha256,
            code_sha256: sha,
            zip_key: None,
        });
    }
    let Some(key) = find_zip(clients, &req.lock, &sha).await? else {
        return Err(RollbackFunctionError::CodeNotFound {
            version: req.version.clone(),
            sha,
        });
    };
    let bytes = artifacts::get_bytes(&clients.s3, &req.lock.bucket, &key).await?;
    lambda::update_code(lambda, name, &CodeSource::Zip(bytes)).await?;
    let landed = lambda::settle_update(lambda, name, UPDATE_WAIT).await?;
    Ok(RolledBackFunction {
        previous_code_sha256: current.code_sha256,
        code_sha256: landed.code_sha256,
        zip_key: Some(key),
    })
}

/// The newest zip of the stage's prefix whose `filesha256` is `sha`.
async fn find_zip(
    clients: &AwsClients,
    lock: &LockRequest,
    sha: &str,
) -> Result<Option<String>, AwsError> {
    let prefix = format!("{}/", lock.stage_prefix);
    let mut objects = artifacts::list_objects(&clients.s3, &lock.bucket, &prefix).await?;
    objects.retain(|o| o.key.ends_with(".zip"));
    // Newest first: the latest deployment of that code is the one most likely kept.
    objects.sort_by(|a, b| b.key.cmp(&a.key));
    let keys: Vec<String> = objects.into_iter().map(|o| o.key).collect();
    let hashes = artifacts::head_hashes(&clients.s3, &lock.bucket, &keys).await?;
    Ok(keys
        .into_iter()
        .zip(hashes)
        .find(|(_, h)| h.as_deref() == Some(sha))
        .map(|(k, _)| k))
}
