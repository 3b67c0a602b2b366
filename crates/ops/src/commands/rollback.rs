//! `rollback --timestamp T`: update the stack to an earlier deployment's template (its
//! `compiled-cloudformation-template.json` in the bucket, by TemplateURL), after checking that
//! every artifact it references is still there. Under the stage's deploy lock, like `up`.

use deployer_aws::artifacts::{self, Deployment, TEMPLATE_FILE};
use deployer_aws::flow;
use deployer_aws::flow::rollback::{RollbackRequest, RollbackStatus};
use deployer_aws::stack::Waits;
use serde::Serialize;
use serde_json::Value;

use crate::calls::AwsCalls;
use crate::commands::deployments::{self, Target};
use crate::errors::{OpError, OpErrorKind};
use crate::observer::{Action, Observer};
use crate::pipeline::protect::{self, Shortcut};
use crate::pipeline::request::stack_params;
use crate::pipeline::stage::StageOptions;

/// What to roll back to.
#[derive(Debug, Default)]
pub struct RollbackOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// `<ms>` of the deployment, or its ISO 8601 time.
    pub timestamp: String,
    /// Break a deploy lock left by a killed run.
    pub force_unlock: bool,
    /// `--approve-rollback`: a protected stage rolls back only with it.
    pub approve_rollback: bool,
}

/// The result of `rollback`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack {
    /// `rolledBack`; `alreadyRunning` when the stack already runs that deployment's template
    /// (nothing is changed); `unchanged` when CloudFormation found nothing to change.
    pub status: &'static str,
    /// Stack name.
    pub stack: String,
    /// The account.
    pub account: String,
    /// The deployment's `<ms>`.
    pub timestamp: u64,
    /// The deployment directory.
    pub directory: String,
    /// The template URL the stack was updated with.
    pub template_url: String,
    /// Final stack status.
    pub stack_status: String,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// The deployment `timestamp` names: its `<ms>`, or the ISO time of its directory name.
fn find<'a>(list: &'a [Deployment], timestamp: &str) -> Option<&'a Deployment> {
    let t = timestamp.trim();
    list.iter().find(|d| {
        let name = d.directory.rsplit('/').next().unwrap_or_default();
        d.timestamp_ms().map(|ms| ms.to_string()).as_deref() == Some(t)
            || name.split_once('-').map(|(_, iso)| iso) == Some(t)
    })
}

/// Every string of the template naming an object under `directory/` (the code S3Keys).
fn referenced_keys(template: &Value, directory: &str, out: &mut Vec<String>) {
    match template {
        Value::String(s) if s.starts_with(&format!("{directory}/")) => out.push(s.clone()),
        Value::Array(items) => items
            .iter()
            .for_each(|v| referenced_keys(v, directory, out)),
        Value::Object(map) => map
            .values()
            .for_each(|v| referenced_keys(v, directory, out)),
        _ => {}
    }
}

/// Opens the stage (guard first), checks the deployment and its artifacts, takes the lock and
/// updates the stack to the deployment's template; a stack that already runs that template is
/// left alone.
pub async fn rollback(
    options: &RollbackOptions,
    observer: &dyn Observer,
) -> anyhow::Result<RolledBack> {
    let target = deployments::open(&options.stage, observer).await?;
    protect::refuse_used(
        &target.stage.source.stage,
        &[
            (!options.approve_rollback, Shortcut::Rollback),
            (options.force_unlock, Shortcut::ForceUnlock),
        ],
    )?;
    target.stage.run(run(&target, options, observer)).await
}

async fn run(
    target: &Target,
    options: &RollbackOptions,
    observer: &dyn Observer,
) -> anyhow::Result<RolledBack> {
    let session = &target.stage.session;
    let info = target.deployed_stack().await?;
    let bucket = target.bucket(&info).await?;
    let deployed = target.deployments(&bucket, &info).await?;
    let Some(dep) = find(&deployed.list, &options.timestamp) else {
        return Err(OpError::error(
            OpErrorKind::Deployment,
            format!(
                "Couldn't find a deployment for the timestamp {} in s3://{bucket}/{}/: run \
                 `deployer deploy list` for the timestamps",
                options.timestamp,
                target.stage_prefix()
            ),
        ));
    };
    let template_key = format!("{}/{TEMPLATE_FILE}", dep.directory);
    let template = deployment_template(target, &bucket, &template_key, dep).await?;
    let url = artifacts::template_url(&bucket, &session.region, &template_key);
    let outcome = |status, stack_status| RolledBack {
        status,
        stack: target.stack.clone(),
        account: session.identity.account.clone(),
        timestamp: dep.timestamp_ms().unwrap_or_default(),
        directory: dep.directory.clone(),
        template_url: url.clone(),
        stack_status,
        aws_calls: target.stage.calls(),
    };
    // The stack already runs this deployment: an update would change nothing worth a lock.
    if deployed.template.as_ref() == Some(&template) {
        return Ok(outcome("alreadyRunning", info.status.clone()));
    }
    observer.announce(Action::Deploy, &target.service.service, session);
    let (status, stack_status) = locked_update(
        target, &bucket, &info.id, &url, &template, options, observer,
    )
    .await?;
    Ok(outcome(status, stack_status))
}

/// The deployment's template, after checking that every artifact it references is still in
/// the bucket.
async fn deployment_template(
    target: &Target,
    bucket: &str,
    template_key: &str,
    dep: &Deployment,
) -> anyhow::Result<Value> {
    let body = artifacts::get_text(&target.stage.clients.s3, bucket, template_key)
        .await?
        .ok_or_else(|| {
            deployment_error(format!(
                "deployment {} has no {TEMPLATE_FILE}: it cannot be rolled back to",
                dep.directory
            ))
        })?;
    let template: Value = serde_json::from_str(&body)
        .map_err(|e| deployment_error(format!("s3://{bucket}/{template_key} is not JSON: {e}")))?;
    let mut keys = Vec::new();
    referenced_keys(&template, &dep.directory, &mut keys);
    let missing: Vec<&str> = keys
        .iter()
        .filter(|k| !dep.objects.iter().any(|o| &o.key == *k))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(deployment_error(format!(
            "deployment {} was pruned: its template references {} missing from s3://{bucket}; \
             pick another timestamp from `deployer deploy list`",
            dep.directory,
            missing.join(", ")
        )));
    }
    Ok(template)
}

/// The deployment to roll back to cannot be used (incomplete, unreadable or pruned).
fn deployment_error(message: String) -> anyhow::Error {
    OpError::error(OpErrorKind::Deployment, message)
}

/// The rollback flow: the stack updated to the deployment's template under the stage's
/// deploy lock, released whatever happens.
async fn locked_update(
    target: &Target,
    bucket: &str,
    stack_id: &str,
    url: &str,
    template: &Value,
    options: &RollbackOptions,
    observer: &dyn Observer,
) -> anyhow::Result<(&'static str, String)> {
    let session = &target.stage.session;
    let req = RollbackRequest {
        params: stack_params(
            &target.service,
            target.stack.clone(),
            &target.name,
            &session.region,
        ),
        stack_id: stack_id.to_string(),
        template_url: url.to_string(),
        template: template.clone(),
        method: crate::pipeline::request::method(&target.service),
        waits: Waits::default(),
        lock: target.lock_request(bucket.to_string(), options.force_unlock),
    };
    let run = flow::rollback::rollback(&target.stage.clients, &req, observer).await;
    if let Some(e) = run.lock_left {
        observer.warning(&format!("could not remove the deploy lock: {e}"));
    }
    let done = run.result?;
    Ok(match done.status {
        RollbackStatus::RolledBack => ("rolledBack", done.stack_status),
        RollbackStatus::Unchanged => ("unchanged", done.stack_status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployer_aws::artifacts::RemoteObject;

    fn dep(dir: &str) -> Deployment {
        Deployment {
            directory: dir.into(),
            objects: vec![RemoteObject {
                key: format!("{dir}/a.zip"),
                size: 1,
                last_modified: None,
            }],
        }
    }

    #[test]
    fn timestamps_match_ms_or_iso() {
        let list = [
            dep("serverless/s/dev/1000-2026-01-01T00:00:01.000Z"),
            dep("serverless/s/dev/2000-2026-01-01T00:00:02.000Z"),
        ];
        assert_eq!(find(&list, "2000").unwrap().directory, list[1].directory);
        assert_eq!(
            find(&list, "2026-01-01T00:00:01.000Z").unwrap().directory,
            list[0].directory
        );
        assert!(find(&list, "3000").is_none());
    }

    #[test]
    fn referenced_keys_are_found_anywhere() {
        let d = "serverless/s/dev/1000-x";
        let t = serde_json::json!({"Resources": {"F": {"Properties": {"Code": {
            "S3Key": format!("{d}/a.zip")}}}, "G": {"Properties": {"Code": {
            "S3Key": "serverless/s/dev/999-y/b.zip"}}}}});
        let mut keys = Vec::new();
        referenced_keys(&t, d, &mut keys);
        assert_eq!(keys, vec![format!("{d}/a.zip")]);
    }
}
