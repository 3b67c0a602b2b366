//! Changes that broaden access, found by comparing the deployed template with the new one (so
//! `up` can judge without a change set): new IAM roles, new or widened policy statements
//! (inline, `AWS::IAM::Policy`, managed policies and their ARNs, trust policies), new
//! `AWS::Lambda::Permission`s and new security-group ingress. CDK's `--require-approval
//! broadening` is the reference: a protected stage deploys them only with
//! `--approve-broadening`.

use serde::Serialize;
use serde_json::Value;

/// One broadening change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Broadening {
    /// Logical id of the resource.
    pub logical_id: String,
    /// Its type.
    pub resource_type: String,
    /// What widens, e.g. `new role`, `new statement: Allow s3:* on *`.
    pub what: String,
}

/// The broadening changes from `deployed` (`None`: no stack yet) to `local`.
pub fn broadening(deployed: Option<&Value>, local: &Value) -> Vec<Broadening> {
    let empty = Value::Null;
    let old_resources = deployed.map_or(&empty, |d| &d["Resources"]);
    let Some(resources) = local["Resources"].as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, resource) in resources {
        let kind = resource["Type"].as_str().unwrap_or_default();
        let old = old_resources
            .get(id)
            .filter(|o| o["Type"] == resource["Type"]);
        for what in widened(kind, old, resource) {
            out.push(Broadening {
                logical_id: id.clone(),
                resource_type: kind.to_string(),
                what,
            });
        }
    }
    out
}

/// What widens in one resource (`old`: the deployed definition of the same type).
fn widened(kind: &str, old: Option<&Value>, new: &Value) -> Vec<String> {
    let grants = grants_of(kind, new);
    match (kind, old) {
        ("AWS::IAM::Role", None) => vec!["new role".into()],
        ("AWS::Lambda::Permission", None) => vec![format!("new permission: {}", permission(new))],
        ("AWS::EC2::SecurityGroupIngress", None) => {
            vec![format!("new ingress: {}", new["Properties"])]
        }
        ("AWS::Lambda::Permission", Some(o)) if o["Properties"] != new["Properties"] => {
            vec![format!("widened permission: {}", permission(new))]
        }
        ("AWS::EC2::SecurityGroupIngress", Some(o)) if o["Properties"] != new["Properties"] => {
            vec![format!("changed ingress: {}", new["Properties"])]
        }
        _ => {
            let before = old.map(|o| grants_of(kind, o)).unwrap_or_default();
            grants
                .into_iter()
                .filter(|(_, g)| !before.iter().any(|(_, b)| b == g))
                .map(|(label, g)| format!("{label}: {}", short(&g)))
                .collect()
        }
    }
}

/// The entries that grant access in a resource: statements, managed policy ARNs, ingress.
fn grants_of(kind: &str, resource: &Value) -> Vec<(&'static str, Value)> {
    let p = &resource["Properties"];
    let statements = |doc: &Value| -> Vec<Value> {
        match &doc["Statement"] {
            Value::Array(s) => s.clone(),
            Value::Null => Vec::new(),
            one => vec![one.clone()],
        }
    };
    let mut out = Vec::new();
    match kind {
        "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
            for policy in p["Policies"].as_array().into_iter().flatten() {
                for s in statements(&policy["PolicyDocument"]) {
                    out.push(("new statement", s));
                }
            }
            for s in statements(&p["AssumeRolePolicyDocument"]) {
                out.push(("new trust statement", s));
            }
            for arn in p["ManagedPolicyArns"].as_array().into_iter().flatten() {
                out.push(("new managed policy", arn.clone()));
            }
        }
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::RolePolicy" => {
            for s in statements(&p["PolicyDocument"]) {
                out.push(("new statement", s));
            }
        }
        "AWS::EC2::SecurityGroup" => {
            for rule in p["SecurityGroupIngress"].as_array().into_iter().flatten() {
                out.push(("new ingress", rule.clone()));
            }
        }
        _ => {}
    }
    out
}

fn permission(p: &Value) -> String {
    let p = &p["Properties"];
    format!("{} for {}", short(&p["Action"]), short(&p["Principal"]))
}

/// A compact, bounded rendering of a value for messages.
fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 160 {
        let cut: String = text.chars().take(157).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role(statements: Value) -> Value {
        json!({"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statements}}]}})
    }

    #[test]
    fn a_new_role_permission_and_ingress_broaden() {
        let local = json!({"Resources": {
            "R": role(json!([])),
            "P": {"Type": "AWS::Lambda::Permission", "Properties": {"Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com"}},
            "I": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {"CidrIp": "0.0.0.0/0"}},
            "Q": {"Type": "AWS::SQS::Queue"}}});
        let found = broadening(None, &local);
        let ids: Vec<&str> = found.iter().map(|b| b.logical_id.as_str()).collect();
        assert_eq!(ids, ["R", "P", "I"]);
        assert_eq!(found[0].what, "new role");
        assert!(
            found[1].what.contains("apigateway.amazonaws.com"),
            "{}",
            found[1].what
        );
    }

    #[test]
    fn a_new_statement_broadens_and_a_removed_one_does_not() {
        let read = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        let all = json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"});
        let deployed = json!({"Resources": {"R": role(json!([read.clone()]))}});
        let wider = json!({"Resources": {"R": role(json!([read.clone(), all]))}});
        let found = broadening(Some(&deployed), &wider);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].what.starts_with("new statement:"),
            "{}",
            found[0].what
        );
        assert!(found[0].what.contains("s3:*"));
        let narrower = json!({"Resources": {"R": role(json!([]))}});
        assert!(broadening(Some(&deployed), &narrower).is_empty());
        assert!(broadening(Some(&deployed), &deployed).is_empty());
    }

    #[test]
    fn new_ingress_on_an_existing_group_broadens() {
        let group = |rules: Value| {
            json!({"Resources": {"G": {"Type": "AWS::EC2::SecurityGroup",
            "Properties": {"SecurityGroupIngress": rules}}}})
        };
        let ssh =
            json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"});
        let open =
            json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"});
        let found = broadening(
            Some(&group(json!([ssh.clone()]))),
            &group(json!([ssh, open])),
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].what.contains("0.0.0.0/0"), "{}", found[0].what);
    }
}
