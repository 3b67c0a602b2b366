//! The state machine definition: checked, optionally annotated as asl-validator does, and
//! turned into `DefinitionString` with the plugin's `${<md5>}` placeholders.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use super::Machine;
use crate::naming::lambda_logical_id;
use crate::{Ctx, TemplateError};

const STATE_TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// The definition as a map, checked; with `validate: true` every state without
/// `QueryLanguage` gets the top-level one (default `JSONPath`) as its last key, as
/// asl-validator 3.16.0 leaves it.
pub fn checked(machine: &Machine, validate: bool) -> Result<Value, TemplateError> {
    let path = format!("{}.definition", machine.path);
    let definition = match machine.get("definition") {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(_)) => {
            return Err(TemplateError::unsupported(
                path,
                "a definition written as a string; write it as a map",
            ));
        }
        _ => {
            return Err(TemplateError::invalid(
                path,
                "expected the state machine definition (a map)",
            ));
        }
    };
    check_states(&definition, &path)?;
    let mut definition = Value::Object(definition);
    if validate {
        let language = definition
            .get("QueryLanguage")
            .cloned()
            .unwrap_or(json!("JSONPath"));
        annotate(&mut definition, &language);
    }
    Ok(definition)
}

/// `StartAt` names a state, every state has a known `Type`, every `Next` exists (nested
/// state maps too).
fn check_states(definition: &Map<String, Value>, path: &str) -> Result<(), TemplateError> {
    let states = definition
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            TemplateError::invalid(format!("{path}.States"), "expected a map of states")
        })?;
    let start = definition.get("StartAt").and_then(Value::as_str);
    if !start.is_some_and(|s| states.contains_key(s)) {
        return Err(TemplateError::invalid(
            format!("{path}.StartAt"),
            "must name one of the States",
        ));
    }
    for (name, state) in states {
        let state_path = format!("{path}.States.{name}");
        let kind = state.get("Type").and_then(Value::as_str);
        if !kind.is_some_and(|k| STATE_TYPES.contains(&k)) {
            return Err(TemplateError::invalid(
                format!("{state_path}.Type"),
                format!("expected one of {}", STATE_TYPES.join(", ")),
            ));
        }
        if let Some(next) = state.get("Next").and_then(Value::as_str)
            && !states.contains_key(next)
        {
            return Err(TemplateError::invalid(
                format!("{state_path}.Next"),
                format!("no state named {next}"),
            ));
        }
        for (i, nested) in nested_machines(state).into_iter().enumerate() {
            check_states(nested, &format!("{state_path}[{i}]"))?;
        }
    }
    Ok(())
}

/// The nested state machines of a state: Parallel branches, a Map's processor.
pub fn nested_machines(state: &Value) -> Vec<&Map<String, Value>> {
    let mut out: Vec<&Map<String, Value>> = state
        .get("Branches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    for key in ["ItemProcessor", "Iterator"] {
        if let Some(map) = state.get(key).and_then(Value::as_object) {
            out.push(map);
        }
    }
    out
}

fn annotate(machine: &mut Value, language: &Value) {
    let Some(states) = machine.get_mut("States").and_then(Value::as_object_mut) else {
        return;
    };
    for state in states.values_mut() {
        if let Some(map) = state.as_object_mut()
            && !map.contains_key("QueryLanguage")
        {
            map.insert("QueryLanguage".into(), language.clone());
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(nested) = state.get_mut(key) {
                annotate(nested, language);
            }
        }
        if let Some(branches) = state.get_mut("Branches").and_then(Value::as_array_mut) {
            branches.iter_mut().for_each(|b| annotate(b, language));
        }
    }
}

/// `{"Ref": …}` or `{"Fn::…": …}`.
pub fn is_intrinsic(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k == "Ref" || k.starts_with("Fn::")))
}

/// `DefinitionString`: a plain string, `{Fn::Sub: str}` or `{Fn::Sub: [str, vars]}`.
pub fn definition_string(ctx: &Ctx, definition: &Value) -> Value {
    let mut definition = definition.clone();
    let mut found = Vec::new();
    extract(&mut definition, &mut found);
    let mut text = serde_json::to_string_pretty(&definition).expect("a JSON value serializes");
    let mut needs_sub = false;
    if let Some(replaced) = super::super::pseudo::replace_all(&text) {
        text = replaced;
        needs_sub = true;
    }
    let mut vars = Map::new();
    for (hash, intrinsic) in found {
        // A Wait state's `Seconds` must be a number: the placeholder loses its quotes.
        text = text.replace(
            &format!("\"Seconds\": \"${{{hash}}}\""),
            &format!("\"Seconds\": ${{{hash}}}"),
        );
        let translated = translate(ctx, &intrinsic);
        match inlined_function_arn(ctx, &translated) {
            Some(arn) => {
                text = text.replace(&format!("${{{hash}}}"), &arn);
                needs_sub = true;
            }
            None => {
                vars.insert(hash, translated);
            }
        }
    }
    if !vars.is_empty() {
        json!({"Fn::Sub": [text, vars]})
    } else if needs_sub {
        json!({"Fn::Sub": text})
    } else {
        Value::String(text)
    }
}

/// Replaces every intrinsic by `${<md5 of its JSON>}` and collects them.
fn extract(value: &mut Value, found: &mut Vec<(String, Value)>) {
    if is_intrinsic(value) {
        let text = serde_json::to_string(value).expect("a JSON value serializes");
        let hash = hex::encode(Md5::digest(text.as_bytes()));
        if !found.iter().any(|(h, _)| h == &hash) {
            found.push((hash.clone(), value.clone()));
        }
        *value = Value::String(format!("${{{hash}}}"));
        return;
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| extract(v, found)),
        Value::Array(items) => items.iter_mut().for_each(|v| extract(v, found)),
        _ => {}
    }
}

/// The service's own resource logical IDs (`resources.Resources`, object or list form).
pub fn user_resource_ids(ctx: &Ctx) -> Vec<String> {
    let sections: Vec<&Value> = match &ctx.service.resources {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    sections
        .iter()
        .filter_map(|s| s.get("Resources").and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect()
}

/// A `Ref`/`Fn::GetAtt` naming a function key (not a resource) points at
/// `<Fn>LambdaFunction` (`translateLocalFunctionNames`).
pub fn translate(ctx: &Ctx, intrinsic: &Value) -> Value {
    let resources = user_resource_ids(ctx);
    let function_id = |name: &str| -> Option<String> {
        (ctx.service.functions.contains_key(name) && !resources.iter().any(|r| r == name))
            .then(|| lambda_logical_id(name))
    };
    if let Some(name) = intrinsic.get("Ref").and_then(Value::as_str)
        && let Some(id) = function_id(name)
    {
        return json!({"Ref": id});
    }
    match intrinsic.get("Fn::GetAtt") {
        Some(Value::Array(parts)) => {
            if let Some(id) = parts.first().and_then(Value::as_str).and_then(function_id) {
                let mut parts = parts.clone();
                parts[0] = json!(id);
                return json!({"Fn::GetAtt": parts});
            }
        }
        Some(Value::String(dotted)) => {
            if let Some((name, attr)) = dotted.split_once('.')
                && let Some(id) = function_id(name)
            {
                return json!({"Fn::GetAtt": [id, attr]});
            }
        }
        _ => {}
    }
    intrinsic.clone()
}

/// The function key a translated `{Ref: <Fn>LambdaFunction}` names.
pub fn referenced_function(ctx: &Ctx, translated: &Value) -> Option<String> {
    let id = translated.get("Ref").and_then(Value::as_str)?;
    ctx.service
        .functions
        .keys()
        .find(|k| lambda_logical_id(k) == id)
        .cloned()
}

/// A `Ref` to a function is written out as its ARN (the plugin avoids a dependency cycle).
fn inlined_function_arn(ctx: &Ctx, translated: &Value) -> Option<String> {
    let key = referenced_function(ctx, translated)?;
    Some(function_arn_text(&ctx.function_name(&key)))
}

/// `arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:<name>`.
pub fn function_arn_text(name: &str) -> String {
    format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_the_md5_of_the_intrinsic_json() {
        let mut v = json!({"Resource": {"Fn::GetAtt": ["validate", "Arn"]}});
        let mut found = Vec::new();
        extract(&mut v, &mut found);
        assert_eq!(v["Resource"], json!("${9bf639ef15142645f3de19323b8d877b}"));
        assert_eq!(found[0].1, json!({"Fn::GetAtt": ["validate", "Arn"]}));
    }

    #[test]
    fn validate_adds_query_language_to_nested_states() {
        let mut d = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]}}});
        annotate(&mut d, &json!("JSONPath"));
        assert_eq!(d["States"]["P"]["QueryLanguage"], json!("JSONPath"));
        assert_eq!(
            d["States"]["P"]["Branches"][0]["States"]["A"]["QueryLanguage"],
            json!("JSONPath")
        );
        let keys: Vec<&String> = d["States"]["P"].as_object().unwrap().keys().collect();
        assert_eq!(keys.last().unwrap().as_str(), "QueryLanguage");
    }

    #[test]
    fn states_are_checked() {
        let bad_next = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}});
        let err = check_states(bad_next.as_object().unwrap(), "d").unwrap_err();
        assert!(
            err.to_string()
                .contains("d.States.A.Next: no state named B"),
            "{err}"
        );
        let bad_start = json!({"StartAt": "X", "States": {"A": {"Type": "Pass", "End": true}}});
        assert!(check_states(bad_start.as_object().unwrap(), "d").is_err());
        let bad_type = json!({"StartAt": "A", "States": {"A": {"Type": "Nope"}}});
        assert!(check_states(bad_type.as_object().unwrap(), "d").is_err());
    }
}
