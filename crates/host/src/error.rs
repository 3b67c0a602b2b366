//! What can go wrong with the plugin host; each error names the plugin (and hook) and what to
//! do.

/// A plugin host failure.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No `node` on PATH.
    #[error(
        "plugin {plugins} needs Node.js to run (deployer runs it with the Serverless v3 plugin API in a node child process), but no `node` was found on PATH: install Node.js (18 or newer), or leave the plugin out with --ignore-plugin {first}"
    )]
    NodeMissing {
        /// The plugins that needed it, comma-separated.
        plugins: String,
        /// The first of them (for the hint).
        first: String,
    },
    /// `node` could not be started.
    #[error("cannot start the plugin host ({node}): {source}")]
    Spawn {
        /// The program.
        node: String,
        /// Why.
        source: std::io::Error,
    },
    /// A plugin's hook (or its loading) threw.
    #[error("{}", hook_failed(plugin, hook, message, code))]
    HookFailed {
        /// The plugin.
        plugin: String,
        /// The hook (lifecycle event), or `load` / `constructor` / `asyncInit`.
        hook: String,
        /// The plugin's own message.
        message: String,
        /// The error's code, when it has one.
        code: Option<String>,
        /// The first lines of its stack.
        stack: Option<String>,
    },
    /// The host process ended or answered nonsense.
    #[error(
        "the plugin host stopped unexpectedly while {doing}{}",
        stderr_tail(stderr)
    )]
    Crashed {
        /// What it was doing.
        doing: String,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// A hook ran for longer than allowed without a sign of life.
    #[error(
        "the plugin host gave no sign of life for {seconds}s while {doing}: stopped it. A plugin hook may be waiting for something that never comes; run with -v to see the plugins' output"
    )]
    Stalled {
        /// What it was doing.
        doing: String,
        /// The silence allowed.
        seconds: u64,
    },
    /// Writing to or reading from the host failed.
    #[error("cannot talk to the plugin host while {doing}: {source}")]
    Pipe {
        /// What it was doing.
        doing: String,
        /// Why.
        source: std::io::Error,
    },
}

fn hook_failed(plugin: &str, hook: &str, message: &str, code: &Option<String>) -> String {
    let code = code
        .as_deref()
        .map(|c| format!(" [{c}]"))
        .unwrap_or_default();
    let what = match hook {
        "load" => "failed to load".to_string(),
        "constructor" | "asyncInit" => format!("failed in its {hook}"),
        hook => format!("failed in hook {hook}"),
    };
    format!(
        "plugin {plugin} {what}: {message}{code}. The command stopped there; fix the plugin's configuration, or leave it out with --ignore-plugin {plugin}"
    )
}

fn stderr_tail(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", stderr.trim())
    }
}

impl deployer_config::Classify for HostError {
    fn kind(&self) -> deployer_config::Kind {
        deployer_config::Kind::Plugin
    }

    fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        if let HostError::HookFailed { plugin, hook, .. } = self {
            fields.insert("plugin".into(), plugin.clone().into());
            fields.insert("hook".into(), hook.clone().into());
        }
        fields
    }
}
