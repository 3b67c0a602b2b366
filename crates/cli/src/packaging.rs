//! The packaging step shared by `deployer package` and `deployer up`: resolve the
//! configuration, build the artifacts, compile the templates and write them with a manifest
//! into the package directory; and read such a directory back ([`load_manifest`]).
//!
//! Offline unless the caller's `external` callback fetches AWS-backed variables. Prints only
//! through [`Output`] (warnings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};
use deployer_config::model::Service;
use deployer_config::{
    CliOptions, ConfigFile, ExternalFn, ExternalRequest, LoadOptions, ProcessEnv, ResolveSettings,
    Resolved, StageSettings, load, resolve_stage, resolve_with,
};
use deployer_package::{Artifact, FunctionPackaging, PackageRequest, PackageResult};
use deployer_template::{CompileInput, FunctionArtifact, Templates};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::ServiceArgs;
use crate::output::Output;

/// The core stack template, written only when deployer creates the deployment bucket.
pub const CREATE_TEMPLATE_FILE: &str = "cloudformation-template-create-stack.json";
/// The full stack template.
pub const UPDATE_TEMPLATE_FILE: &str = "cloudformation-template-update-stack.json";
/// The manifest of a package directory, read back by `deployer up --package DIR`.
pub const MANIFEST_FILE: &str = "deployer-manifest.json";
/// The version of the manifest layout; a different one is refused.
pub const MANIFEST_FORMAT: u32 = 1;

/// The configuration file with the command-line options and the early-phase stage settings
/// (what chooses the credentials), before the full resolution.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The parsed configuration file.
    pub file: ConfigFile,
    /// `--stage`, `--region`, `--param`.
    pub options: CliOptions,
    /// Stage, region, profile and account pins, resolved from offline sources.
    pub stage: StageSettings,
}

/// Loads the configuration named by the service options (relative to the working directory)
/// and resolves its stage settings (offline).
pub fn load_source(args: &ServiceArgs) -> anyhow::Result<ConfigSource> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let file = load(&LoadOptions {
        config: args.config.clone(),
        cwd,
    })?;
    let options = crate::context::cli_options(args);
    let stage = resolve_stage(&file, &options, &ProcessEnv)?;
    Ok(ConfigSource {
        file,
        options,
        stage,
    })
}

/// An `external` answer callback for commands without credentials: every AWS-backed variable
/// (`ssm`, `cf`, `s3`, `aws:accountId`) is an error, reported at its property.
pub fn offline_answers(
    command: &'static str,
) -> impl FnMut(&[ExternalRequest]) -> Vec<Result<Option<Value>, String>> {
    move |requests: &[ExternalRequest]| {
        requests
            .iter()
            .map(|r| {
                Err(format!(
                    "{r} needs AWS credentials; `deployer {command}` works offline and does not \
                     resolve AWS-backed sources (ssm, cf, s3, aws:accountId); `deployer up` \
                     resolves them with the stage's credentials"
                ))
            })
            .collect()
    }
}

/// Where and when to package.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The package directory (absolute, or relative to the working directory); `None` =
    /// `package.path` of the configuration (relative to the service directory), else
    /// `<service dir>/.serverless`.
    pub out_dir: Option<PathBuf>,
    /// The time of this run: `${sls:instanceId}`, the `ApiGatewayDeployment` suffix and the
    /// S3 artifact directory derive from it.
    pub now: SystemTime,
}

/// Everything a packaging run produced, for the deploy step.
// `deployer package` prints a summary; `deployer up` reads the rest.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Build {
    /// The configuration file that was read.
    pub config_path: PathBuf,
    /// The service directory.
    pub service_dir: PathBuf,
    /// The stage settings of the early phase (credentials, account pins).
    pub stage: StageSettings,
    /// The fully resolved configuration (stage, region, instance id, warnings).
    pub resolved: Resolved,
    /// The typed service model.
    pub service: Service,
    /// Where the files were written.
    pub out_dir: PathBuf,
    /// The artifacts and which function uses which.
    pub package: PackageResult,
    /// The compiled core and full templates.
    pub templates: Templates,
    /// `cloudformation-template-create-stack.json`, when there is a core stack.
    pub create_template_path: Option<PathBuf>,
    /// `cloudformation-template-update-stack.json`.
    pub update_template_path: PathBuf,
    /// `deployer-manifest.json`.
    pub manifest_path: PathBuf,
    /// What the manifest file holds.
    pub manifest: Manifest,
}

/// `deployer-manifest.json`: what a package directory holds, checked before it is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Layout version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// `service:` name.
    pub service: String,
    /// The stage packaged for.
    pub stage: String,
    /// The region packaged for.
    pub region: String,
    /// The CloudFormation stack name.
    pub stack_name: String,
    /// The S3 directory of this deployment (`serverless/<service>/<stage>/<ms>-<ISO 8601>`).
    pub artifact_directory_name: String,
    /// `${sls:instanceId}` of the run (the `ApiGatewayDeployment` suffix).
    pub instance_id: String,
    /// Every artifact to upload.
    pub artifacts: Vec<ManifestArtifact>,
    /// v3's normalized hash of the update template (change detection).
    pub template_hash: String,
    /// When the package was built (RFC 3339, UTC).
    pub created_at: String,
}

/// One artifact of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestArtifact {
    /// File name, also the S3 object name.
    pub name: String,
    /// base64 SHA-256 of the file (Lambda's `CodeSha256`).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Keys of the functions that use it.
    pub functions: Vec<String>,
    /// For a prebuilt `artifact` outside the package directory: its absolute path. Absent for
    /// files in the package directory (found by `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// Resolves the configuration (AWS-backed variables through `external`), packages the
/// service and writes templates, zips and manifest into the package directory.
///
/// Zips, templates and the manifest of an earlier run in that directory are removed first
/// (prebuilt artifacts the configuration names are kept). Warnings of the full resolution are
/// printed, except those of `source.stage`, which the caller prints when it loads the source.
pub fn build(
    out: &Output,
    source: &ConfigSource,
    options: &BuildOptions,
    external: &mut ExternalFn<'_>,
) -> anyhow::Result<Build> {
    let since_epoch = options
        .now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let instance_id = since_epoch.as_millis().to_string();
    let settings = ResolveSettings {
        instance_id: Some(instance_id.clone()),
        external_sources: Vec::new(),
    };
    let resolved = resolve_with(
        &source.file,
        &source.options,
        &ProcessEnv,
        &settings,
        external,
    )?;
    // The caller has shown the early phase's warnings already (before choosing credentials).
    for warning in resolved
        .warnings
        .iter()
        .filter(|w| !source.stage.warnings.contains(w))
    {
        out.warn(warning);
    }
    let config_path = source.file.path.clone();
    let service_dir = source.file.dir.clone();
    let service = Service::from_value(&resolved.value)
        .with_context(|| format!("Invalid configuration in {}", config_path.display()))?;
    let stage = resolved.stage.clone();
    let region = resolved.region.clone();

    let request = package_request(&service, &source.file);
    for warning in package_warnings(&service) {
        out.warn(&warning);
    }
    let out_dir = output_dir(options, &service, &service_dir)?;
    prepare_output_dir(&out_dir, &service_dir, &prebuilt_paths(&request))?;
    let package = deployer_package::package(&request, &out_dir)?;

    let artifact_directory_name = deployer_template::artifact_directory_name(
        service.provider.deployment_prefix.as_deref(),
        &service.service,
        &stage,
        options.now,
    );
    let artifacts = function_artifacts(&package);
    let templates = deployer_template::compile(&CompileInput {
        service: &service,
        stage: &stage,
        region: &region,
        instance_id: &instance_id,
        artifact_directory_name: &artifact_directory_name,
        artifacts: &artifacts,
    })
    .with_context(|| {
        format!(
            "Cannot compile the CloudFormation template of {}",
            config_path.display()
        )
    })?;

    let has_core_stack = templates.create["Resources"]
        .as_object()
        .is_some_and(|r| !r.is_empty());
    let create_template_path = if has_core_stack {
        let path = out_dir.join(CREATE_TEMPLATE_FILE);
        write_json(&path, &templates.create)?;
        Some(path)
    } else {
        None
    };
    let update_template_path = out_dir.join(UPDATE_TEMPLATE_FILE);
    write_json(&update_template_path, &templates.update)?;

    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        service: service.service.clone(),
        stage: stage.clone(),
        region: region.clone(),
        stack_name: service.stack_name(&stage),
        artifact_directory_name,
        instance_id,
        artifacts: package
            .artifacts
            .iter()
            .map(|a| manifest_artifact(a, &out_dir))
            .collect(),
        template_hash: deployer_template::normalized_template_hash(&templates.update),
        created_at: rfc3339(options.now),
    };
    let manifest_path = out_dir.join(MANIFEST_FILE);
    write_json(&manifest_path, &serde_json::to_value(&manifest)?)?;

    Ok(Build {
        config_path,
        service_dir,
        stage: source.stage.clone(),
        resolved,
        service,
        out_dir,
        package,
        templates,
        create_template_path,
        update_template_path,
        manifest_path,
        manifest,
    })
}

/// Maps the service model to the packager's input.
pub fn package_request(service: &Service, file: &ConfigFile) -> PackageRequest {
    let package = service.package.clone().unwrap_or_default();
    let config_file = file
        .path
        .strip_prefix(&file.dir)
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let functions = service
        .functions
        .iter()
        .map(|(key, function)| {
            let fp = function.package.clone().unwrap_or_default();
            FunctionPackaging {
                key: key.clone(),
                patterns: fp.patterns,
                include: fp.include,
                exclude: fp.exclude,
                individually: fp.individually.unwrap_or(false),
                artifact: fp.artifact.map(PathBuf::from),
                // Container image functions have no zip.
                disable: fp.disable.unwrap_or(false) || function.image.is_some(),
            }
        })
        .collect();
    PackageRequest {
        service_dir: file.dir.clone(),
        service_name: service.service.clone(),
        config_file,
        use_dotenv: service.use_dotenv.unwrap_or(false),
        exclude: package.exclude,
        include: package.include,
        patterns: package.patterns,
        individually: package.individually.unwrap_or(false),
        artifact: package.artifact.map(PathBuf::from),
        functions,
    }
}

/// The warnings v3 prints about package settings.
fn package_warnings(service: &Service) -> Vec<String> {
    let mut warnings = Vec::new();
    let service_package = service.package.as_ref();
    if service_package.is_some_and(|p| !p.include.is_empty() || !p.exclude.is_empty()) {
        warnings.push(
            "package.include and package.exclude are deprecated; use package.patterns \
             (\"!pattern\" to exclude)"
                .to_string(),
        );
    }
    let individually = service_package.and_then(|p| p.individually) == Some(true);
    for (key, function) in &service.functions {
        let Some(fp) = &function.package else {
            continue;
        };
        let has_patterns =
            !fp.patterns.is_empty() || !fp.include.is_empty() || !fp.exclude.is_empty();
        if has_patterns && !individually && fp.individually != Some(true) {
            warnings.push(format!(
                "functions.{key}.package patterns are ignored because the function is not \
                 packaged individually; set package.individually or \
                 functions.{key}.package.individually to true"
            ));
        }
    }
    warnings
}

/// `--package DIR`, else `package.path` (relative to the service dir), else `.serverless`.
fn output_dir(
    options: &BuildOptions,
    service: &Service,
    service_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let dir = match (
        &options.out_dir,
        service.package.as_ref().and_then(|p| p.path.as_ref()),
    ) {
        (Some(dir), _) => {
            let cwd = std::env::current_dir().context("cannot read the working directory")?;
            cwd.join(dir)
        }
        (None, Some(path)) => service_dir.join(path),
        (None, None) => service_dir.join(".serverless"),
    };
    Ok(dir)
}

/// The prebuilt artifacts of the request, which cleaning must never delete.
fn prebuilt_paths(request: &PackageRequest) -> Vec<PathBuf> {
    request
        .artifact
        .iter()
        .chain(request.functions.iter().filter_map(|f| f.artifact.as_ref()))
        .map(|p| request.service_dir.join(p))
        .filter_map(|p| p.canonicalize().ok())
        .collect()
}

/// Creates the package directory and removes what an earlier run left there (zips, templates,
/// manifest), as v3's package cleanup does, so no stale zip is deployed.
fn prepare_output_dir(dir: &Path, service_dir: &Path, keep: &[PathBuf]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("Cannot create the package directory {}", dir.display()))?;
    let canonical = dir
        .canonicalize()
        .with_context(|| format!("Cannot read the package directory {}", dir.display()))?;
    if service_dir.canonicalize().ok().as_ref() == Some(&canonical) {
        bail!(
            "The package directory {} is the service directory itself; choose a subdirectory \
             such as .serverless",
            dir.display()
        );
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("Cannot list the package directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("Cannot list {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.ends_with(".zip")
            || name == CREATE_TEMPLATE_FILE
            || name == UPDATE_TEMPLATE_FILE
            || name == MANIFEST_FILE;
        if !ours || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if path.canonicalize().is_ok_and(|p| keep.contains(&p)) {
            continue;
        }
        std::fs::remove_file(&path).with_context(|| {
            format!(
                "Cannot remove {} left by an earlier package run",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// The template input: each function's artifact name and hash.
fn function_artifacts(package: &PackageResult) -> BTreeMap<String, FunctionArtifact> {
    package
        .artifacts
        .iter()
        .flat_map(|a| {
            a.functions.iter().map(|key| {
                (
                    key.clone(),
                    FunctionArtifact {
                        s3_key_name: a.name.clone(),
                        sha256_base64: a.sha256_base64.clone(),
                    },
                )
            })
        })
        .collect()
}

fn manifest_artifact(artifact: &Artifact, out_dir: &Path) -> ManifestArtifact {
    let in_dir = artifact.path.parent() == Some(out_dir)
        || artifact
            .path
            .canonicalize()
            .ok()
            .zip(out_dir.join(&artifact.name).canonicalize().ok())
            .is_some_and(|(a, b)| a == b);
    let path = if in_dir {
        None
    } else {
        Some(
            artifact
                .path
                .canonicalize()
                .unwrap_or_else(|_| artifact.path.clone()),
        )
    };
    ManifestArtifact {
        name: artifact.name.clone(),
        sha256: artifact.sha256_base64.clone(),
        size: artifact.size,
        functions: artifact.functions.clone(),
        path,
    }
}

/// Pretty JSON with 2-space indent and no trailing newline, as v3's `JSON.stringify(x, null, 2)`.
fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).with_context(|| format!("Cannot write {}", path.display()))
}

fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// A package directory read back by [`load_manifest`].
// Used by `deployer up --package DIR`.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The package directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The core template, when the package has one.
    pub create_template: Option<Value>,
    /// The full template.
    pub update_template: Value,
    /// The artifacts, checked against the manifest (path, hash, size).
    pub artifacts: Vec<Artifact>,
}

/// Reads a package directory written by [`build`] for deployment, and checks that it was built
/// for this service, stage and region, that the update template is the one packaged, and that
/// every artifact exists with the listed hash and size.
// Used by `deployer up --package DIR`.
#[allow(dead_code)]
pub fn load_manifest(
    dir: &Path,
    service: &str,
    stage: &str,
    region: &str,
) -> anyhow::Result<Packaged> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "Cannot read {}; is {} a directory written by `deployer package --package DIR`?",
            manifest_path.display(),
            dir.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a deployer manifest; run `deployer package` again",
            manifest_path.display()
        )
    })?;
    if manifest.format != MANIFEST_FORMAT {
        bail!(
            "{} has manifest format {}, this deployer reads format {MANIFEST_FORMAT}; run \
             `deployer package` again",
            manifest_path.display(),
            manifest.format
        );
    }
    for (what, packaged, wanted) in [
        ("service", &manifest.service, service),
        ("stage", &manifest.stage, stage),
        ("region", &manifest.region, region),
    ] {
        if packaged != wanted {
            bail!(
                "The package in {} was built for {what} \"{packaged}\", not \"{wanted}\"; run \
                 `deployer package --stage {stage} --package {}` first",
                dir.display(),
                dir.display()
            );
        }
    }
    let read_template = |name: &str| -> anyhow::Result<Value> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("Cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
    };
    let update_template = read_template(UPDATE_TEMPLATE_FILE)?;
    if deployer_template::normalized_template_hash(&update_template) != manifest.template_hash {
        bail!(
            "{} was changed after it was packaged (its hash differs from {}); run `deployer \
             package` again",
            dir.join(UPDATE_TEMPLATE_FILE).display(),
            manifest_path.display()
        );
    }
    let create_template = if dir.join(CREATE_TEMPLATE_FILE).is_file() {
        Some(read_template(CREATE_TEMPLATE_FILE)?)
    } else {
        None
    };
    let mut artifacts = Vec::with_capacity(manifest.artifacts.len());
    for listed in &manifest.artifacts {
        let (path, prebuilt) = match &listed.path {
            Some(path) => (path.clone(), true),
            None => (dir.join(&listed.name), false),
        };
        let sha = deployer_package::sha256_base64_file(&path).with_context(|| {
            format!(
                "Cannot read artifact {} listed in {}",
                path.display(),
                manifest_path.display()
            )
        })?;
        let size = std::fs::metadata(&path)
            .with_context(|| format!("Cannot read artifact {}", path.display()))?
            .len();
        if sha != listed.sha256 || size != listed.size {
            bail!(
                "Artifact {} changed after it was packaged (SHA-256 {sha}, {size} bytes; the \
                 manifest lists {}, {} bytes); run `deployer package` again",
                path.display(),
                listed.sha256,
                listed.size
            );
        }
        artifacts.push(Artifact {
            name: listed.name.clone(),
            path,
            sha256_base64: sha,
            size,
            functions: listed.functions.clone(),
            prebuilt,
        });
    }
    Ok(Packaged {
        dir: dir.to_path_buf(),
        manifest,
        create_template,
        update_template,
        artifacts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::GlobalArgs;

    const CONFIG: &str = "service: demo\n\
        provider:\n  name: aws\n  runtime: nodejs22.x\n  region: eu-west-1\n\
        package:\n  patterns:\n    - '!docs/**'\n\
        functions:\n  hello:\n    handler: handler.hello\n    events:\n      - httpApi: GET /hello\n";

    fn service_dir(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("serverless.yml"), config).unwrap();
        std::fs::write(dir.path().join("handler.js"), "exports.hello = 1;\n").unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("docs/readme.md"), "docs").unwrap();
        dir
    }

    fn source(dir: &Path, stage: &str) -> ConfigSource {
        let file = load(&LoadOptions {
            config: None,
            cwd: dir.to_path_buf(),
        })
        .unwrap();
        let options = CliOptions {
            stage: Some(stage.into()),
            ..Default::default()
        };
        let stage = resolve_stage(&file, &options, &ProcessEnv).unwrap();
        ConfigSource {
            file,
            options,
            stage,
        }
    }

    fn run(dir: &Path, stage: &str, out_dir: Option<PathBuf>) -> anyhow::Result<Build> {
        let out = Output::new(&GlobalArgs::default());
        let options = BuildOptions {
            out_dir,
            now: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123),
        };
        build(
            &out,
            &source(dir, stage),
            &options,
            &mut offline_answers("package"),
        )
    }

    #[test]
    fn build_writes_templates_zip_and_manifest() {
        let dir = service_dir(CONFIG);
        let build = run(dir.path(), "prod", None).unwrap();
        let out_dir = dir.path().join(".serverless");
        assert_eq!(build.out_dir, out_dir);
        let m = &build.manifest;
        assert_eq!(
            (m.service.as_str(), m.stage.as_str(), m.region.as_str()),
            ("demo", "prod", "eu-west-1")
        );
        assert_eq!(m.stack_name, "demo-prod");
        assert_eq!(m.instance_id, "1700000000123");
        assert_eq!(
            m.artifact_directory_name,
            "serverless/demo/prod/1700000000123-2023-11-14T22:13:20.123Z"
        );
        assert_eq!(m.artifacts.len(), 1);
        assert_eq!(m.artifacts[0].name, "demo.zip");
        assert_eq!(m.artifacts[0].functions, ["hello"]);
        assert_eq!(m.artifacts[0].path, None);
        assert_eq!(
            m.template_hash,
            deployer_template::normalized_template_hash(&build.templates.update)
        );
        let code =
            &build.templates.update["Resources"]["HelloLambdaFunction"]["Properties"]["Code"];
        assert_eq!(
            code["S3Key"],
            format!("{}/demo.zip", m.artifact_directory_name)
        );
        // The files on disk are what the build returned.
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&build.update_template_path).unwrap())
                .unwrap();
        assert_eq!(written, build.templates.update);
        let manifest: Manifest =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join(MANIFEST_FILE)).unwrap())
                .unwrap();
        assert_eq!(&manifest, m);
        assert!(out_dir.join(CREATE_TEMPLATE_FILE).is_file());
        let packaged = load_manifest(&out_dir, "demo", "prod", "eu-west-1").unwrap();
        assert_eq!(packaged.artifacts, build.package.artifacts);
        assert_eq!(packaged.update_template, build.templates.update);
        assert_eq!(
            packaged.create_template,
            Some(build.templates.create.clone())
        );
    }

    #[test]
    fn existing_bucket_means_no_create_template_and_stale_files_go() {
        let dir = service_dir(CONFIG);
        let out_dir = dir.path().join(".serverless");
        run(dir.path(), "dev", None).unwrap();
        std::fs::write(out_dir.join("old-function.zip"), "stale").unwrap();
        std::fs::write(out_dir.join("notes.txt"), "kept").unwrap();
        let config = CONFIG.replace(
            "  region: eu-west-1\n",
            "  region: eu-west-1\n  deploymentBucket: my-bucket\n",
        );
        std::fs::write(dir.path().join("serverless.yml"), config).unwrap();
        let build = run(dir.path(), "dev", None).unwrap();
        assert_eq!(build.create_template_path, None);
        assert!(!out_dir.join(CREATE_TEMPLATE_FILE).exists());
        assert!(!out_dir.join("old-function.zip").exists());
        assert!(out_dir.join("notes.txt").exists());
        assert!(out_dir.join("demo.zip").exists());
        let packaged = load_manifest(&out_dir, "demo", "dev", "eu-west-1").unwrap();
        assert_eq!(packaged.create_template, None);
    }

    #[test]
    fn prebuilt_artifact_in_the_package_dir_is_kept_and_listed_by_path() {
        let dir = service_dir(&CONFIG.replace(
            "    handler: handler.hello\n",
            "    handler: handler.hello\n    package:\n      artifact: dist/app.zip\n",
        ));
        let dist = dir.path().join("dist");
        std::fs::create_dir(&dist).unwrap();
        std::fs::write(dist.join("app.zip"), "prebuilt bytes").unwrap();
        let build = run(dir.path(), "dev", Some(dist.clone())).unwrap();
        assert!(
            dist.join("app.zip").is_file(),
            "cleaning kept the prebuilt artifact"
        );
        let artifact = &build.manifest.artifacts[0];
        assert_eq!(artifact.name, "app.zip");
        assert_eq!(artifact.path, None, "it lies in the package dir");
        let packaged = load_manifest(&dist, "demo", "dev", "eu-west-1").unwrap();
        assert_eq!(packaged.artifacts[0].sha256_base64, artifact.sha256);

        // Outside the package dir, the manifest names the file.
        let out = tempfile::tempdir().unwrap();
        let build = run(dir.path(), "dev", Some(out.path().to_path_buf())).unwrap();
        assert_eq!(
            build.manifest.artifacts[0].path,
            Some(dist.join("app.zip").canonicalize().unwrap())
        );
        load_manifest(out.path(), "demo", "dev", "eu-west-1").unwrap();
    }

    #[test]
    fn load_manifest_refuses_a_package_for_something_else_or_changed() {
        let dir = service_dir(CONFIG);
        let out_dir = dir.path().join(".serverless");
        run(dir.path(), "dev", None).unwrap();
        let err = |service, stage, region| {
            load_manifest(&out_dir, service, stage, region)
                .unwrap_err()
                .to_string()
        };
        assert!(err("demo", "prod", "eu-west-1").contains("built for stage \"dev\", not \"prod\""));
        assert!(err("other", "dev", "eu-west-1").contains("service \"demo\""));
        assert!(err("demo", "dev", "us-east-1").contains("region \"eu-west-1\""));

        let update = out_dir.join(UPDATE_TEMPLATE_FILE);
        let original = std::fs::read_to_string(&update).unwrap();
        std::fs::write(
            &update,
            original.replace("\"nodejs22.x\"", "\"nodejs20.x\""),
        )
        .unwrap();
        assert!(err("demo", "dev", "eu-west-1").contains("was changed after it was packaged"));
        std::fs::write(&update, &original).unwrap();

        std::fs::write(out_dir.join("demo.zip"), "tampered").unwrap();
        let message = err("demo", "dev", "eu-west-1");
        assert!(
            message.contains("demo.zip changed after it was packaged"),
            "{message}"
        );
        std::fs::remove_file(out_dir.join("demo.zip")).unwrap();
        assert!(err("demo", "dev", "eu-west-1").contains("Cannot read artifact"));
        std::fs::remove_file(out_dir.join(MANIFEST_FILE)).unwrap();
        assert!(err("demo", "dev", "eu-west-1").contains("deployer package --package DIR"));
    }

    #[test]
    fn aws_variables_fail_offline_naming_the_property() {
        let dir = service_dir(&CONFIG.replace(
            "  region: eu-west-1\n",
            "  region: eu-west-1\n  environment:\n    SECRET: ${ssm:/demo/secret}\n",
        ));
        let message = format!("{:#}", run(dir.path(), "dev", None).unwrap_err());
        assert!(message.contains("provider.environment.SECRET"), "{message}");
        assert!(message.contains("needs AWS credentials"), "{message}");
        assert!(!dir.path().join(".serverless").exists(), "nothing written");
    }

    #[test]
    fn output_dir_must_not_be_the_service_dir() {
        let dir = service_dir(CONFIG);
        std::fs::write(dir.path().join("keep.zip"), "x").unwrap();
        let err = run(dir.path(), "dev", Some(dir.path().to_path_buf())).unwrap_err();
        assert!(err.to_string().contains("is the service directory itself"));
        assert!(dir.path().join("keep.zip").exists());
    }

    #[test]
    fn request_maps_service_and_function_settings() {
        let config = "service: svc\nuseDotenv: true\n\
            provider:\n  name: aws\n\
            package:\n  individually: true\n  patterns: ['!a/**']\n  include: [inc]\n  exclude: [exc]\n  artifact: svc.zip\n\
            functions:\n  one:\n    handler: h.one\n    package:\n      patterns: ['one/**']\n      individually: true\n      artifact: one.zip\n\
            \x20 two:\n    handler: h.two\n    package:\n      disable: true\n";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("serverless.yml"), config).unwrap();
        let source = source(dir.path(), "dev");
        let resolved = deployer_config::resolve(
            &source.file,
            &source.options,
            &ProcessEnv,
            &mut offline_answers("package"),
        )
        .unwrap();
        let service = Service::from_value(&resolved.value).unwrap();
        let req = package_request(&service, &source.file);
        assert_eq!(req.service_name, "svc");
        assert_eq!(req.config_file.as_deref(), Some("serverless.yml"));
        assert!(req.use_dotenv && req.individually);
        assert_eq!(req.patterns, ["!a/**"]);
        assert_eq!(req.include, ["inc"]);
        assert_eq!(req.exclude, ["exc"]);
        assert_eq!(req.artifact, Some(PathBuf::from("svc.zip")));
        assert_eq!(req.functions[0].key, "one");
        assert_eq!(req.functions[0].patterns, ["one/**"]);
        assert!(req.functions[0].individually);
        assert_eq!(req.functions[0].artifact, Some(PathBuf::from("one.zip")));
        assert!(req.functions[1].disable);
        assert!(package_warnings(&service)[0].contains("deprecated"));
    }

    #[test]
    fn function_patterns_without_individually_warn() {
        let config = CONFIG.replace(
            "    handler: handler.hello\n",
            "    handler: handler.hello\n    package:\n      patterns: ['x/**']\n",
        );
        let service = Service::from_value(&serde_yaml::from_str(&config).unwrap()).unwrap();
        let warnings = package_warnings(&service);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("functions.hello.package patterns are ignored"));
    }
}
