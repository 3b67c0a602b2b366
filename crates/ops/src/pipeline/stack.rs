//! What the configuration says about the stack and its deployment bucket.

use deployer_aws::deploy::BucketChoice;
use deployer_config::model::{DeploymentBucket, Service};
use serde_json::Value;

use crate::defaults::DEPLOYMENT_PREFIX;

/// The stack name: `provider.stackName`, else `<service>-<stage>`. An empty `stackName` counts
/// as unset, as in v3 (`provider.stackName || \`${service}-${stage}\``).
pub fn name(service: &Service, stage: &str) -> String {
    service.stack_name(stage)
}

/// `provider.deploymentPrefix`, else [`DEPLOYMENT_PREFIX`].
pub fn deployment_prefix(service: &Service) -> &str {
    service
        .provider
        .deployment_prefix
        .as_deref()
        .unwrap_or(DEPLOYMENT_PREFIX)
}

/// The deployment bucket choice of the configuration.
pub fn bucket_choice(service: &Service) -> BucketChoice {
    match service
        .provider
        .deployment_bucket
        .as_ref()
        .and_then(DeploymentBucket::name)
    {
        Some(name) => BucketChoice::Named(name.to_string()),
        None => BucketChoice::Stack,
    }
}

/// `provider.iam.deploymentRole`.
pub fn deployment_role(service: &Service) -> Option<String> {
    service
        .provider
        .iam
        .as_ref()
        .and_then(|i| i.deployment_role.as_ref())
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(provider: &str) -> Service {
        let text = format!("service: svc\nprovider:\n  name: aws\n{provider}");
        Service::from_value(&serde_yaml::from_str(&text).unwrap()).unwrap()
    }

    #[test]
    fn stack_name_is_stack_name_unless_empty() {
        assert_eq!(name(&service(""), "dev"), "svc-dev");
        assert_eq!(name(&service("  stackName: custom\n"), "dev"), "custom");
        assert_eq!(name(&service("  stackName: ''\n"), "prod"), "svc-prod");
    }

    #[test]
    fn prefix_bucket_and_role_defaults() {
        let plain = service("");
        assert_eq!(deployment_prefix(&plain), "serverless");
        assert_eq!(bucket_choice(&plain), BucketChoice::Stack);
        assert_eq!(deployment_role(&plain), None);
        let set = service(
            "  deploymentPrefix: p\n  deploymentBucket: b\n  iam:\n    deploymentRole: arn:aws:iam::1:role/d\n",
        );
        assert_eq!(deployment_prefix(&set), "p");
        assert_eq!(bucket_choice(&set), BucketChoice::Named("b".into()));
        assert_eq!(
            deployment_role(&set).as_deref(),
            Some("arn:aws:iam::1:role/d")
        );
    }
}
