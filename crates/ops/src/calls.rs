//! The AWS calls a command made, as reported with its result.

use deployer_aws::calls::CallSummary;
use indexmap::IndexMap;
use serde::Serialize;

/// The calls of the credential check (one STS GetCallerIdentity), made on a client the call
/// counter does not see.
// GUARD_STS_CALL: remove when deployer-aws counts it
const GUARD_CALLS: usize = 1;

/// How many AWS calls a command made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsCalls {
    /// HTTP attempts (retries count).
    pub total: usize,
    /// The longest chain of calls made one after another.
    pub sequential: usize,
    /// `Service.Operation` → count, in first-seen order.
    pub by_operation: IndexMap<String, usize>,
}

impl AwsCalls {
    /// The calls of a command: the counted ones plus the credential check.
    pub fn of(summary: &CallSummary) -> Self {
        let mut by_operation = IndexMap::new();
        if GUARD_CALLS > 0 {
            by_operation.insert("STS.GetCallerIdentity".to_string(), GUARD_CALLS);
        }
        for (operation, n) in &summary.by_operation {
            by_operation.insert(operation.clone(), *n);
        }
        Self {
            total: summary.total + GUARD_CALLS,
            sequential: summary.sequential + GUARD_CALLS,
            by_operation,
        }
    }
}
