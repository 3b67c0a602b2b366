//! `serverless-compose.yml`: several services deployed together, in the order their
//! dependencies give. The file is read and checked whole here (pure: no AWS, no service
//! configuration read), before anything runs; each service is then read by the caller
//! exactly as a single service is, with the params computed here as `--param key=value`.
//!
//! Accepted: `services.<name>.{path, config, region, params, dependsOn, component}` (the
//! Serverless Compose format), top-level `params`, and `stages.<stage|default>.params` (v4).
//! Precedence of params, lowest first: top-level `params`, `stages.default.params`,
//! `stages.<stage>.params`, `services.<name>.params`.

pub mod graph;
pub mod vars;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{ConfigError, Problem};
use crate::load::parse_document;
pub use vars::{Context, OutputRef, Piece, Template};

/// The compose file names, in the order they are looked for.
pub const FILE_NAMES: [&str; 3] = [
    "serverless-compose.yml",
    "serverless-compose.yaml",
    "serverless-compose.json",
];

/// Keys of the Framework's `serverless.yml` that are not compose settings.
const FRAMEWORK_KEYS: [&str; 10] = [
    "service",
    "provider",
    "functions",
    "frameworkVersion",
    "useDotenv",
    "package",
    "layers",
    "resources",
    "custom",
    "plugins",
];

const SERVICE_KEYS: [&str; 6] = [
    "path",
    "config",
    "region",
    "params",
    "dependsOn",
    "component",
];

/// The compose file of `dir`, when it has one.
pub fn find(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// A compose project read for one stage.
#[derive(Debug, Clone)]
pub struct Compose {
    /// The compose file.
    pub file: PathBuf,
    /// Its directory: service paths are relative to it.
    pub dir: PathBuf,
    /// The stage every service is deployed to.
    pub stage: String,
    /// The services, in the file's order.
    pub services: IndexMap<String, Member>,
    /// The services in waves (each depends only on earlier waves).
    pub waves: Vec<Vec<String>>,
}

/// One service of the compose file.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its key under `services`.
    pub name: String,
    /// `path` as written (variables resolved).
    pub path: String,
    /// The service directory.
    pub dir: PathBuf,
    /// `config`: the configuration file name, relative to `dir`.
    pub config: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// Every service it depends on: `dependsOn` and those its params reference.
    pub depends_on: Vec<String>,
    /// Its params, merged from every level, with output references kept.
    pub params: IndexMap<String, Template>,
}

impl Member {
    /// Every output reference of its params, with the param's name.
    pub fn references(&self) -> impl Iterator<Item = (&str, &OutputRef)> {
        self.params
            .iter()
            .flat_map(|(k, t)| t.outputs().map(move |r| (k.as_str(), r)))
    }
}

impl Compose {
    /// Each service and what it depends on.
    pub fn dependencies(&self) -> IndexMap<String, Vec<String>> {
        self.services
            .iter()
            .map(|(k, m)| (k.clone(), m.depends_on.clone()))
            .collect()
    }

    /// The names given with `--service`, checked (`Err`: unknown ones, with the known ones).
    pub fn select(&self, names: &[String]) -> Result<Vec<String>, ConfigError> {
        if names.is_empty() {
            return Ok(self.services.keys().cloned().collect());
        }
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !self.services.contains_key(*n))
            .collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = self.services.keys().map(String::as_str).collect();
            return Err(ConfigError::new(format!(
                "Unknown service {} in {}; its services are: {}",
                unknown
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.file.display(),
                known.join(", ")
            )));
        }
        Ok(self
            .services
            .keys()
            .filter(|k| names.contains(k))
            .cloned()
            .collect())
    }
}

/// Reads and checks the compose file `file` for the stage of `ctx`. Every problem is
/// reported at once, each at the path of its key.
pub fn read(file: &Path, ctx: &Context<'_>) -> Result<Compose, ConfigError> {
    let text = crate::limits::read_text(file)
        .map_err(ConfigError::new)?
        .ok_or_else(|| ConfigError::new(format!("{} does not exist", file.display())))?;
    let raw = parse_document(file, &text).map_err(ConfigError::new)?;
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut problems = Vec::new();
    let compose = from_value(&raw, file, &dir, ctx, &mut problems);
    match compose {
        Some(c) if problems.is_empty() => Ok(c),
        _ => Err(ConfigError::with_problems(
            format!("Invalid compose file {}", file.display()),
            problems,
        )),
    }
}

fn problem(problems: &mut Vec<Problem>, path: impl Into<String>, message: impl Into<String>) {
    problems.push(Problem {
        path: Some(path.into()),
        message: message.into(),
    });
}

fn from_value(
    raw: &Value,
    file: &Path,
    dir: &Path,
    ctx: &Context<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Compose> {
    let Some(top) = raw.as_object() else {
        problem(
            problems,
            "",
            "the compose file must be a mapping with `services`",
        );
        return None;
    };
    check_top_keys(top, problems);
    let shared = shared_params(top, ctx, problems);
    let Some(services) = top.get("services").and_then(Value::as_object) else {
        problem(
            problems,
            "services",
            "a mapping of service names to { path: … } is required",
        );
        return None;
    };
    let mut members = IndexMap::new();
    for (name, value) in services {
        if let Some(m) = member(name, value, dir, &shared, ctx, problems) {
            members.insert(name.clone(), m);
        }
    }
    check_references(&members, problems);
    // Unknown services are reported above; left out here so the graph is still checked.
    let deps: IndexMap<String, Vec<String>> = members
        .iter()
        .map(|(k, m)| {
            let known = m.depends_on.iter().filter(|d| members.contains_key(*d));
            (k.clone(), known.cloned().collect())
        })
        .collect();
    let waves = match graph::waves(&deps) {
        Ok(w) => w,
        Err(cycle) => {
            problem(
                problems,
                "services",
                format!("circular dependencies: {}", cycle.join(" → ")),
            );
            Vec::new()
        }
    };
    Some(Compose {
        file: file.to_path_buf(),
        dir: dir.to_path_buf(),
        stage: ctx.stage.to_string(),
        services: members,
        waves,
    })
}

fn check_top_keys(top: &Map<String, Value>, problems: &mut Vec<Problem>) {
    for key in top.keys() {
        match key.as_str() {
            "services" | "params" | "stages" => {}
            "state" => problem(
                problems,
                "state",
                "deployer keeps no compose state: each producer's outputs are read from its \
                 CloudFormation stack; remove `state`",
            ),
            k if FRAMEWORK_KEYS.contains(&k) => problem(
                problems,
                k,
                "a service setting, not a compose setting: put it in the service's own \
                 serverless.yml",
            ),
            _ => problem(
                problems,
                key.as_str(),
                "unknown key; a compose file has `services`, `params` and `stages`",
            ),
        }
    }
}

/// Top-level `params`, then `stages.default.params`, then `stages.<stage>.params`.
fn shared_params(
    top: &Map<String, Value>,
    ctx: &Context<'_>,
    problems: &mut Vec<Problem>,
) -> IndexMap<String, Template> {
    let mut out = IndexMap::new();
    params_into(&mut out, top.get("params"), "params", ctx, problems);
    let Some(stages) = top.get("stages") else {
        return out;
    };
    let Some(stages) = stages.as_object() else {
        problem(problems, "stages", "must map stage names to { params: … }");
        return out;
    };
    for (stage, block) in stages {
        let at = format!("stages.{stage}");
        let Some(block) = block.as_object() else {
            problem(problems, at, "must be a mapping with `params`");
            continue;
        };
        for key in block.keys().filter(|k| *k != "params") {
            problem(
                problems,
                format!("{at}.{key}"),
                "unknown key; a stage has `params`",
            );
        }
    }
    for stage in ["default", ctx.stage] {
        let value = stages.get(stage).and_then(|b| b.get("params"));
        let at = format!("stages.{stage}.params");
        params_into(&mut out, value, &at, ctx, problems);
    }
    for (key, t) in &out {
        if let Some(r) = t.outputs().next() {
            problem(
                problems,
                key.as_str(),
                format!("{r}: output references go in services.<name>.params"),
            );
        }
    }
    out
}

fn params_into(
    out: &mut IndexMap<String, Template>,
    value: Option<&Value>,
    at: &str,
    ctx: &Context<'_>,
    problems: &mut Vec<Problem>,
) {
    let Some(value) = value else { return };
    let Some(map) = value.as_object() else {
        problem(problems, at, "must be a mapping of names to values");
        return;
    };
    for (key, v) in map {
        match vars::template(v, ctx) {
            Ok(t) => {
                out.insert(key.clone(), t);
            }
            Err(e) => problem(problems, format!("{at}.{key}"), e),
        }
    }
}

fn member(
    name: &str,
    value: &Value,
    dir: &Path,
    shared: &IndexMap<String, Template>,
    ctx: &Context<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Member> {
    let at = format!("services.{name}");
    let Some(map) = value.as_object() else {
        problem(problems, at, "must be a mapping with `path`");
        return None;
    };
    for key in map.keys().filter(|k| !SERVICE_KEYS.contains(&k.as_str())) {
        problem(
            problems,
            format!("{at}.{key}"),
            "unknown key; a service has path, config, region, params and dependsOn",
        );
    }
    if let Some(c) = map.get("component")
        && c.as_str() != Some("serverless-framework")
    {
        problem(
            problems,
            format!("{at}.component"),
            "only the serverless-framework component is supported: deploy this service with its \
             own tool, remove it from the compose file, and pass what it exports through \
             params (or remove the key when it is a Serverless Framework service)",
        );
    }
    let text = |key: &str, problems: &mut Vec<Problem>| -> Option<String> {
        let v = map.get(key)?;
        let resolved = v
            .as_str()
            .ok_or_else(|| "must be a string".to_string())
            .and_then(|s| vars::plain(s, ctx));
        resolved
            .map_err(|e| problem(problems, format!("{at}.{key}"), e))
            .ok()
    };
    let Some(path) = text("path", problems) else {
        if !map.contains_key("path") {
            problem(
                problems,
                format!("{at}.path"),
                "required: the service's folder",
            );
        }
        return None;
    };
    let service_dir = dir.join(&path);
    if !service_dir.is_dir() {
        problem(
            problems,
            format!("{at}.path"),
            format!("folder {} does not exist", service_dir.display()),
        );
    }
    let config = text("config", problems);
    if let Some(config) = &config
        && service_dir.is_dir()
        && !service_dir.join(config).is_file()
    {
        problem(
            problems,
            format!("{at}.config"),
            format!("{} does not exist", service_dir.join(config).display()),
        );
    }
    let region = text("region", problems);
    let mut params = shared.clone();
    params_into(
        &mut params,
        map.get("params"),
        &format!("{at}.params"),
        ctx,
        problems,
    );
    let mut depends_on = depends_on(map.get("dependsOn"), &at, problems);
    for r in params.values().flat_map(Template::outputs) {
        if !depends_on.contains(&r.service) {
            depends_on.push(r.service.clone());
        }
    }
    Some(Member {
        name: name.to_string(),
        path,
        dir: service_dir,
        config,
        region,
        depends_on,
        params,
    })
}

fn depends_on(value: Option<&Value>, at: &str, problems: &mut Vec<Problem>) -> Vec<String> {
    let at = format!("{at}.dependsOn");
    match value {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    problem(problems, format!("{at}.{i}"), "must be a service name");
                    None
                }
            })
            .collect(),
        Some(_) => {
            problem(problems, at, "must be a service name or a list of them");
            Vec::new()
        }
    }
}

/// Every `dependsOn` and output reference names a service of the file.
fn check_references(members: &IndexMap<String, Member>, problems: &mut Vec<Problem>) {
    let mut found = Vec::new();
    for (name, m) in members {
        for (key, r) in m.references() {
            if !members.contains_key(&r.service) {
                found.push((
                    format!("services.{name}.params.{key}"),
                    format!(
                        "{r} references service \"{}\", which the file does not have",
                        r.service
                    ),
                ));
            }
        }
        for dep in &m.depends_on {
            let referenced = m.references().any(|(_, r)| &r.service == dep);
            if !members.contains_key(dep) && !referenced {
                found.push((
                    format!("services.{name}.dependsOn"),
                    format!("service \"{dep}\" does not exist in the file"),
                ));
            }
        }
    }
    for (path, message) in found {
        problem(problems, path, message);
    }
}

#[cfg(test)]
mod tests;
