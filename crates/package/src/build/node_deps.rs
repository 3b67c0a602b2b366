//! The project's package manager and the production install of `external` packages.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

use super::BuildError;
use super::cache::hash_parts;

/// package.json's `type` (`module` means ESM output).
pub(crate) fn package_type(service_dir: &Path) -> Option<String> {
    let manifest = read_manifest(service_dir)?;
    manifest.get("type")?.as_str().map(str::to_string)
}

fn read_manifest(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The package manager from the option, else from the lock file present (npm by default).
pub(crate) fn packager(service_dir: &Path, option: Option<&str>) -> (String, Option<&'static str>) {
    let locks = [
        ("npm", "package-lock.json"),
        ("pnpm", "pnpm-lock.yaml"),
        ("yarn", "yarn.lock"),
    ];
    let found = locks
        .iter()
        .find(|(_, lock)| service_dir.join(lock).is_file())
        .copied();
    match (option, found) {
        (Some(p), _) => (
            p.to_string(),
            locks.iter().find(|(m, _)| *m == p).map(|(_, l)| *l),
        ),
        (None, Some((m, lock))) => (m.to_string(), Some(lock)),
        (None, None) => ("npm".into(), Some("package-lock.json")),
    }
}

/// Installs `modules` (with the versions package.json pins) into `<cache>/node_modules-<hash>/`
/// with production dependencies only and returns that directory; reused when unchanged.
pub(crate) fn install_externals(
    service_dir: &Path,
    modules: &[String],
    packager_option: Option<&str>,
    cache_dir: &Path,
) -> Result<PathBuf, BuildError> {
    let manifest = read_manifest(service_dir).ok_or_else(|| BuildError::Config {
        setting: "custom.esbuild.external".into(),
        message: format!(
            "installing external packages needs {}; create it with `npm init`",
            service_dir.join("package.json").display()
        ),
    })?;
    let deps = pick_dependencies(&manifest, modules)?;
    let (packager, lock) = packager(service_dir, packager_option);
    let lock_text = lock
        .and_then(|l| std::fs::read_to_string(service_dir.join(l)).ok())
        .unwrap_or_default();
    let deps_text = Value::Object(deps.clone()).to_string();
    let key = hash_parts([packager.as_str(), deps_text.as_str(), lock_text.as_str()]);
    let dir = cache_dir.join(format!("node_modules-{}", &key[..16]));
    // The marker sits next to the tree, not in it: the tree is zipped as it is.
    let done = cache_dir.join(format!("node_modules-{}.done", &key[..16]));
    if done.is_file() {
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(BuildError::io("remove", &dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(BuildError::io("create", &dir))?;
    let name = manifest
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("service");
    let generated =
        json!({"name": name, "version": "1.0.0", "private": true, "dependencies": deps});
    let path = dir.join("package.json");
    std::fs::write(&path, generated.to_string()).map_err(BuildError::io("write", &path))?;
    if let Some(lock) = lock.filter(|_| !lock_text.is_empty()) {
        let path = dir.join(lock);
        std::fs::write(&path, &lock_text).map_err(BuildError::io("write", &path))?;
    }
    run_install(&packager, &dir, !lock_text.is_empty(), modules)?;
    // The plugin leaves the root manifest and lock files out of the zip.
    for f in [
        "package.json",
        "package-lock.json",
        "pnpm-lock.yaml",
        "yarn.lock",
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::write(&done, "").map_err(BuildError::io("write", &done))?;
    Ok(dir)
}

/// `name → range` from package.json `dependencies`; a dev-only module is an error.
fn pick_dependencies(
    manifest: &Value,
    modules: &[String],
) -> Result<Map<String, Value>, BuildError> {
    let deps = manifest.get("dependencies").and_then(Value::as_object);
    let dev = manifest.get("devDependencies").and_then(Value::as_object);
    let mut picked = Map::new();
    for m in modules {
        match (deps.and_then(|d| d.get(m)), dev.and_then(|d| d.get(m))) {
            (Some(range), _) => {
                picked.insert(m.clone(), range.clone());
            }
            (None, Some(_)) => {
                return Err(BuildError::Config {
                    setting: "custom.esbuild.external".into(),
                    message: format!(
                        "{m} is only in devDependencies, so it would not be installed in the function; move it to dependencies in package.json"
                    ),
                });
            }
            // Not a dependency of the project (e.g. provided by the runtime): nothing to install.
            (None, None) => {}
        }
    }
    Ok(picked)
}

fn run_install(
    packager: &str,
    dir: &Path,
    locked: bool,
    modules: &[String],
) -> Result<(), BuildError> {
    let args: Vec<&str> = match (packager, locked) {
        ("npm", true) => vec!["ci", "--omit=dev", "--no-audit", "--no-fund"],
        ("npm", false) => vec!["install", "--omit=dev", "--no-audit", "--no-fund"],
        ("pnpm", _) => vec!["install", "--prod", "--no-frozen-lockfile"],
        ("yarn", true) => vec![
            "install",
            "--production",
            "--frozen-lockfile",
            "--non-interactive",
        ],
        _ => vec!["install", "--production", "--non-interactive"],
    };
    let output = Command::new(packager)
        .args(&args)
        .current_dir(dir)
        .output()
        .map_err(|err| BuildError::ToolMissing {
            message: format!(
                "Cannot run {packager} to install the external packages {}: {err}; install {packager} or set custom.esbuild.packager",
                modules.join(", ")
            ),
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(BuildError::ToolFailed {
        tool: format!("{packager} {}", args.join(" ")),
        what: format!("the external packages {}", modules.join(", ")),
        output: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
