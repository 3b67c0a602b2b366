//! Reading event settings as v3 reads them: absent and `null` alike mean "not set".

use deployer_config::model::{Event, Service};
use serde_json::Value;

/// `value[name]` unless it is absent or `null`.
pub fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.get(name).filter(|v| !v.is_null())
}

/// v3 strips line breaks from names, SQL and log groups written as YAML block scalars.
pub fn strip_newlines(s: &str) -> String {
    s.replace("\r\n", "").replace('\n', "")
}

/// The events of one kind the model keeps as written (`Event::Other`) on one function, with
/// their index in the function's `events`.
pub fn other_events<'a>(
    service: &'a Service,
    kind: &'a str,
    key: &'a str,
) -> impl Iterator<Item = (usize, &'a Value)> + 'a {
    service.functions[key]
        .events
        .iter()
        .enumerate()
        .filter_map(move |(i, e)| match e {
            Event::Other(k, v) if k == kind => Some((i, v)),
            _ => None,
        })
}
