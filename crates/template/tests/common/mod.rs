//! Helpers shared by the fixture tests: load a fixture's expected files and compile its
//! `print.yml` into templates.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use deployer_config::model::Service;
use deployer_template::{CompileInput, FunctionArtifact, Templates, compile, naming};
use serde_json::Value;

pub const FIXTURES: [&str; 3] = ["multi-account", "rest-api", "events"];
pub const STAGES: [&str; 2] = ["dev", "prod"];

pub fn expected_dir(fixture: &str, stage: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(fixture)
        .join("expected/serverless-v3")
        .join(stage)
}

pub fn read_json(fixture: &str, stage: &str, file: &str) -> Value {
    let path = expected_dir(fixture, stage).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn service(fixture: &str, stage: &str) -> Service {
    let path = expected_dir(fixture, stage).join("print.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let value: Value = serde_yaml::from_str(&text).unwrap();
    Service::from_value(&value).unwrap()
}

/// The run-dependent inputs of v3's own run, read back from its update template: the
/// artifact directory, the `ApiGatewayDeployment` suffix, each function's zip name and hash.
pub struct RunInputs {
    pub directory: String,
    pub instance_id: String,
    pub artifacts: BTreeMap<String, FunctionArtifact>,
}

pub fn v3_run_inputs(service: &Service, expected: &Value) -> RunInputs {
    let resources = expected["Resources"].as_object().unwrap();
    let mut directory = String::new();
    let mut artifacts = BTreeMap::new();
    for key in service.functions.keys() {
        let function = &resources[&naming::lambda_logical_id(key)];
        let s3_key = function["Properties"]["Code"]["S3Key"].as_str().unwrap();
        let (dir, name) = s3_key.rsplit_once('/').unwrap();
        directory = dir.to_owned();
        let prefix = format!("{}LambdaVersion", naming::normalized_function_name(key));
        let version = resources
            .iter()
            .find(|(id, _)| id.starts_with(&prefix))
            .map(|(_, v)| v)
            .unwrap();
        artifacts.insert(
            key.clone(),
            FunctionArtifact {
                s3_key_name: name.to_owned(),
                sha256_base64: version["Properties"]["CodeSha256"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            },
        );
    }
    let instance_id = resources
        .keys()
        .find_map(|id| id.strip_prefix("ApiGatewayDeployment"))
        .unwrap_or("1700000000000")
        .to_owned();
    RunInputs {
        directory,
        instance_id,
        artifacts,
    }
}

pub fn compile_with(service: &Service, stage: &str, region: &str, run: &RunInputs) -> Templates {
    compile(&CompileInput {
        service,
        stage,
        region,
        instance_id: &run.instance_id,
        artifact_directory_name: &run.directory,
        artifacts: &run.artifacts,
    })
    .unwrap()
}

/// Replaces what changes from run to run: the deployment directory in `S3Key`, the
/// `ApiGatewayDeployment` suffix, the `LambdaVersion` hash suffix and `CodeSha256`.
pub fn normalise(template: &Value) -> Value {
    let text = serde_json::to_string(template).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let mut renames = Vec::new();
    if let Some(resources) = value.get("Resources").and_then(Value::as_object) {
        for id in resources.keys() {
            if let Some(pos) = id.find("LambdaVersion") {
                renames.push((
                    id.clone(),
                    id[..pos + "LambdaVersion".len()].to_owned() + "HASH",
                ));
            } else if id.starts_with("ApiGatewayDeployment") {
                renames.push((id.clone(), "ApiGatewayDeploymentID".to_owned()));
            }
        }
    }
    let mut text = serde_json::to_string(&value).unwrap();
    for (from, to) in &renames {
        text = text.replace(&format!("\"{from}\""), &format!("\"{to}\""));
    }
    value = serde_json::from_str(&text).unwrap();
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if k == "S3Key" {
                        if let Some(s) = child.as_str() {
                            let name = s.rsplit('/').next().unwrap_or(s).to_owned();
                            *child = Value::String(format!("DIR/{name}"));
                        }
                    } else if k == "CodeSha256" {
                        *child = Value::String("SHA".into());
                    } else {
                        walk(child);
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

pub fn region(service: &Service) -> String {
    service
        .provider
        .region
        .clone()
        .unwrap_or_else(|| "us-east-1".into())
}
