//! Stack-level settings beside the template: the stack policy (`provider.stackPolicy`), the
//! rollback triggers (`provider.rollbackConfiguration`) and termination protection (a
//! protected stage).

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{RollbackConfiguration, RollbackTrigger};

use crate::error::AwsError;

/// `provider.rollbackConfiguration`: CloudWatch alarms that roll an operation back, and how
/// long CloudFormation watches them after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollbackTriggers {
    /// `(Arn, Type)` of each trigger (`AWS::CloudWatch::Alarm` or a composite alarm).
    pub triggers: Vec<(String, String)>,
    /// `MonitoringTimeInMinutes`.
    pub monitoring_minutes: Option<i32>,
}

impl RollbackTriggers {
    /// The SDK's shape of it.
    pub(crate) fn sdk(&self) -> RollbackConfiguration {
        let triggers = self
            .triggers
            .iter()
            .map(|(arn, kind)| RollbackTrigger::builder().arn(arn).r#type(kind).build())
            .collect();
        RollbackConfiguration::builder()
            .set_rollback_triggers(Some(triggers))
            .set_monitoring_time_in_minutes(self.monitoring_minutes)
            .build()
    }
}

/// The stack policy body v3 sends: `{"Statement": statements}`; `None` for no statements.
pub fn policy_body(statements: &[serde_json::Value]) -> Option<String> {
    (!statements.is_empty()).then(|| serde_json::json!({ "Statement": statements }).to_string())
}

/// `SetStackPolicy` (v3 applies the policy this way after a change set was executed).
pub async fn set_stack_policy(cfn: &Client, stack: &str, body: &str) -> Result<(), AwsError> {
    cfn.set_stack_policy()
        .stack_name(stack)
        .stack_policy_body(body)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("SetStackPolicy on stack \"{stack}\""), e))?;
    Ok(())
}

/// `UpdateTerminationProtection` on: the stack of a protected stage cannot be deleted until
/// it is turned off.
pub async fn protect_stack(cfn: &Client, stack: &str) -> Result<(), AwsError> {
    cfn.update_termination_protection()
        .stack_name(stack)
        .enable_termination_protection(true)
        .send()
        .await
        .map_err(|e| {
            AwsError::call(
                format!("UpdateTerminationProtection on stack \"{stack}\""),
                e,
            )
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_body_wraps_the_statements_as_v3_does() {
        let s = serde_json::json!({"Effect": "Deny", "Action": "Update:Replace"});
        let body = policy_body(std::slice::from_ref(&s)).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed, serde_json::json!({"Statement": [s]}));
        assert_eq!(policy_body(&[]), None);
    }

    #[test]
    fn rollback_triggers_keep_arn_type_and_minutes() {
        let t = RollbackTriggers {
            triggers: vec![("arn:a".into(), "AWS::CloudWatch::Alarm".into())],
            monitoring_minutes: Some(5),
        };
        let sdk = t.sdk();
        assert_eq!(sdk.monitoring_time_in_minutes(), Some(5));
        assert_eq!(sdk.rollback_triggers()[0].arn(), Some("arn:a"));
        assert_eq!(
            sdk.rollback_triggers()[0].r#type(),
            Some("AWS::CloudWatch::Alarm")
        );
    }
}
