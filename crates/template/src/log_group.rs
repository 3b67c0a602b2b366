//! `AWS::Logs::LogGroup` resources: the functions' and the APIs' log groups are built alike.

use serde_json::{Map, Value, json};

use crate::Ctx;

/// A log group named `name`, with the retention and data protection policy when set.
pub fn log_group(name: String, retention_in_days: Option<u64>, policy: Option<&Value>) -> Value {
    let mut properties = Map::new();
    properties.insert("LogGroupName".to_owned(), json!(name));
    if let Some(days) = retention_in_days {
        properties.insert("RetentionInDays".to_owned(), json!(days));
    }
    if let Some(policy) = policy {
        properties.insert("DataProtectionPolicy".to_owned(), policy.clone());
    }
    json!({"Type": "AWS::Logs::LogGroup", "Properties": properties})
}

/// An API's log group (REST, WebSocket, HTTP API): the provider's retention and policy.
pub fn api_log_group(ctx: &Ctx, name: String) -> Value {
    let provider = &ctx.service.provider;
    log_group(
        name,
        provider.log_retention_in_days,
        provider.log_data_protection_policy.as_ref(),
    )
}
