//! Every option of the native plugin passes, through the public compiler.

use std::collections::BTreeMap;

use deployer_config::model::Service;
use deployer_template::{CompileInput, FunctionArtifact, TemplateError, compile};
use serde_json::{Value, json};

fn try_compile(config: Value) -> Result<Value, TemplateError> {
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
    let templates = compile(&CompileInput {
        service: &service,
        stage: "dev",
        region: "eu-west-1",
        instance_id: "1700000000000",
        artifact_directory_name: "serverless/svc/dev/1700000000000-2023-11-14T22:13:20.000Z",
        artifacts: &artifacts,
    })?;
    Ok(templates.update)
}

fn compiled(config: Value) -> Value {
    try_compile(config).unwrap()
}

fn error(config: Value) -> String {
    try_compile(config).unwrap_err().to_string()
}

/// A service with the given plugins, functions, and extra top-level keys.
fn service(plugins: &[&str], functions: Value, extra: Value) -> Value {
    let mut config = json!({
        "service": "svc",
        "plugins": plugins,
        "provider": {"name": "aws", "runtime": "nodejs22.x", "iam": {"role": {"statements": [
            {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"}]}}},
        "functions": functions,
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

const ROLES: &[&str] = &["serverless-iam-roles-per-function"];
const SFN: &[&str] = &["serverless-step-functions"];

fn statement(actions: &str, resource: Value) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

fn role_statements(t: &Value, id: &str) -> Vec<Value> {
    t["Resources"][id]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

// ---- serverless-iam-roles-per-function ----

#[test]
fn roles_inherit_by_default_setting_unless_the_function_says_no() {
    let t = compiled(service(
        ROLES,
        json!({
            "a": {"handler": "h.a", "iamRoleStatements": [statement("s3:GetObject", json!("*"))]},
            "b": {"handler": "h.b", "iamRoleStatementsInherit": false, "iamRoleStatements": []}
        }),
        json!({"custom": {"serverless-iam-roles-per-function": {"defaultInherit": true}}}),
    ));
    let a = role_statements(&t, "AIamRoleLambdaExecution");
    assert_eq!(a.len(), 3, "logs, inherited, own: {a:?}");
    assert_eq!(a[1]["Action"], json!(["xray:PutTraceSegments"]));
    assert_eq!(a[2]["Action"], json!(["s3:GetObject"]));
    let b = role_statements(&t, "BIamRoleLambdaExecution");
    assert_eq!(b.len(), 1, "only logs: {b:?}");
    assert_eq!(
        t["Resources"]["ALambdaFunction"]["Properties"]["Role"],
        json!({"Fn::GetAtt": ["AIamRoleLambdaExecution", "Arn"]})
    );
    assert_eq!(
        t["Resources"]["ALambdaFunction"]["DependsOn"],
        json!(["AIamRoleLambdaExecution", "ALogGroup"])
    );
}

#[test]
fn role_name_and_permissions_boundaries() {
    let t = compiled(service(
        ROLES,
        json!({
            "a": {"handler": "h.a", "iamRoleStatements": [], "iamRoleStatementsName": "my-role",
                  "iamPermissionsBoundary": "arn:aws:iam::1:policy/fn"},
            "b": {"handler": "h.b", "iamRoleStatements": []}
        }),
        json!({"custom": {"serverless-iam-roles-per-function": {
            "iamGlobalPermissionsBoundary": "arn:aws:iam::1:policy/global"}}}),
    ));
    let a = &t["Resources"]["AIamRoleLambdaExecution"]["Properties"];
    assert_eq!(a["RoleName"], json!("my-role"));
    assert_eq!(a["PermissionsBoundary"], json!("arn:aws:iam::1:policy/fn"));
    let b = &t["Resources"]["BIamRoleLambdaExecution"]["Properties"];
    assert_eq!(
        b["PermissionsBoundary"],
        json!("arn:aws:iam::1:policy/global")
    );
    assert_eq!(
        b["RoleName"],
        json!({"Fn::Join": ["-", ["svc", "dev", "b", {"Ref": "AWS::Region"}, "lambdaRole"]]})
    );
    assert_eq!(
        t["Resources"]["IamRoleLambdaExecution"]["Properties"]["PermissionsBoundary"],
        json!("arn:aws:iam::1:policy/global")
    );
}

#[test]
fn role_names_over_64_characters_drop_lambda_role_then_fail() {
    // svc-dev-<key>-eu-west-1-lambdaRole: 30 characters besides the key.
    let fits_without_suffix = "k".repeat(40);
    let t = compiled(service(
        ROLES,
        json!({fits_without_suffix.clone(): {"handler": "h.a", "iamRoleStatements": []}}),
        json!({}),
    ));
    let id = format!("K{}IamRoleLambdaExecution", "k".repeat(39));
    assert_eq!(
        t["Resources"][&id]["Properties"]["RoleName"],
        json!({"Fn::Join": ["-", ["svc", "dev", fits_without_suffix, {"Ref": "AWS::Region"}]]})
    );
    let too_long = "k".repeat(60);
    let err = error(service(
        ROLES,
        json!({too_long.clone(): {"handler": "h.a", "iamRoleStatements": []}}),
        json!({}),
    ));
    assert!(
        err.contains(&format!(
            "auto generated role name for function: {too_long} is too long"
        )),
        "{err}"
    );
    assert!(err.contains("iamRoleStatementsName"), "{err}");
}

#[test]
fn streams_queues_dead_letters_and_vpc() {
    let mut config = service(
        ROLES,
        json!({"a": {"handler": "h.a", "iamRoleStatements": [],
        "onError": "arn:aws:sns:eu-west-1:1:dlq",
        "events": [
            {"stream": {"arn": "arn:aws:dynamodb:eu-west-1:1:table/t/stream/x"}},
            {"stream": {"type": "kinesis", "arn": {"Fn::GetAtt": ["S", "Arn"]}}},
            {"sqs": {"arn": "arn:aws:sqs:eu-west-1:1:q"}}
        ]}}),
        json!({}),
    );
    config["provider"]["vpc"] = json!({"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1"]});
    let t = compiled(config);
    let s = role_statements(&t, "AIamRoleLambdaExecution");
    assert_eq!(s[1]["Action"][0], json!("dynamodb:GetRecords"));
    assert_eq!(
        s[1]["Resource"],
        json!(["arn:aws:dynamodb:eu-west-1:1:table/t/stream/x"])
    );
    assert_eq!(s[2]["Action"][0], json!("kinesis:GetRecords"));
    assert_eq!(
        s[3]["Action"],
        json!([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes"
        ])
    );
    assert_eq!(
        s[4],
        json!({"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "arn:aws:sns:eu-west-1:1:dlq"})
    );
    let managed = &t["Resources"]["AIamRoleLambdaExecution"]["Properties"]["ManagedPolicyArns"];
    assert_eq!(
        managed[0]["Fn::Join"][1][2],
        json!(":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")
    );
    let mappings: Vec<&Value> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::EventSourceMapping")
        .collect();
    assert_eq!(mappings.len(), 3);
    assert!(
        mappings
            .iter()
            .all(|m| m["DependsOn"] == json!("AIamRoleLambdaExecution"))
    );
}

#[test]
fn role_errors_name_the_function_and_setting() {
    let err = error(service(
        ROLES,
        json!({"a": {"handler": "h.a", "role": "arn:aws:iam::1:role/x", "iamRoleStatements": []}}),
        json!({}),
    ));
    assert!(err.contains("both 'role' and 'iamRoleStatements'"), "{err}");
    let err = error(service(
        ROLES,
        json!({"a": {"handler": "h.a", "iamRoleStatements": [{"Effect": "Allow", "Action": "s3:*"}]}}),
        json!({}),
    ));
    assert!(
        err.starts_with("functions.a.iamRoleStatements[0]:"),
        "{err}"
    );
    let err = error(service(
        ROLES,
        json!({"a": {"handler": "h.a", "iamRoleStatements": []}}),
        json!({"custom": {"serverless-iam-roles-per-function": {"defaultInherits": true}}}),
    ));
    assert!(err.contains("defaultInherits"), "{err}");
}

#[test]
fn plugin_settings_without_the_plugin_are_refused() {
    let err = error(service(
        &[],
        json!({"a": {"handler": "h.a", "iamRoleStatements": []}}),
        json!({}),
    ));
    assert!(err.starts_with("functions.a.iamRoleStatements:"), "{err}");
    assert!(err.contains("serverless-iam-roles-per-function"), "{err}");
    let err = error(service(
        &[],
        json!({}),
        json!({"stepFunctions": {"stateMachines": {}}}),
    ));
    assert!(err.contains("serverless-step-functions"), "{err}");
}

// ---- serverless-pseudo-parameters ----

#[test]
fn pseudo_parameters_options() {
    let config = |custom: Value| {
        let mut c = service(
            &["serverless-pseudo-parameters"],
            json!({"a": {"handler": "h.a", "environment": {"X": "#{AWS::Region}-#{Bucket}"}}}),
            json!({"custom": custom}),
        );
        c["provider"]["environment"] = json!({"Y": "#{AWS::AccountId}"});
        c
    };
    let t = compiled(config(json!({})));
    let vars = &t["Resources"]["ALambdaFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(vars["X"], json!({"Fn::Sub": "${AWS::Region}-${Bucket}"}));
    assert_eq!(vars["Y"], json!({"Fn::Sub": "${AWS::AccountId}"}));
    let t = compiled(config(
        json!({"pseudoParameters": {"allowReferences": false}}),
    ));
    let vars = &t["Resources"]["ALambdaFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(vars["X"], json!({"Fn::Sub": "${AWS::Region}-#{Bucket}"}));
    let err = error(config(
        json!({"pseudoParameters": {"skipRegionReplace": false}}),
    ));
    assert!(err.contains("skipRegionReplace"), "{err}");
    // Without the plugin the strings stay as written, as in v3.
    let mut plain = config(json!({}));
    plain["plugins"] = json!([]);
    let t = compiled(plain);
    assert_eq!(
        t["Resources"]["ALambdaFunction"]["Properties"]["Environment"]["Variables"]["Y"],
        json!("#{AWS::AccountId}")
    );
}

// ---- serverless-step-functions ----

fn machines(machines: Value, more: Value) -> Value {
    let mut sfn = json!({"stateMachines": machines});
    for (k, v) in more.as_object().unwrap() {
        sfn[k] = v.clone();
    }
    service(
        SFN,
        json!({"hello": {"handler": "h.hello"}}),
        json!({"stepFunctions": sfn}),
    )
}

fn task(resource: Value) -> Value {
    json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}})
}

#[test]
fn machine_names_ids_types_and_outputs() {
    let t = compiled(machines(
        json!({
            "first": {"definition": task(json!({"Fn::GetAtt": ["hello", "Arn"]})), "type": "EXPRESS"},
            "second": {"name": "svc-dev-second", "definition": task(json!({"Ref": "hello"}))},
            "third": {"id": "PlainMachine", "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}
        }),
        json!({}),
    ));
    let r = &t["Resources"];
    assert_eq!(
        r["FirstStepFunctionsStateMachine"]["Properties"]["StateMachineType"],
        json!("EXPRESS")
    );
    assert_eq!(
        r["SvcDashdevDashsecond"]["Properties"]["StateMachineName"],
        json!("svc-dev-second")
    );
    assert!(r["PlainMachine"].is_object());
    assert!(r["PlainMachineRole"].is_object());
    assert!(t["Outputs"]["FirstStepFunctionsStateMachineArn"].is_object());
    assert!(t["Outputs"]["SvcDashdevDashsecondArn"].is_object());
    assert_eq!(
        t["Outputs"]["PlainMachineArn"]["Export"]["Name"],
        json!("sls-svc-dev-PlainMachineArn")
    );
    // A Ref to a function is written out as its ARN; no intrinsics left: a plain string.
    let second = &r["SvcDashdevDashsecond"]["Properties"]["DefinitionString"]["Fn::Sub"];
    assert!(second.as_str().unwrap().contains(
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:svc-dev-hello"
    ));
    assert!(r["PlainMachine"]["Properties"]["DefinitionString"].is_string());
    // Lambda permissions from the Task state.
    let first = role_statements(&t, "FirstStepFunctionsStateMachineRole");
    assert_eq!(first[0]["Action"], json!(["lambda:InvokeFunction"]));
    assert_eq!(
        first[0]["Resource"][0],
        json!({"Fn::GetAtt": ["HelloLambdaFunction", "Arn"]})
    );
    // A Pass-only machine gets the plugin's deny-all policy.
    let third = role_statements(&t, "PlainMachineRole");
    assert_eq!(
        third,
        [json!({"Effect": "Deny", "Action": "*", "Resource": "*"})]
    );
}

#[test]
fn given_role_logging_tracing_tags_no_output_and_activities() {
    let mut config = machines(
        json!({
            "m": {"definition": task(json!("arn:aws:lambda:eu-west-1:1:function:x:live")),
                  "loggingConfig": {"level": "ERROR", "includeExecutionData": true,
                                    "destinations": [{"Fn::GetAtt": ["Logs", "Arn"]}]},
                  "tracingConfig": {"enabled": true},
                  "tags": {"team": "a"},
                  "iamRoleStatements": [statement("sqs:SendMessage", json!("*"))]},
            "given": {"definition": task(json!({"Fn::GetAtt": ["hello", "Arn"]})),
                      "role": "arn:aws:iam::1:role/sfn", "dependsOn": "Logs"}
        }),
        json!({"noOutput": true, "activities": ["wait-for-human"]}),
    );
    config["provider"]["tags"] = json!({"owner": "me"});
    let t = compiled(config);
    let m = &t["Resources"]["MStepFunctionsStateMachine"]["Properties"];
    assert_eq!(m["LoggingConfiguration"]["Level"], json!("ERROR"));
    assert_eq!(
        m["LoggingConfiguration"]["Destinations"][0],
        json!({"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["Logs", "Arn"]}}})
    );
    assert_eq!(m["TracingConfiguration"], json!({"Enabled": true}));
    assert_eq!(
        m["Tags"],
        json!([{"Key": "owner", "Value": "me"}, {"Key": "team", "Value": "a"}])
    );
    let s = role_statements(&t, "MStepFunctionsStateMachineRole");
    // The alias is trimmed from the Lambda ARN; logs and X-Ray share `*`; own statements last.
    assert_eq!(
        s[0]["Resource"][0],
        json!("arn:aws:lambda:eu-west-1:1:function:x")
    );
    assert_eq!(s[1]["Resource"], json!("*"));
    assert!(
        s[1]["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("xray:PutTraceSegments"))
    );
    assert_eq!(s[2]["Action"], json!("sqs:SendMessage"));
    let given = &t["Resources"]["GivenStepFunctionsStateMachine"];
    assert_eq!(
        given["Properties"]["RoleArn"],
        json!("arn:aws:iam::1:role/sfn")
    );
    assert_eq!(given["DependsOn"], json!(["Logs"]));
    assert!(
        t["Resources"]
            .get("GivenStepFunctionsStateMachineRole")
            .is_none()
    );
    assert!(t["Outputs"].get("MStepFunctionsStateMachineArn").is_none());
    assert_eq!(
        t["Resources"]["WaitDashforDashhumanStepFunctionsActivity"],
        json!({"Type": "AWS::StepFunctions::Activity", "Properties": {"Name": "wait-for-human"}})
    );
}

#[test]
fn validate_adds_query_language_only_when_asked() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let text = |validate: bool| {
        let t = compiled(machines(
            json!({"m": {"definition": def.clone()}}),
            json!({"validate": validate}),
        ));
        t["Resources"]["MStepFunctionsStateMachine"]["Properties"]["DefinitionString"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(text(true).contains("\"QueryLanguage\": \"JSONPath\""));
    assert!(!text(false).contains("QueryLanguage"));
}

#[test]
fn schedule_and_event_bridge_events() {
    let t = compiled(machines(
        json!({"m": {"definition": task(json!({"Fn::GetAtt": ["hello", "Arn"]})), "events": [
            {"schedule": "rate(1 hour)"},
            {"schedule": {"rate": "rate(2 hours)", "enabled": false, "input": "raw"}},
            {"eventBridge": {"event": {"source": ["app"]}, "eventBusName": "bus"}}
        ]}}),
        json!({}),
    ));
    let r = &t["Resources"];
    assert_eq!(
        r["MStepFunctionsEventsRuleSchedule1"]["Properties"]["State"],
        json!("ENABLED")
    );
    let second = &r["MStepFunctionsEventsRuleSchedule2"]["Properties"];
    assert_eq!(second["State"], json!("DISABLED"));
    assert_eq!(second["Targets"][0]["Input"], json!("raw"));
    assert_eq!(second["Targets"][0]["Id"], json!("mStepFunctionsSchedule"));
    assert!(r["MScheduleToStepFunctionsRole"].is_object());
    let rule = &r["MEventsRuleCloudWatchEvent1"]["Properties"];
    assert_eq!(rule["EventBusName"], json!("bus"));
    assert_eq!(rule["EventPattern"], json!({"source": ["app"]}));
    assert_eq!(
        r["MEventToStepFunctionsRole"]["Properties"]["Policies"][0]["PolicyName"],
        json!("dev-eu-west-1-svc-m-event")
    );
}

#[test]
fn alarms_with_metric_settings() {
    let t = compiled(machines(
        json!({"m": {"definition": task(json!({"Fn::GetAtt": ["hello", "Arn"]})), "alarms": {
            "topics": {"ok": "arn:ok", "alarm": "arn:alarm"},
            "metrics": ["executionThrottled", {"metric": "executionsAborted", "logicalId": "Aborts", "period": 300}]
        }}}),
        json!({}),
    ));
    let throttled =
        &t["Resources"]["MStepFunctionsStateMachineExecutionThrottledAlarm"]["Properties"];
    assert_eq!(
        throttled["AlarmDescription"],
        json!("m[dev][eu-west-1]: execution throttled")
    );
    assert_eq!(throttled["OKActions"], json!(["arn:ok"]));
    assert_eq!(throttled["TreatMissingData"], json!("missing"));
    assert_eq!(t["Resources"]["Aborts"]["Properties"]["Period"], json!(300));
    let err = error(machines(
        json!({"m": {"definition": task(json!({"Fn::GetAtt": ["hello", "Arn"]})), "alarms": {"metrics": ["executionsLost"]}}}),
        json!({}),
    ));
    assert!(err.contains("unknown metric \"executionsLost\""), "{err}");
}

#[test]
fn refused_settings_are_named() {
    let base = |extra: Value| {
        let mut m = json!({"definition": task(json!({"Fn::GetAtt": ["hello", "Arn"]}))});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        machines(json!({"m": m}), json!({}))
    };
    let err = error(base(json!({"notifications": {"ABORTED": []}})));
    assert!(
        err.starts_with("stepFunctions.stateMachines.m.notifications:"),
        "{err}"
    );
    let err = error(base(json!({"definitionn": {}})));
    assert!(err.contains("definitionn"), "{err}");
    let err = error(base(
        json!({"events": [{"http": {"path": "x", "method": "get", "cors": true}}]}),
    ));
    assert!(err.contains("cors"), "{err}");
    let err = error(machines(
        json!({"m": {"definition": task(json!("arn:aws:states:::sqs:sendMessage"))}}),
        json!({}),
    ));
    assert!(
        err.contains("arn:aws:states:::sqs:sendMessage") && err.contains("set role:"),
        "{err}"
    );
    let err = error(machines(
        json!({"m": {"definition": {"StartAt": "Nope", "States": {"P": {"Type": "Pass", "End": true}}}}}),
        json!({}),
    ));
    assert!(
        err.starts_with("stepFunctions.stateMachines.m.definition.StartAt:"),
        "{err}"
    );
    let err = error(machines(json!({}), json!({"validation": true})));
    assert!(err.contains("validation"), "{err}");
}

#[test]
fn http_events_share_the_rest_api_of_core_http_events() {
    let mut config = machines(
        json!({"m": {"definition": task(json!({"Fn::GetAtt": ["hello", "Arn"]})),
                     "events": [{"http": "POST hello/run"}, {"http": {"path": "/", "method": "get",
                                 "iamRole": "arn:aws:iam::1:role/apigw"}}]}}),
        json!({}),
    );
    config["functions"]["hello"]["events"] = json!([{"http": {"path": "hello", "method": "get"}}]);
    let t = compiled(config);
    let r = t["Resources"].as_object().unwrap();
    let deployments: Vec<&String> = r
        .keys()
        .filter(|k| k.starts_with("ApiGatewayDeployment"))
        .collect();
    assert_eq!(deployments.len(), 1);
    let depends = r[deployments[0]]["DependsOn"].as_array().unwrap();
    assert!(
        depends.contains(&json!("ApiGatewayMethodHelloGet")),
        "{depends:?}"
    );
    assert!(
        depends.contains(&json!("ApiGatewayMethodHelloRunPost")),
        "{depends:?}"
    );
    assert!(
        depends.contains(&json!("ApiGatewayMethodGet")),
        "{depends:?}"
    );
    // `hello` exists from the core event; only `hello/run` is new.
    assert_eq!(
        r["ApiGatewayResourceHelloRun"]["Properties"]["ParentId"],
        json!({"Ref": "ApiGatewayResourceHello"})
    );
    let root = &r["ApiGatewayMethodGet"]["Properties"];
    assert_eq!(
        root["ResourceId"],
        json!({"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]})
    );
    assert_eq!(
        root["Integration"]["Credentials"],
        json!("arn:aws:iam::1:role/apigw")
    );
    assert!(r.contains_key("ApigatewayToStepFunctionsRole"));
}
