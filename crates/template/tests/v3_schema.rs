//! v3 parity points without plugins: what its schema validation turns into lists, and the
//! default CORS headers of function URLs.

use std::collections::BTreeMap;

use deployer_config::model::Service;
use deployer_template::{CompileInput, FunctionArtifact, compile};
use serde_json::{Value, json};

fn compile_config(config: Value) -> Value {
    let service = Service::from_value(&config).unwrap();
    let artifacts: BTreeMap<String, FunctionArtifact> = service
        .functions
        .keys()
        .map(|k| {
            let artifact = FunctionArtifact {
                s3_key_name: "s.zip".into(),
                sha256_base64: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
            };
            (k.clone(), artifact)
        })
        .collect();
    compile(&CompileInput {
        service: &service,
        stage: "dev",
        region: "us-east-1",
        instance_id: "1700000000000",
        artifact_directory_name: "serverless/s/dev/1700000000000-2023-11-14T22:13:20.000Z",
        artifacts: &artifacts,
    })
    .unwrap()
    .update
}

#[test]
fn single_iam_action_and_depends_on_become_lists() {
    let template = compile_config(json!({
        "service": "s",
        "provider": {"name": "aws", "runtime": "nodejs22.x", "iam": {"role": {"statements": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}},
        "functions": {"f": {"handler": "h.f"}},
        "resources": {"Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Queue": {"Type": "AWS::SQS::Queue", "DependsOn": "Topic"}}}
    }));
    let statements = &template["Resources"]["IamRoleLambdaExecution"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"];
    let s3 = statements
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Resource"] == json!("*"))
        .unwrap();
    assert_eq!(s3["Action"], json!(["s3:*"]));
    assert_eq!(
        template["Resources"]["Queue"]["DependsOn"],
        json!(["Topic"])
    );
}

#[test]
fn function_url_cors_true_has_v3_default_headers() {
    let template = compile_config(json!({
        "service": "s",
        "provider": {"name": "aws", "runtime": "nodejs22.x"},
        "functions": {"f": {"handler": "h.f", "url": {"cors": true}}}
    }));
    let cors = &template["Resources"]["FLambdaFunctionUrl"]["Properties"]["Cors"];
    let headers = cors["AllowHeaders"].as_array().unwrap();
    assert!(headers.contains(&json!("X-Amzn-Trace-Id")), "{cors}");
    assert_eq!(headers[0], json!("Content-Type"));
    assert_eq!(cors["AllowOrigins"], json!(["*"]));
}
