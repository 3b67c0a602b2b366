//! Every default the operations apply, in one place.

/// `provider.deploymentPrefix` when the configuration has none (v3's `getDeploymentPrefix`).
pub const DEPLOYMENT_PREFIX: &str = "serverless";
/// The package directory under the service directory when neither `--package` nor
/// `package.path` names one.
pub const PACKAGE_DIR: &str = ".serverless";
/// The core stack template, written only when deployer creates the deployment bucket.
pub const CREATE_TEMPLATE_FILE: &str = "cloudformation-template-create-stack.json";
/// The full stack template.
pub const UPDATE_TEMPLATE_FILE: &str = "cloudformation-template-update-stack.json";
/// The manifest of a package directory, read back by `deploy` with a package directory.
pub const MANIFEST_FILE: &str = "deployer-manifest.json";
/// The version of the manifest layout; a different one is refused.
pub const MANIFEST_FORMAT: u32 = 1;
/// The version of the saved plan's layout (`diff --out`); a different one is refused.
pub const PLAN_FORMAT: u32 = 1;
/// `deploymentBucket.maxPreviousDeploymentArtifacts` when unset (v3's default).
pub const MAX_PREVIOUS_DEPLOYMENTS: usize = 5;
/// The account lock file next to the service configuration: stage → account, recorded by the
/// first deploy of a stage the configuration does not pin, meant to be committed.
pub const ACCOUNT_LOCK_FILE: &str = "deployer.accounts.json";
