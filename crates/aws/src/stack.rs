//! CloudFormation stack operations: describe, create, update (direct or change set), delete,
//! and following an operation's events until it settles.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, OnFailure, Parameter, StackStatus, Tag,
};
use serde::Serialize;

use crate::error::{AwsError, FailureKind, ResourceFailure, console_url, is_missing_stack};
use crate::progress::{Progress, Scoped, StackEvent};

/// What `DescribeStacks` says about a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// Stack ARN.
    pub id: String,
    /// Stack name.
    pub name: String,
    /// Status, e.g. `UPDATE_COMPLETE`.
    pub status: String,
    /// Status reason, when given.
    pub status_reason: Option<String>,
    /// Outputs in stack order.
    pub outputs: Vec<StackOutput>,
    /// Creation time.
    pub created: Option<SystemTime>,
    /// Last update time (absent when never updated).
    pub last_updated: Option<SystemTime>,
}

/// One stack output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackOutput {
    /// Output key.
    pub key: String,
    /// Output value.
    pub value: String,
    /// Export name, when exported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_name: Option<String>,
    /// Description, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl StackInfo {
    /// The value of output `key`.
    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.value.as_str())
    }

    /// Time of the last successful or attempted change (update, else creation).
    pub fn last_changed(&self) -> Option<SystemTime> {
        self.last_updated.or(self.created)
    }
}

/// How the stack's status decides what a deploy does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackState {
    /// Ready for an update (`CREATE_COMPLETE`, `UPDATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, ...).
    Ready,
    /// Busy with an operation: wait for it.
    Busy,
    /// Never finished creating (`ROLLBACK_COMPLETE`, or `REVIEW_IN_PROGRESS` with nothing
    /// created): holds no resources, so it is deleted and created again.
    Recreate,
    /// Only a manual step can fix it; the text is the step.
    Stuck(String),
}

/// Classify a stack status for the deploy flow.
pub fn classify(status: &str, stack: &str, region: &str) -> StackState {
    match status {
        "ROLLBACK_COMPLETE" | "REVIEW_IN_PROGRESS" => StackState::Recreate,
        "UPDATE_ROLLBACK_FAILED" => StackState::Stuck(format!(
            "finish the rollback first with `aws cloudformation continue-update-rollback \
             --stack-name {stack} --region {region}` (add `--resources-to-skip <LogicalId>` for \
             resources that cannot roll back), then deploy again"
        )),
        "ROLLBACK_FAILED" | "DELETE_FAILED" => StackState::Stuck(format!(
            "delete it with `aws cloudformation delete-stack --stack-name {stack} --region \
             {region}` (add `--retain-resources <LogicalId>` for resources that cannot be \
             deleted), then deploy again"
        )),
        "IMPORT_ROLLBACK_FAILED" => StackState::Stuck(format!(
            "resolve the failed import in the CloudFormation console for stack {stack} in \
             {region}, then deploy again"
        )),
        s if s.ends_with("_IN_PROGRESS") => StackState::Busy,
        _ => StackState::Ready,
    }
}

/// True when the stack's last operation completed successfully (the only states in which an
/// unchanged deploy may be skipped).
pub fn last_operation_succeeded(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    )
}

/// Polling and waiting limits.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    /// Delay before the first poll of an operation.
    pub first_poll: Duration,
    /// Longest delay between polls (the delay doubles up to this).
    pub max_poll: Duration,
    /// Longest time to follow one stack operation (`--timeout`; default 30 minutes).
    pub operation: Duration,
    /// Longest time to wait for a busy stack (another operation in progress) to settle.
    pub settle: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            first_poll: Duration::from_millis(100),
            max_poll: Duration::from_secs(4),
            operation: Duration::from_secs(30 * 60),
            settle: Duration::from_secs(30 * 60),
        }
    }
}

impl Waits {
    /// The delay before poll number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        if n == 0 {
            return self.first_poll;
        }
        let base = self.first_poll.max(Duration::from_millis(250));
        base.saturating_mul(1u32 << n.min(16)).min(self.max_poll)
    }
}

/// Parameters shared by create, update and change-set calls (v3's shared stack action params).
#[derive(Debug, Clone, Default)]
pub struct StackParams {
    /// Stack name.
    pub stack: String,
    /// Region (for messages and links).
    pub region: String,
    /// Stack tags (`STAGE` + `provider.stackTags`).
    pub tags: Vec<(String, String)>,
    /// `provider.stackParameters`.
    pub parameters: Vec<(String, String)>,
    /// `provider.notificationArns`.
    pub notification_arns: Vec<String>,
    /// `provider.iam.deploymentRole`.
    pub role_arn: Option<String>,
    /// `provider.disableRollback`.
    pub disable_rollback: bool,
    /// `provider.stackPolicy` as the policy body (`{"Statement": [...]}`).
    pub stack_policy: Option<String>,
    /// `provider.rollbackConfiguration`.
    pub rollback: Option<crate::protection::RollbackTriggers>,
}

/// Where CloudFormation reads the template from.
#[derive(Debug, Clone)]
pub enum TemplateSource {
    /// Inline body (at most 51,200 bytes on AWS).
    Body(String),
    /// An S3 URL.
    Url(String),
}

/// Capabilities v3 passes: IAM + named IAM, plus auto-expand when the template has a Transform.
pub fn capabilities(template: &serde_json::Value) -> Vec<Capability> {
    let mut caps = vec![Capability::CapabilityIam, Capability::CapabilityNamedIam];
    if template.get("Transform").is_some() {
        caps.push(Capability::CapabilityAutoExpand);
    }
    caps
}

fn tags(params: &StackParams) -> Vec<Tag> {
    params
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn parameters(params: &StackParams) -> Vec<Parameter> {
    params
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

/// `DescribeStacks` on `name`; `None` when the stack does not exist.
pub async fn describe(cfn: &Client, name: &str) -> Result<Option<StackInfo>, AwsError> {
    let out = match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(err) => {
            let err = AwsError::call(format!("DescribeStacks on stack \"{name}\""), err);
            if matches!(&err, AwsError::Call { message, .. } if is_missing_stack(message)) {
                return Ok(None);
            }
            return Err(err);
        }
    };
    let Some(stack) = out.stacks().first() else {
        return Ok(None);
    };
    Ok(Some(StackInfo {
        id: stack.stack_id().unwrap_or(name).to_string(),
        name: stack.stack_name().unwrap_or(name).to_string(),
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason().map(str::to_string),
        outputs: stack
            .outputs()
            .iter()
            .map(|o| StackOutput {
                key: o.output_key().unwrap_or_default().to_string(),
                value: o.output_value().unwrap_or_default().to_string(),
                export_name: o.export_name().map(str::to_string),
                description: o.description().map(str::to_string),
            })
            .collect(),
        created: stack
            .creation_time()
            .and_then(|t| SystemTime::try_from(*t).ok()),
        last_updated: stack
            .last_updated_time()
            .and_then(|t| SystemTime::try_from(*t).ok()),
    }))
}

/// The physical id of a resource (e.g. `ServerlessDeploymentBucket`).
pub async fn physical_id(
    cfn: &Client,
    stack: &str,
    logical_id: &str,
) -> Result<Option<String>, AwsError> {
    match cfn
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .stack_resource_detail()
            .and_then(|d| d.physical_resource_id())
            .filter(|id| !id.is_empty())
            .map(str::to_string)),
        Err(err) => {
            let err = AwsError::call(
                format!("DescribeStackResource {logical_id} on stack \"{stack}\""),
                err,
            );
            match &err {
                AwsError::Call { message, .. }
                    if message.contains("does not exist") || message.contains("not found") =>
                {
                    Ok(None)
                }
                _ => Err(err),
            }
        }
    }
}

/// One resource of a deployed stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackResource {
    /// Logical id.
    pub logical_id: String,
    /// Physical id.
    pub physical_id: String,
    /// Type.
    pub resource_type: String,
    /// Status.
    pub status: String,
}

/// Every resource of the stack (`ListStackResources`, all pages).
pub async fn resources(cfn: &Client, stack: &str) -> Result<Vec<StackResource>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cfn
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::call(format!("ListStackResources on stack \"{stack}\""), e))?;
        for r in page.stack_resource_summaries() {
            out.push(StackResource {
                logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
                resource_type: r.resource_type().unwrap_or_default().to_string(),
                status: r
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// `CreateStack` with `OnFailure: DELETE` (or rollback disabled); returns the stack id.
/// `with_parameters` for the full template: its parameters, stack policy and rollback triggers.
pub async fn create(
    cfn: &Client,
    params: &StackParams,
    template: &TemplateSource,
    caps: Vec<Capability>,
    with_parameters: bool,
) -> Result<String, AwsError> {
    let mut req = cfn
        .create_stack()
        .stack_name(&params.stack)
        .set_capabilities(Some(caps))
        .set_tags(Some(tags(params)))
        .set_notification_arns(Some(params.notification_arns.clone()))
        .set_role_arn(params.role_arn.clone());
    if with_parameters {
        // The full template: its parameters, and the policy and triggers v3 gives an update
        // (the core stack holds only the deployment bucket).
        req = req
            .set_parameters(Some(parameters(params)))
            .set_stack_policy_body(params.stack_policy.clone())
            .set_rollback_configuration(params.rollback.as_ref().map(|r| r.sdk()));
    }
    req = match template {
        TemplateSource::Body(b) => req.template_body(b),
        TemplateSource::Url(u) => req.template_url(u),
    };
    req = if params.disable_rollback {
        req.disable_rollback(true)
    } else {
        req.on_failure(OnFailure::Delete)
    };
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::call(format!("CreateStack \"{}\"", params.stack), e))?;
    Ok(out.stack_id().unwrap_or(&params.stack).to_string())
}

/// Result of asking CloudFormation for an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateStart {
    /// The update started; follow the stack id.
    Started(String),
    /// CloudFormation found nothing to change.
    NoChanges,
}

/// True for CloudFormation's two "nothing to change" answers.
pub fn is_no_changes(message: &str) -> bool {
    message.contains("No updates are to be performed")
        || message.contains("didn't contain changes")
        || message.contains("did not contain changes")
}

/// `UpdateStack` with a template URL; "No updates are to be performed" is not an error.
pub async fn update(
    cfn: &Client,
    params: &StackParams,
    template_url: &str,
    caps: Vec<Capability>,
) -> Result<UpdateStart, AwsError> {
    let mut req = cfn
        .update_stack()
        .stack_name(&params.stack)
        .template_url(template_url)
        .set_capabilities(Some(caps))
        .set_parameters(Some(parameters(params)))
        .set_tags(Some(tags(params)))
        .set_notification_arns(Some(params.notification_arns.clone()))
        .set_role_arn(params.role_arn.clone())
        .set_stack_policy_body(params.stack_policy.clone())
        .set_rollback_configuration(params.rollback.as_ref().map(|r| r.sdk()));
    if params.disable_rollback {
        req = req.disable_rollback(true);
    }
    match req.send().await {
        Ok(out) => Ok(UpdateStart::Started(
            out.stack_id().unwrap_or(&params.stack).to_string(),
        )),
        Err(err) => {
            let err = AwsError::call(format!("UpdateStack \"{}\"", params.stack), err);
            match &err {
                AwsError::Call { message, .. } if is_no_changes(message) => {
                    Ok(UpdateStart::NoChanges)
                }
                _ => Err(err),
            }
        }
    }
}

/// One change of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// `True`, `False`, `Conditional` for modifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// Changed attributes/properties, e.g. `Properties.MemorySize`.
    pub details: Vec<String>,
}

/// A change set that was created and described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSetResult {
    /// Ready to execute, with its changes.
    Ready {
        /// Change set id.
        id: String,
        /// The changes.
        changes: Vec<Change>,
    },
    /// CloudFormation found nothing to change (the change set is deleted).
    NoChanges,
}

/// The change-set name v3 uses.
pub fn change_set_name(stack: &str) -> String {
    format!("{stack}-change-set")
}

/// Create a change set (deleting a leftover one of the same name first), wait until it is
/// ready and return its changes. An empty change set (both of CloudFormation's forms) is
/// deleted and reported as [`ChangeSetResult::NoChanges`].
pub async fn create_change_set(
    cfn: &Client,
    params: &StackParams,
    name: &str,
    template: &TemplateSource,
    caps: Vec<Capability>,
    kind: ChangeSetType,
    waits: &Waits,
) -> Result<ChangeSetResult, AwsError> {
    let Some(id) = send_change_set(cfn, params, name, template, caps, kind).await? else {
        return Ok(ChangeSetResult::NoChanges);
    };
    let started = Instant::now();
    let mut poll = 0;
    loop {
        tokio::time::sleep(waits.delay(poll)).await;
        poll += 1;
        let described = describe_change_set(cfn, params, name, &id).await?;
        match described.status {
            Some(ChangeSetStatus::CreateComplete) => {
                return Ok(ChangeSetResult::Ready {
                    id,
                    changes: described.changes,
                });
            }
            Some(ChangeSetStatus::Failed) => {
                return change_set_failed(cfn, params, name, &id, described.reason).await;
            }
            status if started.elapsed() > waits.operation => {
                return Err(AwsError::Timeout {
                    stack: params.stack.clone(),
                    status: format!(
                        "change set {}",
                        status.map(|s| s.as_str().to_string()).unwrap_or_default()
                    ),
                    waited: started.elapsed(),
                });
            }
            _ => {}
        }
    }
}

/// CreateChangeSet, after deleting a leftover change set of the same name. The change set's
/// id; `None` when CloudFormation refused it for having no changes.
async fn send_change_set(
    cfn: &Client,
    params: &StackParams,
    name: &str,
    template: &TemplateSource,
    caps: Vec<Capability>,
    kind: ChangeSetType,
) -> Result<Option<String>, AwsError> {
    // A leftover change set of the same name makes CreateChangeSet fail; deleting a missing one
    // is harmless, so errors here are not interesting.
    if kind == ChangeSetType::Update {
        let _ = cfn
            .delete_change_set()
            .stack_name(&params.stack)
            .change_set_name(name)
            .send()
            .await;
    }
    let mut req = cfn
        .create_change_set()
        .stack_name(&params.stack)
        .change_set_name(name)
        .change_set_type(kind)
        .set_capabilities(Some(caps))
        .set_parameters(Some(parameters(params)))
        .set_tags(Some(tags(params)))
        .set_notification_arns(Some(params.notification_arns.clone()))
        .set_role_arn(params.role_arn.clone())
        .set_rollback_configuration(params.rollback.as_ref().map(|r| r.sdk()));
    req = match template {
        TemplateSource::Body(b) => req.template_body(b),
        TemplateSource::Url(u) => req.template_url(u),
    };
    match req.send().await {
        Ok(out) => Ok(Some(out.id().unwrap_or(name).to_string())),
        Err(err) => {
            let err = AwsError::call(format!("CreateChangeSet \"{name}\""), err);
            match &err {
                AwsError::Call { message, .. } if is_no_changes(message) => Ok(None),
                _ => Err(err),
            }
        }
    }
}

/// One DescribeChangeSet poll, every page of changes read once the change set is complete.
struct Described {
    status: Option<ChangeSetStatus>,
    reason: Option<String>,
    changes: Vec<Change>,
}

/// Reads change set `id` (all pages when it is complete).
async fn describe_change_set(
    cfn: &Client,
    params: &StackParams,
    name: &str,
    id: &str,
) -> Result<Described, AwsError> {
    let mut changes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = cfn
            .describe_change_set()
            .change_set_name(id)
            .stack_name(&params.stack)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::call(format!("DescribeChangeSet \"{name}\""), e))?;
        let status = out.status().cloned();
        changes.extend(
            out.changes()
                .iter()
                .filter_map(|c| c.resource_change())
                .map(change_of),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() && status == Some(ChangeSetStatus::CreateComplete) => {
                token = Some(t.to_string())
            }
            _ => {
                return Ok(Described {
                    status,
                    reason: out.status_reason().map(str::to_string),
                    changes,
                });
            }
        }
    }
}

/// One resource change as [`Change`].
fn change_of(rc: &aws_sdk_cloudformation::types::ResourceChange) -> Change {
    Change {
        action: rc
            .action()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
        logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
        resource_type: rc.resource_type().unwrap_or_default().to_string(),
        replacement: rc.replacement().map(|r| r.as_str().to_string()),
        details: rc
            .details()
            .iter()
            .filter_map(|d| d.target())
            .map(|t| {
                let attr = t.attribute().map(|a| a.as_str()).unwrap_or("");
                match t.name() {
                    Some(n) => format!("{attr}.{n}"),
                    None => attr.to_string(),
                }
            })
            .collect(),
    }
}

/// A change set that failed: deleted and reported as no changes when that is why, else the
/// error with CloudFormation's reason.
async fn change_set_failed(
    cfn: &Client,
    params: &StackParams,
    name: &str,
    id: &str,
    reason: Option<String>,
) -> Result<ChangeSetResult, AwsError> {
    let reason = reason.unwrap_or_default();
    if is_no_changes(&reason) {
        let _ = cfn
            .delete_change_set()
            .change_set_name(id)
            .stack_name(&params.stack)
            .send()
            .await;
        return Ok(ChangeSetResult::NoChanges);
    }
    Err(AwsError::failed(
        format!("CreateChangeSet \"{name}\" on stack \"{}\"", params.stack),
        format!("Could not create the change set: {reason}"),
        FailureKind::Service,
    ))
}

/// Execute a change set; returns the stack id to follow.
pub async fn execute_change_set(
    cfn: &Client,
    params: &StackParams,
    change_set_id: &str,
) -> Result<(), AwsError> {
    let mut req = cfn
        .execute_change_set()
        .change_set_name(change_set_id)
        .stack_name(&params.stack);
    if params.disable_rollback {
        req = req.disable_rollback(true);
    }
    req.send().await.map_err(|e| {
        AwsError::call(format!("ExecuteChangeSet on stack \"{}\"", params.stack), e)
    })?;
    Ok(())
}

/// Delete a change set (used by `diff`).
pub async fn delete_change_set(cfn: &Client, stack: &str, id: &str) -> Result<(), AwsError> {
    cfn.delete_change_set()
        .stack_name(stack)
        .change_set_name(id)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("DeleteChangeSet on stack \"{stack}\""), e))?;
    Ok(())
}

/// `DeleteStack`.
pub async fn delete(cfn: &Client, stack: &str, role_arn: Option<&str>) -> Result<(), AwsError> {
    cfn.delete_stack()
        .stack_name(stack)
        .set_role_arn(role_arn.map(str::to_string))
        .send()
        .await
        .map_err(|e| AwsError::call(format!("DeleteStack \"{stack}\""), e))?;
    Ok(())
}

/// The deployed template (`GetTemplate`, original stage), parsed as JSON when it is JSON.
pub async fn template(cfn: &Client, stack: &str) -> Result<Option<serde_json::Value>, AwsError> {
    let out = cfn
        .get_template()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("GetTemplate on stack \"{stack}\""), e))?;
    Ok(out
        .template_body()
        .and_then(|b| serde_json::from_str(b).ok()))
}

/// The kind of stack operation being followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// CreateStack or a CREATE change set.
    Create,
    /// UpdateStack or an UPDATE change set.
    Update,
    /// DeleteStack.
    Delete,
}

impl Operation {
    /// `create`, `update`, `delete`.
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    fn start_status(self) -> &'static str {
        match self {
            Operation::Create => "CREATE_IN_PROGRESS",
            Operation::Update => "UPDATE_IN_PROGRESS",
            Operation::Delete => "DELETE_IN_PROGRESS",
        }
    }

    fn success_status(self) -> &'static str {
        match self {
            Operation::Create => "CREATE_COMPLETE",
            Operation::Update => "UPDATE_COMPLETE",
            Operation::Delete => "DELETE_COMPLETE",
        }
    }
}

/// How a followed operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    /// Final stack status.
    pub status: String,
    /// Number of event polls.
    pub polls: u32,
}

const MAX_EVENT_PAGES: usize = 5;
const MAX_POLL_ERRORS: u32 = 6;

/// Follow a stack operation by polling `DescribeStackEvents` adaptively (first poll after
/// `waits.first_poll`, then doubling up to `waits.max_poll`), reporting each new event.
/// Returns when the stack reaches a final status: success for the operation's `*_COMPLETE`;
/// otherwise, after the rollback has finished, [`AwsError::StackFailed`] naming the first
/// resource that failed.
pub async fn follow(
    cfn: &Client,
    stack_id: &str,
    stack_name: &str,
    region: &str,
    op: Operation,
    waits: &Waits,
    progress: Scoped<'_>,
) -> Result<Followed, AwsError> {
    let started = Instant::now();
    let mut seen: HashSet<String> = HashSet::new();
    let mut found_start = false;
    let mut failure: Option<Box<ResourceFailure>> = None;
    let mut status = String::new();
    let mut polls = 0u32;
    let mut errors = 0u32;
    loop {
        tokio::time::sleep(waits.delay(polls)).await;
        polls += 1;
        let events = match fetch_events(cfn, stack_id, &seen).await {
            Ok(events) => {
                errors = 0;
                events
            }
            Err(err) => {
                let message = err.to_string();
                if op == Operation::Delete && is_missing_stack(&message) {
                    return Ok(Followed {
                        status: "DELETE_COMPLETE".into(),
                        polls,
                    });
                }
                // The SDK already retried; a failed read says nothing about the operation,
                // which keeps running. Throttling: poll on at the slowest rate. Other transient
                // failures: ask DescribeStacks for the real state.
                if err.is_transient() && err.kind() != Some(FailureKind::Throttled) {
                    match settled_by_describe(cfn, stack_id, stack_name, region, op).await {
                        Settled::Done(done) => {
                            return done.map(|status| Followed { status, polls });
                        }
                        Settled::Busy if started.elapsed() <= waits.operation => {
                            tokio::time::sleep(waits.max_poll).await;
                            continue;
                        }
                        Settled::Busy | Settled::Unknown => {}
                    }
                }
                if err.is_transient() && errors < MAX_POLL_ERRORS {
                    errors += 1;
                    tokio::time::sleep(waits.max_poll).await;
                    continue;
                }
                return Err(err.with_state(format!(
                    "the stack {} may still be running; check it with `deployer info` and \
                     re-run when it has finished (re-running is safe)",
                    op.verb()
                )));
            }
        };
        // Newest first from the API; ours start at the newest stack-level start event.
        let mut ours: Vec<RawEvent> = Vec::new();
        if found_start {
            ours = events;
        } else if let Some(pos) = events
            .iter()
            .position(|e| e.event.is_stack && e.event.status == op.start_status())
        {
            found_start = true;
            ours = events[..=pos].to_vec();
        } else {
            for e in &events {
                seen.insert(e.id.clone());
            }
        }
        for e in ours.into_iter().rev() {
            if !seen.insert(e.id.clone()) {
                continue;
            }
            if e.event.is_stack {
                status = e.event.status.clone();
            } else if failure.is_none() && e.event.status.ends_with("FAILED") {
                failure = Some(Box::new(ResourceFailure {
                    logical_id: e.event.logical_id.clone(),
                    resource_type: e.event.resource_type.clone(),
                    status: e.event.status.clone(),
                    reason: e.event.reason.clone().unwrap_or_default(),
                }));
            }
            let settled = e.event.is_stack && !e.event.status.ends_with("_IN_PROGRESS");
            progress.report(|scope| Progress::Event {
                scope,
                event: e.event,
            });
            // Our operation ended here; later events belong to someone else's next operation.
            if settled {
                break;
            }
        }
        if found_start && !status.is_empty() && !status.ends_with("_IN_PROGRESS") {
            if status == op.success_status() {
                return Ok(Followed { status, polls });
            }
            return Err(AwsError::StackFailed {
                stack: stack_name.to_string(),
                operation: op.verb(),
                status,
                failure,
                console_url: console_url(region, stack_id),
            });
        }
        if started.elapsed() > waits.operation {
            return Err(AwsError::Timeout {
                stack: stack_name.to_string(),
                status: if status.is_empty() {
                    op.start_status().into()
                } else {
                    status
                },
                waited: started.elapsed(),
            });
        }
    }
}

/// What DescribeStacks says when the events cannot be read.
enum Settled {
    /// The operation ended: its final status, or how it failed.
    Done(Result<String, AwsError>),
    /// Still running.
    Busy,
    /// The stack cannot be read either.
    Unknown,
}

async fn settled_by_describe(
    cfn: &Client,
    stack_id: &str,
    stack_name: &str,
    region: &str,
    op: Operation,
) -> Settled {
    let info = match describe(cfn, stack_id).await {
        Ok(Some(info)) => info,
        Ok(None) if op == Operation::Delete => return Settled::Done(Ok("DELETE_COMPLETE".into())),
        _ => return Settled::Unknown,
    };
    if info.status.ends_with("_IN_PROGRESS") {
        return Settled::Busy;
    }
    if info.status == op.success_status() {
        return Settled::Done(Ok(info.status));
    }
    Settled::Done(Err(AwsError::StackFailed {
        stack: stack_name.to_string(),
        operation: op.verb(),
        status: info.status,
        failure: None,
        console_url: console_url(region, stack_id),
    }))
}

#[derive(Debug, Clone)]
struct RawEvent {
    id: String,
    event: StackEvent,
}

/// New events, newest first: pages until an already-seen event (bounded).
async fn fetch_events(
    cfn: &Client,
    stack_id: &str,
    seen: &HashSet<String>,
) -> Result<Vec<RawEvent>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_EVENT_PAGES {
        let page = cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                AwsError::call(format!("DescribeStackEvents on stack \"{stack_id}\""), e)
            })?;
        let mut reached_seen = false;
        for e in page.stack_events() {
            let id = e.event_id().unwrap_or_default().to_string();
            if seen.contains(&id) {
                reached_seen = true;
                break;
            }
            let logical = e.logical_resource_id().unwrap_or_default().to_string();
            let rtype = e.resource_type().unwrap_or_default().to_string();
            let is_stack = rtype == "AWS::CloudFormation::Stack"
                && (e.physical_resource_id() == Some(stack_id) || e.stack_name() == Some(&logical));
            out.push(RawEvent {
                id,
                event: StackEvent {
                    timestamp: e.timestamp().and_then(|t| SystemTime::try_from(*t).ok()),
                    logical_id: logical,
                    resource_type: rtype,
                    status: e
                        .resource_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: e.resource_status_reason().map(str::to_string),
                    is_stack,
                },
            });
        }
        match page.next_token() {
            Some(t) if !reached_seen && !t.is_empty() && !seen.is_empty() => {
                token = Some(t.to_string())
            }
            _ => break,
        }
    }
    Ok(out)
}

/// Wait until a busy stack settles (any status not ending in `_IN_PROGRESS`, or gone),
/// reporting progress; `None` when the stack disappeared (a delete finished).
pub async fn wait_settled(
    cfn: &Client,
    name: &str,
    waits: &Waits,
    progress: Scoped<'_>,
) -> Result<Option<StackInfo>, AwsError> {
    let started = Instant::now();
    let mut poll = 0u32;
    loop {
        let Some(info) = describe(cfn, name).await? else {
            return Ok(None);
        };
        if info.status == StackStatus::ReviewInProgress.as_str()
            || !info.status.ends_with("_IN_PROGRESS")
        {
            return Ok(Some(info));
        }
        if started.elapsed() > waits.settle {
            return Err(AwsError::Timeout {
                stack: name.to_string(),
                status: info.status,
                waited: started.elapsed(),
            });
        }
        progress.report(|scope| Progress::StackBusy {
            scope,
            status: info.status.clone(),
            waited: started.elapsed(),
        });
        // Other tools' operations take minutes: never poll faster than once a second here.
        tokio::time::sleep(
            waits
                .delay(poll + 2)
                .max(Duration::from_secs(1).min(waits.max_poll)),
        )
        .await;
        poll += 1;
    }
}

/// Validate a stack name as CloudFormation (and v3) require.
pub fn validate_stack_name(name: &str) -> Result<(), AwsError> {
    let ok = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AwsError::Invalid(format!(
            "the stack name \"{name}\" is not valid: it must start with a letter, contain only \
             letters, digits and hyphens, and be at most 128 characters (set provider.stackName \
             or change the service name)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_states() {
        assert_eq!(classify("UPDATE_COMPLETE", "s", "r"), StackState::Ready);
        assert_eq!(
            classify("UPDATE_ROLLBACK_COMPLETE", "s", "r"),
            StackState::Ready
        );
        assert_eq!(classify("UPDATE_IN_PROGRESS", "s", "r"), StackState::Busy);
        assert_eq!(
            classify("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "s", "r"),
            StackState::Busy
        );
        assert_eq!(
            classify("ROLLBACK_COMPLETE", "s", "r"),
            StackState::Recreate
        );
        assert_eq!(
            classify("REVIEW_IN_PROGRESS", "s", "r"),
            StackState::Recreate
        );
        let StackState::Stuck(step) = classify("UPDATE_ROLLBACK_FAILED", "svc-prod", "eu-west-1")
        else {
            panic!("expected a manual step")
        };
        assert!(step.contains(
            "aws cloudformation continue-update-rollback --stack-name svc-prod --region eu-west-1"
        ));
        assert!(matches!(
            classify("DELETE_FAILED", "s", "r"),
            StackState::Stuck(_)
        ));
    }

    #[test]
    fn only_successful_operations_allow_skipping() {
        assert!(last_operation_succeeded("UPDATE_COMPLETE"));
        assert!(last_operation_succeeded("CREATE_COMPLETE"));
        assert!(!last_operation_succeeded("UPDATE_ROLLBACK_COMPLETE"));
        assert!(!last_operation_succeeded("UPDATE_IN_PROGRESS"));
    }

    #[test]
    fn polling_backs_off_to_the_cap() {
        let w = Waits::default();
        assert!(w.delay(0) <= Duration::from_millis(250));
        assert!(w.delay(1) > w.delay(0));
        assert!(w.delay(2) > w.delay(1));
        assert_eq!(w.delay(30), Duration::from_secs(4));
    }

    #[test]
    fn stack_names() {
        assert!(validate_stack_name("service-name-dev").is_ok());
        assert!(validate_stack_name("1abc").is_err());
        assert!(validate_stack_name("a_b").is_err());
        assert!(validate_stack_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn capabilities_add_auto_expand_for_transforms() {
        let plain = serde_json::json!({"Resources": {}});
        let sam = serde_json::json!({"Transform": "AWS::Serverless-2016-10-31", "Resources": {}});
        assert_eq!(capabilities(&plain).len(), 2);
        assert!(capabilities(&sam).contains(&Capability::CapabilityAutoExpand));
    }

    #[test]
    fn both_no_change_forms_are_recognised() {
        assert!(is_no_changes("No updates are to be performed."));
        assert!(is_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(!is_no_changes("Template format error"));
    }
}
