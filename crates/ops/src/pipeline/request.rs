//! Service → [`DeployRequest`]: what a deploy needs from a package and the configuration.

use std::sync::Arc;

use deployer_aws::deploy::{DeployArtifact, DeployRequest, Method};
use deployer_aws::protection::RollbackTriggers;
use deployer_aws::stack::{StackParams, Waits};
use deployer_config::model::{DeploymentBucket, RollbackConfiguration, Service};
use deployer_template::plugins::PluginTreatment;
use serde_json::Value;

use crate::defaults::MAX_PREVIOUS_DEPLOYMENTS;
use crate::pipeline::builds::BuildsSummary;
use crate::pipeline::manifest::PackageDir;
use crate::pipeline::package::Build;
use crate::pipeline::stack;

/// What a deploy needs from a package, built now or read back from a directory.
pub(crate) struct Deployable {
    /// The resolved service.
    pub service: Service,
    /// Stage.
    pub stage: String,
    /// Region.
    pub region: String,
    /// The stack's name, worked out once: the package's, or the configuration's for a
    /// package directory read back.
    pub stack: String,
    /// The core template (deployment bucket), shared with the deploy request.
    pub create: Arc<Value>,
    /// The full template, shared with the deploy request.
    pub update: Arc<Value>,
    /// `<prefix>/<service>/<stage>/<ms>-<ISO>`.
    pub directory: String,
    /// v3's normalized template hash.
    pub template_hash: String,
    /// The zips.
    pub artifacts: Vec<DeployArtifact>,
    /// Each declared plugin with its treatment.
    pub plugins: Vec<PluginTreatment>,
    /// What the build step did, when the package was built in this run.
    pub builds: Option<BuildsSummary>,
}

impl Deployable {
    /// A package built in this run.
    pub fn from_build(build: Build) -> Self {
        Self {
            stage: build.manifest.stage,
            region: build.manifest.region,
            stack: build.manifest.stack_name,
            create: Arc::new(build.templates.create),
            update: Arc::new(build.templates.update),
            directory: build.manifest.artifact_directory_name,
            template_hash: build.manifest.template_hash,
            artifacts: deploy_artifacts(&build.package.artifacts),
            plugins: build.plugins,
            builds: Some(build.builds),
            service: build.service,
        }
    }

    /// A package directory read back; `empty` stands in for a missing core template.
    pub fn from_dir(service: Service, dir: PackageDir, empty: Value) -> Self {
        Self {
            stack: stack::name(&service, &dir.manifest.stage),
            stage: dir.manifest.stage,
            region: dir.manifest.region,
            create: Arc::new(dir.create_template.unwrap_or(empty)),
            update: Arc::new(dir.update_template),
            directory: dir.manifest.artifact_directory_name,
            template_hash: dir.manifest.template_hash,
            artifacts: deploy_artifacts(&dir.artifacts),
            plugins: Vec::new(),
            builds: None,
            service,
        }
    }
}

/// The deploy request of a package.
/// How the stack is updated: `provider.deploymentMethod: changesets` uses v3's change set,
/// anything else one UpdateStack.
pub(crate) fn method(service: &Service) -> Method {
    match service.provider.deployment_method.as_deref() {
        Some("changesets") => Method::ChangeSets,
        _ => Method::Direct,
    }
}

/// How many deployments the bucket keeps (`deploymentBucket.maxPreviousDeploymentArtifacts`).
pub(crate) fn keep(service: &Service) -> usize {
    (service.provider.deployment_bucket.as_ref())
        .and_then(DeploymentBucket::settings)
        .and_then(|s| s.max_previous_deployment_artifacts)
        .map_or(MAX_PREVIOUS_DEPLOYMENTS, |n| n as usize)
}

pub(crate) fn deploy_request(d: &Deployable, force: bool) -> DeployRequest {
    let service = &d.service;
    let keep = keep(service);
    let method = method(service);
    DeployRequest {
        service: service.service.clone(),
        stage: d.stage.clone(),
        params: stack_params(service, d.stack.clone(), &d.stage, &d.region),
        deployment_prefix: stack::deployment_prefix(service).to_string(),
        bucket: stack::bucket_choice(service),
        max_previous_deployments: keep,
        core_template: Arc::clone(&d.create),
        template: Arc::clone(&d.update),
        template_hash: d.template_hash.clone(),
        artifact_directory: d.directory.clone(),
        artifacts: d.artifacts.clone(),
        method,
        force,
        waits: Waits::default(),
        lock: deployer_aws::lock::LockOptions::from_env(),
        protect: false,
    }
}

/// The stack's parameters: `stack` (its name, worked out by the caller) with the tags,
/// parameters, notifications, role and rollback setting of the configuration.
pub(crate) fn stack_params(
    service: &Service,
    stack: String,
    stage: &str,
    region: &str,
) -> StackParams {
    let provider = &service.provider;
    let parameters = provider
        .stack_parameters
        .iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.get("ParameterKey")?.as_str()?.to_string(),
                match p.get("ParameterValue")? {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            ))
        })
        .collect();
    let notification_arns = provider
        .notification_arns
        .iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    StackParams {
        stack,
        region: region.to_string(),
        tags: deployer_template::stack_tags(service, stage),
        parameters,
        notification_arns,
        role_arn: stack::deployment_role(service),
        disable_rollback: provider.disable_rollback.unwrap_or(false),
        stack_policy: deployer_aws::protection::policy_body(
            provider.stack_policy.as_deref().unwrap_or_default(),
        ),
        rollback: provider
            .rollback_configuration
            .as_ref()
            .map(rollback_triggers),
    }
}

/// `provider.rollbackConfiguration` as the stack operations send it.
fn rollback_triggers(c: &RollbackConfiguration) -> RollbackTriggers {
    RollbackTriggers {
        triggers: (c.rollback_triggers.iter())
            .map(|t| (t.arn.clone(), t.trigger_type.clone()))
            .collect(),
        // The model takes any non-negative integer; CloudFormation checks the range (0–180).
        monitoring_minutes: c
            .monitoring_time_in_minutes
            .map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
    }
}

/// The artifacts of a package, for upload.
pub(crate) fn deploy_artifacts(artifacts: &[deployer_package::Artifact]) -> Vec<DeployArtifact> {
    artifacts
        .iter()
        .map(|a| DeployArtifact {
            name: a.name.clone(),
            path: a.path.clone(),
            sha256_base64: a.sha256_base64.clone(),
            size: a.size,
        })
        .collect()
}
