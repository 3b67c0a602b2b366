//! What the deploy and diff flows are given: the request computed offline by config, package
//! and template.

use std::path::PathBuf;
use std::sync::Arc;

use crate::artifacts::stage_prefix;
use crate::lock::LockOptions;
use crate::progress::Scope;
use crate::stack::{StackParams, Waits};

use super::BucketChoice;

/// `provider.deploymentMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// UpdateStack (deployer's default, v4's default).
    #[default]
    Direct,
    /// A `<stack>-change-set` change set, created then executed (v3's default).
    ChangeSets,
}

/// A packaged artifact to deploy.
#[derive(Debug, Clone)]
pub struct DeployArtifact {
    /// File name in the deployment directory (e.g. `service-name.zip`).
    pub name: String,
    /// Local path of the zip.
    pub path: PathBuf,
    /// SHA-256 of the bytes, base64.
    pub sha256_base64: String,
    /// Size in bytes.
    pub size: u64,
}

/// Everything the deploy flow needs, computed offline by config/package/template.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Service name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Stack parameters (name, region, tags, stack parameters, notification ARNs, role).
    pub params: StackParams,
    /// `provider.deploymentPrefix` (default `serverless`).
    pub deployment_prefix: String,
    /// Bucket choice.
    pub bucket: BucketChoice,
    /// `provider.deploymentBucket.maxPreviousDeploymentArtifacts` (default 5).
    pub max_previous_deployments: usize,
    /// The core template (deployment bucket only), used when the stack does not exist; shared
    /// with the package, not copied.
    pub core_template: Arc<serde_json::Value>,
    /// The compiled template, shared with the package.
    pub template: Arc<serde_json::Value>,
    /// v3's normalized template hash (SHA-256, base64).
    pub template_hash: String,
    /// `<prefix>/<service>/<stage>/<ms>-<ISO>` the template's S3 keys point into.
    pub artifact_directory: String,
    /// The zips.
    pub artifacts: Vec<DeployArtifact>,
    /// Deployment method.
    pub method: Method,
    /// `--force`: deploy even when nothing changed.
    pub force: bool,
    /// Polling and waiting limits; `waits.operation` is the overall limit of the stack wait
    /// (`--timeout`).
    pub waits: Waits,
    /// The stage's deploy lock (`--force-unlock`, how long to wait for another run).
    pub lock: LockOptions,
    /// A protected stage: turn termination protection on after a successful deploy.
    pub protect: bool,
}

impl DeployRequest {
    /// The service and stack its progress events are about.
    pub(crate) fn scope(&self) -> Scope {
        Scope::new(&self.service, &self.params.stack)
    }

    /// `<prefix>/<service>/<stage>`: where the stage's deployments live in the bucket.
    pub(crate) fn stage_prefix(&self) -> String {
        stage_prefix(&self.deployment_prefix, &self.service, &self.stage)
    }

    /// The local hash list v3 compares: the template hash and each zip's, sorted.
    pub(crate) fn local_hashes(&self) -> Vec<String> {
        let mut h: Vec<String> = std::iter::once(self.template_hash.clone())
            .chain(self.artifacts.iter().map(|a| a.sha256_base64.clone()))
            .collect();
        h.sort();
        h
    }
}
