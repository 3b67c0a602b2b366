//! Bundling with the project's esbuild: one build per distinct entry file, in parallel,
//! each skipped when its module graph, options and esbuild version are unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use rayon::prelude::*;
use serde_json::Value;

use super::cache::{Digests, Slot, hash_parts, key_for};
use super::{
    BuildError, BuildOutput, BuildPlan, BuildSettings, Builder, EsbuildOptions, externals,
    handler_base, node_deps, tool_version,
};
use crate::{BuiltTree, TreeMode};

/// What to install esbuild with, as the error says it.
const INSTALL_HINT: &str = "npm install --save-dev esbuild";

/// One entry file to bundle, and the functions whose handler it is.
struct Entry {
    path: String,
    functions: Vec<String>,
}

/// One entry's bundle in its cache slot.
struct Bundled {
    /// The output tree.
    out: PathBuf,
    /// Reused from the cache, not built.
    fresh: bool,
    /// The packages the bundle imports and leaves external.
    imports: BTreeSet<String>,
}

/// Builds every bundled function of `plan` and records the trees in `out`.
pub(crate) fn build_all(
    plan: &BuildPlan,
    options: &EsbuildOptions,
    settings: &BuildSettings,
    out: &mut BuildOutput,
) -> Result<(), BuildError> {
    let entries = entries(plan, options)?;
    if entries.is_empty() {
        return Ok(());
    }
    let binary = find_esbuild(&plan.service_dir, settings.search_path.as_deref())?;
    let root = settings.cache_dir.join("esbuild");
    let version = tool_version::remembered(&binary, &root, || esbuild_version(&binary))?;
    let flags = options.cli_flags();
    let base =
        hash_parts(std::iter::once(version.as_str()).chain(flags.iter().map(String::as_str)));
    let jobs = options
        .concurrency
        .or(settings.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|err| BuildError::ToolMissing {
            message: format!("Cannot start build threads: {err}"),
        })?;
    let digests = Digests::default();
    let results: Vec<Bundled> = pool.install(|| {
        entries
            .par_iter()
            .map(|e| bundle(plan, &binary, &flags, &base, &root, e, &digests))
            .collect::<Result<_, _>>()
    })?;
    let installed = options.installed_externals();
    let node_modules = if installed.is_empty() {
        None
    } else {
        Some(node_deps::install_externals(
            &plan.service_dir,
            &installed,
            options.packager.as_deref(),
            &root,
        )?)
    };
    let extras = super::extras::copy_extras(plan, &root)?;
    let installs = Installs {
        declared: &installed,
        node_modules: node_modules.as_deref(),
        extras: extras.as_deref(),
    };
    place_trees(plan, &entries, results, &installs, out);
    for f in plan
        .functions
        .iter()
        .filter(|f| f.builder == Builder::Esbuild)
    {
        let name = format!("{}{}", handler_base(&f.handler), options.out_extension);
        out.handler_files.insert(f.key.clone(), vec![name]);
    }
    Ok(())
}

/// What the service's bundles share: the installed externals and the extras.
struct Installs<'a> {
    /// The externals asked to be installed.
    declared: &'a [String],
    /// Where they are installed, if any.
    node_modules: Option<&'a Path>,
    /// The files `package.patterns` include, if any.
    extras: Option<&'a Path>,
}

/// Counts the builds and records each function's trees, the installed tree trimmed per zip
/// when some function is packaged individually.
fn place_trees(
    plan: &BuildPlan,
    entries: &[Entry],
    results: Vec<Bundled>,
    installs: &Installs<'_>,
    out: &mut BuildOutput,
) {
    let mut tree = installs
        .node_modules
        .filter(|_| individual_keys(plan).next().is_some())
        .map(externals::InstalledTree::new);
    let mut imported = BTreeSet::new();
    for (entry, bundled) in entries.iter().zip(results) {
        if bundled.fresh {
            out.cached += 1;
        } else {
            out.built += 1;
        }
        let needed = tree.as_mut().map(|t| t.closure(&bundled.imports));
        record_trees(plan, entry, &bundled.out, needed.as_deref(), installs, out);
        imported.extend(needed.unwrap_or_default());
    }
    if let Some(tree) = &tree {
        let warning = unimported_warning(plan, tree, installs.declared, &imported);
        out.warnings.extend(warning);
    }
}

/// The trees of each function of `entry`: its bundle, the installed externals and the extras.
/// An individually packaged function gets only the installed directories its bundle needs
/// (`needed`); the service zip gets the whole installed tree.
fn record_trees(
    plan: &BuildPlan,
    entry: &Entry,
    bundle: &Path,
    needed: Option<&[String]>,
    installs: &Installs<'_>,
    out: &mut BuildOutput,
) {
    let tree = |dir: &Path, only: Option<Vec<String>>| BuiltTree {
        dir: dir.to_path_buf(),
        mode: TreeMode::Replace,
        only,
    };
    for f in &entry.functions {
        let individually = individual_keys(plan).any(|k| k == f);
        let list = out.trees.entry(f.clone()).or_default();
        list.push(tree(bundle, None));
        if let Some(dir) = installs.node_modules {
            let only = needed.filter(|_| individually).map(<[String]>::to_vec);
            list.push(tree(dir, only));
        }
        list.extend(installs.extras.map(|dir| tree(dir, None)));
    }
}

/// The bundled functions packaged individually.
fn individual_keys(plan: &BuildPlan) -> impl Iterator<Item = &str> {
    plan.functions
        .iter()
        .filter(|f| f.builder == Builder::Esbuild && f.individually)
        .map(|f| f.key.as_str())
}

/// A declared external that no bundle imports is left out of every individually packaged
/// zip (as serverless-esbuild does); say so rather than drop it silently.
fn unimported_warning(
    plan: &BuildPlan,
    tree: &externals::InstalledTree,
    declared: &[String],
    imported: &BTreeSet<String>,
) -> Option<String> {
    let individual: Vec<&str> = individual_keys(plan).collect();
    let left_out = tree.unimported(declared, imported);
    if individual.is_empty() || left_out.is_empty() {
        return None;
    }
    Some(format!(
        "custom.esbuild.external: {} imported by no bundle, so the zips of the individually \
         packaged functions {} leave it out, as serverless-esbuild does; import it where it is \
         needed or remove it from external",
        match left_out.as_slice() {
            [one] => format!("{one} is"),
            many => format!("{} are", many.join(", ")),
        },
        individual.join(", ")
    ))
}

/// The distinct entry files of the bundled functions, in config order.
fn entries(plan: &BuildPlan, options: &EsbuildOptions) -> Result<Vec<Entry>, BuildError> {
    let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
    let mut list: Vec<Entry> = Vec::new();
    for f in plan
        .functions
        .iter()
        .filter(|f| f.builder == Builder::Esbuild)
    {
        let path = match &f.entrypoint {
            Some(entry) => entry.clone(),
            None => resolve_entry(&plan.service_dir, handler_base(&f.handler), options)
                .ok_or_else(|| BuildError::Config {
                    setting: format!("functions.{}.handler", f.key),
                    message: format!(
                        "no entry file for handler {:?}: looked for {} under {}; fix the handler path or set esbuildEntrypoint",
                        f.handler,
                        entry_candidates(handler_base(&f.handler), options).join(", "),
                        plan.service_dir.display()
                    ),
                })?,
        };
        match by_path.get(&path) {
            Some(&i) => list[i].functions.push(f.key.clone()),
            None => {
                by_path.insert(path.clone(), list.len());
                list.push(Entry {
                    path,
                    functions: vec![f.key.clone()],
                });
            }
        }
    }
    Ok(list)
}

/// serverless-esbuild's order: `<base><ext>` for each extension, then `<base>/index<ext>`.
fn entry_candidates(base: &str, options: &EsbuildOptions) -> Vec<String> {
    let exts = options.entry_extensions();
    let direct = exts.iter().map(|e| format!("{base}{e}"));
    let index = exts.iter().map(|e| format!("{base}/index{e}"));
    direct.chain(index).collect()
}

fn resolve_entry(service_dir: &Path, base: &str, options: &EsbuildOptions) -> Option<String> {
    entry_candidates(base, options)
        .into_iter()
        .find(|c| service_dir.join(c).is_file())
}

/// The nearest `node_modules/.bin/esbuild` from the service directory up (a workspace
/// monorepo hoists it to its root), else `esbuild` on `PATH`.
pub(crate) fn find_esbuild(
    service_dir: &Path,
    search_path: Option<&std::ffi::OsStr>,
) -> Result<PathBuf, BuildError> {
    if let Some(local) =
        crate::node::find_in_node_modules(service_dir, ".bin/esbuild").filter(|p| p.is_file())
    {
        return Ok(local);
    }
    let paths = search_path
        .map(|p| p.to_os_string())
        .or_else(|| std::env::var_os("PATH"));
    let on_path = paths.and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("esbuild"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| BuildError::ToolMissing {
        message: format!(
            "esbuild is needed to build the functions of {} but is neither in a node_modules/.bin (of that directory or an ancestor) nor on PATH; run `{INSTALL_HINT}` in the service directory",
            service_dir.display()
        ),
    })
}

fn esbuild_version(binary: &Path) -> Result<String, BuildError> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|err| BuildError::ToolMissing {
            message: format!(
                "Cannot run {}: {err}; run `{INSTALL_HINT}` in the service directory",
                binary.display()
            ),
        })?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Bundles one entry into its cache slot (unless fresh, with a readable metafile).
fn bundle(
    plan: &BuildPlan,
    binary: &Path,
    flags: &[String],
    base: &str,
    root: &Path,
    entry: &Entry,
    digests: &Digests,
) -> Result<Bundled, BuildError> {
    let base = hash_parts([base, entry.path.as_str()]);
    let slot = Slot::new(root.join(&hash_parts([entry.path.as_str()])[..16]));
    let meta = slot.dir.join("meta.json");
    if slot.is_fresh(&base, &plan.service_dir, digests)
        && let Ok(metafile) = read_metafile(&meta)
    {
        return Ok(Bundled {
            out: slot.out(),
            fresh: true,
            imports: externals::bundle_imports(&metafile),
        });
    }
    slot.clear()?;
    let dir = Path::new(&entry.path).parent().unwrap_or(Path::new(""));
    let outdir = slot.out().join(dir);
    let output = Command::new(binary)
        .arg(&entry.path)
        .args(flags)
        .arg(format!("--outdir={}", outdir.display()))
        .arg(format!("--metafile={}", meta.display()))
        .arg("--log-level=warning")
        .arg("--color=false")
        .current_dir(&plan.service_dir)
        .output()
        .map_err(|err| BuildError::ToolMissing {
            message: format!(
                "Cannot run {}: {err}; run `{INSTALL_HINT}`",
                binary.display()
            ),
        })?;
    if !output.status.success() {
        return Err(BuildError::ToolFailed {
            tool: "esbuild".into(),
            what: format!("{} (functions {})", entry.path, entry.functions.join(", ")),
            output: String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_string(),
        });
    }
    let metafile = read_metafile(&meta)?;
    let mut inputs = metafile_inputs(&metafile);
    // Resolution also depends on these, though esbuild does not list them as inputs.
    inputs.extend(["package.json".to_string(), "tsconfig.json".to_string()]);
    // Files read by this build are hashed afresh: the run's memo may hold their old content.
    let key = key_for(&base, &plan.service_dir, &inputs, &Digests::default());
    slot.save(&key, &inputs)?;
    Ok(Bundled {
        out: slot.out(),
        fresh: false,
        imports: externals::bundle_imports(&metafile),
    })
}

/// esbuild's metafile of a build.
fn read_metafile(meta: &Path) -> Result<Value, BuildError> {
    let text = std::fs::read_to_string(meta).map_err(BuildError::io("read", meta))?;
    serde_json::from_str(&text).map_err(|err| BuildError::Io {
        action: "parse",
        path: meta.to_path_buf(),
        source: std::io::Error::other(err),
    })
}

/// The files esbuild read (the module graph), relative to the service directory.
fn metafile_inputs(metafile: &Value) -> Vec<String> {
    let mut inputs: Vec<String> = metafile
        .get("inputs")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    inputs.sort();
    inputs
}
