//! Shared by `package`, `up` and `diff`: resolve the configuration, package the code, compile
//! the templates, write `.serverless/` (or `--package DIR`), and read such a directory back.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};
use deployer_aws::deploy::{BucketChoice, DeployArtifact, DeployRequest, Method};
use deployer_aws::progress::{Progress, Reporter};
use deployer_aws::stack::{StackParams, Waits};
use deployer_config::model::{DeploymentBucket, Service};
use deployer_config::{ConfigFile, ExternalRequest, ProcessEnv, Resolved};
use deployer_package::{FunctionPackaging, PackageRequest};
use deployer_template::{CompileInput, FunctionArtifact, Templates};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::ServiceArgs;
use crate::context;
use crate::output::Output;

/// File names inside a package directory (v3's names for the templates).
pub const CREATE_TEMPLATE: &str = "cloudformation-template-create-stack.json";
/// The full template.
pub const UPDATE_TEMPLATE: &str = "cloudformation-template-update-stack.json";
/// deployer's manifest: hashes and the S3 directory, reused by `up --package DIR`.
pub const MANIFEST: &str = "deployer-package.json";

/// One artifact in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestArtifact {
    /// File name (and S3 object name).
    pub name: String,
    /// Path of the zip (relative to the package directory when it was built there).
    pub path: PathBuf,
    /// SHA-256, base64.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Functions using it.
    pub functions: Vec<String>,
}

/// The manifest written next to the templates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Service name.
    pub service: String,
    /// Stage the package was built for.
    pub stage: String,
    /// Region the package was built for.
    pub region: String,
    /// `${sls:instanceId}` of the packaging run.
    pub instance_id: String,
    /// `serverless/<service>/<stage>/<ms>-<ISO>`.
    pub artifact_directory_name: String,
    /// v3's normalized template hash of the update template.
    pub template_hash: String,
    /// The artifacts.
    pub artifacts: Vec<ManifestArtifact>,
}

/// A package, built now or read back from a directory.
pub struct Built {
    /// The resolved service.
    pub service: Service,
    /// Where it lives.
    pub dir: PathBuf,
    /// Core and full templates.
    pub templates: Templates,
    /// The manifest.
    pub manifest: Manifest,
}

/// `print`/`package` have no credentials: AWS-backed variables are errors at their property.
pub fn offline(
    command: &str,
) -> impl FnMut(&[ExternalRequest]) -> Vec<Result<Option<Value>, String>> {
    let command = command.to_string();
    move |requests: &[ExternalRequest]| {
        requests
            .iter()
            .map(|r| {
                Err(format!(
                    "{r} needs AWS credentials; `deployer {command}` works offline and cannot \
                     resolve it (`deployer up` resolves it with the stage's credentials)"
                ))
            })
            .collect()
    }
}

/// Resolve every variable; `external` answers the AWS-backed ones.
pub fn resolve(
    out: &Output,
    file: &ConfigFile,
    service: &ServiceArgs,
    external: &mut deployer_config::ExternalFn<'_>,
) -> anyhow::Result<Resolved> {
    let opts = context::cli_options(service);
    let resolved = match deployer_config::resolve(file, &opts, &ProcessEnv, external) {
        Ok(r) => r,
        Err(err) => {
            for w in err.warnings() {
                out.warn(w);
            }
            return Err(err.into());
        }
    };
    for w in &resolved.warnings {
        out.warn(w);
    }
    Ok(resolved)
}

/// Package and compile into `dir`, writing the templates (pretty, 2-space), the zips and the
/// manifest.
pub fn build(file: &ConfigFile, resolved: &Resolved, dir: &Path) -> anyhow::Result<Built> {
    let service = Service::from_value(&resolved.value)
        .with_context(|| format!("in {}", file.path.display()))?;
    clean(dir)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let request = package_request(file, &service);
    let packaged = deployer_package::package(&request, dir)?;
    let mut artifacts = BTreeMap::new();
    for (function, name) in &packaged.function_artifacts {
        let a = packaged
            .artifacts
            .iter()
            .find(|a| &a.name == name)
            .expect("artifact listed");
        artifacts.insert(
            function.clone(),
            FunctionArtifact {
                s3_key_name: a.name.clone(),
                sha256_base64: a.sha256_base64.clone(),
            },
        );
    }
    let directory = deployer_template::artifact_directory_name(
        service.provider.deployment_prefix.as_deref(),
        &service.service,
        &resolved.stage,
        SystemTime::now(),
    );
    let templates = deployer_template::compile(&CompileInput {
        service: &service,
        stage: &resolved.stage,
        region: &resolved.region,
        instance_id: &resolved.instance_id,
        artifact_directory_name: &directory,
        artifacts: &artifacts,
    })?;
    let has_core = templates.create["Resources"]
        .as_object()
        .is_some_and(|r| !r.is_empty());
    if has_core {
        write_json(&dir.join(CREATE_TEMPLATE), &templates.create)?;
    }
    write_json(&dir.join(UPDATE_TEMPLATE), &templates.update)?;
    let manifest = Manifest {
        service: service.service.clone(),
        stage: resolved.stage.clone(),
        region: resolved.region.clone(),
        instance_id: resolved.instance_id.clone(),
        artifact_directory_name: directory,
        template_hash: deployer_template::normalized_template_hash(&templates.update),
        artifacts: packaged
            .artifacts
            .iter()
            .map(|a| ManifestArtifact {
                name: a.name.clone(),
                path: a
                    .path
                    .strip_prefix(dir)
                    .map(Path::to_path_buf)
                    .unwrap_or(a.path.clone()),
                sha256: a.sha256_base64.clone(),
                size: a.size,
                functions: a.functions.clone(),
            })
            .collect(),
    };
    write_json(&dir.join(MANIFEST), &serde_json::to_value(&manifest)?)?;
    Ok(Built {
        service,
        dir: dir.to_path_buf(),
        templates,
        manifest,
    })
}

/// Read a directory written by `deployer package` for this stage and region.
pub fn read_package(dir: &Path, resolved: &Resolved) -> anyhow::Result<Built> {
    let service = Service::from_value(&resolved.value)?;
    let read = |name: &str| -> anyhow::Result<Value> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (build the package with `deployer package --package {}`)",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let manifest: Manifest = serde_json::from_value(read(MANIFEST)?)
        .with_context(|| format!("reading {}", dir.join(MANIFEST).display()))?;
    if manifest.stage != resolved.stage || manifest.region != resolved.region {
        bail!(
            "the package in {} was built for stage {} in {}, not stage {} in {}; run `deployer \
             package --stage {} --package {}` again",
            dir.display(),
            manifest.stage,
            manifest.region,
            resolved.stage,
            resolved.region,
            resolved.stage,
            dir.display()
        );
    }
    let update = read(UPDATE_TEMPLATE)?;
    let create = if dir.join(CREATE_TEMPLATE).exists() {
        read(CREATE_TEMPLATE)?
    } else {
        serde_json::json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}})
    };
    for a in &manifest.artifacts {
        let path = dir.join(&a.path);
        if !path.exists() {
            bail!(
                "No {} file found in the package path you provided ({})",
                a.name,
                dir.display()
            );
        }
    }
    Ok(Built {
        service,
        dir: dir.to_path_buf(),
        templates: Templates { create, update },
        manifest,
    })
}

/// The deploy request of a package.
pub fn deploy_request(built: &Built, force: bool) -> anyhow::Result<DeployRequest> {
    let service = &built.service;
    let provider = &service.provider;
    let stage = built.manifest.stage.clone();
    let stack = provider
        .stack_name
        .clone()
        .unwrap_or_else(|| format!("{}-{stage}", service.service));
    let bucket = match provider
        .deployment_bucket
        .as_ref()
        .and_then(DeploymentBucket::name)
    {
        Some(name) => BucketChoice::Named(name.to_string()),
        None => BucketChoice::Stack,
    };
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
    let role_arn = provider
        .iam
        .as_ref()
        .and_then(|i| i.deployment_role.as_ref())
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(DeployRequest {
        service: service.service.clone(),
        stage: stage.clone(),
        params: StackParams {
            stack,
            region: built.manifest.region.clone(),
            tags: deployer_template::stack_tags(service, &stage),
            parameters,
            notification_arns,
            role_arn,
            disable_rollback: provider.disable_rollback.unwrap_or(false),
        },
        deployment_prefix: provider
            .deployment_prefix
            .clone()
            .unwrap_or_else(|| "serverless".into()),
        bucket,
        max_previous_deployments: keep,
        core_template: built.templates.create.clone(),
        template: built.templates.update.clone(),
        template_hash: built.manifest.template_hash.clone(),
        artifact_directory: built.manifest.artifact_directory_name.clone(),
        artifacts: built
            .manifest
            .artifacts
            .iter()
            .map(|a| DeployArtifact {
                name: a.name.clone(),
                path: built.dir.join(&a.path),
                sha256_base64: a.sha256.clone(),
                size: a.size,
            })
            .collect(),
        method,
        force,
        waits: Waits::default(),
    })
}

fn package_request(file: &ConfigFile, service: &Service) -> PackageRequest {
    let pkg = service.package.as_ref();
    let functions = service
        .functions
        .iter()
        .filter(|(_, f)| f.image.is_none())
        .map(|(key, f)| {
            let fp = f.package.as_ref();
            FunctionPackaging {
                key: key.clone(),
                patterns: fp.map(|p| p.patterns.clone()).unwrap_or_default(),
                include: fp.map(|p| p.include.clone()).unwrap_or_default(),
                exclude: fp.map(|p| p.exclude.clone()).unwrap_or_default(),
                individually: fp.and_then(|p| p.individually).unwrap_or(false),
                artifact: fp.and_then(|p| p.artifact.clone()).map(PathBuf::from),
                disable: fp.and_then(|p| p.disable).unwrap_or(false),
            }
        })
        .collect();
    PackageRequest {
        service_dir: file.dir.clone(),
        service_name: service.service.clone(),
        config_file: file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        use_dotenv: service.use_dotenv.unwrap_or(false),
        exclude: pkg.map(|p| p.exclude.clone()).unwrap_or_default(),
        include: pkg.map(|p| p.include.clone()).unwrap_or_default(),
        patterns: pkg.map(|p| p.patterns.clone()).unwrap_or_default(),
        individually: pkg.and_then(|p| p.individually).unwrap_or(false),
        artifact: pkg.and_then(|p| p.artifact.clone()).map(PathBuf::from),
        functions,
    }
}

/// Remove what a previous package left (zips, templates, manifest), nothing else.
fn clean(dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".zip")
            || name == CREATE_TEMPLATE
            || name == UPDATE_TEMPLATE
            || name == MANIFEST
        {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The default package directory: `.serverless` next to the configuration.
pub fn default_dir(file: &ConfigFile) -> PathBuf {
    file.dir.join(".serverless")
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
        }
    }
}

/// A stage opened for AWS work with its configuration fully resolved.
pub struct Opened {
    /// Configuration, settings and the verified session.
    pub stage: context::Stage,
    /// SDK clients with the call counter.
    pub clients: deployer_aws::clients::AwsClients,
    /// The fully resolved configuration.
    pub resolved: Resolved,
}

/// Open the stage (configuration → credentials → STS → guard, exit 3 on refusal), then resolve
/// every variable, answering AWS-backed ones (`aws:accountId`, `cf`, `ssm`, `s3`) with the
/// stage's credentials, each round in parallel.
pub fn open_resolved(
    out: &Output,
    rt: &tokio::runtime::Runtime,
    service: &ServiceArgs,
    creds: &crate::args::CredentialArgs,
) -> anyhow::Result<Opened> {
    use deployer_aws::sources::{AwsVariable, resolve_all};
    let stage = rt.block_on(context::open(out, service, creds, context::Guard::Enforce))?;
    let counter = deployer_aws::calls::CallCounter::new();
    let clients = deployer_aws::clients::AwsClients::new(stage.session.sdk_config(), &counter);
    let account = stage.session.account().to_string();
    let mut external = |requests: &[ExternalRequest]| -> Vec<Result<Option<Value>, String>> {
        let parsed: Vec<Result<AwsVariable, String>> = requests
            .iter()
            .map(|r| AwsVariable::parse(&r.source, &r.params, r.address.as_deref()))
            .collect();
        let vars: Vec<AwsVariable> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let mut answers = rt
            .block_on(resolve_all(&clients, &account, &vars))
            .into_iter();
        parsed
            .into_iter()
            .map(|p| match p {
                Ok(_) => answers.next().unwrap_or(Ok(None)),
                Err(e) => Err(e),
            })
            .collect()
    };
    let resolved = resolve(out, &stage.config, service, &mut external)?;
    Ok(Opened {
        stage,
        clients,
        resolved,
    })
}
