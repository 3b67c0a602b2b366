//! Declared plugins end to end: each treatment's outcome on `package`, the ways to leave a
//! plugin-host plugin out, and a deploy on moto of per-function roles, a state machine and version
//! pruning.

use std::path::{Path, PathBuf};

use deployer_testbed::TestBed;

use crate::support::{offline_run as offline, run, sdk_config};

/// A service declaring one plugin of each treatment (native, not needed, unsupported, local).
const EACH_TREATMENT: &str = "service: plugged
provider:
  name: aws
  runtime: nodejs22.x
  region: us-east-1
plugins:
  - serverless-pseudo-parameters
  - serverless-offline
  - serverless-domain-manager
  - ./plugins/stamp
functions:
  hello:
    handler: handler.hello
    environment:
      REGION: '#{AWS::Region}'
";

fn service_dir(root: &Path, name: &str, yml: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("serverless.yml"), yml).unwrap();
    std::fs::write(dir.join("handler.js"), "exports.hello = async () => 1;\n").unwrap();
    dir
}

#[test]
fn package_stops_on_a_host_plugin_that_is_not_installed_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = service_dir(root.path(), "svc", EACH_TREATMENT);
    let r = offline(&dir, &["package"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("plugin serverless-domain-manager failed to load: it is not installed"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("npm install --save-dev serverless-domain-manager"),
        "{}",
        r.stderr
    );
    assert!(!dir.join(".serverless").exists(), "nothing is written");
}

#[test]
fn ignored_plugins_package_and_are_listed_with_their_treatment() {
    let root = tempfile::tempdir().unwrap();
    let dir = service_dir(root.path(), "svc", EACH_TREATMENT);
    let r = offline(
        &dir,
        &[
            "package",
            "-v",
            "--ignore-plugin",
            "serverless-domain-manager",
            "--ignore-plugin",
            "./plugins/stamp",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("plugin serverless-offline: not needed — local emulation only"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("plugin serverless-domain-manager: plugin host, left out as asked"),
        "{}",
        r.stderr
    );
    // The native pass ran: the pseudo parameter became Fn::Sub.
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".serverless/cloudformation-template-update-stack.json"))
            .unwrap(),
    )
    .unwrap();
    let env = &template["Resources"]["HelloLambdaFunction"]["Properties"]["Environment"];
    assert_eq!(
        env["Variables"]["REGION"]["Fn::Sub"], "${AWS::Region}",
        "{env}"
    );

    // The same through custom.deployer.ignorePlugins, with the list in --json.
    let yml = format!(
        "{EACH_TREATMENT}custom:\n  deployer:\n    ignorePlugins: [serverless-domain-manager, ./plugins/stamp]\n"
    );
    let dir = service_dir(root.path(), "svc2", &yml);
    let r = offline(&dir, &["package", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let plugins = r.json()["plugins"].clone();
    let got: Vec<(String, String, bool)> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["treatment"].as_str().unwrap().to_owned(),
                p["ignored"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("serverless-pseudo-parameters", "native", false),
        ("serverless-offline", "not-needed", false),
        ("serverless-domain-manager", "host", true),
        ("./plugins/stamp", "host", true),
    ];
    let expected: Vec<(String, String, bool)> = expected
        .iter()
        .map(|(n, t, i)| (n.to_string(), t.to_string(), *i))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn ignoring_a_plugin_that_is_not_declared_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let dir = service_dir(root.path(), "svc", EACH_TREATMENT);
    let r = offline(
        &dir,
        &["package", "--ignore-plugin", "serverless-domain-manger"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("serverless-domain-manger is not declared under plugins"),
        "{}",
        r.stderr
    );
}

#[test]
fn dotenv_files_reach_the_function_environment_names_only_in_the_log() {
    let root = tempfile::tempdir().unwrap();
    let yml = "service: dotted
provider:
  name: aws
  runtime: nodejs22.x
plugins:
  - serverless-dotenv-plugin
functions:
  hello:
    handler: handler.hello
";
    let dir = service_dir(root.path(), "svc", yml);
    std::fs::write(dir.join(".env"), "API_TOKEN=s3cr3t-value\n").unwrap();
    let r = offline(&dir, &["package", "-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("API_TOKEN"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("s3cr3t-value"),
        "values are never printed"
    );
    let template =
        std::fs::read_to_string(dir.join(".serverless/cloudformation-template-update-stack.json"))
            .unwrap();
    assert!(
        template.contains("\"API_TOKEN\": \"s3cr3t-value\""),
        "{template}"
    );
}

/// A service of per-function roles and a state machine calling a function, with pruning.
const DEPLOYED: &str = "service: invoices-e2e
plugins:
  - serverless-iam-roles-per-function
  - serverless-pseudo-parameters
  - serverless-step-functions
  - serverless-prune-plugin
provider:
  name: aws
  runtime: nodejs22.x
  region: us-east-1
  environment:
    QUEUE_URL: https://sqs.#{AWS::Region}.amazonaws.com/#{AWS::AccountId}/queue
custom:
  prune:
    automatic: true
    number: 1
functions:
  validate:
    handler: handler.hello
    iamRoleStatements:
      - Effect: Allow
        Action: dynamodb:GetItem
        Resource: !GetAtt CustomersTable.Arn
  store:
    handler: handler.hello
stepFunctions:
  stateMachines:
    invoicePipeline:
      definition:
        StartAt: Validate
        States:
          Validate:
            Type: Task
            # moto cannot resolve the Fn::Sub variables a `!GetAtt` here turns into (KeyError
            # on the variable name), so the function's ARN is written out.
            Resource: arn:aws:lambda:us-east-1:111111111111:function:invoices-e2e-dev-validate
            End: true
resources:
  Resources:
    CustomersTable:
      Type: AWS::DynamoDB::Table
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions:
          - AttributeName: id
            AttributeType: S
        KeySchema:
          - AttributeName: id
            KeyType: HASH
";

struct Lambda {
    client: aws_sdk_lambda::Client,
    rt: tokio::runtime::Runtime,
}

fn clients(bed: &TestBed<'_>, profile: &str) -> Lambda {
    let (rt, conf) = sdk_config(bed, profile);
    Lambda {
        client: aws_sdk_lambda::Client::new(&conf),
        rt,
    }
}

impl Lambda {
    fn role(&self, function: &str) -> String {
        let out = self
            .rt
            .block_on(self.client.get_function().function_name(function).send())
            .unwrap();
        out.configuration().unwrap().role().unwrap().to_owned()
    }

    fn versions(&self, function: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.client
                    .list_versions_by_function()
                    .function_name(function)
                    .send(),
            )
            .unwrap();
        out.versions()
            .iter()
            .filter_map(|v| v.version().map(str::to_owned))
            .collect()
    }

    /// A new version: Lambda publishes one only when something changed.
    fn publish(&self, function: &str, description: &str) {
        self.rt
            .block_on(
                self.client
                    .update_function_configuration()
                    .function_name(function)
                    .description(description)
                    .send(),
            )
            .unwrap();
        self.rt
            .block_on(self.client.publish_version().function_name(function).send())
            .unwrap();
    }

    fn alias(&self, function: &str, name: &str, version: &str) {
        self.rt
            .block_on(
                self.client
                    .create_alias()
                    .function_name(function)
                    .name(name)
                    .function_version(version)
                    .send(),
            )
            .unwrap();
    }
}

#[test]
fn per_function_roles_state_machine_and_pruning_deploy() {
    let bed = TestBed::standard();
    let dir = service_dir(bed.path(), "invoices", DEPLOYED);
    let aws = clients(&bed, "default");
    let first = run(&bed, &dir, &["up", "--stage", "dev", "--json"], &[]);
    assert_eq!(first.code, 0, "{first:?}");
    let j = first.json();
    assert_eq!(j["plugins"].as_array().unwrap().len(), 4, "{j}");

    // validate has its own role; store (no iamRoleStatements) keeps the shared one.
    let validate_role = aws.role("invoices-e2e-dev-validate");
    assert!(
        validate_role.contains("invoices-e2e-dev-validate-us-east-1-lambdaRole"),
        "{validate_role}"
    );
    let store_role = aws.role("invoices-e2e-dev-store");
    assert!(
        store_role.contains("invoices-e2e-dev-us-east-1-lambdaRole"),
        "{store_role}"
    );
    let machine = j["outputs"]["InvoicePipelineStepFunctionsStateMachineArn"].as_str();
    assert!(
        machine.is_some_and(|arn| arn.contains(":stateMachine:")),
        "{}",
        j["outputs"]
    );

    // Versions 2 and 3 of validate, an alias on 1: a forced deploy keeping one version deletes
    // only 2 (1 is aliased, 3 is the newest).
    aws.publish("invoices-e2e-dev-validate", "second");
    aws.publish("invoices-e2e-dev-validate", "third");
    aws.alias("invoices-e2e-dev-validate", "live", "1");
    assert_eq!(
        aws.versions("invoices-e2e-dev-validate"),
        ["$LATEST", "1", "2", "3"]
    );
    let second = run(
        &bed,
        &dir,
        &["up", "--stage", "dev", "--force", "--json"],
        &[],
    );
    assert_eq!(second.code, 0, "{second:?}");
    let j = second.json();
    assert_eq!(j["pruned"]["functionVersions"], 1, "{j}");
    assert_eq!(j["pruned"]["layerVersions"], 0, "{j}");
    assert_eq!(
        aws.versions("invoices-e2e-dev-validate"),
        ["$LATEST", "1", "3"]
    );
    assert_eq!(aws.versions("invoices-e2e-dev-store"), ["$LATEST", "1"]);
}

#[test]
fn up_stops_on_a_plugin_that_is_not_installed_before_touching_aws() {
    let bed = TestBed::standard();
    let dir = service_dir(bed.path(), "refused", EACH_TREATMENT);
    let r = run(&bed, &dir, &["up", "--stage", "dev"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("npm install --save-dev serverless-domain-manager"),
        "{}",
        r.stderr
    );
    assert!(!dir.join(".serverless").exists(), "nothing is packaged");
    // With both ignored, the same service deploys.
    let r = run(
        &bed,
        &dir,
        &[
            "up",
            "--stage",
            "dev",
            "--json",
            "--ignore-plugin",
            "serverless-domain-manager",
            "--ignore-plugin",
            "./plugins/stamp",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["plugins"][2]["ignored"], true);
}
