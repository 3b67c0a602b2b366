//! The diff flow: what `up` would change, from change detection and a temporary change set
//! that is never executed (deleted afterwards, with the temporary template of a large one).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::types::ChangeSetType;
use serde::Serialize;

use crate::artifacts::{self, Deployment, TEMPLATE_FILE, Upload, UploadBody, template_url};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::progress::{Reporter, Scoped};
use crate::stack::{self, Change, ChangeSetResult, StackInfo, StackParams, TemplateSource};

use super::broadening::{Broadening, broadening};
use super::changes::{ChangeCheck, check_changes, drop_identical};
use super::request::DeployRequest;
use super::{MAX_TEMPLATE_BODY, deployed_template_body, ready_stack, stack_bucket};

/// What `diff` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffOutcome {
    /// Stack name.
    pub stack: String,
    /// False when the stack does not exist yet (every resource is an `Add`).
    pub stack_exists: bool,
    /// The changes (empty when nothing would change).
    pub changes: Vec<Change>,
    /// Why there are no changes, or what was compared.
    pub reason: String,
    /// Clean-up that failed: a temporary change set or template left behind, each naming it
    /// and how to delete it.
    pub warnings: Vec<String>,
    /// The changes that broaden access (new roles, statements, permissions, ingress), from
    /// the deployed template to the new one; a protected stage deploys them only with
    /// `--approve-broadening`.
    pub broadening: Vec<Broadening>,
}

/// Compute what `deploy` would change: nothing when change detection would skip; otherwise a
/// temporary change set (deleted afterwards). Entries that CloudFormation lists as `Modify`
/// without any detail while the resource's definition is identical in the deployed template
/// are dropped (emulators list every resource).
pub async fn diff(
    clients: &AwsClients,
    req: &DeployRequest,
    reporter: &dyn Reporter,
) -> Result<DiffOutcome, AwsError> {
    let scope = req.scope();
    let progress = Scoped::new(&scope, reporter);
    let params = &req.params;
    stack::validate_stack_name(&params.stack)?;
    let Some(info) = ready_stack(clients, params).await? else {
        return Ok(all_added(req));
    };
    let bucket = stack_bucket(clients, &req.bucket, &info).await?;
    let Compared {
        deployments,
        deployed,
        check,
    } = compared(clients, req, &bucket, &info).await?;
    let deployed_value = deployed
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok());
    let widened = broadening(deployed_value.as_ref(), &req.template);
    let outcome = |changes: Vec<Change>, reason, warnings| DiffOutcome {
        stack: params.stack.clone(),
        stack_exists: true,
        changes,
        reason,
        warnings,
        broadening: widened.clone(),
    };
    if check.unchanged {
        // Nothing is deployed: nothing widens.
        return Ok(DiffOutcome {
            broadening: Vec::new(),
            ..outcome(Vec::new(), check.reason, Vec::new())
        });
    }
    let text = local_template(req, &deployments, &check)?;
    let (changes, warnings) =
        preview(clients, req, &bucket, &text, deployed.as_deref(), progress).await?;
    let reason = if changes.is_empty() {
        "CloudFormation found no changes".into()
    } else {
        check.reason
    };
    Ok(outcome(changes, reason, warnings))
}

/// The stack as deployed, beside what an unforced deploy of a request would change.
pub(super) struct Compared {
    /// The deployments under the stage's prefix.
    pub deployments: Vec<Deployment>,
    /// The template the stack runs.
    pub deployed: Option<String>,
    /// Change detection's verdict.
    pub check: ChangeCheck,
}

/// Reads the stage's deployments and the deployed template at once, then runs change
/// detection as an unforced `up` would (diff and plan show what would change, forced or not).
pub(super) async fn compared(
    clients: &AwsClients,
    req: &DeployRequest,
    bucket: &str,
    info: &StackInfo,
) -> Result<Compared, AwsError> {
    let prefix = req.stage_prefix();
    let (deployments, deployed) = tokio::join!(
        artifacts::list_deployments(&clients.s3, bucket, &prefix),
        deployed_template_body(clients, &info.id),
    );
    let (deployments, deployed) = (deployments?, deployed?);
    let mut check_req = req.clone();
    check_req.force = false;
    let check = check_changes(
        clients,
        &check_req,
        bucket,
        info,
        &deployments,
        deployed.as_deref(),
    )
    .await?;
    Ok(Compared {
        deployments,
        deployed,
        check,
    })
}

/// The diff of a stack that does not exist yet: every resource of the template is added.
fn all_added(req: &DeployRequest) -> DiffOutcome {
    let changes = resources_of(&req.template)
        .map(|(id, r)| Change {
            action: "Add".into(),
            logical_id: id.clone(),
            resource_type: r
                .get("Type")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_string(),
            replacement: None,
            details: Vec::new(),
        })
        .collect();
    DiffOutcome {
        stack: req.params.stack.clone(),
        stack_exists: false,
        changes,
        reason: "the stack does not exist yet".into(),
        warnings: Vec::new(),
        broadening: broadening(None, &req.template),
    }
}

/// The template to compare. When every zip is already in the newest deployment, the code keys
/// point there, so the change set shows configuration changes rather than a new upload
/// location.
fn local_template(
    req: &DeployRequest,
    deployments: &[Deployment],
    check: &ChangeCheck,
) -> Result<String, AwsError> {
    let text = serde_json::to_string(req.template.as_ref())
        .map_err(|e| AwsError::Invalid(format!("template: {e}")))?;
    let Some(newest) = deployments.last() else {
        return Ok(text);
    };
    let all_there = req.artifacts.iter().all(|a| {
        let key = format!("{}/{}", newest.directory, a.name);
        check.has(&key, &a.sha256_base64)
    });
    if !all_there || req.artifacts.is_empty() {
        return Ok(text);
    }
    Ok(text.replace(
        &format!("{}/", req.artifact_directory),
        &format!("{}/", newest.directory),
    ))
}

/// Creates the temporary change set of `text` (through a temporary template in the bucket
/// when it is too large to send inline), deletes both, and returns the changes and the
/// clean-up warnings.
async fn preview(
    clients: &AwsClients,
    req: &DeployRequest,
    bucket: &str,
    text: &str,
    deployed: Option<&str>,
    progress: Scoped<'_>,
) -> Result<(Vec<Change>, Vec<String>), AwsError> {
    let params = &req.params;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let temp_key = format!(
        "{}/deployer-diff-{stamp}/{TEMPLATE_FILE}",
        req.stage_prefix()
    );
    let source = template_source(clients, req, bucket, text, &temp_key, progress).await?;
    let name = format!("{}-deployer-diff-{stamp}", params.stack);
    let result = stack::create_change_set(
        &clients.cfn,
        params,
        &name,
        &source,
        stack::capabilities(&req.template),
        ChangeSetType::Update,
        &req.waits,
    )
    .await;
    let mut warnings = Vec::new();
    if matches!(source, TemplateSource::Url(_))
        && let Err(e) =
            artifacts::delete_keys(&clients.s3, bucket, std::slice::from_ref(&temp_key)).await
    {
        warnings.push(temp_template_left(e, bucket, &temp_key));
    }
    let changes = match result? {
        ChangeSetResult::NoChanges => Vec::new(),
        ChangeSetResult::Ready { id, changes } => {
            if let Err(e) = stack::delete_change_set(&clients.cfn, &params.stack, &id).await {
                warnings.push(change_set_left(e, params, &name));
            }
            drop_identical(changes, text, deployed)
        }
    };
    Ok((changes, warnings))
}

/// The template inline when CloudFormation accepts it so, else uploaded to `temp_key`.
async fn template_source(
    clients: &AwsClients,
    req: &DeployRequest,
    bucket: &str,
    text: &str,
    temp_key: &str,
    progress: Scoped<'_>,
) -> Result<TemplateSource, AwsError> {
    if text.len() <= MAX_TEMPLATE_BODY {
        return Ok(TemplateSource::Body(text.to_string()));
    }
    let bytes = text.as_bytes().to_vec();
    let upload = Upload {
        key: temp_key.to_string(),
        size: bytes.len() as u64,
        body: UploadBody::Bytes(bytes),
        content_type: "application/json",
        sha256_base64: req.template_hash.clone(),
    };
    artifacts::upload_all(
        &clients.s3,
        bucket,
        vec![upload],
        clients.timeouts(),
        progress,
    )
    .await?;
    Ok(TemplateSource::Url(template_url(
        bucket,
        &req.params.region,
        temp_key,
    )))
}

/// The warning for a temporary change set of `diff` that could not be deleted.
fn change_set_left(err: AwsError, params: &StackParams, name: &str) -> String {
    let stack = &params.stack;
    with_advice(
        err,
        format!(
            "the temporary change set {name} of stack {stack} was left (diff never executes \
             it); delete it with `aws cloudformation delete-change-set --stack-name {stack} \
             --change-set-name {name} --region {}`",
            params.region
        ),
    )
}

/// The warning for a temporary template of `diff` that could not be deleted.
fn temp_template_left(err: AwsError, bucket: &str, key: &str) -> String {
    with_advice(
        err,
        format!(
            "the temporary template s3://{bucket}/{key} of this diff was left; delete it with \
             `aws s3 rm s3://{bucket}/{key}` (`deployer remove` deletes it with the stage)"
        ),
    )
}

/// `err`'s message with `advice` as where things stand.
fn with_advice(err: AwsError, advice: String) -> String {
    match err {
        AwsError::Call { .. } => err.with_state(advice).to_string(),
        other => format!("{other}; {advice}"),
    }
}

/// The template's resources, by logical id.
fn resources_of(
    template: &serde_json::Value,
) -> impl Iterator<Item = (&String, &serde_json::Value)> {
    template
        .get("Resources")
        .and_then(|r| r.as_object())
        .into_iter()
        .flat_map(|m| m.iter())
}
