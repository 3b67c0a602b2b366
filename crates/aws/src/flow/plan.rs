//! The plan flow (`diff --out`): what `up` would change, kept to be executed later exactly as
//! reviewed. Change detection as `up`; when something changed, the template and the zips are
//! uploaded into a new deployment directory (as `up` does) and a change set
//! `<stack>-deployer-plan-<ms>` is created from that template and kept. A change set without
//! changes is deleted with the uploads.

use std::time::SystemTime;

use aws_sdk_cloudformation::types::ChangeSetType;
use serde::Serialize;

use crate::artifacts::{self, TEMPLATE_FILE, template_url};
use crate::change_set::sha256_base64;
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::progress::{Reporter, Scoped};
use crate::stack::{self, Change, ChangeSetResult, StackInfo, TemplateSource};

use super::broadening::{Broadening, broadening};
use super::changes::drop_identical;
use super::diff::{Compared, compared};
use super::request::DeployRequest;
use super::{ready_stack, stack_bucket};

/// One uploaded object of a plan and its SHA-256 (base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedObject {
    /// File name in the deployment directory.
    pub name: String,
    /// Its S3 key.
    pub key: String,
    /// SHA-256 of its bytes, base64.
    pub sha256: String,
}

/// What a plan found and kept.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// The stack as it was when planned.
    pub stack: StackInfo,
    /// SHA-256 (base64) of the template the stack ran when planned.
    pub stack_template_sha256: String,
    /// The deployment bucket.
    pub bucket: String,
    /// The kept change set's id (ARN); `None` when there is nothing to change.
    pub change_set_id: Option<String>,
    /// Its name.
    pub change_set_name: String,
    /// The uploaded template (`compiled-cloudformation-template.json`).
    pub template: PlannedObject,
    /// The uploaded zips.
    pub artifacts: Vec<PlannedObject>,
    /// The changes.
    pub changes: Vec<Change>,
    /// The changes that broaden access.
    pub broadening: Vec<Broadening>,
    /// Why there are (or are no) changes.
    pub reason: String,
}

/// Plans `req` on its existing stack; see the module documentation.
pub async fn plan(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
) -> Result<PlanOutcome, AwsError> {
    let scope = req.scope();
    let progress = Scoped::new(&scope, reporter);
    let params = &req.params;
    stack::validate_stack_name(&params.stack)?;
    let Some(info) = ready_stack(clients, params).await? else {
        return Err(AwsError::Invalid(format!(
            "stack \"{}\" does not exist yet: a plan is executed on an existing stack; deploy the \
             stage once with `deployer up`, then plan its changes",
            params.stack
        )));
    };
    let bucket = stack_bucket(clients, &req.bucket, &info).await?;
    let Compared {
        deployed, check, ..
    } = compared(clients, req, &bucket, &info).await?;
    let text = serde_json::to_string(req.template.as_ref())
        .map_err(|e| AwsError::Invalid(format!("template: {e}")))?;
    let mut outcome = planned(req, info, bucket, &text, check.reason.clone());
    outcome.stack_template_sha256 = sha256_base64(deployed.as_deref().unwrap_or("").as_bytes());
    if check.unchanged {
        return Ok(outcome);
    }
    let deployed_value = deployed
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok());
    outcome.broadening = broadening(deployed_value.as_ref(), &req.template);
    let no_changes = super::changes::ChangeCheck::changed("planned");
    super::write::upload(clients, req, &outcome.bucket, &no_changes, progress).await?;
    let url = template_url(&outcome.bucket, &params.region, &outcome.template.key);
    let created = stack::create_change_set(
        &clients.cfn,
        params,
        &outcome.change_set_name,
        &TemplateSource::Url(url),
        stack::capabilities(&req.template),
        ChangeSetType::Update,
        &req.waits,
    )
    .await?;
    match created {
        ChangeSetResult::Ready { id, changes } => {
            outcome.change_set_id = Some(id);
            outcome.changes = drop_identical(changes, &text, deployed.as_deref());
        }
        ChangeSetResult::NoChanges => {
            outcome.reason = "CloudFormation found no changes".into();
            outcome.broadening.clear();
            let keys: Vec<String> = std::iter::once(outcome.template.key.clone())
                .chain(outcome.artifacts.iter().map(|a| a.key.clone()))
                .collect();
            artifacts::delete_keys(&clients.s3, &outcome.bucket, &keys).await?;
        }
    }
    Ok(outcome)
}

/// The outcome before anything is uploaded: the objects the plan uploads and their hashes.
fn planned(
    req: &DeployRequest,
    stack: StackInfo,
    bucket: String,
    text: &str,
    reason: String,
) -> PlanOutcome {
    let dir = &req.artifact_directory;
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    PlanOutcome {
        change_set_name: format!("{}-deployer-plan-{stamp}", req.params.stack),
        stack,
        stack_template_sha256: String::new(),
        bucket,
        change_set_id: None,
        template: PlannedObject {
            name: TEMPLATE_FILE.into(),
            key: format!("{dir}/{TEMPLATE_FILE}"),
            sha256: sha256_base64(text.as_bytes()),
        },
        artifacts: (req.artifacts.iter())
            .map(|a| PlannedObject {
                name: a.name.clone(),
                key: format!("{dir}/{}", a.name),
                sha256: a.sha256_base64.clone(),
            })
            .collect(),
        changes: Vec::new(),
        broadening: Vec::new(),
        reason,
    }
}

/// Deletes the change set `id` a plan kept (`plan --discard`); one already gone is fine.
pub async fn discard(
    cfn: &aws_sdk_cloudformation::Client,
    stack_id: &str,
    id: &str,
) -> Result<(), AwsError> {
    match stack::delete_change_set(cfn, stack_id, id).await {
        Err(AwsError::Call { message, .. }) if message.contains("does not exist") => Ok(()),
        other => other,
    }
}
