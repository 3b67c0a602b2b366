//! What a deployment needs besides the templates: the artifact directory, the stack tags and
//! the change-detection hash.

use std::time::SystemTime;

use base64::Engine;
use deployer_config::model::Service;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::sort;

/// v3's S3 "directory" of one deployment:
/// `<prefix|serverless>/<service>/<stage>/<ms>-<ISO 8601 with milliseconds>Z`.
pub fn artifact_directory_name(
    prefix: Option<&str>,
    service: &str,
    stage: &str,
    now: SystemTime,
) -> String {
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = since_epoch.as_millis();
    let at = time::OffsetDateTime::UNIX_EPOCH + since_epoch;
    let iso = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    );
    format!(
        "{}/{service}/{stage}/{millis}-{iso}",
        prefix.unwrap_or("serverless")
    )
}

/// The stack tags v3 sets: `STAGE=<stage>` then `provider.stackTags` in order; a stack tag
/// named like `STAGE` in any case replaces it.
pub fn stack_tags(service: &Service, stage: &str) -> Vec<(String, String)> {
    let custom = service.provider.stack_tags.as_ref();
    let overridden =
        custom.is_some_and(|tags| tags.keys().any(|k| k.eq_ignore_ascii_case("STAGE")));
    let mut tags = Vec::new();
    if !overridden {
        tags.push(("STAGE".to_owned(), stage.to_owned()));
    }
    for (key, value) in custom.into_iter().flatten() {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        tags.push((key.clone(), value));
    }
    tags
}

/// v3's change-detection hash of a compiled template (`normalizeCloudFormationTemplate`):
/// `ApiGatewayDeployment*` / `WebsocketsDeployment*` renamed to their stable names, the
/// `S3Key` of functions and layers blanked, `Resources` and `Outputs` deep-sorted with
/// `localeCompare`, compact JSON, base64 SHA-256.
pub fn normalized_template_hash(template: &Value) -> String {
    let mut normalized = template.clone();
    if let Some(resources) = normalized
        .get_mut("Resources")
        .and_then(Value::as_object_mut)
    {
        let keys: Vec<String> = resources.keys().cloned().collect();
        for key in keys {
            let target = if key.starts_with("ApiGatewayDeployment") {
                Some("ApiGatewayDeployment")
            } else if key.starts_with("WebsocketsDeployment") && key != "WebsocketsDeploymentStage"
            {
                Some("WebsocketsDeployment")
            } else {
                None
            };
            if let Some(target) = target
                && let Some(value) = resources.shift_remove(&key)
            {
                resources.insert(target.to_owned(), value);
            }
        }
        for (key, resource) in resources.iter_mut() {
            if key == "WebsocketsDeploymentStage"
                && let Some(r) = resource.pointer_mut("/Properties/DeploymentId")
                && let Some(r) = r.as_object_mut()
            {
                r.insert("Ref".to_owned(), json!("WebsocketsDeployment"));
            }
            let field = match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Lambda::Function") => "Code",
                Some("AWS::Lambda::LayerVersion") => "Content",
                _ => continue,
            };
            if let Some(code) = resource
                .get_mut("Properties")
                .and_then(|p| p.get_mut(field))
                .and_then(Value::as_object_mut)
            {
                code.insert("S3Key".to_owned(), json!(""));
            }
        }
    }
    for section in ["Resources", "Outputs"] {
        if let Some(value) = normalized.get_mut(section) {
            *value = sort::deep_sort(value);
        }
    }
    let text = serde_json::to_string(&normalized).expect("a JSON value serializes");
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}
