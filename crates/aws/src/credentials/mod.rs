//! Stage credentials: which source a stage's credentials come from (explicit beats ambient),
//! resolving them once, proving the account with one STS GetCallerIdentity (and every refreshed
//! set with another, `proof`), and the
//! [`AwsSession`] every AWS command works with.
//!
//! The modules build on each other in one direction, lowest first:
//! `options`, `guard` → `error` → `profile` → `sts` → `mfa`, `chain` → `roles` → `source` →
//! `proof` → `session`.
//! None of them uses a module to its right.

mod chain;
mod error;
mod guard;
mod mfa;
mod options;
mod profile;
mod proof;
mod roles;
mod session;
mod source;
mod sts;

pub use error::CredentialError;
pub use guard::{
    AccountPin, Broken, Evidence, GuardRefusal, RecordedAccount, Verdict, is_account_id,
};
pub use options::{CredentialOptions, MfaPrompt, StageTarget};
pub use session::{AwsSession, ExportedCredentials, open, open_guarded};
pub use source::CredentialSource;
pub use sts::CallerIdentity;
