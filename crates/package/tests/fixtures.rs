//! Every fixture service packaged with its own `package` settings must produce the artifacts
//! listed in `expected/serverless-v3/<stage>/zip-contents.txt`: same zip names, and in each
//! the same entries in the same order with the same sizes, modes, dates and content hashes.

mod common;

use std::path::{Path, PathBuf};

use deployer_package::{FunctionPackaging, PackageRequest, package};
use serde_yaml::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().expect("pattern is a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn flag(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool).unwrap_or(false)
}

/// Maps the fixture's serverless.yml `package` settings to a request. The fixtures' package
/// settings hold no variables, so reading the raw YAML is enough.
fn request_for(service_dir: &Path) -> PackageRequest {
    let text = std::fs::read_to_string(service_dir.join("serverless.yml")).unwrap();
    let config: Value = serde_yaml::from_str(&text).unwrap();
    let package = config.get("package");
    let get = |key: &str| package.and_then(|p| p.get(key));
    let functions = config
        .get("functions")
        .and_then(Value::as_mapping)
        .expect("fixture has functions")
        .iter()
        .map(|(key, function)| {
            let fp = function.get("package");
            let get = |k: &str| fp.and_then(|p| p.get(k));
            FunctionPackaging {
                key: key.as_str().unwrap().to_string(),
                patterns: string_list(get("patterns")),
                include: string_list(get("include")),
                exclude: string_list(get("exclude")),
                individually: flag(get("individually")),
                artifact: get("artifact").and_then(Value::as_str).map(PathBuf::from),
                disable: flag(get("disable")),
            }
        })
        .collect();
    PackageRequest {
        service_dir: service_dir.to_path_buf(),
        service_name: config["service"].as_str().unwrap().to_string(),
        config_file: Some("serverless.yml".to_string()),
        use_dotenv: flag(config.get("useDotenv")),
        exclude: string_list(get("exclude")),
        include: string_list(get("include")),
        patterns: string_list(get("patterns")),
        individually: flag(get("individually")),
        artifact: get("artifact").and_then(Value::as_str).map(PathBuf::from),
        functions,
    }
}

/// zip name → entry lines, in file order.
fn expected_contents(path: &Path) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match line.strip_prefix("  ") {
            Some(entry) => out
                .last_mut()
                .expect("entry after a zip name")
                .1
                .push(entry.to_string()),
            None => out.push((line.to_string(), Vec::new())),
        }
    }
    out
}

fn check_fixture(name: &str) {
    let service_dir = fixtures_dir().join(name).join("service");
    let request = request_for(&service_dir);
    let stages_dir = fixtures_dir().join(name).join("expected/serverless-v3");
    let mut stages: Vec<_> = std::fs::read_dir(&stages_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    stages.sort();
    assert!(!stages.is_empty());
    for stage in stages {
        let mut expected = expected_contents(&stage.join("zip-contents.txt"));
        expected.sort();
        let out = tempfile::tempdir().unwrap();
        let result = package(&request, out.path()).unwrap();
        let mut actual: Vec<(String, Vec<String>)> = result
            .artifacts
            .iter()
            .map(|a| {
                let lines = common::read_zip(&a.path).iter().map(|e| e.line()).collect();
                (a.name.clone(), lines)
            })
            .collect();
        actual.sort();
        assert_eq!(
            actual,
            expected,
            "fixture {name}, stage {}",
            stage.display()
        );
        for function in &request.functions {
            assert!(result.function_artifacts.contains_key(&function.key));
        }
    }
}

#[test]
fn multi_account_matches_serverless_v3() {
    check_fixture("multi-account");
}

#[test]
fn rest_api_matches_serverless_v3() {
    check_fixture("rest-api");
}

#[test]
fn events_matches_serverless_v3() {
    check_fixture("events");
}
