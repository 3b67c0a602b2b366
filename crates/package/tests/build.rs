//! The builders against the real tools: esbuild (pinned in tests/tools, installed by
//! scripts/test.sh) and pip (wheels from PyPI). The fixture services are what Serverless v3 with
//! serverless-esbuild and serverless-python-requirements packaged; the zips must hold the same
//! entry names, and the code in them must load.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use deployer_config::model::Service;
use deployer_config::{CliOptions, ExternalRequest, LoadOptions};
use deployer_package::build::{self, BuildError, BuildSettings};
use deployer_package::{
    FunctionPackaging, PackageError, PackageRequest, PackageResult, package_with,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pinned esbuild and the bundled packages (`uuid`, `zod`) of the esbuild fixture.
fn tools_node_modules() -> PathBuf {
    let dir = repo().join("tests/tools/node_modules");
    assert!(
        dir.join(".bin/esbuild").is_file(),
        "{} has no esbuild: run scripts/test.sh (or `npm ci` in tests/tools) first",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

/// Copies a fixture service into a temporary directory (builds write `.serverless/` there).
fn copy_service(fixture: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo().join("tests/fixtures").join(fixture).join("service");
    for entry in walkdir::WalkDir::new(&src).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&src).unwrap();
        let dest = tmp.path().join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
    tmp
}

fn link_node_modules(service_dir: &Path) {
    std::os::unix::fs::symlink(tools_node_modules(), service_dir.join("node_modules")).unwrap();
}

/// The service model, resolved offline for `stage`.
fn load_service(dir: &Path, stage: &str) -> Service {
    let file = deployer_config::load(&LoadOptions {
        config: None,
        cwd: dir.to_path_buf(),
    })
    .unwrap();
    let opts = CliOptions {
        stage: Some(stage.into()),
        ..Default::default()
    };
    let env: HashMap<String, String> = HashMap::new();
    let mut offline = |reqs: &[ExternalRequest]| {
        reqs.iter()
            .map(|_| Err("offline".to_string()))
            .collect::<Vec<_>>()
    };
    let resolved = deployer_config::resolve(&file, &opts, &env, &mut offline).unwrap();
    Service::from_value(&resolved.value).unwrap()
}

/// The package request the operations layer builds from the model (its `package` settings).
fn request(service: &Service, dir: &Path) -> PackageRequest {
    let package = service.package.clone().unwrap_or_default();
    PackageRequest {
        service_dir: dir.to_path_buf(),
        service_name: service.service.clone(),
        config_file: Some("serverless.yml".into()),
        patterns: package.patterns,
        individually: package.individually.unwrap_or(false),
        functions: service
            .functions
            .keys()
            .map(|key| FunctionPackaging {
                key: key.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[derive(Debug)]
struct Run {
    result: PackageResult,
    built: usize,
    cached: usize,
    warnings: Vec<String>,
}

/// plan → build → package, the way the operations layer chains them.
fn build_and_package(dir: &Path, stage: &str, settings: &BuildSettings) -> Result<Run, String> {
    let service = load_service(dir, stage);
    let plan = build::plan(&service, dir).map_err(|e| e.to_string())?;
    let output = build::build(&plan, settings).map_err(|e| e.to_string())?;
    let out_dir = dir.join(".serverless");
    let result = package_with(
        &request(&service, dir),
        &out_dir,
        &output.package_options(true),
    )
    .map_err(|e| e.to_string())?;
    Ok(Run {
        result,
        built: output.built,
        cached: output.cached,
        warnings: output.warnings,
    })
}

/// Entry names of each zip in a `zip-contents.txt`, sorted (the plugins' order is not v3's).
fn expected_names(fixture: &str, stage: &str) -> Vec<String> {
    let path = repo()
        .join("tests/fixtures")
        .join(fixture)
        .join("expected/serverless-v3")
        .join(stage)
        .join("zip-contents.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn zip_names(path: &Path) -> Vec<String> {
    let mut names = common::names(path);
    names.sort();
    names
}

fn unzip(zip: &Path) -> tempfile::TempDir {
    let dest = tempfile::tempdir().unwrap();
    let file = std::fs::File::open(zip).unwrap();
    zip::ZipArchive::new(file)
        .unwrap()
        .extract(dest.path())
        .unwrap();
    dest
}

fn settings(dir: &Path) -> BuildSettings {
    BuildSettings::for_service(dir)
}

#[test]
fn esbuild_fixture_has_serverless_esbuild_entries_and_loads() {
    let tmp = copy_service("plugin-esbuild");
    link_node_modules(tmp.path());
    let prod = build_and_package(tmp.path(), "prod", &settings(tmp.path())).unwrap();
    assert_eq!(prod.built, 3);
    let names = zip_names(&prod.result.artifacts[0].path);
    assert_eq!(names, expected_names("plugin-esbuild", "prod"));
    // The stage changes no build input: dev reuses prod's bundles.
    let run = build_and_package(tmp.path(), "dev", &settings(tmp.path())).unwrap();
    assert_eq!((run.built, run.cached), (0, 3));
    let artifact = &run.result.artifacts[0];
    assert_eq!(artifact.name, "orders.zip");
    assert_eq!(
        zip_names(&artifact.path),
        expected_names("plugin-esbuild", "dev")
    );
    let unpacked = unzip(&artifact.path);
    for name in ["create", "get", "process"] {
        let script = format!(
            "const m = require('./src/handlers/{name}.js'); if (typeof m.handler !== 'function') {{ console.error('handler is ' + typeof m.handler); process.exit(1); }}"
        );
        let status = Command::new("node")
            .args(["-e", &script])
            .current_dir(unpacked.path())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    // No source nor node_modules file is shipped: the bundles hold uuid and zod.
    assert!(!zip_names(&artifact.path).iter().any(|n| n.ends_with(".ts")));
}

/// npm/yarn/pnpm workspaces hoist esbuild and the dependencies to the monorepo's root
/// `node_modules`: the service folder has none, and `PATH` holds no esbuild.
#[test]
fn esbuild_hoisted_to_the_workspace_root_builds_the_service() {
    let repo_dir = tempfile::tempdir().unwrap();
    let service = repo_dir.path().join("packages/orders");
    std::fs::create_dir_all(service.parent().unwrap()).unwrap();
    std::fs::rename(copy_service("plugin-esbuild").keep(), &service).unwrap();
    std::os::unix::fs::symlink(tools_node_modules(), repo_dir.path().join("node_modules")).unwrap();
    let mut s = settings(&service);
    s.search_path = Some(repo_dir.path().join("no-such-bin").into_os_string());
    let run = build_and_package(&service, "prod", &s).unwrap();
    assert_eq!(run.built, 3);
    assert_eq!(
        zip_names(&run.result.artifacts[0].path),
        expected_names("plugin-esbuild", "prod")
    );
}

#[test]
fn unchanged_sources_skip_the_build_and_give_the_same_zip() {
    let tmp = copy_service("plugin-esbuild");
    link_node_modules(tmp.path());
    let first = build_and_package(tmp.path(), "dev", &settings(tmp.path())).unwrap();
    let second = build_and_package(tmp.path(), "dev", &settings(tmp.path())).unwrap();
    assert_eq!((second.built, second.cached), (0, 3));
    assert_eq!(
        first.result.artifacts[0].sha256_base64,
        second.result.artifacts[0].sha256_base64
    );
    // The shared module is an input of every entry; the handler alone only of its own.
    common::write(
        tmp.path(),
        "src/handlers/get.ts",
        b"export const handler = async () => ({ statusCode: 204 });\n",
    );
    let third = build_and_package(tmp.path(), "dev", &settings(tmp.path())).unwrap();
    assert_eq!((third.built, third.cached), (1, 2));
    assert_ne!(
        first.result.artifacts[0].sha256_base64,
        third.result.artifacts[0].sha256_base64
    );
}

#[test]
fn typescript_without_plugin_is_bundled_with_v4_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write(
        dir,
        "serverless.yml",
        b"service: plain\nprovider:\n  name: aws\n  runtime: nodejs22.x\nfunctions:\n  api:\n    handler: src/api.handler\n",
    );
    common::write(
        dir,
        "src/api.ts",
        b"import { S3Client } from '@aws-sdk/client-s3';\nexport const handler = async (): Promise<string> => typeof S3Client;\n",
    );
    link_node_modules(dir);
    let run = build_and_package(dir, "dev", &settings(dir)).unwrap();
    let names = zip_names(&run.result.artifacts[0].path);
    assert_eq!(names, ["src/api.js"]);
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    let unpacked = unzip(&run.result.artifacts[0].path);
    let bundle = std::fs::read_to_string(unpacked.path().join("src/api.js")).unwrap();
    // `@aws-sdk/*` stays external (Lambda's nodejs18.x+ runtimes provide it).
    assert!(
        bundle.contains("require(\"@aws-sdk/client-s3\")"),
        "{bundle}"
    );
}

#[test]
fn a_python_function_sharing_the_zip_with_bundles_keeps_its_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write(
        dir,
        "serverless.yml",
        b"service: mixed\nprovider:\n  name: aws\n  runtime: nodejs22.x\nfunctions:\n  api:\n    handler: src/api.handler\n  report:\n    handler: report.main\n    runtime: python3.12\n",
    );
    common::write(
        dir,
        "src/api.ts",
        b"export const handler = async () => 1;\n",
    );
    common::write(
        dir,
        "report.py",
        b"def main(event, context):\n    return 1\n",
    );
    link_node_modules(dir);
    let run = build_and_package(dir, "dev", &settings(dir)).unwrap();
    let names = zip_names(&run.result.artifacts[0].path);
    assert!(names.contains(&"report.py".to_string()), "{names:?}");
    assert!(names.contains(&"src/api.js".to_string()), "{names:?}");
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("report") && w.contains("package.individually: true")),
        "{:?}",
        run.warnings
    );

    // Packaged individually, each zip holds only what its function runs, and no warning.
    let yml = std::fs::read_to_string(dir.join("serverless.yml")).unwrap();
    std::fs::write(
        dir.join("serverless.yml"),
        yml.replace("provider:", "package:\n  individually: true\nprovider:"),
    )
    .unwrap();
    let run = build_and_package(dir, "dev", &settings(dir)).unwrap();
    let by_name = |name: &str| {
        let artifact = run
            .result
            .artifacts
            .iter()
            .find(|a| a.name == name)
            .unwrap();
        zip_names(&artifact.path)
    };
    assert_eq!(by_name("api.zip"), ["src/api.js"]);
    assert!(by_name("report.zip").contains(&"report.py".to_string()));
    assert!(!by_name("report.zip").contains(&"src/api.js".to_string()));
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
}

#[test]
fn missing_esbuild_says_how_to_install_it() {
    let tmp = copy_service("plugin-esbuild");
    let mut s = settings(tmp.path());
    s.search_path = Some(tmp.path().join("no-such-bin").into_os_string());
    let err = build_and_package(tmp.path(), "dev", &s).unwrap_err();
    assert!(err.contains("`npm install --save-dev esbuild`"), "{err}");
}

#[test]
fn a_typescript_syntax_error_is_esbuilds_message_with_file_and_line() {
    let tmp = copy_service("plugin-esbuild");
    link_node_modules(tmp.path());
    common::write(
        tmp.path(),
        "src/handlers/get.ts",
        b"export const handler = async () => {\n  return { statusCode: 200 ;\n};\n",
    );
    let err = build_and_package(tmp.path(), "dev", &settings(tmp.path())).unwrap_err();
    assert!(
        err.contains("esbuild failed for src/handlers/get.ts"),
        "{err}"
    );
    assert!(err.contains("src/handlers/get.ts:2:"), "{err}");
    assert!(!tmp.path().join(".serverless/orders.zip").exists());
}

#[test]
fn a_handler_without_entry_file_names_the_function_and_path() {
    let tmp = copy_service("plugin-esbuild");
    link_node_modules(tmp.path());
    std::fs::remove_file(tmp.path().join("src/handlers/process.ts")).unwrap();
    let err = build_and_package(tmp.path(), "dev", &settings(tmp.path())).unwrap_err();
    assert!(err.contains("functions.processOrders.handler"), "{err}");
    assert!(err.contains("src/handlers/process.ts"), "{err}");
}

#[test]
fn a_plain_handler_file_missing_from_the_zip_fails_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write(
        dir,
        "serverless.yml",
        b"service: plain\nprovider:\n  name: aws\n  runtime: nodejs22.x\nfunctions:\n  api:\n    handler: lib/api.handler\n",
    );
    common::write(dir, "src/api.js", b"exports.handler = async () => 1;\n");
    let service = load_service(dir, "dev");
    let plan = build::plan(&service, dir).unwrap();
    let output = build::build(&plan, &settings(dir)).unwrap();
    let err = package_with(
        &request(&service, dir),
        &dir.join(".serverless"),
        &output.package_options(true),
    )
    .unwrap_err();
    assert!(matches!(err, PackageError::HandlerMissing { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("\"api\"") && text.contains("lib/api.js"),
        "{text}"
    );
    assert!(!dir.join(".serverless/plain.zip").exists());
}

/// Handlers Lambda accepts though they are not `<file>.<export>` as zipped: a leading `./`
/// (any runtime) and a dotted Python module (`handlers.orders.create` imports
/// `handlers/orders.py`).
#[test]
fn dot_slash_and_dotted_python_handlers_find_their_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write(
        dir,
        "serverless.yml",
        b"service: plain\nprovider:\n  name: aws\n  runtime: nodejs22.x\nfunctions:\n  api:\n    handler: ./src/api.handler\n  orders:\n    handler: handlers.orders.create\n    runtime: python3.12\n  pkg:\n    handler: ./jobs.nightly.run\n    runtime: python3.12\n",
    );
    common::write(dir, "src/api.js", b"exports.handler = async () => 1;\n");
    common::write(dir, "handlers/orders.py", b"def create(e, c): return 1\n");
    common::write(
        dir,
        "jobs/nightly/__init__.py",
        b"def run(e, c): return 1\n",
    );
    let run = build_and_package(dir, "dev", &settings(dir)).unwrap();
    let names = zip_names(&run.result.artifacts[0].path);
    assert!(names.contains(&"src/api.js".to_string()), "{names:?}");
    assert!(
        names.contains(&"handlers/orders.py".to_string()),
        "{names:?}"
    );
}

fn python_settings(dir: &Path) -> BuildSettings {
    let mut s = settings(dir);
    s.cache_dir = dir.join(".serverless/build-cache");
    s
}

fn check_python_stage(stage: &str) {
    let tmp = copy_service("plugin-python");
    let run = build_and_package(tmp.path(), stage, &python_settings(tmp.path())).unwrap();
    let artifact = &run.result.artifacts[0];
    assert_eq!(artifact.name, "clock.zip");
    assert_eq!(
        zip_names(&artifact.path),
        expected_names("plugin-python", stage),
        "{stage}"
    );
    let entries = common::read_zip(&artifact.path);
    let requirements = entries
        .iter()
        .find(|e| e.name == "requirements.txt")
        .unwrap();
    assert_eq!(
        requirements.size, 41,
        "the generated requirements replace the service's"
    );
    let unpacked = unzip(&artifact.path);
    let script = "import sys; sys.path.insert(0, sys.argv[1]); import handler, six, dateutil.tz; \
                  assert callable(handler.now); r = handler.now({}, None); assert r['statusCode'] == 200, r";
    let out = Command::new("python3")
        .args(["-I", "-c", script])
        .arg(unpacked.path())
        .current_dir(unpacked.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn python_fixture_dev_has_the_plugin_entries_and_imports() {
    check_python_stage("dev");
}

#[test]
fn python_fixture_prod_is_slim() {
    check_python_stage("prod");
}

#[test]
fn python_install_is_reused_when_requirements_are_unchanged() {
    let tmp = copy_service("plugin-python");
    let s = python_settings(tmp.path());
    let first = build_and_package(tmp.path(), "prod", &s).unwrap();
    let second = build_and_package(tmp.path(), "prod", &s).unwrap();
    assert_eq!((first.built, second.built, second.cached), (1, 0, 1));
    assert_eq!(
        first.result.artifacts[0].sha256_base64,
        second.result.artifacts[0].sha256_base64
    );
}

#[test]
fn a_requirement_missing_on_pypi_fails_with_pips_message() {
    let tmp = copy_service("plugin-python");
    common::write(
        tmp.path(),
        "requirements.txt",
        b"six==1.17.0\ndeployer-no-such-package-4f1c==1.0\n",
    );
    let err = build_and_package(tmp.path(), "dev", &python_settings(tmp.path())).unwrap_err();
    assert!(
        err.contains("pip install failed for requirements.txt"),
        "{err}"
    );
    assert!(err.contains("deployer-no-such-package-4f1c"), "{err}");
}

/// A Pipfile wins over requirements.txt, as with the plugin: its requirements are exported
/// with pipenv (a fake `pipenv` script on the search path here, printing one pin) and
/// installed with pip like a requirements file.
#[test]
fn a_pipfile_project_installs_what_pipenv_exports() {
    let tmp = copy_service("plugin-python");
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().to_path_buf();
    common::write(tmp.path(), "Pipfile", b"[packages]\nsix = \"==1.17.0\"\n");
    common::write(
        &bin,
        "pipenv",
        b"#!/bin/sh\ncase \"$1\" in --version) echo 'pipenv, version 2024.4.0';; requirements) echo 'six==1.17.0';; esac\n",
    );
    std::fs::set_permissions(
        bin.join("pipenv"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut s = python_settings(tmp.path());
    s.search_path = Some(bin.into_os_string());
    let run = build_and_package(tmp.path(), "dev", &s).unwrap();
    let names = zip_names(&run.result.artifacts[0].path);
    assert!(names.contains(&"six.py".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("dateutil/")),
        "requirements.txt is not read next to a Pipfile: {names:?}"
    );
}

#[test]
fn dockerize_pip_is_refused_naming_the_setting() {
    let tmp = copy_service("plugin-python");
    let yml = std::fs::read_to_string(tmp.path().join("serverless.yml")).unwrap();
    std::fs::write(
        tmp.path().join("serverless.yml"),
        yml.replace("dockerizePip: false", "dockerizePip: true"),
    )
    .unwrap();
    let service = load_service(tmp.path(), "dev");
    let err = build::plan(&service, tmp.path()).unwrap_err();
    assert!(matches!(err, BuildError::Config { .. }));
    let text = err.to_string();
    assert!(
        text.contains("custom.pythonRequirements") && text.contains("dockerizePip"),
        "{text}"
    );
    assert!(text.contains("docker-free"), "{text}");
}

#[test]
fn external_packages_are_installed_into_node_modules_of_the_zip() {
    let tmp = copy_service("plugin-esbuild");
    link_node_modules(tmp.path());
    let yml = std::fs::read_to_string(tmp.path().join("serverless.yml")).unwrap();
    std::fs::write(
        tmp.path().join("serverless.yml"),
        yml.replace(
            "      - '@aws-sdk/*'\n",
            "      - '@aws-sdk/*'\n      - uuid\n",
        ),
    )
    .unwrap();
    let run = build_and_package(tmp.path(), "dev", &settings(tmp.path())).unwrap();
    let names = zip_names(&run.result.artifacts[0].path);
    assert!(
        names.contains(&"node_modules/uuid/package.json".to_string()),
        "{names:?}"
    );
    // Only production packages: zod is bundled, esbuild is a dev dependency.
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("node_modules/zod/") || n.contains("esbuild"))
    );
    assert!(!names.contains(&"package.json".to_string()));
    let unpacked = unzip(&run.result.artifacts[0].path);
    let bundle = std::fs::read_to_string(unpacked.path().join("src/handlers/get.js")).unwrap();
    assert!(bundle.contains("require(\"uuid\")"));
    let out = Command::new("node")
        .args([
            "-e",
            "if (typeof require('./src/handlers/get.js').handler !== 'function') process.exit(1)",
        ])
        .current_dir(unpacked.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A service with one compiled (manylinux) requirement for `architecture`.
fn compiled_wheel_service(architecture: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let yml = format!(
        "service: wheels\nplugins:\n  - serverless-python-requirements\nprovider:\n  name: aws\n  runtime: python3.11\n  architecture: {architecture}\nfunctions:\n  f:\n    handler: handler.main\n"
    );
    common::write(tmp.path(), "serverless.yml", yml.as_bytes());
    common::write(
        tmp.path(),
        "handler.py",
        b"import markupsafe\n\ndef main(event, context):\n    return str(markupsafe.escape('<a>'))\n",
    );
    common::write(tmp.path(), "requirements.txt", b"MarkupSafe==3.0.2\n");
    tmp
}

#[test]
fn compiled_wheels_target_the_lambda_architecture() {
    for (arch, machine) in [("x86_64", "x86_64"), ("arm64", "aarch64")] {
        let tmp = compiled_wheel_service(arch);
        let run = build_and_package(tmp.path(), "dev", &python_settings(tmp.path())).unwrap();
        let names = zip_names(&run.result.artifacts[0].path);
        let so = format!("markupsafe/_speedups.cpython-311-{machine}-linux-gnu.so");
        assert!(names.contains(&so), "{arch}: {names:?}");
    }
    // The x86_64 build runs here: the handler imports its requirement from the zip.
    let tmp = compiled_wheel_service("x86_64");
    let run = build_and_package(tmp.path(), "dev", &python_settings(tmp.path())).unwrap();
    let unpacked = unzip(&run.result.artifacts[0].path);
    let out = Command::new("python3")
        .args(["-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import handler, markupsafe; assert handler.main({}, None) == '&lt;a&gt;'"])
        .arg(unpacked.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
