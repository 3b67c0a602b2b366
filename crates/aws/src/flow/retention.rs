//! The end of a deploy: read the stack's outputs and keep the newest N deployments (in
//! parallel). The stack is deployed by then, so neither step can fail the deploy.

use crate::artifacts::{self, Deployment};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::progress::{Progress, Scoped};
use crate::stack::{self, StackInfo};

use super::outcome::{DeployStatus, Prepared};
use super::request::DeployRequest;

/// What the end of a deploy found.
pub(super) struct Finished {
    /// The stack after the deploy (`None` when it could not be read).
    pub(super) info: Option<StackInfo>,
    /// Old deployment directories removed.
    pub(super) directories: usize,
}

/// Reads the stack and removes old deployments; failures are logged warnings.
pub(super) async fn finish(
    clients: &AwsClients,
    req: &DeployRequest,
    progress: Scoped<'_>,
    prepared: &Prepared,
    status: DeployStatus,
) -> Finished {
    let dir = &req.artifact_directory;
    let mut all = prepared.deployments.clone();
    if !all.iter().any(|d| d.directory == *dir) {
        all.push(Deployment {
            directory: dir.clone(),
            objects: Vec::new(),
        });
    }
    // The stack references this run's directory once deployed; else still the one it had.
    let mut protected = vec![dir.clone()];
    if status != DeployStatus::Deployed {
        protected.extend(referenced_dirs(
            prepared.deployed_template.as_deref(),
            &prepared.deployments,
        ));
    }
    let (info, removed) = tokio::join!(
        stack::describe(&clients.cfn, &req.params.stack),
        cleanup(
            clients,
            &prepared.bucket,
            &all,
            &protected,
            req.max_previous_deployments
        ),
    );
    let info = info.unwrap_or_else(|e| {
        tracing::warn!("could not read the stack after the deploy: {e}");
        None
    });
    let removed = removed.unwrap_or_else(|e| {
        tracing::warn!("could not remove old deployments (the next deploy retries): {e}");
        (0, 0)
    });
    if removed.0 > 0 {
        progress.report(|scope| Progress::Cleanup {
            scope,
            directories: removed.0,
            objects: removed.1,
        });
    }
    Finished {
        info,
        directories: removed.0,
    }
}

/// The deployment directories a deployed template points into.
fn referenced_dirs(template: Option<&str>, deployments: &[Deployment]) -> Vec<String> {
    let Some(body) = template else {
        return Vec::new();
    };
    deployments
        .iter()
        .filter(|d| body.contains(&format!("{}/", d.directory)))
        .map(|d| d.directory.clone())
        .collect()
}

/// Keep the newest `keep` deployments (the `protected` ones — this run's and the one the stack
/// references — always stay); delete the others' objects. Only deployment directories are
/// ever listed here, so foreign objects under the stage prefix are never touched, nor is a
/// directory a concurrent run uploaded after this run listed the bucket. Returns
/// (directories, objects) removed.
async fn cleanup(
    clients: &AwsClients,
    bucket: &str,
    deployments: &[Deployment],
    protected: &[String],
    keep: usize,
) -> Result<(usize, usize), AwsError> {
    let mut sorted: Vec<&Deployment> = deployments.iter().collect();
    sorted.sort_by(|a, b| {
        a.timestamp_ms()
            .cmp(&b.timestamp_ms())
            .then_with(|| a.directory.cmp(&b.directory))
    });
    let excess = sorted.len().saturating_sub(keep.max(1));
    let old: Vec<&Deployment> = sorted
        .into_iter()
        .take(excess)
        .filter(|d| !protected.contains(&d.directory))
        .collect();
    let keys: Vec<String> = old
        .iter()
        .flat_map(|d| d.objects.iter().map(|o| o.key.clone()))
        .collect();
    if keys.is_empty() {
        return Ok((0, 0));
    }
    let n = artifacts::delete_keys(&clients.s3, bucket, &keys).await?;
    Ok((old.len(), n))
}

/// After a saved plan was executed: keeps the newest `keep` deployments of the stage besides
/// `directory` (now deployed); failures are logged warnings. Returns how many were removed.
pub(super) async fn keep_newest(
    clients: &AwsClients,
    bucket: &str,
    stage_prefix: &str,
    directory: &str,
    keep: usize,
) -> usize {
    let all = match artifacts::list_deployments(&clients.s3, bucket, stage_prefix).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!("could not list old deployments (the next deploy retries): {e}");
            return 0;
        }
    };
    match cleanup(clients, bucket, &all, &[directory.to_string()], keep).await {
        Ok((directories, _)) => directories,
        Err(e) => {
            tracing::warn!("could not remove old deployments (the next deploy retries): {e}");
            0
        }
    }
}
