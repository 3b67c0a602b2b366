//! Python requirements installed into the zip root with pip for Lambda's platform, as
//! serverless-python-requirements does without Docker, but targeting manylinux wheels so the
//! build machine's platform does not leak into the artifact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rayon::prelude::*;

use super::cache::hash_parts;
use super::python_export::{self, Source};
pub use super::python_options::PythonOptions;
use super::{BuildError, BuildOutput, BuildPlan, BuildSettings, Builder};
use crate::{BuiltTree, TreeMode};

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
    use serde_json::{Value, json};

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
