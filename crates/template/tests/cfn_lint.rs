//! `cfn-lint` (pinned in requirements-test.txt) reports no error on any generated template:
//! every fixture and stage, and a service that uses most supported settings and events.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use deployer_config::model::Service;
use deployer_template::{CompileInput, FunctionArtifact, compile};

fn kitchen_sink_templates() -> deployer_template::Templates {
    let value: serde_json::Value = serde_json::from_str(include_str!("kitchen_sink.json")).unwrap();
    let service = Service::from_value(&value).unwrap();
    let artifacts: BTreeMap<String, FunctionArtifact> = service
        .functions
        .keys()
        .map(|k| {
            (
                k.clone(),
                FunctionArtifact {
                    s3_key_name: "kitchen-sink.zip".into(),
                    sha256_base64: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
                },
            )
        })
        .collect();
    compile(&CompileInput {
        service: &service,
        stage: "dev",
        region: "eu-central-1",
        instance_id: "1700000000000",
        artifact_directory_name: "serverless/kitchen-sink/dev/1700000000000-2023-11-14T22:13:20.000Z",
        artifacts: &artifacts,
    })
    .unwrap()
}

#[test]
fn cfn_lint_reports_no_error() {
    // DEPLOYER_TEMPLATE_DUMP_DIR keeps the linted templates for inspection.
    let dir = tempfile::tempdir().unwrap();
    let out = std::env::var_os("DEPLOYER_TEMPLATE_DUMP_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let mut files = Vec::new();
    let mut write = |name: String, template: &serde_json::Value| {
        let path = out.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(template).unwrap()).unwrap();
        files.push(path);
    };
    for fixture in FIXTURES {
        for stage in STAGES {
            let service = service(fixture, stage);
            let expected = read_json(fixture, stage, "cloudformation-template-update-stack.json");
            let run = v3_run_inputs(&service, &expected);
            let templates = compile_with(&service, stage, &region(&service), &run);
            write(format!("{fixture}-{stage}-update.json"), &templates.update);
            write(format!("{fixture}-{stage}-create.json"), &templates.create);
        }
    }
    let sink = kitchen_sink_templates();
    write("kitchen-sink-update.json".into(), &sink.update);
    write("kitchen-sink-create.json".into(), &sink.create);

    let output = match Command::new("cfn-lint").args(&files).output() {
        Ok(output) => output,
        Err(err) => panic!(
            "cfn-lint could not be run ({err}). Install the pinned test tools first: \
             pip install -r requirements-test.txt"
        ),
    };
    let code = output.status.code().unwrap_or(-1);
    // cfn-lint's exit code is a bit field: 2 = error, 4 = warning, 8 = informational.
    assert!(
        code >= 0 && code & 2 == 0 && code & 1 == 0,
        "cfn-lint reported errors (exit code {code}):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
