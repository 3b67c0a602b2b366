//! The plugin host in the pipeline: plugins with no native equivalent run in one Node.js child
//! process per command (`deployer-host`), their hooks at the points of deployer's own steps
//! that match v3's lifecycle. Configuration hooks change the service before it is compiled,
//! packaging hooks may add files, template hooks change the template while it is compiled
//! ([`CompileHooks`]), deploy and remove hooks run around the stack operation with the stage's
//! proven credentials. Every AWS call a plugin makes through `provider.request` asks for
//! credentials here, is proven by the session first and counted.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use deployer_aws::AwsSession;
use deployer_host::{Callbacks, Host, HostError, HostStart, Question, Section};
use deployer_template::naming_api::{self, NamingContext};
use deployer_template::plugins::{self, PluginTreatment};
use deployer_template::{CompileHooks, TemplateError};
use serde_json::{Value, json};

use crate::observer::Observer;

/// The Serverless version the plugins are told they run in (some check it).
const FRAMEWORK_VERSION: &str = "3.40.0";
/// The longest a hook may run without a sign of life (a log line, an AWS call).
const SILENCE: Duration = Duration::from_secs(600);

/// Gives the plugins' AWS calls the stage's session, opening it on demand where the command
/// has not (`package`).
pub(crate) type SessionFn<'a> = dyn Fn() -> Result<AwsSession, String> + 'a;

/// Where plugin output goes and how a plugin's AWS call opens the stage when nothing did.
#[derive(Clone, Copy)]
pub(crate) struct Aws<'a> {
    /// Plugin output, as detail lines.
    pub observer: &'a dyn Observer,
    /// Opens the stage on demand (`package`); `None` when the session is already known or
    /// the command is offline.
    pub opener: Option<&'a SessionFn<'a>>,
}

/// What the host is started with besides the service.
pub(crate) struct HostRun<'a> {
    /// The command as v3 names it (`package`, `deploy`, `remove`).
    pub command: &'a str,
    /// The service directory.
    pub service_dir: &'a Path,
    /// The configuration file's name.
    pub config_file: &'a Path,
    /// The resolved configuration.
    pub config: &'a Value,
    /// Stage and region.
    pub stage: &'a str,
    /// The region.
    pub region: &'a str,
    /// `${sls:instanceId}`.
    pub instance_id: &'a str,
    /// The S3 directory of this deployment.
    pub artifact_directory_name: &'a str,
    /// `provider.deploymentPrefix` or `serverless`.
    pub deployment_prefix: &'a str,
}

/// The running host with what it needs to answer the plugins.
pub(crate) struct PluginHost {
    host: Host,
    naming: NamingContext,
    session: Option<AwsSession>,
    bucket: Option<String>,
    /// What configuration hooks did to the template, merged in when compiling starts.
    early_template: Option<Value>,
    /// Summary sections the plugins added.
    pub sections: Vec<Section>,
    /// Milliseconds spent starting the host and running hooks.
    pub millis: u64,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("host", &self.host)
            .finish()
    }
}

/// Starts the host when some declared plugin needs it (none: `None`, no Node.js needed).
/// Every hosted plugin must be installed: found in `node_modules` (walking up, as Node
/// resolves), `plugins.localPath`, or as a local file.
pub(crate) fn start(
    treatments: &[PluginTreatment],
    run: &HostRun<'_>,
    session: Option<AwsSession>,
    observer: &dyn Observer,
) -> anyhow::Result<Option<PluginHost>> {
    let hosted = plugins::hosted(treatments);
    if hosted.is_empty() {
        return Ok(None);
    }
    let started = Instant::now();
    let entries = hosted
        .iter()
        .map(|t| locate(&t.name, run.service_dir, run.config.get("plugins")))
        .collect::<anyhow::Result<Vec<Value>>>()?;
    let names: Vec<String> = hosted.iter().map(|t| t.name.clone()).collect();
    let naming = NamingContext {
        service: run.config["service"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        stage: run.stage.to_string(),
        config: run.config.clone(),
    };
    let start = HostStart {
        node: None,
        service_dir: run.service_dir.to_path_buf(),
        init: init_message(run, entries, session.as_ref()),
        env: Vec::new(),
        env_remove: Vec::new(),
        silence: SILENCE,
        plugins: names.clone(),
    };
    let mut answering = Answering::new(&naming, session.clone(), None, observer);
    let host = Host::start(with_env(start, session.as_ref()), &mut answering)?;
    observer.detail(&format!(
        "plugin host: {} loaded in {} ms",
        names.join(", "),
        started.elapsed().as_millis()
    ));
    Ok(Some(PluginHost {
        host,
        naming,
        session,
        bucket: None,
        early_template: None,
        sections: Vec::new(),
        millis: started.elapsed().as_millis() as u64,
    }))
}

/// Every plugin the host would run can be run: Node.js is on PATH and each plugin is
/// installed. Checked before any AWS call.
pub(crate) fn check_installed(
    treatments: &[PluginTreatment],
    service_dir: &Path,
    plugins_value: Option<&Value>,
) -> anyhow::Result<()> {
    let hosted = plugins::hosted(treatments);
    if hosted.is_empty() {
        return Ok(());
    }
    for t in &hosted {
        locate(&t.name, service_dir, plugins_value)?;
    }
    if deployer_host::find_node().is_none() {
        let names: Vec<String> = hosted.iter().map(|t| t.name.clone()).collect();
        return Err(HostError::NodeMissing {
            first: names[0].clone(),
            plugins: names.join(", "),
        }
        .into());
    }
    Ok(())
}

/// The `init` message: the service as the plugins see it and what `provider` answers.
fn init_message(run: &HostRun<'_>, entries: Vec<Value>, session: Option<&AwsSession>) -> Value {
    json!({
        "servicePath": run.service_dir,
        "configurationFilename": run.config_file,
        "stage": run.stage,
        "region": run.region,
        "frameworkVersion": FRAMEWORK_VERSION,
        "instanceId": run.instance_id,
        "deploymentPrefix": run.deployment_prefix,
        "artifactDirectoryName": run.artifact_directory_name,
        "commands": [run.command],
        "options": {"stage": run.stage, "region": run.region},
        "plugins": entries,
        "service": run.config,
        "endpoint": session.and_then(AwsSession::endpoint_url),
    })
}

/// The host's environment: with a session, only the stage's proven credentials (an SDK a
/// plugin builds by itself finds them and nothing else); without one, none at all.
fn with_env(mut start: HostStart, session: Option<&AwsSession>) -> HostStart {
    start.env_remove = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .map(String::from)
    .to_vec();
    start.env = vec![
        ("AWS_SHARED_CREDENTIALS_FILE".into(), null_device()),
        ("AWS_CONFIG_FILE".into(), null_device()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ];
    if let Some(session) = session {
        start
            .env
            .push(("AWS_REGION".into(), session.region.clone()));
        if let Ok(credentials) = crate::pipeline::stage::wait(session.export_credentials()) {
            start
                .env
                .push(("AWS_ACCESS_KEY_ID".into(), credentials.access_key_id));
            start.env.push((
                "AWS_SECRET_ACCESS_KEY".into(),
                credentials.secret_access_key,
            ));
            if let Some(token) = credentials.session_token {
                start.env.push(("AWS_SESSION_TOKEN".into(), token));
            }
        }
    }
    start
}

fn null_device() -> String {
    if cfg!(windows) { "NUL" } else { "/dev/null" }.to_string()
}

/// Where a declared plugin is: `{name, request, base}` for the host to `require`. A plugin
/// that is nowhere is an error naming `npm install`.
fn locate(name: &str, service_dir: &Path, plugins: Option<&Value>) -> anyhow::Result<Value> {
    let entry = |request: &str| json!({"name": name, "request": request, "base": service_dir});
    let local = name.starts_with('.') || Path::new(name).is_absolute();
    if local {
        let path = service_dir.join(name);
        if js_module_exists(&path) {
            return Ok(entry(&path.to_string_lossy()));
        }
        anyhow::bail!(not_installed(name, service_dir, true));
    }
    let local_path = plugins
        .and_then(|p| p.get("localPath"))
        .and_then(Value::as_str)
        .map(|p| service_dir.join(p))
        .unwrap_or_else(|| service_dir.join(".serverless_plugins"));
    let in_local_path = local_path.join(name);
    if js_module_exists(&in_local_path) {
        return Ok(entry(&in_local_path.to_string_lossy()));
    }
    match deployer_package::node::find_in_node_modules(service_dir, Path::new(name)) {
        Some(_) => Ok(entry(name)),
        None => anyhow::bail!(not_installed(name, service_dir, false)),
    }
}

fn js_module_exists(path: &Path) -> bool {
    let candidates = [
        path.to_path_buf(),
        with_extension(path, "js"),
        with_extension(path, "cjs"),
        with_extension(path, "mjs"),
        path.join("index.js"),
        path.join("package.json"),
    ];
    candidates.iter().any(|c| c.is_file())
}

fn with_extension(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

fn not_installed(name: &str, service_dir: &Path, local: bool) -> HostError {
    let message = if local {
        format!(
            "the local plugin file {} does not exist (plugins: is relative to the service directory)",
            service_dir.join(name).display()
        )
    } else {
        format!(
            "it is not installed: no node_modules/{name} in {} or above it. Run `npm install --save-dev {name}` there (deployer runs it with the Serverless v3 plugin API)",
            service_dir.display()
        )
    };
    HostError::HookFailed {
        plugin: name.to_string(),
        hook: "load".into(),
        message,
        code: Some("PLUGIN_NOT_FOUND".into()),
        stack: None,
    }
}

impl PluginHost {
    /// Whether the setting at `path` belongs to a hosted plugin (declared in its schema).
    pub fn claims(&self, path: &str) -> bool {
        self.host.schema().claims(path)
    }

    /// Configuration hooks (`initialize` … `before:package:createDeploymentArtifacts`):
    /// returns the service configuration when the plugins changed it.
    pub fn configure(&mut self, aws: Aws<'_>) -> anyhow::Result<Option<Value>> {
        self.service_events(deployer_host::CONFIGURATION_EVENTS, aws)
    }

    /// Packaging hooks, after deployer wrote the artifacts and before it compiles the
    /// functions: `Ok(None)` when none ran, else the service configuration when they changed
    /// it (`Some(None)`: they ran, the artifacts are to be read again).
    pub fn packaged(&mut self, aws: Aws<'_>) -> anyhow::Result<Option<Option<Value>>> {
        let events = deployer_host::PACKAGING_EVENTS;
        if !self.host.hooks_any(events) {
            return Ok(None);
        }
        self.service_events(events, aws).map(Some)
    }

    /// Hooks that may change the service (and add to the still empty template).
    fn service_events(&mut self, events: &[&str], aws: Aws<'_>) -> anyhow::Result<Option<Value>> {
        if !self.host.hooks_any(events) {
            return Ok(None);
        }
        let template = self.early_template.clone().unwrap_or_else(
            || json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}, "Outputs": {}}),
        );
        let out = self.run(events, Some(&template), true, None, aws)?;
        if out.template.as_ref() != Some(&template) {
            self.early_template = out.template;
        }
        let changed = out.service.filter(|s| Some(s) != Some(&self.naming.config));
        if let Some(config) = &changed {
            self.naming.config = config.clone();
        }
        Ok(changed)
    }

    /// The template hooks, as [`CompileHooks`] for `compile_hooked`.
    pub fn compile_hooks<'a>(&'a mut self, aws: Aws<'a>) -> TemplateHooks<'a> {
        TemplateHooks {
            host: self,
            aws,
            failure: None,
        }
    }

    /// `before:deploy:deploy`: the template may still change.
    pub fn before_deploy(
        &mut self,
        template: &mut Value,
        observer: &dyn Observer,
    ) -> anyhow::Result<()> {
        let aws = Aws {
            observer,
            opener: None,
        };
        self.template_events(deployer_host::BEFORE_DEPLOY_EVENTS, template, aws)
    }

    /// Hooks at the upload of the artifacts, once the bucket exists.
    pub fn upload(&mut self, bucket: &str, observer: &dyn Observer) -> anyhow::Result<()> {
        self.bucket = Some(bucket.to_string());
        self.context_events(deployer_host::UPLOAD_EVENTS, observer)
    }

    /// Hooks after a successful deploy.
    pub fn after_deploy(&mut self, bucket: &str, observer: &dyn Observer) -> anyhow::Result<()> {
        self.bucket = Some(bucket.to_string());
        self.context_events(deployer_host::AFTER_DEPLOY_EVENTS, observer)
    }

    /// Hooks before the stack is deleted.
    pub fn before_remove(&mut self, observer: &dyn Observer) -> anyhow::Result<()> {
        self.context_events(deployer_host::BEFORE_REMOVE_EVENTS, observer)
    }

    /// Hooks after the stack is deleted.
    pub fn after_remove(&mut self, observer: &dyn Observer) -> anyhow::Result<()> {
        self.context_events(deployer_host::AFTER_REMOVE_EVENTS, observer)
    }

    fn template_events(
        &mut self,
        events: &[&str],
        template: &mut Value,
        aws: Aws<'_>,
    ) -> anyhow::Result<()> {
        if !self.host.hooks_any(events) {
            return Ok(());
        }
        let out = self.run(events, Some(template), false, None, aws)?;
        if let Some(changed) = out.template {
            *template = changed;
        }
        Ok(())
    }

    fn context_events(&mut self, events: &[&str], observer: &dyn Observer) -> anyhow::Result<()> {
        let context = self.bucket.as_ref().map(|b| json!({"bucket": b}));
        let aws = Aws {
            observer,
            opener: None,
        };
        self.run(events, None, false, context, aws).map(|_| ())
    }

    fn run(
        &mut self,
        events: &[&str],
        template: Option<&Value>,
        want_service: bool,
        context: Option<Value>,
        aws: Aws<'_>,
    ) -> anyhow::Result<deployer_host::RunOutcome> {
        let Aws { observer, opener } = aws;
        let started = Instant::now();
        let mut answering = Answering::new(
            &self.naming,
            self.session.clone(),
            self.bucket.as_deref(),
            observer,
        );
        answering.opener = opener;
        let result = self
            .host
            .run(events, template, want_service, context, &mut answering);
        if self.session.is_none() {
            self.session = answering.session.take();
        }
        let out = result?;
        self.millis += started.elapsed().as_millis() as u64;
        self.sections.extend(out.sections.iter().cloned());
        Ok(out)
    }
}

/// The template hooks during compilation. A host failure is kept in `failure` and returned
/// by [`TemplateHooks::finish`] with its own kind, rather than as a template error.
pub(crate) struct TemplateHooks<'a> {
    host: &'a mut PluginHost,
    aws: Aws<'a>,
    failure: Option<anyhow::Error>,
}

impl TemplateHooks<'_> {
    /// The compile result, with a plugin failure in its own words.
    pub fn finish<T>(
        self,
        result: Result<T, TemplateError>,
        context: impl FnOnce() -> String,
    ) -> anyhow::Result<T> {
        match (self.failure, result) {
            (Some(failure), _) => Err(failure),
            (None, result) => result.with_context(context),
        }
    }
}

impl CompileHooks for TemplateHooks<'_> {
    fn start(&mut self, template: &mut Value) -> Result<(), TemplateError> {
        if let Some(early) = &self.host.early_template {
            merge_added(template, early);
        }
        Ok(())
    }

    fn after(&mut self, point: &str, template: &mut Value) -> Result<(), TemplateError> {
        let Some((_, events)) = deployer_host::TEMPLATE_POINTS
            .iter()
            .find(|(p, _)| *p == point)
        else {
            return Ok(());
        };
        match self.host.template_events(events, template, self.aws) {
            Ok(()) => Ok(()),
            Err(err) => {
                let message = err.to_string();
                self.failure = Some(err);
                Err(TemplateError::Plugin(message))
            }
        }
    }
}

/// Resources and outputs configuration hooks added to the (then empty) template.
fn merge_added(template: &mut Value, early: &Value) {
    for section in [
        "Resources",
        "Outputs",
        "Conditions",
        "Mappings",
        "Parameters",
    ] {
        let Some(added) = early.get(section).and_then(Value::as_object) else {
            continue;
        };
        if added.is_empty() {
            continue;
        }
        let target = template
            .as_object_mut()
            .map(|t| t.entry(section).or_insert_with(|| json!({})));
        if let Some(Value::Object(target)) = target {
            for (key, value) in added {
                target.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }
}

/// The answers deployer gives the host.
struct Answering<'a> {
    naming: &'a NamingContext,
    /// The stage's session, once known.
    session: Option<AwsSession>,
    /// Opens the stage (guard first) when a plugin needs AWS and nothing opened it yet.
    opener: Option<&'a SessionFn<'a>>,
    bucket: Option<&'a str>,
    observer: &'a dyn Observer,
}

impl<'a> Answering<'a> {
    fn new(
        naming: &'a NamingContext,
        session: Option<AwsSession>,
        bucket: Option<&'a str>,
        observer: &'a dyn Observer,
    ) -> Self {
        Self {
            naming,
            session,
            opener: None,
            bucket,
            observer,
        }
    }

    fn session(&mut self, plugin: &Option<String>, what: &str) -> Result<&AwsSession, String> {
        if self.session.is_none() {
            let Some(opener) = self.opener else {
                return Err(format!(
                    "plugin {} asked for {what}, but this command gives plugins no AWS access (--offline)",
                    plugin.as_deref().unwrap_or("(unknown)")
                ));
            };
            self.session = Some(opener()?);
        }
        Ok(self.session.as_ref().expect("set above"))
    }
}

impl Callbacks for Answering<'_> {
    fn log(&mut self, _level: &str, plugin: Option<&str>, text: &str) {
        match plugin {
            Some(plugin) => self.observer.detail(&format!("{plugin}: {text}")),
            None => self.observer.detail(text),
        }
    }

    fn answer(&mut self, question: &Question) -> Result<Value, String> {
        match question {
            Question::Naming { function, args, .. } => {
                naming_api::call(function, args, self.naming)
            }
            Question::Credentials {
                service,
                method,
                plugin,
            } => {
                let session = self.session(plugin, &format!("AWS ({service}.{method})"))?;
                let credentials = crate::pipeline::stage::wait(session.export_credentials())
                    .map_err(|e| e.to_string())?;
                // `getCredentials` hands them over for the plugin's own client: not a call.
                if service != "credentials" {
                    session
                        .counter()
                        .record(&service.to_lowercase(), &upper_first(method));
                }
                Ok(json!({
                    "accessKeyId": credentials.access_key_id,
                    "secretAccessKey": credentials.secret_access_key,
                    "sessionToken": credentials.session_token,
                    "endpoint": session.endpoint_url(),
                }))
            }
            Question::Account { plugin } => {
                let session = self.session(plugin, "the account id")?;
                let identity = &session.identity;
                let partition = identity.arn.split(':').nth(1).unwrap_or("aws");
                Ok(json!({
                    "accountId": identity.account,
                    "partition": partition,
                    "arn": identity.arn,
                    "userId": identity.user_id,
                }))
            }
            Question::Bucket { plugin } => self.bucket.map(|b| json!(b)).ok_or_else(|| {
                format!(
                    "plugin {} asked for the deployment bucket before the deploy created or found it; deployer knows it from the upload on",
                    plugin.as_deref().unwrap_or("(unknown)")
                )
            }),
        }
    }
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
