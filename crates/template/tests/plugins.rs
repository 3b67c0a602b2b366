//! Services with plugins deployer handles natively: the templates equal what Serverless v3
//! produced with the real plugins, and cfn-lint finds no error in them.

mod common;

use std::process::Command;

use common::*;

const FIXTURE: &str = "plugin-iam-stepfunctions";

/// With v3's run inputs the template is v3's byte for byte, version IDs included: the
/// version hash covers the function as it was before the plugins rewrote it.
#[test]
fn iam_roles_pseudo_parameters_step_functions_equal_v3() {
    for stage in STAGES {
        let service = service(FIXTURE, stage);
        let expected = read_json(FIXTURE, stage, "cloudformation-template-update-stack.json");
        let run = v3_run_inputs(&service, &expected);
        let templates = compile_with(&service, stage, &region(&service), &run);
        let got = serde_json::to_string_pretty(&templates.update).unwrap();
        let want = serde_json::to_string_pretty(&expected).unwrap();
        assert!(
            got == want,
            "{stage}: update template differs\n--- got ---\n{got}\n--- want ---\n{want}"
        );
        let create = read_json(FIXTURE, stage, "cloudformation-template-create-stack.json");
        assert_eq!(templates.create, create, "{stage}: create template differs");
    }
}

/// After the usual normalisation (other zips, other run time) the templates still match.
#[test]
fn plugin_templates_equal_v3_after_normalisation() {
    for stage in STAGES {
        let service = service(FIXTURE, stage);
        let expected = read_json(FIXTURE, stage, "cloudformation-template-update-stack.json");
        let mut run = v3_run_inputs(&service, &expected);
        run.directory = format!(
            "serverless/{}/{stage}/1700000000000-2023-11-14T22:13:20.000Z",
            service.service
        );
        run.instance_id = "1700000000000".into();
        let templates = compile_with(&service, stage, &region(&service), &run);
        assert_eq!(
            normalise(&templates.update),
            normalise(&expected),
            "{stage}"
        );
    }
}

#[test]
fn plugin_templates_pass_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stage in STAGES {
        let service = service(FIXTURE, stage);
        let expected = read_json(FIXTURE, stage, "cloudformation-template-update-stack.json");
        let run = v3_run_inputs(&service, &expected);
        let templates = compile_with(&service, stage, &region(&service), &run);
        let path = dir.path().join(format!("{FIXTURE}-{stage}.json"));
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&templates.update).unwrap(),
        )
        .unwrap();
        files.push(path);
    }
    // The fixture was recorded with nodejs20.x (the newest runtime the plugins' Serverless
    // accepts without a warning), which cfn-lint reports as deprecated: that check only.
    let output = Command::new("cfn-lint")
        .arg("--ignore-checks=E2533")
        .args(&files)
        .output()
        .unwrap_or_else(|err| {
            panic!("cfn-lint could not be run ({err}); pip install -r requirements-test.txt")
        });
    let code = output.status.code().unwrap_or(-1);
    // cfn-lint's exit code is a bit field: 2 = error, 4 = warning, 8 = informational.
    assert!(
        code >= 0 && code & 3 == 0,
        "cfn-lint reported errors (exit code {code}):\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
