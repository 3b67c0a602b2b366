//! Every key path of `deployer_config::schema_keys::SETTINGS` (Serverless v3's schema and the
//! keys deployer adds) is set on a small service and its treatment proven: a `Template` key
//! changes the compiled templates, a `Stack` key the deploy request, a refused key fails the
//! compilation with an error naming it, a key without effect gives a warning naming it, and an
//! ignored or local key is documented.

use std::collections::BTreeMap;

use deployer_config::model::Service;
use deployer_config::schema_keys::{SETTINGS, Setting, Treatment};
use deployer_template::{CompileInput, FunctionArtifact, Templates};
use serde_json::{Value, json};

use crate::pipeline::request::{Deployable, deploy_request};

const ACCOUNT: &str = "123456789012";

/// A service with one function `f` behind a REST API, an HTTP API and a WebSocket API, so
/// that the API settings have something to act on.
fn base() -> Value {
    json!({"service": "svc",
        "provider": {"name": "aws", "runtime": "nodejs20.x", "region": "us-east-1"},
        "functions": {"f": {"handler": "h.f", "events": [
            {"http": {"path": "a", "method": "get"}},
            {"httpApi": {"path": "/b", "method": "GET"}},
            {"websocket": {"route": "$connect"}}]}}})
}

/// The name put where a key path has `*`.
fn concrete(pattern: &str) -> String {
    let names = [
        ("functions.*", "functions.f"),
        ("layers.*", "layers.l"),
        ("provider.s3.*", "provider.s3.bucketone"),
        ("provider.logs.*", "provider.logs.lambda"),
        ("custom.*", "custom.c"),
        ("params.*", "params.dev"),
        ("resources.Resources.*", "resources.Resources.Extra"),
        (
            "resources.extensions.*",
            "resources.extensions.IamRoleLambdaExecution",
        ),
    ];
    for (from, to) in names {
        if let Some(rest) = pattern.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    pattern.to_string()
}

fn arn(service: &str, rest: &str) -> String {
    format!("arn:aws:{service}:us-east-1:{ACCOUNT}:{rest}")
}

/// The value a probe sets, and what else the service needs for the key to act (applied to
/// both sides of the comparison).
fn sample(pattern: &str) -> (Value, Value) {
    let none = json!({});
    let statement = json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]);
    let alb = json!({"functions": {"f": {"events": [{"alb": {
        "listenerArn": arn("elasticloadbalancing", "listener/app/x/1234567890abcdef/1234567890abcdef"),
        "priority": 1, "conditions": {"path": "/x"}}}]}}});
    let iam_plugin = json!({"plugins": ["serverless-iam-roles-per-function"],
        "functions": {"f": {"iamRoleStatements": statement.clone()}}});
    let vpc = json!({"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1"]});
    let policy = json!({"Name": "n", "Version": "2021-06-01", "Statement": []});
    let key = |s: &str| s.rsplit('.').next().unwrap_or(s).to_string();
    match pattern {
        "service" => (json!("other"), none),
        "provider.alb.targetGroupPrefix" => (json!("pre"), alb),
        "provider.alb.authorizers" => {
            let context = alb;
            (
                json!({"auth": {"type": "cognito",
                    "userPoolArn": arn("cognito-idp", "userpool/us-east-1_x"),
                    "userPoolClientId": "c", "userPoolDomain": "d"}}),
                context,
            )
        }
        "provider.apiGateway.apiKeys" => (json!(["k1"]), none),
        "provider.apiGateway.apiKeySourceType" => (json!("AUTHORIZER"), none),
        "provider.apiGateway.binaryMediaTypes" => (json!(["image/png"]), none),
        "provider.apiGateway.description"
        | "provider.httpApi.name"
        | "provider.apiName"
        | "provider.websocketsApiName"
        | "provider.websocketsDescription"
        | "functions.*.description"
        | "functions.*.name" => (json!("some-text"), none),
        "provider.apiGateway.minimumCompressionSize" => (json!(100), none),
        "provider.apiGateway.resourcePolicy" => (
            json!([{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                "Resource": "*"}]),
            none,
        ),
        "provider.apiGateway.restApiId" => (
            json!("abc123"),
            json!({"provider": {"apiGateway": {"restApiRootResourceId": "root1"}}}),
        ),
        "provider.apiGateway.restApiRootResourceId" => (
            json!("root1"),
            json!({"provider": {"apiGateway": {"restApiId": "abc123",
                "restApiRootResourceId": "root0"}}}),
        ),
        "provider.apiGateway.request.schemas" => (
            json!({"item": {"schema": {"type": "object"}}}),
            json!({"functions": {"f": {"events": [{"http": {"path": "a", "method": "post",
                "request": {"schemas": {"application/json": "item"}}}}]}}}),
        ),
        "provider.apiGateway.usagePlan" => (
            json!({"quota": {"limit": 5, "period": "DAY"}}),
            json!({"provider": {"apiGateway": {"apiKeys": ["k1"]}}}),
        ),
        "provider.apiGateway.websocketApiId" => (json!("ws123"), none),
        "provider.apiGateway.timeoutInMillis" => (json!(1000), none),
        "provider.architecture" | "functions.*.architecture" => (json!("arm64"), none),
        "provider.deploymentBucket" | "provider.deploymentBucket.name" => {
            (json!("my-bucket"), none)
        }
        "provider.deploymentBucket.maxPreviousDeploymentArtifacts" => (json!(2), none),
        "provider.deploymentBucket.tags"
        | "provider.tags"
        | "provider.stackTags"
        | "provider.iam.role.tags"
        | "functions.*.tags" => (json!({"team": "a"}), none),
        "provider.deploymentPrefix" => (json!("prefix"), none),
        "provider.endpointType" => (json!("REGIONAL"), none),
        "provider.environment" | "functions.*.environment" => (json!({"A": "1"}), none),
        "provider.eventBridge.useCloudFormation" => (json!(false), none),
        "provider.httpApi.authorizers" => (
            json!({"jwt": {"identitySource": "$request.header.Authorization",
                "issuerUrl": "https://issuer", "audience": ["aud"]}}),
            none,
        ),
        "provider.httpApi.cors" => (json!(true), none),
        "provider.httpApi.id" => (json!("http123"), none),
        "provider.httpApi.payload" | "functions.*.httpApi.payload" => (json!("1.0"), none),
        "provider.iam.role" | "provider.role" | "functions.*.role" => {
            (json!(format!("arn:aws:iam::{ACCOUNT}:role/r")), none)
        }
        "provider.iam.role.name" => (json!("my-role"), none),
        "provider.iam.role.path" => (json!("/p/"), none),
        "provider.iam.role.managedPolicies" | "provider.iamManagedPolicies" => {
            (json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]), none)
        }
        "provider.iam.role.statements" | "provider.iamRoleStatements" => (statement, none),
        "provider.iam.role.permissionBoundary"
        | "provider.iam.role.permissionsBoundary"
        | "provider.rolePermissionsBoundary" => {
            (json!(format!("arn:aws:iam::{ACCOUNT}:policy/b")), none)
        }
        "provider.iam.deploymentRole" | "provider.cfnRole" => {
            (json!(format!("arn:aws:iam::{ACCOUNT}:role/cfn")), none)
        }
        "provider.kmsKeyArn" | "functions.*.kmsKeyArn" => (json!(arn("kms", "key/k")), none),
        "provider.layers" | "functions.*.layers" => (json!([arn("lambda", "layer:l:1")]), none),
        "provider.logRetentionInDays" | "functions.*.logRetentionInDays" => (json!(7), none),
        "provider.logDataProtectionPolicy" | "functions.*.logDataProtectionPolicy" => {
            (policy, none)
        }
        "provider.logs.*" | "functions.*.logs" => (json!({"logFormat": "JSON"}), none),
        "provider.logs.restApi" => (json!({"roleManagedExternally": true}), none),
        "provider.logs.websocket" => (
            json!(true),
            json!({"provider": {"logs": {"restApi": {"roleManagedExternally": true}}}}),
        ),
        "provider.memorySize" | "functions.*.memorySize" => (json!(256), none),
        "provider.notificationArns" => (json!([arn("sns", "t")]), none),
        "provider.runtime" | "functions.*.runtime" => (json!("python3.12"), none),
        "provider.runtimeManagement" | "functions.*.runtimeManagement" => {
            (json!("onFunctionUpdate"), none)
        }
        "provider.deploymentMethod" => (json!("changesets"), none),
        "provider.s3.*" => (
            json!({"versioningConfiguration": {"Status": "Enabled"}}),
            json!({"functions": {"f": {"events": [{"s3": "bucketone"}]}}}),
        ),
        "provider.stackName" => (json!("other-stack"), none),
        "provider.stackParameters" => (json!([{"ParameterKey": "K", "ParameterValue": "V"}]), none),
        "provider.stackPolicy" => (
            json!([{"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}]),
            none,
        ),
        "provider.rollbackConfiguration" => (json!({"MonitoringTimeInMinutes": 5}), none),
        "provider.timeout" | "functions.*.timeout" => (json!(10), none),
        "provider.tracing.lambda" => (json!(true), none),
        "provider.vpc" | "functions.*.vpc" => (vpc, none),
        "provider.vpc.securityGroupIds" | "functions.*.vpc.securityGroupIds" => {
            let parent = pattern.trim_end_matches(".securityGroupIds");
            (
                json!(["sg-1"]),
                at(parent, json!({"subnetIds": ["subnet-1"]})),
            )
        }
        "provider.vpc.subnetIds" | "functions.*.vpc.subnetIds" => {
            let parent = pattern.trim_end_matches(".subnetIds");
            (
                json!(["subnet-1"]),
                at(parent, json!({"securityGroupIds": ["sg-1"]})),
            )
        }
        "provider.vpc.ipv6AllowedForDualStack" | "functions.*.vpc.ipv6AllowedForDualStack" => {
            let parent = pattern.trim_end_matches(".ipv6AllowedForDualStack");
            (json!(true), at(parent, vpc))
        }
        "provider.vpcEndpointIds" => (
            json!(["vpce-1"]),
            json!({"provider": {"endpointType": "PRIVATE"}}),
        ),
        "provider.versionFunctions" | "functions.*.versionFunction" => (json!(false), none),
        "provider.websocket.useProviderTags" => {
            (json!(true), json!({"provider": {"tags": {"team": "a"}}}))
        }
        "provider.websocketsApiRouteSelectionExpression" => (json!("$request.body.route"), none),
        "provider.deploymentBucket.accelerate"
        | "provider.deploymentBucket.blockPublicAccess"
        | "provider.deploymentBucket.skipPolicySetup"
        | "provider.deploymentBucket.versioning"
        | "provider.apiGateway.disableDefaultEndpoint"
        | "provider.apiGateway.shouldStartNameWithService"
        | "provider.apiGateway.metrics"
        | "provider.httpApi.metrics"
        | "provider.httpApi.disableDefaultEndpoint"
        | "provider.httpApi.shouldStartNameWithService"
        | "provider.httpApi.useProviderTags"
        | "provider.logs.httpApi"
        | "provider.logs.frameworkLambda"
        | "provider.tracing.apiGateway"
        | "provider.disableRollback"
        | "functions.*.disableLogs"
        | "functions.*.snapStart" => (json!(true), none),
        "provider.apiGateway.stage" => (json!("v1"), none),
        "functions.*.awsKmsKeyArn" => (json!(arn("kms", "key/k")), none),
        "functions.*.condition" => (json!("IsProd"), none),
        "functions.*.dependsOn" => (json!(["Other"]), none),
        "functions.*.destinations" => (json!({"onSuccess": arn("sqs", "q")}), none),
        "functions.*.destinations.onSuccess" | "functions.*.destinations.onFailure" => {
            (json!(arn("sqs", "q")), none)
        }
        "functions.*.ephemeralStorageSize" => (json!(1024), none),
        "functions.*.events" => (json!([{"schedule": "rate(1 hour)"}]), none),
        "functions.*.fileSystemConfig" => (
            json!({"localMountPath": "/mnt/x",
                "arn": format!("arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:access-point/fsap-0123456789abcdef0")}),
            json!({"functions": {"f": {"vpc": vpc}}}),
        ),
        "functions.*.handler" => (json!("other.f"), none),
        "functions.*.image" => (
            json!(format!(
                "{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/r@sha256:{}",
                "a".repeat(64)
            )),
            none,
        ),
        "functions.*.maximumEventAge" => (json!(60), none),
        "functions.*.maximumRetryAttempts" => (json!(1), none),
        "functions.*.onError" => (json!(arn("sns", "t")), none),
        "functions.*.provisionedConcurrency" | "functions.*.reservedConcurrency" => {
            (json!(1), none)
        }
        "functions.*.tracing" => (json!("Active"), none),
        "functions.*.url" => (json!(true), none),
        "functions.*.url.authorizer" => (
            json!("aws_iam"),
            json!({"functions": {"f": {"url": {"invokeMode": "BUFFERED"}}}}),
        ),
        "functions.*.url.cors" => (
            json!(true),
            json!({"functions": {"f": {"url": {"invokeMode": "BUFFERED"}}}}),
        ),
        "functions.*.url.invokeMode" => (
            json!("RESPONSE_STREAM"),
            json!({"functions": {"f": {"url": {"cors": true}}}}),
        ),
        "functions.*.iamRoleStatements" => (
            json!([{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]),
            json!({"plugins": ["serverless-iam-roles-per-function"]}),
        ),
        "functions.*.iamRoleStatementsName" => (json!("f-role"), iam_plugin),
        "functions.*.iamRoleStatementsInherit" => {
            let mut context = iam_plugin;
            context["provider"] = json!({"iam": {"role": {"statements": statement}}});
            (json!(true), context)
        }
        "functions.*.iamPermissionsBoundary" => (
            json!(format!("arn:aws:iam::{ACCOUNT}:policy/b")),
            iam_plugin,
        ),
        "resources.AWSTemplateFormatVersion" => (json!("2010-09-10"), none),
        "resources.Conditions" => (json!({"C": {"Fn::Equals": ["a", "b"]}}), none),
        "resources.Description" => (json!("text"), none),
        "resources.Mappings" => (json!({"M": {"k": {"v": "x"}}}), none),
        "resources.Metadata" | "resources.Resources.*.Metadata" => (json!({"a": 1}), none),
        "resources.Outputs" => (json!({"O": {"Value": "x"}}), none),
        "resources.Parameters" => (json!({"P": {"Type": "String"}}), none),
        "resources.Transform" => (json!(["AWS::Serverless-2016-10-31"]), none),
        "resources.Resources.Fn::Transform" => (
            json!({"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}),
            none,
        ),
        "resources.Resources.*.Type" => (json!("AWS::SQS::Queue"), none),
        p if p.starts_with("resources.Resources.*.") => (
            resource_attribute(&key(p)),
            json!({"resources": {"Resources": {"Extra": {"Type": "AWS::SQS::Queue"}}}}),
        ),
        p if p.starts_with("resources.extensions.*.") => (resource_attribute(&key(p)), none),
        "useDotenv"
        | "console"
        | "package.individually"
        | "package.excludeDevDependencies"
        | "functions.*.package.individually"
        | "functions.*.package.disable"
        | "functions.*.skipEsbuild"
        | "dashboard.disableMonitoring" => (json!(true), none),
        "configValidationMode" => (json!("warn"), none),
        "plugins" => (json!([]), none),
        "provider.name" => (json!("aws"), none),
        "provider.stage" | "params.*" => (json!("dev"), none),
        "provider.region" => (json!("us-east-1"), none),
        "provider.allowedAccountIds" | "provider.forbiddenAccountIds" => (json!(ACCOUNT), none),
        "params" => (json!({"dev": {"a": 1}}), none),
        "package.patterns"
        | "package.include"
        | "package.exclude"
        | "functions.*.package.patterns"
        | "functions.*.package.include"
        | "functions.*.package.exclude"
        | "disabledDeprecations" => (json!(["x"]), none),
        "dashboard" => (json!({"disableMonitoring": true}), none),
        "layers" => (json!({"l": {"path": "layer"}}), none),
        "custom" | "outputs" | "build" | "stepFunctions" => (json!({"a": "b"}), none),
        // Refused, ignored and local keys: any set value.
        _ => (json!("set"), none),
    }
}

/// A value for a resource attribute.
fn resource_attribute(name: &str) -> Value {
    match name {
        "Properties" => json!({"MaxSessionDuration": 7200}),
        "CreationPolicy" | "UpdatePolicy" => json!({"AutoScalingRollingUpdate": {}}),
        "DeletionPolicy" | "UpdateReplacePolicy" => json!("Retain"),
        "DependsOn" => json!(["FLogGroup"]),
        "Metadata" => json!({"a": 1}),
        "Condition" => json!("C"),
        other => panic!("no sample for resource attribute {other}"),
    }
}

/// `value` placed at a dotted pattern (with `*` made concrete).
fn at(pattern: &str, value: Value) -> Value {
    let mut root = json!({});
    set(&mut root, &concrete(pattern), value);
    root
}

fn set(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let segments: Vec<&str> = path.split('.').collect();
    for segment in &segments[..segments.len() - 1] {
        if !node.get(*segment).is_some_and(Value::is_object) {
            node[*segment] = json!({});
        }
        node = &mut node[*segment];
    }
    node[segments[segments.len() - 1]] = value;
}

/// Objects merged key by key, anything else (lists included) replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (k, v) in patch {
                merge(base.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

fn service(config: &Value) -> Service {
    Service::from_value(config).unwrap_or_else(|e| panic!("{e}\n{config:#}"))
}

fn model(config: &Value) -> Result<Service, String> {
    Service::from_value(config).map_err(|e| format!("not a valid model: {e}"))
}

fn compile(service: &Service) -> Result<Templates, String> {
    let artifacts: BTreeMap<String, FunctionArtifact> = service
        .functions
        .keys()
        .map(|k| {
            let artifact = FunctionArtifact {
                s3_key_name: "svc.zip".into(),
                sha256_base64: "c2hh".into(),
            };
            (k.clone(), artifact)
        })
        .collect();
    deployer_template::compile(&CompileInput {
        service,
        stage: "dev",
        region: "us-east-1",
        instance_id: "1",
        artifact_directory_name: "serverless/svc/dev/1-x",
        artifacts: &artifacts,
    })
    .map_err(|e| e.to_string())
}

fn request(service: Service, templates: &Templates) -> String {
    let deployable = Deployable {
        stack: crate::pipeline::stack::name(&service, "dev"),
        service,
        stage: "dev".into(),
        region: "us-east-1".into(),
        create: templates.create.clone().into(),
        update: templates.update.clone().into(),
        directory: "d".into(),
        template_hash: "h".into(),
        artifacts: Vec::new(),
        plugins: Vec::new(),
        builds: None,
    };
    format!("{:?}", deploy_request(&deployable, false))
}

/// What else the service needs once the setting is there (only on the side that has it).
fn with_only(pattern: &str) -> Value {
    match pattern {
        "provider.alb.authorizers" => json!({"functions": {"f": {"events": [{"alb": {
            "listenerArn": arn("elasticloadbalancing", "listener/app/x/1234567890abcdef/1234567890abcdef"),
            "priority": 1, "conditions": {"path": "/x"}, "authorizer": "auth"}}]}}}),
        "functions.*.image" => json!({"functions": {"f": {"handler": null}}}),
        _ => json!({}),
    }
}

/// The service without and with the setting.
fn pair(setting: &Setting) -> (Value, Value) {
    let (value, context) = sample(setting.path);
    let mut without = base();
    merge(&mut without, &context);
    let mut with = without.clone();
    set(&mut with, &concrete(setting.path), value);
    merge(&mut with, &with_only(setting.path));
    (without, with)
}

/// What is wrong with the proof of one setting's treatment, if anything.
fn probe(setting: &Setting, docs: &str) -> Option<String> {
    if setting.treatment == Treatment::Keys {
        return None; // its keys are probed one by one
    }
    let path = concrete(setting.path);
    let (without, with) = pair(setting);
    let (before, after) = match (model(&without), model(&with)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => return Some(format!("{:?} / {:?}", a.err(), b.err())),
    };
    let compiled = (compile(&before), compile(&after));
    match setting.treatment {
        Treatment::Template => match compiled {
            (Ok(a), Ok(b)) if a != b => None,
            (Ok(_), Ok(_)) => Some("the templates are the same with and without it".into()),
            (a, b) => Some(format!("does not compile: {:?} / {:?}", a.err(), b.err())),
        },
        Treatment::Stack => match compiled {
            (Ok(a), Ok(b)) if request(before, &a) != request(after, &b) => None,
            (Ok(_), Ok(_)) => Some("the deploy request is the same with and without it".into()),
            (a, b) => Some(format!("does not compile: {:?} / {:?}", a.err(), b.err())),
        },
        Treatment::Refused(_) | Treatment::RefusedUnless(..) => match compiled.1 {
            Err(e) if refusal_names(&e, &path) => None,
            other => Some(format!("not refused by name: {other:?}")),
        },
        Treatment::NoEffect(_) => {
            let warned = after
                .findings
                .warnings()
                .iter()
                .any(|w| w.starts_with(&path));
            (!warned).then(|| "no warning names it".into())
        }
        Treatment::Ignored(_) | Treatment::Local(_) => {
            let last = setting.path.rsplit('.').next().unwrap_or_default();
            let name = format!("`{last}`");
            let documented = docs.contains(&name) || docs.contains(&format!(".{last}`"));
            let warned = after.findings.warnings().iter().any(|w| w.contains(&path));
            match () {
                _ if warned => Some("a warning names it".into()),
                _ if !documented => Some(format!("{name} is not documented")),
                _ => None,
            }
        }
        Treatment::Keys => None,
    }
}

/// The error names the key or the refused object holding it.
fn refusal_names(error: &str, path: &str) -> bool {
    let named = error.split(':').next().unwrap_or_default();
    !named.is_empty() && (path == named || path.starts_with(&format!("{named}.")))
}

#[test]
fn every_setting_is_honoured_refused_or_documented() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/");
    let docs = ["serverless-compatibility.md", "migrating.md", "plugins.md"]
        .iter()
        .map(|f| std::fs::read_to_string(format!("{root}{f}")).unwrap())
        .collect::<String>();
    compile(&service(&base())).expect("the base service compiles");
    let failures: Vec<String> = SETTINGS
        .iter()
        .filter_map(|s| probe(s, &docs).map(|why| format!("{} ({:?}): {why}", s.path, s.treatment)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} settings:\n{}",
        failures.len(),
        SETTINGS.len(),
        failures.join("\n")
    );
}

#[test]
fn the_probe_fails_a_key_that_is_dropped() {
    // A Template key whose value the compiler never reads is caught.
    let dropped = Setting {
        path: "provider.apiGateway.stage",
        treatment: Treatment::Template,
        v3: true,
    };
    assert!(probe(&dropped, "").is_some());
    let unrefused = Setting {
        path: "provider.memorySize",
        treatment: Treatment::Refused("x"),
        v3: true,
    };
    assert!(probe(&unrefused, "").is_some());
}
