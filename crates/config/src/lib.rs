//! `deployer-config`: loads `serverless.yml` / `.yaml` / `.json`, runs the Serverless v3
//! variable engine in phases, and deserializes the result into a typed service model.
//!
//! Pure: no AWS, no network. AWS-backed variable sources (`aws:accountId`, `cf`, `ssm`, `s3`)
//! are answered by the caller through the engine's external-request interface.

pub mod model;
