//! `deployer-aws`: everything that talks to AWS — stage credentials and the account guard,
//! S3 artifacts, CloudFormation stack operations and AWS-backed variable sources.

pub mod artifacts;
pub mod calls;
pub mod clients;
pub mod credentials;
pub mod deploy;
pub mod error;
pub mod guard;
pub mod lock;
pub mod mfa;
pub mod profile;
pub mod progress;
pub mod sources;
pub mod stack;

pub use credentials::{
    AwsSession, CallerIdentity, CredentialError, CredentialOptions, CredentialSource, MfaPrompt,
    StageTarget, open, open_guarded,
};
pub use guard::{AccountPin, GuardRefusal, Verdict};
