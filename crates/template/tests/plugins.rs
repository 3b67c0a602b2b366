//! Services with plugins deployer handles natively: the templates equal what Serverless v3
//! produced with the real plugins, and cfn-lint finds no error in them.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use deployer_config::model::Service;
use deployer_template::{CompileInput, FunctionArtifact, compile};
use serde_json::json;

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

/// A service using most settings of the native plugins.
fn plugin_kitchen_sink() -> serde_json::Value {
    let service: Service = Service::from_value(&json!({
        "service": "sink",
        "plugins": {"modules": ["serverless-iam-roles-per-function", "serverless-pseudo-parameters",
                                "serverless-step-functions", "serverless-offline"]},
        "provider": {"name": "aws", "runtime": "nodejs22.x",
                     "vpc": {"securityGroupIds": ["sg-0123456789abcdef0"], "subnetIds": ["subnet-0123456789abcdef0"]},
                     "environment": {"TABLE": "t-#{AWS::AccountId}"}},
        "custom": {"serverless-iam-roles-per-function": {"defaultInherit": true}},
        "functions": {
            "worker": {"handler": "h.worker", "onError": {"Ref": "Dlq"},
                "iamRoleStatements": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-#{AWS::Region}/*"}],
                "events": [{"sqs": {"arn": {"Fn::GetAtt": ["Queue", "Arn"]}}},
                           {"stream": {"type": "dynamodb", "arn": {"Fn::GetAtt": ["Table", "StreamArn"]}}}]},
            "api": {"handler": "h.api", "events": [{"http": {"path": "items", "method": "get"}}]}
        },
        "stepFunctions": {
            "validate": true,
            "activities": ["approve"],
            "stateMachines": {"flow": {
                "type": "STANDARD",
                "loggingConfig": {"level": "ALL", "destinations": [{"Fn::GetAtt": ["FlowLogs", "Arn"]}]},
                "tracingConfig": {"enabled": true},
                "definition": {"StartAt": "Work", "States": {
                    "Work": {"Type": "Task", "Resource": {"Fn::GetAtt": ["worker", "Arn"]}, "Next": "Both"},
                    "Both": {"Type": "Parallel", "End": true, "Branches": [
                        {"StartAt": "Api", "States": {"Api": {"Type": "Task", "Resource": {"Ref": "api"}, "End": true}}},
                        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 5, "End": true}}}]}}},
                "events": [{"schedule": {"rate": "rate(1 day)", "input": {"a": 1}}},
                           {"eventBridge": {"event": {"source": ["app"]}}},
                           {"http": "POST flow"}],
                "alarms": {"topics": {"alarm": {"Ref": "Alerts"}}, "metrics": ["executionsFailed", "executionsTimedOut"]}
            }}
        },
        "resources": {"Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Dlq": {"Type": "AWS::SNS::Topic"},
            "Alerts": {"Type": "AWS::SNS::Topic"},
            "FlowLogs": {"Type": "AWS::Logs::LogGroup"},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"}}}
        }}
    }))
    .unwrap();
    let artifacts: BTreeMap<String, FunctionArtifact> = service
        .functions
        .keys()
        .map(|k| {
            let artifact = FunctionArtifact {
                s3_key_name: "sink.zip".into(),
                sha256_base64: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
            };
            (k.clone(), artifact)
        })
        .collect();
    compile(&CompileInput {
        service: &service,
        stage: "dev",
        region: "eu-central-1",
        instance_id: "1700000000000",
        artifact_directory_name: "serverless/sink/dev/1700000000000-2023-11-14T22:13:20.000Z",
        artifacts: &artifacts,
    })
    .unwrap()
    .update
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
    let sink = dir.path().join("plugin-kitchen-sink.json");
    std::fs::write(
        &sink,
        serde_json::to_string_pretty(&plugin_kitchen_sink()).unwrap(),
    )
    .unwrap();
    files.push(sink);
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

/// The kitchen sink's state machine: the Lambda ARN of a `Ref` inlined, the `GetAtt` a
/// variable, both functions invokable, and per-function roles for every function that
/// declares statements (inherit by default).
#[test]
fn plugin_kitchen_sink_machine_and_roles() {
    let t = plugin_kitchen_sink();
    let definition = &t["Resources"]["FlowStepFunctionsStateMachine"]["Properties"]["DefinitionString"]
        ["Fn::Sub"];
    let text = definition[0].as_str().unwrap();
    assert!(text.contains("function:sink-dev-api\""), "{text}");
    assert_eq!(definition[1].as_object().unwrap().len(), 1);
    let role = &t["Resources"]["FlowStepFunctionsStateMachineRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    assert_eq!(role[0]["Resource"].as_array().unwrap().len(), 4, "{role}");
    assert!(t["Resources"].get("WorkerIamRoleLambdaExecution").is_some());
    assert!(t["Resources"].get("ApiIamRoleLambdaExecution").is_none());
    assert_eq!(
        t["Resources"]["WorkerLambdaFunction"]["Properties"]["Environment"]["Variables"]["TABLE"],
        json!({"Fn::Sub": "t-${AWS::AccountId}"})
    );
}
