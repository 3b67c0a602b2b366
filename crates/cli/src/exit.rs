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

/// The exit code for an error returned by a command: a guard refusal is [`GUARD`], a removal
/// that needed a confirmation nobody could give is [`USAGE`], anything else [`FAILURE`].
pub fn code_for(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| {
            if e.downcast_ref::<deployer_ops::ConfirmationRequired>()
                .is_some()
            {
                Some(USAGE)
            } else if e
                .downcast_ref::<deployer_ops::types::GuardRefusal>()
                .is_some()
            {
                Some(GUARD)
            } else {
                None
            }
        })
        .unwrap_or(FAILURE)
}
