//! What a flow runs at its points besides deployer's own steps (the plugin host's hooks).

/// What runs inside the deploy besides deployer's own steps: the plugin host's hooks at the
/// upload (v3's `aws:deploy:deploy:uploadArtifacts`), once the bucket exists and the
/// artifacts are in it, before the stack changes.
pub trait DeployHooks {
    /// Called after the uploads, under the stage lock. An error stops the deploy before the
    /// stack changes.
    fn uploaded(&self, bucket: &str) -> Result<(), String>;
}

/// No hooks.
pub(super) struct NoHooks;

impl DeployHooks for NoHooks {
    fn uploaded(&self, _bucket: &str) -> Result<(), String> {
        Ok(())
    }
}
