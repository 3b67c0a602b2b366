//! Running one handler on this machine for `invoke local`: the local runtime that matches the
//! function's, where its code is (the esbuild bundle, or the service directory), and one run
//! in a child process under the function's timeout. The runner scripts ship in the binary.

pub(crate) mod context;
pub(crate) mod env;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deployer_package::PackageOptions as Built;
use serde::Serialize;
use serde_json::Value;

use crate::errors::{OpError, OpErrorKind};

const NODE_RUNNER: &str = include_str!("runner.js");
const PYTHON_RUNNER: &str = include_str!("runner.py");

/// Time allowed on top of the function's timeout for the runtime to start.
const STARTUP_GRACE: Duration = Duration::from_millis(300);

/// The two runtimes `invoke local` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    /// `nodejs*`: `node`.
    Node,
    /// `python*`: `python3.X`, else `python3`.
    Python,
}

/// A local runtime found on `PATH`.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    /// Node or Python.
    pub language: Language,
    /// The executable.
    pub binary: PathBuf,
}

fn function_error(message: String) -> anyhow::Error {
    OpError::error(OpErrorKind::Function, message)
}

/// The local runtime for `declared` (the function's runtime), or an error naming what to
/// install.
pub(crate) fn runtime(key: &str, declared: &str) -> anyhow::Result<Runtime> {
    runtime_in(key, declared, &std::env::var_os("PATH").unwrap_or_default())
}

/// [`runtime`] with the executables searched in `path` (a `PATH` value).
fn runtime_in(key: &str, declared: &str, path: &std::ffi::OsStr) -> anyhow::Result<Runtime> {
    let (language, candidates, what) = if let Some(v) = declared.strip_prefix("nodejs") {
        let version = v.trim_end_matches(".x");
        let what = format!("Node.js {version} (`node`)");
        (Language::Node, vec!["node".to_string()], what)
    } else if let Some(v) = declared.strip_prefix("python") {
        let what = format!("Python {v} (`python{v}` or `python3`)");
        (
            Language::Python,
            vec![format!("python{v}"), "python3".into()],
            what,
        )
    } else {
        return Err(function_error(format!(
            "function \"{key}\" has runtime {declared}: `deployer invoke local` runs nodejs* \
             and python* functions; deploy it and run `deployer invoke -f {key}`"
        )));
    };
    let found = candidates.iter().find_map(|c| {
        std::env::split_paths(path)
            .map(|dir| dir.join(c))
            .find(|p| is_executable(p))
    });
    match found {
        Some(binary) => Ok(Runtime { language, binary }),
        None => Err(function_error(format!(
            "function \"{key}\" declares runtime {declared}, and {what} is not installed on \
             this machine (not on PATH); install it to run the function locally"
        ))),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where a handler's code is and how the runner finds it.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    /// The directory the code runs from (`LAMBDA_TASK_ROOT`, the working directory).
    pub root: PathBuf,
    /// Node: the handler file; Python: the module name.
    pub entry: String,
    /// The exported function's name.
    pub export: String,
    /// `NODE_PATH` or `PYTHONPATH` entries.
    pub search: Vec<PathBuf>,
}

/// Finds the code of function `key` with `handler`: in its esbuild bundle when `builds` made
/// one, else in the service directory (`module` for Python).
pub(crate) fn code(
    key: &str,
    handler: &str,
    language: Language,
    service_dir: &Path,
    module: &str,
    builds: &Built,
) -> anyhow::Result<Code> {
    let Some((base, export)) = handler.rsplit_once('.') else {
        return Err(function_error(format!(
            "functions.{key}.handler \"{handler}\" is not FILE.EXPORT (e.g. handler.hello)"
        )));
    };
    let trees: Vec<&Path> = builds
        .trees
        .get(key)
        .map(|t| t.iter().map(|t| t.dir.as_path()).collect())
        .unwrap_or_default();
    if language == Language::Python {
        let root = service_dir.join(module);
        let mut search: Vec<PathBuf> = trees.iter().map(|t| t.to_path_buf()).collect();
        search.push(root.clone());
        return Ok(Code {
            root,
            entry: base.replace('/', "."),
            export: export.to_string(),
            search,
        });
    }
    let bundled = builds.handler_files.get(key).and_then(|files| {
        let file = files.first()?;
        trees.iter().map(|t| t.join(file)).find(|p| p.is_file())
    });
    let file = match bundled {
        Some(file) => file,
        None => node_file(key, service_dir, base)?,
    };
    let mut search: Vec<PathBuf> = trees.iter().map(|t| t.join("node_modules")).collect();
    search.push(service_dir.join("node_modules"));
    let root = match &bundled_root(&file, base) {
        Some(root) => root.clone(),
        None => service_dir.to_path_buf(),
    };
    Ok(Code {
        root,
        entry: file.display().to_string(),
        export: export.to_string(),
        search,
    })
}

/// The directory a bundle's handler file `base.js` sits under.
fn bundled_root(file: &Path, base: &str) -> Option<PathBuf> {
    let depth = Path::new(base).components().count();
    file.ancestors().nth(depth).map(Path::to_path_buf)
}

/// The handler file of an unbundled Node function.
fn node_file(key: &str, service_dir: &Path, base: &str) -> anyhow::Result<PathBuf> {
    [".js", ".mjs", ".cjs"]
        .iter()
        .map(|ext| service_dir.join(format!("{base}{ext}")))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            function_error(format!(
                "the handler file of function \"{key}\" ({base}.js, .mjs or .cjs) is not in {}",
                service_dir.display()
            ))
        })
}

/// Lambda's shape of a failed invocation.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaError {
    /// The error's class (`TypeError`, `ValueError`, `Sandbox.Timedout`).
    pub error_type: String,
    /// Its message.
    pub error_message: String,
    /// The stack, one frame a line.
    #[serde(default)]
    pub stack_trace: Vec<String>,
}

/// How one run ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// The handler's result (`null` when it returned nothing).
    Result(Value),
    /// The handler failed.
    Failed(LambdaError),
    /// Killed at the function's timeout.
    TimedOut,
}

/// One run: the runtime, the code, the event, the context and the environment.
pub(crate) struct Run<'a> {
    /// The local runtime.
    pub runtime: &'a Runtime,
    /// The code.
    pub code: &'a Code,
    /// The event's JSON.
    pub event: &'a Value,
    /// What the context object carries (`timeoutMs`, `functionName`, …).
    pub context: &'a Value,
    /// Variables set over the inherited environment (ambient credentials are removed).
    pub vars: &'a BTreeMap<String, String>,
    /// The function's timeout.
    pub timeout: Duration,
    /// A scratch directory for the runner, the event and the result.
    pub work: &'a Path,
}

/// Runs the handler once; its own output goes to this process's stderr.
pub(crate) async fn run(run: &Run<'_>) -> anyhow::Result<Outcome> {
    let (script, text) = match run.runtime.language {
        Language::Node => ("runner.js", NODE_RUNNER),
        Language::Python => ("runner.py", PYTHON_RUNNER),
    };
    let write = |name: &str, bytes: &[u8]| {
        let path = run.work.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    };
    write(script, text.as_bytes())?;
    write("event.json", &serde_json::to_vec(run.event)?)?;
    write("context.json", &serde_json::to_vec(run.context)?)?;
    let mut child = command(run, &run.work.join(script))?
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", run.runtime.binary.display()))?;
    let waited = tokio::time::timeout(run.timeout + STARTUP_GRACE, child.wait()).await;
    let Ok(status) = waited else {
        let _ = child.kill().await;
        return Ok(Outcome::TimedOut);
    };
    let status = status?;
    read_outcome(&run.work.join("result.json"), status)
}

fn command(run: &Run<'_>, script: &Path) -> anyhow::Result<tokio::process::Command> {
    use std::os::fd::AsFd as _;
    let mut cmd = tokio::process::Command::new(&run.runtime.binary);
    cmd.arg(script)
        .arg(&run.code.entry)
        .arg(&run.code.export)
        .arg(run.work)
        .current_dir(&run.code.root)
        .stdin(std::process::Stdio::null())
        // The handler's output is not the result: it goes to stderr, as v3's logs would.
        .stdout(std::io::stderr().as_fd().try_clone_to_owned()?)
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(env::is_credential_var) {
            cmd.env_remove(&name);
        }
    }
    let var = match run.runtime.language {
        Language::Node => "NODE_PATH",
        Language::Python => "PYTHONPATH",
    };
    let mut search = run.code.search.clone();
    search.extend(std::env::var_os(var).iter().flat_map(std::env::split_paths));
    cmd.env(var, std::env::join_paths(search)?);
    if run.runtime.language == Language::Python {
        cmd.env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
    }
    cmd.envs(run.vars);
    Ok(cmd)
}

/// The runner's result file, or what the exit status says when it wrote none.
fn read_outcome(path: &Path, status: std::process::ExitStatus) -> anyhow::Result<Outcome> {
    #[derive(serde::Deserialize)]
    struct Written {
        #[serde(default)]
        result: Value,
        error: Option<LambdaError>,
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let written: Written = serde_json::from_slice(&bytes)?;
            Ok(match written.error {
                Some(e) => Outcome::Failed(e),
                None => Outcome::Result(written.result),
            })
        }
        Err(_) if status.success() => Ok(Outcome::Result(Value::Null)),
        Err(_) => Ok(Outcome::Failed(LambdaError {
            error_type: "Runtime.ExitError".into(),
            error_message: format!("Runtime exited without a result: {status}"),
            stack_trace: Vec::new(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_runtimes_are_named() {
        let err = runtime("f", "java21").unwrap_err().to_string();
        assert!(err.contains("runtime java21"), "{err}");
        let nowhere = std::ffi::OsStr::new("/nonexistent");
        let err = runtime_in("f", "python3.13", nowhere)
            .unwrap_err()
            .to_string();
        assert!(err.contains("declares runtime python3.13"), "{err}");
        assert!(
            err.contains("Python 3.13 (`python3.13` or `python3`)"),
            "{err}"
        );
        let err = runtime_in("f", "nodejs22.x", nowhere)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Node.js 22 (`node`) is not installed"),
            "{err}"
        );
    }

    #[test]
    fn handlers_need_an_export() {
        let dir = tempfile::tempdir().unwrap();
        let none = Built::default();
        let err = code("f", "handler", Language::Node, dir.path(), ".", &none).unwrap_err();
        assert!(err.to_string().contains("not FILE.EXPORT"), "{err}");
        std::fs::write(dir.path().join("h.mjs"), "").unwrap();
        let c = code("f", "h.run", Language::Node, dir.path(), ".", &none).unwrap();
        assert!(c.entry.ends_with("h.mjs"));
        assert_eq!(c.export, "run");
        let py = code(
            "f",
            "src/app.main",
            Language::Python,
            dir.path(),
            ".",
            &none,
        )
        .unwrap();
        assert_eq!(py.entry, "src.app");
    }

    #[test]
    fn a_bundle_root_is_above_the_handler_path() {
        let root = bundled_root(Path::new("/c/b/src/h/get.js"), "src/h/get").unwrap();
        assert_eq!(root, Path::new("/c/b"));
    }
}
