//! What each service's own configuration says before anything runs (offline): its stack
//! name, region, profile and the account it is pinned to. Two services with one stack name
//! are refused here.

use std::collections::BTreeMap;

use deployer_config::compose::{Compose, Member};
use deployer_config::{ConfigError, Problem, ResolveSettings};
use serde::Serialize;
use serde_json::Value;

use super::{ComposeOptions, Quiet, placeholder};
use crate::lockfile::LockFile;
use crate::pipeline::service::{self, ServiceOptions};

/// One service as its configuration declares it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// `service:`.
    pub service: String,
    /// The stack name.
    pub stack: String,
    /// The region.
    pub region: String,
    /// `provider.profile`, if any.
    pub profile: Option<String>,
    /// The account the stage is pinned to: the one `allowedAccountIds` holds, else the one
    /// `deployer.accounts.json` records; `None` when neither says one account.
    pub account: Option<String>,
    /// The configuration file.
    pub config_file: String,
    /// The keys of `resources.Outputs`; `None` when plugins are declared (they may add
    /// outputs of their own).
    #[serde(skip)]
    pub declared_outputs: Option<Vec<String>>,
}

/// Outputs Serverless adds to every stack that has the matching resources.
const GENERATED_OUTPUTS: [&str; 5] = [
    "ServerlessDeploymentBucketName",
    "ServiceEndpoint",
    "ServiceEndpointWebsocket",
    "HttpApiUrl",
    "HttpApiId",
];

/// Whether `key` can be an output of a stack whose configuration declares `declared`.
pub(crate) fn may_have_output(facts: &Facts, key: &str) -> bool {
    let Some(declared) = &facts.declared_outputs else {
        return true;
    };
    declared.iter().any(|d| d == key)
        || GENERATED_OUTPUTS.contains(&key)
        || key.ends_with("QualifiedArn")
        || key.ends_with("LambdaFunctionUrl")
}

/// Reads every service of `compose` (offline; output references as placeholders).
pub(crate) fn read_all(
    compose: &Compose,
    opts: &ComposeOptions,
) -> anyhow::Result<BTreeMap<String, Facts>> {
    let mut facts = BTreeMap::new();
    for (name, member) in &compose.services {
        let f = read(compose, member, opts)
            .map_err(|e| e.context(format!("service \"{name}\" ({})", member.path)))?;
        facts.insert(name.clone(), f);
    }
    duplicates(&facts)?;
    unknown_outputs(compose, &facts)?;
    Ok(facts)
}

fn read(compose: &Compose, member: &Member, opts: &ComposeOptions) -> anyhow::Result<Facts> {
    let params = member
        .params
        .iter()
        .map(|(k, t)| {
            format!(
                "{k}={}",
                t.render(&|r| Some(placeholder(r))).unwrap_or_default()
            )
        })
        .chain(opts.params.iter().cloned())
        .collect();
    let options = ServiceOptions {
        config: member.config.as_ref().map(Into::into),
        cwd: member.dir.clone(),
        cli: deployer_config::CliOptions {
            stage: Some(compose.stage.clone()),
            region: member.region.clone(),
            params,
            extra: opts.extra.clone(),
        },
        ignore_plugins: Vec::new(),
    };
    let source = service::load(&options, &Quiet)?;
    let only = |path: &str| -> anyhow::Result<Value> {
        let settings = ResolveSettings {
            aws_as_text: true,
            only: Some(path.to_string()),
            ..Default::default()
        };
        let resolved = source.resolve_with(&settings, &mut |_| Vec::new(), &Quiet)?;
        let mut value = &resolved.value;
        for key in path.split('.') {
            value = value.get(key).unwrap_or(&Value::Null);
        }
        Ok(value.clone())
    };
    let name = only("service")?.as_str().unwrap_or_default().to_string();
    let stage = &source.stage.stage;
    let stack = match only("provider.stackName")? {
        Value::String(s) if !s.is_empty() => s,
        _ => format!("{name}-{stage}"),
    };
    let allowed = &source.stage.allowed_account_ids;
    let recorded = LockFile::read(LockFile::next_to(&source.file.path)?)?
        .recorded(stage)
        .map(|r| r.account);
    let account = match allowed.as_slice() {
        [one] => Some(one.clone()),
        _ => recorded,
    };
    let plugins = source.file.raw.get("plugins").is_some_and(|p| !p.is_null());
    let declared_outputs = match only("resources.Outputs")? {
        _ if plugins => None,
        Value::Object(m) => Some(m.keys().cloned().collect()),
        _ => Some(Vec::new()),
    };
    Ok(Facts {
        declared_outputs,
        service: name,
        stack,
        region: source.stage.region.clone(),
        profile: source.stage.profile.clone(),
        account,
        config_file: source.file.path.display().to_string(),
    })
}

/// Two services deploying one stack (same region) would overwrite each other.
fn duplicates(facts: &BTreeMap<String, Facts>) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (name, f) in facts {
        if let Some(first) = seen.insert((&f.stack, &f.region), name) {
            problems.push(Problem {
                path: Some(format!("services.{name}")),
                message: format!(
                    "deploys stack \"{}\" in {}, as service \"{first}\" does; give one of \
                     them another `service:` name or provider.stackName",
                    f.stack, f.region
                ),
            });
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(
        ConfigError::with_problems("Two services of the compose file share a stack", problems)
            .into(),
    )
}

/// A reference to an output its producer's configuration cannot have.
fn unknown_outputs(compose: &Compose, facts: &BTreeMap<String, Facts>) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for (name, member) in &compose.services {
        for (key, r) in member.references() {
            let Some(producer) = facts.get(&r.service) else {
                continue;
            };
            if !may_have_output(producer, &r.output) {
                let declared = producer.declared_outputs.clone().unwrap_or_default();
                problems.push(Problem {
                    path: Some(format!("services.{name}.params.{key}")),
                    message: format!(
                        "{r}: {} declares no output {} (resources.Outputs has: {})",
                        producer.config_file,
                        r.output,
                        if declared.is_empty() {
                            "none".into()
                        } else {
                            declared.join(", ")
                        }
                    ),
                });
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(
        ConfigError::with_problems("A service reads an output that does not exist", problems)
            .into(),
    )
}
