//! `deployer-template`: compiles the service model into the CloudFormation templates that
//! Serverless v3 produces, with the same logical IDs. Pure: no AWS, no network.
//!
//! [`compile`] returns the core template (the stack Serverless creates first, holding only the
//! deployment bucket) and the full template, key for key as v3's
//! `cloudformation-template-{create,update}-stack.json`. [`normalized_template_hash`] is v3's
//! change-detection hash of a template, and [`stack_tags`] the tags v3 puts on the stack.
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::time::SystemTime;
//!
//! use deployer_config::model::Service;
//! use deployer_template::{CompileInput, FunctionArtifact, artifact_directory_name, compile};
//!
//! let config = serde_json::json!({
//!     "service": "demo",
//!     "provider": {"name": "aws", "runtime": "nodejs22.x"},
//!     "functions": {"hello": {"handler": "handler.hello", "events": [{"httpApi": "GET /hello"}]}}
//! });
//! let service = Service::from_value(&config)?;
//! let directory = artifact_directory_name(None, &service.service, "dev", SystemTime::now());
//! let artifacts = BTreeMap::from([(
//!     "hello".to_owned(),
//!     FunctionArtifact {
//!         s3_key_name: "demo.zip".to_owned(),
//!         sha256_base64: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_owned(),
//!     },
//! )]);
//! let templates = compile(&CompileInput {
//!     service: &service,
//!     stage: "dev",
//!     region: "us-east-1",
//!     instance_id: "1700000000000",
//!     artifact_directory_name: &directory,
//!     artifacts: &artifacts,
//! })?;
//! assert!(templates.update["Resources"].get("HelloLambdaFunction").is_some());
//! assert!(templates.update["Outputs"].get("HttpApiUrl").is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine;
use deployer_config::model::{DeploymentBucket, Service};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

mod events;
mod function_extras;
mod functions;
pub mod merge;
pub mod naming;
pub mod plugins;
mod schema;
pub mod sort;

/// What [`compile`] needs besides the service model.
#[derive(Debug, Clone, Copy)]
pub struct CompileInput<'a> {
    /// The resolved service.
    pub service: &'a Service,
    /// The stage being deployed (the CLI's `--stage`, else `provider.stage`, else `dev`).
    pub stage: &'a str,
    /// The region being deployed to.
    pub region: &'a str,
    /// Milliseconds since the epoch of this run: the suffix of `ApiGatewayDeployment<id>`.
    pub instance_id: &'a str,
    /// The S3 "directory" of this deployment (see [`artifact_directory_name`]).
    pub artifact_directory_name: &'a str,
    /// The zip of each packaged function, by function key.
    pub artifacts: &'a BTreeMap<String, FunctionArtifact>,
}

/// One function's deployment package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionArtifact {
    /// File name of the zip in the deployment directory (`service-name.zip`, `worker.zip`).
    pub s3_key_name: String,
    /// Base64 SHA-256 of the zip bytes (Lambda's `CodeSha256`).
    pub sha256_base64: String,
}

/// The two templates of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    /// The core stack (deployment bucket, its policy, its name output). When
    /// `provider.deploymentBucket` names an existing bucket, v3 creates no core stack: this
    /// template then has no resources and is not to be deployed.
    pub create: Value,
    /// The full stack.
    pub update: Value,
}

/// Why a service cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A setting or event that deployer does not compile (yet). Never silently dropped.
    #[error(
        "{path}: {what} is not supported by deployer yet; remove it or deploy this service with Serverless"
    )]
    Unsupported {
        /// Property path of the setting (`functions.hello.events[2]`).
        path: String,
        /// What it is (`event type "alb"`).
        what: String,
    },
    /// A setting whose value cannot be compiled.
    #[error("{path}: {message}")]
    Invalid {
        /// Property path of the setting.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No packaged artifact was given for a function.
    #[error(
        "functions.{function}: no deployment package for this function (package the service first)"
    )]
    MissingArtifact {
        /// The function key.
        function: String,
    },
}

impl TemplateError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        TemplateError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(path: impl Into<String>, what: impl Into<String>) -> Self {
        TemplateError::Unsupported {
            path: path.into(),
            what: what.into(),
        }
    }
}

const CORE_TEMPLATE: &str = include_str!("../../../templates/core-cloudformation-template.json");

/// State shared by the compile steps: the template being built and the inputs.
pub(crate) struct Ctx<'a> {
    pub input: &'a CompileInput<'a>,
    pub service: &'a Service,
    pub stage: &'a str,
    pub template: Value,
    /// Functions invoked through an alias (provisioned concurrency, SnapStart): function key →
    /// (alias name, alias logical ID). Event sources then target the alias, as in v3.
    pub aliases: BTreeMap<String, (String, String)>,
}

impl Ctx<'_> {
    pub fn resources(&mut self) -> &mut Map<String, Value> {
        self.template["Resources"]
            .as_object_mut()
            .expect("template has Resources")
    }

    pub fn outputs(&mut self) -> &mut Map<String, Value> {
        self.template["Outputs"]
            .as_object_mut()
            .expect("template has Outputs")
    }

    pub fn has_resource(&self, id: &str) -> bool {
        self.template["Resources"].get(id).is_some()
    }

    /// The deployed name of a function.
    pub fn function_name(&self, key: &str) -> String {
        self.service.function_name(key, self.stage)
    }

    /// The statements of the generated role's inline policy, if the role is generated.
    pub fn role_statements(&mut self) -> Option<&mut Vec<Value>> {
        self.template["Resources"]
            .get_mut(naming::ROLE_LOGICAL_ID)?
            .pointer_mut("/Properties/Policies/0/PolicyDocument/Statement")?
            .as_array_mut()
    }

    /// `{"Fn::GetAtt": ["<Fn>LambdaFunction", "Arn"]}`, or the alias ARN
    /// (`Fn::Join [":", [<that>, <alias>]]`) for a function with an alias (v3
    /// `resolveLambdaTarget`).
    pub fn lambda_arn(&self, key: &str) -> Value {
        let arn = json!({"Fn::GetAtt": [naming::lambda_logical_id(key), "Arn"]});
        match self.aliases.get(key) {
            Some((name, _)) => json!({"Fn::Join": [":", [arn, name]]}),
            None => arn,
        }
    }

    /// The logical ID of the function's alias, which event resources must depend on.
    pub fn alias_id(&self, key: &str) -> Option<String> {
        self.aliases.get(key).map(|(_, id)| id.clone())
    }

    /// The alias name of a function (`provisioned`, `snapstart`), if it has one.
    pub fn alias_name(&self, key: &str) -> Option<String> {
        self.aliases.get(key).map(|(name, _)| name.clone())
    }

    /// The execution role a function uses when it is not the provider's: its `role`, else an
    /// existing provider role (v3 `getCustomExecutionRole`).
    pub fn custom_execution_role(&self, key: &str) -> Option<Value> {
        let function = &self.service.functions[key];
        if let Some(role) = &function.role {
            return Some(role.clone());
        }
        let provider = &self.service.provider;
        if let Some(deployer_config::model::IamRole::Existing(role)) =
            provider.iam.as_ref().and_then(|i| i.role.as_ref())
        {
            return Some(role.clone());
        }
        provider.role.clone()
    }

    /// The logical ID of the role resource a function's event source mappings must wait for
    /// (v3 `resolveFunctionIamRoleResourceName`).
    pub fn function_role_resource(&self, key: &str) -> Option<String> {
        match self.custom_execution_role(key) {
            None => Some(naming::ROLE_LOGICAL_ID.to_owned()),
            Some(Value::String(role)) if !role.starts_with("arn:") => Some(role),
            Some(Value::Object(o)) => o
                .get("Fn::GetAtt")
                .and_then(|g| g.get(0))
                .and_then(Value::as_str)
                .map(str::to_owned),
            Some(_) => None,
        }
    }
}

/// A resource `{Type, DependsOn, Properties}` (v3's order when `DependsOn` is written first),
/// without `DependsOn` when there is nothing to wait for.
pub(crate) fn resource_depending(
    kind: &str,
    depends_on: Option<Value>,
    properties: Value,
) -> Value {
    let mut resource = Map::new();
    resource.insert("Type".to_owned(), json!(kind));
    if let Some(depends_on) = depends_on {
        resource.insert("DependsOn".to_owned(), depends_on);
    }
    resource.insert("Properties".to_owned(), properties);
    Value::Object(resource)
}

/// A resource `{Type, Properties, DependsOn}` (v3's order when `DependsOn` is written last).
pub(crate) fn resource_then_depending(
    kind: &str,
    properties: Value,
    depends_on: Option<Value>,
) -> Value {
    let mut resource = Map::new();
    resource.insert("Type".to_owned(), json!(kind));
    resource.insert("Properties".to_owned(), properties);
    if let Some(depends_on) = depends_on {
        resource.insert("DependsOn".to_owned(), depends_on);
    }
    Value::Object(resource)
}

/// Compiles the service into v3's core and full templates.
pub fn compile(input: &CompileInput) -> Result<Templates, TemplateError> {
    // Compiled as v3 sees the service after its schema validation.
    let coerced = schema::coerced(input.service);
    let service = &coerced;
    let mut ctx = Ctx {
        input,
        service,
        stage: input.stage,
        template: serde_json::from_str(CORE_TEMPLATE).expect("core template is valid JSON"),
        aliases: BTreeMap::new(),
    };
    check_unsupported(service)?;
    apply_deployment_bucket(&mut ctx)?;
    let create = ctx.template.clone();

    functions::compile_log_groups_and_role(&mut ctx)?;
    functions::compile_functions(&mut ctx)?;
    plugins::after_compile_functions(&mut ctx)?;
    events::compile_events(&mut ctx)?;
    plugins::after_compile_events(&mut ctx)?;

    add_export_names(&mut ctx);
    if let Some(resources) = &service.resources {
        merge::merge_resources(&mut ctx.template, resources)?;
    }
    plugins::after_merge(&mut ctx)?;
    merge::strip_null_properties(&mut ctx.template);
    Ok(Templates {
        create,
        update: ctx.template,
    })
}

/// Settings whose v3 behaviour needs resources deployer does not generate.
fn check_unsupported(service: &Service) -> Result<(), TemplateError> {
    if service.layers.as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(TemplateError::unsupported(
            "layers",
            "building Lambda layers",
        ));
    }
    Ok(())
}

/// v3 `generateCoreTemplate`: bucket settings on the generated bucket, or no bucket at all
/// when `provider.deploymentBucket` names an existing one.
fn apply_deployment_bucket(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let Some(bucket) = &ctx.service.provider.deployment_bucket else {
        return Ok(());
    };
    if let Some(name) = bucket.name() {
        let name = name.to_owned();
        ctx.resources().shift_remove("ServerlessDeploymentBucket");
        ctx.resources()
            .shift_remove("ServerlessDeploymentBucketPolicy");
        ctx.outputs()["ServerlessDeploymentBucketName"]["Value"] = Value::String(name);
        return Ok(());
    }
    let DeploymentBucket::Settings(settings) = bucket else {
        return Ok(());
    };
    let properties = ctx.resources()["ServerlessDeploymentBucket"]["Properties"]
        .as_object_mut()
        .expect("core bucket has Properties");
    if settings.block_public_access == Some(true) {
        properties.insert(
            "PublicAccessBlockConfiguration".to_owned(),
            json!({"BlockPublicAcls": true, "BlockPublicPolicy": true,
                   "IgnorePublicAcls": true, "RestrictPublicBuckets": true}),
        );
    }
    if settings.versioning == Some(true) {
        properties.insert(
            "VersioningConfiguration".to_owned(),
            json!({"Status": "Enabled"}),
        );
    }
    if let Some(tags) = &settings.tags {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        properties.insert("Tags".to_owned(), Value::Array(tags));
    }
    if settings.skip_policy_setup == Some(true) {
        ctx.resources()
            .shift_remove("ServerlessDeploymentBucketPolicy");
    }
    Ok(())
}

/// v3 `addExportNameForOutputs`: every generated output gets `sls-<service>-<stage>-<Key>`
/// unless it already has an export. Runs before user outputs are merged in.
fn add_export_names(ctx: &mut Ctx) {
    let prefix = format!("sls-{}-{}-", ctx.service.service, ctx.stage);
    for (key, output) in ctx.outputs().iter_mut() {
        if let Some(output) = output.as_object_mut()
            && !output.contains_key("Export")
        {
            output.insert(
                "Export".to_owned(),
                json!({"Name": format!("{prefix}{key}")}),
            );
        }
    }
}

/// v3's S3 "directory" of one deployment:
/// `<prefix|serverless>/<service>/<stage>/<ms>-<ISO 8601 with milliseconds>Z`.
pub fn artifact_directory_name(
    prefix: Option<&str>,
    service: &str,
    stage: &str,
    now: SystemTime,
) -> String {
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = since_epoch.as_millis();
    let at = time::OffsetDateTime::UNIX_EPOCH + since_epoch;
    let iso = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    );
    format!(
        "{}/{service}/{stage}/{millis}-{iso}",
        prefix.unwrap_or("serverless")
    )
}

/// The stack tags v3 sets: `STAGE=<stage>` then `provider.stackTags` in order; a stack tag
/// named like `STAGE` in any case replaces it.
pub fn stack_tags(service: &Service, stage: &str) -> Vec<(String, String)> {
    let custom = service.provider.stack_tags.as_ref();
    let overridden =
        custom.is_some_and(|tags| tags.keys().any(|k| k.eq_ignore_ascii_case("STAGE")));
    let mut tags = Vec::new();
    if !overridden {
        tags.push(("STAGE".to_owned(), stage.to_owned()));
    }
    for (key, value) in custom.into_iter().flatten() {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        tags.push((key.clone(), value));
    }
    tags
}

/// v3's change-detection hash of a compiled template (`normalizeCloudFormationTemplate`):
/// `ApiGatewayDeployment*` / `WebsocketsDeployment*` renamed to their stable names, the
/// `S3Key` of functions and layers blanked, `Resources` and `Outputs` deep-sorted with
/// `localeCompare`, compact JSON, base64 SHA-256.
pub fn normalized_template_hash(template: &Value) -> String {
    let mut normalized = template.clone();
    if let Some(resources) = normalized
        .get_mut("Resources")
        .and_then(Value::as_object_mut)
    {
        let keys: Vec<String> = resources.keys().cloned().collect();
        for key in keys {
            let target = if key.starts_with("ApiGatewayDeployment") {
                Some("ApiGatewayDeployment")
            } else if key.starts_with("WebsocketsDeployment") && key != "WebsocketsDeploymentStage"
            {
                Some("WebsocketsDeployment")
            } else {
                None
            };
            if let Some(target) = target
                && let Some(value) = resources.shift_remove(&key)
            {
                resources.insert(target.to_owned(), value);
            }
        }
        for (key, resource) in resources.iter_mut() {
            if key == "WebsocketsDeploymentStage"
                && let Some(r) = resource.pointer_mut("/Properties/DeploymentId")
                && let Some(r) = r.as_object_mut()
            {
                r.insert("Ref".to_owned(), json!("WebsocketsDeployment"));
            }
            let field = match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Lambda::Function") => "Code",
                Some("AWS::Lambda::LayerVersion") => "Content",
                _ => continue,
            };
            if let Some(code) = resource
                .get_mut("Properties")
                .and_then(|p| p.get_mut(field))
                .and_then(Value::as_object_mut)
            {
                code.insert("S3Key".to_owned(), json!(""));
            }
        }
    }
    for section in ["Resources", "Outputs"] {
        if let Some(value) = normalized.get_mut(section) {
            *value = sort::deep_sort(value);
        }
    }
    let text = serde_json::to_string(&normalized).expect("a JSON value serializes");
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}
