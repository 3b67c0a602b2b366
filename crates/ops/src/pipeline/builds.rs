//! The build step of packaging: esbuild bundles and pip installs (`deployer_package::build`)
//! before the zips are written, and what the result reports about them.

use std::collections::BTreeMap;

use anyhow::Context;
use deployer_config::ConfigFile;
use deployer_config::model::Service;
use deployer_package::PackageOptions as ZipOptions;
use deployer_package::build::{self, BuildPlan, BuildSettings, Builder};
use serde::Serialize;

use crate::observer::Observer;

/// What the build step did, reported with the package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildsSummary {
    /// Builds run (esbuild entries bundled, requirement sets installed).
    pub built: usize,
    /// Builds skipped because their inputs were unchanged.
    pub cached: usize,
    /// Function key → the builder that prepared its code (`esbuild`, `pip`), for the functions
    /// that were built.
    pub functions: BTreeMap<String, String>,
}

/// Plans and runs the builds of `service`, shows their warnings once each, and returns the
/// zip options that put the built trees into the zips.
pub(crate) fn run(
    service: &Service,
    file: &ConfigFile,
    observer: &dyn Observer,
) -> anyhow::Result<(ZipOptions, BuildsSummary)> {
    let plan = build::plan(service, &file.dir)
        .with_context(|| format!("Cannot plan the builds of {}", file.path.display()))?;
    let functions = builders(&plan);
    for (key, builder) in &functions {
        observer.detail(&format!("function {key}: built with {builder}"));
    }
    let output = build::build(&plan, &BuildSettings::for_service(&file.dir))
        .with_context(|| format!("Build failed for {}", file.path.display()))?;
    let mut shown = std::collections::BTreeSet::new();
    for warning in &output.warnings {
        if shown.insert(warning.as_str()) {
            observer.warning(warning);
        }
    }
    if output.built + output.cached > 0 {
        observer.detail(&format!(
            "builds: {} run, {} unchanged (cached)",
            output.built, output.cached
        ));
    }
    let exclude_dev = service
        .package
        .as_ref()
        .and_then(|p| p.exclude_dev_dependencies)
        .unwrap_or(true);
    let summary = BuildsSummary {
        built: output.built,
        cached: output.cached,
        functions,
    };
    Ok((output.package_options(exclude_dev), summary))
}

/// Function key → builder name, for the functions a builder prepares.
fn builders(plan: &BuildPlan) -> BTreeMap<String, String> {
    plan.functions
        .iter()
        .filter_map(|f| {
            let name = match f.builder {
                Builder::Esbuild if plan.esbuild.is_some() => "esbuild",
                Builder::Python if plan.python.is_some() => "pip",
                _ => return None,
            };
            Some((f.key.clone(), name.to_string()))
        })
        .collect()
}
