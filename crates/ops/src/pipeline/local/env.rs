//! The environment of a handler run by `invoke local`: the function's resolved environment
//! (provider's, then the function's, then `-e`), Lambda's own variables, and no ambient AWS
//! credentials unless the stage's are passed on purpose.

use std::collections::BTreeMap;
use std::path::Path;

use deployer_aws::ExportedCredentials;
use deployer_config::model::{Map, Service};
use serde_json::Value;

/// What Lambda tells a function about itself, as `invoke local` fakes it.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// The deployed function name.
    pub name: String,
    /// `handler` as written.
    pub handler: String,
    /// The declared runtime (`nodejs20.x`).
    pub runtime: String,
    /// Memory size in MB.
    pub memory: u64,
    /// The stage's region.
    pub region: String,
}

/// The log stream name Lambda would give this run (any will do; v3 uses a fixed one too).
pub(crate) const LOG_STREAM: &str = "2026/01/01/[$LATEST]00000000000000000000000000000000";

/// Suffixes of ambient variables that carry AWS credentials or choose a profile
/// (`AWS_ACCESS_KEY_ID`, `AWS_PROD_PROFILE`, …): removed so the handler cannot act on an
/// account the guard did not judge.
const CREDENTIAL_SUFFIXES: [&str; 5] = [
    "ACCESS_KEY_ID",
    "SECRET_ACCESS_KEY",
    "SESSION_TOKEN",
    "SECURITY_TOKEN",
    "PROFILE",
];

/// The config environment as strings: provider, then function. Values that are objects
/// (CloudFormation intrinsics such as `!Ref Queue`) have no value before deploy and are left
/// out; their names are returned.
pub(crate) fn configured(service: &Service, key: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let function = service.functions.get(key);
    let maps: [Option<&Map>; 2] = [
        service.provider.environment.as_ref(),
        function.and_then(|f| f.environment.as_ref()),
    ];
    let mut vars = BTreeMap::new();
    let mut left_out = Vec::new();
    for (name, value) in maps.into_iter().flatten().flat_map(|m| m.iter()) {
        match text_of(value) {
            Some(text) => {
                left_out.retain(|n| n != name);
                vars.insert(name.clone(), text);
            }
            None => {
                vars.remove(name);
                if !left_out.contains(name) {
                    left_out.push(name.clone());
                }
            }
        }
    }
    (vars, left_out)
}

/// A scalar as Lambda would store it; `None` for objects and arrays (intrinsics).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Lambda's own variables for `identity`, with the code in `task_root`.
pub(crate) fn lambda_vars(identity: &Identity, task_root: &Path) -> BTreeMap<String, String> {
    let vars = [
        ("AWS_LAMBDA_FUNCTION_NAME", identity.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            identity.memory.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", identity.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", LOG_STREAM.into()),
        ("AWS_REGION", identity.region.clone()),
        ("AWS_DEFAULT_REGION", identity.region.clone()),
        (
            "AWS_EXECUTION_ENV",
            format!("AWS_Lambda_{}", identity.runtime),
        ),
        ("_HANDLER", identity.handler.clone()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
    ];
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Whether an ambient variable carries credentials or picks a profile.
pub(crate) fn is_credential_var(name: &str) -> bool {
    name == "DEPLOYER_MFA_CODE"
        || (name.starts_with("AWS_") && CREDENTIAL_SUFFIXES.iter().any(|s| name.ends_with(s)))
}

/// Variables that keep the SDK in the handler from finding credentials of its own (profile
/// files, instance metadata) and, with `credentials`, hand it the stage's.
pub(crate) fn credential_vars(
    credentials: Option<&ExportedCredentials>,
    nowhere: &Path,
) -> BTreeMap<String, String> {
    let none = nowhere.display().to_string();
    let mut vars: BTreeMap<String, String> = [
        ("AWS_SHARED_CREDENTIALS_FILE", none.clone()),
        ("AWS_CONFIG_FILE", none),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(c) = credentials {
        vars.insert("AWS_ACCESS_KEY_ID".into(), c.access_key_id.clone());
        vars.insert("AWS_SECRET_ACCESS_KEY".into(), c.secret_access_key.clone());
        if let Some(token) = &c.session_token {
            vars.insert("AWS_SESSION_TOKEN".into(), token.clone());
        }
    }
    vars
}

/// Parses `-e KEY=VALUE` options; a bad one is named.
pub(crate) fn parse_overrides(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.contains('\0') && !v.contains('\0') => {
                Ok((k.to_string(), v.to_string()))
            }
            _ => Err(format!(
                "-e {pair:?} is not KEY=VALUE: give each variable as -e NAME=value"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> Service {
        let value: Value = serde_json::from_str(yaml).unwrap();
        Service::from_value(&value).unwrap()
    }

    #[test]
    fn function_values_win_and_intrinsics_are_left_out() {
        let s = service(
            r#"{"service":"s","provider":{"name":"aws","environment":{"A":"p","B":"p","Q":{"Ref":"Queue"},"N":3}},
               "functions":{"f":{"handler":"h.f","environment":{"B":"f","C":true,"Q2":{"Fn::GetAtt":["X","Arn"]}}}}}"#,
        );
        let (vars, left_out) = configured(&s, "f");
        assert_eq!(vars["A"], "p");
        assert_eq!(vars["B"], "f");
        assert_eq!(vars["C"], "true");
        assert_eq!(vars["N"], "3");
        assert!(!vars.contains_key("Q"));
        assert_eq!(left_out, ["Q", "Q2"]);
    }

    #[test]
    fn a_function_value_replaces_a_provider_intrinsic() {
        let s = service(
            r#"{"service":"s","provider":{"name":"aws","environment":{"Q":{"Ref":"Queue"}}},
               "functions":{"f":{"handler":"h.f","environment":{"Q":"url"}}}}"#,
        );
        let (vars, left_out) = configured(&s, "f");
        assert_eq!(vars["Q"], "url");
        assert!(left_out.is_empty());
    }

    #[test]
    fn overrides_must_be_pairs() {
        let ok = parse_overrides(&["A=1".into(), "B=x=y".into(), "C=".into()]).unwrap();
        assert_eq!(ok["B"], "x=y");
        assert_eq!(ok["C"], "");
        assert!(
            parse_overrides(&["NOPE".into()])
                .unwrap_err()
                .contains("-e \"NOPE\"")
        );
        assert!(parse_overrides(&["=v".into()]).is_err());
    }

    #[test]
    fn credential_variables_are_recognised() {
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_PROFILE",
            "AWS_PROD_SECRET_ACCESS_KEY",
            "DEPLOYER_MFA_CODE",
        ] {
            assert!(is_credential_var(name), "{name}");
        }
        for name in ["AWS_REGION", "AWS_ENDPOINT_URL", "PATH", "PROFILE"] {
            assert!(!is_credential_var(name), "{name}");
        }
    }
}
