//! What a deployed stage offers: endpoints, functions and outputs.

use deployer_aws::stack::{StackOutput, StackResource};
use deployer_config::model::{Event, Service};
use deployer_template::naming::normalized_function_name;
use indexmap::IndexMap;
use serde_json::Value;

/// `METHOD - URL` for each HTTP API and REST API route, from the stack outputs.
pub(crate) fn endpoints(service: &Service, outputs: &[StackOutput]) -> Vec<String> {
    let find = |key: &str| {
        outputs
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.value.trim_end_matches('/').to_string())
    };
    let http_api = find("HttpApiUrl");
    let rest = find("ServiceEndpoint");
    let mut out = Vec::new();
    for event in service.functions.values().flat_map(|f| &f.events) {
        match event {
            Event::HttpApi(h) => {
                if let Some(base) = &http_api {
                    let method = h.method.as_deref().unwrap_or("ANY").to_uppercase();
                    let path = if h.path == "*" { "" } else { h.path.as_str() };
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
    out
}

/// Where the deployed function names come from.
pub(crate) enum Names<'a> {
    /// The stack's resources (physical ids).
    Resources(&'a [StackResource]),
    /// The template's `FunctionName` properties.
    Template(&'a Value),
}

/// Function key → deployed name.
pub(crate) fn functions(service: &Service, names: Names<'_>) -> IndexMap<String, String> {
    service
        .functions
        .keys()
        .filter_map(|key| {
            let logical = format!("{}LambdaFunction", normalized_function_name(key));
            let name = match names {
                Names::Resources(rs) => rs
                    .iter()
                    .find(|r| r.logical_id == logical && !r.physical_id.is_empty())
                    .map(|r| r.physical_id.clone()),
                Names::Template(t) => t["Resources"][&logical]["Properties"]["FunctionName"]
                    .as_str()
                    .map(str::to_string),
            }?;
            Some((key.clone(), name))
        })
        .collect()
}

/// Stack outputs, key → value, in the stack's order.
pub(crate) fn outputs(outputs: &[StackOutput]) -> IndexMap<String, String> {
    outputs
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect()
}
