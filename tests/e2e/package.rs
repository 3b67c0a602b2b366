//! `deployer package` on copies of the fixtures: templates against what Serverless v3 wrote,
//! the manifest against the files, deterministic zips, the output directory, errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{copy_dir, deployer_offline as deployer, fixture};

use serde_json::Value;

const FIXTURES: [&str; 3] = ["multi-account", "rest-api", "events"];
const STAGES: [&str; 2] = ["dev", "prod"];

fn fixtures() -> PathBuf {
    fixture("")
}

/// Copies a fixture's service into a fresh temporary directory.
fn copy_service(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name).join("service"), dir.path());
    dir
}

fn package(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["package"];
    all.extend_from_slice(args);
    let out = deployer(dir, &all);
    assert!(
        out.status.success(),
        "deployer {all:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces what changes from run to run: the timestamp directory of `S3Key`, the
/// `ApiGatewayDeployment<ms>` suffix, the `<Fn>LambdaVersion<hash>` suffix and `CodeSha256`.
pub(crate) fn normalise(template: &Value) -> Value {
    let mut text = serde_json::to_string(template).unwrap();
    let ids: Vec<String> = template["Resources"]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    for id in ids {
        let stable = if let Some(pos) = id.find("LambdaVersion") {
            format!("{}HASH", &id[..pos + "LambdaVersion".len()])
        } else if id.starts_with("ApiGatewayDeployment") {
            "ApiGatewayDeploymentID".to_string()
        } else {
            continue;
        };
        text = text.replace(&format!("\"{id}\""), &format!("\"{stable}\""));
    }
    let mut value: Value = serde_json::from_str(&text).unwrap();
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match (key.as_str(), child.as_str()) {
                        ("S3Key", Some(s)) => {
                            let name = s.rsplit('/').next().unwrap_or(s);
                            *child = Value::String(format!("DIR/{name}"));
                        }
                        ("CodeSha256", Some(_)) => *child = Value::String("SHA".into()),
                        _ => walk(child),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// Checks every zip the manifest lists against its hash and size; returns name → bytes.
fn check_manifest_artifacts(out_dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let manifest = read_json(&out_dir.join("deployer-manifest.json"));
    let mut zips = BTreeMap::new();
    for artifact in manifest["artifacts"].as_array().unwrap() {
        let name = artifact["name"].as_str().unwrap();
        let path = out_dir.join(name);
        let sha = deployer_package::sha256_base64_file(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(artifact["sha256"], sha, "{name}: hash");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(artifact["size"], bytes.len() as u64, "{name}: size");
        zips.insert(name.to_string(), bytes);
    }
    zips
}

#[test]
fn templates_match_serverless_v3_on_every_fixture_and_stage() {
    for fixture in FIXTURES {
        for stage in STAGES {
            let service = copy_service(fixture);
            package(service.path(), &["--stage", stage]);
            let out_dir = service.path().join(".serverless");
            let expected = fixtures()
                .join(fixture)
                .join("expected/serverless-v3")
                .join(stage);
            for file in [
                "cloudformation-template-update-stack.json",
                "cloudformation-template-create-stack.json",
            ] {
                let text = std::fs::read_to_string(out_dir.join(file)).unwrap();
                let got: Value = serde_json::from_str(&text).unwrap();
                let want = read_json(&expected.join(file));
                assert_eq!(
                    normalise(&got),
                    normalise(&want),
                    "{fixture}/{stage}/{file}"
                );
                // Formatted like v3's JSON.stringify(template, null, 2).
                assert_eq!(text, serde_json::to_string_pretty(&got).unwrap());
                assert!(text.starts_with("{\n  \"AWSTemplateFormatVersion\""));
            }

            // The manifest describes this run; its zips are the ones the template names.
            let manifest = read_json(&out_dir.join("deployer-manifest.json"));
            assert_eq!(manifest["stage"], stage, "{fixture}/{stage}");
            let zips = check_manifest_artifacts(&out_dir);
            let update = read_json(&out_dir.join("cloudformation-template-update-stack.json"));
            let dir = manifest["artifactDirectoryName"].as_str().unwrap();
            for (id, resource) in update["Resources"].as_object().unwrap() {
                if resource["Type"] == "AWS::Lambda::Function" {
                    let key = resource["Properties"]["Code"]["S3Key"].as_str().unwrap();
                    let name = key.strip_prefix(&format!("{dir}/")).unwrap_or_else(|| {
                        panic!("{fixture}/{stage}: {id} S3Key {key} outside {dir}")
                    });
                    assert!(
                        zips.contains_key(name),
                        "{fixture}/{stage}: {id} uses {name}"
                    );
                }
            }
            // Zip names are the ones v3 wrote (zip-contents.txt lists them, unindented).
            let listed: Vec<String> = std::fs::read_to_string(expected.join("zip-contents.txt"))
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.is_empty())
                .map(str::to_string)
                .collect();
            let mut listed = listed;
            listed.sort();
            assert_eq!(
                zips.keys().cloned().collect::<Vec<_>>(),
                listed,
                "{fixture}/{stage}"
            );
        }
    }
}

#[test]
fn zips_are_identical_across_runs_and_after_touching_files() {
    for fixture in FIXTURES {
        let service = copy_service(fixture);
        let out_dir = service.path().join(".serverless");
        package(service.path(), &["-s", "prod"]);
        let first = check_manifest_artifacts(&out_dir);
        let first_manifest = read_json(&out_dir.join("deployer-manifest.json"));

        // Touch every file of the service: new mtimes must not change a byte.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        fn touch_all(dir: &Path, at: std::time::SystemTime) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    touch_all(&entry.path(), at);
                } else {
                    let file = std::fs::File::options()
                        .write(true)
                        .open(entry.path())
                        .unwrap();
                    file.set_modified(at).unwrap();
                }
            }
        }
        touch_all(service.path(), later);
        package(service.path(), &["-s", "prod"]);
        let second = check_manifest_artifacts(&out_dir);
        assert_eq!(first, second, "{fixture}: zip bytes changed");
        let second_manifest = read_json(&out_dir.join("deployer-manifest.json"));
        assert_eq!(
            first_manifest["artifacts"], second_manifest["artifacts"],
            "{fixture}"
        );
        // Same code, same settings: the same template once the run's timestamps are ignored.
        assert_eq!(
            first_manifest["templateHash"], second_manifest["templateHash"],
            "{fixture}"
        );
    }
}

#[test]
fn package_option_writes_to_the_given_directory_and_clears_stale_zips() {
    let service = copy_service("events");
    let out = package(
        service.path(),
        &["--stage", "prod", "--package", "build/out"],
    );
    let out_dir = service.path().join("build/out");
    assert!(
        out_dir
            .join("cloudformation-template-update-stack.json")
            .is_file()
    );
    assert!(out_dir.join("deployer-manifest.json").is_file());
    assert!(!service.path().join(".serverless").exists());
    assert_eq!(check_manifest_artifacts(&out_dir).len(), 5);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ingest.zip"), "{stdout}");
    assert!(
        stdout.contains("cloudformation-template-update-stack.json"),
        "{stdout}"
    );

    // A zip from an earlier run that this configuration no longer produces is removed;
    // the build directory itself is not packaged.
    std::fs::write(out_dir.join("removed-function.zip"), "old").unwrap();
    std::fs::write(out_dir.join("README"), "mine").unwrap();
    package(service.path(), &["-s", "prod", "-p", "build/out"]);
    assert!(!out_dir.join("removed-function.zip").exists());
    assert!(out_dir.join("README").exists());
    check_manifest_artifacts(&out_dir);
}

#[test]
fn json_prints_one_object() {
    let service = copy_service("rest-api");
    let out = package(service.path(), &["-s", "dev", "--json"]);
    let value: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(value["service"], "items-api");
    assert_eq!(value["stage"], "dev");
    assert_eq!(value["region"], "eu-west-1");
    assert_eq!(value["stackName"], "items-api-dev");
    assert_eq!(value["artifacts"][0]["name"], "items-api.zip");
    let update = PathBuf::from(value["templates"]["update"].as_str().unwrap());
    assert!(update.is_file());
}

#[test]
fn config_errors_exit_1_with_the_message_on_stderr() {
    let service = copy_service("rest-api");
    let config = service.path().join("serverless.yml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "    STAGE: ${sls:stage}",
            "    STAGE: ${sls:stage}\n    SECRET: ${ssm:/items/secret}",
        ),
    )
    .unwrap();
    let out = deployer(service.path(), &["package", "-s", "dev", "--offline"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("provider.environment.SECRET"), "{stderr}");
    assert!(stderr.contains("needs AWS credentials"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!service.path().join(".serverless").exists());

    // A setting of the wrong shape names its property.
    std::fs::write(
        &config,
        text.replace("memorySize: 512", "memorySize: [512]"),
    )
    .unwrap();
    let out = deployer(service.path(), &["package"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("provider.memorySize"), "{stderr}");

    // A pattern set that selects nothing.
    std::fs::write(&config, text.replace("'!tests/**'", "'!**'")).unwrap();
    let out = deployer(service.path(), &["package"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("No file matches include / exclude patterns"),
        "{stderr}"
    );
}

#[test]
fn a_warning_is_printed_once_on_stderr() {
    let service = copy_service("multi-account");
    let config = service.path().join("serverless.yml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "  profile: ${self:custom.myProfile.${self:custom.myStage}}",
        "  profile: ${self.custom.x}",
    );
    std::fs::write(&config, text).unwrap();
    let out = package(service.path(), &["-s", "prod"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("provider.profile").count(), 1, "{stderr}");
    assert!(stderr.contains("stays as literal text"), "{stderr}");
}
