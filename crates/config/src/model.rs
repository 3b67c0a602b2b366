//! The typed service model deserialized from the resolved configuration.
//!
//! [`Service::from_value`] takes the configuration after variable resolution (a
//! `serde_json::Value` with key order preserved) and returns typed structs. Keys the model
//! does not know are kept in the `extra` map of the struct they appear in, because Serverless
//! passes many of them through (plugins, `custom`, newer provider settings). Scalars are coerced
//! the way Serverless v3's schema validation does (`"512"` is accepted where a number is
//! expected, a single schedule `rate` becomes a list). Errors name the property path, e.g.
//! `functions.hello.events[0].httpApi.method: expected a string, found a list`.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schema_keys::{self, Findings};

/// An ordered JSON object, as found in the configuration.
pub type Map = IndexMap<String, Value>;

/// A configuration that cannot be turned into the typed model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A value has the wrong shape; `path` is the property path (`functions.hello.handler`),
    /// empty for the top level of the file.
    #[error("{}: {message}", if path.is_empty() { "configuration" } else { path.as_str() })]
    Invalid {
        /// Property path of the offending value.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ModelError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The property path the error is about.
    pub fn path(&self) -> &str {
        match self {
            ModelError::Invalid { path, .. } => path,
        }
    }
}

/// `provider.rollbackConfiguration`: CloudFormation's `RollbackConfiguration`, as v3 passes it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RollbackConfiguration {
    /// `RollbackTriggers`: the alarms watched during and after an operation.
    #[serde(default)]
    pub rollback_triggers: Vec<RollbackTrigger>,
    /// `MonitoringTimeInMinutes` (0 to 180).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub monitoring_time_in_minutes: Option<u64>,
}

/// One rollback trigger.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RollbackTrigger {
    /// The alarm's ARN.
    pub arn: String,
    /// `AWS::CloudWatch::Alarm` or `AWS::CloudWatch::CompositeAlarm`.
    #[serde(rename = "Type")]
    pub trigger_type: String,
}

/// The whole service (`serverless.yml` after variable resolution).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `service`: the service name (a string, or the legacy `{name: ...}` object).
    #[serde(deserialize_with = "de_service_name")]
    pub service: String,
    /// `frameworkVersion`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub framework_version: Option<String>,
    /// `provider`.
    pub provider: Provider,
    /// `functions`, in file order.
    #[serde(default, deserialize_with = "de_null_default")]
    pub functions: IndexMap<String, Function>,
    /// `package` (service level).
    #[serde(default)]
    pub package: Option<Package>,
    /// `resources`: an object, or a list of objects merged in order.
    #[serde(default)]
    pub resources: Option<Value>,
    /// `layers` (Lambda layers built from this service).
    #[serde(default)]
    pub layers: Option<Map>,
    /// `params` (per-stage parameters, already applied by the variable engine).
    #[serde(default)]
    pub params: Option<Value>,
    /// `custom`.
    #[serde(default)]
    pub custom: Option<Value>,
    /// `plugins`.
    #[serde(default)]
    pub plugins: Option<Value>,
    /// `useDotenv`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub use_dotenv: Option<bool>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
    /// The configuration's keys checked against Serverless v3's schema and deployer's
    /// treatments: unknown keys, refused keys that are set, keys without effect.
    #[serde(skip)]
    pub findings: Findings,
}

/// `provider`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    /// `provider.name` (always `aws`).
    pub name: String,
    /// Default runtime of the functions.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub runtime: Option<String>,
    /// `provider.stage` as written in the file (the CLI's `--stage` wins over it).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub stage: Option<String>,
    /// `provider.region`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub region: Option<String>,
    /// `provider.profile`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub profile: Option<String>,
    /// Default memory size in MB.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub memory_size: Option<u64>,
    /// Default timeout in seconds.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub timeout: Option<u64>,
    /// Environment variables of every function (values may be intrinsic functions).
    #[serde(default)]
    pub environment: Option<Map>,
    /// Tags of every function.
    #[serde(default)]
    pub tags: Option<Map>,
    /// Tags of the CloudFormation stack.
    #[serde(default)]
    pub stack_tags: Option<Map>,
    /// `provider.stackName`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub stack_name: Option<String>,
    /// `provider.iam`.
    #[serde(default)]
    pub iam: Option<Iam>,
    /// Legacy `provider.role` (an existing role for every function).
    #[serde(default)]
    pub role: Option<Value>,
    /// Legacy `provider.iamRoleStatements`.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub iam_role_statements: Option<Vec<Value>>,
    /// Legacy `provider.iamManagedPolicies`.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub iam_managed_policies: Option<Vec<Value>>,
    /// Legacy `provider.rolePermissionsBoundary`.
    #[serde(default)]
    pub role_permissions_boundary: Option<Value>,
    /// Name of the REST API.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub api_name: Option<String>,
    /// `provider.apiGateway` (REST API settings).
    #[serde(default)]
    pub api_gateway: Option<ApiGatewayConfig>,
    /// `provider.endpointType` of the REST API (`edge`, `regional`, `private`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub endpoint_type: Option<String>,
    /// `provider.vpcEndpointIds` of a private REST API.
    #[serde(default)]
    pub vpc_endpoint_ids: Option<Value>,
    /// `provider.httpApi` (HTTP API settings).
    #[serde(default)]
    pub http_api: Option<HttpApiConfig>,
    /// `provider.deploymentBucket`.
    #[serde(default)]
    pub deployment_bucket: Option<DeploymentBucket>,
    /// `provider.deploymentPrefix` (default `serverless`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub deployment_prefix: Option<String>,
    /// `provider.deploymentMethod` (`changesets` or `direct`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub deployment_method: Option<String>,
    /// `provider.versionFunctions` (default true).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub version_functions: Option<bool>,
    /// `provider.architecture` (`x86_64` or `arm64`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub architecture: Option<String>,
    /// `provider.vpc`.
    #[serde(default)]
    pub vpc: Option<Vpc>,
    /// Layers of every function.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub layers: Option<Vec<Value>>,
    /// `provider.logRetentionInDays`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub log_retention_in_days: Option<u64>,
    /// `provider.logDataProtectionPolicy`.
    #[serde(default)]
    pub log_data_protection_policy: Option<Value>,
    /// `provider.kmsKeyArn`.
    #[serde(default)]
    pub kms_key_arn: Option<Value>,
    /// `provider.tracing`.
    #[serde(default)]
    pub tracing: Option<Value>,
    /// `provider.logs`.
    #[serde(default)]
    pub logs: Option<Value>,
    /// `provider.stackParameters` (`ParameterKey`/`ParameterValue`/... objects).
    #[serde(default, deserialize_with = "de_opt_list")]
    pub stack_parameters: Option<Vec<Value>>,
    /// `provider.stackPolicy` statements.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub stack_policy: Option<Vec<Value>>,
    /// `provider.rollbackConfiguration`.
    #[serde(default)]
    pub rollback_configuration: Option<RollbackConfiguration>,
    /// `provider.notificationArns`.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub notification_arns: Option<Vec<Value>>,
    /// `provider.disableRollback`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub disable_rollback: Option<bool>,
    /// `provider.s3`: buckets used by `s3` events, with extra bucket properties.
    #[serde(default)]
    pub s3: Option<Map>,
    /// `provider.eventBridge`.
    #[serde(default)]
    pub event_bridge: Option<Value>,
    /// `provider.allowedAccountIds`: the only accounts this stage may deploy to.
    #[serde(default)]
    pub allowed_account_ids: Option<AccountIds>,
    /// `provider.forbiddenAccountIds`: accounts this stage must never deploy to.
    #[serde(default)]
    pub forbidden_account_ids: Option<AccountIds>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// A list of AWS account IDs, written as one string or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountIds(pub Vec<String>);

/// `provider.iam`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Iam {
    /// `provider.iam.role`: settings of the generated role, or an existing role.
    #[serde(default)]
    pub role: Option<IamRole>,
    /// `provider.iam.deploymentRole`: the role CloudFormation uses.
    #[serde(default)]
    pub deployment_role: Option<Value>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `provider.iam.role`.
#[derive(Debug, Clone, Serialize)]
pub enum IamRole {
    /// An existing role: an ARN or role name string, or an intrinsic function.
    Existing(Value),
    /// Settings of the generated `IamRoleLambdaExecution`.
    Generated(Box<IamRoleSettings>),
}

/// Settings of the generated `IamRoleLambdaExecution` role.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IamRoleSettings {
    /// `RoleName` (default `<service>-<stage>-<region>-lambdaRole`).
    #[serde(default)]
    pub name: Option<Value>,
    /// `Path` (default `/`).
    #[serde(default)]
    pub path: Option<Value>,
    /// Statements appended to the role's inline policy.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub statements: Option<Vec<Value>>,
    /// `ManagedPolicyArns`.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub managed_policies: Option<Vec<Value>>,
    /// `PermissionsBoundary`.
    #[serde(default)]
    pub permissions_boundary: Option<Value>,
    /// Misspelt alias of `permissionsBoundary` that v3 accepts.
    #[serde(default)]
    pub permission_boundary: Option<Value>,
    /// Role tags.
    #[serde(default)]
    pub tags: Option<Map>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `provider.apiGateway` (REST API).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGatewayConfig {
    /// Name the API `<service>-<stage>` instead of `<stage>-<service>`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub should_start_name_with_service: Option<bool>,
    /// Use an existing REST API.
    #[serde(default)]
    pub rest_api_id: Option<Value>,
    /// Root resource of the existing REST API.
    #[serde(default)]
    pub rest_api_root_resource_id: Option<Value>,
    /// `BinaryMediaTypes`.
    #[serde(default, deserialize_with = "de_opt_string_to_list")]
    pub binary_media_types: Option<Value>,
    /// `Description` of the REST API and its deployment.
    #[serde(default)]
    pub description: Option<Value>,
    /// `MinimumCompressionSize`.
    #[serde(default)]
    pub minimum_compression_size: Option<Value>,
    /// `ApiKeySourceType` (`HEADER` or `AUTHORIZER`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub api_key_source_type: Option<String>,
    /// Resource policy statements.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub resource_policy: Option<Vec<Value>>,
    /// `DisableExecuteApiEndpoint`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub disable_default_endpoint: Option<bool>,
    /// Integration timeout of every endpoint.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub timeout_in_millis: Option<u64>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `provider.httpApi`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiConfig {
    /// API name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// API description.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub description: Option<String>,
    /// Use an existing HTTP API.
    #[serde(default)]
    pub id: Option<Value>,
    /// Default payload format version (`2.0` unless set).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub payload: Option<String>,
    /// CORS: `true` or an object.
    #[serde(default)]
    pub cors: Option<Value>,
    /// JWT / Lambda authorizers.
    #[serde(default)]
    pub authorizers: Option<Map>,
    /// `DetailedMetricsEnabled` of the stage.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub metrics: Option<bool>,
    /// `DisableExecuteApiEndpoint`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub disable_default_endpoint: Option<bool>,
    /// Name the API `<service>-<stage>` instead of `<stage>-<service>`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub should_start_name_with_service: Option<bool>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `provider.deploymentBucket`: a bucket name or an object of settings.
#[derive(Debug, Clone, Serialize)]
pub enum DeploymentBucket {
    /// An existing bucket, by name.
    Name(String),
    /// Settings (with or without an existing bucket name).
    Settings(Box<DeploymentBucketSettings>),
}

impl DeploymentBucket {
    /// The name of an existing bucket to deploy to, if one is given.
    pub fn name(&self) -> Option<&str> {
        match self {
            DeploymentBucket::Name(name) => Some(name),
            DeploymentBucket::Settings(s) => s.name.as_deref(),
        }
    }

    /// The object settings, if the bucket was configured as an object.
    pub fn settings(&self) -> Option<&DeploymentBucketSettings> {
        match self {
            DeploymentBucket::Name(_) => None,
            DeploymentBucket::Settings(s) => Some(s),
        }
    }
}

/// `provider.deploymentBucket` written as an object.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentBucketSettings {
    /// Existing bucket name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// How many previous deployments to keep in the bucket (default 5).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub max_previous_deployment_artifacts: Option<u64>,
    /// Add a public access block to the generated bucket.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub block_public_access: Option<bool>,
    /// Do not create the TLS-only bucket policy.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub skip_policy_setup: Option<bool>,
    /// Enable versioning on the generated bucket.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub versioning: Option<bool>,
    /// Tags of the generated bucket.
    #[serde(default)]
    pub tags: Option<Map>,
    /// Upload encryption (`AES256` or `aws:kms`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub server_side_encryption: Option<String>,
    /// KMS key of uploads.
    #[serde(default, deserialize_with = "de_opt_string")]
    #[serde(rename = "sseKMSKeyId")]
    pub sse_kms_key_id: Option<String>,
    /// SSE-C algorithm (the key is misspelt this way in v3).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub sse_customer_algorithim: Option<String>,
    /// SSE-C key.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub sse_customer_key: Option<String>,
    /// SSE-C key MD5.
    #[serde(default, deserialize_with = "de_opt_string")]
    #[serde(rename = "sseCustomerKeyMD5")]
    pub sse_customer_key_md5: Option<String>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `vpc` settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    /// Security group IDs (a list, or an intrinsic function).
    #[serde(default, deserialize_with = "de_opt_string_to_list")]
    pub security_group_ids: Option<Value>,
    /// Subnet IDs (a list, or an intrinsic function).
    #[serde(default, deserialize_with = "de_opt_string_to_list")]
    pub subnet_ids: Option<Value>,
    /// `Ipv6AllowedForDualStack`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub ipv6_allowed_for_dual_stack: Option<bool>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// A function's `vpc`: inherited from the provider, opted out (`null`/`false`), or its own.
#[derive(Debug, Clone, Default, Serialize)]
pub enum FunctionVpc {
    /// Not set: the provider's `vpc` applies.
    #[default]
    Inherit,
    /// `vpc: null` or `vpc: false`: no VPC even if the provider has one.
    Disabled,
    /// The function's own settings (merged field by field over the provider's).
    Config(Box<Vpc>),
}

/// `package` at service level.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    /// File patterns, `!` to exclude; later patterns win.
    #[serde(default, deserialize_with = "de_string_list")]
    pub patterns: Vec<String>,
    /// Deprecated include patterns.
    #[serde(default, deserialize_with = "de_string_list")]
    pub include: Vec<String>,
    /// Deprecated exclude patterns.
    #[serde(default, deserialize_with = "de_string_list")]
    pub exclude: Vec<String>,
    /// One zip per function.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub individually: Option<bool>,
    /// A prebuilt zip used as is.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub artifact: Option<String>,
    /// Exclude Node dev dependencies (default true).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub exclude_dev_dependencies: Option<bool>,
    /// Output folder of the package step.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub path: Option<String>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `functions.<f>.package`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionPackage {
    /// Function-level patterns (used with `individually`).
    #[serde(default, deserialize_with = "de_string_list")]
    pub patterns: Vec<String>,
    /// Deprecated include patterns.
    #[serde(default, deserialize_with = "de_string_list")]
    pub include: Vec<String>,
    /// Deprecated exclude patterns.
    #[serde(default, deserialize_with = "de_string_list")]
    pub exclude: Vec<String>,
    /// Package this function on its own.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub individually: Option<bool>,
    /// A prebuilt zip for this function.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub artifact: Option<String>,
    /// Do not package this function.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub disable: Option<bool>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `functions.<f>`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Function {
    /// `handler` (`file.export`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub handler: Option<String>,
    /// Container image (not packaged by deployer).
    #[serde(default)]
    pub image: Option<Value>,
    /// Deployed function name (default `<service>-<stage>-<key>`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// Runtime (overrides the provider's).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub runtime: Option<String>,
    /// Memory size in MB.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub memory_size: Option<u64>,
    /// Timeout in seconds.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub timeout: Option<u64>,
    /// `Description`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub description: Option<String>,
    /// Environment variables (merged over the provider's).
    #[serde(default)]
    pub environment: Option<Map>,
    /// Tags (merged over the provider's).
    #[serde(default)]
    pub tags: Option<Map>,
    /// Execution role: an ARN, a logical ID, or an intrinsic function.
    #[serde(default)]
    pub role: Option<Value>,
    /// VPC settings.
    #[serde(default, deserialize_with = "de_function_vpc")]
    pub vpc: FunctionVpc,
    /// Layer ARNs (replace the provider's).
    #[serde(default, deserialize_with = "de_opt_list")]
    pub layers: Option<Vec<Value>>,
    /// `ReservedConcurrentExecutions`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub reserved_concurrency: Option<u64>,
    /// Provisioned concurrency (creates an alias).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub provisioned_concurrency: Option<u64>,
    /// Log group retention.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub log_retention_in_days: Option<u64>,
    /// Log group data protection policy.
    #[serde(default)]
    pub log_data_protection_policy: Option<Value>,
    /// Publish a version on each deploy (overrides `provider.versionFunctions`).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub version_function: Option<bool>,
    /// `x86_64` or `arm64`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub architecture: Option<String>,
    /// No log group, and log writes denied.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub disable_logs: Option<bool>,
    /// Function-level packaging.
    #[serde(default)]
    pub package: Option<FunctionPackage>,
    /// CloudFormation `Condition` of the function.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub condition: Option<String>,
    /// Extra `DependsOn` of the function.
    #[serde(default)]
    pub depends_on: Option<Value>,
    /// Dead letter target ARN.
    #[serde(default)]
    pub on_error: Option<Value>,
    /// `KmsKeyArn`.
    #[serde(default)]
    pub kms_key_arn: Option<Value>,
    /// `TracingConfig.Mode` (`Active`, `PassThrough` or `true`).
    #[serde(default)]
    pub tracing: Option<Value>,
    /// `EphemeralStorage.Size` in MB.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub ephemeral_storage_size: Option<u64>,
    /// Event sources, in file order.
    #[serde(default, deserialize_with = "de_null_default")]
    pub events: Vec<Event>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// One entry of `functions.<f>.events`.
#[derive(Debug, Clone, Serialize)]
pub enum Event {
    /// `http`: REST API (API Gateway v1).
    Http(HttpEvent),
    /// `httpApi`: HTTP API (API Gateway v2).
    HttpApi(HttpApiEvent),
    /// `schedule`: EventBridge (CloudWatch Events) schedule.
    Schedule(ScheduleEvent),
    /// `s3`: bucket notification.
    S3(S3Event),
    /// `sns`: topic subscription.
    Sns(SnsEvent),
    /// `sqs`: queue event source mapping.
    Sqs(SqsEvent),
    /// `stream`: DynamoDB or Kinesis stream event source mapping.
    Stream(StreamEvent),
    /// `eventBridge`: EventBridge rule.
    EventBridge(EventBridgeEvent),
    /// `websocket`: WebSocket API route.
    Websocket(Value),
    /// `cloudwatchLog`: log subscription filter.
    CloudwatchLog(Value),
    /// `cloudwatchEvent`: CloudWatch Events rule.
    CloudwatchEvent(Value),
    /// `iot`: IoT topic rule.
    Iot(Value),
    /// `alexaSkill`: Alexa Skills Kit trigger.
    AlexaSkill(Value),
    /// Any other event type, kept as written (its name, its value).
    Other(String, Value),
}

impl Event {
    /// The event type as written in the configuration (`httpApi`, `schedule`, ...).
    pub fn kind(&self) -> &str {
        match self {
            Event::Http(_) => "http",
            Event::HttpApi(_) => "httpApi",
            Event::Schedule(_) => "schedule",
            Event::S3(_) => "s3",
            Event::Sns(_) => "sns",
            Event::Sqs(_) => "sqs",
            Event::Stream(_) => "stream",
            Event::EventBridge(_) => "eventBridge",
            Event::Websocket(_) => "websocket",
            Event::CloudwatchLog(_) => "cloudwatchLog",
            Event::CloudwatchEvent(_) => "cloudwatchEvent",
            Event::Iot(_) => "iot",
            Event::AlexaSkill(_) => "alexaSkill",
            Event::Other(name, _) => name,
        }
    }
}

/// `http` event (REST API).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpEvent {
    /// Resource path (`items/{id}`).
    #[serde(deserialize_with = "de_string")]
    pub path: String,
    /// HTTP method (`get`, `post`, `any`, ...).
    #[serde(deserialize_with = "de_string")]
    pub method: String,
    /// CORS: `true` or settings.
    #[serde(default)]
    pub cors: Option<Value>,
    /// Require an API key.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub private: Option<bool>,
    /// Integration type (default `AWS_PROXY`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub integration: Option<String>,
    /// Authorizer.
    #[serde(default)]
    pub authorizer: Option<Value>,
    /// Request settings (parameters, templates, schemas).
    #[serde(default)]
    pub request: Option<Value>,
    /// Response settings.
    #[serde(default)]
    pub response: Option<Value>,
    /// Asynchronous invocation.
    #[serde(default, rename = "async", deserialize_with = "de_opt_bool")]
    pub is_async: Option<bool>,
    /// `OperationName`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub operation_id: Option<String>,
    /// Integration timeout.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub timeout_in_millis: Option<u64>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `httpApi` event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiEvent {
    /// Route path (`/users/{id}`) or `*`.
    #[serde(deserialize_with = "de_string")]
    pub path: String,
    /// HTTP method or `*` (absent for the catch-all route).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub method: Option<String>,
    /// Authorizer name or settings.
    #[serde(default)]
    pub authorizer: Option<Value>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `schedule` event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleEvent {
    /// Schedule expressions (`rate(...)`/`cron(...)`, or intrinsic functions).
    #[serde(deserialize_with = "de_value_list")]
    pub rate: Vec<Value>,
    /// `false` disables the rule.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enabled: Option<bool>,
    /// Rule name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// Rule description.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub description: Option<String>,
    /// Target input (a string or an object).
    #[serde(default)]
    pub input: Option<Value>,
    /// Target input path.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub input_path: Option<String>,
    /// Target input transformer.
    #[serde(default)]
    pub input_transformer: Option<Value>,
    /// `eventBus` (default) or `scheduler`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub method: Option<String>,
    /// Scheduler role.
    #[serde(default)]
    pub role_arn: Option<Value>,
    /// Scheduler time zone.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub timezone: Option<String>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `s3` event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Event {
    /// Bucket name (or a `provider.s3` key), or an intrinsic for an existing bucket.
    pub bucket: Value,
    /// Notification event (default `s3:ObjectCreated:*`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub event: Option<String>,
    /// Key filter rules (`prefix`/`suffix`).
    #[serde(default)]
    pub rules: Vec<Map>,
    /// The bucket exists outside the stack.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub existing: Option<bool>,
    /// Force the custom resource to run.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub force_deploy: Option<bool>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `sns` event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnsEvent {
    /// Topic ARN (string or intrinsic).
    #[serde(default)]
    pub arn: Option<Value>,
    /// Topic name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub topic_name: Option<String>,
    /// Topic display name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub display_name: Option<String>,
    /// Subscription filter policy.
    #[serde(default)]
    pub filter_policy: Option<Value>,
    /// Subscription filter policy scope.
    #[serde(default)]
    pub filter_policy_scope: Option<Value>,
    /// Subscription redrive policy.
    #[serde(default)]
    pub redrive_policy: Option<Value>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `sqs` event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsEvent {
    /// Queue ARN (string or intrinsic).
    pub arn: Value,
    /// `BatchSize` (default 10).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub batch_size: Option<u64>,
    /// `Enabled` (default true).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enabled: Option<bool>,
    /// `MaximumBatchingWindowInSeconds`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub maximum_batching_window: Option<u64>,
    /// `FunctionResponseTypes`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub function_response_type: Option<String>,
    /// `FilterCriteria` patterns.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub filter_patterns: Option<Vec<Value>>,
    /// `ScalingConfig.MaximumConcurrency`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub maximum_concurrency: Option<u64>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `stream` event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamEvent {
    /// Stream ARN (string or intrinsic).
    pub arn: Value,
    /// `dynamodb` or `kinesis` (taken from the ARN when it is a string).
    #[serde(default, rename = "type", deserialize_with = "de_opt_string")]
    pub stream_type: Option<String>,
    /// `BatchSize` (default 10).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub batch_size: Option<u64>,
    /// `ParallelizationFactor`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub parallelization_factor: Option<u64>,
    /// `StartingPosition` (default `TRIM_HORIZON`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub starting_position: Option<String>,
    /// `StartingPositionTimestamp`.
    #[serde(default)]
    pub starting_position_timestamp: Option<Value>,
    /// `Enabled` (default true).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enabled: Option<bool>,
    /// Kinesis enhanced fan-out consumer.
    #[serde(default)]
    pub consumer: Option<Value>,
    /// `MaximumBatchingWindowInSeconds`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub batch_window: Option<u64>,
    /// `MaximumRetryAttempts`.
    #[serde(default)]
    pub maximum_retry_attempts: Option<Value>,
    /// `BisectBatchOnFunctionError`.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub bisect_batch_on_function_error: Option<bool>,
    /// `MaximumRecordAgeInSeconds`.
    #[serde(default)]
    pub maximum_record_age_in_seconds: Option<Value>,
    /// `FunctionResponseTypes`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub function_response_type: Option<String>,
    /// On-failure destination.
    #[serde(default)]
    pub destinations: Option<Value>,
    /// `TumblingWindowInSeconds`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub tumbling_window_in_seconds: Option<u64>,
    /// `FilterCriteria` patterns.
    #[serde(default, deserialize_with = "de_opt_list")]
    pub filter_patterns: Option<Vec<Value>>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

/// `eventBridge` event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeEvent {
    /// Event bus name, ARN or intrinsic (default bus if absent).
    #[serde(default)]
    pub event_bus: Option<Value>,
    /// Schedule expression.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub schedule: Option<String>,
    /// Rule name (default `<function name>-rule-<n>`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// Rule description.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub description: Option<String>,
    /// `false` disables the rule.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enabled: Option<bool>,
    /// Event pattern.
    #[serde(default)]
    pub pattern: Option<Value>,
    /// Target input.
    #[serde(default)]
    pub input: Option<Value>,
    /// Target input path.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub input_path: Option<String>,
    /// Target input transformer.
    #[serde(default)]
    pub input_transformer: Option<Map>,
    /// Target retry policy.
    #[serde(default)]
    pub retry_policy: Option<Map>,
    /// Target dead letter queue.
    #[serde(default)]
    pub dead_letter_queue_arn: Option<Value>,
    /// Keys this model does not know, kept as they are.
    #[serde(skip)]
    pub extra: Map,
}

impl Service {
    /// Deserializes the resolved configuration into the typed model.
    ///
    /// Errors name the property path of the first invalid value.
    pub fn from_value(value: &Value) -> Result<Service, ModelError> {
        // v3 accepts `functions` as a list of maps, merged in order (`mergeArrays`).
        let merged;
        let value = match value.get("functions") {
            Some(Value::Array(items)) => {
                let mut functions = serde_json::Map::new();
                for (i, item) in items.iter().enumerate() {
                    let Some(map) = item.as_object() else {
                        return Err(ModelError::invalid(
                            format!("functions[{i}]"),
                            "each entry of a functions list must be a map of functions",
                        ));
                    };
                    for (key, function) in map {
                        functions.insert(key.clone(), function.clone());
                    }
                }
                let mut copy = value.clone();
                copy["functions"] = Value::Object(functions);
                merged = copy;
                &merged
            }
            _ => value,
        };
        let mut service: Service = serde_path_to_error::deserialize(value).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            ModelError::invalid(if path == "." { String::new() } else { path }, message)
        })?;
        service.validate()?;
        service.fill_extras(value);
        service.findings = checked_keys(value)?;
        Ok(service)
    }

    fn validate(&self) -> Result<(), ModelError> {
        validate_service_name(&self.service)?;
        if self.provider.name != "aws" {
            return Err(ModelError::invalid(
                "provider.name",
                format!(
                    "only the \"aws\" provider is supported, found \"{}\"",
                    self.provider.name
                ),
            ));
        }
        for (key, function) in &self.functions {
            let valid = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(ModelError::invalid(
                    format!("functions.{key}"),
                    "function names may only contain letters, digits, '-' and '_'",
                ));
            }
            if function.handler.is_none() && function.image.is_none() {
                return Err(ModelError::invalid(
                    format!("functions.{key}"),
                    "either \"handler\" or \"image\" must be set",
                ));
            }
            if function.handler.is_some() && function.image.is_some() {
                return Err(ModelError::invalid(
                    format!("functions.{key}"),
                    "set \"handler\" or \"image\", not both",
                ));
            }
        }
        Ok(())
    }

    /// The stack name: `provider.stackName`, else `<service>-<stage>`.
    pub fn stack_name(&self, stage: &str) -> String {
        match &self.provider.stack_name {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("{}-{}", self.service, stage),
        }
    }

    /// The deployed name of a function: its `name`, else `<service>-<stage>-<key>`.
    pub fn function_name(&self, key: &str, stage: &str) -> String {
        match self.functions.get(key).and_then(|f| f.name.as_ref()) {
            Some(name) => name.clone(),
            None => default_function_name(&self.service, stage, key),
        }
    }

    fn fill_extras(&mut self, value: &Value) {
        self.extra = extras::<Service>(value);
        let provider = value.get("provider");
        self.provider.extra = extras::<Provider>(provider.unwrap_or(&Value::Null));
        let p = &mut self.provider;
        if let (Some(iam), Some(raw)) = (p.iam.as_mut(), provider.and_then(|v| v.get("iam"))) {
            iam.extra = extras::<Iam>(raw);
            if let (Some(IamRole::Generated(role)), Some(raw_role)) =
                (iam.role.as_mut(), raw.get("role"))
            {
                role.extra = extras::<IamRoleSettings>(raw_role);
            }
        }
        if let (Some(c), Some(raw)) = (
            p.api_gateway.as_mut(),
            provider.and_then(|v| v.get("apiGateway")),
        ) {
            c.extra = extras::<ApiGatewayConfig>(raw);
        }
        if let (Some(c), Some(raw)) = (p.http_api.as_mut(), provider.and_then(|v| v.get("httpApi")))
        {
            c.extra = extras::<HttpApiConfig>(raw);
        }
        if let (Some(DeploymentBucket::Settings(c)), Some(raw)) = (
            p.deployment_bucket.as_mut(),
            provider.and_then(|v| v.get("deploymentBucket")),
        ) {
            c.extra = extras::<DeploymentBucketSettings>(raw);
        }
        if let (Some(c), Some(raw)) = (p.vpc.as_mut(), provider.and_then(|v| v.get("vpc"))) {
            c.extra = extras::<Vpc>(raw);
        }
        if let (Some(c), Some(raw)) = (self.package.as_mut(), value.get("package")) {
            c.extra = extras::<Package>(raw);
        }
        let raw_functions = value.get("functions");
        for (key, function) in self.functions.iter_mut() {
            let Some(raw) = raw_functions.and_then(|f| f.get(key)) else {
                continue;
            };
            function.extra = extras::<Function>(raw);
            if let (Some(c), Some(raw)) = (function.package.as_mut(), raw.get("package")) {
                c.extra = extras::<FunctionPackage>(raw);
            }
            if let FunctionVpc::Config(c) = &mut function.vpc
                && let Some(raw) = raw.get("vpc")
            {
                c.extra = extras::<Vpc>(raw);
            }
            let raw_events = raw.get("events").and_then(Value::as_array);
            for (i, event) in function.events.iter_mut().enumerate() {
                let Some(raw) = raw_events
                    .and_then(|e| e.get(i))
                    .and_then(|e| e.get(event.kind()))
                else {
                    continue;
                };
                match event {
                    Event::Http(e) => e.extra = extras::<HttpEvent>(raw),
                    Event::HttpApi(e) => e.extra = extras::<HttpApiEvent>(raw),
                    Event::Schedule(e) => e.extra = extras::<ScheduleEvent>(raw),
                    Event::S3(e) => e.extra = extras::<S3Event>(raw),
                    Event::Sns(e) => e.extra = extras::<SnsEvent>(raw),
                    Event::Sqs(e) => e.extra = extras::<SqsEvent>(raw),
                    Event::Stream(e) => e.extra = extras::<StreamEvent>(raw),
                    Event::EventBridge(e) => e.extra = extras::<EventBridgeEvent>(raw),
                    _ => {}
                }
            }
        }
    }
}

/// The configuration's keys checked as v3's `configValidationMode` asks: unknown keys are
/// warnings (`warn`, the default), the first one an error (`error`), or not looked for (`off`).
fn checked_keys(value: &Value) -> Result<Findings, ModelError> {
    let mode = value.get("configValidationMode").and_then(Value::as_str);
    let mut findings = schema_keys::check(value);
    match mode {
        Some("off") => findings.unknown.clear(),
        Some("error") => {
            if let Some(unknown) = findings.unknown.first() {
                return Err(ModelError::invalid(
                    unknown.path.clone(),
                    format!(
                        "{}; remove or rename it (configValidationMode: error makes unknown \
                         keys errors)",
                        unknown.problem()
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(findings)
}

/// Checks `service` against Serverless v3's schema rule for service names: an ASCII letter,
/// then ASCII letters, digits and `-`. The name becomes part of the stack name, the S3 prefix
/// and the zip file name, so anything else (`/`, `.`, spaces) could leave the output directory.
///
/// v3's pattern (`^[a-zA-Z][0-9a-zA-Z-]+$`) also asks for a second character, but v3 only warns
/// on schema errors by default and its stack-name check accepts one letter, so one is allowed.
pub fn validate_service_name(name: &str) -> Result<(), ModelError> {
    let mut bytes = name.bytes();
    let valid = bytes.next().is_some_and(|c| c.is_ascii_alphabetic())
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'-');
    if valid {
        return Ok(());
    }
    Err(ModelError::invalid(
        "service",
        format!(
            "\"{}\" is not a valid service name: it must start with a letter and contain only \
             letters, digits and \"-\" (it becomes part of the stack name and of file names)",
            name.escape_debug()
        ),
    ))
}

/// The default deployed function name: `<service>-<stage>-<functionKey>`.
pub fn default_function_name(service: &str, stage: &str, key: &str) -> String {
    format!("{service}-{stage}-{key}")
}

/// The keys of `raw` (an object) that the struct `T` does not declare.
fn extras<'de, T: Deserialize<'de>>(raw: &Value) -> Map {
    let Some(object) = raw.as_object() else {
        return Map::new();
    };
    let known = struct_fields::<T>();
    object
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The serialized field names of a derived struct, read from what serde passes to
/// `deserialize_struct` (the derive macro lists them there, renames applied).
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);

    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("field probe")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = fields;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

// ----- lenient scalar deserializers (v3 validates with type coercion) -----

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn de_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    scalar_to_string(&v)
        .ok_or_else(|| de::Error::custom(format!("expected a string, found {}", type_name(&v))))
}

fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    scalar_to_string(&v)
        .map(Some)
        .ok_or_else(|| de::Error::custom(format!("expected a string, found {}", type_name(&v))))
}

fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_u64().map(Some).ok_or_else(|| {
            de::Error::custom(format!("expected a non-negative integer, found {n}"))
        }),
        Value::String(s) => s.trim().parse::<u64>().map(Some).map_err(|_| {
            de::Error::custom(format!("expected a non-negative integer, found \"{s}\""))
        }),
        other => Err(de::Error::custom(format!(
            "expected a non-negative integer, found {}",
            type_name(other)
        ))),
    }
}

fn de_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s == "true" => Ok(Some(true)),
        Value::String(s) if s == "false" => Ok(Some(false)),
        other => Err(de::Error::custom(format!(
            "expected a boolean, found {}",
            type_name(other)
        ))),
    }
}

fn de_null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn de_string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => vec![other],
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            scalar_to_string(item).ok_or_else(|| {
                de::Error::custom(format!(
                    "item {i}: expected a string, found {}",
                    type_name(item)
                ))
            })
        })
        .collect()
}

fn de_value_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) if !items.is_empty() => Ok(items),
        Value::Array(_) | Value::Null => Err(de::Error::custom("expected at least one value")),
        other => Ok(vec![other]),
    }
}

fn de_service_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Object(o) => match o.get("name") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(de::Error::custom("expected a service name string")),
        },
        other => Err(de::Error::custom(format!(
            "expected a service name string, found {}",
            type_name(other)
        ))),
    }
}

/// A list in v3's schema: AJV's `coerceTypes: 'array'` turns a single value into a
/// one-element list (`layers: arn:…` → `[arn:…]`).
fn de_opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Value>>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items),
        Some(one) => Some(vec![one]),
    })
}

/// A list that may also be an intrinsic function (VPC IDs: `Fn::Split`, …), kept as it is; a
/// single string becomes a one-element list as v3's schema coerces it.
fn de_opt_string_to_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(id)) => Some(Value::Array(vec![Value::String(id)])),
        other => other,
    })
}

fn de_function_vpc<'de, D: Deserializer<'de>>(d: D) -> Result<FunctionVpc, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = FunctionVpc;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("VPC settings, null or false")
        }
        fn visit_unit<E: de::Error>(self) -> Result<FunctionVpc, E> {
            Ok(FunctionVpc::Disabled)
        }
        fn visit_none<E: de::Error>(self) -> Result<FunctionVpc, E> {
            Ok(FunctionVpc::Disabled)
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<FunctionVpc, E> {
            if b {
                Err(E::custom("expected VPC settings, null or false"))
            } else {
                Ok(FunctionVpc::Disabled)
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FunctionVpc, A::Error> {
            Vpc::deserialize(de::value::MapAccessDeserializer::new(map))
                .map(|v| FunctionVpc::Config(Box::new(v)))
        }
    }
    d.deserialize_any(V)
}

impl<'de> Deserialize<'de> for AccountIds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let items = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let id = scalar_to_string(&item).ok_or_else(|| {
                de::Error::custom(format!(
                    "expected a 12-digit AWS account ID, found {}",
                    type_name(&item)
                ))
            })?;
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(de::Error::custom(format!(
                    "\"{id}\" is not a 12-digit AWS account ID"
                )));
            }
            ids.push(id);
        }
        Ok(AccountIds(ids))
    }
}

impl<'de> Deserialize<'de> for IamRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IamRole;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a role ARN or name, an intrinsic function, or role settings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<IamRole, E> {
                Ok(IamRole::Existing(Value::String(s.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<IamRole, A::Error> {
                let raw = Map::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let is_intrinsic = raw.len() == 1
                    && raw
                        .keys()
                        .next()
                        .is_some_and(|k| k == "Ref" || k.starts_with("Fn::"));
                let value = Value::Object(raw.into_iter().collect());
                if is_intrinsic {
                    return Ok(IamRole::Existing(value));
                }
                serde_path_to_error::deserialize(&value)
                    .map(|s| IamRole::Generated(Box::new(s)))
                    .map_err(|e| {
                        let path = e.path().to_string();
                        de::Error::custom(format!("{path}: {}", e.into_inner()))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for DeploymentBucket {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DeploymentBucket;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a bucket name or deployment bucket settings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DeploymentBucket, E> {
                Ok(DeploymentBucket::Name(s.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DeploymentBucket, A::Error> {
                DeploymentBucketSettings::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|s| DeploymentBucket::Settings(Box::new(s)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parsing of an event's short string form (`"GET /path"`, an ARN, an expression).
trait ShortForm: Sized {
    const EXPECTING: &'static str;
    fn from_short(s: &str) -> Result<Self, String>;
}

/// An event value written either as its short string form or as an object. The object is
/// read through the caller's `MapAccess`, so `serde_path_to_error` keeps tracking the path.
struct StrOr<T>(T);

impl<'de, T: Deserialize<'de> + ShortForm> Deserialize<'de> for StrOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + ShortForm> Visitor<'de> for V<T> {
            type Value = StrOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StrOr<T>, E> {
                T::from_short(s).map(StrOr).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StrOr<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(StrOr)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl ShortForm for HttpEvent {
    const EXPECTING: &'static str = "\"<METHOD> <path>\" or http settings";
    fn from_short(s: &str) -> Result<Self, String> {
        let (method, path) = parse_method_path(s)?;
        Ok(HttpEvent {
            path,
            method: method.unwrap_or_else(|| "any".to_owned()),
            ..Default::default()
        })
    }
}

impl ShortForm for HttpApiEvent {
    const EXPECTING: &'static str = "\"<METHOD> <path>\", \"*\" or httpApi settings";
    fn from_short(s: &str) -> Result<Self, String> {
        let (method, path) = parse_method_path(s)?;
        Ok(HttpApiEvent {
            path,
            method,
            ..Default::default()
        })
    }
}

impl ShortForm for ScheduleEvent {
    const EXPECTING: &'static str = "a schedule expression or schedule settings";
    fn from_short(s: &str) -> Result<Self, String> {
        Ok(ScheduleEvent {
            rate: vec![Value::String(s.to_owned())],
            ..Default::default()
        })
    }
}

impl ShortForm for S3Event {
    const EXPECTING: &'static str = "a bucket name or s3 settings";
    fn from_short(s: &str) -> Result<Self, String> {
        Ok(S3Event {
            bucket: Value::String(s.to_owned()),
            ..Default::default()
        })
    }
}

impl ShortForm for SnsEvent {
    const EXPECTING: &'static str = "a topic name or ARN, or sns settings";
    fn from_short(s: &str) -> Result<Self, String> {
        Ok(if s.starts_with("arn:") {
            SnsEvent {
                arn: Some(Value::String(s.to_owned())),
                ..Default::default()
            }
        } else {
            SnsEvent {
                topic_name: Some(s.to_owned()),
                ..Default::default()
            }
        })
    }
}

impl ShortForm for SqsEvent {
    const EXPECTING: &'static str = "a queue ARN or sqs settings";
    fn from_short(s: &str) -> Result<Self, String> {
        Ok(SqsEvent {
            arn: Value::String(s.to_owned()),
            ..Default::default()
        })
    }
}

impl ShortForm for StreamEvent {
    const EXPECTING: &'static str = "a stream ARN or stream settings";
    fn from_short(s: &str) -> Result<Self, String> {
        Ok(StreamEvent {
            arn: Value::String(s.to_owned()),
            ..Default::default()
        })
    }
}

fn parse_method_path(s: &str) -> Result<(Option<String>, String), String> {
    let s = s.trim();
    if s == "*" {
        return Ok((None, "*".to_owned()));
    }
    match s.split_once(' ') {
        Some((method, path)) if !method.is_empty() && !path.trim().is_empty() => {
            Ok((Some(method.to_owned()), path.trim().to_owned()))
        }
        _ => Err(format!(
            "expected \"<METHOD> <path>\" (for example \"GET /users\"), found \"{s}\""
        )),
    }
}

/// A bare-string event (`- alexaSkill`): accepted by v3 for `alexaSkill` only (the old "any
/// skill" syntax), which v3 3.x compiles to nothing, and the template compiler does the same;
/// every other bare name is refused rather than dropped silently.
fn bare_event(s: &str) -> Result<Event, String> {
    match s {
        "alexaSkill" => Ok(Event::AlexaSkill(Value::Null)),
        _ => Err(format!(
            "the bare event name \"{s}\" has no settings and Serverless v3 deploys nothing for \
             it; write it as an event object such as `- {s}: ...`, or remove it"
        )),
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Event;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event object with one key naming its type (e.g. `httpApi:`)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "empty event: name its type (e.g. `http:`)",
                    ));
                };
                let event = match kind.as_str() {
                    "http" => Event::Http(map.next_value::<StrOr<_>>()?.0),
                    "httpApi" => Event::HttpApi(map.next_value::<StrOr<_>>()?.0),
                    "schedule" => Event::Schedule(map.next_value::<StrOr<_>>()?.0),
                    "s3" => Event::S3(map.next_value::<StrOr<_>>()?.0),
                    "sns" => Event::Sns(map.next_value::<StrOr<_>>()?.0),
                    "sqs" => Event::Sqs(map.next_value::<StrOr<_>>()?.0),
                    "stream" => Event::Stream(map.next_value::<StrOr<_>>()?.0),
                    "eventBridge" => Event::EventBridge(map.next_value()?),
                    "websocket" => Event::Websocket(map.next_value()?),
                    "cloudwatchLog" => Event::CloudwatchLog(map.next_value()?),
                    "cloudwatchEvent" => Event::CloudwatchEvent(map.next_value()?),
                    "iot" => Event::Iot(map.next_value()?),
                    "alexaSkill" => Event::AlexaSkill(map.next_value()?),
                    _ => {
                        let value: Value = map.next_value()?;
                        Event::Other(kind, value)
                    }
                };
                if let Some(second) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "an event has exactly one type; found a second key \"{second}\" \
                         (indent the event's settings under its type)"
                    )));
                }
                Ok(event)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Event, E> {
                bare_event(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_values_become_lists_where_v3_schema_says_list() {
        let s = Service::from_value(&json!({
            "service": "s",
            "provider": {"name": "aws", "layers": "arn:aws:lambda:us-east-1:1:layer:a:1",
                "notificationArns": "arn:aws:sns:us-east-1:1:t",
                "iamManagedPolicies": "arn:aws:iam::aws:policy/P",
                "vpc": {"securityGroupIds": "sg-1", "subnetIds": {"Fn::Split": [",", "a,b"]}},
                "iam": {"role": {"managedPolicies": "arn:aws:iam::aws:policy/Q"}}},
            "functions": {"f": {"handler": "h.f", "layers": "arn:aws:lambda:us-east-1:1:layer:b:2"}}
        }))
        .unwrap();
        let p = &s.provider;
        assert_eq!(
            p.layers.as_ref().unwrap(),
            &[json!("arn:aws:lambda:us-east-1:1:layer:a:1")]
        );
        assert_eq!(p.notification_arns.as_ref().unwrap().len(), 1);
        assert_eq!(p.iam_managed_policies.as_ref().unwrap().len(), 1);
        let vpc = p.vpc.as_ref().unwrap();
        assert_eq!(vpc.security_group_ids, Some(json!(["sg-1"])));
        assert_eq!(vpc.subnet_ids, Some(json!({"Fn::Split": [",", "a,b"]})));
        let Some(IamRole::Generated(role)) = p.iam.as_ref().and_then(|i| i.role.as_ref()) else {
            panic!("generated role")
        };
        assert_eq!(role.managed_policies.as_ref().unwrap().len(), 1);
        assert_eq!(s.functions["f"].layers.as_ref().unwrap().len(), 1);
        let s = Service::from_value(&json!({"service": "s", "provider": {"name": "aws",
            "apiGateway": {"binaryMediaTypes": "image/png"},
            "stackPolicy": {"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}}}))
        .unwrap();
        let api = s.provider.api_gateway.as_ref().unwrap();
        assert_eq!(api.binary_media_types, Some(json!(["image/png"])));
        assert_eq!(s.provider.stack_policy.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn a_bare_alexa_skill_event_has_no_settings() {
        let events: Vec<Event> = serde_json::from_value(json!(["alexaSkill"])).unwrap();
        assert!(matches!(&events[0], Event::AlexaSkill(Value::Null)));
        let err = serde_json::from_value::<Vec<Event>>(json!(["http"])).unwrap_err();
        assert!(
            err.to_string().contains("bare event name \"http\""),
            "{err}"
        );
    }

    fn fixture(name: &str, stage: &str) -> Value {
        let path = format!(
            "{}/../../tests/fixtures/{name}/expected/serverless-v3/{stage}/print.yml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        serde_yaml::from_str(&text).unwrap()
    }

    #[test]
    fn fixtures_deserialize() {
        for name in ["multi-account", "rest-api", "events"] {
            for stage in ["dev", "prod"] {
                let service = Service::from_value(&fixture(name, stage)).unwrap();
                assert!(!service.functions.is_empty(), "{name}/{stage}");
            }
        }
        let events = Service::from_value(&fixture("events", "dev")).unwrap();
        let kinds: Vec<&str> = events
            .functions
            .values()
            .flat_map(|f| f.events.iter().map(Event::kind))
            .collect();
        assert_eq!(
            kinds,
            ["s3", "sns", "sqs", "stream", "schedule", "eventBridge"]
        );
        let Event::Schedule(schedule) = &events.functions["nightly"].events[0] else {
            panic!("schedule expected");
        };
        assert_eq!(schedule.rate, vec![json!("cron(0 3 * * ? *)")]);
        assert_eq!(events.functions["worker"].reserved_concurrency, Some(5));
        assert_eq!(events.package.as_ref().unwrap().individually, Some(true));
        // `artifactsS3KeyDirname` is a key v3 adds; the model keeps it as an extra.
        assert!(
            events
                .package
                .as_ref()
                .unwrap()
                .extra
                .contains_key("artifactsS3KeyDirname")
        );
    }

    #[test]
    fn error_names_the_path() {
        let config = json!({
            "service": "svc",
            "provider": {"name": "aws"},
            "functions": {"hello": {"handler": "h.h", "events": [{"httpApi": {"path": "/x", "method": ["GET"]}}]}}
        });
        let err = Service::from_value(&config).unwrap_err();
        assert_eq!(err.path(), "functions.hello.events[0].httpApi.method");
        assert!(err.to_string().contains("expected a string"), "{err}");

        let config = json!({"service": "svc", "provider": {"name": "aws", "memorySize": "big"}});
        let err = Service::from_value(&config).unwrap_err();
        assert_eq!(err.path(), "provider.memorySize");
    }

    #[test]
    fn short_forms_coercion_and_extras() {
        let config = json!({
            "service": "svc",
            "provider": {"name": "aws", "memorySize": "256", "newSetting": 1,
                         "deploymentBucket": "my-bucket", "allowedAccountIds": "123456789012"},
            "functions": {"a": {"handler": "h.a", "vpc": null, "custom1": true,
                "events": [{"httpApi": "GET /users/{id}"}, {"sqs": "arn:aws:sqs:us-east-1:1:q"},
                           {"schedule": "rate(1 hour)"}, {"websocket": {"route": "$connect"}}]}},
            "topLevel": "kept"
        });
        let s = Service::from_value(&config).unwrap();
        assert_eq!(s.provider.memory_size, Some(256));
        assert_eq!(s.provider.extra["newSetting"], json!(1));
        assert_eq!(s.extra["topLevel"], json!("kept"));
        assert_eq!(
            s.provider.deployment_bucket.as_ref().unwrap().name(),
            Some("my-bucket")
        );
        assert_eq!(
            s.provider.allowed_account_ids,
            Some(AccountIds(vec!["123456789012".into()]))
        );
        let f = &s.functions["a"];
        assert!(matches!(f.vpc, FunctionVpc::Disabled));
        assert_eq!(f.extra["custom1"], json!(true));
        let Event::HttpApi(e) = &f.events[0] else {
            panic!()
        };
        assert_eq!(
            (e.method.as_deref(), e.path.as_str()),
            (Some("GET"), "/users/{id}")
        );
        assert_eq!(f.events[3].kind(), "websocket");
        assert_eq!(s.function_name("a", "dev"), "svc-dev-a");
        assert_eq!(s.stack_name("prod"), "svc-prod");
    }

    #[test]
    fn unknown_keys_follow_config_validation_mode() {
        let config = |mode: &str| {
            json!({"service": "s", "configValidationMode": mode,
                "provider": {"name": "aws", "Runtime": "nodejs20.x"}})
        };
        let warned = Service::from_value(&config("warn")).unwrap();
        assert_eq!(warned.findings.unknown[0].path, "provider.Runtime");
        let off = Service::from_value(&config("off")).unwrap();
        assert!(off.findings.unknown.is_empty());
        let err = Service::from_value(&config("error")).unwrap_err();
        assert_eq!(err.path(), "provider.Runtime");
        assert!(
            err.to_string().contains("did you mean provider.runtime?"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_account_ids_and_function_keys() {
        let config =
            json!({"service": "s", "provider": {"name": "aws", "allowedAccountIds": ["12345"]}});
        let err = Service::from_value(&config).unwrap_err();
        assert_eq!(err.path(), "provider.allowedAccountIds");
        let config = json!({"service": "s", "provider": {"name": "aws"}, "functions": {"a.b": {"handler": "x"}}});
        assert_eq!(
            Service::from_value(&config).unwrap_err().path(),
            "functions.a.b"
        );
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn functions_may_be_a_list_of_maps() {
        let config = json!({"service": "s", "provider": {"name": "aws"},
            "functions": [{"a": {"handler": "h.a"}}, {"b": {"handler": "h.b", "extraKey": 1}}]});
        let service = Service::from_value(&config).unwrap();
        assert_eq!(service.functions.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(service.functions["b"].extra["extraKey"], json!(1));
    }

    #[test]
    fn top_level_errors_say_configuration() {
        let err = Service::from_value(&json!({"service": "s"})).unwrap_err();
        assert_eq!(err.to_string(), "configuration: missing field `provider`");
        let err = Service::from_value(&json!({"service": "s", "provider": {"name": "azure"}}))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("provider.name: only the \"aws\" provider"),
            "{err}"
        );
    }

    #[test]
    fn service_names_follow_the_v3_rule() {
        for good in ["s", "my-service", "Api2", "a-1-b"] {
            assert!(validate_service_name(good).is_ok(), "{good}");
        }
        for bad in [
            "../../outside",
            "a/b",
            "1abc",
            "-x",
            "my_service",
            "a.b",
            "a b",
            "",
        ] {
            let err = validate_service_name(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("service: ") && err.contains("must start with a letter"),
                "{bad}: {err}"
            );
        }
        let config = json!({"service": {"name": "../x"}, "provider": {"name": "aws"}});
        let err = Service::from_value(&config).unwrap_err();
        assert_eq!(err.path(), "service");
    }
}
