//! The one error type of this crate: a headline plus one line per failing property.

use std::fmt;

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
