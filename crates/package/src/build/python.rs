//! Python requirements installed into the zip root with pip for Lambda's platform, as
//! serverless-python-requirements does without Docker, but targeting manylinux wheels so the
//! build machine's platform does not leak into the artifact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rayon::prelude::*;
use serde_json::Value;

use super::cache::hash_parts;
use super::python_export::{self, Source};
use super::{BuildError, BuildOutput, BuildPlan, BuildSettings, Builder};
use crate::{BuiltTree, TreeMode};

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

/// What pip installs for one module directory.
struct Install {
    module: String,
    /// Where the requirements come from, as messages name it.
    from: String,
    requirements: String,
    python_version: String,
    platform: String,
    functions: Vec<String>,
}

/// Installs the requirements of every Python function's module and records the trees.
pub(crate) fn build_all(
    plan: &BuildPlan,
    options: &PythonOptions,
    settings: &BuildSettings,
    out: &mut BuildOutput,
) -> Result<(), BuildError> {
    let installs = installs(plan, options, settings)?;
    let root = settings.cache_dir.join("python");
    let results: Vec<(PathBuf, bool)> = installs
        .par_iter()
        .map(|i| install(plan, options, &root, i))
        .collect::<Result<_, _>>()?;
    for (install, (tree, fresh)) in installs.iter().zip(results) {
        if fresh {
            out.cached += 1;
        } else {
            out.built += 1;
        }
        for f in &install.functions {
            out.trees.entry(f.clone()).or_default().push(BuiltTree {
                dir: tree.clone(),
                mode: TreeMode::Merge,
                only: None,
            });
        }
    }
    Ok(())
}

/// One install per (module, runtime, architecture) that has requirements (a requirements
/// file, or a poetry or Pipfile project, exported).
fn installs(
    plan: &BuildPlan,
    options: &PythonOptions,
    settings: &BuildSettings,
) -> Result<Vec<Install>, BuildError> {
    let mut by_key: BTreeMap<(String, String, String), Install> = BTreeMap::new();
    for f in plan
        .functions
        .iter()
        .filter(|f| f.builder == Builder::Python)
    {
        let module_dir = plan.service_dir.join(&f.module);
        let source = python_export::source(&plan.service_dir, &module_dir, options);
        if matches!(&source, Source::File(path) if !path.is_file()) {
            continue;
        }
        let python_version = f.runtime.trim_start_matches("python").to_string();
        let platform = match f.architecture.as_str() {
            "arm64" => "manylinux2014_aarch64",
            _ => "manylinux2014_x86_64",
        }
        .to_string();
        let key = (f.module.clone(), python_version.clone(), platform.clone());
        if let Some(existing) = by_key.get_mut(&key) {
            existing.functions.push(f.key.clone());
            continue;
        }
        let text = python_export::export(&source, options, settings)?;
        let requirements = generate_requirements(&text, &module_dir, &options.no_deploy)?;
        if requirements.is_empty() {
            continue;
        }
        by_key.insert(
            key,
            Install {
                module: f.module.clone(),
                from: source.label(&options.file_name),
                requirements,
                python_version,
                platform,
                functions: vec![f.key.clone()],
            },
        );
    }
    Ok(by_key.into_values().collect())
}

/// The plugin's rewrite: `-r` files inlined, comments and blank lines dropped, `noDeploy`
/// names dropped, option lines (`--x`, `-c`, `-e`, `-f`, `-i`) first in order, the rest
/// sorted, `\n`-terminated.
fn generate_requirements(
    text: &str,
    dir: &Path,
    no_deploy: &[String],
) -> Result<String, BuildError> {
    let mut options = Vec::new();
    let mut packages = Vec::new();
    collect_lines(text, dir, &mut options, &mut packages, 0)?;
    packages.retain(|p| {
        !no_deploy
            .iter()
            .any(|n| requirement_name(p).eq_ignore_ascii_case(n))
    });
    packages.sort();
    let lines: Vec<String> = options.into_iter().chain(packages).collect();
    Ok(if lines.is_empty() {
        String::new()
    } else {
        format!("{}\n", lines.join("\n"))
    })
}

fn collect_lines(
    text: &str,
    dir: &Path,
    options: &mut Vec<String>,
    packages: &mut Vec<String>,
    depth: usize,
) -> Result<(), BuildError> {
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(file) = line
            .strip_prefix("-r ")
            .or_else(|| line.strip_prefix("--requirement "))
        {
            let path = dir.join(file.trim());
            if depth > 8 {
                return Err(BuildError::Config {
                    setting: path.display().to_string(),
                    message: "-r includes nest too deeply; check for a cycle".into(),
                });
            }
            let nested = std::fs::read_to_string(&path).map_err(BuildError::io("read", &path))?;
            collect_lines(
                &nested,
                path.parent().unwrap_or(dir),
                options,
                packages,
                depth + 1,
            )?;
        } else if let Some(rest) = line.strip_prefix("-e ") {
            packages.push(rest.trim().to_string());
        } else if ["--", "-c", "-f", "-i"].iter().any(|p| line.starts_with(p)) {
            options.push(line.to_string());
        } else {
            packages.push(line.to_string());
        }
    }
    Ok(())
}

/// `python-dateutil==2.9.0` → `python-dateutil`.
fn requirement_name(line: &str) -> &str {
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(line.len());
    &line[..end]
}

/// Installs one requirements set into its cache slot unless already complete.
fn install(
    plan: &BuildPlan,
    options: &PythonOptions,
    root: &Path,
    i: &Install,
) -> Result<(PathBuf, bool), BuildError> {
    let slim = format!(
        "{}{:?}{}",
        options.slim, options.slim_patterns, options.strip
    );
    let extra = options.pip_extra_args.join(" ");
    let key = hash_parts([
        i.requirements.as_str(),
        i.python_version.as_str(),
        i.platform.as_str(),
        extra.as_str(),
        slim.as_str(),
        &options.no_deploy.join(","),
    ]);
    let dir = root.join(&key[..16]);
    let marker = dir.join(".completed_requirements");
    if marker.is_file() {
        return Ok((dir, true));
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(BuildError::io("remove", &dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(BuildError::io("create", &dir))?;
    let req_path = dir.join("requirements.txt");
    std::fs::write(&req_path, &i.requirements).map_err(BuildError::io("write", &req_path))?;
    run_pip(plan, options, root, i, &dir, &req_path)?;
    finish_tree(&dir, options)?;
    std::fs::write(&marker, "").map_err(BuildError::io("write", &marker))?;
    Ok((dir, false))
}

fn run_pip(
    plan: &BuildPlan,
    options: &PythonOptions,
    root: &Path,
    i: &Install,
    dir: &Path,
    requirements: &Path,
) -> Result<(), BuildError> {
    let python = options
        .python_bin
        .clone()
        .unwrap_or_else(|| "python3".into());
    let downloads = root.join("downloads");
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
    ])
    .args(&options.pip_extra_args)
    .arg("-t")
    .arg(dir)
    .arg("-r")
    .arg(requirements)
    .args([
        "--platform",
        &i.platform,
        "--python-version",
        &i.python_version,
    ])
    .args(["--only-binary=:all:", "--implementation", "cp"])
    .arg("--cache-dir")
    .arg(&downloads)
    .current_dir(plan.service_dir.join(&i.module));
    let output = cmd.output().map_err(|err| BuildError::ToolMissing {
        message: format!(
            "Cannot run {python} -m pip to install {}: {err}; install Python 3 with pip, or set custom.pythonRequirements.pythonBin",
            requirements.display()
        ),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let module = if i.module == "." {
        String::new()
    } else {
        format!("{}/", i.module)
    };
    Err(BuildError::ToolFailed {
        tool: "pip install".into(),
        what: format!("{module}{} (functions {})", i.from, i.functions.join(", ")),
        output: String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string(),
    })
}

/// Removes what the plugin never ships (a top-level `__pycache__`, `noDeploy` packages) and
/// slims the tree when asked.
fn finish_tree(dir: &Path, options: &PythonOptions) -> Result<(), BuildError> {
    remove(&dir.join("__pycache__"))?;
    for name in &options.no_deploy {
        remove(&dir.join(name))?;
        remove(&dir.join(format!("{name}.py")))?;
    }
    if options.slim {
        slim(dir, options)?;
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), BuildError> {
    let result = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else if path.is_file() {
        std::fs::remove_file(path)
    } else {
        return Ok(());
    };
    result.map_err(BuildError::io("remove", path))
}

/// The plugin's `slim`: `**/*.py[c|o]`, `**/__pycache__*`, `**/*.dist-info*`, plus
/// `slimPatterns`, and `strip` on shared objects.
fn slim(dir: &Path, options: &PythonOptions) -> Result<(), BuildError> {
    let mut patterns: Vec<globset::Glob> = Vec::new();
    for p in &options.slim_patterns {
        let glob = globset::Glob::new(p).map_err(|err| BuildError::Config {
            setting: "custom.pythonRequirements.slimPatterns".into(),
            message: format!("invalid pattern {p:?}: {err}"),
        })?;
        patterns.push(glob);
    }
    let extra: Vec<globset::GlobMatcher> = patterns.iter().map(|g| g.compile_matcher()).collect();
    let mut doomed = Vec::new();
    let mut shared_objects = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy();
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let slimmed = name.ends_with(".pyc")
            || name.ends_with(".pyo")
            || name.starts_with("__pycache__")
            || name.contains(".dist-info")
            || extra.iter().any(|m| m.is_match(rel));
        if slimmed {
            doomed.push(entry.path().to_path_buf());
        } else if name.ends_with(".so") && entry.file_type().is_file() {
            shared_objects.push(entry.path().to_path_buf());
        }
    }
    for path in doomed {
        remove(&path)?;
    }
    if options.strip && cfg!(target_os = "linux") {
        for so in shared_objects {
            // Best effort, as in the plugin: a missing `strip` leaves the files as they are.
            let _ = Command::new("strip").arg(&so).output();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requirements_are_rewritten_like_the_plugin() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("more.txt"), "zeta==1\n# c\n").unwrap();
        let text = "# runtime\nsix==1.17.0\n\n--index-url https://x\npython-dateutil==2.9.0.post0 # tz\n-r more.txt\nboto3==1\n";
        let out = generate_requirements(text, tmp.path(), &["boto3".into()]).unwrap();
        assert_eq!(
            out,
            "--index-url https://x\npython-dateutil==2.9.0.post0\nsix==1.17.0\nzeta==1\n"
        );
    }

    #[test]
    fn the_fixture_requirements_give_the_plugin_bytes() {
        let text =
            "# runtime dependencies (pure Python)\nsix==1.17.0\npython-dateutil==2.9.0.post0\n";
        let out = generate_requirements(text, Path::new("."), &[]).unwrap();
        assert_eq!(out, "python-dateutil==2.9.0.post0\nsix==1.17.0\n");
        assert_eq!(out.len(), 41);
    }

    #[test]
    fn options_defaults_and_errors() {
        let o = PythonOptions::parse(&Value::Null).unwrap();
        assert_eq!(o.file_name, "requirements.txt");
        assert!(!o.slim && o.strip);
        let o = PythonOptions::parse(
            &json!({"slim": "true", "pipCmdExtraArgs": ["--no-deps --pre"], "noDeploy": ["boto3"]}),
        )
        .unwrap();
        assert!(o.slim);
        assert_eq!(o.pip_extra_args, vec!["--no-deps", "--pre"]);
        assert_eq!(o.no_deploy, vec!["boto3"]);
        let err = PythonOptions::parse(&json!({"dockerizePip": true})).unwrap_err();
        assert!(
            err.contains("dockerizePip") && err.contains("docker-free"),
            "{err}"
        );
        let err = PythonOptions::parse(&json!({"dockerizePip": "non-linux"})).unwrap_err();
        assert!(err.contains("dockerizePip"), "{err}");
    }
}
