//! The Lambda calls of version pruning (serverless-prune-plugin): list a function's versions
//! and aliases, list a layer's versions, and delete one version at a time. What to delete is
//! decided by the caller.

use aws_sdk_lambda::Client;

use crate::clients::AwsClients;
use crate::error::AwsError;

/// A Lambda client of the stage, counted and bounded like the other clients.
pub fn lambda_client(clients: &AwsClients) -> Client {
    let config = aws_sdk_lambda::config::Builder::from(clients.sdk_config())
        .interceptor(clients.counter().interceptor())
        .build();
    Client::from_conf(config)
}

/// One alias of a function: the version it points to and the versions its routing config
/// also sends traffic to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasVersions {
    /// `FunctionVersion`.
    pub function_version: String,
    /// `RoutingConfig.AdditionalVersionWeights` keys.
    pub additional_versions: Vec<String>,
}

/// Whether an error means the function or layer does not exist (nothing to prune).
fn is_missing(err: &AwsError) -> bool {
    matches!(
        err,
        AwsError::Call {
            status: Some(404),
            ..
        }
    ) || err.code() == Some("ResourceNotFoundException")
}

/// Every version of `function` (`$LATEST` included), all pages; a missing function has none.
pub async fn function_versions(client: &Client, function: &str) -> Result<Vec<String>, AwsError> {
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_versions_by_function()
            .function_name(function)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| AwsError::call(format!("ListVersionsByFunction {function}"), e));
        let page = match page {
            Ok(page) => page,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        versions.extend(
            page.versions()
                .iter()
                .filter_map(|v| v.version().map(str::to_owned)),
        );
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => return Ok(versions),
        }
    }
}

/// Every alias of `function`, all pages; a missing function has none.
pub async fn function_aliases(
    client: &Client,
    function: &str,
) -> Result<Vec<AliasVersions>, AwsError> {
    let mut aliases = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_aliases()
            .function_name(function)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| AwsError::call(format!("ListAliases {function}"), e));
        let page = match page {
            Ok(page) => page,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        aliases.extend(page.aliases().iter().map(|a| {
            AliasVersions {
                function_version: a.function_version().unwrap_or_default().to_owned(),
                additional_versions: a
                    .routing_config()
                    .and_then(|r| r.additional_version_weights())
                    .map(|w| w.keys().cloned().collect())
                    .unwrap_or_default(),
            }
        }));
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => return Ok(aliases),
        }
    }
}

/// Deletes one version of `function` (`DeleteFunction` with its qualifier).
pub async fn delete_function_version(
    client: &Client,
    function: &str,
    version: &str,
) -> Result<(), AwsError> {
    client
        .delete_function()
        .function_name(function)
        .qualifier(version)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("DeleteFunction {function}:{version}"), e))?;
    Ok(())
}

/// Every version number of `layer`, all pages; a missing layer has none.
pub async fn layer_versions(client: &Client, layer: &str) -> Result<Vec<u64>, AwsError> {
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_layer_versions()
            .layer_name(layer)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| AwsError::call(format!("ListLayerVersions {layer}"), e));
        let page = match page {
            Ok(page) => page,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        versions.extend(
            page.layer_versions()
                .iter()
                .filter_map(|v| u64::try_from(v.version()).ok()),
        );
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => return Ok(versions),
        }
    }
}

/// Deletes one version of `layer`.
pub async fn delete_layer_version(
    client: &Client,
    layer: &str,
    version: u64,
) -> Result<(), AwsError> {
    client
        .delete_layer_version()
        .layer_name(layer)
        .version_number(i64::try_from(version).unwrap_or(i64::MAX))
        .send()
        .await
        .map_err(|e| AwsError::call(format!("DeleteLayerVersion {layer}:{version}"), e))?;
    Ok(())
}
