//! Where `${env:NAME}` reads from: the process environment, or a map in tests.

use std::collections::HashMap;

/// A source of environment variables for `${env:…}`.
pub trait Env {
    /// The value of `name`, or `None` when unset (an empty string is a value).
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}
