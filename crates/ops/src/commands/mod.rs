//! The operations, one file each: its options, its result and one public function (`deploy`
//! holds the deploy's report types; `deployments` the deployment a daily command acts on).
//! Each is built from the steps of `crate::pipeline`.

pub(crate) mod apply;
pub(crate) mod deploy;
pub(crate) mod deployments;
pub(crate) mod diff;
pub(crate) mod drift;
pub(crate) mod function;
pub(crate) mod identity;
pub(crate) mod info;
pub(crate) mod invoke;
pub(crate) mod invoke_local;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod package;
pub(crate) mod pin;
pub(crate) mod plan;
pub(crate) mod print;
pub(crate) mod remove;
pub(crate) mod rollback;
pub(crate) mod rollback_function;
pub(crate) mod watch;
