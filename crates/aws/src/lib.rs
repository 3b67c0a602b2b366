//! `deployer-aws`: everything that talks to AWS — stage credentials and the account guard,
//! S3 artifacts, CloudFormation stack operations and AWS-backed variable sources.

pub mod artifacts;
pub mod calls;
pub mod change_set;
pub mod clients;
mod credentials;
pub mod deploy;
pub mod drift;
mod endpoint;
pub mod error;
pub mod flow;
pub mod lambda;
pub mod lock;
pub mod logs;
pub mod metrics;
pub mod progress;
pub mod protection;
pub mod prune;
pub mod sources;
pub mod stack;

pub use credentials::{
    AccountPin, AwsSession, Broken, CallerIdentity, CredentialError, CredentialOptions,
    CredentialSource, Evidence, ExportedCredentials, GuardRefusal, MfaPrompt, RecordedAccount,
    StageTarget, Verdict, is_account_id, open, open_guarded,
};
