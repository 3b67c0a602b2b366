//! Starting a stack update, shared by deploy and rollback: one UpdateStack (an uncertain
//! answer settled by reading the stack) or v3's `<stack>-change-set`, created then executed.

use std::time::SystemTime;

use aws_sdk_cloudformation::types::{Capability, ChangeSetType};

use crate::error::AwsError;
use crate::stack::{self, ChangeSetResult, StackParams, TemplateSource, UpdateStart, Waits};

use super::request::Method;

/// Starts updating `params.stack` (id `stack_id`) to `template`, stored at `url`, the way
/// `method` says: one UpdateStack (its uncertain outcomes settled by [`confirm_update`], as
/// `up` does), or v3's `<stack>-change-set` created, then executed.
pub async fn start_update(
    cfn: &aws_sdk_cloudformation::Client,
    params: &StackParams,
    stack_id: &str,
    url: String,
    template: &serde_json::Value,
    method: Method,
    waits: &Waits,
) -> Result<UpdateStart, AwsError> {
    let caps = stack::capabilities(template);
    match method {
        Method::Direct => {
            let sent_at = SystemTime::now();
            let sent = stack::update(cfn, params, &url, caps).await;
            confirm_update(cfn, &params.stack, template, sent, sent_at).await
        }
        Method::ChangeSets => update_by_change_set(cfn, params, stack_id, url, caps, waits).await,
    }
}

/// v3's change-set update: `<stack>-change-set` from the template at `url`, executed unless
/// it is empty.
pub(crate) async fn update_by_change_set(
    cfn: &aws_sdk_cloudformation::Client,
    params: &StackParams,
    stack_id: &str,
    url: String,
    caps: Vec<Capability>,
    waits: &Waits,
) -> Result<UpdateStart, AwsError> {
    let created = stack::create_change_set(
        cfn,
        params,
        &stack::change_set_name(&params.stack),
        &TemplateSource::Url(url),
        caps,
        ChangeSetType::Update,
        waits,
    )
    .await?;
    match created {
        ChangeSetResult::NoChanges => Ok(UpdateStart::NoChanges),
        ChangeSetResult::Ready { id: cs, .. } => {
            stack::execute_change_set(cfn, params, &cs).await?;
            Ok(UpdateStart::Started(stack_id.to_string()))
        }
    }
}

/// True for UpdateStack answers that may follow our own first attempt having landed (the SDK
/// retried after a lost response).
fn maybe_landed(err: &AwsError) -> bool {
    err.is_transient() || err.to_string().contains("can not be updated")
}

/// Read the stack's real state when the outcome of UpdateStack is uncertain (an error after
/// which the update may still have started, or "no updates" that our own lost first attempt
/// may have caused): started when the stack now holds exactly `template`.
pub async fn confirm_update(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    template: &serde_json::Value,
    sent: Result<UpdateStart, AwsError>,
    run_started: SystemTime,
) -> Result<UpdateStart, AwsError> {
    let err = match sent {
        Ok(UpdateStart::Started(id)) => return Ok(UpdateStart::Started(id)),
        Ok(UpdateStart::NoChanges) => None,
        Err(e) if maybe_landed(&e) => Some(e),
        Err(e) => return Err(e.with_state("the stack was not changed; re-running is safe")),
    };
    let info = stack::describe(cfn, stack).await;
    let body = stack::template(cfn, stack).await;
    let (info, body) = match (info, body) {
        (Ok(Some(info)), Ok(body)) => (info, body),
        _ => {
            return match err {
                None => Ok(UpdateStart::NoChanges),
                Some(e) => Err(e.with_state(format!(
                    "the stack's state could not be read either: check it with `deployer info` \
                     (stack {stack}); re-running is safe"
                ))),
            };
        }
    };
    let ours = body.as_ref() == Some(template);
    let recent = info.last_updated.is_some_and(|t| t >= run_started);
    match err {
        None if ours && recent => Ok(UpdateStart::Started(info.id)),
        None => Ok(UpdateStart::NoChanges),
        Some(_) if ours => Ok(UpdateStart::Started(info.id)),
        Some(e) => Err(e.with_state(format!(
            "the stack was not changed by this run (status {}); re-running is safe",
            info.status
        ))),
    }
}
