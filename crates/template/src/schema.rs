//! What v3's config schema validation (AJV with `coerceTypes: 'array'`) changes in the service
//! before anything is compiled: a single value where the schema says list becomes a
//! one-element list, and the template carries the list.

use deployer_config::model::{IamRole, Service};
use serde_json::Value;

/// The service as v3 sees it after schema validation.
pub(crate) fn coerced(service: &Service) -> Service {
    let mut service = service.clone();
    let provider = &mut service.provider;
    if let Some(IamRole::Generated(settings)) = provider.iam.as_mut().and_then(|i| i.role.as_mut())
        && let Some(statements) = settings.statements.as_mut()
    {
        statements.iter_mut().for_each(statement_lists);
    }
    if let Some(statements) = provider.iam_role_statements.as_mut() {
        statements.iter_mut().for_each(statement_lists);
    }
    if let Some(resources) = service.resources.as_mut() {
        match resources {
            Value::Array(items) => items.iter_mut().for_each(depends_on_lists),
            other => depends_on_lists(other),
        }
    }
    service
}

/// An IAM statement's `Action` and `NotAction` are lists in the schema; `Resource` may be a
/// string and stays one.
pub(crate) fn statement_lists(statement: &mut Value) {
    let Some(map) = statement.as_object_mut() else {
        return;
    };
    for key in ["Action", "NotAction"] {
        if let Some(value) = map.get_mut(key)
            && value.is_string()
        {
            *value = Value::Array(vec![value.clone()]);
        }
    }
}

/// `resources.Resources.<id>.DependsOn` is a list in the schema.
fn depends_on_lists(section: &mut Value) {
    let Some(resources) = section.get_mut("Resources").and_then(Value::as_object_mut) else {
        return;
    };
    for resource in resources.values_mut() {
        if let Some(depends) = resource.get_mut("DependsOn")
            && depends.is_string()
        {
            *depends = Value::Array(vec![depends.clone()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_actions_and_depends_on_become_lists() {
        let service = Service::from_value(&json!({
            "service": "s",
            "provider": {"name": "aws", "iam": {"role": {"statements": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "NotAction": "iam:*", "Resource": ["a"]}
            ]}}},
            "resources": {"Resources": {
                "Q": {"Type": "AWS::SQS::Queue", "DependsOn": "T"},
                "T": {"Type": "AWS::SNS::Topic", "DependsOn": ["Q2"]}
            }}
        }))
        .unwrap();
        let s = coerced(&service);
        let Some(IamRole::Generated(role)) = s.provider.iam.unwrap().role else {
            panic!()
        };
        let statements = role.statements.unwrap();
        assert_eq!(statements[0]["Action"], json!(["s3:*"]));
        assert_eq!(statements[0]["Resource"], json!("*"));
        assert_eq!(statements[1]["NotAction"], json!(["iam:*"]));
        let resources = s.resources.unwrap();
        assert_eq!(resources["Resources"]["Q"]["DependsOn"], json!(["T"]));
        assert_eq!(resources["Resources"]["T"]["DependsOn"], json!(["Q2"]));
    }

    #[test]
    fn legacy_statements_and_resource_lists() {
        let service = Service::from_value(&json!({
            "service": "s",
            "provider": {"name": "aws", "iamRoleStatements": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]},
            "resources": [{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "DependsOn": "T"}}}]
        }))
        .unwrap();
        let s = coerced(&service);
        assert_eq!(
            s.provider.iam_role_statements.unwrap()[0]["Action"],
            json!(["sqs:*"])
        );
        assert_eq!(
            s.resources.unwrap()[0]["Resources"]["Q"]["DependsOn"],
            json!(["T"])
        );
    }
}
