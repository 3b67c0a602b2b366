//! `custom.pythonRequirements`: the options deployer reads, shared by the pip build
//! (`python.rs`) and the Pipfile / Poetry export (`python_export.rs`).

use serde_json::Value;

/// `custom.pythonRequirements`, the options deployer reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PythonOptions {
    /// `fileName` (default `requirements.txt`).
    pub file_name: String,
    /// `pipCmdExtraArgs`, each split on whitespace.
    pub pip_extra_args: Vec<String>,
    /// `slim`: drop `*.pyc`/`*.pyo`, `__pycache__`, `*.dist-info` (and `slimPatterns`).
    pub slim: bool,
    /// `slimPatterns`: extra globs removed with `slim`.
    pub slim_patterns: Vec<String>,
    /// `strip` (default true): run `strip` on `*.so` files when slimming.
    pub strip: bool,
    /// `noDeploy`: packages left out.
    pub no_deploy: Vec<String>,
    /// `pythonBin`: the interpreter that runs pip (default `python3`).
    pub python_bin: Option<String>,
    /// `usePipenv` (default true): a Pipfile is exported with `pipenv requirements`.
    pub use_pipenv: bool,
    /// `usePoetry` (default true): a poetry pyproject.toml is exported with `poetry export`.
    pub use_poetry: bool,
    /// `requirePoetryLockFile`: a poetry project without `poetry.lock` is an error (else
    /// `poetry lock` creates it).
    pub require_poetry_lock_file: bool,
    /// `poetryWithGroups`: `poetry export --with=…`.
    pub poetry_with_groups: Vec<String>,
    /// `poetryWithoutGroups`: `poetry export --without=…`.
    pub poetry_without_groups: Vec<String>,
    /// `poetryOnlyGroups`: `poetry export --only=…`.
    pub poetry_only_groups: Vec<String>,
}

impl PythonOptions {
    /// Reads `custom.pythonRequirements` (or null).
    pub fn parse(raw: &Value) -> Result<PythonOptions, String> {
        let get = |k: &str| raw.get(k);
        let flag = |k: &str, default: bool| -> Result<bool, String> {
            match get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
                Some(other) => Err(format!("{k} must be true or false, not {other}")),
            }
        };
        match get("dockerizePip") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::String(s)) if s == "false" => {}
            Some(other) => {
                return Err(format!(
                    "dockerizePip: {other} needs Docker, which deployer does not use; remove dockerizePip: the docker-free install of manylinux wheels for Lambda's platform is the default"
                ));
            }
        }
        for unsupported in ["zip", "layer"] {
            if flag(unsupported, false).unwrap_or(true) {
                return Err(format!(
                    "{unsupported}: true is not supported yet; remove it to install the requirements into the function's zip"
                ));
            }
        }
        Ok(PythonOptions {
            file_name: match get("fileName") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => "requirements.txt".into(),
                Some(other) => return Err(format!("fileName must be a string, not {other}")),
            },
            pip_extra_args: list(get("pipCmdExtraArgs"), "pipCmdExtraArgs")?
                .iter()
                .flat_map(|a| a.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .collect(),
            slim: flag("slim", false)?,
            slim_patterns: list(get("slimPatterns"), "slimPatterns")?,
            strip: flag("strip", true)?,
            no_deploy: list(get("noDeploy"), "noDeploy")?,
            python_bin: get("pythonBin").and_then(Value::as_str).map(str::to_string),
            use_pipenv: flag("usePipenv", true)?,
            use_poetry: flag("usePoetry", true)?,
            require_poetry_lock_file: flag("requirePoetryLockFile", false)?,
            poetry_with_groups: list(get("poetryWithGroups"), "poetryWithGroups")?,
            poetry_without_groups: list(get("poetryWithoutGroups"), "poetryWithoutGroups")?,
            poetry_only_groups: list(get("poetryOnlyGroups"), "poetryOnlyGroups")?,
        })
    }
}

fn list(v: Option<&Value>, name: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{name} entries must be strings, not {i}"))
            })
            .collect(),
        Some(other) => Err(format!("{name} must be a list of strings, not {other}")),
    }
}
