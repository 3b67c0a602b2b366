//! Merging `resources:` into the compiled template the way Serverless v3 does
//! (`merge-custom-provider-resources.js`, `strip-null-props-from-template-resources.js`).

use serde_json::{Map, Value};

use crate::TemplateError;

/// lodash `merge(dst, src)`: objects merged key by key, arrays index by index, any other
/// source value (including `null`) replaces the destination.
fn lodash_merge(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (key, sv) in s {
                match d.get_mut(key) {
                    Some(dv) => lodash_merge(dv, sv),
                    None => {
                        d.insert(key.clone(), sv.clone());
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(s)) => {
            for (i, sv) in s.iter().enumerate() {
                match d.get_mut(i) {
                    Some(dv) => lodash_merge(dv, sv),
                    None => d.push(sv.clone()),
                }
            }
        }
        (dst, src) => *dst = src.clone(),
    }
}

/// `resources` as one object: a list of objects is merged in order first (v3 `mergeArrays`).
fn resources_object(resources: &Value) -> Result<Map<String, Value>, TemplateError> {
    match resources {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map.clone()),
        Value::Array(items) => {
            let mut merged = Value::Object(Map::new());
            for (i, item) in items.iter().enumerate() {
                if !item.is_object() {
                    return Err(TemplateError::invalid(
                        format!("resources[{i}]"),
                        "each entry of a resources list must be an object",
                    ));
                }
                lodash_merge(&mut merged, item);
            }
            match merged {
                Value::Object(map) => Ok(map),
                _ => unreachable!("merged into an object"),
            }
        }
        _ => Err(TemplateError::invalid(
            "resources",
            "expected an object (or a list of objects)",
        )),
    }
}

/// Merges `resources` into the template: `Resources`/`Outputs` and every other top-level key
/// deep-merged, then `resources.extensions` applied to generated resources.
pub fn merge_resources(template: &mut Value, resources: &Value) -> Result<(), TemplateError> {
    let mut resources = resources_object(resources)?;
    let extensions = resources.shift_remove("extensions");
    lodash_merge(template, &Value::Object(resources));
    if let Some(extensions) = extensions {
        apply_extensions(template, &extensions)?;
    }
    Ok(())
}

fn apply_extensions(template: &mut Value, extensions: &Value) -> Result<(), TemplateError> {
    let Some(extensions) = extensions.as_object() else {
        return Err(TemplateError::invalid(
            "resources.extensions",
            "expected an object of logical IDs",
        ));
    };
    let resources = template["Resources"]
        .as_object_mut()
        .expect("template has Resources");
    for (id, definition) in extensions {
        let Some(attributes) = definition.as_object() else {
            return Err(TemplateError::invalid(
                format!("resources.extensions.{id}"),
                "expected an object of resource attributes",
            ));
        };
        for (attribute, value) in attributes {
            let Some(resource) = resources.get_mut(id).and_then(Value::as_object_mut) else {
                return Err(TemplateError::invalid(
                    format!("resources.extensions.{id}"),
                    format!(
                        "Cannot extend \"{id}\" resource, as it's not found in generated stack"
                    ),
                ));
            };
            match attribute.as_str() {
                "Condition"
                | "CreationPolicy"
                | "DeletionPolicy"
                | "UpdatePolicy"
                | "UpdateReplacePolicy" => {
                    resource.insert(attribute.clone(), value.clone());
                }
                "Properties" | "Metadata" => {
                    let target = resource
                        .entry(attribute.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !target.is_object() {
                        *target = Value::Object(Map::new());
                    }
                    if let (Some(target), Some(value)) = (target.as_object_mut(), value.as_object())
                    {
                        for (k, v) in value {
                            target.insert(k.clone(), v.clone());
                        }
                    }
                }
                "DependsOn" => {
                    let entry = resource
                        .entry("DependsOn".to_owned())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if !entry.is_array() {
                        *entry = Value::Array(vec![entry.take()]);
                    }
                    let list = entry.as_array_mut().expect("made an array");
                    match value {
                        Value::Array(items) => list.extend(items.iter().cloned()),
                        other => list.push(other.clone()),
                    }
                }
                other => {
                    return Err(TemplateError::invalid(
                        format!("resources.extensions.{id}.{other}"),
                        format!(
                            "Cannot extend \"{id}\" resource, as extending the \"{other}\" \
                             attribute is not supported (use Condition, CreationPolicy, \
                             DeletionPolicy, UpdatePolicy, UpdateReplacePolicy, Properties, \
                             Metadata or DependsOn)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Deletes `null` values inside every resource's `Properties` (so a user can remove a
/// generated property by setting it to `null`), and a `Properties: null` itself.
pub fn strip_null_properties(template: &mut Value) {
    let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) else {
        return;
    };
    for resource in resources.values_mut() {
        let Some(resource) = resource.as_object_mut() else {
            continue;
        };
        if resource.get("Properties").is_some_and(Value::is_null) {
            resource.shift_remove("Properties");
            continue;
        }
        if let Some(properties) = resource.get_mut("Properties") {
            strip_nulls(properties);
        }
    }
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_like_lodash() {
        let mut dst = json!({"a": {"b": 1, "c": [1, {"x": 1}]}, "k": "v"});
        lodash_merge(
            &mut dst,
            &json!({"a": {"c": [2, {"y": 2}, 3], "d": null}, "k": {"o": 1}}),
        );
        assert_eq!(
            dst,
            json!({"a": {"b": 1, "c": [2, {"x": 1, "y": 2}, 3], "d": null}, "k": {"o": 1}})
        );
    }

    #[test]
    fn resources_merge_extensions_and_nulls() {
        let mut template = json!({
            "Resources": {"FnLogGroup": {"Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/x", "RetentionInDays": 14}, "DependsOn": "A"}},
            "Outputs": {}
        });
        let resources = json!([
            {"Resources": {"FnLogGroup": {"Properties": {"RetentionInDays": null}}},
             "Conditions": {"IsProd": {"Fn::Equals": ["a", "b"]}}},
            {"extensions": {"FnLogGroup": {"DeletionPolicy": "Retain", "DependsOn": ["B"],
                                            "Properties": {"KmsKeyId": "k"}}},
             "Outputs": {"X": {"Value": 1}}}
        ]);
        merge_resources(&mut template, &resources).unwrap();
        strip_null_properties(&mut template);
        assert_eq!(
            template,
            json!({
                "Resources": {"FnLogGroup": {"Type": "AWS::Logs::LogGroup",
                    "Properties": {"LogGroupName": "/x", "KmsKeyId": "k"},
                    "DependsOn": ["A", "B"], "DeletionPolicy": "Retain"}},
                "Outputs": {"X": {"Value": 1}},
                "Conditions": {"IsProd": {"Fn::Equals": ["a", "b"]}}
            })
        );
    }

    #[test]
    fn extension_errors() {
        let mut template = json!({"Resources": {"A": {"Type": "T"}}, "Outputs": {}});
        let err = merge_resources(
            &mut template,
            &json!({"extensions": {"B": {"Condition": "C"}}}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("not found in generated stack"),
            "{err}"
        );
        let err = merge_resources(&mut template, &json!({"extensions": {"A": {"Type": "X"}}}))
            .unwrap_err();
        assert!(err.to_string().contains("\"Type\" attribute"), "{err}");
    }
}
