//! The info read: stack status, outputs and resources. It changes nothing; it lives with the
//! flows because it reads the same stack they write.

use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::stack::{self, StackInfo, StackResource};

/// What `info` found.
#[derive(Debug, Clone)]
pub struct InfoOutcome {
    /// The stack.
    pub stack: StackInfo,
    /// Its resources (empty when listing them failed: see `warnings`).
    pub resources: Vec<StackResource>,
    /// Secondary calls that failed, each naming the call; the stack status and outputs are
    /// still there.
    pub warnings: Vec<String>,
}

/// Stack status, outputs and resources (two calls in parallel).
pub async fn info(clients: &AwsClients, stack_name: &str) -> Result<InfoOutcome, AwsError> {
    let (info, resources) = tokio::join!(
        stack::describe(&clients.cfn, stack_name),
        stack::resources(&clients.cfn, stack_name),
    );
    let Some(info) = info? else {
        return Err(AwsError::StackMissing {
            stack: stack_name.to_string(),
            region: clients.region.clone(),
        });
    };
    // The resource list only adds function names: its failure degrades to a warning.
    let (resources, warnings) = match resources {
        Ok(r) => (r, Vec::new()),
        Err(e) => (Vec::new(), vec![format!("{e} (functions are not listed)")]),
    };
    Ok(InfoOutcome {
        stack: info,
        resources,
        warnings,
    })
}
