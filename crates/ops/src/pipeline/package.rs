//! The packaging steps: resolve the configuration, plan the plugins, build the artifacts,
//! compile the templates and write them with a manifest into the package directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use deployer_config::model::Service;
use deployer_config::{ConfigFile, ExternalFn, Resolved};
use deployer_package::{FunctionPackaging, PackageRequest, PackageResult};
use deployer_template::plugins::PluginTreatment;
use deployer_template::{CompileInput, FunctionArtifact, Templates};

use crate::defaults::{
    CREATE_TEMPLATE_FILE, DEPLOYMENT_PREFIX, MANIFEST_FILE, MANIFEST_FORMAT, UPDATE_TEMPLATE_FILE,
};
use crate::observer::Observer;
use crate::pipeline::builds::{self, BuildsSummary};
use crate::pipeline::hooks::{self, Aws, HostRun, PluginHost, SessionFn};
use crate::pipeline::manifest::{Manifest, manifest_artifact, rfc3339, write_json};
use crate::pipeline::service::{ServiceOptions, Source};
use crate::pipeline::{outdir, stack};
use deployer_aws::AwsSession;

/// Where and when [`build`] packages a service.
pub(crate) struct BuildTarget<'a> {
    /// The service and its options.
    pub service: &'a ServiceOptions,
    /// The package directory (absolute, or relative to the working directory); `None` =
    /// `package.path` of the configuration, else the default package directory.
    pub out_dir: Option<&'a Path>,
    /// The time of this run: `${sls:instanceId}`, the `ApiGatewayDeployment` suffix and the
    /// S3 artifact directory derive from it.
    pub now: SystemTime,
    /// The plugin plan made before resolution, when it decided (see
    /// [`crate::pipeline::plugins::refuse_early`]); `None` plans after resolution.
    pub plugins: Option<&'a [PluginTreatment]>,
    /// What plugins run by the plugin host get: the command and AWS access.
    pub host: HostAccess<'a>,
}

/// The command the plugin host runs hooks for, and its AWS access.
#[derive(Clone, Default)]
pub(crate) struct HostAccess<'a> {
    /// v3's command name: `package` or `deploy`.
    pub command: &'static str,
    /// The stage's session, when the command opened it.
    pub session: Option<AwsSession>,
    /// Opens the stage when a plugin calls AWS and nothing opened it (`package`).
    pub opener: Option<&'a SessionFn<'a>>,
}

impl HostAccess<'_> {
    /// A deploy (`up`, `deploy function`, `watch`) on the opened stage's session.
    pub fn deploy(session: &AwsSession) -> Self {
        HostAccess {
            command: "deploy",
            session: Some(session.clone()),
            opener: None,
        }
    }
}

/// Everything a packaging run produced, for the deploy step.
#[derive(Debug, Clone)]
pub(crate) struct Build {
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
    /// Each declared plugin with its treatment.
    pub plugins: Vec<PluginTreatment>,
    /// What the build step did.
    pub builds: BuildsSummary,
}

/// Resolves (AWS-backed variables through `external`), packages and writes the package
/// directory.
pub(crate) fn build(
    source: &Source,
    options: &BuildTarget<'_>,
    external: &mut ExternalFn<'_>,
    observer: &dyn Observer,
) -> anyhow::Result<Build> {
    build_hosted(source, options, external, observer).map(|(build, _)| build)
}

/// [`build`], also returning the plugin host when declared plugins needed it (it stays up
/// for the deploy's hooks).
pub(crate) fn build_hosted(
    source: &Source,
    options: &BuildTarget<'_>,
    external: &mut ExternalFn<'_>,
    observer: &dyn Observer,
) -> anyhow::Result<(Build, Option<PluginHost>)> {
    let instance_id = instance_id(options.now);
    let mut resolved = source.resolve(Some(instance_id.clone()), external, observer)?;
    let mut service = source.service(&resolved)?;
    let plugins = crate::pipeline::plugins::prepare(
        &mut service,
        &source.file.dir,
        options.service,
        options.plugins,
        observer,
    )?;
    let names = RunNames::of(&service, &resolved, &instance_id, options.now);
    let aws = Aws {
        observer,
        opener: options.host.opener,
    };
    let mut host = start_host(source, &resolved, &plugins, &names, &options.host, observer)?;
    if let Some(host) = host.as_mut() {
        match host.configure(aws)? {
            Some(config) => {
                service = reread(
                    source,
                    &mut resolved,
                    config,
                    host,
                    options,
                    &plugins,
                    observer,
                )?
            }
            // Settings the hosted plugins declared in the v3 schema are theirs, not unknown.
            None => service.findings.unknown.retain(|u| !host.claims(&u.path)),
        }
    }
    let request = package_request(&service, &source.file);
    for warning in package_warnings(&service) {
        observer.warning(&warning);
    }
    let out_dir = outdir::output_dir(
        options.out_dir,
        &service,
        &source.file.dir,
        &options.service.cwd,
    );
    // Builds run before anything is written (and before any AWS write of a deploy).
    let (zip_options, builds) = builds::run(&service, &source.file, observer)?;
    outdir::prepare(&out_dir, &source.file.dir, &prebuilt_paths(&request))?;
    let mut package = deployer_package::package_with(&request, &out_dir, &zip_options)?;
    for warning in &package.warnings {
        observer.warning(warning);
    }
    if let Some(host) = host.as_mut()
        && let Some(changed) = host.packaged(aws)?
    {
        // Packaging hooks may have rewritten the zips: their hashes are taken again.
        rehash(&mut package)?;
        if let Some(config) = changed {
            // …and changed the functions, which v3 compiles only after them.
            service = reread(
                source,
                &mut resolved,
                config,
                host,
                options,
                &plugins,
                observer,
            )?;
        }
    }
    let compiled = compile(
        source,
        &resolved,
        &service,
        &package,
        &names,
        host.as_mut(),
        aws,
    )?;
    let mut built = write(service, resolved, out_dir, package, compiled, options.now)?;
    built.builds = builds;
    Ok((Build { plugins, ..built }, host))
}

/// The service read again from the configuration the hosted plugins left; the settings they
/// declared in the v3 schema are theirs, not unknown.
fn reread(
    source: &Source,
    resolved: &mut Resolved,
    config: serde_json::Value,
    host: &PluginHost,
    options: &BuildTarget<'_>,
    plugins: &[PluginTreatment],
    observer: &dyn Observer,
) -> anyhow::Result<Service> {
    resolved.value = config;
    let mut service = source.service(resolved)?;
    service.findings.unknown.retain(|u| !host.claims(&u.path));
    let dir = &source.file.dir;
    crate::pipeline::plugins::apply(&mut service, dir, options.service, plugins, observer)?;
    Ok(service)
}

/// The names a run derives from its time.
struct RunNames {
    instance_id: String,
    prefix: String,
    artifact_directory_name: String,
}

impl RunNames {
    fn of(service: &Service, resolved: &Resolved, instance_id: &str, now: SystemTime) -> Self {
        let prefix = service
            .provider
            .deployment_prefix
            .clone()
            .unwrap_or_else(|| DEPLOYMENT_PREFIX.to_string());
        let artifact_directory_name = deployer_template::artifact_directory_name(
            Some(&prefix),
            &service.service,
            &resolved.stage,
            now,
        );
        RunNames {
            instance_id: instance_id.to_string(),
            prefix,
            artifact_directory_name,
        }
    }
}

/// Starts the plugin host when a declared plugin needs it.
fn start_host(
    source: &Source,
    resolved: &Resolved,
    plugins: &[PluginTreatment],
    names: &RunNames,
    access: &HostAccess<'_>,
    observer: &dyn Observer,
) -> anyhow::Result<Option<PluginHost>> {
    let run = HostRun {
        command: if access.command.is_empty() {
            "package"
        } else {
            access.command
        },
        service_dir: &source.file.dir,
        config_file: &source.file.path,
        config: &resolved.value,
        stage: &resolved.stage,
        region: &resolved.region,
        instance_id: &names.instance_id,
        artifact_directory_name: &names.artifact_directory_name,
        deployment_prefix: &names.prefix,
    };
    hooks::start(plugins, &run, access.session.clone(), observer)
}

/// Takes each built artifact's size and hash again (after packaging hooks).
fn rehash(package: &mut PackageResult) -> anyhow::Result<()> {
    for artifact in package.artifacts.iter_mut().filter(|a| !a.prebuilt) {
        let path = &artifact.path;
        artifact.sha256_base64 = deployer_package::sha256_base64_file(path)
            .with_context(|| format!("cannot read {} after the packaging hooks", path.display()))?;
        artifact.size = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
    }
    Ok(())
}

/// `${sls:instanceId}` of a run: its time in milliseconds since the epoch.
fn instance_id(now: SystemTime) -> String {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        .to_string()
}

/// The templates and the names they were compiled with.
struct Compiled {
    templates: Templates,
    artifact_directory_name: String,
    instance_id: String,
}

fn compile(
    source: &Source,
    resolved: &Resolved,
    service: &Service,
    package: &PackageResult,
    names: &RunNames,
    host: Option<&mut PluginHost>,
    aws: Aws<'_>,
) -> anyhow::Result<Compiled> {
    let artifacts = function_artifacts(package);
    let input = CompileInput {
        service,
        stage: &resolved.stage,
        region: &resolved.region,
        instance_id: &names.instance_id,
        artifact_directory_name: &names.artifact_directory_name,
        artifacts: &artifacts,
    };
    let context = || {
        format!(
            "Cannot compile the CloudFormation template of {}",
            source.file.path.display()
        )
    };
    let templates = match host {
        Some(host) => {
            let mut hooks = host.compile_hooks(aws);
            let result = deployer_template::compile_hooked(&input, &mut hooks);
            hooks.finish(result, context)?
        }
        None => deployer_template::compile(&input).with_context(context)?,
    };
    Ok(Compiled {
        templates,
        artifact_directory_name: names.artifact_directory_name.clone(),
        instance_id: names.instance_id.clone(),
    })
}

/// Writes the templates and the manifest into `out_dir`.
fn write(
    service: Service,
    resolved: Resolved,
    out_dir: PathBuf,
    package: PackageResult,
    compiled: Compiled,
    now: SystemTime,
) -> anyhow::Result<Build> {
    let templates = compiled.templates;
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
        stack_name: stack::name(&service, &resolved.stage),
        stage: resolved.stage,
        region: resolved.region,
        artifact_directory_name: compiled.artifact_directory_name,
        instance_id: compiled.instance_id,
        artifacts: package
            .artifacts
            .iter()
            .map(|a| manifest_artifact(a, &out_dir))
            .collect(),
        template_hash: deployer_template::normalized_template_hash(&templates.update),
        created_at: rfc3339(now),
    };
    let manifest_path = out_dir.join(MANIFEST_FILE);
    write_json(&manifest_path, &serde_json::to_value(&manifest)?)?;
    Ok(Build {
        service,
        out_dir,
        package,
        templates,
        create_template_path,
        update_template_path,
        manifest_path,
        manifest,
        plugins: Vec::new(),
        builds: BuildsSummary::default(),
    })
}

/// Maps the service model to the packager's input.
pub(crate) fn package_request(service: &Service, file: &ConfigFile) -> PackageRequest {
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
    let mut warnings = service.findings.warnings();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::tests::Collect;
    use crate::pipeline::manifest::{self, Manifest};
    use crate::pipeline::service::offline_answers;
    use deployer_config::{CliOptions, LoadOptions, ProcessEnv, load, resolve_stage};
    use serde_json::Value;
    use std::path::Path;

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

    fn source(dir: &Path, stage: &str) -> Source {
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
        Source {
            file,
            cli: options,
            stage,
        }
    }

    fn run(dir: &Path, stage: &str, out_dir: Option<PathBuf>) -> anyhow::Result<Build> {
        let service = ServiceOptions {
            cwd: dir.to_path_buf(),
            ..Default::default()
        };
        let options = BuildTarget {
            service: &service,
            out_dir: out_dir.as_deref(),
            now: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123),
            plugins: None,
            host: HostAccess::default(),
        };
        build(
            &source(dir, stage),
            &options,
            &mut offline_answers("package"),
            &Collect::default(),
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
        let packaged = manifest::read(&out_dir, "demo", "prod", "eu-west-1").unwrap();
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
        let packaged = manifest::read(&out_dir, "demo", "dev", "eu-west-1").unwrap();
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
        let packaged = manifest::read(&dist, "demo", "dev", "eu-west-1").unwrap();
        assert_eq!(packaged.artifacts[0].sha256_base64, artifact.sha256);

        // Outside the package dir, the manifest names the file.
        let out = tempfile::tempdir().unwrap();
        let build = run(dir.path(), "dev", Some(out.path().to_path_buf())).unwrap();
        assert_eq!(
            build.manifest.artifacts[0].path,
            Some(dist.join("app.zip").canonicalize().unwrap())
        );
        manifest::read(out.path(), "demo", "dev", "eu-west-1").unwrap();
    }

    #[test]
    fn load_manifest_refuses_a_package_for_something_else_or_changed() {
        let dir = service_dir(CONFIG);
        let out_dir = dir.path().join(".serverless");
        run(dir.path(), "dev", None).unwrap();
        let err = |service, stage, region| {
            manifest::read(&out_dir, service, stage, region)
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
            &source.cli,
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

    /// Zip entry names of the service zip of `build`.
    fn zip_names(build: &Build) -> Vec<String> {
        let file = std::fs::File::open(&build.package.artifacts[0].path).unwrap();
        let mut archive = zip::ZipArchive::new(file).unwrap();
        (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
            .collect()
    }

    #[test]
    fn exclude_dev_dependencies_false_keeps_dev_packages() {
        let dir = service_dir(CONFIG);
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"name": "demo", "devDependencies": {"tool": "1.0.0"}}"#,
        )
        .unwrap();
        let tool = dir.path().join("node_modules/tool");
        std::fs::create_dir_all(&tool).unwrap();
        std::fs::write(tool.join("package.json"), r#"{"name": "tool"}"#).unwrap();
        let has_tool = |build: &Build| {
            zip_names(build)
                .iter()
                .any(|n| n == "node_modules/tool/package.json")
        };
        let build = run(dir.path(), "dev", None).unwrap();
        assert!(!has_tool(&build), "v3's default leaves dev packages out");
        assert_eq!(build.builds, BuildsSummary::default(), "nothing to build");
        std::fs::write(
            dir.path().join("serverless.yml"),
            CONFIG.replace("package:\n", "package:\n  excludeDevDependencies: false\n"),
        )
        .unwrap();
        assert!(has_tool(&run(dir.path(), "dev", None).unwrap()));
    }

    #[test]
    fn build_warnings_reach_the_observer_once() {
        let config = CONFIG
            .replace("nodejs22.x", "python3.12")
            .replace("handler.hello", "handler.main");
        let dir = service_dir(&config);
        std::fs::write(
            dir.path().join("handler.py"),
            "def main(e, c):\n    return 1\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "six==1.17.0\n").unwrap();
        let observer = Collect::default();
        let service = ServiceOptions {
            cwd: dir.path().to_path_buf(),
            ..Default::default()
        };
        let options = BuildTarget {
            service: &service,
            out_dir: None,
            now: SystemTime::UNIX_EPOCH,
            plugins: None,
            host: HostAccess::default(),
        };
        build(
            &source(dir.path(), "dev"),
            &options,
            &mut offline_answers("package"),
            &observer,
        )
        .unwrap();
        let warnings = observer.warnings.lock().unwrap();
        let not_installed = warnings
            .iter()
            .filter(|w| w.contains("requirements are not installed"))
            .count();
        assert_eq!(not_installed, 1, "{warnings:?}");
    }

    #[test]
    fn a_missing_handler_file_fails_before_the_package_dir_is_written() {
        let dir = service_dir(&CONFIG.replace("handler.hello", "src/gone.hello"));
        let message = format!("{:#}", run(dir.path(), "dev", None).unwrap_err());
        assert!(
            message.contains("hello") && message.contains("src/gone.js"),
            "{message}"
        );
        assert!(!dir.path().join(".serverless/demo.zip").exists());
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
