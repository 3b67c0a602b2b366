//! What `up` and `info` print about a deployed stage: endpoints, functions, outputs and the
//! AWS-call counts, as text lines or JSON values.

use deployer_aws::AwsSession;
use deployer_aws::calls::CallSummary;
use deployer_aws::stack::{StackOutput, StackResource};
use deployer_config::model::{Event, Service};
use deployer_template::naming::normalized_function_name;
use serde_json::{Map, Value, json};

use crate::output::Output;

/// `METHOD - URL` for each HTTP API and REST API route, from the stack outputs.
pub fn endpoints(service: &Service, outputs: &[StackOutput]) -> Vec<String> {
    let find = |key: &str| {
        outputs
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.value.trim_end_matches('/').to_string())
    };
    let http_api = find("HttpApiUrl");
    let rest = find("ServiceEndpoint");
    let mut out = Vec::new();
    for f in service.functions.values() {
        for e in &f.events {
            match e {
                Event::HttpApi(h) => {
                    if let Some(base) = &http_api {
                        let method = h.method.as_deref().unwrap_or("ANY").to_uppercase();
                        let path = if h.path == "*" {
                            String::new()
                        } else {
                            h.path.clone()
                        };
                        out.push(format!("{method} - {base}{path}"));
                    }
                }
                Event::Http(h) => {
                    if let Some(base) = &rest {
                        let path = h.path.trim_start_matches('/');
                        out.push(format!("{} - {base}/{path}", h.method.to_uppercase()));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Function key → deployed name, from the stack's resources (or the template when the stack
/// resources are not known).
pub fn functions(
    service: &Service,
    resources: Option<&[StackResource]>,
    template: Option<&Value>,
) -> Vec<(String, String)> {
    service
        .functions
        .keys()
        .filter_map(|key| {
            let logical = format!("{}LambdaFunction", normalized_function_name(key));
            let name = match resources {
                Some(rs) => rs
                    .iter()
                    .find(|r| r.logical_id == logical && !r.physical_id.is_empty())
                    .map(|r| r.physical_id.clone()),
                None => template
                    .and_then(|t| t["Resources"][&logical]["Properties"]["FunctionName"].as_str())
                    .map(str::to_string),
            }?;
            Some((key.clone(), name))
        })
        .collect()
}

/// Outputs as a JSON object.
pub fn outputs_json(outputs: &[StackOutput]) -> Value {
    let mut m = Map::new();
    for o in outputs {
        m.insert(o.key.clone(), Value::String(o.value.clone()));
    }
    Value::Object(m)
}

/// The AWS-call counts of a command (the credential check's STS calls included).
pub fn calls_json(summary: &CallSummary) -> Value {
    let mut by = Map::new();
    for (k, n) in &summary.by_operation {
        by.insert(k.clone(), json!(n));
    }
    json!({
        "total": summary.total,
        "sequential": summary.sequential,
        "byOperation": by,
    })
}

/// The one line printed before anything changes: who deploys what where. `action` reads
/// before "stage", e.g. "Deploying service-name to".
pub fn announce(out: &Output, action: &str, session: &AwsSession) {
    let pin = if session.pin.is_pinned() {
        String::new()
    } else {
        " [no account pin: add provider.allowedAccountIds]".into()
    };
    out.progress(&format!(
        "{action} stage {} ({}) in account {} as {} via {}{pin}",
        session.stage,
        session.region,
        session.identity.account,
        session.identity.arn,
        session.source
    ));
}

/// Print endpoints, functions and outputs on stdout.
pub fn print_summary(
    out: &Output,
    endpoints: &[String],
    functions: &[(String, String)],
    outputs: &[StackOutput],
) {
    match endpoints.len() {
        0 => {}
        1 => out.result(&format!("endpoint: {}", endpoints[0])),
        _ => {
            out.result("endpoints:");
            for e in endpoints {
                out.result(&format!("  {e}"));
            }
        }
    }
    if !functions.is_empty() {
        out.result("functions:");
        for (k, n) in functions {
            out.result(&format!("  {k}: {n}"));
        }
    }
    if !outputs.is_empty() {
        out.result("outputs:");
        for o in outputs {
            out.result(&format!("  {}: {}", o.key, o.value));
        }
    }
}
