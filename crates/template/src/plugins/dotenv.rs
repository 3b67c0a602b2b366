//! serverless-dotenv-plugin 6.0.0: `.env` files into `provider.environment`. Distinct from
//! v3's `useDotenv`, which only feeds `${env:}`: the plugin runs after variables are resolved
//! and its values are not resolved again.
//!
//! The command layer reads the files (it owns the file system) and calls [`variables`] with
//! their contents, then [`apply`] on the resolved service before compiling.

use std::collections::HashMap;

use deployer_config::Env;
use deployer_config::model::Service;
use serde::Serialize;
use serde_json::Value;

use super::PluginError;

const PATH: &str = "custom.dotenv";

/// `custom.dotenv`, with the plugin's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DotenvOptions {
    /// `include`: only these names (`None` = `'*'`, every name).
    pub include: Option<Vec<String>>,
    /// `exclude`: names left out (ignored when `include` is set).
    pub exclude: Vec<String>,
    /// `path`: the files to read, instead of the `.env.<env>…` list.
    pub path: Option<Vec<String>>,
    /// `basePath`: prefix of the default file names.
    pub base_path: String,
    /// `required.file`: a missing file is an error.
    pub required_file: bool,
    /// `required.env`: names that must be set.
    pub required_env: Vec<String>,
    /// `variableExpansion` (default true).
    pub variable_expansion: bool,
}

/// Reads `custom.dotenv`; unknown keys and `dotenvParser` (a JavaScript file) are errors.
pub fn options(custom: Option<&Value>) -> Result<DotenvOptions, PluginError> {
    let mut options = DotenvOptions {
        include: None,
        exclude: Vec::new(),
        path: None,
        base_path: String::new(),
        required_file: false,
        required_env: Vec::new(),
        variable_expansion: true,
    };
    let Some(raw) = custom
        .and_then(|c| c.get("dotenv"))
        .filter(|v| !v.is_null())
    else {
        return Ok(options);
    };
    let map = raw
        .as_object()
        .ok_or_else(|| super::invalid(PATH, "expected a map"))?;
    for (key, value) in map {
        let at = format!("{PATH}.{key}");
        match key.as_str() {
            "include" if value == "*" => options.include = None,
            "include" => options.include = Some(names(value, &at)?),
            "exclude" => options.exclude = names(value, &at)?,
            "path" => options.path = Some(names(value, &at)?),
            "basePath" => options.base_path = string(value, &at)?,
            "required" => required(value, &at, &mut options)?,
            "variableExpansion" => options.variable_expansion = boolean(value, &at)?,
            // Only change what the plugin prints or how it reports errors.
            "logging" | "v4BreakingChanges" => {
                boolean(value, &at)?;
            }
            "dotenvParser" => {
                return Err(super::invalid(
                    at,
                    "a JavaScript parser cannot be run by deployer; remove it to use the standard .env format",
                ));
            }
            _ => {
                return Err(super::invalid(
                    at,
                    "not a serverless-dotenv-plugin setting (known: include, exclude, path, basePath, required, variableExpansion, logging, v4BreakingChanges)",
                ));
            }
        }
    }
    Ok(options)
}

fn names(value: &Value, at: &str) -> Result<Vec<String>, PluginError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(list) => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| super::invalid(at, "expected a list of strings")),
        _ => Err(super::invalid(at, "expected a string or a list of strings")),
    }
}

fn string(value: &Value, at: &str) -> Result<String, PluginError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| super::invalid(at, "expected a string"))
}

fn boolean(value: &Value, at: &str) -> Result<bool, PluginError> {
    value
        .as_bool()
        .ok_or_else(|| super::invalid(at, "expected true or false"))
}

fn required(value: &Value, at: &str, options: &mut DotenvOptions) -> Result<(), PluginError> {
    let map = value
        .as_object()
        .ok_or_else(|| super::invalid(at, "expected {file, env}"))?;
    for (key, v) in map {
        match key.as_str() {
            "file" => options.required_file = boolean(v, &format!("{at}.file"))?,
            "env" => options.required_env = names(v, &format!("{at}.env"))?,
            _ => {
                return Err(super::invalid(
                    format!("{at}.{key}"),
                    "expected file or env",
                ));
            }
        }
    }
    Ok(())
}

/// The environment name the plugin uses: `NODE_ENV`, else the CLI `--stage`, else
/// `development` (not `provider.stage`).
pub fn env_name(node_env: Option<&str>, cli_stage: Option<&str>) -> String {
    node_env.or(cli_stage).unwrap_or("development").to_owned()
}

/// The files the plugin looks for, in its order: `path`, else `.env.<env>.local`,
/// `.env.<env>`, `.env.local` (not for `test`), `.env`, prefixed by `basePath`.
pub fn candidate_files(options: &DotenvOptions, env: &str) -> Vec<String> {
    if let Some(paths) = &options.path {
        return paths.clone();
    }
    let mut names = vec![format!(".env.{env}.local"), format!(".env.{env}")];
    if env != "test" {
        names.push(".env.local".into());
    }
    names.push(".env".into());
    names
        .into_iter()
        .map(|n| format!("{}{n}", options.base_path))
        .collect()
}

/// What the files add to `provider.environment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DotenvVariables {
    /// The files read, in the plugin's order.
    pub files: Vec<String>,
    /// Name and value, in merge order (first file's names first).
    pub variables: Vec<(String, String)>,
}

/// The variables the plugin would add, from the files that exist (`(name, contents)`, in
/// [`candidate_files`] order) and the real environment.
pub fn variables(
    options: &DotenvOptions,
    files: &[(String, String)],
    environment: &dyn Env,
) -> Result<DotenvVariables, PluginError> {
    if files.is_empty() && options.required_file {
        return Err(super::invalid(
            format!("{PATH}.required.file"),
            "no .env file was found; create one or set required.file: false",
        ));
    }
    let mut loaded: HashMap<String, String> = HashMap::new();
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, text) in files {
        let seen = Seen {
            base: environment,
            loaded: &loaded,
        };
        let vars = deployer_config::file_variables(text, &seen, options.variable_expansion)
            .map_err(|e| super::invalid(name.clone(), e))?;
        for (key, value) in vars {
            // dotenv sets the process environment for names not yet set: later files
            // expand against earlier ones.
            loaded.entry(key.clone()).or_insert_with(|| value.clone());
            match merged.iter_mut().find(|(k, _)| k == &key) {
                Some(slot) => slot.1 = value,
                None => merged.push((key, value)),
            }
        }
    }
    let kept = filtered(options, merged);
    let missing: Vec<&String> = options
        .required_env
        .iter()
        .filter(|n| !kept.iter().any(|(k, _)| k == *n) && environment.var(n).is_none())
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(super::invalid(
            format!("{PATH}.required.env"),
            format!(
                "required variables are not set: {}; add them to a .env file or the environment",
                names.join(", ")
            ),
        ));
    }
    Ok(DotenvVariables {
        files: files.iter().map(|(n, _)| n.clone()).collect(),
        variables: kept,
    })
}

fn filtered(options: &DotenvOptions, vars: Vec<(String, String)>) -> Vec<(String, String)> {
    match &options.include {
        Some(include) => vars
            .into_iter()
            .filter(|(k, _)| include.contains(k))
            .collect(),
        None => vars
            .into_iter()
            .filter(|(k, _)| !options.exclude.contains(k))
            .collect(),
    }
}

/// The real environment, then what earlier files set.
struct Seen<'a> {
    base: &'a dyn Env,
    loaded: &'a HashMap<String, String>,
}

impl Env for Seen<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.base
            .var(name)
            .or_else(|| self.loaded.get(name).cloned())
    }
}

/// Sets each variable in `provider.environment`: an existing name keeps its position.
pub fn apply(service: &mut Service, additions: &DotenvVariables) {
    let environment = service
        .provider
        .environment
        .get_or_insert_with(Default::default);
    for (key, value) in &additions.variables {
        environment.insert(key.clone(), Value::String(value.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Vars(Vec<(&'static str, &'static str)>);
    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn default_files_and_env_name() {
        let o = options(None).unwrap();
        assert_eq!(env_name(None, Some("dev")), "dev");
        assert_eq!(env_name(Some("production"), Some("dev")), "production");
        assert_eq!(env_name(None, None), "development");
        assert_eq!(
            candidate_files(&o, "dev"),
            [".env.dev.local", ".env.dev", ".env.local", ".env"]
        );
        assert_eq!(
            candidate_files(&o, "test"),
            [".env.test.local", ".env.test", ".env"]
        );
        let o = options(Some(&json!({"dotenv": {"basePath": "config/"}}))).unwrap();
        assert_eq!(candidate_files(&o, "dev")[3], "config/.env");
        let o = options(Some(
            &json!({"dotenv": {"path": ".env.shared", "basePath": "x/"}}),
        ))
        .unwrap();
        assert_eq!(candidate_files(&o, "dev"), [".env.shared"]);
    }

    #[test]
    fn with_expansion_the_first_file_and_the_environment_win() {
        let o = options(None).unwrap();
        let f = files(&[
            (".env.dev", "A=dev\nB=${A}-b"),
            (".env", "A=base\nC=c\nD=d"),
        ]);
        let env = Vars(vec![("D", "real")]);
        let v = variables(&o, &f, &env).unwrap();
        assert_eq!(v.files, [".env.dev", ".env"]);
        let get = |k: &str| {
            v.variables
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, x)| x.as_str())
        };
        assert_eq!(get("A"), Some("dev"));
        assert_eq!(get("B"), Some("dev-b"));
        assert_eq!(get("D"), Some("real"));
        let order: Vec<&str> = v.variables.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(order, ["A", "B", "C", "D"]);
    }

    #[test]
    fn without_expansion_the_last_file_wins_and_values_stay_literal() {
        let o = options(Some(&json!({"dotenv": {"variableExpansion": false}}))).unwrap();
        let f = files(&[(".env.dev", "A=dev\nB=${A}"), (".env", "A=base")]);
        let v = variables(&o, &f, &Vars(vec![("A", "real")])).unwrap();
        assert_eq!(
            v.variables,
            [("A".into(), "base".into()), ("B".into(), "${A}".into())]
        );
    }

    #[test]
    fn include_wins_over_exclude() {
        let f = files(&[(".env", "A=1\nB=2\nC=3")]);
        let o = options(Some(
            &json!({"dotenv": {"include": ["B"], "exclude": ["B"]}}),
        ))
        .unwrap();
        assert_eq!(
            variables(&o, &f, &Vars(vec![])).unwrap().variables,
            [("B".into(), "2".into())]
        );
        let o = options(Some(&json!({"dotenv": {"exclude": ["B"]}}))).unwrap();
        let names: Vec<String> = variables(&o, &f, &Vars(vec![]))
            .unwrap()
            .variables
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(names, ["A", "C"]);
    }

    #[test]
    fn required_file_and_env() {
        let o = options(Some(
            &json!({"dotenv": {"required": {"file": true, "env": ["X"]}}}),
        ))
        .unwrap();
        assert!(
            variables(&o, &[], &Vars(vec![]))
                .unwrap_err()
                .to_string()
                .contains("required.file")
        );
        let err = variables(&o, &files(&[(".env", "A=1")]), &Vars(vec![])).unwrap_err();
        assert!(
            err.to_string()
                .contains("required variables are not set: X"),
            "{err}"
        );
        assert!(variables(&o, &files(&[(".env", "X=1")]), &Vars(vec![])).is_ok());
    }

    #[test]
    fn unknown_settings_are_errors() {
        let err = options(Some(&json!({"dotenv": {"paths": ".env"}}))).unwrap_err();
        assert!(err.to_string().starts_with("custom.dotenv.paths:"), "{err}");
        assert!(options(Some(&json!({"dotenv": {"dotenvParser": "./p.js"}}))).is_err());
    }

    #[test]
    fn applied_over_provider_environment_in_place() {
        let mut service = Service::from_value(&json!({"service": "s", "provider": {"name": "aws",
            "environment": {"FIRST": "1", "A": "yaml", "LAST": "2"}}}))
        .unwrap();
        let additions = DotenvVariables {
            files: vec![".env".into()],
            variables: vec![("A".into(), "file".into()), ("NEW".into(), "n".into())],
        };
        apply(&mut service, &additions);
        let env = service.provider.environment.unwrap();
        let keys: Vec<&String> = env.keys().collect();
        assert_eq!(keys, ["FIRST", "A", "LAST", "NEW"]);
        assert_eq!(env["A"], json!("file"));
    }
}
