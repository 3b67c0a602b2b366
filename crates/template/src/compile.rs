//! The compile pipeline: core template, functions, events, then the user's `resources`.

use std::collections::BTreeMap;

use deployer_config::model::{DeploymentBucket, Service};
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::{TemplateError, events, functions, merge, plugins, schema};

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

const CORE_TEMPLATE: &str = include_str!("../../../templates/core-cloudformation-template.json");

/// Where plugins run by the plugin host change the template while it is compiled: after each
/// point of v3's lifecycle that [`compile_hooked`] names.
pub trait CompileHooks {
    /// Called once the core template (deployment bucket) and the execution role and log
    /// groups are in: `template` may take what configuration-time plugins added.
    fn start(&mut self, template: &mut Value) -> Result<(), TemplateError>;
    /// Called after `point`: `functions` (functions compiled, native passes done), `events`,
    /// `exports` (output export names added), `merge` (`resources:` merged) and `strip` (null
    /// properties stripped, the last). The hooks may change `template` in place.
    fn after(&mut self, point: &str, template: &mut Value) -> Result<(), TemplateError>;
}

/// No hooks: [`compile`].
struct NoHooks;

impl CompileHooks for NoHooks {
    fn start(&mut self, _template: &mut Value) -> Result<(), TemplateError> {
        Ok(())
    }
    fn after(&mut self, _point: &str, _template: &mut Value) -> Result<(), TemplateError> {
        Ok(())
    }
}

/// Compiles the service into v3's core and full templates.
pub fn compile(input: &CompileInput) -> Result<Templates, TemplateError> {
    compile_hooked(input, &mut NoHooks)
}

/// [`compile`], handing the template to `hooks` at each point of v3's lifecycle where
/// plugins change it.
pub fn compile_hooked(
    input: &CompileInput,
    hooks: &mut dyn CompileHooks,
) -> Result<Templates, TemplateError> {
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
    hooks.start(&mut ctx.template)?;
    functions::compile_functions(&mut ctx)?;
    plugins::after_compile_functions(&mut ctx)?;
    hooks.after("functions", &mut ctx.template)?;
    events::compile_events(&mut ctx)?;
    plugins::after_compile_events(&mut ctx)?;
    hooks.after("events", &mut ctx.template)?;

    add_export_names(&mut ctx);
    hooks.after("exports", &mut ctx.template)?;
    if let Some(resources) = &service.resources {
        merge::merge_resources(&mut ctx.template, resources)?;
    }
    plugins::after_merge(&mut ctx)?;
    hooks.after("merge", &mut ctx.template)?;
    merge::strip_null_properties(&mut ctx.template);
    hooks.after("strip", &mut ctx.template)?;
    Ok(Templates {
        create,
        update: ctx.template,
    })
}

/// Settings deployer does not honour (`deployer_config::schema_keys`: stack policies,
/// rollback triggers, upload encryption, layers built by the service, …): the first one set
/// is an error naming it and the way out, before anything is compiled.
fn check_unsupported(service: &Service) -> Result<(), TemplateError> {
    match service.findings.refused.first() {
        Some(refusal) => Err(TemplateError::unsupported(&refusal.path, refusal.what)),
        None => Ok(()),
    }
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
