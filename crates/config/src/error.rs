//! The one error type of this crate (a headline plus one line per failing property), and the
//! [`Classify`] trait by which every error type of the workspace says its documented kind.

use std::fmt;

use serde_json::{Map, Value};

use crate::model::ModelError;

/// One problem found while loading or resolving the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted property path (`provider.profile`, `functions.hello.events.0.schedule`), when the
    /// problem belongs to one property.
    pub path: Option<String>,
    /// What went wrong, with a suggestion when one is likely.
    pub message: String,
}

/// A configuration that cannot be loaded or resolved: one or more problems, all reported at once.
///
/// Display: the headline (`Cannot resolve <file>: …`) then one line per failing property,
/// `  - <path>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    headline: String,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl ConfigError {
    /// An error with a headline only (file not found, YAML syntax, …).
    pub fn new(headline: impl Into<String>) -> Self {
        Self {
            headline: headline.into(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// An error listing problems under a headline.
    pub fn with_problems(headline: impl Into<String>, problems: Vec<Problem>) -> Self {
        Self {
            headline: headline.into(),
            problems,
            warnings: Vec::new(),
        }
    }

    /// The first line of the message.
    pub fn headline(&self) -> &str {
        &self.headline
    }

    /// Every failing property (empty for loading errors).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Warnings found before the failure (likely typos may explain it); not part of Display.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The same error carrying `warnings`.
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline)?;
        for p in &self.problems {
            match &p.path {
                Some(path) => write!(f, "\n  - {path}: {}", p.message)?,
                None => write!(f, "\n  - {}", p.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The documented kinds of failure (docs/json.md), each with its process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line: unknown flag, missing or invalid value.
    Usage,
    /// A confirmation is needed and none can be given.
    ConfirmationRequired,
    /// The account guard refused the credentials.
    AccountGuard,
    /// No usable credentials.
    Credentials,
    /// The configuration cannot be loaded or resolved.
    Config,
    /// A declared plugin is not supported.
    Plugin,
    /// A build step failed.
    Build,
    /// File selection or a prebuilt artifact.
    Package,
    /// A setting or event cannot be compiled to CloudFormation.
    Template,
    /// Refused before any AWS write.
    Preflight,
    /// The function named on the command line.
    Function,
    /// `--package DIR` cannot be deployed as it is.
    PackageDir,
    /// The deployment to roll back to is missing, incomplete or pruned.
    Deployment,
    /// The account lock file cannot be used.
    LockFile,
    /// A protected stage refuses the shortcut.
    Protected,
    /// A saved plan cannot be executed as reviewed.
    Plan,
    /// The person asked to confirm declined.
    Declined,
    /// `print --path`: no value there.
    NoSuchPath,
    /// The stage was never deployed.
    StackMissing,
    /// The stack operation ended failed or rolled back.
    StackFailed,
    /// Another run holds the stage's deploy lock.
    Locked,
    /// Any other AWS failure.
    Aws,
    /// A local file could not be read or written.
    Io,
    /// Anything else.
    Internal,
}

impl Kind {
    /// Every kind, in the order docs/json.md lists them.
    pub const ALL: [Kind; 24] = [
        Kind::Usage,
        Kind::ConfirmationRequired,
        Kind::AccountGuard,
        Kind::Credentials,
        Kind::Config,
        Kind::Plugin,
        Kind::Build,
        Kind::Package,
        Kind::Template,
        Kind::Preflight,
        Kind::Function,
        Kind::PackageDir,
        Kind::Deployment,
        Kind::LockFile,
        Kind::Protected,
        Kind::Plan,
        Kind::Declined,
        Kind::NoSuchPath,
        Kind::StackMissing,
        Kind::StackFailed,
        Kind::Locked,
        Kind::Aws,
        Kind::Io,
        Kind::Internal,
    ];

    /// The kind's name and exit code: the one table of both.
    const fn entry(self) -> (&'static str, u8) {
        match self {
            Kind::Usage => ("usage", 2),
            Kind::ConfirmationRequired => ("confirmation-required", 2),
            Kind::AccountGuard => ("account-guard", 3),
            Kind::Credentials => ("credentials", 1),
            Kind::Config => ("config", 1),
            Kind::Plugin => ("plugin", 1),
            Kind::Build => ("build", 1),
            Kind::Package => ("package", 1),
            Kind::Template => ("template", 1),
            Kind::Preflight => ("preflight", 1),
            Kind::Function => ("function", 1),
            Kind::PackageDir => ("package-dir", 1),
            Kind::Deployment => ("deployment", 1),
            Kind::LockFile => ("lock-file", 1),
            Kind::Protected => ("protected", 1),
            Kind::Plan => ("plan", 1),
            Kind::Declined => ("declined", 1),
            Kind::NoSuchPath => ("no-such-path", 1),
            Kind::StackMissing => ("stack-missing", 1),
            Kind::StackFailed => ("stack-failed", 1),
            Kind::Locked => ("locked", 1),
            Kind::Aws => ("aws", 1),
            Kind::Io => ("io", 1),
            Kind::Internal => ("internal", 1),
        }
    }

    /// The `error.kind` of the `--json` error object.
    pub const fn name(self) -> &'static str {
        self.entry().0
    }

    /// The process exit code: 2 for the command line, 3 for the account guard, else 1.
    pub const fn exit_code(self) -> u8 {
        self.entry().1
    }
}

/// An error type that knows its documented kind and the typed fields of its `--json` object.
pub trait Classify {
    /// The kind of failure.
    fn kind(&self) -> Kind;

    /// The error's typed fields (camelCase; none by default).
    fn fields(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// The fields of a JSON object without its null ones (a field that does not apply is left out).
pub fn json_fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Map::new(),
    }
}

impl Classify for ConfigError {
    fn kind(&self) -> Kind {
        Kind::Config
    }

    fn fields(&self) -> Map<String, Value> {
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|p| serde_json::json!({"path": p.path, "message": p.message}))
            .collect();
        json_fields(serde_json::json!({ "problems": problems }))
    }
}

impl Classify for ModelError {
    fn kind(&self) -> Kind {
        Kind::Config
    }
}

// A local file that could not be read or written, wherever it surfaces.
impl Classify for std::io::Error {
    fn kind(&self) -> Kind {
        Kind::Io
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn names_are_unique_and_only_usage_and_guard_have_their_own_codes() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        for k in Kind::ALL {
            let expected = match k {
                Kind::Usage | Kind::ConfirmationRequired => 2,
                Kind::AccountGuard => 3,
                _ => 1,
            };
            assert_eq!(k.exit_code(), expected, "{k:?}");
        }
    }
}
