//! The endpoint this process talks to, noted when the clients are built, for the words of
//! connection-failure messages. A leaf module: the clients note it, the errors read it.

use std::sync::RwLock;

/// The custom endpoint URL (if any) and the region.
static ENDPOINT: RwLock<Option<(Option<String>, String)>> = RwLock::new(None);

/// Remember the endpoint (custom URL, if any) and region for connection-failure messages.
pub(crate) fn note(custom: Option<&str>, region: &str) {
    if let Ok(mut e) = ENDPOINT.write() {
        *e = Some((custom.map(str::to_string), region.to_string()));
    }
}

/// What [`note`] remembered, if the clients were built.
pub(crate) fn noted() -> Option<(Option<String>, String)> {
    ENDPOINT.read().ok().and_then(|e| e.clone())
}
