//! Text shared by the renderings of several commands.

use deployer_ops::types::AccountPin;
use indexmap::IndexMap;

use crate::ui::Output;

/// Prints endpoints, functions and outputs on stdout.
pub fn summary(
    out: &Output,
    endpoints: &[String],
    functions: &IndexMap<String, String>,
    outputs: &IndexMap<String, String>,
) {
    match endpoints {
        [] => {}
        [one] => out.result(&format!("endpoint: {one}")),
        _ => {
            out.result("endpoints:");
            for e in endpoints {
                out.result(&format!("  {e}"));
            }
        }
    }
    for (title, map) in [("functions:", functions), ("outputs:", outputs)] {
        if !map.is_empty() {
            out.result(title);
            for (k, v) in map {
                out.result(&format!("  {k}: {v}"));
            }
        }
    }
}

/// The rules of a pin, e.g. `allowedAccountIds 111111111111`.
pub fn describe_pin(pin: &AccountPin) -> String {
    let mut parts = Vec::new();
    if !pin.allowed.is_empty() {
        parts.push(format!("allowedAccountIds {}", pin.allowed.join(", ")));
    }
    if !pin.forbidden.is_empty() {
        parts.push(format!("forbiddenAccountIds {}", pin.forbidden.join(", ")));
    }
    if let Some(e) = &pin.expect {
        parts.push(format!("--expect-account {e}"));
    }
    if let Some(r) = &pin.recorded {
        parts.push(format!("account {} recorded in {}", r.account, r.origin));
    }
    parts.join("; ")
}
