//! Loading and resolving a service, the same way for every operation: read the configuration
//! file → resolve the stage's early settings (what chooses the credentials) → resolve the whole
//! configuration → the typed model.

use std::path::PathBuf;

use anyhow::Context as _;
use deployer_config::model::Service;
use deployer_config::{
    CliOptions, ConfigFile, ExternalFn, ExternalRequest, LoadOptions, ProcessEnv, ResolveSettings,
    Resolved, StageSettings,
};
use serde_json::Value;

use crate::observer::Observer;

/// Which configuration to read and the command-line options it may refer to.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    /// `--config FILE`; `None` finds `serverless.yml|yaml|json` in `cwd`.
    pub config: Option<PathBuf>,
    /// The working directory: relative paths of the command line are relative to it.
    pub cwd: PathBuf,
    /// `--stage`, `--region`, `--param` and the other options for `${opt:…}`.
    pub cli: CliOptions,
    /// `--ignore-plugin NAME`: unsupported plugins to deploy knowingly without.
    pub ignore_plugins: Vec<String>,
}

/// A configuration file with its options and early-phase stage settings.
#[derive(Debug, Clone)]
pub struct Source {
    /// The parsed configuration file.
    pub file: ConfigFile,
    /// The options it was loaded with.
    pub cli: CliOptions,
    /// Stage, region, profile and account pins, resolved from offline sources.
    pub stage: StageSettings,
}

/// Reads the configuration file named by `options` (no variable is resolved).
pub fn load_file(options: &ServiceOptions) -> anyhow::Result<ConfigFile> {
    Ok(deployer_config::load(&LoadOptions {
        config: options.config.clone(),
        cwd: options.cwd.clone(),
    })?)
}

/// Reads the configuration and resolves its stage settings (offline); reports their warnings.
pub fn load(options: &ServiceOptions, observer: &dyn Observer) -> anyhow::Result<Source> {
    from_file(load_file(options)?, options, observer)
}

/// [`load`] of a file already read.
pub fn from_file(
    file: ConfigFile,
    options: &ServiceOptions,
    observer: &dyn Observer,
) -> anyhow::Result<Source> {
    let stage = deployer_config::resolve_stage(&file, &options.cli, &ProcessEnv)?;
    for warning in &stage.warnings {
        observer.warning(warning);
    }
    Ok(Source {
        file,
        cli: options.cli.clone(),
        stage,
    })
}

impl Source {
    /// Resolves the whole configuration; AWS-backed variables are answered by `external`.
    /// Reports the warnings not already reported by [`load`].
    pub fn resolve(
        &self,
        instance_id: Option<String>,
        external: &mut ExternalFn<'_>,
        observer: &dyn Observer,
    ) -> anyhow::Result<Resolved> {
        let settings = ResolveSettings {
            instance_id,
            ..Default::default()
        };
        self.resolve_with(&settings, external, observer)
    }

    /// [`Self::resolve`] with explicit settings (only one path, AWS variables kept as text).
    pub fn resolve_with(
        &self,
        settings: &ResolveSettings,
        external: &mut ExternalFn<'_>,
        observer: &dyn Observer,
    ) -> anyhow::Result<Resolved> {
        let reported = &self.stage.warnings;
        resolve(
            &self.file, &self.cli, settings, external, reported, observer,
        )
    }

    /// The typed service model of a resolution of this file.
    pub fn service(&self, resolved: &Resolved) -> anyhow::Result<Service> {
        Service::from_value(&resolved.value)
            .with_context(|| format!("Invalid configuration in {}", self.file.path.display()))
    }
}

/// Resolves the configuration of `file` as `settings` say; AWS-backed variables are answered
/// by `external`. Reports the warnings not in `reported`, also when the resolution fails (a
/// likely typo often explains the failure).
pub fn resolve(
    file: &ConfigFile,
    cli: &CliOptions,
    settings: &ResolveSettings,
    external: &mut ExternalFn<'_>,
    reported: &[String],
    observer: &dyn Observer,
) -> anyhow::Result<Resolved> {
    let report = |warnings: &[String]| {
        for warning in warnings.iter().filter(|w| !reported.contains(w)) {
            observer.warning(warning);
        }
    };
    match deployer_config::resolve_with(file, cli, &ProcessEnv, settings, external) {
        Ok(resolved) => {
            report(&resolved.warnings);
            Ok(resolved)
        }
        Err(err) => {
            report(err.warnings());
            Err(err.into())
        }
    }
}

/// The answer of `command --offline`, which opens no credentials: every AWS-backed variable
/// (`ssm`, `cf`, `s3`, `aws:accountId`) is an error, reported at its property.
pub fn offline_answers(
    command: &'static str,
) -> impl FnMut(&[ExternalRequest]) -> Vec<Result<Option<Value>, String>> {
    move |requests: &[ExternalRequest]| {
        requests
            .iter()
            .map(|r| {
                Err(format!(
                    "{r} needs AWS credentials, and `deployer {command} --offline` opens none; \
                     run it without --offline to resolve it with the stage's credentials"
                ))
            })
            .collect()
    }
}
