//! The AWS calls a command made, as reported with its result.

use deployer_aws::calls::CallSummary;
use indexmap::IndexMap;
use serde::Serialize;

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
    /// The calls of a command, the credential check's STS calls included.
    pub fn of(summary: &CallSummary) -> Self {
        Self {
            total: summary.total,
            sequential: summary.sequential,
            by_operation: summary
                .by_operation
                .iter()
                .map(|(operation, n)| (operation.clone(), *n))
                .collect(),
        }
    }
}
