//! Exit codes, documented in `--help` and docs/: 0 success, 1 failure, 2 usage error (or
//! changes with `diff --detailed-exitcode`), 3 account guard refusal.

use std::fmt;

/// Success.
pub const OK: u8 = 0;
/// Any failure that is not a usage error or a guard refusal.
pub const FAILURE: u8 = 1;
/// Command-line usage error; also "changes found" for `diff --detailed-exitcode`.
pub const USAGE: u8 = 2;
/// The account guard refused the stage's credentials.
pub const GUARD: u8 = 3;

/// An error that carries its own exit code; anything else exits with [`FAILURE`].
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl Coded {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// The exit code for an error returned by a command: [`Coded`] carries its own, a guard
/// refusal is [`GUARD`], anything else [`FAILURE`].
pub fn code_for(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| {
            if let Some(c) = e.downcast_ref::<Coded>() {
                Some(c.code)
            } else if e.downcast_ref::<deployer_aws::GuardRefusal>().is_some() {
                Some(GUARD)
            } else {
                None
            }
        })
        .unwrap_or(FAILURE)
}
