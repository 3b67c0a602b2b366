//! Serverless plugins: every name a service may declare under `plugins:` gets one treatment
//! from [`PLUGINS`], and the plugins deployer does natively run as passes over the compiled
//! template at the point of v3's lifecycle where the plugin hooks in.
//!
//! The command layer calls [`plan`] before anything is written to AWS: it classifies every
//! declared plugin: native (deployer does it), not needed, or run by the plugin host
//! (`crates/host`: the plugin itself, in Node.js, with the v3 plugin API) unless ignored
//! (`--ignore-plugin NAME` or `custom.deployer.ignorePlugins`). [`compile`](crate::compile)
//! runs the native template passes by itself when their plugin is declared.

use serde::Serialize;
use serde_json::Value;

use crate::{Ctx, TemplateError};

pub mod dotenv;
mod iam_roles;
pub mod prune;
mod pseudo;
mod step_functions;

/// How deployer handles a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Treatment {
    /// deployer does what the plugin does.
    Native,
    /// The plugin changes nothing that is deployed, or deployer already does it.
    NotNeeded,
    /// The plugin itself runs in the plugin host (Node.js, the v3 plugin API); it must be
    /// installed in the project.
    Host,
}

/// One row of the plugin table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PluginRow {
    /// The npm package name as written under `plugins:`.
    pub name: &'static str,
    /// How deployer handles it.
    pub treatment: Treatment,
    /// Native: what deployer does and where. Not needed: why. Host: what the plugin does.
    pub detail: &'static str,
}

const fn row(name: &'static str, treatment: Treatment, detail: &'static str) -> PluginRow {
    PluginRow {
        name,
        treatment,
        detail,
    }
}

use Treatment::{Host, Native, NotNeeded};

/// The plugin table: the only place that decides how a plugin is handled. `docs/plugins.md`
/// is checked against it.
pub const PLUGINS: &[PluginRow] = &[
    row(
        "serverless-iam-roles-per-function",
        Native,
        "template pass: one IAM role per function with `iamRoleStatements` (crates/template, plugins::iam_roles)",
    ),
    row(
        "serverless-pseudo-parameters",
        Native,
        "template pass: `#{AWS::Region}`, `#{AWS::AccountId}`, `#{LogicalId}` in strings become `Fn::Sub` (crates/template, plugins::pseudo)",
    ),
    row(
        "serverless-step-functions",
        Native,
        "template pass: `stepFunctions` state machines, roles, activities, alarms, schedule/eventBridge/http events, outputs (crates/template, plugins::step_functions)",
    ),
    row(
        "serverless-dotenv-plugin",
        Native,
        "`.env` files into `provider.environment` before compiling (crates/template plugins::dotenv, run by crates/ops plugins.rs)",
    ),
    row(
        "serverless-prune-plugin",
        Native,
        "`custom.prune`: after a successful deploy, deletes function versions beyond the newest N that no alias points to (crates/template plugins::prune, AWS calls in crates/aws prune.rs)",
    ),
    row(
        "serverless-esbuild",
        Native,
        "native builder: bundles the handlers with esbuild, `custom.esbuild` options (crates/package, build)",
    ),
    row(
        "serverless-webpack",
        Native,
        "native builder: bundles the handlers with esbuild instead of webpack; `custom.webpack` is not read (crates/package, build)",
    ),
    row(
        "serverless-bundle",
        Native,
        "native builder: bundles the handlers with esbuild (crates/package, build)",
    ),
    row(
        "serverless-plugin-typescript",
        Native,
        "native builder: bundles the TypeScript handlers with esbuild (crates/package, build)",
    ),
    row(
        "serverless-python-requirements",
        Native,
        "native builder: pip-installs requirements.txt (manylinux wheels) into the zip, `custom.pythonRequirements` (crates/package, build)",
    ),
    row(
        "serverless-stack-termination-protection",
        Native,
        "stage protection: the stages of `custom.serverlessTerminationProtection.stages` (every stage without it) are protected as by `custom.deployer.protect`: termination protection after each deploy, and the refusals of a protected stage (crates/config protect.rs, crates/ops pipeline/protect.rs)",
    ),
    row(
        "serverless-offline",
        NotNeeded,
        "local emulation only (`sls offline`); nothing deployed changes",
    ),
    row(
        "serverless-offline-sqs",
        NotNeeded,
        "local SQS emulation for serverless-offline; nothing deployed changes",
    ),
    row(
        "serverless-offline-sns",
        NotNeeded,
        "local SNS emulation for serverless-offline; nothing deployed changes",
    ),
    row(
        "serverless-offline-scheduler",
        NotNeeded,
        "local schedule emulation for serverless-offline; nothing deployed changes",
    ),
    row(
        "serverless-dynamodb-local",
        NotNeeded,
        "local DynamoDB for development (`sls dynamodb`); nothing deployed changes",
    ),
    row(
        "serverless-step-functions-local",
        NotNeeded,
        "local Step Functions emulation (`sls offline`); nothing deployed changes",
    ),
    row(
        "serverless-s3-local",
        NotNeeded,
        "local S3 for development; nothing deployed changes",
    ),
    row(
        "serverless-apigateway-service-proxy",
        Host,
        "API Gateway methods proxying straight to Kinesis, SQS, S3, SNS, DynamoDB or EventBridge (`custom.apiGatewayServiceProxies`) (run by the plugin host)",
    ),
    row(
        "serverless-domain-manager",
        Host,
        "at deploy time creates or looks up the API Gateway custom domain (`custom.customDomain`), its Route 53 records and the base path mapping (run by the plugin host)",
    ),
    row(
        "serverless-plugin-warmup",
        Host,
        "a warmer function and schedule that keep functions warm (run by the plugin host)",
    ),
    row(
        "serverless-appsync-plugin",
        Host,
        "an AppSync GraphQL API with its data sources and resolvers (run by the plugin host)",
    ),
    row(
        "serverless-plugin-split-stacks",
        Host,
        "moves resources into nested stacks (run by the plugin host)",
    ),
    row(
        "serverless-plugin-canary-deployments",
        Host,
        "CodeDeploy gradual traffic shifting with aliases and alarms (run by the plugin host)",
    ),
    row(
        "serverless-plugin-aws-alerts",
        Host,
        "CloudWatch alarms and SNS topics per function (run by the plugin host)",
    ),
    row(
        "serverless-associate-waf",
        Host,
        "associates a WAF web ACL with the REST API (run by the plugin host)",
    ),
    row(
        "serverless-api-gateway-caching",
        Host,
        "API Gateway stage and method caching (run by the plugin host)",
    ),
    row(
        "serverless-lift",
        Host,
        "`constructs:` (queues, webhooks, static websites…) compiled into resources (run by the plugin host)",
    ),
];

/// [`PLUGINS`] as the Markdown table of `docs/plugins.md` (a test keeps the two equal).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| plugin | treatment | what deployer does (or what the plugin would have done) |\n| --- | --- | --- |\n",
    );
    for row in PLUGINS {
        let treatment = match row.treatment {
            Native => "native",
            NotNeeded => "not needed",
            Host => "plugin host",
        };
        out.push_str(&format!(
            "| `{}` | {treatment} | {} |\n",
            row.name, row.detail
        ));
    }
    out
}

/// The row of a plugin name, if the table knows it.
pub fn row_of(name: &str) -> Option<&'static PluginRow> {
    PLUGINS.iter().find(|r| r.name == name)
}

/// One declared plugin and how deployer handles it (for `package --json` / `up --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginTreatment {
    /// The name as declared.
    pub name: String,
    /// How deployer handles it.
    pub treatment: Treatment,
    /// What deployer does, why it is not needed, or what the plugin would have done.
    pub detail: String,
    /// A plugin-host plugin the user chose to deploy without (it is not run).
    pub ignored: bool,
}

/// Why the declared plugins stop a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// `plugins:` or `custom.deployer.ignorePlugins` is not of a form v3 accepts.
    #[error("{path}: {message}")]
    Invalid {
        /// Property path (`plugins[2]`).
        path: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

/// The declared plugin names, from the list form or the `{modules: [...]}` form.
pub fn declared_plugins(plugins: Option<&Value>) -> Result<Vec<String>, PluginError> {
    let (list, path) = match plugins {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => (list, "plugins"),
        Some(Value::Object(map)) => match map.get("modules") {
            Some(Value::Array(list)) => (list, "plugins.modules"),
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(_) => {
                return Err(invalid(
                    "plugins.modules",
                    "expected a list of plugin names",
                ));
            }
        },
        Some(_) => {
            return Err(invalid(
                "plugins",
                "expected a list of plugin names or {modules: [...]}",
            ));
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(name) if !name.trim().is_empty() => Ok(name.trim().to_owned()),
            _ => Err(invalid(
                format!("{path}[{i}]"),
                "expected a plugin name (a non-empty string)",
            )),
        })
        .collect()
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> PluginError {
    PluginError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// A name that points at a file (`./plugins/my-plugin`) rather than an npm package.
fn is_local_path(name: &str) -> bool {
    name.starts_with("./")
        || name.starts_with("../")
        || name.starts_with('/')
        || name.starts_with('.')
}

/// The treatment of one declared name: the table's row, a local plugin, or an unknown one.
fn treat(name: &str) -> PluginTreatment {
    let (treatment, detail) = match row_of(name) {
        Some(row) => (row.treatment, row.detail.to_owned()),
        None if is_local_path(name) => (
            Host,
            "a local plugin (JavaScript in this repository), run by the plugin host".to_owned(),
        ),
        None => (
            Host,
            "no native equivalent: the plugin itself, run by the plugin host".to_owned(),
        ),
    };
    PluginTreatment {
        name: name.to_owned(),
        treatment,
        detail,
        ignored: false,
    }
}

/// Every declared plugin with its treatment, in declaration order.
pub fn classify(plugins: Option<&Value>) -> Result<Vec<PluginTreatment>, PluginError> {
    Ok(declared_plugins(plugins)?
        .iter()
        .map(|n| treat(n))
        .collect())
}

/// `custom.deployer.ignorePlugins`: names to deploy without.
pub fn ignored_in_config(custom: Option<&Value>) -> Result<Vec<String>, PluginError> {
    const PATH: &str = "custom.deployer.ignorePlugins";
    match custom
        .and_then(|c| c.get("deployer"))
        .and_then(|d| d.get("ignorePlugins"))
    {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(name)) => Ok(vec![name.clone()]),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{PATH}[{i}]"), "expected a plugin name"))
            })
            .collect(),
        Some(_) => Err(invalid(PATH, "expected a list of plugin names")),
    }
}

/// Classifies the declared plugins and marks the ignored ones.
///
/// `ignored` holds the `--ignore-plugin` names; `custom.deployer.ignorePlugins` is added.
/// Ignoring a name that is not declared, or one deployer handles natively or does not need, is
/// an error: the flag would otherwise hide a typo. Call it before any AWS write; render the
/// list under `-v` and in `--json`.
pub fn plan(
    plugins: Option<&Value>,
    custom: Option<&Value>,
    ignored: &[String],
) -> Result<Vec<PluginTreatment>, PluginError> {
    let mut treatments = classify(plugins)?;
    let mut all_ignored = ignored.to_vec();
    all_ignored.extend(ignored_in_config(custom)?);
    for name in &all_ignored {
        let Some(t) = treatments.iter_mut().find(|t| &t.name == name) else {
            return Err(invalid(
                "--ignore-plugin",
                format!("{name} is not declared under plugins; check the name"),
            ));
        };
        if t.treatment != Host {
            return Err(invalid(
                "--ignore-plugin",
                format!(
                    "{name} is handled by deployer ({}); there is nothing to ignore",
                    t.detail
                ),
            ));
        }
        t.ignored = true;
    }
    Ok(treatments)
}

/// The plugins the host runs: declared, [`Treatment::Host`], not ignored; in list order.
pub fn hosted(treatments: &[PluginTreatment]) -> Vec<&PluginTreatment> {
    treatments
        .iter()
        .filter(|t| t.treatment == Host && !t.ignored)
        .collect()
}

/// Whether the service declares the plugin (both `plugins:` forms).
pub(crate) fn declares(ctx: &Ctx, name: &str) -> bool {
    declared_plugins(ctx.service.plugins.as_ref())
        .is_ok_and(|names| names.iter().any(|n| n == name))
}

/// v3 `package:compileFunctions`, plugin hooks after core's: step-functions state machines,
/// their roles, activities, alarms and outputs.
pub(crate) fn after_compile_functions(ctx: &mut Ctx) -> Result<(), TemplateError> {
    require_plugin_for_settings(ctx)?;
    if declares(ctx, "serverless-step-functions") {
        step_functions::compile_machines(ctx)?;
    }
    Ok(())
}

/// Settings only a plugin reads, in a service that does not declare that plugin: v3 would
/// deploy without them (state machines, per-function roles missing), so they are refused.
fn require_plugin_for_settings(ctx: &Ctx) -> Result<(), TemplateError> {
    let needs = |path: String, setting: &str, plugin: &str| -> Result<(), TemplateError> {
        if declares(ctx, plugin) {
            return Ok(());
        }
        Err(TemplateError::invalid(
            path,
            format!(
                "{setting} is read by the {plugin} plugin, which plugins: does not declare; declare it (deployer does it natively) or remove the setting"
            ),
        ))
    };
    if ctx.service.extra.contains_key("stepFunctions") {
        needs(
            "stepFunctions".into(),
            "stepFunctions",
            "serverless-step-functions",
        )?;
    }
    for (key, function) in &ctx.service.functions {
        for setting in [
            "iamRoleStatements",
            "iamRoleStatementsInherit",
            "iamRoleStatementsName",
            "iamPermissionsBoundary",
        ] {
            if function.extra.contains_key(setting) {
                needs(
                    format!("functions.{key}.{setting}"),
                    setting,
                    "serverless-iam-roles-per-function",
                )?;
            }
        }
    }
    Ok(())
}

/// v3 `package:compileEvents` (step-functions events), then `before:package:finalize`
/// (iam-roles-per-function).
pub(crate) fn after_compile_events(ctx: &mut Ctx) -> Result<(), TemplateError> {
    if declares(ctx, "serverless-step-functions") {
        step_functions::compile_events(ctx)?;
    }
    if declares(ctx, "serverless-iam-roles-per-function") {
        iam_roles::apply(ctx)?;
    }
    Ok(())
}

/// `after:aws:package:finalize:mergeCustomProviderResources`: pseudo-parameters.
pub(crate) fn after_merge(ctx: &mut Ctx) -> Result<(), TemplateError> {
    if declares(ctx, "serverless-pseudo-parameters") {
        pseudo::apply(ctx)?;
    }
    Ok(())
}

/// An error naming the keys of a plugin's settings deployer does not know, so that nothing
/// declared is silently dropped.
pub(crate) fn reject_unknown_keys(
    path: &str,
    map: &serde_json::Map<String, Value>,
    known: &[&str],
) -> Result<(), TemplateError> {
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(TemplateError::unsupported(
        path,
        format!(
            "the setting(s) {} (known: {})",
            unknown.join(", "),
            known.join(", ")
        ),
    ))
}

/// An IAM statement as v3's schema leaves it (see [`crate::schema`]).
pub(crate) fn schema_statement(statement: &Value) -> Value {
    let mut statement = statement.clone();
    crate::schema::statement_lists(&mut statement);
    statement
}
