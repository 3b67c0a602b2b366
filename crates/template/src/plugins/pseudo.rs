//! serverless-pseudo-parameters 2.6.1 (`lib/index.js: addParameters`): `#{X}` in any
//! string of the template becomes `${X}` inside `Fn::Sub`.

use serde_json::{Map, Value, json};

use crate::{Ctx, TemplateError};

const CUSTOM_KEY: &str = "pseudoParameters";

/// Rewrites every string of every top-level section, after `resources:` are merged.
pub fn apply(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let allow_references = options(ctx)?;
    if let Some(sections) = ctx.template.as_object_mut() {
        for section in sections.values_mut() {
            rewrite_children(section, allow_references);
        }
    }
    Ok(())
}

/// `custom.pseudoParameters.allowReferences` (default true). `skipRegionReplace: false`
/// (guessing `#{AWS::Region}` from region names in strings) is refused.
fn options(ctx: &Ctx) -> Result<bool, TemplateError> {
    let path = format!("custom.{CUSTOM_KEY}");
    let Some(custom) = ctx.service.custom.as_ref().and_then(|c| c.get(CUSTOM_KEY)) else {
        return Ok(true);
    };
    let map = custom
        .as_object()
        .ok_or_else(|| TemplateError::invalid(&path, "expected a map"))?;
    super::reject_unknown_keys(&path, map, &["allowReferences", "skipRegionReplace"])?;
    if map.get("skipRegionReplace") == Some(&Value::Bool(false)) {
        return Err(TemplateError::unsupported(
            format!("{path}.skipRegionReplace"),
            "replacing region names in strings by #{AWS::Region} (skipRegionReplace: false); write #{AWS::Region} where it is meant",
        ));
    }
    match map.get("allowReferences") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(TemplateError::invalid(
            format!("{path}.allowReferences"),
            "expected true or false",
        )),
    }
}

fn rewrite_children(value: &mut Value, allow_references: bool) {
    match value {
        Value::Object(map) => rewrite_map(map, allow_references),
        Value::Array(items) => {
            for item in items.iter_mut() {
                match item {
                    Value::String(s) => {
                        if let Some(new) = rewrite_string(s, allow_references, false) {
                            *item = new;
                        }
                    }
                    other => rewrite_children(other, allow_references),
                }
            }
        }
        _ => {}
    }
}

fn rewrite_map(map: &mut Map<String, Value>, allow_references: bool) {
    for (key, child) in map.iter_mut() {
        match child {
            Value::String(s) => {
                if let Some(new) = rewrite_string(s, allow_references, key == "Fn::Sub") {
                    *child = new;
                }
            }
            other => rewrite_children(other, allow_references),
        }
    }
}

/// The new value of one string, if the plugin changes it. `in_sub`: the string is the value
/// of a string-form `Fn::Sub`, rewritten in place rather than wrapped.
fn rewrite_string(s: &str, allow_references: bool, in_sub: bool) -> Option<Value> {
    // The escape pass runs last and starts again from the original string (a plugin quirk:
    // a string with both forms ends up plain).
    if has_escape(s) {
        return Some(Value::String(s.replace("#@{", "#{")));
    }
    let replaced = replace_references(s, allow_references)?;
    Some(if in_sub {
        Value::String(replaced)
    } else {
        json!({"Fn::Sub": replaced})
    })
}

/// `/#@{.+}/`: an escaped reference.
fn has_escape(s: &str) -> bool {
    s.match_indices("#@{")
        .any(|(at, _)| s[at + 3..].chars().skip(1).any(|c| c == '}'))
}

/// Every `#{X}` → `${X}`, or `None` when there is none. Without `allowReferences` only
/// `#{AWS::<letters>}` counts.
fn replace_references(s: &str, allow_references: bool) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut found = false;
    while let Some(at) = rest.find("#{") {
        let after = &rest[at + 2..];
        let name = after.find('}').map(|end| &after[..end]);
        match name.filter(|n| !n.is_empty() && (allow_references || is_aws_pseudo(n))) {
            Some(name) => {
                out.push_str(&rest[..at]);
                out.push_str("${");
                out.push_str(name);
                out.push('}');
                rest = &after[name.len() + 1..];
                found = true;
            }
            None => {
                out.push_str(&rest[..at + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    found.then_some(out)
}

/// Every `#{X}` → `${X}` (what serverless-step-functions does to a definition), or `None`.
pub(super) fn replace_all(s: &str) -> Option<String> {
    replace_references(s, true)
}

fn is_aws_pseudo(name: &str) -> bool {
    name.strip_prefix("AWS::")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_sub_variables() {
        assert_eq!(
            replace_references("invoices-dev-#{AWS::AccountId}", true).as_deref(),
            Some("invoices-dev-${AWS::AccountId}")
        );
        assert_eq!(
            replace_references("a#{MyBucket}b#{AWS::Region}", true).as_deref(),
            Some("a${MyBucket}b${AWS::Region}")
        );
        assert_eq!(replace_references("${AWS::Partition} only", true), None);
        assert_eq!(replace_references("#{unterminated", true), None);
    }

    #[test]
    fn without_allow_references_only_aws_names_count() {
        assert_eq!(replace_references("#{MyBucket}", false), None);
        assert_eq!(
            replace_references("#{MyBucket}-#{AWS::Region}", false).as_deref(),
            Some("#{MyBucket}-${AWS::Region}")
        );
    }

    #[test]
    fn strings_are_wrapped_or_rewritten_in_place() {
        let mut v = json!({
            "Env": "x-#{AWS::Region}",
            "Out": {"Fn::Sub": "arn:${AWS::Partition}:s3:::b-#{AWS::AccountId}"},
            "Join": {"Fn::Join": ["", ["a", "#{AWS::StackName}"]]},
            "SubList": {"Fn::Sub": ["x-#{AWS::Region}-${Y}", {"Y": "y"}]},
            "Plain": "no references",
            "Escaped": "keep #@{this}",
            "Both": "#{AWS::Region}-#@{keep}"
        });
        rewrite_children(&mut v, true);
        assert_eq!(v["Env"], json!({"Fn::Sub": "x-${AWS::Region}"}));
        assert_eq!(
            v["Out"],
            json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::b-${AWS::AccountId}"})
        );
        assert_eq!(
            v["Join"],
            json!({"Fn::Join": ["", ["a", {"Fn::Sub": "${AWS::StackName}"}]]})
        );
        // As the plugin does (invalid CloudFormation): the list's string is wrapped.
        assert_eq!(
            v["SubList"],
            json!({"Fn::Sub": [{"Fn::Sub": "x-${AWS::Region}-${Y}"}, {"Y": "y"}]})
        );
        assert_eq!(v["Plain"], json!("no references"));
        assert_eq!(v["Escaped"], json!("keep #{this}"));
        assert_eq!(v["Both"], json!("#{AWS::Region}-#{keep}"));
    }
}
