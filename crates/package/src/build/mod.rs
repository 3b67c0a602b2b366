//! Builds what a function runs before it is zipped: esbuild bundles for TypeScript and
//! bundled JavaScript, pip installs for Python requirements.
//!
//! [`plan`] reads the service model and decides, per function, which builder applies and with
//! which options (warnings included). [`build`] runs the builders (in parallel, skipping
//! builds whose inputs are unchanged) and returns [`BuildOutput`], whose
//! [`BuildOutput::package_options`] feed [`crate::package_with`]: the built trees become zip
//! entries through the same deterministic writer as every other file.

mod cache;
mod esbuild;
pub mod esbuild_options;
mod externals;
mod extras;
mod node_deps;
mod python;
mod python_export;
mod python_options;
mod tool_version;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use deployer_config::model::Service;
use serde_json::Value;

pub use esbuild_options::{EsbuildOptions, Format, OptionSource};
pub use python::PythonOptions;

use crate::{BuiltTree, PackageOptions};

/// Plugins that build Node code; deployer builds with esbuild for all of them.
const ESBUILD_PLUGINS: [&str; 4] = [
    "serverless-esbuild",
    "serverless-plugin-typescript",
    "serverless-bundle",
    "serverless-webpack",
];
const TS_EXTENSIONS: [&str; 4] = [".ts", ".mts", ".cts", ".tsx"];

/// What one function needs before zipping.
#[derive(Debug, Clone, PartialEq)]
pub enum Builder {
    /// Bundle the handler's entry with esbuild.
    Esbuild,
    /// Install the Python requirements of the function's `module` directory.
    Python,
    /// Zip the sources as they are (v3 packaging).
    None,
}

/// One function's build.
#[derive(Debug, Clone)]
pub struct FunctionPlan {
    /// Key in `functions:`.
    pub key: String,
    /// `handler` (`path/file.export`).
    pub handler: String,
    /// Effective runtime (the function's, else the provider's).
    pub runtime: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// Packaged in its own zip.
    pub individually: bool,
    /// Which builder applies.
    pub builder: Builder,
    /// `esbuildEntrypoint`: an entry file instead of the handler's.
    pub entrypoint: Option<String>,
    /// Python `module` directory (default `.`).
    pub module: String,
}

/// Every function's build and the options of each builder.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    /// The service directory.
    pub service_dir: PathBuf,
    /// `service:` name.
    pub service_name: String,
    /// Every function with a zip, in config order.
    pub functions: Vec<FunctionPlan>,
    /// esbuild options, when any function is bundled.
    pub esbuild: Option<EsbuildOptions>,
    /// Python requirement options, when any function installs requirements.
    pub python: Option<PythonOptions>,
    /// Service `package.patterns`: files they include are copied next to the bundles.
    pub patterns: Vec<String>,
    /// Things to tell the user (each once).
    pub warnings: Vec<String>,
}

/// Where builds keep their work and what they may use.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// Root of the build cache and staging trees (default `<service>/.serverless/build-cache`).
    pub cache_dir: PathBuf,
    /// At most this many builds at once (default: the number of cores).
    pub jobs: Option<usize>,
    /// Where to look for tools after the project's `node_modules/.bin` (default: `PATH`).
    pub search_path: Option<std::ffi::OsString>,
}

impl BuildSettings {
    /// The default settings for a service directory.
    pub fn for_service(service_dir: &Path) -> BuildSettings {
        BuildSettings {
            cache_dir: service_dir.join(".serverless").join("build-cache"),
            jobs: None,
            search_path: None,
        }
    }
}

/// What [`build`] produced.
#[derive(Debug, Clone, Default)]
pub struct BuildOutput {
    /// Function key → trees to put into its zip.
    pub trees: BTreeMap<String, Vec<BuiltTree>>,
    /// Function key → the entry names of which one must be in its zip (the handler file).
    pub handler_files: BTreeMap<String, Vec<String>>,
    /// Builds run, and builds skipped because their inputs were unchanged.
    pub built: usize,
    /// See `built`.
    pub cached: usize,
    /// Things to tell the user.
    pub warnings: Vec<String>,
}

impl BuildOutput {
    /// The packaging options that put the built trees into the zips and check handlers.
    pub fn package_options(&self, exclude_dev_dependencies: bool) -> PackageOptions {
        PackageOptions {
            exclude_dev_dependencies,
            trees: self.trees.clone(),
            handler_files: self.handler_files.clone(),
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A setting that cannot be used.
    #[error("{setting}: {message}")]
    Config {
        /// Where in the configuration (`custom.esbuild`, `functions.api.handler`, ...).
        setting: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A tool the build needs is not installed.
    #[error("{message}")]
    ToolMissing {
        /// What is missing and how to install it.
        message: String,
    },
    /// A tool ran and failed.
    #[error("{tool} failed for {what}:\n{output}")]
    ToolFailed {
        /// `esbuild`, `pip`, `npm`, ...
        tool: String,
        /// Which function or requirements file.
        what: String,
        /// The tool's own message.
        output: String,
    },
    /// A file of the build could not be read or written.
    #[error("Cannot {action} {path}: {source}")]
    Io {
        /// `read`, `write`, `create`, ...
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    }
}

/// Decides what each function of `service` (in `service_dir`) needs built.
pub fn plan(service: &Service, service_dir: &Path) -> Result<BuildPlan, BuildError> {
    let plugins = plugin_names(service.plugins.as_ref());
    let custom = service.custom.clone().unwrap_or(Value::Null);
    let v4_esbuild = service
        .extra
        .get("build")
        .and_then(|b| b.get("esbuild"))
        .cloned();
    let mut warnings = Vec::new();
    let esbuild_plugin = plugins
        .iter()
        .find(|p| ESBUILD_PLUGINS.contains(&p.as_str()))
        .cloned();
    let python_on = plugins
        .iter()
        .any(|p| p == "serverless-python-requirements")
        || custom.get("pythonRequirements").is_some();
    let package = service.package.clone().unwrap_or_default();
    let mut functions: Vec<FunctionPlan> = service
        .functions
        .iter()
        .filter_map(|(key, f)| function_plan(service, key, f, python_on))
        .collect();
    let ts_handler = functions
        .iter()
        .filter(|f| f.builder == Builder::Esbuild)
        .any(|f| handler_is_typescript(service_dir, f));
    let source = match (&esbuild_plugin, &v4_esbuild) {
        (Some(p), _) if p == "serverless-esbuild" => Some(OptionSource::ServerlessEsbuild),
        (Some(_), _) => Some(OptionSource::Webpack),
        (None, Some(_)) => Some(OptionSource::V4),
        (None, None) if ts_handler => Some(OptionSource::V4),
        (None, None) => None,
    };
    let esbuild = match source {
        Some(source) => Some(esbuild_options(
            service,
            service_dir,
            source,
            &custom,
            v4_esbuild.as_ref(),
            &mut warnings,
        )?),
        None => {
            // Plain JavaScript without a build plugin: zipped as v3 does.
            for f in &mut functions {
                if f.builder == Builder::Esbuild {
                    f.builder = Builder::None;
                }
            }
            None
        }
    };
    if source == Some(OptionSource::Webpack) {
        let name = esbuild_plugin.clone().unwrap_or_default();
        warnings.push(format!(
            "{name}: bundled with esbuild instead of webpack (webpack.config.js and loaders are not run; see docs/building.md)"
        ));
    }
    if esbuild.is_some() {
        warnings.extend(shared_zip_warning(&service.service, &functions));
    }
    let python = python_plan(service_dir, &custom, python_on, &functions, &mut warnings)?;
    Ok(BuildPlan {
        service_dir: service_dir.to_path_buf(),
        service_name: service.service.clone(),
        functions,
        esbuild,
        python,
        patterns: package.patterns.clone(),
        warnings,
    })
}

/// One function's plan, or `None` when it has no zip to build (image, disabled, prebuilt, no
/// handler).
fn function_plan(
    service: &Service,
    key: &str,
    f: &deployer_config::model::Function,
    python_on: bool,
) -> Option<FunctionPlan> {
    let fp = f.package.clone().unwrap_or_default();
    if f.image.is_some() || fp.disable == Some(true) || fp.artifact.is_some() {
        return None;
    }
    let handler = f.handler.clone()?;
    let runtime = f
        .runtime
        .clone()
        .or_else(|| service.provider.runtime.clone())
        .unwrap_or_else(|| "nodejs20.x".into());
    let architecture = f
        .architecture
        .clone()
        .or_else(|| service.provider.architecture.clone())
        .unwrap_or_else(|| "x86_64".into());
    let extra_str = |name: &str| {
        f.extra
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let skip = f.extra.get("skipEsbuild").and_then(Value::as_bool) == Some(true);
    // Node functions are candidates; whether the service is bundled is decided afterwards.
    let builder = if runtime.starts_with("nodejs") && !skip {
        Builder::Esbuild
    } else if runtime.starts_with("python") && python_on {
        Builder::Python
    } else {
        Builder::None
    };
    let service_individually = service
        .package
        .as_ref()
        .and_then(|p| p.individually)
        .unwrap_or(false);
    Some(FunctionPlan {
        key: key.to_string(),
        handler,
        runtime,
        architecture,
        individually: fp.individually.unwrap_or(false) || service_individually,
        builder,
        entrypoint: extra_str("esbuildEntrypoint").map(|e| without_dot_slash(&e).to_string()),
        module: extra_str("module").unwrap_or_else(|| ".".into()),
    })
}

fn esbuild_options(
    service: &Service,
    service_dir: &Path,
    source: OptionSource,
    custom: &Value,
    v4: Option<&Value>,
    warnings: &mut Vec<String>,
) -> Result<EsbuildOptions, BuildError> {
    let (setting, raw) = match (source, v4) {
        (OptionSource::V4, Some(raw)) => ("build.esbuild", raw.clone()),
        _ => (
            "custom.esbuild",
            custom.get("esbuild").cloned().unwrap_or(Value::Null),
        ),
    };
    // A v4 `build.esbuild: true` just turns the build on.
    let raw = if raw.is_boolean() { Value::Null } else { raw };
    let runtime = service
        .provider
        .runtime
        .clone()
        .unwrap_or_else(|| "nodejs20.x".into());
    let module_type = node_deps::package_type(service_dir);
    let options = EsbuildOptions::parse(&raw, source, &runtime, module_type.as_deref()).map_err(
        |message| BuildError::Config {
            setting: setting.into(),
            message,
        },
    )?;
    if !options.unknown.is_empty() {
        warnings.push(format!(
            "{setting}: unknown option(s) {} ignored",
            options.unknown.join(", ")
        ));
    }
    Ok(options)
}

fn python_plan(
    service_dir: &Path,
    custom: &Value,
    on: bool,
    functions: &[FunctionPlan],
    warnings: &mut Vec<String>,
) -> Result<Option<PythonOptions>, BuildError> {
    let has_python = functions.iter().any(|f| f.runtime.starts_with("python"));
    if !on {
        if has_python && service_dir.join("requirements.txt").is_file() {
            warnings.push(
                "requirements.txt: requirements are not installed, as in v3; set custom.pythonRequirements or declare serverless-python-requirements to install them".into(),
            );
        }
        return Ok(None);
    }
    let raw = custom
        .get("pythonRequirements")
        .cloned()
        .unwrap_or(Value::Null);
    PythonOptions::parse(&raw)
        .map(Some)
        .map_err(|message| BuildError::Config {
            setting: "custom.pythonRequirements".into(),
            message,
        })
}

/// Functions that share the service zip with bundled ones keep their sources in it, so that
/// zip also holds the selected service files; say so, naming them.
fn shared_zip_warning(service: &str, functions: &[FunctionPlan]) -> Option<String> {
    let shared = || functions.iter().filter(|f| !f.individually);
    if !shared().any(|f| f.builder == Builder::Esbuild) {
        return None;
    }
    let unbundled: Vec<&str> = shared()
        .filter(|f| f.builder != Builder::Esbuild)
        .map(|f| f.key.as_str())
        .collect();
    if unbundled.is_empty() {
        return None;
    }
    Some(format!(
        "{service}.zip holds the bundles and, for function(s) {} that are not bundled, the \
         selected sources too; set package.individually: true to give each function its own zip",
        unbundled.join(", ")
    ))
}

/// `plugins:` as a list, or v3's `{localPath, modules}` form.
fn plugin_names(plugins: Option<&Value>) -> Vec<String> {
    let list = match plugins {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(map)) => map
            .get("modules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    list.iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The handler path without its export and without leading `./`: `src/api.handler` and
/// `./src/api.handler` → `src/api` (Lambda resolves both from the task root; serverless-esbuild
/// normalises them with `path.relative`).
pub fn handler_base(handler: &str) -> &str {
    let handler = without_dot_slash(handler);
    match handler.rfind('.') {
        Some(dot) if !handler[dot..].contains('/') => &handler[..dot],
        _ => handler,
    }
}

/// `path` without its leading `./` segments: zip entries and entry points never have them.
pub(crate) fn without_dot_slash(path: &str) -> &str {
    let mut path = path;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.trim_start_matches('/');
    }
    path
}

/// The files Python's runtime may import for a handler module. Lambda's bootstrap turns `/`
/// into `.` and imports the module, so `handlers.orders.create` and `handlers/orders.create`
/// both load `handlers/orders.py` (or the package `handlers/orders/__init__.py`).
fn python_module_files(base: &str) -> Vec<String> {
    let path = base.replace('.', "/");
    vec![format!("{path}.py"), format!("{path}/__init__.py")]
}

fn handler_is_typescript(service_dir: &Path, f: &FunctionPlan) -> bool {
    if let Some(entry) = &f.entrypoint {
        return TS_EXTENSIONS.iter().any(|e| entry.ends_with(e));
    }
    let base = handler_base(&f.handler);
    let js_exists = [".js", ".mjs", ".cjs"]
        .iter()
        .any(|e| service_dir.join(format!("{base}{e}")).is_file());
    !js_exists
        && TS_EXTENSIONS
            .iter()
            .any(|e| service_dir.join(format!("{base}{e}")).is_file())
}

/// Runs every planned build and returns the trees to zip.
pub fn build(plan: &BuildPlan, settings: &BuildSettings) -> Result<BuildOutput, BuildError> {
    let mut out = BuildOutput {
        warnings: plan.warnings.clone(),
        ..Default::default()
    };
    if let Some(options) = &plan.esbuild {
        esbuild::build_all(plan, options, settings, &mut out)?;
    }
    if let Some(options) = &plan.python {
        python::build_all(plan, options, settings, &mut out)?;
    }
    for f in &plan.functions {
        out.handler_files
            .entry(f.key.clone())
            .or_insert_with(|| default_handler_files(f));
    }
    Ok(out)
}

/// The files Lambda would load for a handler that was not bundled.
fn default_handler_files(f: &FunctionPlan) -> Vec<String> {
    let base = handler_base(&f.handler);
    if f.runtime.starts_with("python") {
        return python_module_files(base);
    }
    if !f.runtime.starts_with("nodejs") {
        // Other runtimes (provided, java, ...) name no file we can check.
        return Vec::new();
    }
    [".js", ".mjs", ".cjs"]
        .iter()
        .map(|e| format!("{base}{e}"))
        .collect()
}

#[cfg(test)]
mod tests;
