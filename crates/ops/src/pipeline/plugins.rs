//! The declared plugins at run time: every one classified before anything is written (an
//! unsupported one stops the command), serverless-dotenv-plugin's files applied to the
//! resolved service before compiling, and serverless-prune-plugin after a successful deploy.

use std::path::Path;

use anyhow::Context as _;
use deployer_aws::flow::{self, prune::PruneRequest};
use deployer_aws::prune::AliasVersions;
use deployer_config::model::Service;
use deployer_config::{ConfigFile, ProcessEnv};
use deployer_template::plugins::{self, PluginTreatment, Treatment, dotenv, prune};

use serde::Serialize;
use serde_json::Value;

use crate::observer::Observer;
use crate::pipeline::service::ServiceOptions;
use crate::pipeline::stage::Stage;
use indexmap::IndexMap;

/// The plugin whose `.env` files feed `provider.environment`.
const DOTENV: &str = "serverless-dotenv-plugin";
/// The plugin that deletes old function versions after a deploy.
const PRUNE: &str = "serverless-prune-plugin";

/// Classifies the declared plugins (native, not needed, plugin host), reports one line
/// per plugin under `-v`, and applies serverless-dotenv-plugin to `service` when declared.
/// Runs on the resolved service, before it is compiled and before any AWS write; `early` is
/// the plan [`refuse_early`] made, when it decided.
pub(crate) fn prepare(
    service: &mut Service,
    service_dir: &Path,
    options: &ServiceOptions,
    early: Option<&[PluginTreatment]>,
    observer: &dyn Observer,
) -> anyhow::Result<Vec<PluginTreatment>> {
    let treatments = check(service, options, early, observer)?;
    apply(service, service_dir, options, &treatments, observer)?;
    Ok(treatments)
}

/// The native plugins that change the resolved service (serverless-dotenv-plugin), applied
/// again after plugin-host hooks gave the service back.
pub(crate) fn apply(
    service: &mut Service,
    service_dir: &Path,
    options: &ServiceOptions,
    treatments: &[PluginTreatment],
    observer: &dyn Observer,
) -> anyhow::Result<()> {
    if declares(treatments, DOTENV) {
        load_dotenv(service, service_dir, options, observer)?;
    }
    Ok(())
}

/// Classifies the declared plugins and reports them, without changing the service (for a
/// package directory built earlier). `early`, the plan made before resolution when it
/// decided, is used as it is: the plugin table is consulted once per run.
pub(crate) fn check(
    service: &Service,
    options: &ServiceOptions,
    early: Option<&[PluginTreatment]>,
    observer: &dyn Observer,
) -> anyhow::Result<Vec<PluginTreatment>> {
    let treatments = match early {
        Some(plan) => plan.to_vec(),
        None => consult(
            service.plugins.as_ref(),
            service.custom.as_ref(),
            &options.ignore_plugins,
        )?,
    };
    for t in &treatments {
        // A plugin deployed without knowingly is still said every time, not only under -v.
        if t.ignored && t.treatment == Treatment::Host {
            observer.warning(&line(t));
        } else {
            observer.detail(&line(t));
        }
    }
    // custom.prune is checked now, so that a mistake stops the run before the deploy.
    prune_settings(service, &treatments)?;
    Ok(treatments)
}

/// Before the credentials are checked (`up`, `diff`): when `plugins:` and
/// `custom.deployer.ignorePlugins` hold no variable, an unsupported plugin is refused without
/// any AWS call. Anything else (variables, other mistakes) is left to the check after
/// resolution, which reports it. Returns the plan when resolution cannot change it (no
/// variable in `plugins:`, `custom` or `custom.deployer`), for [`check`] to use.
pub(crate) fn refuse_early(
    file: &ConfigFile,
    options: &ServiceOptions,
) -> anyhow::Result<Option<Vec<PluginTreatment>>> {
    let plugins_raw = file.raw.get("plugins");
    let custom_raw = file.raw.get("custom");
    let deployer_raw = custom_raw.and_then(|c| c.get("deployer"));
    let ignored_raw = deployer_raw.and_then(|d| d.get("ignorePlugins"));
    let has_variables = |v: Option<&Value>| v.is_some_and(|v| v.to_string().contains("${"));
    if has_variables(plugins_raw) || has_variables(ignored_raw) {
        return Ok(None);
    }
    let custom = ignored_raw.map(|i| serde_json::json!({"deployer": {"ignorePlugins": i}}));
    // `custom: ${file(…)}` or a variable in `custom.deployer` may still add ignored names.
    let custom_final = custom_raw.is_none_or(Value::is_object) && !has_variables(deployer_raw);
    match consult(plugins_raw, custom.as_ref(), &options.ignore_plugins) {
        Ok(plan) => {
            // A plugin the host cannot run (not installed, no Node.js) stops here, before
            // any AWS call.
            crate::pipeline::hooks::check_installed(&plan, &file.dir, plugins_raw)?;
            Ok(custom_final.then_some(plan))
        }
        // Other mistakes are reported with their context after resolution.
        Err(_) => Ok(None),
    }
}

/// The plugin table's verdict on the declared plugins (see [`plugins::plan`]).
fn consult(
    declared: Option<&Value>,
    custom: Option<&Value>,
    ignored: &[String],
) -> Result<Vec<PluginTreatment>, plugins::PluginError> {
    #[cfg(test)]
    tests::CONSULTED.with(|n| n.set(n.get() + 1));
    plugins::plan(declared, custom, ignored)
}

/// `serverless-offline: not needed — local emulation only …`.
fn line(t: &PluginTreatment) -> String {
    let treatment = match (t.treatment, t.ignored) {
        (Treatment::Native, _) => "native",
        (Treatment::NotNeeded, _) => "not needed",
        (Treatment::Host, true) => "plugin host, left out as asked",
        (Treatment::Host, false) => "plugin host",
    };
    format!("plugin {}: {treatment} — {}", t.name, t.detail)
}

fn declares(treatments: &[PluginTreatment], name: &str) -> bool {
    treatments.iter().any(|t| t.name == name)
}

/// Reads the plugin's `.env` files that exist and sets their variables in
/// `provider.environment`; reports the files and names (never the values).
fn load_dotenv(
    service: &mut Service,
    service_dir: &Path,
    options: &ServiceOptions,
    observer: &dyn Observer,
) -> anyhow::Result<()> {
    let settings = dotenv::options(service.custom.as_ref())?;
    let node_env = std::env::var("NODE_ENV").ok();
    let env = dotenv::env_name(node_env.as_deref(), options.cli.stage.as_deref());
    let mut files = Vec::new();
    for name in dotenv::candidate_files(&settings, &env) {
        let path = service_dir.join(&name);
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("Cannot read {} ({DOTENV})", path.display()))?;
        files.push((name, text));
    }
    let additions = dotenv::variables(&settings, &files, &ProcessEnv)?;
    let names: Vec<&str> = additions
        .variables
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    observer.detail(&format!(
        "{DOTENV}: read {} → provider.environment: {}",
        if additions.files.is_empty() {
            "no .env file".to_string()
        } else {
            additions.files.join(", ")
        },
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    ));
    dotenv::apply(service, &additions);
    Ok(())
}

/// serverless-prune-plugin's settings when the plan holds it and the service asks for
/// automatic pruning.
pub(crate) fn prune_settings(
    service: &Service,
    treatments: &[PluginTreatment],
) -> anyhow::Result<Option<prune::PruneSettings>> {
    if !declares(treatments, PRUNE) {
        return Ok(None);
    }
    Ok(prune::settings(service.custom.as_ref())?)
}

/// What serverless-prune-plugin deleted after a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    /// Function versions deleted.
    pub function_versions: usize,
    /// Layer versions deleted (`includeLayers`).
    pub layer_versions: usize,
}

/// serverless-prune-plugin after a successful deploy of `service` (its full template
/// `update`, its plugin plan `treatments`), when it asks for it.
pub(crate) async fn prune_deployed(
    stage: &Stage,
    service: &Service,
    treatments: &[PluginTreatment],
    update: &Value,
    functions: &IndexMap<String, String>,
    observer: &dyn Observer,
) -> Option<Pruned> {
    // The settings were checked before the deploy (`check`).
    let settings = prune_settings(service, treatments).ok().flatten()?;
    let names: Vec<String> = functions.values().cloned().collect();
    match prune_after_deploy(stage, &settings, &names, update, observer).await {
        Ok(pruned) => Some(pruned),
        // The stack is deployed: a failed clean-up is reported, not turned into a failure.
        Err(err) => {
            observer.warning(&format!(
                "{PRUNE}: the deploy succeeded but pruning old versions failed: {err:#}; they are kept"
            ));
            None
        }
    }
}

/// After a successful deploy: deletes each function's versions beyond the newest N that no
/// alias points to, one at a time (and old layer versions with `includeLayers`). `functions`
/// are the deployed function names; layer names come from the template.
pub(crate) async fn prune_after_deploy(
    stage: &Stage,
    settings: &prune::PruneSettings,
    functions: &[String],
    template: &Value,
    observer: &dyn Observer,
) -> anyhow::Result<Pruned> {
    let client = deployer_aws::prune::lambda_client(&stage.clients);
    let mut pruned = Pruned::default();
    for function in functions {
        let req = PruneRequest {
            name: function.clone(),
            keep: settings.number,
        };
        let deleted = stage
            .run(async {
                Ok(flow::prune::prune_function(&client, &req, versions_to_delete).await?)
            })
            .await?;
        if !deleted.is_empty() {
            observer.detail(&format!(
                "{PRUNE}: deleted versions {} of {function}",
                deleted.join(", ")
            ));
        }
        pruned.function_versions += deleted.len();
    }
    if settings.include_layers {
        for layer in layer_names(template) {
            let req = PruneRequest {
                name: layer,
                keep: settings.number,
            };
            let deleted = stage
                .run(async {
                    let rule = prune::layer_versions_to_delete;
                    Ok(flow::prune::prune_layer(&client, &req, rule).await?)
                })
                .await?;
            pruned.layer_versions += deleted.len();
        }
    }
    Ok(pruned)
}

/// serverless-prune-plugin's rule for a function's versions, on the aliases Lambda listed.
fn versions_to_delete(versions: &[String], aliases: &[AliasVersions], keep: u64) -> Vec<String> {
    let aliases: Vec<prune::Alias> = aliases
        .iter()
        .map(|a| prune::Alias {
            function_version: a.function_version.clone(),
            additional_versions: a.additional_versions.clone(),
        })
        .collect();
    prune::versions_to_delete(versions, &aliases, keep)
}

/// The `LayerName` of every layer version of the template.
fn layer_names(template: &Value) -> Vec<String> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::LayerVersion")
        .filter_map(|(_, r)| r["Properties"]["LayerName"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::tests::Collect;
    use serde_json::json;
    use std::cell::Cell;

    thread_local! {
        /// Consultations of the plugin table on this thread.
        pub(super) static CONSULTED: Cell<usize> = const { Cell::new(0) };
    }

    fn service(value: serde_json::Value) -> Service {
        Service::from_value(&value).unwrap()
    }

    fn options(ignored: &[&str]) -> ServiceOptions {
        ServiceOptions {
            ignore_plugins: ignored.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_host_plugin_left_out_is_said_every_run() {
        let s = service(json!({"service": "s", "provider": {"name": "aws"},
            "plugins": ["serverless-offline", "serverless-domain-manager"]}));
        let all = check(&s, &options(&[]), None, &Collect::default()).unwrap();
        assert_eq!(all[1].treatment, Treatment::Host);
        assert!(!all[1].ignored);
        let observer = Collect::default();
        let ok = check(
            &s,
            &options(&["serverless-domain-manager"]),
            None,
            &observer,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert!(ok[1].ignored);
        // Deploying without it knowingly is still said, not only under -v.
        let warnings = observer.warnings.lock().unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .starts_with("plugin serverless-domain-manager: plugin host, left out as asked"),
            "{warnings:?}"
        );
        assert_eq!(
            line(&ok[0]),
            "plugin serverless-offline: not needed — local emulation only (`sls offline`); nothing deployed changes"
        );
    }

    #[test]
    fn dotenv_files_become_environment_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=1\nB=two\n").unwrap();
        std::fs::write(dir.path().join(".env.prod"), "A=prod\n").unwrap();
        let mut s = service(json!({"service": "s", "provider": {"name": "aws",
            "environment": {"KEEP": "x"}}, "plugins": ["serverless-dotenv-plugin"],
            "custom": {"dotenv": {"exclude": ["B"]}}}));
        let mut o = options(&[]);
        o.cli.stage = Some("prod".into());
        // NODE_ENV would win over --stage; the test environment does not set it.
        if std::env::var_os("NODE_ENV").is_some() {
            return;
        }
        let t = prepare(&mut s, dir.path(), &o, None, &Collect::default()).unwrap();
        assert_eq!(t[0].treatment, Treatment::Native);
        let env = s.provider.environment.unwrap();
        let got: Vec<(&str, &str)> = env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(got, [("KEEP", "x"), ("A", "prod")]);
    }

    #[test]
    fn dotenv_is_not_applied_when_not_declared() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=1\n").unwrap();
        let mut s = service(json!({"service": "s", "provider": {"name": "aws"}}));
        prepare(&mut s, dir.path(), &options(&[]), None, &Collect::default()).unwrap();
        assert!(s.provider.environment.is_none());
    }

    #[test]
    fn an_unsupported_plugin_is_refused_before_the_credentials_when_it_can_be() {
        let dir = tempfile::tempdir().unwrap();
        let write = |yml: &str| std::fs::write(dir.path().join("serverless.yml"), yml).unwrap();
        let mut o = options(&[]);
        o.cwd = dir.path().to_path_buf();
        let refuse_early = |o: &ServiceOptions| {
            let file = crate::pipeline::service::load_file(o).unwrap();
            refuse_early(&file, o)
        };
        write("service: s\nprovider:\n  name: aws\nplugins:\n  - serverless-lift\n");
        let err = refuse_early(&o).unwrap_err().to_string();
        assert!(err.contains("serverless-lift"), "{err}");
        write(
            "service: s\nprovider:\n  name: aws\nplugins:\n  - serverless-lift\ncustom:\n  deployer:\n    ignorePlugins: [serverless-lift]\n",
        );
        refuse_early(&o).unwrap();
        // A variable under plugins: decided after resolution.
        write(
            "service: s\nprovider:\n  name: aws\nplugins:\n  - ${env:PLUGIN, 'serverless-lift'}\n",
        );
        refuse_early(&o).unwrap();
    }

    #[test]
    fn a_run_consults_the_plugin_table_once() {
        let dir = tempfile::tempdir().unwrap();
        let yml = "service: s\nprovider:\n  name: aws\nplugins:\n  - serverless-prune-plugin\n\
                   custom:\n  prune: {automatic: true, number: 2}\n";
        std::fs::write(dir.path().join("serverless.yml"), yml).unwrap();
        let mut o = options(&[]);
        o.cwd = dir.path().to_path_buf();
        let file = crate::pipeline::service::load_file(&o).unwrap();
        let before = CONSULTED.with(Cell::get);
        let early = refuse_early(&file, &o).unwrap();
        assert!(early.is_some(), "nothing in the plan needs resolving");
        let s = service(file.raw.clone());
        let plan = check(&s, &o, early.as_deref(), &Collect::default()).unwrap();
        assert!(prune_settings(&s, &plan).unwrap().is_some());
        assert_eq!(CONSULTED.with(Cell::get) - before, 1);
        // `custom` from a file may add ignored names: the plan waits for resolution.
        let yml = "service: s\nprovider:\n  name: aws\ncustom: ${file(custom.yml)}\n";
        std::fs::write(dir.path().join("serverless.yml"), yml).unwrap();
        let file = crate::pipeline::service::load_file(&o).unwrap();
        assert_eq!(refuse_early(&file, &o).unwrap(), None);
    }

    #[test]
    fn layer_names_come_from_the_template() {
        let t = json!({"Resources": {
            "UtilLambdaLayer": {"Type": "AWS::Lambda::LayerVersion",
                "Properties": {"LayerName": "util"}},
            "HelloLambdaFunction": {"Type": "AWS::Lambda::Function", "Properties": {}}}});
        assert_eq!(layer_names(&t), ["util"]);
    }

    #[test]
    fn prune_needs_the_plugin_declared() {
        let custom = json!({"prune": {"automatic": true, "number": 2}});
        let without = service(json!({"service": "s", "provider": {"name": "aws"},
            "custom": custom}));
        let plan = |s: &Service| check(s, &options(&[]), None, &Collect::default()).unwrap();
        assert_eq!(prune_settings(&without, &plan(&without)).unwrap(), None);
        let with = service(json!({"service": "s", "provider": {"name": "aws"},
            "plugins": ["serverless-prune-plugin"], "custom": custom}));
        let settings = prune_settings(&with, &plan(&with)).unwrap().unwrap();
        assert_eq!(settings.number, 2);
    }
}
