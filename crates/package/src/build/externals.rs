//! The installed packages an individually packaged function needs, as serverless-esbuild
//! decides them: the external packages its bundle imports (from esbuild's metafile) and
//! everything they depend on in production, resolved through the installed tree the way Node
//! resolves `require`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Node's built-in modules (Node 22), which `require` never looks up in `node_modules`.
const BUILTINS: &[&str] = &[
    "assert",
    "assert/strict",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "dns/promises",
    "domain",
    "events",
    "fs",
    "fs/promises",
    "http",
    "http2",
    "https",
    "inspector",
    "inspector/promises",
    "module",
    "net",
    "os",
    "path",
    "path/posix",
    "path/win32",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "readline/promises",
    "repl",
    "stream",
    "stream/consumers",
    "stream/promises",
    "stream/web",
    "string_decoder",
    "sys",
    "timers",
    "timers/promises",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "util/types",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// The npm package an import specifier loads: `uuid/v4` → `uuid`, `@scope/pkg/sub` →
/// `@scope/pkg`; `None` for Node built-ins (`fs`, `node:fs`), relative or absolute paths and
/// URLs.
pub(crate) fn package_name(specifier: &str) -> Option<&str> {
    if specifier.contains(':') || BUILTINS.contains(&specifier) {
        return None;
    }
    // `@scope/pkg` takes two path segments, a plain name one.
    let segments = if specifier.starts_with('@') { 2 } else { 1 };
    let end = specifier
        .match_indices('/')
        .nth(segments - 1)
        .map_or(specifier.len(), |(i, _)| i);
    let name = &specifier[..end];
    is_package_name(name).then_some(name)
}

/// `name` or `@scope/name`, with no segment that could leave `node_modules` (`.`, `..`, empty).
fn is_package_name(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    let well_formed = match segments.as_slice() {
        [scope, _] => scope.len() > 1 && scope.starts_with('@'),
        [plain] => !plain.starts_with('@'),
        _ => false,
    };
    well_formed
        && segments
            .iter()
            .all(|s| !s.is_empty() && !s.starts_with('.') && !s.contains('\\'))
}

/// The packages a bundle imports and leaves external, from its esbuild metafile (every
/// output's `imports[]` entries with `external: true`), sorted.
pub(crate) fn bundle_imports(meta: &Value) -> BTreeSet<String> {
    let outputs = meta.get("outputs").and_then(Value::as_object);
    outputs
        .into_iter()
        .flat_map(|o| o.values())
        .filter_map(|out| out.get("imports").and_then(Value::as_array))
        .flatten()
        .filter(|i| i.get("external").and_then(Value::as_bool) == Some(true))
        .filter_map(|i| i.get("path").and_then(Value::as_str))
        .filter_map(package_name)
        .map(str::to_string)
        .collect()
}

/// Nesting deeper than this many `node_modules` levels is not followed (a symlink loop).
const MAX_NESTING: usize = 32;

/// An installed `node_modules` tree and the dependency edges read from it so far: entries
/// share most packages, so each `package.json` is read once per build run.
pub(crate) struct InstalledTree {
    root: PathBuf,
    /// Package directory (relative to `root`) → the directories of its installed dependencies.
    edges: HashMap<PathBuf, Vec<PathBuf>>,
}

impl InstalledTree {
    /// The tree whose `node_modules/` is under `root`.
    pub(crate) fn new(root: &Path) -> InstalledTree {
        InstalledTree {
            root: root.to_path_buf(),
            edges: HashMap::new(),
        }
    }

    /// The top-level directories (`node_modules/<pkg>`, `node_modules/@scope/pkg`) that
    /// `roots` and their production dependencies occupy, sorted. A dependency installed
    /// nested inside a kept package is part of it; one that is not installed (an optional
    /// dependency for another platform) is skipped.
    pub(crate) fn closure(&mut self, roots: &BTreeSet<String>) -> Vec<String> {
        let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
        let mut queue: Vec<PathBuf> = roots
            .iter()
            .map(|r| Path::new("node_modules").join(r))
            .filter(|dir| self.is_package(dir))
            .collect();
        while let Some(dir) = queue.pop() {
            if seen.insert(dir.clone()) {
                queue.extend(self.dependencies(&dir).iter().cloned());
            }
        }
        let kept: BTreeSet<String> = seen.iter().filter_map(|dir| top_level(dir)).collect();
        kept.into_iter().collect()
    }

    /// The `declared` packages installed at the top of the tree whose directory is not in
    /// `kept` (the union of [`InstalledTree::closure`] results).
    pub(crate) fn unimported(&self, declared: &[String], kept: &BTreeSet<String>) -> Vec<String> {
        declared
            .iter()
            .filter(|name| {
                let dir = format!("node_modules/{name}");
                self.is_package(Path::new(&dir)) && !kept.contains(&dir)
            })
            .cloned()
            .collect()
    }

    fn is_package(&self, dir: &Path) -> bool {
        self.root.join(dir).join("package.json").is_file()
    }

    /// The installed dependencies of the package in `dir`, memoised.
    fn dependencies(&mut self, dir: &Path) -> &[PathBuf] {
        if !self.edges.contains_key(dir) {
            let nested = dir.iter().filter(|c| *c == "node_modules").count();
            let found = if nested > MAX_NESTING {
                Vec::new()
            } else {
                dependency_names(&self.root.join(dir))
                    .iter()
                    .filter_map(|dep| self.resolve(dir, dep))
                    .collect()
            };
            self.edges.insert(dir.to_path_buf(), found);
        }
        &self.edges[dir]
    }

    /// Node's lookup from the package in `from`: `<ancestor>/node_modules/<dep>` for each
    /// ancestor that is not itself a `node_modules` directory, nearest first, up to the root.
    fn resolve(&self, from: &Path, dep: &str) -> Option<PathBuf> {
        from.ancestors()
            .filter(|a| a.file_name().is_none_or(|n| n != "node_modules"))
            .map(|a| a.join("node_modules").join(dep))
            .find(|c| self.is_package(c))
    }
}

/// `dependencies`, `optionalDependencies` and `peerDependencies` (npm installs peers too) of
/// the package in `dir`; names that are no package name (`../x`) are ignored.
fn dependency_names(dir: &Path) -> BTreeSet<String> {
    let Ok(text) = std::fs::read_to_string(dir.join("package.json")) else {
        return BTreeSet::new();
    };
    let Ok(manifest) = serde_json::from_str::<Value>(&text) else {
        return BTreeSet::new();
    };
    ["dependencies", "optionalDependencies", "peerDependencies"]
        .iter()
        .filter_map(|field| manifest.get(field).and_then(Value::as_object))
        .flat_map(|deps| deps.keys())
        .filter(|name| is_package_name(name))
        .cloned()
        .collect()
}

/// The top-level package directory holding `dir`: `node_modules/a/node_modules/b` →
/// `node_modules/a`, `node_modules/@s/p` → `node_modules/@s/p`.
fn top_level(dir: &Path) -> Option<String> {
    let mut parts = dir.components().map(|c| c.as_os_str().to_string_lossy());
    let (first, name) = (parts.next()?, parts.next()?);
    let name = if name.starts_with('@') {
        format!("{name}/{}", parts.next()?)
    } else {
        name.into_owned()
    };
    Some(format!("{first}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers_map_to_their_package() {
        assert_eq!(package_name("uuid"), Some("uuid"));
        assert_eq!(package_name("uuid/v4"), Some("uuid"));
        assert_eq!(package_name("@scope/pkg"), Some("@scope/pkg"));
        assert_eq!(package_name("@scope/pkg/sub/path.js"), Some("@scope/pkg"));
        // The npm package of a built-in's name, asked for with a trailing slash.
        assert_eq!(package_name("punycode/"), Some("punycode"));
        for not_a_package in [
            "fs",
            "node:fs",
            "fs/promises",
            "node:test",
            "path",
            "./lib",
            "../x",
            "/abs/file.js",
            "@scope",
            "@scope/",
            "@/x",
            "@scope/../x",
            "",
        ] {
            assert_eq!(package_name(not_a_package), None, "{not_a_package}");
        }
    }

    #[test]
    fn external_imports_come_from_every_output_of_the_metafile() {
        let meta = serde_json::json!({"outputs": {
            "out/a.js": {"imports": [
                {"path": "uuid/v4", "kind": "require-call", "external": true},
                {"path": "node:fs", "kind": "require-call", "external": true},
                {"path": "@aws-sdk/client-s3", "kind": "import-statement", "external": true},
                {"path": "src/lib.ts", "kind": "import-statement"},
            ]},
            "out/a.js.map": {"imports": []},
            "out/b.js": {"imports": [{"path": "zod", "kind": "dynamic-import", "external": true}]},
        }});
        let got: Vec<String> = bundle_imports(&meta).into_iter().collect();
        assert_eq!(got, ["@aws-sdk/client-s3", "uuid", "zod"]);
        assert!(bundle_imports(&serde_json::json!({"inputs": {}})).is_empty());
    }

    /// A package at `dir` (relative to the tree) with these `field: [names]` dependencies.
    fn package(tree: &Path, dir: &str, deps: &[(&str, &[&str])]) {
        let mut manifest = serde_json::Map::new();
        for (field, names) in deps {
            let map: serde_json::Map<String, Value> = names
                .iter()
                .map(|n| (n.to_string(), Value::from("*")))
                .collect();
            manifest.insert(field.to_string(), Value::Object(map));
        }
        let path = tree.join(dir);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(
            path.join("package.json"),
            Value::Object(manifest).to_string(),
        )
        .unwrap();
    }

    fn roots(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_closure_follows_nested_versions_scopes_cycles_and_missing_optionals() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        // a → b (nested version), @s/c; nested b → d (top level); @s/c → a (a cycle) and an
        // optional dependency that is not installed; e is installed but nobody needs it.
        package(t, "node_modules/a", &[("dependencies", &["b", "@s/c"])]);
        package(
            t,
            "node_modules/a/node_modules/b",
            &[("dependencies", &["d"])],
        );
        package(t, "node_modules/b", &[("dependencies", &["e"])]);
        package(
            t,
            "node_modules/@s/c",
            &[
                ("dependencies", &["a"]),
                ("optionalDependencies", &["fsevents"]),
            ],
        );
        package(t, "node_modules/d", &[]);
        package(t, "node_modules/e", &[]);
        package(t, "node_modules/x", &[("dependencies", &["y"])]);
        package(t, "node_modules/y", &[("dependencies", &["x"])]);
        // A name that would leave its directory (here to node_modules/x) is no dependency.
        package(t, "node_modules/evil", &[("dependencies", &["../../x"])]);
        let mut tree = InstalledTree::new(t);
        assert_eq!(
            tree.closure(&roots(&["a"])),
            ["node_modules/@s/c", "node_modules/a", "node_modules/d"]
        );
        // A cycle x → y → x ends; packages that are not installed are no roots.
        assert_eq!(
            tree.closure(&roots(&["x", "@aws-sdk/client-s3"])),
            ["node_modules/x", "node_modules/y"]
        );
        assert_eq!(
            tree.closure(&roots(&["b"])),
            ["node_modules/b", "node_modules/e"]
        );
        assert!(tree.closure(&roots(&[])).is_empty());
        assert_eq!(tree.closure(&roots(&["evil"])), ["node_modules/evil"]);
        // Declared and installed but needed by nobody: e; not installed: z.
        let kept: BTreeSet<String> = tree.closure(&roots(&["a"])).into_iter().collect();
        let declared = ["a".to_string(), "e".to_string(), "z".to_string()];
        assert_eq!(tree.unimported(&declared, &kept), ["e"]);
    }
}
