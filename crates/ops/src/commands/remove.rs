//! `remove`: delete deployer's objects of the stage from the deployment bucket (another
//! service's objects under an overlapping prefix stay, and are counted), delete the stack and
//! wait. A protected stage is refused; a stage the configuration pins to an account needs a
//! confirmation first.

use anyhow::Context as _;
use deployer_aws::AwsSession;
use deployer_aws::flow::remove::{RemoveOutcome, RemoveRequest};
use deployer_aws::stack::{StackParams, Waits};
use deployer_config::Resolved;
use deployer_config::model::Service;
use serde::Serialize;

use crate::calls::AwsCalls;
pub use crate::errors::ConfirmationRequired;
use crate::observer::{Action, Observer};
use crate::pipeline::hooks::{self, HostRun, PluginHost};
use crate::pipeline::protect::{self, Shortcut};
use crate::pipeline::stack;
use crate::pipeline::stage::{self, Guard, StageOptions};

/// How a removal of a pinned stage is confirmed.
pub enum Confirmation<'a> {
    /// Confirmed in advance (`--yes`).
    Given,
    /// Ask: gets the stack name and the account, returns whether to go on.
    Ask(&'a dyn Fn(&str, &str) -> anyhow::Result<bool>),
    /// Nobody can answer (no terminal): a pinned stage is not removed.
    Unavailable,
}

/// What to remove.
pub struct RemoveOptions<'a> {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// How a pinned stage is confirmed.
    pub confirmation: Confirmation<'a>,
}

/// The result of `remove`.
#[derive(Debug)]
pub enum Removal {
    /// The stack and its artifacts are gone.
    Removed(Box<Removed>),
    /// The person asked declined; nothing was removed.
    Declined,
}

/// A removed stage.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// Always `removed`.
    pub status: &'static str,
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// The account removed from.
    pub account: String,
    /// Region.
    pub region: String,
    /// The deployment bucket, when one was found.
    pub bucket: Option<String>,
    /// Objects deleted under the stage's prefix: deployer's own for this service and stage.
    pub objects_deleted: usize,
    /// Objects under the stage's prefix that deployer did not write for this service and stage
    /// (another service's under an overlapping prefix, a user's file): left in place.
    pub objects_left: usize,
    /// Up to five of the keys left.
    pub left_keys: Vec<String>,
    /// Duration in milliseconds.
    pub millis: u64,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// Opens the stage (guard first), confirms a pinned stage, then removes it.
pub async fn remove(
    options: &RemoveOptions<'_>,
    observer: &dyn Observer,
) -> anyhow::Result<Removal> {
    let stage = stage::open(&options.stage, Guard::Enforce, observer).await?;
    protect::refuse(&stage.source.stage, Shortcut::Remove)?;
    let resolved = stage
        .source
        .resolve(None, &mut stage.aws_answers(), observer)?;
    let service = stage.source.service(&resolved)?;
    let session = &stage.session;
    let stack = stack::name(&service, &resolved.stage);
    observer.announce(Action::Remove, &service.service, session);
    if !confirmed(&options.confirmation, session, &resolved.stage, &stack)? {
        return Ok(Removal::Declined);
    }
    let params = StackParams {
        stack,
        region: session.region.clone(),
        role_arn: stack::deployment_role(&service),
        ..Default::default()
    };
    let req = RemoveRequest {
        params,
        deployment_prefix: stack::deployment_prefix(&service).to_string(),
        service: service.service.clone(),
        stage: resolved.stage.clone(),
        bucket: stack::bucket_choice(&service),
        waits: Waits::default(),
    };
    let mut host = remove_host(&stage, &resolved, &service, &options.stage, observer)?;
    if let Some(host) = host.as_mut() {
        // v3's `before:remove:remove`: a failing hook stops the removal before any delete.
        let hooked = tokio::task::block_in_place(|| host.before_remove(observer));
        stage.ensure_proven()?;
        hooked?;
    }
    let removed = stage
        .run(async {
            let removed = deployer_aws::flow::remove::remove(&stage.clients, &req, observer);
            Ok(removed.await?)
        })
        .await?;
    if let Some(host) = host.as_mut() {
        let hooked = tokio::task::block_in_place(|| host.after_remove(observer));
        stage.ensure_proven()?;
        hooked.context("the stack was removed, then a plugin's after-remove hook failed")?;
    }
    if removed.objects_left > 0 {
        observer.warning(&left_warning(&removed));
    }
    Ok(Removal::Removed(Box::new(Removed {
        status: "removed",
        stack: removed.stack,
        stack_id: removed.stack_id,
        account: session.identity.account.clone(),
        region: session.region.clone(),
        bucket: removed.bucket,
        objects_deleted: removed.objects_deleted,
        objects_left: removed.objects_left,
        left_keys: removed.left_keys,
        millis: removed.millis,
        aws_calls: stage.calls(),
    })))
}

/// The plugin host for the remove hooks, when a declared plugin needs it.
fn remove_host(
    stage: &stage::Stage,
    resolved: &Resolved,
    service: &Service,
    options: &StageOptions,
    observer: &dyn Observer,
) -> anyhow::Result<Option<PluginHost>> {
    let plugins = crate::pipeline::plugins::check(service, &options.service, None, observer)?;
    let run = HostRun {
        command: "remove",
        service_dir: &stage.source.file.dir,
        config_file: &stage.source.file.path,
        config: &resolved.value,
        stage: &resolved.stage,
        region: &resolved.region,
        instance_id: &resolved.instance_id,
        artifact_directory_name: "",
        deployment_prefix: stack::deployment_prefix(service),
    };
    hooks::start(&plugins, &run, Some(stage.session.clone()), observer)
}

/// Names what `remove` left in the bucket and why.
fn left_warning(removed: &RemoveOutcome) -> String {
    format!(
        "{} object(s) under the stage's prefix in s3://{} were not written by deployer for this \
         service and stage and were left in place (e.g. {}); delete them yourself if they are \
         not another service's",
        removed.objects_left,
        removed.bucket.as_deref().unwrap_or_default(),
        removed.left_keys.join(", ")
    )
}

/// Whether to go on: as `confirmation` says for a stage the configuration pins
/// (`allowedAccountIds`, `forbiddenAccountIds`); at once for a stage known only from the
/// lock file's automatic record or `--expect-account`, as v3 removes without a prompt (the
/// CI teardown of short-lived stages). A protected stage never gets here.
fn confirmed(
    confirmation: &Confirmation<'_>,
    session: &AwsSession,
    stage: &str,
    stack: &str,
) -> anyhow::Result<bool> {
    if !session.pin.config_pins() {
        return Ok(true);
    }
    match confirmation {
        Confirmation::Given => Ok(true),
        Confirmation::Ask(ask) => ask(stack, &session.identity.account),
        Confirmation::Unavailable => Err(ConfirmationRequired {
            stage: stage.to_string(),
            stack: stack.to_string(),
        }
        .into()),
    }
}
