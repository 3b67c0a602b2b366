//! The paths the deploy, diff, info and remove flows had before they moved to [`crate::flow`],
//! kept so that callers name them as before. The flows themselves live in `flow/`.

pub use crate::flow::deploy::{DeployOutcome, DeployStatus, deploy, deploy_hooked};
pub use crate::flow::diff::{DiffOutcome, diff};
pub use crate::flow::hooks::DeployHooks;
pub use crate::flow::info::{InfoOutcome, info};
pub use crate::flow::remove::{RemoveOutcome, RemoveRequest, remove};
pub use crate::flow::request::{DeployArtifact, DeployRequest, Method};
pub use crate::flow::update::{confirm_update, start_update};
pub use crate::flow::{BUCKET_LOGICAL_ID, BUCKET_OUTPUT, BucketChoice, MAX_TEMPLATE_BODY};
