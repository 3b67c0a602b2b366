//! AWS-backed variable sources, answered with the stage's credentials once the account guard
//! has passed: `${aws:accountId}`, `${cf:stack.Output}` / `${cf(region):...}`,
//! `${ssm:/path}` (params `raw`, `noDecrypt`, or a region), `${s3:bucket/key}`.
//! Semantics follow Serverless v3: a missing stack, output, parameter or key resolves to null.

use serde_json::Value;
use tokio::task::JoinSet;

use crate::artifacts;
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::stack;

/// One AWS-backed variable to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsVariable {
    /// `${aws:accountId}`.
    AccountId,
    /// `${cf:stack.Output}`.
    CfOutput {
        /// Region override.
        region: Option<String>,
        /// Stack name.
        stack: String,
        /// Output key.
        output: String,
    },
    /// `${ssm:/path}`.
    Ssm {
        /// Region override.
        region: Option<String>,
        /// Parameter name.
        name: String,
        /// `raw`: no splitting of StringList, no JSON parsing.
        raw: bool,
        /// `noDecrypt`: SecureString returned encrypted.
        decrypt: bool,
    },
    /// `${s3:bucket/key}`.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

impl AwsVariable {
    /// Build from a variable's source name, its parameters (`cf(us-west-2)`, `ssm(raw)`) and its
    /// address. Errors name the variable and what is wrong.
    pub fn parse(source: &str, params: &[Value], address: Option<&str>) -> Result<Self, String> {
        let params: Vec<String> = params
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let address = address.unwrap_or("");
        match source {
            "aws" => match address {
                "accountId" => Ok(AwsVariable::AccountId),
                other => Err(format!(
                    "Unsupported \"{other}\" address argument in variable \"aws\" source"
                )),
            },
            "cf" => {
                let Some((stack, output)) = address.split_once('.') else {
                    return Err(format!(
                        "Invalid \"cf\" variable address \"{address}\": expected \
                         \"<stack name>.<output key>\""
                    ));
                };
                Ok(AwsVariable::CfOutput {
                    region: params.first().cloned(),
                    stack: stack.to_string(),
                    output: output.to_string(),
                })
            }
            "ssm" => {
                if address.is_empty() {
                    return Err("Missing address argument in variable \"ssm\" source".into());
                }
                let mut raw = false;
                let mut decrypt = true;
                let mut region = None;
                for p in &params {
                    match p.as_str() {
                        "raw" => raw = true,
                        "noDecrypt" => decrypt = false,
                        r => region = Some(r.to_string()),
                    }
                }
                Ok(AwsVariable::Ssm {
                    region,
                    name: address.to_string(),
                    raw,
                    decrypt,
                })
            }
            "s3" => {
                let Some((bucket, key)) = address.split_once('/') else {
                    return Err(format!(
                        "Invalid \"s3\" variable address \"{address}\": expected \"<bucket>/<key>\""
                    ));
                };
                Ok(AwsVariable::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                })
            }
            other => Err(format!("\"{other}\" is not an AWS variable source")),
        }
    }
}

/// Resolve every variable in parallel; results in the same order. `account_id` comes from the
/// guard's GetCallerIdentity (no second STS call).
pub async fn resolve_all(
    clients: &AwsClients,
    account_id: &str,
    vars: &[AwsVariable],
) -> Vec<Result<Option<Value>, String>> {
    let mut set = JoinSet::new();
    for (i, var) in vars.iter().cloned().enumerate() {
        let clients = clients.clone();
        let account = account_id.to_string();
        set.spawn(async move { (i, resolve_one(&clients, &account, &var).await) });
    }
    let mut out: Vec<Result<Option<Value>, String>> = vec![Ok(None); vars.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, res)) => out[i] = res.map_err(|e| e.to_string()),
            Err(e) => {
                // A panicked task has no index; fail every still-empty slot with its message.
                for slot in out.iter_mut().filter(|s| matches!(s, Ok(None))) {
                    *slot = Err(format!("variable resolution task failed: {e}"));
                }
            }
        }
    }
    out
}

async fn resolve_one(
    clients: &AwsClients,
    account_id: &str,
    var: &AwsVariable,
) -> Result<Option<Value>, AwsError> {
    match var {
        AwsVariable::AccountId => Ok(Some(Value::String(account_id.to_string()))),
        AwsVariable::CfOutput {
            region,
            stack: name,
            output,
        } => {
            let cfn = clients.cfn_in(region.as_deref().unwrap_or(&clients.region));
            Ok(stack::describe(&cfn, name)
                .await?
                .and_then(|s| s.output(output).map(|v| Value::String(v.to_string()))))
        }
        AwsVariable::S3 { bucket, key } => Ok(artifacts::get_text(&clients.s3, bucket, key)
            .await?
            .map(Value::String)),
        AwsVariable::Ssm {
            region,
            name,
            raw,
            decrypt,
        } => {
            let ssm = clients.ssm_in(region.as_deref().unwrap_or(&clients.region));
            let res = ssm
                .get_parameter()
                .name(name)
                .with_decryption(*decrypt)
                .send()
                .await;
            let param = match res {
                Ok(out) => out.parameter,
                Err(e) => {
                    let err = AwsError::call(format!("GetParameter \"{name}\""), e);
                    if err.code() == Some("ParameterNotFound") {
                        return Ok(None);
                    }
                    return Err(err);
                }
            };
            let Some(param) = param else { return Ok(None) };
            let value = param.value().unwrap_or_default().to_string();
            let kind = param
                .r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default();
            Ok(Some(ssm_value(&value, &kind, *raw)))
        }
    }
}

/// v3's typing of an SSM value: StringList → array, SecureString that looks like JSON →
/// parsed, anything else (or `raw`) → string.
pub fn ssm_value(value: &str, kind: &str, raw: bool) -> Value {
    if raw {
        return Value::String(value.to_string());
    }
    match kind {
        "StringList" => Value::Array(
            value
                .split(',')
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        "SecureString" if value.trim_start().starts_with('{') => {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()))
        }
        _ => Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_v3_forms() {
        assert_eq!(
            AwsVariable::parse("aws", &[], Some("accountId")),
            Ok(AwsVariable::AccountId)
        );
        assert_eq!(
            AwsVariable::parse("cf", &[json!("us-west-2")], Some("other-dev.QueueUrl")),
            Ok(AwsVariable::CfOutput {
                region: Some("us-west-2".into()),
                stack: "other-dev".into(),
                output: "QueueUrl".into()
            })
        );
        assert_eq!(
            AwsVariable::parse("ssm", &[json!("raw"), json!("noDecrypt")], Some("/a/b")),
            Ok(AwsVariable::Ssm {
                region: None,
                name: "/a/b".into(),
                raw: true,
                decrypt: false
            })
        );
        assert_eq!(
            AwsVariable::parse("s3", &[], Some("bucket/dir/key.txt")),
            Ok(AwsVariable::S3 {
                bucket: "bucket".into(),
                key: "dir/key.txt".into()
            })
        );
        assert!(AwsVariable::parse("cf", &[], Some("nodot")).is_err());
        assert!(
            AwsVariable::parse("aws", &[], Some("nope"))
                .unwrap_err()
                .contains("nope")
        );
    }

    #[test]
    fn ssm_values_are_typed_like_v3() {
        assert_eq!(ssm_value("a,b", "StringList", false), json!(["a", "b"]));
        assert_eq!(ssm_value("a,b", "StringList", true), json!("a,b"));
        assert_eq!(
            ssm_value("{\"k\":1}", "SecureString", false),
            json!({"k": 1})
        );
        assert_eq!(ssm_value("{\"k\":1}", "String", false), json!("{\"k\":1}"));
    }
}
