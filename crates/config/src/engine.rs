//! The variable engine: resolves every `${…}` of a configuration the way Serverless v3 does.
//!
//! Each string value with variables is a *property*. Properties resolve on demand: a `self`
//! reference to another property resolves that one first (a stack of properties in progress
//! detects cycles). Sources that need AWS are answered by the caller in rounds: a property
//! that needs an answer not known yet is *blocked*; after a round, all distinct requests go
//! to the caller at once, and the blocked properties are tried again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::rc::Rc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::dotenv::{self, Dotenv, Layered};
use crate::env::Env;
use crate::error::{ConfigError, Problem};
use crate::limits::{
    self, MAX_EVALUATION_DEPTH, MAX_REFERENCE_CHAIN, MAX_RESOLUTION_STEPS, MAX_RESOLVED_BYTES,
    MAX_RESOLVED_DEPTH, MAX_STRING_BYTES,
};
use crate::load::{ConfigFile, parse_document};
use crate::parse::{Arg, KNOWN_SOURCES, Part, Source, SourceRef, Template, Var, excerpt, scan};

/// How deep values that contain variables may resolve to values that contain variables.
const MAX_DEPTH: u32 = 10;

/// The options of the command line that variables can see (`${opt:…}`, `${param:…}`) and
/// that choose the stage and region.
#[derive(Debug, Clone, Default)]
pub struct CliOptions {
    /// `--stage/-s`.
    pub stage: Option<String>,
    /// `--region/-r`.
    pub region: Option<String>,
    /// Raw `key=value` strings from `--param` (repeatable; the last one of a key wins).
    pub params: Vec<String>,
    /// Every other option the current command declares, by its long name without dashes
    /// (`aws-profile`, `force`, `config`, `verbose`), for `${opt:<name>}` and `${opt:}`. As in
    /// Serverless v3, an option that was not given is `null` (a boolean flag too, so
    /// `${opt:force, false}` falls back); a flag that was given is `true`. A name not in this
    /// map (nor `stage`, `region`, `param`) has no value and fails with a suggestion.
    pub extra: BTreeMap<String, Value>,
}

/// A value only the caller can fetch (from AWS): `${ssm:/x}`, `${cf:stack.Output}`,
/// `${s3:bucket/key}`, `${aws:accountId}`, or a source the caller declared.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalRequest {
    /// The source name (`ssm`, `cf`, `s3`, `aws`, …).
    pub source: String,
    /// Resolved params (`${ssm(eu-west-1, raw):/x}` → `["eu-west-1", "raw"]`).
    pub params: Vec<Value>,
    /// Resolved address (`/x`), if any.
    pub address: Option<String>,
}

impl ExternalRequest {
    fn key(&self) -> String {
        serde_json::to_string(&(&self.source, &self.params, &self.address)).unwrap_or_default()
    }
}

impl fmt::Display for ExternalRequest {
    /// The variable as it would be written: `${ssm(raw):/path}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}", self.source)?;
        if !self.params.is_empty() {
            let params: Vec<String> = self
                .params
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            write!(f, "({})", params.join(", "))?;
        }
        match &self.address {
            Some(a) => write!(f, ":{a}}}"),
            None if self.params.is_empty() => f.write_str(":}"),
            None => f.write_str("}"),
        }
    }
}

/// Settings of a full resolution beyond the command line.
#[derive(Debug, Clone, Default)]
pub struct ResolveSettings {
    /// `${sls:instanceId}`; `None` = the current time in milliseconds (as v3).
    pub instance_id: Option<String>,
    /// Extra source names answered by the `external` callback (besides `aws:accountId`,
    /// `cf`, `ssm` and `s3`).
    pub external_sources: Vec<String>,
    /// Keep each variable that needs AWS as it is written (`${ssm:/x}`), without asking the
    /// `external` callback: a resolution that needs no credentials (`print --offline`).
    pub aws_as_text: bool,
    /// Resolve only the value at this dotted path (`provider.profile`, `functions.a.events.0`)
    /// and what it depends on; every other property keeps its variables. `None` = everything.
    pub only: Option<String>,
}

/// The fully resolved configuration.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration with every variable resolved (`provider.stage` keeps the file's value).
    pub value: Value,
    /// The effective stage: `--stage` > `provider.stage` > `dev`.
    pub stage: String,
    /// The effective region: `--region` > `provider.region` > `us-east-1`.
    pub region: String,
    /// `${sls:instanceId}` of this run.
    pub instance_id: String,
    /// Things that resolved but are likely mistakes (e.g. `${self.custom.x}` kept as text).
    pub warnings: Vec<String>,
    /// The `.env.<stage>` or `.env` file loaded for `useDotenv: true`, if any.
    pub dotenv: Option<PathBuf>,
}

/// What the early phase resolves: everything needed to choose and check credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSettings {
    /// The effective stage: `--stage` > `provider.stage` > `dev`.
    pub stage: String,
    /// The effective region: `--region` > `provider.region` > `us-east-1` (never `AWS_REGION`).
    pub region: String,
    /// `provider.profile`, resolved.
    pub profile: Option<String>,
    /// `provider.allowedAccountIds`: 12-digit account IDs the stage may deploy to.
    pub allowed_account_ids: Vec<String>,
    /// `provider.forbiddenAccountIds`: 12-digit account IDs the stage must never deploy to.
    pub forbidden_account_ids: Vec<String>,
    /// Warnings about the properties this phase resolved.
    pub warnings: Vec<String>,
    /// The `.env.<stage>` or `.env` file loaded for `useDotenv: true`, if any.
    pub dotenv: Option<PathBuf>,
    /// The stage's protection and the setting that protects it (`crate::protect`).
    pub protection: Option<crate::protect::Protection>,
}

/// The answer callback of [`resolve`]: one result per request, in order.
pub type ExternalFn<'a> = dyn FnMut(&[ExternalRequest]) -> Vec<Result<Option<Value>, String>> + 'a;

/// Early phase: resolves the stage, region, `provider.profile` and the account pins from
/// offline sources only (`self`, `opt`, `env`, `file`, `sls`, `param`, `strToBool`,
/// `aws:region`), before any credentials exist. Only the properties these settings need are
/// resolved, so a broken property elsewhere does not stop this phase. With `useDotenv: true`,
/// `${env:…}` also sees the variables of `.env.<stage>` (else `.env`), under `env`.
pub fn resolve_stage(
    file: &ConfigFile,
    opts: &CliOptions,
    env: &dyn Env,
) -> Result<StageSettings, ConfigError> {
    let dotenv = load_dotenv(file, opts, env)?;
    let layered = Layered {
        base: env,
        file: dotenv.as_ref().map(|d| &d.vars),
    };
    let mut e = Engine::new(
        file,
        opts,
        &layered,
        Phase::Early,
        &ResolveSettings::default(),
    )?;
    let stage = e.top(Engine::stage);
    let region = e.top(Engine::region);
    let profile = e.top(|e| e.lookup_path(&["provider", "profile"]));
    let allowed = e.top(|e| e.lookup_path(&["provider", "allowedAccountIds"]));
    let forbidden = e.top(|e| e.lookup_path(&["provider", "forbiddenAccountIds"]));
    let mut lookup = |path: &[&str]| e.top(|e| e.lookup_path(path)).flatten();
    let sources = crate::protect::ProtectionSources {
        protect: lookup(&["custom", "deployer", "protect"]),
        deletion_protection: lookup(&["provider", "deletionProtection"]),
        plugins: lookup(&["plugins"]),
        plugin_stages: lookup(&["custom", "serverlessTerminationProtection", "stages"]),
    };
    let mut extra = Vec::new();
    let mut check = |path: &str, r: Result<(), String>| {
        if let Err(message) = r {
            extra.push(Problem {
                path: Some(path.to_string()),
                message,
            });
        }
    };
    let mut settings = StageSettings {
        stage: String::new(),
        region: String::new(),
        profile: None,
        allowed_account_ids: Vec::new(),
        forbidden_account_ids: Vec::new(),
        warnings: Vec::new(),
        dotenv: None,
        protection: None,
    };
    if let Some(stage) = stage {
        check("provider.stage", validate_stage(&stage));
        settings.stage = stage;
    }
    if let Some(region) = region {
        settings.region = region;
    }
    if let Some(profile) = profile {
        match profile {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if !s.trim().is_empty() => settings.profile = Some(s),
            Some(other) => check(
                "provider.profile",
                Err(format!(
                    "expected the name of an AWS profile, found {}",
                    describe(&other)
                )),
            ),
        }
    }
    if let Some(v) = allowed {
        check(
            "provider.allowedAccountIds",
            account_ids(v, &settings.stage).map(|ids| settings.allowed_account_ids = ids),
        );
    }
    if let Some(v) = forbidden {
        check(
            "provider.forbiddenAccountIds",
            account_ids(v, &settings.stage).map(|ids| settings.forbidden_account_ids = ids),
        );
    }
    match crate::protect::protection(&sources, &settings.stage) {
        Ok(p) => settings.protection = p,
        Err((path, message)) => check(path, Err(message)),
    }
    let dotenv_warnings = dotenv_warnings(dotenv.as_ref());
    e.finish(extra)
        .map_err(|err| prepend_warnings(err, &dotenv_warnings))?;
    let touched: Vec<&Path> = e
        .props
        .iter()
        .filter(|(_, p)| !matches!(p, Prop::Pending(_)))
        .map(|(k, _)| k)
        .collect();
    settings.warnings = e
        .warnings
        .iter()
        .filter(|(path, _)| {
            touched.contains(&path)
                || e.reads.iter().any(|r| path.starts_with(r))
                || [
                    "stage",
                    "region",
                    "profile",
                    "allowedAccountIds",
                    "forbiddenAccountIds",
                ]
                .iter()
                .any(|k| path.starts_with(&[Seg::Key("provider".into()), Seg::Key((*k).into())]))
        })
        .map(|(path, w)| format_warning(path, w))
        .collect();
    settings.warnings.dedup();
    settings.warnings.splice(0..0, dotenv_warnings);
    settings.dotenv = dotenv.map(|d| d.path);
    Ok(settings)
}

/// Full resolution with default [`ResolveSettings`]. `external` answers AWS-backed sources
/// (`aws:accountId`, `cf`, `ssm`, `s3`) in batches of distinct requests; `Ok(None)` = not
/// found (a fallback applies), `Err(msg)` = an error reported at the property.
pub fn resolve(
    file: &ConfigFile,
    opts: &CliOptions,
    env: &dyn Env,
    external: &mut ExternalFn<'_>,
) -> Result<Resolved, ConfigError> {
    resolve_with(file, opts, env, &ResolveSettings::default(), external)
}

/// Full resolution with explicit [`ResolveSettings`] (fixed instance id, extra sources).
/// With `useDotenv: true`, `${env:…}` also sees the variables of `.env.<stage>` (else `.env`).
pub fn resolve_with(
    file: &ConfigFile,
    opts: &CliOptions,
    env: &dyn Env,
    settings: &ResolveSettings,
    external: &mut ExternalFn<'_>,
) -> Result<Resolved, ConfigError> {
    let dotenv = load_dotenv(file, opts, env)?;
    let layered = Layered {
        base: env,
        file: dotenv.as_ref().map(|d| &d.vars),
    };
    let mut e = Engine::new(file, opts, &layered, Phase::Full, settings)?;
    match &settings.only {
        None => e.resolve_everything(external),
        Some(path) => e.resolve_only(path, external),
    }
    let stage = e.top(Engine::stage);
    let region = e.top(Engine::region);
    let mut warnings = dotenv_warnings(dotenv.as_ref());
    e.finish(Vec::new())
        .map_err(|err| prepend_warnings(err, &warnings))?;
    // With `only`, the warnings of what was resolved and of what the path holds.
    let wanted = |p: &Path| match &settings.only {
        None => true,
        Some(only) => e.touched(p) || within(&show(p), only),
    };
    let mut own: Vec<String> = e
        .warnings
        .iter()
        .filter(|(p, _)| wanted(p))
        .map(|(p, w)| format_warning(p, w))
        .collect();
    own.dedup();
    warnings.append(&mut own);
    Ok(Resolved {
        value: e.config,
        stage: stage.unwrap_or_default(),
        region: region.unwrap_or_default(),
        instance_id: e.instance_id,
        warnings,
        dotenv: dotenv.map(|d| d.path),
    })
}

/// `useDotenv: true` (Serverless v3 `conditionally-load-dotenv`): resolves `useDotenv` and the
/// stage first, with `env` lookups that miss recorded; then reads `.env.<stage>` from the
/// service directory, or `.env` only when that file does not exist. A variable that was
/// missing in that first pass but is defined by the file is a conflict: the choice of the file
/// would depend on the file.
fn load_dotenv(
    file: &ConfigFile,
    opts: &CliOptions,
    env: &dyn Env,
) -> Result<Option<Dotenv>, ConfigError> {
    if file.raw.get("useDotenv").is_none() {
        return Ok(None);
    }
    let mut e = Engine::new(file, opts, env, Phase::Early, &ResolveSettings::default())?;
    let use_dotenv = match e.top(|e| e.lookup_path(&["useDotenv"])) {
        Some(None | Some(Value::Null | Value::Bool(false))) => false,
        Some(Some(Value::Bool(true))) => true,
        Some(Some(other)) => {
            e.finish(vec![Problem {
                path: Some("useDotenv".into()),
                message: format!("expected true or false, found {}", describe(&other)),
            }])?;
            false
        }
        None => {
            e.finish(Vec::new())?;
            false
        }
    };
    if !use_dotenv {
        return Ok(None);
    }
    let stage = e.top(Engine::stage);
    e.finish(Vec::new())?;
    let stage = stage.unwrap_or_default();
    if let Err(message) = validate_stage(&stage) {
        return Err(ConfigError::with_problems(
            format!("Cannot load the .env file of {}:", file.path.display()),
            vec![Problem {
                path: Some("provider.stage".into()),
                message,
            }],
        ));
    }
    let mut path = file.dir.join(format!(".env.{stage}"));
    let mut text = read_optional(&path)?;
    if text.is_none() {
        path = file.dir.join(".env");
        text = read_optional(&path)?;
    }
    let Some(text) = text else {
        return Ok(None);
    };
    let parsed = dotenv::parse(&text);
    let (vars, expand_warnings) = dotenv::expand(&parsed, env).map_err(|m| {
        ConfigError::new(format!(
            "Failed to load environment variables from {}: {m}",
            path.display()
        ))
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let conflicts: Vec<Problem> = e
        .env_misses
        .iter()
        .filter(|m| vars.contains_key(&m.name))
        .map(|m| {
            let via = match &m.root {
                Some(root) if root != &m.at => format!(" (read by \"{}\")", show(root)),
                _ => String::new(),
            };
            Problem {
                path: Some(show(&m.at)),
                message: format!(
                    "${{env:{var}}}{via} is not set in the environment but is defined in {name}; \
                     \"provider.stage\" and \"useDotenv\" are resolved before the .env file is \
                     loaded (the stage chooses the file), so they cannot use its variables: set \
                     {var} in the environment, pass --stage, or stop reading it there",
                    var = m.name
                ),
            }
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(ConfigError::with_problems(
            format!(
                "Cannot reliably resolve \"env\" variables of {} due to resolution conflict:",
                file.path.display()
            ),
            conflicts,
        ));
    }
    let mut warnings: Vec<String> = parsed
        .skipped
        .iter()
        .map(|line| {
            format!("{name}: line {line} is not KEY=value and is ignored (as Serverless v3 does)")
        })
        .collect();
    warnings.extend(expand_warnings.into_iter().map(|w| format!("{name}: {w}")));
    Ok(Some(Dotenv {
        path,
        vars,
        warnings,
    }))
}

/// The text of a file, `None` when it does not exist.
/// Whether the dotted `path` is `outer` or inside it (`""` holds everything).
fn within(path: &str, outer: &str) -> bool {
    let outer = outer.trim_matches('.');
    outer.is_empty()
        || path == outer
        || path
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn read_optional(path: &FsPath) -> Result<Option<String>, ConfigError> {
    crate::limits::read_text(path).map_err(|e| {
        ConfigError::new(format!(
            "Failed to load environment variables from {}: {e}",
            path.display()
        ))
    })
}

fn dotenv_warnings(dotenv: Option<&Dotenv>) -> Vec<String> {
    dotenv.map(|d| d.warnings.clone()).unwrap_or_default()
}

fn prepend_warnings(err: ConfigError, first: &[String]) -> ConfigError {
    if first.is_empty() {
        return err;
    }
    let mut all = first.to_vec();
    all.extend(err.warnings().iter().cloned());
    err.with_warnings(all)
}

fn format_warning(path: &Path, warning: &str) -> String {
    if path.is_empty() {
        warning.to_string()
    } else {
        format!("{}: {warning}", show(path))
    }
}

/// Stage names as v3's schema allows them (they become part of stack and resource names).
fn validate_stage(stage: &str) -> Result<(), String> {
    if !stage.is_empty()
        && stage
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
    {
        Ok(())
    } else {
        Err(format!(
            "stage \"{stage}\" is not valid: use letters, digits and \"-\" only"
        ))
    }
}

/// A string or a list of 12-digit account IDs.
/// The account IDs of a pin. `None` = the key is absent (no pin). A declared pin that
/// resolves to nothing (`~`, `null`, a `null` fallback, a missing map entry, `[]`, `''`) is an
/// error: treating it as "no pin" would turn the account guard off.
fn account_ids(v: Option<Value>, stage: &str) -> Result<Vec<String>, String> {
    let empty = |what: &str| {
        Err(format!(
            "is declared but resolved to {what} for stage \"{stage}\", which would turn the \
             account guard off; give the stage its 12-digit account ID (for a map, add the \
             \"{stage}\" entry), or remove the key to deploy without a pin"
        ))
    };
    let items = match v {
        None => return Ok(Vec::new()),
        Some(Value::Null) => return empty("null"),
        Some(Value::Array(items)) if items.is_empty() => return empty("an empty list"),
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
    };
    if items
        .iter()
        .all(|i| matches!(i, Value::String(s) if s.trim().is_empty()))
    {
        return empty("an empty string");
    }
    items
        .into_iter()
        .map(|item| {
            let (id, was_number) = match item {
                Value::String(s) => (s.trim().to_string(), false),
                Value::Number(n) => (n.to_string(), true),
                other => {
                    return Err(format!(
                        "expected 12-digit AWS account IDs, found {}",
                        describe(&other)
                    ));
                }
            };
            if id.len() == 12 && id.bytes().all(|c| c.is_ascii_digit()) {
                Ok(id)
            } else if was_number {
                Err(format!(
                    "{id} is not a 12-digit AWS account ID; quote account IDs in YAML \
                     ('012345678901'), or a leading 0 is lost"
                ))
            } else {
                Err(format!("\"{id}\" is not a 12-digit AWS account ID"))
            }
        })
        .collect()
}

/// One step of a property path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Seg {
    Key(String),
    Idx(usize),
}

pub(crate) type Path = Vec<Seg>;

/// A property path as users write it in `${self:…}`: `functions.hello.events.0.schedule`.
pub(crate) fn show(path: &[Seg]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match seg {
            Seg::Key(k) => out.push_str(k),
            Seg::Idx(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

enum Prop {
    Pending(Rc<Template>),
    Failed(String),
    Done,
}

/// Why a value could not be produced.
enum Fail {
    /// An error of the property being resolved.
    Msg(String),
    /// Waiting for answers from the caller.
    Blocked,
    /// A cycle closing at `root`: every property on it reports `msg`.
    Cycle { msg: String, root: Path },
    /// A property this one depends on failed.
    Dep(Path),
    /// A source that needs AWS while AWS-backed variables are kept as written: the
    /// outermost variable around it becomes its own text.
    AsText,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Phase {
    Early,
    Full,
}

type FileCache = HashMap<PathBuf, Rc<Result<Option<Value>, String>>>;

/// A property whose whole value is one variable, being evaluated: an object or array a source
/// of that variable returns is placed into the configuration as it is, and its variables
/// become properties of their own, as in v3. Resolved inside the property instead, a `self:`
/// reference from an included file back into the part it fills would look like a cycle.
struct Placing {
    /// The evaluation level ([`Engine::active`]) of the property's own variable.
    active: usize,
    /// Whether a source returned its value unresolved, to be placed.
    deferred: bool,
}

struct Engine<'a> {
    file: &'a ConfigFile,
    opts: &'a CliOptions,
    cli_params: Vec<(String, String)>,
    env: &'a dyn Env,
    phase: Phase,
    external_sources: Vec<String>,
    /// [`ResolveSettings::aws_as_text`].
    aws_as_text: bool,
    /// How many variable params / addresses are being evaluated inside one another: an AWS
    /// source kept as text turns the outermost variable into text, not the inner one.
    arg_depth: u32,
    config: Value,
    props: IndexMap<Path, Prop>,
    stack: Vec<Path>,
    warnings: Vec<(Path, String)>,
    instance_id: String,
    stage: Option<String>,
    region: Option<String>,
    files: FileCache,
    answers: HashMap<String, Result<Option<Value>, String>>,
    needed: Vec<ExternalRequest>,
    needed_keys: HashSet<String>,
    /// Why the last source tried found nothing, for the "Value not found" message.
    miss: Option<String>,
    /// Problems that belong to no property (or to one without variables).
    extra: Vec<Problem>,
    /// Early phase: every path read, to report only the warnings that matter there.
    reads: Vec<Path>,
    /// `${env:…}` lookups that found nothing (for the `useDotenv` conflict check).
    env_misses: Vec<EnvMiss>,
    /// Variables evaluated so far (at most [`MAX_RESOLUTION_STEPS`]).
    steps: u64,
    /// Evaluations in progress, inside one another (at most [`MAX_EVALUATION_DEPTH`]).
    active: usize,
    /// Bytes of values produced or copied so far (at most [`MAX_RESOLVED_BYTES`]).
    work_bytes: usize,
    /// The limit that stopped the resolution: reported alone, since every property evaluated
    /// after it fails the same way.
    fatal: Option<Problem>,
    /// Every property path in lexicographic order: the properties under a path are a run.
    sorted_props: Vec<Path>,
    /// Paths whose properties inside are all resolved (their lookups skip the search).
    complete: HashSet<Path>,
    /// The property being evaluated, when its value may be placed (see [`Placing`]).
    placing: Option<Placing>,
    /// How many values with variables each property placed from an included value sits in
    /// (at most [`MAX_DEPTH`], as values resolved in place).
    nest: HashMap<Path, u32>,
}

/// An `${env:NAME}` that was not set: at which property, read on behalf of which.
struct EnvMiss {
    name: String,
    at: Path,
    root: Option<Path>,
}

impl<'a> Engine<'a> {
    fn new(
        file: &'a ConfigFile,
        opts: &'a CliOptions,
        env: &'a dyn Env,
        phase: Phase,
        settings: &ResolveSettings,
    ) -> Result<Self, ConfigError> {
        let mut cli_params = Vec::with_capacity(opts.params.len());
        for raw in &opts.params {
            match raw.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    cli_params.push((k.trim().to_string(), v.trim_end().to_string()))
                }
                _ => {
                    return Err(ConfigError::new(format!(
                        "--param \"{raw}\" is not valid: write --param key=value"
                    )));
                }
            }
        }
        let instance_id = settings.instance_id.clone().unwrap_or_else(|| {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            ms.to_string()
        });
        let mut e = Engine {
            file,
            opts,
            cli_params,
            env,
            phase,
            external_sources: settings.external_sources.clone(),
            aws_as_text: settings.aws_as_text,
            arg_depth: 0,
            config: file.raw.clone(),
            props: IndexMap::new(),
            stack: Vec::new(),
            warnings: Vec::new(),
            instance_id,
            stage: None,
            region: None,
            files: HashMap::new(),
            answers: HashMap::new(),
            needed: Vec::new(),
            needed_keys: HashSet::new(),
            miss: None,
            extra: Vec::new(),
            reads: Vec::new(),
            env_misses: Vec::new(),
            steps: 0,
            active: 0,
            work_bytes: 0,
            fatal: None,
            sorted_props: Vec::new(),
            complete: HashSet::new(),
            placing: None,
            nest: HashMap::new(),
        };
        let mut config = std::mem::take(&mut e.config);
        let mut path = Vec::new();
        collect(&mut config, &mut path, &mut e.props, &mut e.warnings);
        e.config = config;
        e.sorted_props = e.props.keys().cloned().collect();
        e.sorted_props.sort();
        Ok(e)
    }

    /// Runs a top-level step; its failure is recorded (on the property, or as an extra problem).
    fn top<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Fail>) -> Option<T> {
        match f(self) {
            Ok(v) => Some(v),
            Err(Fail::Msg(message)) => {
                self.extra.push(Problem {
                    path: None,
                    message,
                });
                None
            }
            Err(Fail::Blocked) => {
                self.extra.push(Problem {
                    path: None,
                    message: "needs values from AWS that were not provided".into(),
                });
                None
            }
            Err(Fail::AsText) => {
                self.extra.push(Problem {
                    path: None,
                    message: "needs values from AWS, which this command keeps as written".into(),
                });
                None
            }
            Err(Fail::Cycle { .. } | Fail::Dep(_)) => None,
        }
    }

    /// Turns recorded failures into the error, if any.
    fn finish(&mut self, extra: Vec<Problem>) -> Result<(), ConfigError> {
        if let Some(problem) = self.fatal.take() {
            return Err(ConfigError::with_problems(
                format!(
                    "Cannot resolve {}: a resolution limit was reached:",
                    self.file.path.display()
                ),
                vec![problem],
            ));
        }
        let mut problems: Vec<Problem> = self
            .props
            .iter()
            .filter_map(|(path, p)| match p {
                Prop::Failed(m) => Some(Problem {
                    path: Some(show(path)),
                    message: m.clone(),
                }),
                _ => None,
            })
            .collect();
        problems.append(&mut self.extra);
        problems.extend(extra);
        if problems.is_empty() {
            return Ok(());
        }
        let n = problems.len();
        Err(ConfigError::with_problems(
            format!(
                "Cannot resolve {}: {n} {} failed:",
                self.file.path.display(),
                if n == 1 { "property" } else { "properties" }
            ),
            problems,
        )
        .with_warnings(
            self.warnings
                .iter()
                .map(|(p, w)| format_warning(p, w))
                .collect(),
        ))
    }

    /// Resolves every property, in rounds of answers from `external`.
    fn resolve_everything(&mut self, external: &mut ExternalFn<'_>) {
        loop {
            // By index: placed values add properties while this runs.
            let mut i = 0;
            while let Some(path) = self.props.get_index(i).map(|(p, _)| p.clone()) {
                // Failures are recorded on the property; blocked ones are retried next round.
                let _ = self.resolve_prop(&path);
                if self.fatal.is_some() {
                    return;
                }
                i += 1;
            }
            if self.needed.is_empty() {
                return;
            }
            self.answer_round(external);
        }
    }

    /// Resolves the value at the dotted `path` (and what it depends on), in rounds of answers
    /// from `external`. Under `functions`, `service` too: a function's derived name needs it.
    fn resolve_only(&mut self, path: &str, external: &mut ExternalFn<'_>) {
        let keys: Vec<&str> = path.split('.').filter(|k| !k.is_empty()).collect();
        let mut targets = vec![keys.clone()];
        if keys.first().is_none_or(|k| *k == "functions") {
            targets.push(vec!["service"]);
        }
        loop {
            let mut blocked = false;
            for target in &targets {
                match self.lookup_path(target) {
                    Err(Fail::Blocked) => blocked = true,
                    Err(Fail::Msg(message)) if self.fatal.is_none() => {
                        self.extra.push(Problem {
                            path: Some(path.to_string()),
                            message,
                        });
                    }
                    _ => {}
                }
            }
            if !blocked || self.fatal.is_some() || self.needed.is_empty() {
                return;
            }
            self.answer_round(external);
        }
    }

    /// Asks `external` for every request of the last round and records the answers.
    fn answer_round(&mut self, external: &mut ExternalFn<'_>) {
        let requests = std::mem::take(&mut self.needed);
        self.needed_keys.clear();
        let mut answers = external(&requests).into_iter();
        for request in requests {
            let answer = answers
                .next()
                .unwrap_or_else(|| Err(format!("no answer was given for {request}")));
            self.answers.insert(request.key(), answer);
        }
    }

    /// Whether the property at `path` (or one inside it) was resolved or failed.
    fn touched(&self, path: &Path) -> bool {
        self.props
            .iter()
            .any(|(p, prop)| p.starts_with(path) && !matches!(prop, Prop::Pending(_)))
    }

    fn resolve_prop(&mut self, path: &Path) -> Result<(), Fail> {
        let tpl = match self.props.get(path) {
            None | Some(Prop::Done) => return Ok(()),
            Some(Prop::Failed(_)) => return Err(Fail::Dep(path.clone())),
            Some(Prop::Pending(t)) => t.clone(),
        };
        if self.stack.contains(path) {
            let current = self.stack.last().cloned().unwrap_or_default();
            let msg = if &current == path {
                format!("Circular reference: \"{}\" refers to itself", show(path))
            } else {
                // Name the pair in file order, so every property on the cycle reads the same.
                let (a, b) = if self.props.get_index_of(&current) < self.props.get_index_of(path) {
                    (&current, path)
                } else {
                    (path, &current)
                };
                format!(
                    "Circular reference among \"{}\" and \"{}\" properties",
                    show(a),
                    show(b)
                )
            };
            return Err(Fail::Cycle {
                msg,
                root: path.clone(),
            });
        }
        if self.stack.len() >= MAX_REFERENCE_CHAIN {
            return Err(self.chain_limit(path));
        }
        self.stack.push(path.clone());
        let depth = self.nest.get(path).copied().unwrap_or(0);
        let placing = tpl.whole_var().map(|_| Placing {
            active: self.active + 1,
            deferred: false,
        });
        let outer = std::mem::replace(&mut self.placing, placing);
        let result = self
            .eval_template(&tpl, depth)
            .and_then(|v| self.check_result(path, &v).map(|()| v));
        let placing = std::mem::replace(&mut self.placing, outer);
        self.stack.pop();
        let failed = |me: &mut Self, m: String| {
            me.props.insert(path.clone(), Prop::Failed(m));
        };
        match result {
            Ok(v) if placing.is_some_and(|p| p.deferred) => {
                self.place(path, v, depth + 1);
                Ok(())
            }
            Ok(v) => {
                if let Some(slot) = get_mut(&mut self.config, path) {
                    *slot = v;
                }
                self.props.insert(path.clone(), Prop::Done);
                Ok(())
            }
            Err(Fail::Blocked) => Err(Fail::Blocked),
            Err(Fail::AsText) => {
                failed(
                    self,
                    "needs values from AWS, which this command keeps as written".into(),
                );
                Err(Fail::Dep(path.clone()))
            }
            Err(Fail::Msg(m)) => {
                failed(self, m);
                Err(Fail::Dep(path.clone()))
            }
            Err(Fail::Cycle { msg, root }) => {
                failed(self, msg.clone());
                if &root == path {
                    Err(Fail::Dep(path.clone()))
                } else {
                    Err(Fail::Cycle { msg, root })
                }
            }
            Err(Fail::Dep(dep)) => {
                failed(
                    self,
                    format!("depends on \"{}\", which cannot be resolved", show(&dep)),
                );
                Err(Fail::Dep(path.clone()))
            }
        }
    }

    fn eval_template(&mut self, tpl: &Template, depth: u32) -> Result<Value, Fail> {
        if let Some(var) = tpl.whole_var() {
            return self.eval_var(var, depth);
        }
        let mut out = String::new();
        for part in &tpl.parts {
            let piece = match part {
                Part::Text(t) => t.clone(),
                Part::Var(var) => match self.eval_var(var, depth)? {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(Fail::Msg(format!(
                            "\"{}\" resolves to {}, which cannot be part of a longer string \
                             (only strings, numbers and booleans can be interpolated)",
                            var.text,
                            describe(&other)
                        )));
                    }
                },
            };
            if out.len() + piece.len() > MAX_STRING_BYTES {
                return Err(self.limit(limits::string_size_exceeded()));
            }
            out.push_str(&piece);
        }
        Ok(Value::String(out))
    }

    fn eval_var(&mut self, var: &Var, depth: u32) -> Result<Value, Fail> {
        if let Some(problem) = &self.fatal {
            return Err(Fail::Msg(problem.message.clone()));
        }
        if self.active >= MAX_EVALUATION_DEPTH {
            return Err(self.limit(format!(
                "variables are evaluated more than {MAX_EVALUATION_DEPTH} levels inside one \
                 another (the evaluation depth limit: references, nested variables and \
                 re-scanned values together), at {}; flatten the references",
                excerpt(&var.text)
            )));
        }
        self.active += 1;
        let result = self.eval_var_counted(var, depth);
        self.active -= 1;
        result
    }

    /// [`Self::eval_var`] once the depth is checked: counts the step and evaluates.
    fn eval_var_counted(&mut self, var: &Var, depth: u32) -> Result<Value, Fail> {
        self.steps += 1;
        if self.steps > MAX_RESOLUTION_STEPS {
            return Err(self.limit(format!(
                "resolving the configuration took more than {MAX_RESOLUTION_STEPS} variable \
                 evaluations (the step limit), at {}; simplify the variables",
                excerpt(&var.text)
            )));
        }
        let mut last: Option<&SourceRef> = None;
        let mut last_miss = None;
        for source in &var.sources {
            match source {
                Source::Literal(v) => return Ok(v.clone()),
                Source::Ref(r) => {
                    self.miss = None;
                    let found = match self.eval_source(r, var, depth) {
                        Err(Fail::AsText) if self.arg_depth == 0 => {
                            return Ok(Value::String(var.text.clone()));
                        }
                        other => other?,
                    };
                    if let Some(v) = found
                        && !v.is_null()
                    {
                        return Ok(v);
                    }
                    last = Some(r);
                    last_miss = self.miss.take();
                }
            }
        }
        let kind = last.map(|r| r.kind.as_str()).unwrap_or_default();
        let mut msg = format!("Value not found at \"{kind}\" source for {}", var.text);
        if let Some(hint) = last_miss {
            msg.push_str(": ");
            msg.push_str(&hint);
        }
        Err(Fail::Msg(msg))
    }

    fn eval_arg(&mut self, arg: &Arg, depth: u32) -> Result<Value, Fail> {
        match arg {
            Arg::Value(v) => Ok(v.clone()),
            Arg::Template(t) => self.eval_template(t, depth),
        }
    }

    fn eval_source(&mut self, r: &SourceRef, var: &Var, depth: u32) -> Result<Option<Value>, Fail> {
        self.arg_depth += 1;
        let inputs = self.eval_inputs(r, var, depth);
        self.arg_depth -= 1;
        let (params, address) = inputs?;
        let address = address.as_deref();
        self.eval_kind(r, address, params, depth)
    }

    /// The params and address of a source reference, evaluated.
    fn eval_inputs(
        &mut self,
        r: &SourceRef,
        var: &Var,
        depth: u32,
    ) -> Result<(Vec<Value>, Option<String>), Fail> {
        let params = match &r.params {
            Some(ps) => ps
                .iter()
                .map(|p| self.eval_arg(p, depth))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let address = match &r.address {
            None => None,
            Some(a) => match self.eval_arg(a, depth)? {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => {
                    return Err(Fail::Msg(format!(
                        "the address of {} resolves to {}; an address must be a string",
                        var.text,
                        describe(&other)
                    )));
                }
            },
        };
        Ok((params, address))
    }

    /// The value of a source reference whose params and address are evaluated.
    fn eval_kind(
        &mut self,
        r: &SourceRef,
        address: Option<&str>,
        params: Vec<Value>,
        depth: u32,
    ) -> Result<Option<Value>, Fail> {
        match r.kind.as_str() {
            "self" => self.lookup_address(address.unwrap_or("")),
            "opt" => {
                let v = self.src_opt(address);
                self.rescan(v, depth)
            }
            "env" => {
                let name = address
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| missing_address("env"))?;
                let v = self.env.var(name).map(Value::String);
                if v.is_none() {
                    self.miss = Some(format!("the environment variable {name} is not set"));
                    self.env_misses.push(EnvMiss {
                        name: name.to_string(),
                        at: self.stack.last().cloned().unwrap_or_default(),
                        root: self.stack.first().cloned(),
                    });
                }
                self.rescan(v, depth)
            }
            "file" => self.src_file(&params, address, depth),
            "sls" => match address.unwrap_or("") {
                "stage" => self.stage().map(|s| Some(Value::String(s))),
                "instanceId" => Ok(Some(Value::String(self.instance_id.clone()))),
                other => Err(unsupported_address("sls", other, &["stage", "instanceId"])),
            },
            "param" => self.src_param(address, depth),
            "strToBool" => str_to_bool(params.first()).map(Some),
            "aws" => match address.unwrap_or("") {
                "region" => self.region().map(|s| Some(Value::String(s))),
                "accountId" => self.external("aws", params, Some("accountId".into()), depth),
                other => Err(unsupported_address("aws", other, &["accountId", "region"])),
            },
            "cf" | "ssm" | "s3" => {
                self.external(&r.kind, params, address.map(str::to_string), depth)
            }
            kind if self.external_sources.iter().any(|s| s == kind) => {
                self.external(kind, params, address.map(str::to_string), depth)
            }
            kind => Err(Fail::Msg(unknown_source(kind, &self.external_sources))),
        }
    }

    /// Resolves the variables inside a value that came from outside the configuration
    /// (env, file, options, AWS): v3 re-scans such values, up to [`MAX_DEPTH`] levels. An
    /// object or array that is a property's whole value is left for [`Self::place`].
    fn rescan(&mut self, v: Option<Value>, depth: u32) -> Result<Option<Value>, Fail> {
        match v {
            Some(v) if self.defers(&v, depth) => Ok(Some(v)),
            Some(mut v) => {
                self.rescan_in_place(&mut v, depth)?;
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    /// Whether `v`, returned by a source of the variable that is a property's whole value, is
    /// to be placed unresolved (noted in [`Self::placing`]).
    fn defers(&mut self, v: &Value, depth: u32) -> bool {
        let active = self.active;
        let Some(placing) = self.placing.as_mut() else {
            return false;
        };
        let defer = matches!(v, Value::Object(_) | Value::Array(_))
            && placing.active == active
            && depth < MAX_DEPTH;
        placing.deferred |= defer;
        defer
    }

    /// Puts the unresolved `v` at `path` (now done) and makes each variable inside it a
    /// property of its own, evaluated `depth` values deep.
    fn place(&mut self, path: &Path, mut v: Value, depth: u32) {
        let mut found = IndexMap::new();
        collect(&mut v, &mut path.clone(), &mut found, &mut self.warnings);
        if let Some(slot) = get_mut(&mut self.config, path) {
            *slot = v;
        }
        self.props.insert(path.clone(), Prop::Done);
        for (p, prop) in found {
            let at = self.sorted_props.partition_point(|q| *q < p);
            self.sorted_props.insert(at, p.clone());
            self.nest.insert(p.clone(), depth);
            self.props.insert(p, prop);
        }
        // Paths around it are no longer known to be resolved throughout.
        self.complete.retain(|c| !path.starts_with(c));
    }

    fn rescan_in_place(&mut self, v: &mut Value, depth: u32) -> Result<(), Fail> {
        match v {
            Value::String(s) => {
                let scanned = scan(s).map_err(|e| {
                    Fail::Msg(format!(
                        "Approached variable syntax error in resolved value \"{}\": {e}",
                        excerpt(s)
                    ))
                })?;
                let here = self.stack.last().cloned().unwrap_or_default();
                for w in scanned.warnings {
                    self.warnings.push((here.clone(), w));
                }
                if let Some(tpl) = scanned.template {
                    if tpl.has_vars() && depth + 1 > MAX_DEPTH {
                        return Err(Fail::Msg(format!(
                            "Excessive variables nest depth: values keep resolving to values with \
                             variables (more than {MAX_DEPTH} levels), last \"{}\"",
                            excerpt(s)
                        )));
                    }
                    *v = self.eval_template(&tpl, depth + 1)?;
                }
                Ok(())
            }
            Value::Array(items) => items
                .iter_mut()
                .try_for_each(|item| self.rescan_in_place(item, depth)),
            Value::Object(map) => map
                .values_mut()
                .try_for_each(|item| self.rescan_in_place(item, depth)),
            _ => Ok(()),
        }
    }

    fn external(
        &mut self,
        source: &str,
        params: Vec<Value>,
        address: Option<String>,
        depth: u32,
    ) -> Result<Option<Value>, Fail> {
        let request = ExternalRequest {
            source: source.to_string(),
            params,
            address,
        };
        if self.phase == Phase::Early {
            return Err(Fail::Msg(format!(
                "{request} needs AWS credentials, but the stage, region, profile and account pins \
                 are resolved before credentials exist: use offline sources here (self, opt, env, \
                 file, sls:stage, param, strToBool, aws:region)"
            )));
        }
        if self.aws_as_text {
            return Err(Fail::AsText);
        }
        let key = request.key();
        match self.answers.get(&key) {
            Some(Ok(v)) => {
                let v = v.clone();
                if v.is_none() {
                    self.miss = Some(format!("{request} does not exist"));
                }
                self.rescan(v, depth)
            }
            Some(Err(m)) => Err(Fail::Msg(m.clone())),
            None => {
                if self.needed_keys.insert(key) {
                    self.needed.push(request);
                }
                Err(Fail::Blocked)
            }
        }
    }

    /// `--stage` > resolved `provider.stage` > `dev`.
    fn stage(&mut self) -> Result<String, Fail> {
        if let Some(s) = &self.stage {
            return Ok(s.clone());
        }
        let stage = match &self.opts.stage {
            Some(s) => s.clone(),
            None => scalar_setting(
                self.lookup_path(&["provider", "stage"])?,
                "provider.stage",
                "dev",
            )?,
        };
        self.stage = Some(stage.clone());
        Ok(stage)
    }

    /// `--region` > resolved `provider.region` > `us-east-1` (never `AWS_REGION`).
    fn region(&mut self) -> Result<String, Fail> {
        if let Some(s) = &self.region {
            return Ok(s.clone());
        }
        let region = match &self.opts.region {
            Some(s) => s.clone(),
            None => scalar_setting(
                self.lookup_path(&["provider", "region"])?,
                "provider.region",
                "us-east-1",
            )?,
        };
        self.region = Some(region.clone());
        Ok(region)
    }

    fn src_opt(&mut self, address: Option<&str>) -> Option<Value> {
        let opt = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
        let params = || {
            Value::Array(
                self.opts
                    .params
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            )
        };
        match address.unwrap_or("") {
            "" => {
                let mut all = Map::new();
                for (name, value) in &self.opts.extra {
                    all.insert(name.clone(), value.clone());
                }
                all.insert("stage".into(), opt(&self.opts.stage));
                all.insert("region".into(), opt(&self.opts.region));
                all.insert("param".into(), params());
                Some(Value::Object(all))
            }
            "stage" => Some(opt(&self.opts.stage)),
            "region" => Some(opt(&self.opts.region)),
            "param" => Some(params()),
            name if self.opts.extra.contains_key(name) => self.opts.extra.get(name).cloned(),
            other => {
                let known: Vec<&str> = ["stage", "region", "param"]
                    .into_iter()
                    .chain(self.opts.extra.keys().map(String::as_str))
                    .collect();
                let listed: Vec<String> = known.iter().map(|k| format!("--{k}")).collect();
                self.miss = Some(match closest(other, known.iter().copied()) {
                    Some(best) => {
                        format!(
                            "this command has no option --{other}; did you mean \"opt:{best}\"?"
                        )
                    }
                    None => format!(
                        "this command has no option --{other} (its options: {}); pass other \
                         values with --param {other}=… and ${{param:{other}}}",
                        listed.join(", ")
                    ),
                });
                None
            }
        }
    }

    fn src_param(&mut self, address: Option<&str>, depth: u32) -> Result<Option<Value>, Fail> {
        let key = address
            .filter(|a| !a.is_empty())
            .ok_or_else(|| missing_address("param"))?;
        if let Some((_, v)) = self.cli_params.iter().rev().find(|(k, _)| k == key) {
            let v = Some(Value::String(v.clone()));
            return self.rescan(v, depth);
        }
        let stage = self.stage()?;
        for scope in [stage.as_str(), "default"] {
            if let Some(v) = self.lookup_path(&["params", scope, key])?
                && !v.is_null()
            {
                return Ok(Some(v));
            }
        }
        let mut known: Vec<String> = self.cli_params.iter().map(|(k, _)| k.clone()).collect();
        for scope in [stage.as_str(), "default"] {
            if let Some(Value::Object(m)) = self.config.get("params").and_then(|p| p.get(scope)) {
                known.extend(m.keys().cloned());
            }
        }
        self.miss = Some(match closest(key, known.iter().map(String::as_str)) {
            Some(best) => format!("no parameter \"{key}\"; did you mean \"param:{best}\"?"),
            None => {
                format!("set it with --param {key}=…, params.{stage}.{key} or params.default.{key}")
            }
        });
        Ok(None)
    }

    fn src_file(
        &mut self,
        params: &[Value],
        address: Option<&str>,
        depth: u32,
    ) -> Result<Option<Value>, Fail> {
        let rel = match params.first() {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
            _ => {
                return Err(Fail::Msg(
                    "Missing path argument in variable \"file\" source".into(),
                ));
            }
        };
        let full = self.file.dir.join(rel);
        let ext = full
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if matches!(ext.as_str(), "js" | "cjs" | "mjs" | "ts") {
            return Err(Fail::Msg(format!(
                "{rel} is a JavaScript file, which deployer does not run: export the values to a \
                 YAML or JSON file and reference that"
            )));
        }
        let doc = self.read_file(&full, &ext);
        let doc = match doc.as_ref() {
            Err(m) => return Err(Fail::Msg(m.clone())),
            Ok(None) => {
                self.miss = Some(format!("{} does not exist", full.display()));
                return Ok(None);
            }
            Ok(Some(doc)) => doc,
        };
        let Some(address) = address.filter(|a| !a.is_empty()) else {
            self.charge(doc)?;
            return self.rescan(Some(doc.clone()), depth);
        };
        if let Value::String(_) = doc
            && !matches!(ext.as_str(), "yml" | "yaml" | "json" | "tfstate")
        {
            return Err(Fail::Msg(format!(
                "{rel} is read as text, which has no properties to address (\"{address}\")"
            )));
        }
        let keys: Vec<&str> = address.split('.').collect();
        // Walk by reference while the way is plain data; copy only what is left to walk, so
        // addressing a large file does not copy all of it.
        let (mut at, mut node) = (0, doc);
        while let Some(key) = keys.get(at) {
            let next = match node {
                Value::Object(m) => m.get(*key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|k| a.get(k)),
                _ => None,
            };
            let Some(next) = next else { break };
            node = next;
            at += 1;
        }
        self.charge(node)?;
        let mut cur = node.clone();
        for (i, key) in keys.iter().copied().enumerate().skip(at) {
            if matches!(cur, Value::String(_)) {
                // A string met on the way may itself be a variable that yields an object.
                cur = self.rescan(Some(cur), depth)?.unwrap_or(Value::Null);
            }
            let next = match &mut cur {
                Value::Object(m) => m.remove(key),
                Value::Array(a) => key
                    .parse::<usize>()
                    .ok()
                    .filter(|&k| k < a.len())
                    .map(|k| a.swap_remove(k)),
                _ => None,
            };
            match next {
                Some(v) => cur = v,
                None => {
                    let at: Vec<&str> = address.split('.').take(i + 1).collect();
                    self.miss = Some(format!("{rel} has no \"{}\"", at.join(".")));
                    return Ok(None);
                }
            }
        }
        self.rescan(Some(cur), depth)
    }

    fn read_file(&mut self, full: &FsPath, ext: &str) -> Rc<Result<Option<Value>, String>> {
        if let Some(doc) = self.files.get(full) {
            return doc.clone();
        }
        let doc = match crate::limits::read_text(full) {
            Err(e) => Err(e),
            Ok(None) => Ok(None),
            Ok(Some(text)) => match ext {
                "yml" | "yaml" | "json" => parse_document(full, &text).map(Some),
                "tfstate" => serde_json::from_str(&text).map(Some).map_err(|e| {
                    format!(
                        "{}:{}:{}: invalid JSON: {e}",
                        full.display(),
                        e.line(),
                        e.column()
                    )
                }),
                _ => Ok(Some(Value::String(text))),
            },
        };
        let doc = Rc::new(doc);
        self.files.insert(full.to_path_buf(), doc.clone());
        doc
    }

    fn lookup_address(&mut self, address: &str) -> Result<Option<Value>, Fail> {
        if address.is_empty() {
            return self.lookup_path(&[]);
        }
        let keys: Vec<&str> = address.split('.').collect();
        self.lookup_path(&keys)
    }

    /// The value at `keys` in the configuration, resolving the properties on the way and
    /// every property inside the result first.
    fn lookup_path(&mut self, keys: &[&str]) -> Result<Option<Value>, Fail> {
        let mut path: Path = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            self.resolve_prop(&path)?;
            let seg = match get(&self.config, &path) {
                Some(Value::Object(m)) if m.contains_key(*key) => Seg::Key((*key).to_string()),
                Some(Value::Array(a)) => match key.parse::<usize>() {
                    Ok(k) if k < a.len() => Seg::Idx(k),
                    _ => {
                        self.miss =
                            Some(format!("\"{}\" has {} items", keys[..i].join("."), a.len()));
                        return Ok(None);
                    }
                },
                node => {
                    self.miss = Some(self_miss_hint(node, &keys[..i], key));
                    return Ok(None);
                }
            };
            path.push(seg);
        }
        self.resolve_prop(&path)?;
        if self.phase == Phase::Early {
            self.reads.push(path.clone());
        }
        if matches!(
            get(&self.config, &path),
            Some(Value::Object(_) | Value::Array(_))
        ) && !self.is_complete(&path)
        {
            for p in self.pending_inside(&path) {
                self.resolve_prop(&p)?;
            }
            self.complete.insert(path.clone());
        }
        // Measured before it is copied: the copy counts against the size limit.
        let Some(found) = get(&self.config, &path) else {
            return Ok(None);
        };
        let measured = measure(found, self.budget());
        self.account(measured)?;
        Ok(get(&self.config, &path).cloned())
    }
}

/// The resolution limits (see [`crate::limits`]).
impl Engine<'_> {
    /// Stops the whole resolution at a limit, reported at the property being resolved.
    fn limit(&mut self, message: String) -> Fail {
        let at = self.stack.last().map(|p| show(p));
        self.limit_at(at, message)
    }

    fn limit_at(&mut self, path: Option<String>, message: String) -> Fail {
        if self.fatal.is_none() {
            self.fatal = Some(Problem {
                path,
                message: message.clone(),
            });
        }
        Fail::Msg(message)
    }

    /// `a` needs `b`, which needs `c`, … past [`MAX_REFERENCE_CHAIN`]: refused before the
    /// recursion can exhaust the thread's stack.
    fn chain_limit(&mut self, next: &Path) -> Fail {
        let first = self.stack.first().map(|p| show(p));
        let last = self.stack.last().map(|p| show(p)).unwrap_or_default();
        let message = format!(
            "references chain through more than {MAX_REFERENCE_CHAIN} properties (the \
             reference chain limit): \"{}\" needs … \"{last}\", which needs \"{}\"; refer to \
             the final value directly instead of through a chain",
            first.clone().unwrap_or_default(),
            show(next)
        );
        self.limit_at(first, message)
    }

    /// Counts a resolved property's value against the size limit and checks how deep it sits.
    fn check_result(&mut self, path: &Path, v: &Value) -> Result<(), Fail> {
        let depth = self.charge(v)?;
        if path.len() + depth > MAX_RESOLVED_DEPTH {
            return Err(self.limit(format!(
                "the resolved value nests {} levels deep here, more than {MAX_RESOLVED_DEPTH} (the \
                 resolved depth limit); a value that includes itself through references grows \
                 without end",
                path.len() + depth
            )));
        }
        Ok(())
    }

    /// Counts a value produced or copied by resolution against [`MAX_RESOLVED_BYTES`] and
    /// returns its nesting depth.
    fn charge(&mut self, v: &Value) -> Result<usize, Fail> {
        let measured = measure(v, self.budget());
        self.account(measured)
    }

    /// What is left of [`MAX_RESOLVED_BYTES`].
    fn budget(&self) -> usize {
        MAX_RESOLVED_BYTES.saturating_sub(self.work_bytes)
    }

    /// Books a [`measure`] result: its depth, or the size-limit error when it was over budget.
    fn account(&mut self, measured: Option<(usize, usize)>) -> Result<usize, Fail> {
        match measured {
            Some((bytes, depth)) => {
                self.work_bytes += bytes;
                Ok(depth)
            }
            None => Err(self.limit(limits::resolved_size_exceeded())),
        }
    }

    /// True when every property under `path` is known to be resolved.
    fn is_complete(&self, path: &[Seg]) -> bool {
        (0..=path.len()).any(|n| self.complete.contains(&path[..n]))
    }

    /// The unresolved properties strictly under `path`, in file order.
    fn pending_inside(&self, path: &[Seg]) -> Vec<Path> {
        let start = self.sorted_props.partition_point(|p| p.as_slice() < path);
        let mut inside: Vec<(usize, Path)> = self.sorted_props[start..]
            .iter()
            .take_while(|p| p.starts_with(path))
            .filter(|p| p.len() > path.len())
            .filter_map(|p| match self.props.get_full(p) {
                Some((index, _, st)) if !matches!(st, Prop::Done) => Some((index, p.clone())),
                _ => None,
            })
            .collect();
        inside.sort_by_key(|(index, _)| *index);
        inside.into_iter().map(|(_, p)| p).collect()
    }
}

/// The size of `v` as JSON text (roughly) and its nesting depth; `None` once the size passes
/// `budget`. Iterative, so a deep value cannot exhaust the stack.
fn measure(v: &Value, budget: usize) -> Option<(usize, usize)> {
    let mut bytes = 0usize;
    let mut max_depth = 0usize;
    let mut todo = vec![(v, 0usize)];
    while let Some((v, depth)) = todo.pop() {
        max_depth = max_depth.max(depth);
        bytes += match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(items) => {
                todo.extend(items.iter().map(|i| (i, depth + 1)));
                items.len() + 2
            }
            Value::Object(map) => {
                todo.extend(map.values().map(|i| (i, depth + 1)));
                map.keys().map(|k| k.len() + 4).sum::<usize>() + 2
            }
        };
        if bytes > budget {
            return None;
        }
    }
    Some((bytes, max_depth))
}

/// Finds every string with variables (a property); applies escapes in plain strings.
fn collect(
    v: &mut Value,
    path: &mut Path,
    props: &mut IndexMap<Path, Prop>,
    warnings: &mut Vec<(Path, String)>,
) {
    match v {
        Value::String(s) => match scan(s) {
            Ok(scanned) => {
                for w in scanned.warnings {
                    warnings.push((path.clone(), w));
                }
                if let Some(tpl) = scanned.template {
                    if tpl.has_vars() {
                        props.insert(path.clone(), Prop::Pending(Rc::new(tpl)));
                    } else {
                        // Only escapes: the text without them.
                        *s = tpl
                            .parts
                            .into_iter()
                            .map(|p| {
                                if let Part::Text(t) = p {
                                    t
                                } else {
                                    String::new()
                                }
                            })
                            .collect();
                    }
                }
            }
            Err(e) => {
                props.insert(
                    path.clone(),
                    Prop::Failed(format!("Variable syntax error: {e}")),
                );
            }
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Idx(i));
                collect(item, path, props, warnings);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                path.push(Seg::Key(k.clone()));
                collect(item, path, props, warnings);
                path.pop();
            }
        }
        _ => {}
    }
}

fn get<'v>(v: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    path.iter().try_fold(v, |cur, seg| match (cur, seg) {
        (Value::Object(m), Seg::Key(k)) => m.get(k),
        (Value::Array(a), Seg::Idx(i)) => a.get(*i),
        _ => None,
    })
}

fn get_mut<'v>(v: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |cur, seg| match (cur, seg) {
        (Value::Object(m), Seg::Key(k)) => m.get_mut(k),
        (Value::Array(a), Seg::Idx(i)) => a.get_mut(*i),
        _ => None,
    })
}

fn scalar_setting(v: Option<Value>, name: &str, default: &str) -> Result<String, Fail> {
    match v {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(s)) => Ok(s),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(Fail::Msg(format!(
            "{name} resolves to {}; expected a string",
            describe(&other)
        ))),
    }
}

fn str_to_bool(input: Option<&Value>) -> Result<Value, Fail> {
    let text = match input {
        None | Some(Value::Null) => return Err(Fail::Msg("Missing \"strToBool\" input".into())),
        Some(Value::Bool(b)) => return Ok(Value::Bool(*b)),
        Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    };
    match text.as_str() {
        "true" | "1" => Ok(Value::Bool(true)),
        "false" | "0" => Ok(Value::Bool(false)),
        _ => Err(Fail::Msg(format!(
            "Invalid \"strToBool\" input: Expected either \"true\", \"false\", \"0\", or \"1\". Received: {text}"
        ))),
    }
}

fn missing_address(source: &str) -> Fail {
    Fail::Msg(format!(
        "Missing address argument in variable \"{source}\" source (write ${{{source}:NAME}})"
    ))
}

fn unsupported_address(source: &str, address: &str, known: &[&str]) -> Fail {
    let mut msg =
        format!("Unsupported \"{address}\" address argument in variable \"{source}\" source");
    match closest(address, known.iter().copied()) {
        Some(best) => msg.push_str(&format!("; did you mean \"{source}:{best}\"?")),
        None => msg.push_str(&format!(
            " (supported: {})",
            known
                .iter()
                .map(|k| format!("{source}:{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    Fail::Msg(msg)
}

fn unknown_source(kind: &str, extra: &[String]) -> String {
    let mut msg = format!("Unrecognized configuration variable source \"{kind}\"");
    if kind == "output" {
        msg.push_str(
            " (Serverless Dashboard outputs are not supported by deployer; use ${cf:stack.Output})",
        );
        return msg;
    }
    let known = KNOWN_SOURCES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str));
    if let Some(best) = closest(kind, known) {
        msg.push_str(&format!("; did you mean \"{best}\"?"));
    } else {
        msg.push_str(&format!(" (sources: {})", KNOWN_SOURCES.join(", ")));
    }
    msg
}

/// Why `${self:…}` found nothing at `key` under `parent_keys`.
fn self_miss_hint(node: Option<&Value>, parent_keys: &[&str], key: &str) -> String {
    let parent = parent_keys.join(".");
    let full = if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    };
    if key.contains("${") {
        return format!(
            "\"{full}\" is not set; the address contains \"${{\" text that is not a variable \
             (a nested variable must be written ${{source:address}})"
        );
    }
    match node {
        Some(Value::Object(m)) => {
            if let Some(best) = closest(key, m.keys().map(String::as_str)) {
                let fix = if parent.is_empty() {
                    best.to_string()
                } else {
                    format!("{parent}.{best}")
                };
                format!("\"{full}\" is not set; did you mean \"self:{fix}\"?")
            } else if !parent.is_empty() && m.len() <= 12 {
                let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                format!("\"{full}\" is not set ({parent} has: {})", keys.join(", "))
            } else {
                format!("\"{full}\" is not set")
            }
        }
        Some(other) => format!("\"{parent}\" is {}, not a mapping", describe(other)),
        None => format!("\"{full}\" is not set"),
    }
}

/// The candidate closest to `word`, if close enough to be a likely typo.
pub(crate) fn closest<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .filter(|c| *c != word)
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string (\"{}\")", excerpt(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "engine_partial_tests.rs"]
mod partial_tests;
