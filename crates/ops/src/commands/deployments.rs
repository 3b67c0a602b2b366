//! `deploy list`: the deployments of the stage in its deployment bucket, newest first, and
//! which one the stack points at. Also the deployed-stage context the daily commands share.

use anyhow::Context as _;
use deployer_aws::artifacts::{self, Deployment, TEMPLATE_FILE};
use deployer_aws::deploy::{BUCKET_LOGICAL_ID, BUCKET_OUTPUT, BucketChoice};
use deployer_aws::error::AwsError;
use deployer_aws::flow::LockRequest;
use deployer_aws::lock::LockOptions;
use deployer_aws::stack::StackInfo;
use deployer_config::model::Service;
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::stack;
use crate::pipeline::stage::{self, Guard, Stage, StageOptions};

/// A guarded stage with its resolved service.
pub(crate) struct Target {
    /// The opened stage.
    pub stage: Stage,
    /// The resolved service.
    pub service: Service,
    /// Stage name.
    pub name: String,
    /// Stack name.
    pub stack: String,
}

/// Fails unless `key` is a function of `service`, naming the configuration file and the
/// functions it has.
pub(crate) fn ensure_function(
    service: &Service,
    key: &str,
    config: &std::path::Path,
) -> anyhow::Result<()> {
    if service.functions.contains_key(key) {
        return Ok(());
    }
    let known: Vec<&str> = service.functions.keys().map(String::as_str).collect();
    Err(OpError::error(
        OpErrorKind::Function,
        format!(
            "function \"{key}\" is not in {}; its functions: {}",
            config.display(),
            known.join(", ")
        ),
    ))
}

/// Opens the stage (the guard before anything else) and resolves its service.
pub(crate) async fn open(
    options: &StageOptions,
    observer: &dyn Observer,
) -> anyhow::Result<Target> {
    let stage = stage::open(options, Guard::Enforce, observer).await?;
    let resolved = stage
        .source
        .resolve(None, &mut stage.aws_answers(), observer)?;
    let service = stage.source.service(&resolved)?;
    let stack = stack::name(&service, &resolved.stage);
    Ok(Target {
        stage,
        service,
        name: resolved.stage,
        stack,
    })
}

impl Target {
    /// The deployed stack; an error telling to deploy first when there is none.
    pub async fn deployed_stack(&self) -> anyhow::Result<StackInfo> {
        let session = &self.stage.session;
        deployer_aws::stack::describe(&self.stage.clients.cfn, &self.stack)
            .await?
            .ok_or_else(|| {
                // Typed, so that `--json` says `stack-missing` with the stack and region.
                let missing = AwsError::StackMissing {
                    stack: self.stack.clone(),
                    region: session.region.clone(),
                };
                anyhow::Error::new(missing).context(format!(
                    "stage {} is not deployed in account {}; run `deployer up --stage {}` first",
                    self.name, session.identity.account, self.name
                ))
            })
    }

    /// The deployment bucket: `provider.deploymentBucket`, the stack's output, else its
    /// `ServerlessDeploymentBucket` resource.
    pub async fn bucket(&self, info: &StackInfo) -> anyhow::Result<String> {
        if let BucketChoice::Named(name) = stack::bucket_choice(&self.service) {
            return Ok(name);
        }
        if let Some(name) = info.output(BUCKET_OUTPUT).filter(|n| !n.is_empty()) {
            return Ok(name.to_string());
        }
        deployer_aws::stack::physical_id(&self.stage.clients.cfn, &self.stack, BUCKET_LOGICAL_ID)
            .await?
            .with_context(|| {
                format!(
                    "stack \"{}\" has no {BUCKET_LOGICAL_ID} and provider.deploymentBucket is not \
                     set: name the bucket in provider.deploymentBucket.name",
                    self.stack
                )
            })
    }

    /// `<prefix>/<service>/<stage>`.
    pub fn stage_prefix(&self) -> String {
        artifacts::stage_prefix(
            stack::deployment_prefix(&self.service),
            &self.service.service,
            &self.name,
        )
    }

    /// The stage's deploy lock in `bucket`, as `up` takes it (`--force-unlock` breaks a held one).
    pub fn lock_request(&self, bucket: String, force_unlock: bool) -> LockRequest {
        LockRequest {
            bucket,
            stage_prefix: self.stage_prefix(),
            service: self.service.service.clone(),
            stage: self.name.clone(),
            options: LockOptions {
                force_unlock,
                ..LockOptions::from_env()
            },
        }
    }

    /// The deployments in the bucket, oldest first, the directory the deployed template
    /// references (`None` when it references none) and the deployed template.
    pub async fn deployments(&self, bucket: &str, info: &StackInfo) -> anyhow::Result<Deployed> {
        let clients = &self.stage.clients;
        let prefix = self.stage_prefix();
        let (list, template) = tokio::join!(
            artifacts::list_deployments(&clients.s3, bucket, &prefix),
            deployer_aws::stack::template(&clients.cfn, &info.id),
        );
        let list = list?;
        let template = template?;
        let body = template.as_ref().map(|t| t.to_string()).unwrap_or_default();
        let current = list
            .iter()
            .rev()
            .find(|d| body.contains(&format!("{}/", d.directory)))
            .map(|d| d.directory.clone());
        Ok(Deployed {
            list,
            current,
            template,
        })
    }
}

/// The stage's deployments and what the stack runs.
pub(crate) struct Deployed {
    /// The deployments in the bucket, oldest first.
    pub list: Vec<Deployment>,
    /// The directory the deployed template references.
    pub current: Option<String>,
    /// The deployed template (`None` when CloudFormation returned none).
    pub template: Option<serde_json::Value>,
}

/// The result of `deploy list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentList {
    /// `service:` name.
    pub service: String,
    /// Stage.
    pub stage: String,
    /// Region.
    pub region: String,
    /// The account of the stage.
    pub account: String,
    /// Stack name.
    pub stack: String,
    /// Deployment bucket.
    pub bucket: String,
    /// The deployments, newest first.
    pub deployments: Vec<DeploymentEntry>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// One deployment directory.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentEntry {
    /// `<ms>` of the directory: what `rollback --timestamp` takes.
    pub timestamp: u64,
    /// The ISO 8601 time of the directory name.
    pub date: String,
    /// The directory key.
    pub directory: String,
    /// File names in it.
    pub files: Vec<String>,
    /// True when it holds a compiled template (a rollback target).
    pub has_template: bool,
    /// True for the deployment the stack's template references.
    pub current: bool,
}

/// An entry of the listing.
pub(crate) fn entry(d: &Deployment, current: Option<&str>) -> DeploymentEntry {
    let name = d.directory.rsplit('/').next().unwrap_or_default();
    let files: Vec<String> = d
        .objects
        .iter()
        .map(|o| o.key[d.directory.len() + 1..].to_string())
        .collect();
    DeploymentEntry {
        timestamp: d.timestamp_ms().unwrap_or_default(),
        date: name
            .split_once('-')
            .map(|(_, iso)| iso)
            .unwrap_or(name)
            .to_string(),
        directory: d.directory.clone(),
        has_template: files.iter().any(|f| f == TEMPLATE_FILE),
        files,
        current: current == Some(d.directory.as_str()),
    }
}

/// Opens the stage (guard first) and lists its deployments, newest first.
pub async fn deploy_list(
    options: &StageOptions,
    observer: &dyn Observer,
) -> anyhow::Result<DeploymentList> {
    let target = open(options, observer).await?;
    let (bucket, list, current) = target
        .stage
        .run(async {
            let info = target.deployed_stack().await?;
            let bucket = target.bucket(&info).await?;
            let deployed = target.deployments(&bucket, &info).await?;
            anyhow::Ok((bucket, deployed.list, deployed.current))
        })
        .await?;
    let session = &target.stage.session;
    Ok(DeploymentList {
        service: target.service.service.clone(),
        stage: target.name.clone(),
        region: session.region.clone(),
        account: session.identity.account.clone(),
        stack: target.stack.clone(),
        bucket,
        deployments: list
            .iter()
            .rev()
            .map(|d| entry(d, current.as_deref()))
            .collect(),
        aws_calls: target.stage.calls(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployer_aws::artifacts::RemoteObject;

    #[test]
    fn entries_name_their_files_and_timestamp() {
        let dir = "serverless/s/dev/1795787592389-2026-11-27T13:53:12.389Z";
        let d = Deployment {
            directory: dir.into(),
            objects: vec![RemoteObject {
                key: format!("{dir}/{TEMPLATE_FILE}"),
                size: 1,
                last_modified: None,
            }],
        };
        let e = entry(&d, Some(dir));
        assert_eq!(e.timestamp, 1795787592389);
        assert_eq!(e.date, "2026-11-27T13:53:12.389Z");
        assert_eq!(e.files, vec![TEMPLATE_FILE.to_string()]);
        assert!(e.has_template && e.current);
        assert!(!entry(&d, None).current);
    }
}
