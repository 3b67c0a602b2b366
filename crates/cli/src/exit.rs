//! Exit codes, documented in `--help` and docs/: 0 success, 1 failure, 2 usage error (or
//! changes with `diff --detailed-exitcode`), 3 account guard refusal.

/// Success.
pub const OK: u8 = 0;
/// Any failure that is not a usage error or a guard refusal.
pub const FAILURE: u8 = 1;
/// Command-line usage error; also "changes found" for `diff --detailed-exitcode`.
pub const USAGE: u8 = 2;
/// The account guard refused the stage's credentials.
pub const GUARD: u8 = 3;
