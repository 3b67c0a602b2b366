//! Every key path of the configuration and what deployer does with it.
//!
//! `v3_keys.txt` lists, as facts, every key path Serverless v3's configuration schema accepts
//! for the AWS provider; [`SETTINGS`] classifies each of them (and the keys deployer adds:
//! the account guard, plugin settings, newer Lambda settings) as honoured (in the template, in
//! the stack operation, or with a local effect), refused, ignored or without effect. A test
//! checks the table against the list both ways, so a key can be neither forgotten nor invented.
//!
//! [`check`] walks a resolved configuration against them: a key in a closed object that is
//! not known is *unknown* (a warning naming the closest known key, as v3's schema validation
//! warns; an error with `configValidationMode: error`), a refused key that is set is a
//! [`Refusal`] (the template compiler turns it into an error naming it), and a key that has
//! no effect is a warning.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

/// What deployer does with one key path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Compiled into the CloudFormation template.
    Template,
    /// Passed to the stack operation (its name, tags, parameters, role, the bucket's retention).
    Stack,
    /// Used by deployer itself (stage selection, packaging, variables, the account guard,
    /// plugins): where.
    Local(&'static str),
    /// An object whose keys are classified one by one.
    Keys,
    /// Refused when set: what it is, and the way out.
    Refused(&'static str),
    /// Refused unless it has this value (JSON text), the only one deployer compiles: what
    /// the other values need, and the way out.
    RefusedUnless(&'static str, &'static str),
    /// Read and ignored without a word (it configures Serverless's hosted services, or the
    /// Serverless CLI itself): why.
    Ignored(&'static str),
    /// Has no effect, in Serverless v3 either: a warning says so.
    NoEffect(&'static str),
}

/// One key path and its treatment.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The key path; `*` stands for a name the user chooses (see `v3_keys.txt`).
    pub path: &'static str,
    /// What deployer does with it.
    pub treatment: Treatment,
    /// False for keys v3's schema does not know and deployer adds.
    pub v3: bool,
}

/// The key paths of Serverless v3's schema (facts read from v3.40.0's schema definitions).
pub const V3_KEYS: &str = include_str!("v3_keys.txt");

/// The paths of [`V3_KEYS`], without comments.
pub fn v3_paths() -> impl Iterator<Item = &'static str> {
    V3_KEYS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

use Treatment::*;

const fn v3(path: &'static str, treatment: Treatment) -> Setting {
    Setting {
        path,
        treatment,
        v3: true,
    }
}

const fn ours(path: &'static str, treatment: Treatment) -> Setting {
    Setting {
        path,
        treatment,
        v3: false,
    }
}

const HOSTED: Treatment =
    Ignored("configures Serverless's hosted services (Dashboard, Console), not the stack");
const PACKAGING: Treatment = Local("packaging: file selection and zips (deployer-package)");
const STAGE: Treatment = Local("stage settings: which stage, region and credentials are used");
const LAYER: Treatment = Refused(
    "building Lambda layers (layer ARNs in provider.layers and functions.<name>.layers are \
     supported; publish the layer elsewhere and reference its ARN)",
);
const IMAGE: Treatment = Refused(
    "container image functions (build and push the image yourself and deploy the function \
     with Serverless)",
);
const RESOURCE: Treatment = Template;

/// Every key path of [`V3_KEYS`] and every key deployer adds, with its treatment.
pub const SETTINGS: &[Setting] = &[
    v3("service", Template),
    v3(
        "frameworkVersion",
        Ignored("names the Serverless CLI version; deployer is not that CLI"),
    ),
    v3(
        "configValidationMode",
        Local("unknown keys are warnings, errors with `error`, unchecked with `off`"),
    ),
    v3("console", HOSTED),
    v3(
        "custom",
        Local("read by variables (${self:custom.…}) and by the native plugins"),
    ),
    v3(
        "custom.*",
        Local("read by variables and by the native plugins"),
    ),
    v3("dashboard", HOSTED),
    v3("dashboard.disableMonitoring", HOSTED),
    v3(
        "deprecationNotificationMode",
        Ignored("settles how the Serverless CLI shows its deprecation notices"),
    ),
    v3(
        "disabledDeprecations",
        Ignored("silences deprecation notices of the Serverless CLI"),
    ),
    v3("params", Local("the variable engine's ${param:…} source")),
    v3("params.*", Local("the variable engine's ${param:…} source")),
    v3(
        "plugins",
        Local("each declared plugin is handled natively, not needed, or refused by name"),
    ),
    v3(
        "projectDir",
        NoEffect("deployer reads ${file(…)} relative to the service directory, parents included"),
    ),
    v3("useDotenv", Local("the variable engine loads .env files")),
    v3(
        "variablesResolutionMode",
        Ignored("has no effect in Serverless v3.40.0 either"),
    ),
    v3("org", HOSTED),
    v3("app", HOSTED),
    v3("outputs", HOSTED),
    v3("package", Keys),
    v3("package.artifact", PACKAGING),
    v3("package.exclude", PACKAGING),
    v3("package.excludeDevDependencies", PACKAGING),
    v3("package.include", PACKAGING),
    v3("package.individually", PACKAGING),
    v3(
        "package.path",
        Local("the package directory of `deployer package`"),
    ),
    v3("package.patterns", PACKAGING),
    ours(
        "package.artifactsS3KeyDirname",
        Ignored("written by Serverless itself into the configuration it prints"),
    ),
    v3("provider", Keys),
    v3("provider.name", Local("only \"aws\" is accepted")),
    v3("provider.alb", Keys),
    v3("provider.alb.targetGroupPrefix", Template),
    v3("provider.alb.authorizers", Template),
    v3("provider.apiGateway", Keys),
    v3("provider.apiGateway.apiKeys", Template),
    v3("provider.apiGateway.apiKeySourceType", Template),
    v3("provider.apiGateway.binaryMediaTypes", Template),
    v3("provider.apiGateway.description", Template),
    v3("provider.apiGateway.disableDefaultEndpoint", Template),
    v3(
        "provider.apiGateway.metrics",
        Refused(
            "REST API stage metrics (Serverless enables them with API Gateway calls after the \
             deploy; enable them on the stage yourself and remove the setting)",
        ),
    ),
    v3("provider.apiGateway.minimumCompressionSize", Template),
    v3("provider.apiGateway.resourcePolicy", Template),
    v3("provider.apiGateway.restApiId", Template),
    v3(
        "provider.apiGateway.restApiResources",
        Refused(
            "reusing existing resources of a shared REST API (remove it to let deployer create \
             the paths under provider.apiGateway.restApiRootResourceId)",
        ),
    ),
    v3("provider.apiGateway.restApiRootResourceId", Template),
    v3("provider.apiGateway.request", Keys),
    v3("provider.apiGateway.request.schemas", Template),
    v3("provider.apiGateway.shouldStartNameWithService", Template),
    v3(
        "provider.apiGateway.stage",
        NoEffect("Serverless v3.40.0 does not read it either"),
    ),
    v3("provider.apiGateway.usagePlan", Template),
    v3("provider.apiGateway.websocketApiId", Template),
    ours("provider.apiGateway.timeoutInMillis", Template),
    v3("provider.apiName", Template),
    v3("provider.architecture", Template),
    v3(
        "provider.cfnRole",
        Refused("the legacy name of provider.iam.deploymentRole (rename it to that key)"),
    ),
    v3("provider.cloudFront", Keys),
    v3(
        "provider.cloudFront.cachePolicies",
        Refused(
            "CloudFront cache policies of cloudFront (Lambda@Edge) events, which deployer does not compile",
        ),
    ),
    v3("provider.deploymentBucket", Template),
    v3("provider.deploymentBucket.blockPublicAccess", Template),
    v3("provider.deploymentBucket.skipPolicySetup", Template),
    v3(
        "provider.deploymentBucket.maxPreviousDeploymentArtifacts",
        Stack,
    ),
    v3("provider.deploymentBucket.name", Template),
    v3("provider.deploymentBucket.versioning", Template),
    v3(
        "provider.deploymentBucket.serverSideEncryption",
        Refused(
            "encryption settings of the uploads (the generated bucket always encrypts with \
             AES256; for aws:kms set a default encryption on the bucket itself, then remove \
             the setting)",
        ),
    ),
    v3(
        "provider.deploymentBucket.sseCustomerAlgorithim",
        Refused("customer-provided encryption keys of the uploads (remove it)"),
    ),
    v3(
        "provider.deploymentBucket.sseCustomerKey",
        Refused("customer-provided encryption keys of the uploads (remove it)"),
    ),
    v3(
        "provider.deploymentBucket.sseCustomerKeyMD5",
        Refused("customer-provided encryption keys of the uploads (remove it)"),
    ),
    v3(
        "provider.deploymentBucket.sseKMSKeyId",
        Refused(
            "a KMS key for the uploads (set it as the bucket's default encryption instead, then \
             remove the setting)",
        ),
    ),
    v3("provider.deploymentBucket.tags", Template),
    ours(
        "provider.deploymentBucket.accelerate",
        Refused(
            "S3 transfer acceleration (Serverless v3 has no such key, only the \
             --aws-s3-accelerate flag; set resources.Resources.ServerlessDeploymentBucket.\
             Properties.AccelerateConfiguration instead)",
        ),
    ),
    v3("provider.deploymentPrefix", Stack),
    v3("provider.disableRollback", Stack),
    v3("provider.endpointType", Template),
    v3("provider.environment", Template),
    v3("provider.eventBridge", Keys),
    v3(
        "provider.eventBridge.useCloudFormation",
        RefusedUnless(
            "true",
            "EventBridge through Serverless's custom resource Lambda (remove it: deployer \
             compiles native CloudFormation, the v3 default)",
        ),
    ),
    v3("provider.httpApi", Keys),
    v3("provider.httpApi.authorizers", Template),
    v3("provider.httpApi.cors", Template),
    v3("provider.httpApi.id", Template),
    v3("provider.httpApi.name", Template),
    v3("provider.httpApi.payload", Template),
    v3("provider.httpApi.metrics", Template),
    v3(
        "provider.httpApi.useProviderTags",
        NoEffect("provider tags are always applied to the HTTP API, as in Serverless v3"),
    ),
    v3("provider.httpApi.disableDefaultEndpoint", Template),
    v3("provider.httpApi.shouldStartNameWithService", Template),
    v3("provider.iam", Keys),
    v3("provider.iam.role", Template),
    v3("provider.iam.role.name", Template),
    v3("provider.iam.role.path", Template),
    v3("provider.iam.role.managedPolicies", Template),
    v3("provider.iam.role.statements", Template),
    v3("provider.iam.role.permissionBoundary", Template),
    v3("provider.iam.role.permissionsBoundary", Template),
    v3("provider.iam.role.tags", Template),
    v3("provider.iam.deploymentRole", Stack),
    v3("provider.iamManagedPolicies", Template),
    v3("provider.iamRoleStatements", Template),
    v3("provider.ecr", IMAGE),
    v3("provider.ecr.scanOnPush", IMAGE),
    v3("provider.ecr.images", IMAGE),
    v3("provider.kmsKeyArn", Template),
    v3(
        "provider.lambdaHashingVersion",
        Ignored("Serverless v3 always uses the 20201221 hashing, and so does deployer"),
    ),
    v3("provider.layers", Template),
    v3("provider.logRetentionInDays", Template),
    v3("provider.logDataProtectionPolicy", Template),
    v3("provider.logs", Keys),
    v3("provider.logs.*", Template),
    v3(
        "provider.logs.frameworkLambda",
        NoEffect("it logs Serverless's custom resource Lambda, which deployer never creates"),
    ),
    v3("provider.logs.httpApi", Template),
    v3("provider.logs.restApi", Template),
    v3("provider.logs.websocket", Template),
    v3("provider.memorySize", Template),
    v3("provider.notificationArns", Stack),
    v3("provider.profile", STAGE),
    v3("provider.region", STAGE),
    v3("provider.role", Template),
    v3("provider.rolePermissionsBoundary", Template),
    v3("provider.rollbackConfiguration", Stack),
    v3("provider.runtime", Template),
    v3("provider.runtimeManagement", Template),
    v3("provider.deploymentMethod", Stack),
    v3("provider.s3", Keys),
    v3("provider.s3.*", Template),
    v3("provider.stage", STAGE),
    v3("provider.stackName", Stack),
    v3("provider.stackParameters", Stack),
    v3("provider.stackPolicy", Stack),
    v3("provider.stackTags", Stack),
    v3("provider.tags", Template),
    v3("provider.timeout", Template),
    v3("provider.tracing", Keys),
    v3(
        "provider.tracing.apiGateway",
        Refused(
            "X-Ray tracing of the REST API stage (Serverless enables it with API Gateway calls \
             after the deploy; enable it on the stage yourself and remove the setting)",
        ),
    ),
    v3("provider.tracing.lambda", Template),
    v3("provider.vpc", Template),
    v3("provider.vpc.securityGroupIds", Template),
    v3("provider.vpc.subnetIds", Template),
    ours("provider.vpc.ipv6AllowedForDualStack", Template),
    v3("provider.vpcEndpointIds", Template),
    v3("provider.versionFunctions", Template),
    v3("provider.websocket", Keys),
    v3("provider.websocket.useProviderTags", Template),
    v3("provider.websocketsApiName", Template),
    v3("provider.kinesis", Keys),
    v3(
        "provider.kinesis.consumerNamingMode",
        Refused(
            "service-specific Kinesis consumer names (remove it: deployer names consumers the \
             v3 default way)",
        ),
    ),
    v3("provider.websocketsApiRouteSelectionExpression", Template),
    v3("provider.websocketsDescription", Template),
    ours(
        "provider.deletionProtection",
        Local(
            "stage protection (osls): termination protection and the refusals of a protected stage",
        ),
    ),
    ours(
        "provider.allowedAccountIds",
        Local("the account guard: the only accounts the stage may use"),
    ),
    ours(
        "provider.forbiddenAccountIds",
        Local("the account guard: accounts the stage must never use"),
    ),
    v3("functions", Keys),
    v3("functions.*", Keys),
    v3("functions.*.name", Template),
    v3("functions.*.events", Template),
    v3("functions.*.architecture", Template),
    v3(
        "functions.*.awsKmsKeyArn",
        NoEffect("Serverless v3.40.0 does not read it either; use kmsKeyArn"),
    ),
    v3("functions.*.condition", Template),
    v3("functions.*.dependsOn", Template),
    v3("functions.*.description", Template),
    v3("functions.*.destinations", Template),
    v3("functions.*.destinations.onSuccess", Template),
    v3("functions.*.destinations.onFailure", Template),
    v3("functions.*.disableLogs", Template),
    v3("functions.*.environment", Template),
    v3("functions.*.ephemeralStorageSize", Template),
    v3("functions.*.fileSystemConfig", Template),
    v3("functions.*.handler", Template),
    v3("functions.*.image", IMAGE),
    v3("functions.*.kmsKeyArn", Template),
    v3("functions.*.snapStart", Template),
    v3("functions.*.layers", Template),
    v3("functions.*.logRetentionInDays", Template),
    v3("functions.*.logDataProtectionPolicy", Template),
    v3("functions.*.maximumEventAge", Template),
    v3("functions.*.maximumRetryAttempts", Template),
    v3("functions.*.memorySize", Template),
    v3("functions.*.onError", Template),
    v3("functions.*.package", Keys),
    v3("functions.*.package.artifact", PACKAGING),
    v3("functions.*.package.exclude", PACKAGING),
    v3("functions.*.package.include", PACKAGING),
    v3("functions.*.package.individually", PACKAGING),
    v3("functions.*.package.patterns", PACKAGING),
    ours("functions.*.package.disable", PACKAGING),
    v3("functions.*.provisionedConcurrency", Template),
    v3("functions.*.reservedConcurrency", Template),
    v3("functions.*.role", Template),
    v3("functions.*.runtime", Template),
    v3("functions.*.runtimeManagement", Template),
    v3("functions.*.tags", Template),
    v3("functions.*.timeout", Template),
    v3("functions.*.tracing", Template),
    v3("functions.*.url", Template),
    v3("functions.*.url.authorizer", Template),
    v3("functions.*.url.cors", Template),
    v3("functions.*.url.invokeMode", Template),
    v3("functions.*.versionFunction", Template),
    v3("functions.*.vpc", Template),
    v3("functions.*.vpc.securityGroupIds", Template),
    v3("functions.*.vpc.subnetIds", Template),
    ours("functions.*.vpc.ipv6AllowedForDualStack", Template),
    v3("functions.*.httpApi", Keys),
    v3("functions.*.httpApi.payload", Template),
    ours("functions.*.logs", Template),
    ours("functions.*.iamRoleStatements", Template),
    ours("functions.*.iamRoleStatementsInherit", Template),
    ours("functions.*.iamRoleStatementsName", Template),
    ours("functions.*.iamPermissionsBoundary", Template),
    ours(
        "functions.*.skipEsbuild",
        Local("the esbuild build: this function is zipped as it is"),
    ),
    v3("layers", LAYER),
    v3("layers.*", LAYER),
    v3("layers.*.allowedAccounts", LAYER),
    v3("layers.*.compatibleArchitectures", LAYER),
    v3("layers.*.compatibleRuntimes", LAYER),
    v3("layers.*.description", LAYER),
    v3("layers.*.licenseInfo", LAYER),
    v3("layers.*.name", LAYER),
    v3("layers.*.package", LAYER),
    v3("layers.*.path", LAYER),
    v3("layers.*.retain", LAYER),
    v3("resources", Keys),
    v3("resources.AWSTemplateFormatVersion", RESOURCE),
    v3("resources.Conditions", RESOURCE),
    v3("resources.Description", RESOURCE),
    v3("resources.Mappings", RESOURCE),
    v3("resources.Metadata", RESOURCE),
    v3("resources.Outputs", RESOURCE),
    v3("resources.Parameters", RESOURCE),
    v3("resources.Resources", Keys),
    v3("resources.Resources.Fn::Transform", RESOURCE),
    v3("resources.Resources.*", Keys),
    v3("resources.Resources.*.Type", RESOURCE),
    v3("resources.Resources.*.Properties", RESOURCE),
    v3("resources.Resources.*.CreationPolicy", RESOURCE),
    v3("resources.Resources.*.DeletionPolicy", RESOURCE),
    v3("resources.Resources.*.DependsOn", RESOURCE),
    v3("resources.Resources.*.Metadata", RESOURCE),
    v3("resources.Resources.*.UpdatePolicy", RESOURCE),
    v3("resources.Resources.*.UpdateReplacePolicy", RESOURCE),
    v3("resources.Resources.*.Condition", RESOURCE),
    v3("resources.Transform", RESOURCE),
    v3("resources.extensions", Keys),
    v3("resources.extensions.*", Keys),
    v3("resources.extensions.*.Properties", RESOURCE),
    v3("resources.extensions.*.CreationPolicy", RESOURCE),
    v3("resources.extensions.*.DeletionPolicy", RESOURCE),
    v3("resources.extensions.*.DependsOn", RESOURCE),
    v3("resources.extensions.*.Metadata", RESOURCE),
    v3("resources.extensions.*.UpdatePolicy", RESOURCE),
    v3("resources.extensions.*.UpdateReplacePolicy", RESOURCE),
    v3("resources.extensions.*.Condition", RESOURCE),
    ours(
        "stepFunctions",
        Local("the native serverless-step-functions plugin (see plugins.md)"),
    ),
    ours(
        "build",
        Local("the esbuild build settings (build.esbuild), as in Serverless v4"),
    ),
];

/// The treatment of a key path pattern (`functions.*.handler`), if the table has it.
pub fn treatment(pattern: &str) -> Option<Treatment> {
    SETTINGS
        .iter()
        .find(|s| s.path == pattern)
        .map(|s| s.treatment)
}

/// What [`check`] found in a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Keys no schema knows, in file order.
    pub unknown: Vec<Unknown>,
    /// Set keys deployer refuses.
    pub refused: Vec<Refusal>,
    /// Set keys that have no effect, with why.
    pub no_effect: Vec<(String, &'static str)>,
}

/// A key the schema does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// Its path (`provider.Runtime`).
    pub path: String,
    /// The closest known key path, if one is close (`provider.runtime`).
    pub suggestion: Option<String>,
}

impl Unknown {
    /// What is wrong, without the path: "not a setting …; did you mean …?".
    pub fn problem(&self) -> String {
        let hint = match &self.suggestion {
            Some(s) => format!("did you mean {s}?"),
            None => "check its spelling and indentation".to_string(),
        };
        format!("not a setting Serverless v3 or deployer knows; {hint}")
    }
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is {}", self.path, self.problem())
    }
}

/// A set key deployer refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its path (`provider.stackPolicy`).
    pub path: String,
    /// What it is and the way out.
    pub what: &'static str,
}

impl Findings {
    /// The warnings to show: unknown keys and keys without effect.
    pub fn warnings(&self) -> Vec<String> {
        let unknown = self.unknown.iter().map(|u| format!("{u}; it is ignored"));
        let no_effect = self
            .no_effect
            .iter()
            .map(|(path, why)| format!("{path} has no effect: {why}; remove it"));
        unknown.chain(no_effect).collect()
    }
}

/// One object level of the key tree.
#[derive(Debug, Default)]
struct Node {
    pattern: String,
    keys: BTreeMap<&'static str, Node>,
    any: Option<Box<Node>>,
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        self.keys.get(key).or(self.any.as_deref())
    }
}

fn tree() -> &'static Node {
    static TREE: OnceLock<Node> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut root = Node::default();
        let ours = SETTINGS.iter().filter(|s| !s.v3).map(|s| s.path);
        for path in v3_paths().chain(ours) {
            let mut node = &mut root;
            for segment in path.split('.') {
                let pattern = if node.pattern.is_empty() {
                    segment.to_string()
                } else {
                    format!("{}.{segment}", node.pattern)
                };
                let next = if segment == "*" {
                    node.any.get_or_insert_with(Default::default)
                } else {
                    node.keys.entry(segment).or_default()
                };
                next.pattern = pattern;
                node = next;
            }
        }
        root
    })
}

/// Walks a resolved configuration against the key tree and the treatments.
pub fn check(config: &Value) -> Findings {
    let mut findings = Findings::default();
    walk(config, tree(), "", &mut findings);
    findings
}

fn walk(value: &Value, node: &Node, path: &str, findings: &mut Findings) {
    match value {
        // v3 accepts `functions` and `resources` as lists of maps, merged in order.
        Value::Array(items) if !node.keys.is_empty() || node.any.is_some() => {
            for (i, item) in items.iter().enumerate() {
                walk(item, node, &format!("{path}[{i}]"), findings);
            }
        }
        Value::Object(map) if (!node.keys.is_empty() || node.any.is_some()) && !intrinsic(map) => {
            for (key, child_value) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let Some(child) = node.child(key) else {
                    findings.unknown.push(Unknown {
                        suggestion: closest(node, key, path),
                        path: child_path,
                    });
                    continue;
                };
                if judge(child, child_value, &child_path, findings) {
                    walk(child_value, child, &child_path, findings);
                }
            }
        }
        _ => {}
    }
}

/// Records what a set key's treatment asks for; false when its keys need no walk (refused).
fn judge(node: &Node, value: &Value, path: &str, findings: &mut Findings) -> bool {
    let set = is_set(value);
    match treatment(&node.pattern) {
        Some(Refused(what)) if set => {
            findings.refused.push(Refusal {
                path: path.to_string(),
                what,
            });
            false
        }
        Some(RefusedUnless(accepted, what)) if !value.is_null() => {
            let accepted: Value = serde_json::from_str(accepted).unwrap_or(Value::Null);
            if value != &accepted {
                findings.refused.push(Refusal {
                    path: path.to_string(),
                    what,
                });
            }
            true
        }
        Some(NoEffect(why)) if set => {
            findings.no_effect.push((path.to_string(), why));
            true
        }
        _ => true,
    }
}

/// A CloudFormation intrinsic function (`{Ref: …}`, `{Fn::GetAtt: …}`) stands for a value.
fn intrinsic(map: &serde_json::Map<String, Value>) -> bool {
    map.len() == 1
        && map
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::"))
}

/// Whether a value asks for something: not null, false, an empty list or an empty object.
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

/// The known key of `node` closest to `key`, as a full path.
fn closest(node: &Node, key: &str, path: &str) -> Option<String> {
    let lower = key.to_lowercase();
    let (best, score) = node
        .keys
        .keys()
        .map(|known| {
            let score = if known.to_lowercase() == lower {
                1.0
            } else {
                strsim::jaro_winkler(&known.to_lowercase(), &lower)
            };
            (*known, score)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (score >= 0.85).then(|| {
        if path.is_empty() {
            best.to_string()
        } else {
            format!("{path}.{best}")
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;

    #[test]
    fn the_table_classifies_every_v3_key_and_only_those() {
        let listed: BTreeSet<&str> = v3_paths().collect();
        let table: BTreeSet<&str> = SETTINGS.iter().filter(|s| s.v3).map(|s| s.path).collect();
        let missing: Vec<_> = listed.difference(&table).collect();
        let invented: Vec<_> = table.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "v3 keys without a treatment: {missing:?}"
        );
        assert!(
            invented.is_empty(),
            "rows marked v3 that v3's schema lacks: {invented:?}"
        );
        let ours: Vec<_> = SETTINGS
            .iter()
            .filter(|s| !s.v3 && listed.contains(s.path))
            .collect();
        assert!(ours.is_empty(), "v3 keys marked as deployer's: {ours:?}");
        let mut seen = BTreeSet::new();
        for s in SETTINGS {
            assert!(seen.insert(s.path), "{} twice", s.path);
        }
    }

    #[test]
    fn only_objects_with_listed_keys_are_keys() {
        let all: Vec<&str> = SETTINGS.iter().map(|s| s.path).collect();
        for s in SETTINGS {
            let has_keys = all.iter().any(|p| p.starts_with(&format!("{}.", s.path)));
            if s.treatment == Keys {
                assert!(
                    has_keys,
                    "{} is Keys but nothing is listed below it",
                    s.path
                );
            }
        }
    }

    #[test]
    fn a_misspelt_key_is_unknown_with_the_closest_known_one() {
        let findings = check(&json!({"service": "s",
            "provider": {"name": "aws", "Runtime": "nodejs20.x", "memorySzie": 128},
            "functions": {"f": {"handler": "h.f", "timout": 3}},
            "custom": {"anything": {"goes": 1}}}));
        let unknown: Vec<(&str, Option<&str>)> = findings
            .unknown
            .iter()
            .map(|u| (u.path.as_str(), u.suggestion.as_deref()))
            .collect();
        assert_eq!(
            unknown,
            [
                ("provider.Runtime", Some("provider.runtime")),
                ("provider.memorySzie", Some("provider.memorySize")),
                ("functions.f.timout", Some("functions.f.timeout")),
            ]
        );
        assert_eq!(
            findings.warnings()[0],
            "provider.Runtime is not a setting Serverless v3 or deployer knows; did you mean \
             provider.runtime?; it is ignored"
        );
        let far = check(&json!({"service": "s", "provider": {"name": "aws", "zzz": 1}}));
        assert_eq!(far.unknown[0].suggestion, None);
    }

    #[test]
    fn refused_keys_are_found_when_set() {
        let findings = check(&json!({"service": "s", "provider": {"name": "aws",
            "deploymentBucket": {"serverSideEncryption": "AES256", "accelerate": true},
            "tracing": {"apiGateway": false, "lambda": true},
            "eventBridge": {"useCloudFormation": true}}}));
        let paths: Vec<&str> = findings.refused.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "provider.deploymentBucket.serverSideEncryption",
                "provider.deploymentBucket.accelerate",
            ]
        );
        let stack = check(&json!({"service": "s", "provider": {"name": "aws",
            "stackPolicy": [{"Effect": "Allow"}], "rollbackConfiguration": {"MonitoringTimeInMinutes": 1}}}));
        assert!(stack.refused.is_empty(), "passed to the stack operation");
        let ebridge = check(&json!({"service": "s", "provider": {"name": "aws",
            "eventBridge": {"useCloudFormation": false}}}));
        assert_eq!(
            ebridge.refused[0].path,
            "provider.eventBridge.useCloudFormation"
        );
    }

    #[test]
    fn open_objects_and_lists_are_walked_as_v3_does() {
        let findings = check(&json!({"service": "s", "provider": {"name": "aws",
                "logs": {"lambda": {"logFormat": "JSON"}}, "s3": {"b": {"anything": 1}}},
            "functions": [{"a": {"handler": "h.a", "hander": 1}}],
            "resources": [{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Propertes": {}}}}]}));
        let paths: Vec<&str> = findings.unknown.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "functions[0].a.hander",
                "resources[0].Resources.Q.Propertes"
            ]
        );
    }
}
