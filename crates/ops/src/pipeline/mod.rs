//! The steps an operation runs on a service, in this order: load the configuration and open
//! the stage ([`service`], [`stage`]) → plan the plugins ([`plugins`]) → build ([`builds`]) →
//! package and compile ([`package`], writing [`manifest`] into [`outdir`]) → pre-flight
//! checks ([`preflight`]) → the deploy request ([`request`]). Nothing here uses
//! `crate::commands`: the commands are built from these steps.

pub(crate) mod approval;
pub(crate) mod builds;
pub(crate) mod function;
pub(crate) mod hooks;
pub(crate) mod local;
pub(crate) mod manifest;
pub(crate) mod outdir;
pub(crate) mod package;
pub(crate) mod plugins;
pub(crate) mod preflight;
pub(crate) mod protect;
pub(crate) mod report;
pub(crate) mod request;
pub(crate) mod service;
pub(crate) mod stack;
pub(crate) mod stage;
pub(crate) mod watcher;

use std::path::Path;
use std::time::{Instant, SystemTime};

use deployer_aws::deploy::DeployRequest;
use deployer_config::model::Service;
use deployer_template::plugins::PluginTreatment;
use serde_json::Value;

use crate::observer::{Action, Observer};
use package::{BuildTarget, HostAccess};
use request::Deployable;
use stage::{Guard, Stage, StageOptions};

/// Milliseconds since `since`.
pub(crate) fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// One (service, stage) made ready once: what deploy and diff borrow instead of working any
/// of it out again.
pub(crate) struct Prepared {
    /// The opened stage: its source, session (guard verdict), clients and lock file.
    pub stage: Stage,
    /// The package with its model, plugin plan and stack name.
    pub built: Deployable,
    /// How long the guard took, in milliseconds.
    pub guard_ms: u64,
    /// The plugin host, when declared plugins needed it: its deploy hooks are still to run.
    pub host: Option<hooks::PluginHost>,
}

impl Prepared {
    /// The deploy request, sharing the package's templates.
    pub fn request(&self, force: bool) -> DeployRequest {
        let mut req = request::deploy_request(&self.built, force);
        req.protect = self.stage.source.stage.protection.is_some();
        req
    }
}

/// Opens the stage (guard first), packages or reads `package_dir`, and announces `action`.
pub(crate) async fn prepare(
    options: &StageOptions,
    package_dir: Option<&Path>,
    action: Action,
    observer: &dyn Observer,
) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    // Read once: the early plugin check and the stage share the file.
    let file = service::load_file(&options.service)?;
    let early = plugins::refuse_early(&file, &options.service)?;
    let source = service::from_file(file, &options.service, observer)?;
    let stage = stage::open_source(source, options, Guard::Enforce, observer).await?;
    let guard_ms = millis(started);
    let (mut built, mut host) =
        deployable(&stage, options, package_dir, early.as_deref(), observer)?;
    if let Some(host) = host.as_mut() {
        // v3's `before:deploy:deploy`: plugins may still change the template.
        let mut update = (*built.update).clone();
        host.before_deploy(&mut update, observer)?;
        if update != *built.update {
            built.template_hash = deployer_template::normalized_template_hash(&update);
            built.update = std::sync::Arc::new(update);
        }
    }
    // Limits AWS would report only after the uploads: checked before the first write.
    preflight::check(
        &built.service,
        &built.update,
        preflight::today(),
        preflight::Mode::Deploy,
        observer,
    )?;
    observer.announce(action, &built.service.service, &stage.session);
    Ok(Prepared {
        stage,
        built,
        guard_ms,
        host,
    })
}

/// Package now (into the default package directory), or read `package_dir` built earlier;
/// `early` is the plugin plan made before resolution, when it decided.
fn deployable(
    stage: &Stage,
    options: &StageOptions,
    package_dir: Option<&Path>,
    early: Option<&[PluginTreatment]>,
    observer: &dyn Observer,
) -> anyhow::Result<(Deployable, Option<hooks::PluginHost>)> {
    let mut answers = stage.aws_answers();
    let Some(dir) = package_dir else {
        let package_options = BuildTarget {
            service: &options.service,
            out_dir: None,
            now: SystemTime::now(),
            plugins: early,
            host: HostAccess::deploy(&stage.session),
        };
        let (build, host) =
            package::build_hosted(&stage.source, &package_options, &mut answers, observer)?;
        return Ok((Deployable::from_build(build), host));
    };
    let resolved = stage.source.resolve(None, &mut answers, observer)?;
    let service: Service = stage.source.service(&resolved)?;
    let plugins = plugins::check(&service, &options.service, early, observer)?;
    let dir = manifest::read(dir, &service.service, &resolved.stage, &resolved.region)?;
    refuse_hosted_with_package_dir(&plugins)?;
    let deployable = Deployable::from_dir(service, dir, empty_template());
    Ok((
        Deployable {
            plugins,
            ..deployable
        },
        None,
    ))
}

/// `--package DIR` with plugins the host runs: their deploy hooks would need the package
/// run's state (template, files they wrote), which a directory does not keep.
fn refuse_hosted_with_package_dir(plugins: &[PluginTreatment]) -> anyhow::Result<()> {
    let hosted = deployer_template::plugins::hosted(plugins);
    if hosted.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = hosted.iter().map(|t| t.name.as_str()).collect();
    Err(crate::errors::OpError::error(
        crate::errors::OpErrorKind::PackageDir,
        format!(
            "--package cannot deploy a service whose plugins run in the plugin host ({}): their deploy hooks need the packaging run. Deploy without --package (deployer packages and deploys in one run)",
            names.join(", ")
        ),
    ))
}

/// The core template of a package without one (the deployment bucket is named).
fn empty_template() -> Value {
    serde_json::json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::ACCOUNT_LOCK_FILE;
    use crate::observer::tests::Collect;

    #[tokio::test]
    async fn the_deploy_preparation_reads_the_configuration_once() {
        let dir = tempfile::tempdir().unwrap();
        let yml = "service: s\nprovider:\n  name: aws\nplugins:\n  - serverless-offline\n";
        std::fs::write(dir.path().join("serverless.yml"), yml).unwrap();
        // A malformed account lock file stops the preparation before any AWS call.
        std::fs::write(dir.path().join(ACCOUNT_LOCK_FILE), "not json").unwrap();
        let mut options = StageOptions::default();
        options.service.cwd = dir.path().to_path_buf();
        let before = deployer_config::reads_on_this_thread();
        let result = prepare(&options, None, Action::Deploy, &Collect::default()).await;
        assert!(result.is_err(), "the lock file is malformed");
        assert_eq!(deployer_config::reads_on_this_thread() - before, 1);
    }
}
