//! v3's `excludeDevDependencies`: packages in `node_modules` reachable only from
//! `devDependencies` (the dev dependencies and their unshared transitive dependencies) are left
//! out, with their `.bin` links.
//!
//! v3 asks `npm ls --dev` and `npm ls --prod` in every directory with a `package.json` outside
//! `node_modules`; this computes the same two sets from the installed packages' own
//! `package.json` files with Node's resolution (nearest `node_modules` upwards), so it works
//! without npm and for any package manager that lays out `node_modules`.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::Path;

use serde_json::Value;

use crate::select::Candidate;

/// Removes dev-only packages from every selection.
pub(crate) fn drop_dev_only(
    service_dir: &Path,
    candidates: &[Candidate],
    selections: Vec<Vec<usize>>,
) -> Vec<Vec<usize>> {
    let mut prefixes: Vec<String> = Vec::new();
    let mut bins: HashSet<String> = HashSet::new();
    for root in project_roots(candidates) {
        let dev = dev_only(&service_dir.join(&root));
        prefixes.extend(dev.packages.iter().map(|p| format!("{root}{p}/")));
        bins.extend(
            dev.bins
                .iter()
                .map(|b| format!("{root}node_modules/.bin/{b}")),
        );
    }
    if prefixes.is_empty() && bins.is_empty() {
        return selections;
    }
    let keep = |name: &str| !bins.contains(name) && !prefixes.iter().any(|p| name.starts_with(p));
    selections
        .into_iter()
        .map(|s| {
            s.into_iter()
                .filter(|&i| keep(&candidates[i].name))
                .collect()
        })
        .collect()
}

/// Directories (as `""` or `"sub/"`) holding a `package.json` outside `node_modules`.
fn project_roots(candidates: &[Candidate]) -> BTreeSet<String> {
    candidates
        .iter()
        .filter_map(|c| c.name.strip_suffix("package.json"))
        .filter(|dir| dir.is_empty() || dir.ends_with('/'))
        .filter(|dir| !dir.split('/').any(|part| part == "node_modules"))
        .map(str::to_string)
        .collect()
}

/// Packages (`node_modules/x`, `node_modules/a/node_modules/b`) and bin names only dev uses.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct DevOnly {
    pub packages: BTreeSet<String>,
    pub bins: BTreeSet<String>,
}

/// The dev-only packages of the project at `project`.
pub(crate) fn dev_only(project: &Path) -> DevOnly {
    let Some(manifest) = read_json(&project.join("package.json")) else {
        return DevOnly::default();
    };
    if !project.join("node_modules").is_dir() {
        return DevOnly::default();
    }
    let prod = reach(
        project,
        "",
        names(&manifest, &["dependencies", "optionalDependencies"]),
    );
    let dev = reach(project, "", names(&manifest, &["devDependencies"]));
    let packages: BTreeSet<String> = dev.difference(&prod).cloned().collect();
    let prod_bins: BTreeSet<String> = prod.iter().flat_map(|p| bin_names(project, p)).collect();
    let bins = packages
        .iter()
        .flat_map(|p| bin_names(project, p))
        .filter(|b| !prod_bins.contains(b))
        .collect();
    DevOnly { packages, bins }
}

/// Every installed package reachable from `start` (dependency names seen from `from`).
fn reach(project: &Path, from: &str, start: Vec<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<(String, String)> =
        start.into_iter().map(|n| (from.to_string(), n)).collect();
    while let Some((from, name)) = queue.pop_front() {
        let Some(dir) = resolve(project, &from, &name) else {
            continue;
        };
        if !seen.insert(dir.clone()) {
            continue;
        }
        if let Some(manifest) = read_json(&project.join(&dir).join("package.json")) {
            let deps = names(
                &manifest,
                &["dependencies", "optionalDependencies", "peerDependencies"],
            );
            queue.extend(deps.into_iter().map(|d| (dir.clone(), d)));
        }
    }
    seen
}

/// Node's lookup: `<from>/node_modules/<name>`, then each ancestor's `node_modules`.
fn resolve(project: &Path, from: &str, name: &str) -> Option<String> {
    let mut dir = Some(Path::new(from));
    while let Some(d) = dir {
        let candidate = d.join("node_modules").join(name);
        if project.join(&candidate).join("package.json").is_file() {
            return Some(candidate.to_string_lossy().replace('\\', "/"));
        }
        dir = d.parent();
    }
    None
}

fn names(manifest: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .filter_map(|k| manifest.get(*k).and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect()
}

/// The `.bin` link names a package declares (`bin` as a string uses the package's name
/// without its scope).
fn bin_names(project: &Path, package_dir: &str) -> Vec<String> {
    let Some(manifest) = read_json(&project.join(package_dir).join("package.json")) else {
        return Vec::new();
    };
    match manifest.get("bin") {
        Some(Value::String(_)) => manifest
            .get("name")
            .and_then(Value::as_str)
            .map(|n| vec![n.rsplit('/').next().unwrap_or(n).to_string()])
            .unwrap_or_default(),
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(root: &Path, dir: &str, manifest: Value) {
        let path = root.join(dir);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("package.json"), manifest.to_string()).unwrap();
    }

    /// prod `a` → `shared`; dev `d` → `shared`, `only-d`; dev `tool` (bin) → nested `inner`.
    fn project() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        package(
            r,
            "",
            json!({"dependencies": {"a": "1"}, "devDependencies": {"d": "1", "tool": "1"}}),
        );
        package(
            r,
            "node_modules/a",
            json!({"name": "a", "dependencies": {"shared": "1"}}),
        );
        package(r, "node_modules/shared", json!({"name": "shared"}));
        package(
            r,
            "node_modules/d",
            json!({"name": "d", "dependencies": {"shared": "1", "only-d": "1"}}),
        );
        package(r, "node_modules/only-d", json!({"name": "only-d"}));
        package(
            r,
            "node_modules/tool",
            json!({"name": "@x/tool", "bin": "cli.js", "dependencies": {"inner": "1"}}),
        );
        package(
            r,
            "node_modules/tool/node_modules/inner",
            json!({"name": "inner", "bin": {"inner-cli": "x.js"}}),
        );
        tmp
    }

    #[test]
    fn dev_dependencies_and_their_unshared_deps_are_dev_only() {
        let tmp = project();
        let dev = dev_only(tmp.path());
        let packages: Vec<&str> = dev.packages.iter().map(String::as_str).collect();
        assert_eq!(
            packages,
            [
                "node_modules/d",
                "node_modules/only-d",
                "node_modules/tool",
                "node_modules/tool/node_modules/inner"
            ]
        );
        let bins: Vec<&str> = dev.bins.iter().map(String::as_str).collect();
        assert_eq!(bins, ["inner-cli", "tool"]);
    }

    #[test]
    fn selections_lose_dev_files_and_keep_shared_ones() {
        let tmp = project();
        let files = [
            "package.json",
            "node_modules/a/package.json",
            "node_modules/shared/package.json",
            "node_modules/d/package.json",
            "node_modules/only-d/package.json",
            "node_modules/.bin/tool",
            "node_modules/.bin/a-bin",
            "handler.js",
        ];
        let candidates: Vec<Candidate> = files
            .iter()
            .map(|n| Candidate {
                name: n.to_string(),
                path: tmp.path().join(n),
                executable: false,
                size: 0,
            })
            .collect();
        let kept = drop_dev_only(tmp.path(), &candidates, vec![(0..files.len()).collect()]);
        let names: Vec<&str> = kept[0].iter().map(|&i| files[i]).collect();
        assert_eq!(
            names,
            [
                "package.json",
                "node_modules/a/package.json",
                "node_modules/shared/package.json",
                "node_modules/.bin/a-bin",
                "handler.js"
            ]
        );
    }

    #[test]
    fn no_node_modules_means_nothing_to_drop() {
        let tmp = tempfile::tempdir().unwrap();
        package(tmp.path(), "", json!({"devDependencies": {"d": "1"}}));
        assert_eq!(dev_only(tmp.path()), DevOnly::default());
    }
}
