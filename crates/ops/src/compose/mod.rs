//! Compose: the services of a `serverless-compose.yml` run together. The compose file is
//! read and checked whole, and every service's configuration read, before anything runs
//! ([`Project::read`]); commands that act on stacks open every selected service's stage and
//! run every guard before the first write ([`guard`]); deploys go in waves of the dependency
//! graph ([`runner`]), a producer's outputs read from its CloudFormation stack and passed to
//! its consumers as params. No state of our own: the stacks' outputs are the state.

pub(crate) mod guard;
pub(crate) mod outputs;
pub(crate) mod run;
pub(crate) mod runner;
pub(crate) mod stacks;
pub(crate) mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deployer_aws::progress::{Progress, Reporter};
use deployer_aws::{AwsSession, CredentialOptions};
use deployer_config::compose::{self as file, Compose, Context, Member, OutputRef};
use deployer_config::{CliOptions, ConfigError, ProcessEnv};
use serde::Serialize;
use serde_json::Value;

use crate::observer::{Action, Observer};
use crate::pipeline::service::ServiceOptions;
use crate::pipeline::stage::StageOptions;

pub use runner::{Status, Unit};
pub use stacks::Facts;
pub use views::{GraphNode, GraphResult, ServiceArgs};

/// The default of `--max-concurrency`.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;

/// A compose run: where, which stage, which services, with which credentials.
#[derive(Debug, Default)]
pub struct ComposeOptions {
    /// The compose root (the folder of the compose file).
    pub cwd: PathBuf,
    /// `--stage` (default `dev`, as Compose).
    pub stage: Option<String>,
    /// `--service NAME` (repeatable); empty = every service.
    pub services: Vec<String>,
    /// `--max-concurrency N`: services run at once (at least 1).
    pub max_concurrency: usize,
    /// `--aws-profile` (applied to every service), `--expect-account`, `--mfa-code`, …
    pub credentials: CredentialOptions,
    /// `--param key=value` from the command line, applied after the compose params.
    pub params: Vec<String>,
    /// The other options the command declares, for `${opt:…}` (compose file and services).
    pub extra: BTreeMap<String, Value>,
    /// `--ignore-plugin NAME`.
    pub ignore_plugins: Vec<String>,
}

/// What `up` does besides deploying.
#[derive(Debug, Default, Clone)]
pub struct UpSettings {
    /// `--force`.
    pub force: bool,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--force-unlock`.
    pub force_unlock: bool,
    /// `--approve-broadening` (protected stages).
    pub approve_broadening: bool,
}

/// The compose file of `dir`, when `dir` is a compose root.
pub fn find(dir: &Path) -> Option<PathBuf> {
    file::find(dir)
}

/// A compose project read for one stage: the file, the selection and what each service's
/// own configuration says about its stack and account.
pub struct Project {
    /// The compose file, checked.
    pub compose: Compose,
    /// The services selected (`--service`), in file order.
    pub selected: Vec<String>,
    /// Each service's stack, region, profile and account, read offline.
    pub facts: BTreeMap<String, Facts>,
}

impl Project {
    /// Reads the compose file and every service's configuration; `Err` for every problem of
    /// the file, an unknown `--service`, or two services with one stack name.
    pub fn read(opts: &ComposeOptions) -> anyhow::Result<Self> {
        let path = find(&opts.cwd).ok_or_else(|| {
            ConfigError::new(format!(
                "No serverless-compose.yml, .yaml or .json in {}",
                opts.cwd.display()
            ))
        })?;
        let stage = opts.stage.clone().unwrap_or_else(|| "dev".to_string());
        let ctx = Context {
            stage: &stage,
            env: &ProcessEnv,
            opts: &opts.extra,
        };
        let compose = file::read(&path, &ctx)?;
        let selected = compose.select(&opts.services)?;
        let facts = stacks::read_all(&compose, opts)?;
        Ok(Self {
            compose,
            selected,
            facts,
        })
    }

    /// The member `name` (a key of the file).
    pub fn member(&self, name: &str) -> &Member {
        &self.compose.services[name]
    }

    /// Every service some selected service reads outputs from, in the order referenced.
    pub fn producers(&self) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for name in &self.selected {
            for (_, r) in self.member(name).references() {
                if !found.contains(&r.service) {
                    found.push(r.service.clone());
                }
            }
        }
        found
    }

    /// The selected services and the producers they read from, in file order.
    pub fn with_producers(&self) -> Vec<String> {
        self.compose
            .services
            .keys()
            .filter(|k| {
                self.selected.contains(k)
                    || self
                        .selected
                        .iter()
                        .any(|s| self.member(s).references().any(|(_, r)| &r.service == *k))
            })
            .cloned()
            .collect()
    }
}

/// The options of one service's operation: its folder, config, region, the stage and the
/// params (compose params with outputs rendered, then `--param`).
pub(crate) fn stage_options(
    project: &Project,
    name: &str,
    params: Vec<String>,
    opts: &ComposeOptions,
) -> StageOptions {
    let member = project.member(name);
    let mut all = params;
    all.extend(opts.params.iter().cloned());
    StageOptions {
        service: ServiceOptions {
            config: member.config.as_ref().map(PathBuf::from),
            cwd: member.dir.clone(),
            cli: CliOptions {
                stage: Some(project.compose.stage.clone()),
                region: member.region.clone(),
                params: all,
                extra: opts.extra.clone(),
            },
            ignore_plugins: opts.ignore_plugins.clone(),
        },
        credentials: copy_credentials(&opts.credentials),
        accept_account: None,
    }
}

/// The command-line credential choices for one service (no MFA prompt: several services run
/// at once; `--mfa-code` is passed on).
fn copy_credentials(c: &CredentialOptions) -> CredentialOptions {
    CredentialOptions {
        aws_profile: c.aws_profile.clone(),
        no_profile: c.no_profile,
        expect_account: c.expect_account.clone(),
        mfa_code: c.mfa_code.clone(),
        interactive_mfa: None,
    }
}

/// The params of `name` with every output reference as a placeholder: what opening its stage
/// or reading its stack needs (the early settings never depend on other services' outputs).
pub(crate) fn static_params(project: &Project, name: &str) -> Vec<String> {
    project
        .member(name)
        .params
        .iter()
        .map(|(k, t)| {
            let value = t.render(&|r| Some(placeholder(r))).unwrap_or_default();
            format!("{k}={value}")
        })
        .collect()
}

/// A placeholder for an output that has no value (package, print, diff): visible in the
/// package, never a real value.
pub(crate) fn placeholder(r: &OutputRef) -> String {
    format!("<output {}.{} not available>", r.service, r.output)
}

/// The observer of one service: its warnings and details name it.
pub(crate) struct Named<'a> {
    inner: &'a dyn Observer,
    name: String,
}

impl<'a> Named<'a> {
    pub(crate) fn new(inner: &'a dyn Observer, name: &str) -> Self {
        Self {
            inner,
            name: name.to_string(),
        }
    }
}

impl Reporter for Named<'_> {
    fn report(&self, event: Progress) {
        self.inner.report(event);
    }
}

impl Observer for Named<'_> {
    fn warning(&self, text: &str) {
        self.inner.warning(&format!("{}: {text}", self.name));
    }
    fn detail(&self, text: &str) {
        self.inner.detail(&format!("{}: {text}", self.name));
    }
    fn announce(&self, action: Action, service: &str, session: &AwsSession) {
        self.inner.announce(action, service, session);
    }
}

/// An observer that keeps nothing (the offline pre-read of every service, whose warnings the
/// run itself reports).
pub(crate) struct Quiet;

impl Reporter for Quiet {
    fn report(&self, _event: Progress) {}
}

impl Observer for Quiet {
    fn warning(&self, _text: &str) {}
    fn detail(&self, _text: &str) {}
    fn announce(&self, _action: Action, _service: &str, _session: &AwsSession) {}
}

/// A compose command's result: one entry per service.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComposeResult {
    /// The command (`up`, `diff`, `remove`, …).
    pub command: &'static str,
    /// `succeeded`, or `failed` when a service failed or was skipped for a failure.
    pub status: &'static str,
    /// The stage.
    pub stage: String,
    /// The compose file.
    pub file: String,
    /// The waves the services ran in.
    pub waves: Vec<Vec<String>>,
    /// One result per service, in the order they finished.
    pub services: Vec<Unit>,
    /// One note per output reference that got a placeholder.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ComposeResult {
    pub(crate) fn new(command: &'static str, project: &Project, services: Vec<Unit>) -> Self {
        let failed = services.iter().any(|u| u.status.is_failure());
        Self {
            command,
            status: if failed { "failed" } else { "succeeded" },
            stage: project.compose.stage.clone(),
            file: project.compose.file.display().to_string(),
            waves: deployer_config::compose::graph::only(&project.compose.waves, &project.selected),
            services,
            notes: Vec::new(),
        }
    }

    /// True when every service succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }
}

pub use run::{compose_diff, compose_remove, compose_up};
pub use views::{
    compose_deploy_list, compose_info, compose_package, compose_print, compose_verify,
    compose_whoami, graph, service_options,
};
