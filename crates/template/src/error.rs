//! Why a service cannot be compiled.

/// Why a service cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A setting or event that deployer does not compile (yet). Never silently dropped.
    #[error(
        "{path}: {what} is not supported by deployer yet; remove it or deploy this service with Serverless"
    )]
    Unsupported {
        /// Property path of the setting (`functions.hello.events[2]`).
        path: String,
        /// What it is (`event type "alb"`).
        what: String,
    },
    /// A setting whose value cannot be compiled.
    #[error("{path}: {message}")]
    Invalid {
        /// Property path of the setting.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No packaged artifact was given for a function.
    #[error(
        "functions.{function}: no deployment package for this function (package the service first)"
    )]
    MissingArtifact {
        /// The function key.
        function: String,
    },
    /// A plugin run by the plugin host failed while the template was compiled (its own
    /// message, naming the plugin and hook).
    #[error("{0}")]
    Plugin(String),
}

impl TemplateError {
    /// [`TemplateError::Invalid`].
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        TemplateError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// [`TemplateError::Unsupported`].
    pub(crate) fn unsupported(path: impl Into<String>, what: impl Into<String>) -> Self {
        TemplateError::Unsupported {
            path: path.into(),
            what: what.into(),
        }
    }
}

impl deployer_config::Classify for TemplateError {
    fn kind(&self) -> deployer_config::Kind {
        match self {
            TemplateError::Plugin(_) => deployer_config::Kind::Plugin,
            _ => deployer_config::Kind::Template,
        }
    }
}

impl deployer_config::Classify for crate::plugins::PluginError {
    fn kind(&self) -> deployer_config::Kind {
        deployer_config::Kind::Plugin
    }
}
