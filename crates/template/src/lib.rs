//! `deployer-template`: compiles the service model into the CloudFormation templates that
//! Serverless v3 produces, with the same logical IDs. Pure: no AWS, no network.
//!
//! [`compile`] returns the core template (the stack Serverless creates first, holding only the
//! deployment bucket) and the full template, key for key as v3's
//! `cloudformation-template-{create,update}-stack.json`. [`normalized_template_hash`] is v3's
//! change-detection hash of a template, and [`stack_tags`] the tags v3 puts on the stack.
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::time::SystemTime;
//!
//! use deployer_config::model::Service;
//! use deployer_template::{CompileInput, FunctionArtifact, artifact_directory_name, compile};
//!
//! let config = serde_json::json!({
//!     "service": "demo",
//!     "provider": {"name": "aws", "runtime": "nodejs22.x"},
//!     "functions": {"hello": {"handler": "handler.hello", "events": [{"httpApi": "GET /hello"}]}}
//! });
//! let service = Service::from_value(&config)?;
//! let directory = artifact_directory_name(None, &service.service, "dev", SystemTime::now());
//! let artifacts = BTreeMap::from([(
//!     "hello".to_owned(),
//!     FunctionArtifact {
//!         s3_key_name: "demo.zip".to_owned(),
//!         sha256_base64: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_owned(),
//!     },
//! )]);
//! let templates = compile(&CompileInput {
//!     service: &service,
//!     stage: "dev",
//!     region: "us-east-1",
//!     instance_id: "1700000000000",
//!     artifact_directory_name: &directory,
//!     artifacts: &artifacts,
//! })?;
//! assert!(templates.update["Resources"].get("HelloLambdaFunction").is_some());
//! assert!(templates.update["Outputs"].get("HttpApiUrl").is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod compile;
mod context;
mod deployment;
mod error;
mod events;
mod function_extras;
mod functions;
mod log_group;
mod merge;
pub mod naming;
pub mod naming_api;
pub mod plugins;
mod schema;
mod sort;

pub use compile::{
    CompileHooks, CompileInput, FunctionArtifact, Templates, compile, compile_hooked,
};
pub use deployment::{artifact_directory_name, normalized_template_hash, stack_tags};
pub use error::TemplateError;

pub(crate) use context::{Ctx, resource_depending, resource_then_depending};
