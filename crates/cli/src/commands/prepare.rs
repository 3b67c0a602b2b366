//! Shared by `up`, `diff`, `info` and `remove`: open the stage (guard first), resolve the
//! configuration with AWS-backed variables answered by the stage's credentials, package (or
//! read a `--package DIR`), and turn the result into a deploy request.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use deployer_aws::clients::AwsClients;
use deployer_aws::deploy::{BucketChoice, DeployArtifact, DeployRequest, Method};
use deployer_aws::progress::{Progress, Reporter};
use deployer_aws::sources::{AwsVariable, resolve_all};
use deployer_aws::stack::{StackParams, Waits};
use deployer_config::model::{DeploymentBucket, Service};
use deployer_config::{ExternalRequest, ProcessEnv, Resolved};
use serde_json::Value;

use crate::args::{CredentialArgs, ServiceArgs};
use crate::context;
use crate::output::Output;
use crate::packaging::{self, BuildOptions, ConfigSource};

/// What a deploy needs from a package, built now or read back from a directory.
pub struct Deployable {
    /// The resolved service.
    pub service: Service,
    /// Stage.
    pub stage: String,
    /// Region.
    pub region: String,
    /// The core template (deployment bucket).
    pub create: Value,
    /// The full template.
    pub update: Value,
    /// `serverless/<service>/<stage>/<ms>-<ISO>`.
    pub directory: String,
    /// v3's normalized template hash.
    pub template_hash: String,
    /// The zips.
    pub artifacts: Vec<DeployArtifact>,
}

/// A stage opened for AWS work: the guard has passed.
pub struct Opened {
    /// Configuration, settings and the verified session.
    pub stage: context::Stage,
    /// SDK clients with the call counter.
    pub clients: AwsClients,
}

/// Open the stage: configuration → credentials → STS → guard (exit 3 on refusal, before any
/// other AWS call or local write).
pub fn open(
    out: &Output,
    rt: &tokio::runtime::Runtime,
    service: &ServiceArgs,
    creds: &CredentialArgs,
) -> anyhow::Result<Opened> {
    let stage = rt.block_on(context::open(out, service, creds, context::Guard::Enforce))?;
    let counter = stage.session.counter().clone();
    let clients = AwsClients::new(stage.session.sdk_config(), &counter);
    Ok(Opened { stage, clients })
}

/// The answer callback for AWS-backed variables (`aws:accountId`, `cf`, `ssm`, `s3`): each
/// round of requests is answered in parallel with the stage's credentials.
pub fn aws_answers<'a>(
    rt: &'a tokio::runtime::Runtime,
    opened: &'a Opened,
) -> impl FnMut(&[ExternalRequest]) -> Vec<Result<Option<Value>, String>> + 'a {
    move |requests: &[ExternalRequest]| {
        let parsed: Vec<Result<AwsVariable, String>> = requests
            .iter()
            .map(|r| AwsVariable::parse(&r.source, &r.params, r.address.as_deref()))
            .collect();
        let vars: Vec<AwsVariable> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let account = opened.stage.session.account();
        let mut answers = rt
            .block_on(resolve_all(&opened.clients, account, &vars))
            .into_iter();
        parsed
            .into_iter()
            .map(|p| match p {
                Ok(_) => answers.next().unwrap_or(Ok(None)),
                Err(e) => Err(e),
            })
            .collect()
    }
}

fn source(opened: &Opened, service: &ServiceArgs) -> ConfigSource {
    ConfigSource {
        file: opened.stage.config.clone(),
        options: context::cli_options(service),
        stage: opened.stage.settings.clone(),
    }
}

/// Resolve the whole configuration (AWS-backed variables included).
pub fn resolve(
    out: &Output,
    rt: &tokio::runtime::Runtime,
    opened: &Opened,
    service: &ServiceArgs,
) -> anyhow::Result<Resolved> {
    let mut answers = aws_answers(rt, opened);
    let resolved = deployer_config::resolve(
        &opened.stage.config,
        &context::cli_options(service),
        &ProcessEnv,
        &mut answers,
    )?;
    for w in resolved
        .warnings
        .iter()
        .filter(|w| !opened.stage.settings.warnings.contains(w))
    {
        out.warn(w);
    }
    Ok(resolved)
}

/// Package now (into `.serverless/`), or read the `--package DIR` built earlier.
pub fn deployable(
    out: &Output,
    rt: &tokio::runtime::Runtime,
    opened: &Opened,
    service: &ServiceArgs,
    package_dir: Option<&Path>,
) -> anyhow::Result<Deployable> {
    match package_dir {
        None => {
            let mut answers = aws_answers(rt, opened);
            let options = BuildOptions {
                out_dir: None,
                now: SystemTime::now(),
            };
            let build = packaging::build(out, &source(opened, service), &options, &mut answers)?;
            let artifacts = build
                .package
                .artifacts
                .iter()
                .map(|a| DeployArtifact {
                    name: a.name.clone(),
                    path: a.path.clone(),
                    sha256_base64: a.sha256_base64.clone(),
                    size: a.size,
                })
                .collect();
            Ok(Deployable {
                stage: build.manifest.stage.clone(),
                region: build.manifest.region.clone(),
                create: build.templates.create,
                update: build.templates.update,
                directory: build.manifest.artifact_directory_name.clone(),
                template_hash: build.manifest.template_hash.clone(),
                artifacts,
                service: build.service,
            })
        }
        Some(dir) => {
            let resolved = resolve(out, rt, opened, service)?;
            let svc = Service::from_value(&resolved.value).with_context(|| {
                format!(
                    "Invalid configuration in {}",
                    opened.stage.config.path.display()
                )
            })?;
            let p = packaging::load_manifest(dir, &svc.service, &resolved.stage, &resolved.region)?;
            let empty =
                serde_json::json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}});
            Ok(Deployable {
                stage: resolved.stage.clone(),
                region: resolved.region.clone(),
                create: p.create_template.unwrap_or(empty),
                update: p.update_template,
                directory: p.manifest.artifact_directory_name.clone(),
                template_hash: p.manifest.template_hash.clone(),
                artifacts: p
                    .artifacts
                    .iter()
                    .map(|a| DeployArtifact {
                        name: a.name.clone(),
                        path: a.path.clone(),
                        sha256_base64: a.sha256_base64.clone(),
                        size: a.size,
                    })
                    .collect(),
                service: svc,
            })
        }
    }
}

/// The stack name: `provider.stackName` or `<service>-<stage>`.
pub fn stack_name(service: &Service, stage: &str) -> String {
    service
        .provider
        .stack_name
        .clone()
        .unwrap_or_else(|| format!("{}-{stage}", service.service))
}

/// The deployment bucket choice of the configuration.
pub fn bucket_choice(service: &Service) -> BucketChoice {
    match service
        .provider
        .deployment_bucket
        .as_ref()
        .and_then(DeploymentBucket::name)
    {
        Some(name) => BucketChoice::Named(name.to_string()),
        None => BucketChoice::Stack,
    }
}

/// `provider.iam.deploymentRole`.
pub fn deployment_role(service: &Service) -> Option<String> {
    service
        .provider
        .iam
        .as_ref()
        .and_then(|i| i.deployment_role.as_ref())
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The deploy request of a package.
pub fn deploy_request(d: &Deployable, force: bool) -> DeployRequest {
    let service = &d.service;
    let provider = &service.provider;
    let keep = provider
        .deployment_bucket
        .as_ref()
        .and_then(DeploymentBucket::settings)
        .and_then(|s| s.max_previous_deployment_artifacts)
        .unwrap_or(5) as usize;
    let method = match provider.deployment_method.as_deref() {
        Some("changesets") => Method::ChangeSets,
        _ => Method::Direct,
    };
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
    DeployRequest {
        service: service.service.clone(),
        stage: d.stage.clone(),
        params: StackParams {
            stack: stack_name(service, &d.stage),
            region: d.region.clone(),
            tags: deployer_template::stack_tags(service, &d.stage),
            parameters,
            notification_arns,
            role_arn: deployment_role(service),
            disable_rollback: provider.disable_rollback.unwrap_or(false),
        },
        deployment_prefix: provider
            .deployment_prefix
            .clone()
            .unwrap_or_else(|| "serverless".into()),
        bucket: bucket_choice(service),
        max_previous_deployments: keep,
        core_template: d.create.clone(),
        template: d.update.clone(),
        template_hash: d.template_hash.clone(),
        artifact_directory: d.directory.clone(),
        artifacts: d.artifacts.clone(),
        method,
        force,
        waits: Waits::default(),
        lock: deployer_aws::lock::LockOptions::from_env(),
    }
}

/// Renders progress events on stderr: one live line on a terminal, plain lines in CI or when
/// stderr is redirected; resource events only with `--verbose` or in plain mode.
pub struct ProgressPrinter {
    live: bool,
    verbose: bool,
    started: Instant,
    state: Mutex<LiveState>,
}

#[derive(Default)]
struct LiveState {
    line_shown: bool,
    uploaded: usize,
    to_upload: usize,
}

impl ProgressPrinter {
    /// A printer for this output.
    pub fn new(out: &Output) -> Self {
        Self {
            live: out.stderr_tty && !out.ci && std::io::stderr().is_terminal(),
            verbose: out.verbose,
            started: Instant::now(),
            state: Mutex::new(LiveState::default()),
        }
    }

    fn line(&self, text: &str, permanent: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        let secs = self.started.elapsed().as_secs_f32();
        if self.live {
            let _ = write!(err, "\r\x1b[2K");
            if permanent {
                let _ = writeln!(err, "{text}");
                state.line_shown = false;
            } else {
                let _ = write!(err, "[{secs:5.1}s] {text}");
                state.line_shown = true;
            }
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
    }

    /// Clear a live line before the final output.
    pub fn finish(&self) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.live && state.line_shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Reporter for ProgressPrinter {
    fn report(&self, event: Progress) {
        match event {
            Progress::StackBusy {
                stack,
                status,
                waited,
            } => self.line(
                &format!(
                    "Waiting for stack {stack} ({status}, {}s)",
                    waited.as_secs()
                ),
                false,
            ),
            Progress::StackRecreating { stack, status } => self.line(
                &format!(
                    "Stack {stack} is in {status} (it never finished creating and holds no \
                     resources): deleting it and creating it again"
                ),
                true,
            ),
            Progress::StackCreating { stack } => self.line(
                &format!("Creating stack {stack} (deployment bucket)"),
                false,
            ),
            Progress::ChangeCheck { unchanged, reason } => {
                if !unchanged {
                    self.line(&format!("Deploying: {reason}"), !self.live)
                }
            }
            Progress::Uploading {
                bucket,
                directory,
                files,
                bytes,
                skipped,
            } => {
                {
                    let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    s.to_upload = files;
                    s.uploaded = 0;
                }
                let skip = if skipped > 0 {
                    format!(", {skipped} already there")
                } else {
                    String::new()
                };
                self.line(
                    &format!(
                        "Uploading {files} file(s), {} KB, to s3://{bucket}/{directory}{skip}",
                        bytes.div_ceil(1024)
                    ),
                    !self.live,
                )
            }
            Progress::Uploaded { key, .. } => {
                let (n, total) = {
                    let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    s.uploaded += 1;
                    (s.uploaded, s.to_upload)
                };
                if self.live {
                    self.line(&format!("Uploaded {n}/{total}"), false);
                } else if self.verbose {
                    self.line(&format!("  uploaded {key}"), false);
                }
            }
            Progress::StackOperation { stack, operation } => {
                self.line(&format!("Stack {stack}: {operation}"), !self.live)
            }
            Progress::Event(e) => {
                let text = format!("  {} - {} - {}", e.status, e.resource_type, e.logical_id);
                let text = match &e.reason {
                    Some(r) if e.status.ends_with("FAILED") && !r.is_empty() => {
                        format!("{text}: {r}")
                    }
                    _ => text,
                };
                if self.verbose || !self.live || e.status.ends_with("FAILED") {
                    self.line(&text, true);
                } else {
                    self.line(text.trim_start(), false);
                }
            }
            Progress::Cleanup {
                directories,
                objects,
            } => self.line(
                &format!("Removed {directories} old deployment(s) ({objects} objects)"),
                !self.live,
            ),
            Progress::Emptied { bucket, objects } => self.line(
                &format!("Removed {objects} object(s) from s3://{bucket}"),
                !self.live,
            ),
            Progress::LockWait {
                stage,
                holder,
                since,
                waited,
            } => self.line(
                &format!(
                    "Waiting for the deploy of stage {stage} by {holder} since {since} ({}s)",
                    waited.as_secs()
                ),
                false,
            ),
            Progress::LockBroken { key, holder, since } => self.line(
                &format!("Removed the deploy lock {key} of {holder} (taken {since})"),
                true,
            ),
        }
    }
}
