//! `package`: resolve the configuration, build the artifacts, compile the templates and write
//! them with a manifest into the package directory.

use std::path::PathBuf;
use std::time::SystemTime;

use deployer_template::plugins::PluginTreatment;
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::observer::Observer;
use crate::pipeline::builds::BuildsSummary;
use crate::pipeline::package::{Build, BuildTarget, HostAccess, build};
use crate::pipeline::service;
use crate::pipeline::stage::{OnDemand, StageOptions};
use std::cell::RefCell;

/// What to package, where and when.
#[derive(Debug)]
pub struct PackageOptions {
    /// The service, its options and the credentials for AWS-backed variables (opened, guard
    /// first, only when the configuration uses one).
    pub stage: StageOptions,
    /// The package directory (absolute, or relative to the working directory); `None` =
    /// `package.path` of the configuration, else the default package directory.
    pub out_dir: Option<PathBuf>,
    /// The time of this run: `${sls:instanceId}`, the `ApiGatewayDeployment` suffix and the
    /// S3 artifact directory derive from it.
    pub now: SystemTime,
    /// Open no credentials: an AWS-backed variable is an error at its property.
    pub offline: bool,
}

/// What `package` wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageSummary {
    /// `service:` name.
    pub service: String,
    /// Stage packaged for.
    pub stage: String,
    /// Region packaged for.
    pub region: String,
    /// The CloudFormation stack name.
    pub stack_name: String,
    /// The package directory.
    pub directory: PathBuf,
    /// The S3 directory of this deployment.
    pub artifact_directory_name: String,
    /// The artifacts written or referenced.
    pub artifacts: Vec<ArtifactSummary>,
    /// The template files.
    pub templates: TemplateFiles,
    /// The manifest file.
    pub manifest: PathBuf,
    /// v3's normalized hash of the update template.
    pub template_hash: String,
    /// Each declared plugin with its treatment.
    pub plugins: Vec<PluginTreatment>,
    /// What was built (esbuild bundles, pip installs) or reused from the build cache.
    pub builds: BuildsSummary,
    /// The AWS calls made for AWS-backed variables (absent when no credentials were opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_calls: Option<AwsCalls>,
}

/// One artifact of a [`PackageSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactSummary {
    /// File name, also the S3 object name.
    pub name: String,
    /// Where the file is.
    pub path: PathBuf,
    /// base64 SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Keys of the functions that use it.
    pub functions: Vec<String>,
    /// A `package.artifact` given by the configuration, not built.
    pub prebuilt: bool,
}

/// The template files of a [`PackageSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct TemplateFiles {
    /// The core stack template, when there is a core stack.
    pub create: Option<PathBuf>,
    /// The full stack template.
    pub update: PathBuf,
}

/// Packages the service. AWS-backed variables are resolved with the stage's credentials,
/// opened (guard first) only when the configuration uses one; with `offline`, they are an
/// error at their property.
///
/// Zips, templates and the manifest of an earlier run in the package directory are removed
/// first (prebuilt artifacts the configuration names are kept). Async because an AWS-backed
/// variable opens the stage on the caller's (multi-thread) runtime.
pub async fn package(
    options: &PackageOptions,
    observer: &dyn Observer,
) -> anyhow::Result<PackageSummary> {
    let source = service::load(&options.stage.service, observer)?;
    let mut target = BuildTarget {
        service: &options.stage.service,
        out_dir: options.out_dir.as_deref(),
        now: options.now,
        plugins: None,
        host: HostAccess {
            command: "package",
            ..HostAccess::default()
        },
    };
    let (build, aws_calls) = if options.offline {
        let mut offline = service::offline_answers("package");
        (build(&source, &target, &mut offline, observer)?, None)
    } else {
        // Variables and plugins share the stage, opened (guard first) by whichever needs it.
        let aws = RefCell::new(OnDemand::new(&options.stage, &source, observer));
        let opener = || aws.borrow_mut().session();
        target.host.opener = Some(&opener);
        let built = build(
            &source,
            &target,
            &mut |r| aws.borrow_mut().answer(r),
            observer,
        );
        aws.into_inner().finish(built)?
    };
    crate::pipeline::preflight::check(
        &build.service,
        &build.templates.update,
        crate::pipeline::preflight::today(),
        crate::pipeline::preflight::Mode::Package,
        observer,
    )?;
    Ok(PackageSummary {
        aws_calls,
        ..summary(&build)
    })
}

/// What `package` reports of a build.
fn summary(build: &Build) -> PackageSummary {
    let m = &build.manifest;
    PackageSummary {
        service: m.service.clone(),
        stage: m.stage.clone(),
        region: m.region.clone(),
        stack_name: m.stack_name.clone(),
        directory: build.out_dir.clone(),
        artifact_directory_name: m.artifact_directory_name.clone(),
        artifacts: build
            .package
            .artifacts
            .iter()
            .map(|a| ArtifactSummary {
                name: a.name.clone(),
                path: a.path.clone(),
                sha256: a.sha256_base64.clone(),
                size: a.size,
                functions: a.functions.clone(),
                prebuilt: a.prebuilt,
            })
            .collect(),
        templates: TemplateFiles {
            create: build.create_template_path.clone(),
            update: build.update_template_path.clone(),
        },
        manifest: build.manifest_path.clone(),
        template_hash: m.template_hash.clone(),
        plugins: build.plugins.clone(),
        builds: build.builds.clone(),
        aws_calls: None,
    }
}
