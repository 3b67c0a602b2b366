//! `deployer-config`: loads `serverless.yml` / `.yaml` / `.json`, runs the Serverless v3
//! variable engine in phases, and deserializes the result into a typed service model.
//!
//! With `useDotenv: true`, `${env:…}` also reads `.env.<stage>` (else `.env`) from the service
//! directory, layered under the caller's environment (never exported); [`Resolved::dotenv`] and
//! [`StageSettings::dotenv`] name the file that was loaded.
//!
//! Pure: no AWS, no network. AWS-backed variable sources (`aws:accountId`, `cf`, `ssm`, `s3`)
//! are answered by the caller through the engine's external-request interface.
//!
//! ```no_run
//! use deployer_config::{CliOptions, LoadOptions, ProcessEnv, load, resolve, resolve_stage};
//! let file = load(&LoadOptions { config: None, cwd: std::env::current_dir()? })?;
//! let opts = CliOptions { stage: Some("prod".into()), ..Default::default() };
//! // Early phase: what chooses the credentials (offline sources only).
//! let stage = resolve_stage(&file, &opts, &ProcessEnv)?;
//! // Full phase: AWS-backed sources are answered by the caller, a batch per round.
//! let resolved = resolve(&file, &opts, &ProcessEnv, &mut |requests| {
//!     requests.iter().map(|r| Err(format!("{r} needs AWS credentials"))).collect()
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod compose;
mod dotenv;
mod engine;
mod env;
mod error;
pub mod limits;
mod load;
pub mod model;
mod parse;
pub mod protect;
pub mod schema_keys;
mod yaml_depth;

pub use dotenv::file_variables;
pub use engine::{
    CliOptions, ExternalFn, ExternalRequest, ResolveSettings, Resolved, StageSettings, resolve,
    resolve_stage, resolve_with,
};
pub use env::{Env, ProcessEnv};
pub use error::{Classify, ConfigError, Kind, Problem, json_fields};
pub use load::{ConfigFile, LoadOptions, load, parse_yaml, reads_on_this_thread};
