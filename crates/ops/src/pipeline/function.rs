//! One function of a build, for `deploy function`: its zip, and the settings the compiled
//! template gives it.

use anyhow::anyhow;
use deployer_aws::lambda::FunctionSettings;
use serde_json::Value;

use crate::pipeline::package::Build;

/// The artifact the build made for function `key`.
pub(crate) fn artifact_of<'a>(
    build: &'a Build,
    key: &str,
) -> anyhow::Result<&'a deployer_package::Artifact> {
    let name = build
        .package
        .function_artifacts
        .get(key)
        .ok_or_else(|| anyhow!("function \"{key}\" has no code artifact (an image or disabled function cannot be deployed with `deploy function`)"))?;
    build
        .package
        .artifacts
        .iter()
        .find(|a| &a.name == name)
        .ok_or_else(|| anyhow!("the package has no artifact {name} for function \"{key}\""))
}

/// The function's settings in the compiled template: literal values become settings; values
/// with intrinsics (a `Fn::GetAtt` of the stack's role, a `Ref`) are listed as skipped.
pub(crate) fn settings_of(
    template: &Value,
    name: &str,
) -> (FunctionSettings, Vec<String>, Vec<String>) {
    let mut s = FunctionSettings::default();
    let (mut applied, mut skipped) = (Vec::new(), Vec::new());
    let Some(props) = template["Resources"].as_object().and_then(|r| {
        r.values().find_map(|res| {
            (res["Type"] == "AWS::Lambda::Function" && res["Properties"]["FunctionName"] == name)
                .then(|| &res["Properties"])
        })
    }) else {
        return (s, applied, skipped);
    };
    let mut note = |label: &str, ok: bool| {
        if ok {
            applied.push(label.to_string());
        } else {
            skipped.push(label.to_string());
        }
    };
    if let Some(v) = props.get("MemorySize") {
        s.memory_size = v.as_i64().map(|n| n as i32);
        note("memorySize", s.memory_size.is_some());
    }
    if let Some(v) = props.get("Timeout") {
        s.timeout = v.as_i64().map(|n| n as i32);
        note("timeout", s.timeout.is_some());
    }
    if let Some(vars) = props["Environment"]["Variables"].as_object() {
        let literal: Option<Vec<(String, String)>> = vars
            .iter()
            .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect();
        note("environment", literal.is_some());
        s.environment = literal;
    }
    if let Some(layers) = props.get("Layers").and_then(Value::as_array) {
        let literal: Option<Vec<String>> = layers
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect();
        note("layers", literal.is_some());
        s.layers = literal;
    }
    if let Some(role) = props.get("Role") {
        s.role = role.as_str().map(str::to_string);
        note("role", s.role.is_some());
    }
    if let Some(vpc) = props.get("VpcConfig") {
        let list = |k: &str| -> Option<Vec<String>> {
            vpc[k]
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        s.vpc = list("SubnetIds").zip(list("SecurityGroupIds"));
        note("vpc", s.vpc.is_some());
    }
    (s, applied, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_settings_apply_and_intrinsics_are_skipped() {
        let t = serde_json::json!({"Resources": {"HelloLambdaFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"FunctionName": "svc-dev-hello", "MemorySize": 512, "Timeout": 9,
                "Environment": {"Variables": {"A": "1"}},
                "Role": {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]}}}}});
        let (s, applied, skipped) = settings_of(&t, "svc-dev-hello");
        assert_eq!(s.memory_size, Some(512));
        assert_eq!(s.timeout, Some(9));
        assert_eq!(s.environment, Some(vec![("A".into(), "1".into())]));
        assert_eq!(s.role, None);
        assert_eq!(applied, ["memorySize", "timeout", "environment"]);
        assert_eq!(skipped, ["role"]);
        let (none, a, k) = settings_of(&t, "other");
        assert!(none.is_empty() && a.is_empty() && k.is_empty());
    }
}
