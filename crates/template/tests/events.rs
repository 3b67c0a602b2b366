//! One service per feature: logical IDs and properties of each event type and setting.

use std::collections::BTreeMap;

use deployer_config::model::Service;
use deployer_template::{CompileInput, FunctionArtifact, TemplateError, Templates, compile};
use serde_json::{Value, json};

fn try_compile(functions: Value, provider: Value) -> Result<Templates, TemplateError> {
    let mut provider_obj = json!({"name": "aws", "runtime": "nodejs22.x"});
    for (k, v) in provider.as_object().unwrap() {
        provider_obj[k] = v.clone();
    }
    let config = json!({"service": "svc", "provider": provider_obj, "functions": functions});
    let service = Service::from_value(&config).unwrap();
    let artifacts: BTreeMap<String, FunctionArtifact> = service
        .functions
        .keys()
        .map(|k| {
            (
                k.clone(),
                FunctionArtifact {
                    s3_key_name: "svc.zip".into(),
                    sha256_base64: "abc=".into(),
                },
            )
        })
        .collect();
    compile(&CompileInput {
        service: &service,
        stage: "dev",
        region: "us-east-1",
        instance_id: "42",
        artifact_directory_name: "serverless/svc/dev/42-x",
        artifacts: &artifacts,
    })
}

fn build(functions: Value, provider: Value) -> Value {
    try_compile(functions, provider).unwrap().update
}

fn ids(t: &Value) -> Vec<String> {
    t["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn function_defaults_and_overrides() {
    let t = build(
        json!({"hello-world": {"handler": "h.h"}, "other_fn": {"handler": "o.h", "runtime": "python3.13",
            "memorySize": 512, "timeout": 30, "description": "d", "architecture": "arm64",
            "environment": {"A": "fn"}, "tags": {"t": "fn"}, "versionFunction": false}}),
        json!({"environment": {"A": "p", "B": 1}, "tags": {"t": "p", "u": "p"}}),
    );
    let hello = &t["Resources"]["HelloDashworldLambdaFunction"]["Properties"];
    assert_eq!(hello["FunctionName"], "svc-dev-hello-world");
    assert_eq!(
        (hello["MemorySize"].clone(), hello["Timeout"].clone()),
        (json!(1024), json!(6))
    );
    assert_eq!(hello["Runtime"], "nodejs22.x");
    assert_eq!(
        hello["Environment"]["Variables"],
        json!({"A": "p", "B": "1"})
    );
    let other = &t["Resources"]["OtherUnderscorefnLambdaFunction"]["Properties"];
    assert_eq!(other["Runtime"], "python3.13");
    assert_eq!(other["Architectures"], json!(["arm64"]));
    assert_eq!(
        other["Environment"]["Variables"],
        json!({"A": "fn", "B": "1"})
    );
    assert_eq!(
        other["Tags"],
        json!([{"Key": "t", "Value": "fn"}, {"Key": "u", "Value": "p"}])
    );
    assert!(
        ids(&t)
            .iter()
            .any(|id| id.starts_with("HelloDashworldLambdaVersion"))
    );
    assert!(
        !ids(&t)
            .iter()
            .any(|id| id.starts_with("OtherUnderscorefnLambdaVersion"))
    );
    assert!(
        t["Outputs"]
            .get("OtherUnderscorefnLambdaFunctionQualifiedArn")
            .is_none()
    );
}

#[test]
fn default_runtime_is_v3s() {
    let t = build(json!({"a": {"handler": "h.h"}}), json!({"runtime": null}));
    assert_eq!(
        t["Resources"]["ALambdaFunction"]["Properties"]["Runtime"],
        "nodejs16.x"
    );
}

#[test]
fn roles_vpc_and_layers() {
    let t = build(
        json!({
            "a": {"handler": "h.a", "role": "MyRole"},
            "b": {"handler": "h.b", "role": "arn:aws:iam::123456789012:role/x", "vpc": {"subnetIds": ["s2"]}},
            "c": {"handler": "h.c", "vpc": false, "layers": ["arn:l:2"]},
            "d": {"handler": "h.d", "role": {"Fn::GetAtt": ["R", "Arn"]}}
        }),
        json!({"vpc": {"securityGroupIds": ["g"], "subnetIds": ["s1"]}, "layers": ["arn:l:1"],
               "iam": {"role": {"name": "custom-role", "path": "/x/", "permissionsBoundary": "arn:pb"}}}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["ALambdaFunction"]["Properties"]["Role"],
        json!({"Fn::GetAtt": ["MyRole", "Arn"]})
    );
    assert_eq!(
        r["ALambdaFunction"]["DependsOn"],
        json!(["ALogGroup", "MyRole"])
    );
    assert_eq!(
        r["BLambdaFunction"]["Properties"]["Role"],
        "arn:aws:iam::123456789012:role/x"
    );
    assert_eq!(
        r["BLambdaFunction"]["Properties"]["VpcConfig"],
        json!({"SecurityGroupIds": ["g"], "SubnetIds": ["s2"]})
    );
    assert!(
        r["CLambdaFunction"]["Properties"]
            .get("VpcConfig")
            .is_none()
    );
    assert_eq!(
        r["CLambdaFunction"]["Properties"]["Layers"],
        json!(["arn:l:2"])
    );
    assert_eq!(
        r["ALambdaFunction"]["Properties"]["Layers"],
        json!(["arn:l:1"])
    );
    assert_eq!(r["DLambdaFunction"]["DependsOn"], json!(["DLogGroup", "R"]));
    let role = &r["IamRoleLambdaExecution"]["Properties"];
    assert_eq!(role["RoleName"], "custom-role");
    assert_eq!(role["Path"], "/x/");
    assert_eq!(role["PermissionsBoundary"], "arn:pb");
    assert_eq!(
        role["ManagedPolicyArns"][0]["Fn::Join"][1][2],
        ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    );
}

#[test]
fn no_generated_role_with_an_existing_provider_role() {
    let t = build(
        json!({"a": {"handler": "h.a"}}),
        json!({"iam": {"role": "arn:aws:iam::1:role/r"}}),
    );
    assert!(t["Resources"].get("IamRoleLambdaExecution").is_none());
    assert_eq!(
        t["Resources"]["ALambdaFunction"]["Properties"]["Role"],
        "arn:aws:iam::1:role/r"
    );
    assert!(t["Resources"].get("ALogGroup").is_some());
}

#[test]
fn custom_deployment_bucket_removes_core_resources() {
    let templates = try_compile(
        json!({"a": {"handler": "h.a"}}),
        json!({"deploymentBucket": {"name": "my-bucket"}}),
    )
    .unwrap();
    let t = templates.update;
    assert!(t["Resources"].get("ServerlessDeploymentBucket").is_none());
    assert!(
        t["Resources"]
            .get("ServerlessDeploymentBucketPolicy")
            .is_none()
    );
    assert_eq!(
        t["Outputs"]["ServerlessDeploymentBucketName"]["Value"],
        "my-bucket"
    );
    assert_eq!(
        t["Resources"]["ALambdaFunction"]["Properties"]["Code"]["S3Bucket"],
        "my-bucket"
    );
    assert_eq!(templates.create["Resources"], json!({}));
}

#[test]
fn http_rest_api_with_cors_root_and_shared_resources() {
    let t = build(
        json!({"a": {"handler": "h.a", "events": [
            {"http": "GET /"},
            {"http": {"path": "/users/{id}/items", "method": "post", "cors": true}},
            {"http": {"path": "users/{id}", "method": "put", "cors": {"origin": "https://x.example.com", "headers": ["H"], "allowCredentials": true}}}
        ]}}),
        json!({"apiGateway": {"shouldStartNameWithService": true}}),
    );
    let r = &t["Resources"];
    assert_eq!(r["ApiGatewayRestApi"]["Properties"]["Name"], "svc-dev");
    let order: Vec<String> = ids(&t)
        .into_iter()
        .filter(|id| id.starts_with("ApiGateway"))
        .collect();
    assert_eq!(
        order,
        [
            "ApiGatewayRestApi",
            "ApiGatewayResourceUsers",
            "ApiGatewayResourceUsersIdVar",
            "ApiGatewayResourceUsersIdVarItems",
            "ApiGatewayMethodUsersIdVarItemsOptions",
            "ApiGatewayMethodUsersIdVarOptions",
            "ApiGatewayMethodGet",
            "ApiGatewayMethodUsersIdVarItemsPost",
            "ApiGatewayMethodUsersIdVarPut",
            "ApiGatewayDeployment42",
        ]
    );
    assert_eq!(
        r["ApiGatewayMethodGet"]["Properties"]["ResourceId"],
        json!({"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]})
    );
    let options = &r["ApiGatewayMethodUsersIdVarOptions"]["Properties"]["Integration"]["IntegrationResponses"]
        [0]["ResponseParameters"];
    assert_eq!(
        options["method.response.header.Access-Control-Allow-Origin"],
        "'https://x.example.com'"
    );
    assert_eq!(
        options["method.response.header.Access-Control-Allow-Headers"],
        "'H'"
    );
    assert_eq!(
        options["method.response.header.Access-Control-Allow-Methods"],
        "'OPTIONS,PUT'"
    );
    assert_eq!(
        options["method.response.header.Access-Control-Allow-Credentials"],
        "'true'"
    );
    assert_eq!(
        r["ApiGatewayDeployment42"]["DependsOn"][0],
        "ApiGatewayMethodUsersIdVarItemsOptions"
    );
    assert!(r.get("ALambdaPermissionApiGateway").is_some());
    assert_eq!(
        t["Outputs"]["ServiceEndpoint"]["Export"]["Name"],
        "sls-svc-dev-ServiceEndpoint"
    );
}

#[test]
fn http_api_routes_cors_and_authorizers() {
    let t = build(
        json!({"a": {"handler": "h.a", "events": [
            {"httpApi": {"method": "get", "path": "/users/{id}", "authorizer": {"name": "jwt", "scopes": ["s"]}}},
            {"httpApi": "*"}
        ]}, "b": {"handler": "h.b", "events": [{"httpApi": "POST /b"}]}}),
        json!({"httpApi": {"name": "my-api", "cors": true, "authorizers": {"jwt": {"identitySource": "$request.header.Authorization", "issuerUrl": "https://i", "audience": "x"}}}}),
    );
    let r = &t["Resources"];
    assert_eq!(r["HttpApi"]["Properties"]["Name"], "my-api");
    assert_eq!(
        r["HttpApi"]["Properties"]["CorsConfiguration"]["AllowMethods"],
        json!(["OPTIONS", "GET", "POST", "PUT", "PATCH", "HEAD", "DELETE"])
    );
    assert_eq!(
        r["HttpApiRouteGetUsersIdVar"]["Properties"]["AuthorizationType"],
        "JWT"
    );
    assert_eq!(
        r["HttpApiRouteGetUsersIdVar"]["Properties"]["AuthorizerId"],
        json!({"Ref": "HttpApiAuthorizerJwt"})
    );
    assert_eq!(
        r["HttpApiRouteDefault"]["Properties"]["RouteKey"],
        "$default"
    );
    assert_eq!(
        r["HttpApiAuthorizerJwt"]["Properties"]["JwtConfiguration"],
        json!({"Audience": ["x"], "Issuer": "https://i"})
    );
    assert!(r.get("BLambdaPermissionHttpApi").is_some() && r.get("HttpApiIntegrationB").is_some());
    assert!(r.get("HttpApiRoutePostB").is_some());
}

#[test]
fn schedule_sns_sqs_stream_s3_eventbridge() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"schedule": "rate(1 minute)"},
            {"sns": "my-topic"},
            {"sns": {"arn": "arn:aws:sns:eu-west-1:1:ext", "filterPolicy": {"a": ["b"]}}},
            {"sqs": {"arn": {"Fn::GetAtt": ["Queue", "Arn"]}}},
            {"stream": "arn:aws:dynamodb:us-east-1:1:table/T/stream/2020"},
            {"s3": "my-bucket"},
            {"eventBridge": {"schedule": "rate(2 hours)", "input": {"k": "v"}}}
        ]}}),
        json!({}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["FEventsRuleSchedule1"]["Properties"]["Targets"][0]["Id"],
        "fSchedule"
    );
    assert_eq!(
        r["SNSTopicMytopic"]["Properties"]["Subscription"][0]["Protocol"],
        "lambda"
    );
    assert!(r.get("FLambdaPermissionMytopicSNS").is_some());
    assert_eq!(
        r["FSnsSubscriptionExt"]["Properties"]["Region"],
        "eu-west-1"
    );
    assert_eq!(
        r["FEventSourceMappingSQSQueue"]["Properties"]["BatchSize"],
        10
    );
    assert_eq!(
        r["FEventSourceMappingSQSQueue"]["DependsOn"],
        json!(["IamRoleLambdaExecution"])
    );
    assert_eq!(
        r["FEventSourceMappingDynamodbT"]["Properties"]["StartingPosition"],
        "TRIM_HORIZON"
    );
    assert_eq!(
        r["S3BucketMybucket"]["DependsOn"],
        json!(["FLambdaPermissionMybucketS3"])
    );
    let rule = &r["Svcdevfrule7EventBridgeRule"]["Properties"];
    assert_eq!(rule["Name"], "svc-dev-f-rule-7");
    assert_eq!(rule["ScheduleExpression"], "rate(2 hours)");
    assert_eq!(rule["Targets"][0]["Input"], "{\"k\":\"v\"}");
    assert!(r.get("FEventBridgeLambdaPermission7").is_some());
    let statements =
        r["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    let actions: Vec<&Value> = statements.iter().map(|s| &s["Action"][0]).collect();
    assert_eq!(
        actions[2..],
        [&json!("dynamodb:GetRecords"), &json!("sqs:ReceiveMessage")]
    );
}

#[test]
fn long_eventbridge_names_are_hashed_like_v3() {
    let t = build(
        json!({"a-function-with-a-rather-long-name-for-testing": {"handler": "h.f",
            "events": [{"eventBridge": {"pattern": {"source": ["x"]}}}]}}),
        json!({}),
    );
    let rule = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.ends_with("EventBridgeRule"))
        .unwrap()
        .1;
    let name = rule["Properties"]["Name"].as_str().unwrap();
    assert!(name.len() <= 64, "{name}");
    assert!(name.ends_with("-rule-1"), "{name}");
}

#[test]
fn unsupported_events_are_errors_naming_function_index_and_type() {
    let err = try_compile(json!({"a": {"handler": "h.a", "events": [{"schedule": "rate(1 hour)"}, {"cloudFront": {"eventType": "viewer-request", "origin": "s3://bucket.s3.amazonaws.com/files"}}]}}), json!({})).unwrap_err();
    assert_eq!(
        err.to_string().split(':').next().unwrap(),
        "functions.a.events[1]"
    );
    assert!(
        err.to_string().contains("event type \"cloudFront\""),
        "{err}"
    );
}

#[test]
fn missing_artifact_is_an_error() {
    let config = json!({"service": "svc", "provider": {"name": "aws"}, "functions": {"a": {"handler": "h.a"}}});
    let service = Service::from_value(&config).unwrap();
    let err = compile(&CompileInput {
        service: &service,
        stage: "dev",
        region: "us-east-1",
        instance_id: "1",
        artifact_directory_name: "d",
        artifacts: &BTreeMap::new(),
    })
    .unwrap_err();
    assert!(
        matches!(err, TemplateError::MissingArtifact { .. }),
        "{err}"
    );
}

#[test]
fn websocket_routes_authorizer_and_deployment() {
    let t = build(
        json!({"ws": {"handler": "h.ws", "events": [
            {"websocket": {"route": "$connect", "authorizer": "auth"}},
            {"websocket": "my-route.x/y_z"}
        ]}, "auth": {"handler": "h.auth"}}),
        json!({}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["WebsocketsApi"]["Properties"]["Name"],
        "dev-svc-websockets"
    );
    assert_eq!(
        r["SconnectWebsocketsRoute"]["Properties"]["AuthorizationType"],
        "CUSTOM"
    );
    assert!(
        r.get("myDashroutePeriodxSlashyUnderscorezWebsocketsRoute")
            .is_some()
    );
    assert_eq!(
        r["AuthWebsocketsAuthorizer"]["Properties"]["IdentitySource"],
        json!(["route.request.header.Auth"])
    );
    assert_eq!(
        r["AuthLambdaPermissionWebsockets"]["DependsOn"],
        json!(["WebsocketsApi", "AuthLambdaFunction"])
    );
    let deployment = ids(&t)
        .into_iter()
        .find(|id| id.starts_with("WebsocketsDeployment") && id != "WebsocketsDeploymentStage")
        .unwrap();
    assert_eq!(
        r["WebsocketsDeploymentStage"]["Properties"]["DeploymentId"],
        json!({"Ref": deployment})
    );
    assert_eq!(
        t["Outputs"]["ServiceEndpointWebsocket"]["Export"]["Name"],
        "sls-svc-dev-ServiceEndpointWebsocket"
    );
    // The deployment ID changes with the WebSocket resources and only with them.
    let again = build(
        json!({"ws": {"handler": "h.ws", "events": [{"websocket": "$default"}]}}),
        json!({}),
    );
    assert!(
        !again["Resources"]
            .as_object()
            .unwrap()
            .contains_key(&deployment)
    );
}

/// v3 3.x compiles a bare `- alexaSkill` (no app ID) to nothing and does not count it: the
/// next `alexaSkill` event with an app ID is still number 1.
#[test]
fn a_bare_alexa_skill_adds_no_permission() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            "alexaSkill",
            {"alexaSkill": {"appId": "amzn1.ask.skill.2", "enabled": false}}
        ]}}),
        json!({}),
    );
    let permissions: Vec<String> = ids(&t)
        .into_iter()
        .filter(|id| id.contains("AlexaSkill"))
        .collect();
    assert_eq!(permissions, ["FLambdaPermissionAlexaSkill1"]);
    let p = &t["Resources"]["FLambdaPermissionAlexaSkill1"]["Properties"];
    assert_eq!(p["EventSourceToken"], "amzn1.ask.skill.2");
    assert_eq!(p["Action"], "lambda:DisableInvokeFunction");
}

#[test]
fn alexa_iot_cloudwatch_event_and_log() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"alexaSkill": "amzn1.ask.skill.1"},
            {"iot": {"sql": "SELECT * FROM 't'", "enabled": false}},
            {"cloudwatchEvent": {"event": {"source": ["aws.ec2"]}, "inputPath": "$.detail"}},
            {"cloudwatchLog": "/aws/lambda/a-one"},
            {"cloudwatchLog": {"logGroup": "/aws/lambda/a-two", "filter": "{ $.level = \\\"error\\\" }"}}
        ]}}),
        json!({}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["FLambdaPermissionAlexaSkill1"]["Properties"]["EventSourceToken"],
        "amzn1.ask.skill.1"
    );
    assert_eq!(
        r["FIotTopicRule1"]["Properties"]["TopicRulePayload"]["RuleDisabled"],
        true
    );
    assert_eq!(
        r["FEventsRuleCloudWatchEvent1"]["Properties"]["Targets"][0]["InputPath"],
        "$.detail"
    );
    assert_eq!(
        r["FEventsRuleCloudWatchEvent1"]["Properties"]["Targets"][0]["Id"],
        "fCloudWatchEvent"
    );
    assert_eq!(
        r["FLogsSubscriptionFilterCloudWatchLog2"]["Properties"]["FilterPattern"],
        "{ $.level = \"error\" }"
    );
    let source = &r["FLambdaPermissionLogsSubscriptionFilterCloudWatchLog"]["Properties"]["SourceArn"]
        ["Fn::Join"][1];
    assert_eq!(source[7], "/aws/lambda/a-*");
    let err = try_compile(
        json!({"f": {"handler": "h.f", "events": [{"cloudwatchLog": "/g"}, {"cloudwatchLog": "/g"}, {"cloudwatchLog": "/g"}]}}),
        json!({}),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("Only 2 subscription filters"),
        "{err}"
    );
}

#[test]
fn rest_api_authorizers() {
    let t = build(
        json!({"api": {"handler": "h.api", "events": [
            {"http": {"path": "a", "method": "get", "authorizer": "auth"}},
            {"http": {"path": "b", "method": "get", "authorizer": {"arn": "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_abc", "scopes": ["s"]}}},
            {"http": {"path": "c", "method": "get", "authorizer": {"type": "aws_iam"}}},
            {"http": {"path": "d", "method": "get", "authorizer": {"arn": "arn:aws:lambda:us-east-1:1:function:other-svc-dev-checker", "type": "request", "resultTtlInSeconds": 0}}},
            {"http": {"path": "e", "method": "get", "authorizer": {"type": "COGNITO_USER_POOLS", "authorizerId": {"Ref": "Shared"}}}}
        ]}, "auth": {"handler": "h.auth"}}),
        json!({}),
    );
    let r = &t["Resources"];
    let a = &r["ApiGatewayMethodAGet"];
    assert_eq!(a["Properties"]["AuthorizationType"], "CUSTOM");
    assert_eq!(
        a["Properties"]["AuthorizerId"],
        json!({"Ref": "AuthApiGatewayAuthorizer"})
    );
    assert_eq!(a["DependsOn"], json!(["AuthApiGatewayAuthorizer"]));
    let auth = &r["AuthApiGatewayAuthorizer"]["Properties"];
    assert_eq!(auth["Type"], "TOKEN");
    assert_eq!(auth["AuthorizerResultTtlInSeconds"], 300);
    assert_eq!(
        auth["IdentitySource"],
        "method.request.header.Authorization"
    );
    assert!(r.get("AuthLambdaPermissionApiGateway").is_some());
    // v3 names it after the last `-` part of the ARN.
    let cognito_id = "1UnderscoreabcApiGatewayAuthorizer";
    assert_eq!(
        r["ApiGatewayMethodBGet"]["Properties"]["AuthorizationType"],
        "COGNITO_USER_POOLS"
    );
    assert_eq!(
        r["ApiGatewayMethodBGet"]["Properties"]["AuthorizationScopes"],
        json!(["s"])
    );
    assert_eq!(
        r[cognito_id]["Properties"]["ProviderARNs"],
        json!(["arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_abc"])
    );
    assert!(r.get("1UnderscoreabcLambdaPermissionApiGateway").is_none());
    assert_eq!(
        r["ApiGatewayMethodCGet"]["Properties"]["AuthorizationType"],
        "AWS_IAM"
    );
    let checker = &r["CheckerApiGatewayAuthorizer"]["Properties"];
    assert_eq!(checker["Type"], "REQUEST");
    assert!(checker.get("IdentitySource").is_none());
    assert_eq!(
        r["CheckerLambdaPermissionApiGateway"]["Properties"]["FunctionName"],
        "arn:aws:lambda:us-east-1:1:function:other-svc-dev-checker"
    );
    assert_eq!(
        r["ApiGatewayMethodEGet"]["Properties"]["AuthorizerId"],
        json!({"Ref": "Shared"})
    );
    assert_eq!(
        r["ApiGatewayMethodEGet"]["DependsOn"],
        json!(["ApiLambdaPermissionApiGateway"])
    );
}

#[test]
fn function_urls_and_event_invoke_config() {
    let t = build(
        json!({"a": {"handler": "h.a", "url": true, "destinations": {"onSuccess": "b", "onFailure": {"type": "sns", "arn": {"Ref": "Topic"}}},
                     "maximumEventAge": 600},
               "b": {"handler": "h.b", "versionFunction": false, "url": {"authorizer": "aws_iam", "cors": true}}}),
        json!({}),
    );
    let r = &t["Resources"];
    assert_eq!(r["ALambdaFunctionUrl"]["Properties"]["AuthType"], "NONE");
    assert_eq!(
        r["ALambdaPermissionFnUrl"]["Properties"]["Action"],
        "lambda:InvokeFunctionUrl"
    );
    assert_eq!(
        t["Outputs"]["ALambdaFunctionUrl"]["Value"],
        json!({"Fn::GetAtt": ["ALambdaFunctionUrl", "FunctionUrl"]})
    );
    assert_eq!(
        r["BLambdaFunctionUrl"]["Properties"]["Cors"]["AllowMethods"],
        json!(["*"])
    );
    assert!(r.get("BLambdaPermissionFnUrl").is_none());
    let evconf = &r["ALambdaEvConf"]["Properties"];
    assert_eq!(
        evconf["DestinationConfig"]["OnSuccess"]["Destination"],
        json!({"Fn::GetAtt": ["BLambdaFunction", "Arn"]})
    );
    assert_eq!(evconf["MaximumEventAgeInSeconds"], 600);
    assert_eq!(evconf["Qualifier"], "$LATEST");
    let statements =
        r["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    assert!(statements.contains(
        &json!({"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "Topic"}})
    ));
    assert!(
        statements
            .iter()
            .any(|s| s["Action"] == "lambda:InvokeFunction")
    );
    // Without a version, the URL follows the function directly (v3 order).
    let ids = ids(&t);
    let b = ids.iter().position(|i| i == "BLambdaFunction").unwrap();
    assert_eq!(ids[b + 1], "BLambdaFunctionUrl");
}

#[test]
fn provisioned_concurrency_and_snap_start_aliases() {
    let t = build(
        json!({"warm": {"handler": "h.w", "provisionedConcurrency": 3, "events": [
                    {"http": "GET warm"}, {"httpApi": "GET /warm"}, {"sqs": "arn:aws:sqs:us-east-1:1:q"}, {"schedule": "rate(1 day)"}]},
               "snappy": {"handler": "h.s", "runtime": "java21", "snapStart": true, "versionFunction": false}}),
        json!({}),
    );
    let r = &t["Resources"];
    let alias = &r["WarmProvConcLambdaAlias"];
    assert_eq!(alias["Properties"]["Name"], "provisioned");
    assert_eq!(
        alias["Properties"]["ProvisionedConcurrencyConfig"]["ProvisionedConcurrentExecutions"],
        3
    );
    assert_eq!(alias["DependsOn"], "WarmLambdaFunction");
    let target =
        json!({"Fn::Join": [":", [{"Fn::GetAtt": ["WarmLambdaFunction", "Arn"]}, "provisioned"]]});
    assert_eq!(
        r["HttpApiIntegrationWarm"]["Properties"]["IntegrationUri"],
        target
    );
    assert_eq!(
        r["HttpApiIntegrationWarm"]["DependsOn"],
        "WarmProvConcLambdaAlias"
    );
    assert_eq!(
        r["WarmLambdaPermissionApiGateway"]["Properties"]["FunctionName"],
        target
    );
    assert_eq!(
        r["ApiGatewayMethodWarmGet"]["DependsOn"],
        json!(["WarmLambdaPermissionApiGateway", "WarmProvConcLambdaAlias"])
    );
    let uri = &r["ApiGatewayMethodWarmGet"]["Properties"]["Integration"]["Uri"]["Fn::Join"][1];
    assert_eq!(uri[6], ":");
    assert_eq!(uri[7], "provisioned");
    assert_eq!(
        r["WarmEventSourceMappingSQSQ"]["DependsOn"],
        json!(["IamRoleLambdaExecution", "WarmProvConcLambdaAlias"])
    );
    assert_eq!(
        r["WarmEventsRuleSchedule1"]["DependsOn"],
        "WarmProvConcLambdaAlias"
    );
    assert_eq!(
        r["WarmEventsRuleSchedule1"]["Properties"]["Targets"][0]["Arn"],
        target
    );

    let snappy = &r["SnappyLambdaFunction"]["Properties"];
    assert_eq!(snappy["SnapStart"], json!({"ApplyOn": "PublishedVersions"}));
    let version_id = ids(&t)
        .into_iter()
        .find(|id| id.starts_with("SnappyLambdaVersion"))
        .unwrap();
    assert!(
        r[&version_id].get("DeletionPolicy").is_none(),
        "a version kept only for the alias is not retained"
    );
    assert_eq!(
        r["SnappySnapStartLambdaAlias"]["Properties"]["Name"],
        "snapstart"
    );
    assert_eq!(
        r["SnappySnapStartLambdaAlias"]["Properties"]["FunctionVersion"],
        json!({"Fn::GetAtt": [version_id, "Version"]})
    );

    let err = try_compile(
        json!({"x": {"handler": "h", "provisionedConcurrency": 1, "snapStart": true}}),
        json!({}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("SnapStart does not support provisioned concurrency"),
        "{err}"
    );
}

#[test]
fn file_systems_runtime_management_and_logging_config() {
    let t = build(
        json!({"f": {"handler": "h.f", "fileSystemConfig": {"arn": "arn:efs", "localMountPath": "/mnt/x"},
                     "runtimeManagement": "onFunctionUpdate", "logs": {"logFormat": "JSON"}},
               "g": {"handler": "h.g", "vpc": false}}),
        json!({"vpc": {"securityGroupIds": ["sg"], "subnetIds": ["sn"]}, "logs": {"lambda": {"logFormat": "Text"}}}),
    );
    let r = &t["Resources"];
    let f = &r["FLambdaFunction"]["Properties"];
    assert_eq!(
        f["FileSystemConfigs"],
        json!([{"Arn": "arn:efs", "LocalMountPath": "/mnt/x"}])
    );
    assert_eq!(
        f["RuntimeManagementConfig"],
        json!({"UpdateRuntimeOn": "FunctionUpdate"})
    );
    let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
    assert_eq!(keys[..2], ["Code", "RuntimeManagementConfig"]);
    assert_eq!(f["LoggingConfig"], json!({"LogFormat": "JSON"}));
    assert_eq!(
        r["GLambdaFunction"]["Properties"]["LoggingConfig"],
        json!({"LogFormat": "Text"})
    );
    let err = try_compile(json!({"g": {"handler": "h.g", "vpc": false, "fileSystemConfig": {"arn": "a", "localMountPath": "/mnt/a"}}}),
        json!({"vpc": {"securityGroupIds": ["sg"], "subnetIds": ["sn"]}})).unwrap_err();
    assert!(
        err.to_string()
            .contains("ensure that function has vpc configured"),
        "{err}"
    );
}

/// `LoggingConfig` is added after the version hash (v3), so changing it alone keeps the
/// version logical ID; changing the memory size does not.
#[test]
fn logging_config_is_not_part_of_the_version_hash() {
    let version = |function: Value| -> String {
        let t = build(json!({"f": function}), json!({}));
        ids(&t)
            .into_iter()
            .find(|id| id.starts_with("FLambdaVersion"))
            .unwrap()
    };
    let base = version(json!({"handler": "h.f"}));
    assert_eq!(
        base,
        version(json!({"handler": "h.f", "logs": {"logFormat": "JSON"}}))
    );
    assert_ne!(base, version(json!({"handler": "h.f", "memorySize": 512})));
}

#[test]
fn http_api_request_authorizers() {
    let t = build(
        json!({"a": {"handler": "h.a", "events": [{"httpApi": {"method": "GET", "path": "/x", "authorizer": "custom"}}]},
               "auth": {"handler": "h.auth"}}),
        json!({"httpApi": {"authorizers": {"custom": {"type": "request", "functionName": "auth", "name": "MyAuth"}}}}),
    );
    let r = &t["Resources"];
    let authorizer = &r["HttpApiAuthorizerMyAuth"]["Properties"];
    assert_eq!(authorizer["AuthorizerType"], "REQUEST");
    assert_eq!(authorizer["AuthorizerPayloadFormatVersion"], "2.0");
    assert_eq!(authorizer["IdentitySource"], json!([]));
    assert!(r.get("MyAuthLambdaAuthorizerPermissionHttpApi").is_some());
    let order = ids(&t);
    let permission = order
        .iter()
        .position(|i| i == "MyAuthLambdaAuthorizerPermissionHttpApi")
        .unwrap();
    assert_eq!(order[permission + 1], "HttpApiAuthorizerMyAuth");
    assert_eq!(
        r["HttpApiRouteGetX"]["Properties"]["AuthorizationType"],
        "CUSTOM"
    );
    assert_eq!(
        r["HttpApiRouteGetX"]["Properties"]["AuthorizerId"],
        json!({"Ref": "HttpApiAuthorizerMyAuth"})
    );
    let err = try_compile(
        json!({"a": {"handler": "h.a", "events": [{"httpApi": "GET /x"}]}}),
        json!({"httpApi": {"authorizers": {"c": {"type": "request"}}}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("\"functionArn\" or \"functionName\""),
        "{err}"
    );
}

#[test]
fn sns_dead_letter_queues() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"sns": {"arn": "arn:aws:sns:us-east-1:1:t", "redrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:dlq"}}},
            {"sns": {"topicName": "named", "redrivePolicy": {"deadLetterTargetRef": "Dlq"}}}
        ]}}),
        json!({}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["FSnsSubscriptionT"]["Properties"]["RedrivePolicy"],
        json!({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:dlq"})
    );
    let policy = &r["TToFDLQPolicy"]["Properties"];
    assert_eq!(policy["Queues"][0]["Fn::Join"][1][2], "/1/dlq");
    assert_eq!(
        policy["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        "arn:aws:sns:us-east-1:1:t"
    );
    assert_eq!(
        r["FSnsSubscriptionNamed"]["Properties"]["TopicArn"],
        json!({"Ref": "SNSTopicNamed"})
    );
    assert_eq!(
        r["NamedToFDLQPolicy"]["Properties"]["Queues"],
        json!([{"Ref": "Dlq"}])
    );
    assert!(
        r["SNSTopicNamed"]["Properties"]
            .get("Subscription")
            .is_none()
    );
}

#[test]
fn rest_api_lambda_http_mock_and_async_integrations() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"http": {"path": "lambda", "method": "get", "integration": "lambda", "cors": true,
                      "authorizer": {"arn": "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_x", "claims": ["email", "custom:role"]}}},
            {"http": {"path": "custom", "method": "post", "integration": "lambda",
                      "response": {"statusCodes": {"400": {"pattern": "x"}, "201": {"pattern": "y"}}}}},
            {"http": {"path": "proxy", "method": "get", "integration": "http-proxy", "request": {"uri": "https://e.com", "method": "post"}}},
            {"http": {"path": "mock", "method": "get", "integration": "mock"}},
            {"http": {"path": "async", "method": "post", "async": true}}
        ]}}),
        json!({}),
    );
    let r = &t["Resources"];
    let lambda = &r["ApiGatewayMethodLambdaGet"]["Properties"];
    assert_eq!(lambda["Integration"]["Type"], "AWS");
    assert_eq!(lambda["Integration"]["PassthroughBehavior"], "NEVER");
    let responses = lambda["Integration"]["IntegrationResponses"]
        .as_array()
        .unwrap();
    let codes: Vec<&str> = responses
        .iter()
        .map(|r| r["StatusCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "200", "400", "401", "403", "404", "422", "500", "502", "504"
        ]
    );
    assert_eq!(
        responses[0]["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"],
        "'*'"
    );
    assert_eq!(lambda["MethodResponses"].as_array().unwrap().len(), 9);
    let template = lambda["Integration"]["RequestTemplates"]["application/json"]
        .as_str()
        .unwrap();
    assert!(template.contains("\"email\": \"$context.authorizer.claims.email\",\"role\": \"$context.authorizer.claims['custom:role']\","), "{template}");
    assert!(
        lambda["Integration"]["RequestTemplates"]
            .get("application/x-www-form-urlencoded")
            .is_some()
    );

    let custom =
        &r["ApiGatewayMethodCustomPost"]["Properties"]["Integration"]["IntegrationResponses"];
    let codes: Vec<&str> = custom
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["StatusCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["200", "201", "400"],
        "integer-like keys sort numerically, and a default 200 is added"
    );

    let proxy = &r["ApiGatewayMethodProxyGet"]["Properties"]["Integration"];
    assert_eq!(proxy["Type"], "HTTP_PROXY");
    assert_eq!(proxy["Uri"], "https://e.com");
    assert_eq!(proxy["IntegrationHttpMethod"], "POST");
    assert!(proxy.get("IntegrationResponses").is_none());

    let mock = &r["ApiGatewayMethodMockGet"]["Properties"]["Integration"];
    assert_eq!(mock["Type"], "MOCK");
    assert_eq!(mock["IntegrationResponses"], json!([]));

    let fire = &r["ApiGatewayMethodAsyncPost"]["Properties"]["Integration"];
    assert_eq!(fire["Type"], "AWS");
    assert_eq!(
        fire["RequestParameters"],
        json!({"integration.request.header.X-Amz-Invocation-Type": "'Event'"})
    );
}

#[test]
fn cognito_user_pool_triggers() {
    let t = build(
        json!({"a": {"handler": "h.a", "events": [{"cognitoUserPool": {"pool": "My Pool", "trigger": "PreSignUp"}}]},
               "b": {"handler": "h.b", "events": [{"cognitoUserPool": {"pool": "My Pool", "trigger": "CustomEmailSender", "kmsKeyId": "arn:kms"}}]}}),
        json!({}),
    );
    let r = &t["Resources"];
    let pool = &r["CognitoUserPoolMyPool"];
    assert_eq!(pool["Properties"]["UserPoolName"], "My Pool");
    assert_eq!(
        pool["Properties"]["LambdaConfig"]["PreSignUp"],
        json!({"Fn::GetAtt": ["ALambdaFunction", "Arn"]})
    );
    assert_eq!(
        pool["Properties"]["LambdaConfig"]["CustomEmailSender"]["LambdaVersion"],
        "V1_0"
    );
    assert_eq!(pool["Properties"]["LambdaConfig"]["KMSKeyID"], "arn:kms");
    assert_eq!(
        pool["DependsOn"],
        json!(["ALambdaFunction", "BLambdaFunction"])
    );
    assert!(
        r.get("ALambdaPermissionCognitoUserPoolMyPoolTriggerSourcePreSignUp")
            .is_some()
    );
    let err = try_compile(json!({"a": {"handler": "h.a", "events": [{"cognitoUserPool": {"pool": "P", "trigger": "PreSignUp", "existing": true}}]}}), json!({})).unwrap_err();
    assert!(err.to_string().contains("existing pools"), "{err}");
}

#[test]
fn rest_api_keys_and_usage_plans() {
    let functions = json!({"f": {"handler": "h.f", "events": [{"http": {"path": "x", "method": "get", "private": true}}]}});
    let t = build(
        functions.clone(),
        json!({"apiGateway": {"apiKeys": ["one", {"name": "two", "value": "v"}],
        "usagePlan": {"quota": {"limit": 5, "period": "DAY"}}}}),
    );
    let r = &t["Resources"];
    assert_eq!(r["ApiGatewayApiKey1"]["Properties"]["Name"], "one");
    assert_eq!(
        r["ApiGatewayApiKey1"]["DependsOn"],
        "ApiGatewayDeployment42"
    );
    assert_eq!(r["ApiGatewayApiKey2"]["Properties"]["Value"], "v");
    let plan = &r["ApiGatewayUsagePlan"]["Properties"];
    assert_eq!(plan["UsagePlanName"], "svc-dev");
    assert_eq!(plan["Quota"], json!({"Limit": 5, "Period": "DAY"}));
    assert_eq!(
        r["ApiGatewayUsagePlanKey2"]["Properties"]["KeyId"],
        json!({"Ref": "ApiGatewayApiKey2"})
    );

    let t = build(
        functions.clone(),
        json!({"apiGateway": {"apiKeys": [{"free": ["a", "b"]}, {"paid": ["c"]}],
        "usagePlan": [{"free": {"throttle": {"rateLimit": 1}}}, {"paid": {}}]}}),
    );
    let r = &t["Resources"];
    assert!(r.get("ApiGatewayApiKeyFree2").is_some() && r.get("ApiGatewayApiKeyPaid1").is_some());
    assert_eq!(
        r["ApiGatewayUsagePlanFree"]["Properties"]["UsagePlanName"],
        "svc-free-dev"
    );
    assert_eq!(
        r["ApiGatewayUsagePlanKeyPaid1"]["Properties"]["UsagePlanId"],
        json!({"Ref": "ApiGatewayUsagePlanPaid"})
    );
    let err = try_compile(
        functions,
        json!({"apiGateway": {"apiKeys": [{"gold": ["k"]}], "usagePlan": [{"free": {}}]}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("API key \"gold\" has no usage plan defined"),
        "{err}"
    );
}

#[test]
fn rest_api_request_validators_and_models() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"http": {"path": "q", "method": "get", "request": {"parameters": {"querystrings": {"id": true, "opt": false}}}}},
            {"http": {"path": "opt", "method": "get", "request": {"parameters": {"querystrings": {"opt": false}}}}},
            {"http": {"path": "body", "method": "post", "request": {"schemas": {
                "application/json": "create-item", "application/vnd.api+json": {"name": "Vnd", "schema": {"type": "object"}}}}}}
        ]}}),
        json!({"apiGateway": {"request": {"schemas": {"create-item": {"schema": {"type": "object"}, "description": "d"}}}}}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["ApiGatewayMethodQGet"]["Properties"]["RequestValidatorId"],
        json!({"Ref": "ApiGatewaySvcRequestValidator"})
    );
    assert!(
        r["ApiGatewayMethodOptGet"]["Properties"]
            .get("RequestValidatorId")
            .is_none()
    );
    assert_eq!(
        r["ApiGatewaySvcRequestValidator"]["Properties"]["Name"],
        "svc-dev | Validate request body and querystring parameters"
    );
    let models = &r["ApiGatewayMethodBodyPost"]["Properties"]["RequestModels"];
    assert_eq!(
        models["application/json"],
        json!({"Ref": "ApiGatewayCreateItemModel"})
    );
    assert_eq!(
        models["application/vnd.api+json"],
        json!({"Ref": "ApiGatewayMethodBodyPostApplicationVndApiJsonModel"})
    );
    assert_eq!(
        r["ApiGatewayCreateItemModel"]["Properties"]["Description"],
        "d"
    );
    assert_eq!(
        r["ApiGatewayMethodBodyPostApplicationVndApiJsonModel"]["Properties"]["Name"],
        "Vnd"
    );
}

#[test]
fn msk_and_kafka_event_source_mappings() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"msk": {"arn": "arn:aws:kafka:us-east-1:1:cluster/My-Cluster/uuid", "topic": "my.topic"}},
            {"kafka": {"topic": "t", "bootstrapServers": ["b:9092"], "accessConfigurations": {"saslPlainAuth": ["arn:aws:secretsmanager:us-east-1:1:secret:s"]}}}
        ]}}),
        json!({}),
    );
    let r = &t["Resources"];
    let msk = &r["FEventSourceMappingMSKMyClusterMytopic"];
    assert_eq!(msk["Properties"]["Topics"], json!(["my.topic"]));
    assert_eq!(msk["Properties"]["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(msk["DependsOn"], json!(["IamRoleLambdaExecution"]));
    let kafka = &r["FEventSourceMappingKafkaT"]["Properties"];
    assert_eq!(
        kafka["SourceAccessConfigurations"],
        json!([{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:1:secret:s"}])
    );
    let ids = ids(&t);
    let kafka_at = ids
        .iter()
        .position(|i| i == "FEventSourceMappingKafkaT")
        .unwrap();
    let msk_at = ids
        .iter()
        .position(|i| i == "FEventSourceMappingMSKMyClusterMytopic")
        .unwrap();
    assert!(kafka_at < msk_at, "kafka compiles before msk in v3");
    let err = try_compile(
        json!({"f": {"handler": "h", "events": [{"kafka": {"topic": "t", "bootstrapServers": ["b"],
        "accessConfigurations": {"vpcSubnet": ["subnet-1"]}}}]}}),
        json!({}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"vpcSecurityGroup\""), "{err}");
}

#[test]
fn alb_target_groups_listener_rules_and_permissions() {
    let listener = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/my-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"alb": {"listenerArn": listener, "priority": 3, "conditions": {"path": "/x"}}}
        ]}}),
        json!({}),
    );
    let r = &t["Resources"];
    let group = &r["FAlbTargetGroup50dc6c495c0c9188"];
    // md5("svc-f-50dc6c495c0c9188-dev"), computed with Python's hashlib.
    assert_eq!(
        group["Properties"]["Name"],
        "478175a3fba2f55ae484aef80aac13f1"
    );
    assert_eq!(
        group["Properties"]["Tags"][0]["Value"],
        "svc-f-50dc6c495c0c9188-dev"
    );
    assert_eq!(
        group["DependsOn"],
        json!(["FLambdaPermissionRegisterTarget"])
    );
    let rule = &r["FAlbListenerRule3"]["Properties"];
    assert_eq!(
        rule["Conditions"],
        json!([{"Field": "path-pattern", "Values": ["/x"]}])
    );
    assert_eq!(
        rule["Actions"],
        json!([{"Type": "forward", "TargetGroupArn": {"Ref": "FAlbTargetGroup50dc6c495c0c9188"}}])
    );
    assert_eq!(
        r["FLambdaPermissionAlb"]["Properties"]["SourceArn"],
        json!({"Ref": "FAlbTargetGroup50dc6c495c0c9188"})
    );
    assert!(
        r["FLambdaPermissionRegisterTarget"]["Properties"]
            .get("SourceArn")
            .is_none()
    );
    let err = try_compile(json!({"f": {"handler": "h", "events": [{"alb": {"listenerArn": "nope", "priority": 1, "conditions": {"path": "/"}}}]}}), json!({})).unwrap_err();
    assert!(err.to_string().contains("Invalid ALB listenerArn"), "{err}");
}

#[test]
fn mq_alexa_smart_home_and_iot_fleet_provisioning() {
    let t = build(
        json!({"f": {"handler": "h.f", "events": [
            {"activemq": {"arn": "arn:aws:mq:us-east-1:1:broker:b:b-1", "basicAuthArn": "arn:aws:secretsmanager:us-east-1:1:secret:s", "queue": "my-queue"}},
            {"rabbitmq": {"arn": "arn:aws:mq:us-east-1:1:broker:r:b-2", "basicAuthArn": "arn:aws:secretsmanager:us-east-1:1:secret:r", "queue": "q", "virtualHost": "/v"}},
            {"alexaSmartHome": {"appId": "amzn1.ask.skill.2", "enabled": false}},
            {"iotFleetProvisioning": {"templateBody": {"Parameters": {}}, "provisioningRoleArn": "arn:aws:iam::1:role/p", "templateName": "t"}}
        ]}}),
        json!({}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["FEventSourceMappingActiveMQMyqueue"]["Properties"]["Queues"],
        json!(["my-queue"])
    );
    assert_eq!(
        r["FEventSourceMappingRabbitMQQ"]["Properties"]["SourceAccessConfigurations"][1],
        json!({"Type": "VIRTUAL_HOST", "URI": "/v"})
    );
    assert_eq!(
        r["FLambdaPermissionAlexaSmartHome1"]["Properties"]["Action"],
        "lambda:DisableInvokeFunction"
    );
    let template = &r["FIotProvisioningTemplate"];
    assert_eq!(
        template["Properties"]["TemplateBody"],
        "{\"Parameters\":{}}"
    );
    assert_eq!(
        template["DependsOn"],
        json!(["FLambdaPermissionIotProvisioningTemplate"])
    );
}

#[test]
fn api_gateway_logs_need_an_externally_managed_role() {
    let functions =
        json!({"f": {"handler": "h.f", "events": [{"http": "GET x"}, {"websocket": "$default"}]}});
    let err = try_compile(functions.clone(), json!({"logs": {"restApi": true}})).unwrap_err();
    assert!(
        err.to_string().starts_with("provider.logs.restApi:"),
        "{err}"
    );
    let t = build(
        functions,
        json!({"logRetentionInDays": 3, "logs": {"restApi": {"roleManagedExternally": true}, "websocket": true}}),
    );
    let r = &t["Resources"];
    assert_eq!(
        r["ApiGatewayLogGroup"]["Properties"],
        json!({"LogGroupName": "/aws/api-gateway/svc-dev", "RetentionInDays": 3})
    );
    let stage = &r["WebsocketsDeploymentStage"]["Properties"];
    assert_eq!(
        stage["DefaultRouteSettings"],
        json!({"DataTraceEnabled": true, "LoggingLevel": "INFO"})
    );
    assert_eq!(
        stage["AccessLogSettings"]["DestinationArn"]["Fn::Sub"],
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${WebsocketsLogGroup}"
    );
    assert_eq!(
        r["WebsocketsLogGroup"]["Properties"]["LogGroupName"],
        "/aws/websocket/svc-dev"
    );
}
