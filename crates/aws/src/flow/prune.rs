//! The prune flow (serverless-prune-plugin after a deploy), one function or layer at a time:
//! list its versions (and a function's aliases), then delete the versions the caller's rule
//! chooses, one at a time. The rule (keep the newest N, never a version an alias uses) lives
//! in `crates/template`; `crates/ops` passes it in.

use aws_sdk_lambda::Client;

use crate::error::AwsError;
use crate::prune::{self as calls, AliasVersions};

/// One function or layer to prune.
#[derive(Debug, Clone)]
pub struct PruneRequest {
    /// The function's deployed name, or the layer's `LayerName`.
    pub name: String,
    /// How many of the newest versions to keep.
    pub keep: u64,
}

/// Deletes the versions of function `req.name` that `choose` picks from its versions and
/// aliases (given `req.keep`). Returns the versions deleted, in order.
pub async fn prune_function(
    client: &Client,
    req: &PruneRequest,
    choose: impl FnOnce(&[String], &[AliasVersions], u64) -> Vec<String>,
) -> Result<Vec<String>, AwsError> {
    let function = req.name.as_str();
    let versions = calls::function_versions(client, function).await?;
    let aliases = calls::function_aliases(client, function).await?;
    let doomed = choose(&versions, &aliases, req.keep);
    for version in &doomed {
        calls::delete_function_version(client, function, version).await?;
    }
    Ok(doomed)
}

/// Deletes the versions of layer `req.name` that `choose` picks (given `req.keep`). Returns
/// the versions deleted, in order.
pub async fn prune_layer(
    client: &Client,
    req: &PruneRequest,
    choose: impl FnOnce(&[u64], u64) -> Vec<u64>,
) -> Result<Vec<u64>, AwsError> {
    let layer = req.name.as_str();
    let versions = calls::layer_versions(client, layer).await?;
    let doomed = choose(&versions, req.keep);
    for version in &doomed {
        calls::delete_layer_version(client, layer, *version).await?;
    }
    Ok(doomed)
}
