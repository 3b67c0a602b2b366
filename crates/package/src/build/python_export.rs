//! Where a module's Python requirements come from, as serverless-python-requirements decides
//! (`lib/pip.js`, `lib/poetry.js`, `lib/pipenv.js`): a poetry project, else a Pipfile, else the
//! requirements file. Poetry and Pipfile projects are exported to a requirements file in the
//! build cache with the project's own tool, then installed with pip like any other.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::cache::hash_parts;
use super::python_options::PythonOptions;
use super::{BuildError, BuildSettings};

/// The last pipenv without `pipenv requirements` (it had `pipenv lock --requirements`).
const LEGACY_PIPENV: (u64, u64, u64) = (2022, 8, 5);

/// Where one module's requirements come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `usePoetry` and a `pyproject.toml` in the module directory (here) whose
    /// `build-system.requires` names poetry: `poetry export`.
    Poetry(PathBuf),
    /// `usePipenv` and a `Pipfile` in the service directory (here): `pipenv requirements`.
    Pipenv(PathBuf),
    /// `<module>/<fileName>`; nothing is installed when it does not exist.
    File(PathBuf),
}

impl Source {
    /// How messages name the requirements: the file, or the project file and its export.
    pub(crate) fn label(&self, file_name: &str) -> String {
        match self {
            Source::Poetry(_) => "pyproject.toml (poetry export)".into(),
            Source::Pipenv(_) => "Pipfile (pipenv requirements)".into(),
            Source::File(_) => file_name.into(),
        }
    }
}

/// The plugin's order: poetry (module directory), then Pipfile (service directory), then the
/// requirements file; a requirements file next to a Pipfile is not read, as in v3.
pub(crate) fn source(service_dir: &Path, module_dir: &Path, options: &PythonOptions) -> Source {
    let pyproject = module_dir.join("pyproject.toml");
    if options.use_poetry && std::fs::read_to_string(&pyproject).is_ok_and(|t| is_poetry(&t)) {
        return Source::Poetry(module_dir.to_path_buf());
    }
    if options.use_pipenv && service_dir.join("Pipfile").is_file() {
        return Source::Pipenv(service_dir.to_path_buf());
    }
    Source::File(module_dir.join(&options.file_name))
}

/// A pyproject.toml whose `build-system.requires` has an entry starting with `poetry`.
pub(crate) fn is_poetry(text: &str) -> bool {
    let mut in_build_system = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_build_system = line == "[build-system]";
        } else if in_build_system && line.starts_with("requires") {
            return line
                .split(['"', '\''])
                .skip(1)
                .step_by(2)
                .any(|entry| entry.trim().starts_with("poetry"));
        }
    }
    false
}

/// The requirements text of a poetry or Pipfile project, exported into the build cache; an
/// export made from the same project and lock files is reused without running the tool.
pub(crate) fn export(
    source: &Source,
    options: &PythonOptions,
    settings: &BuildSettings,
) -> Result<String, BuildError> {
    let (dir, tool, files) = match source {
        Source::Poetry(dir) => (dir, Tool::Poetry, ["pyproject.toml", "poetry.lock"]),
        Source::Pipenv(dir) => (dir, Tool::Pipenv, ["Pipfile", "Pipfile.lock"]),
        Source::File(path) => {
            return std::fs::read_to_string(path).map_err(BuildError::io("read", path));
        }
    };
    let locked = dir.join(files[1]).is_file();
    let key = export_key(dir, tool, &files, options);
    let out_dir = settings
        .cache_dir
        .join("python")
        .join("export")
        .join(&key[..16]);
    let out = out_dir.join("requirements.txt");
    if locked && let Ok(text) = std::fs::read_to_string(&out) {
        return Ok(text);
    }
    let binary = tool.find(settings.search_path.as_deref(), dir)?;
    std::fs::create_dir_all(&out_dir).map_err(BuildError::io("create", &out_dir))?;
    match tool {
        Tool::Poetry => poetry_export(&binary, dir, options, locked, &out)?,
        Tool::Pipenv => pipenv_export(&binary, dir, locked, &out)?,
    }
    std::fs::read_to_string(&out).map_err(BuildError::io("read", &out))
}

/// What the export depends on: the tool, its options and the project and lock files.
fn export_key(dir: &Path, tool: Tool, files: &[&str; 2], options: &PythonOptions) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let groups = poetry_group_args(options).join(" ");
    let dir = dir.to_string_lossy();
    hash_parts([
        tool.name(),
        dir.as_ref(),
        groups.as_str(),
        read(files[0]).as_str(),
        read(files[1]).as_str(),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Poetry,
    Pipenv,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Poetry => "poetry",
            Tool::Pipenv => "pipenv",
        }
    }

    /// The tool on `search_path` (default `PATH`), or the error saying how to get it.
    fn find(
        self,
        search_path: Option<&std::ffi::OsStr>,
        dir: &Path,
    ) -> Result<PathBuf, BuildError> {
        let paths = search_path
            .map(|p| p.to_os_string())
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        std::env::split_paths(&paths)
            .map(|d| d.join(self.name()))
            .find(|p| p.is_file())
            .ok_or_else(|| BuildError::ToolMissing {
                message: self.missing(dir),
            })
    }

    fn missing(self, dir: &Path) -> String {
        let (file, install, setting) = match self {
            Tool::Poetry => (
                "pyproject.toml (a poetry project)",
                "`pipx install poetry` and `poetry self add poetry-plugin-export`, see https://python-poetry.org/docs/",
                "usePoetry",
            ),
            Tool::Pipenv => (
                "Pipfile",
                "`pipx install pipenv` or `pip install --user pipenv`, see https://pipenv.pypa.io/",
                "usePipenv",
            ),
        };
        format!(
            "{tool} is needed to export the requirements of {} but is not on PATH; install it \
             ({install}), or set custom.pythonRequirements.{setting}: false to install from the \
             requirements file instead",
            dir.join(file).display(),
            tool = self.name(),
        )
    }
}

/// `poetry lock` when there is no lock file (as the plugin does, unless
/// `requirePoetryLockFile`), then `poetry export --without-hashes -f requirements.txt -o …`.
fn poetry_export(
    binary: &Path,
    dir: &Path,
    options: &PythonOptions,
    locked: bool,
    out: &Path,
) -> Result<(), BuildError> {
    if !locked {
        if options.require_poetry_lock_file {
            return Err(BuildError::Config {
                setting: dir.join("poetry.lock").display().to_string(),
                message: "poetry.lock is missing and custom.pythonRequirements.\
                          requirePoetryLockFile is on; run `poetry lock`, or set \
                          requirePoetryLockFile: false to have it created"
                    .into(),
            });
        }
        run(Command::new(binary).arg("lock"), dir, Tool::Poetry, "lock")?;
    }
    let mut cmd = Command::new(binary);
    cmd.args(["export", "--without-hashes", "-f", "requirements.txt", "-o"])
        .arg(out)
        .args(poetry_group_args(options));
    run(&mut cmd, dir, Tool::Poetry, "export").map(drop)
}

/// `--with=…`, `--without=…`, `--only=…` from `poetryWithGroups` and its siblings.
fn poetry_group_args(options: &PythonOptions) -> Vec<String> {
    [
        ("--with", &options.poetry_with_groups),
        ("--without", &options.poetry_without_groups),
        ("--only", &options.poetry_only_groups),
    ]
    .into_iter()
    .filter(|(_, groups)| !groups.is_empty())
    .map(|(flag, groups)| format!("{flag}={}", groups.join(",")))
    .collect()
}

/// `pipenv lock` when there is no lock file, then `pipenv requirements` (or `pipenv lock
/// --requirements --keep-outdated` for pipenv 2022.8.5 and older), its output written to `out`.
fn pipenv_export(binary: &Path, dir: &Path, locked: bool, out: &Path) -> Result<(), BuildError> {
    let version = run(
        Command::new(binary).arg("--version"),
        dir,
        Tool::Pipenv,
        "--version",
    )?;
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    if !locked {
        run(Command::new(binary).arg("lock"), dir, Tool::Pipenv, "lock")?;
    }
    let args: &[&str] = if pipenv_is_legacy(&version) {
        &["lock", "--requirements", "--keep-outdated"]
    } else {
        &["requirements"]
    };
    let output = run(Command::new(binary).args(args), dir, Tool::Pipenv, args[0])?;
    std::fs::write(out, &output.stdout).map_err(BuildError::io("write", out))
}

/// Whether `pipenv --version` (`pipenv, version 2022.8.5`) is 2022.8.5 or older.
fn pipenv_is_legacy(version_line: &str) -> bool {
    let version = version_line.split_whitespace().last().unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Some(y)), Some(Some(m)), Some(Some(d))) => (y, m, d) <= LEGACY_PIPENV,
        _ => false,
    }
}

/// Runs `cmd` in `dir`; a failure is the tool's own message.
fn run(cmd: &mut Command, dir: &Path, tool: Tool, what: &str) -> Result<Output, BuildError> {
    let output = cmd
        .current_dir(dir)
        .output()
        .map_err(|err| BuildError::ToolMissing {
            message: format!("Cannot run {}: {err}; {}", tool.name(), tool.missing(dir)),
        })?;
    if output.status.success() {
        return Ok(output);
    }
    let mut message = String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_string();
    if tool == Tool::Poetry && message.contains("\"export\" does not exist") {
        message.push_str(
            "\n(poetry 2 ships `export` as a plugin: run `poetry self add poetry-plugin-export`)",
        );
    }
    Err(BuildError::ToolFailed {
        tool: format!("{} {what}", tool.name()),
        what: dir.display().to_string(),
        output: message,
    })
}

#[cfg(test)]
#[path = "python_export_tests.rs"]
mod tests;
