//! serverless-prune-plugin 2.1.0: after a successful deploy, delete the function versions
//! beyond the newest N that no alias points to (and, with `includeLayers`, old layer
//! versions). The command layer lists versions and aliases, calls [`versions_to_delete`] and
//! deletes what it returns; this module only decides.

use serde::Serialize;
use serde_json::Value;

use super::PluginError;

/// `custom.prune` when it asks for pruning after every deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PruneSettings {
    /// Versions to keep per function (and per layer).
    pub number: u64,
    /// Prune layer versions too.
    pub include_layers: bool,
}

/// `custom.prune`: `Some` only when `automatic: true` and `number` are both set, as the
/// plugin runs. `number` is read like `parseInt` (a number or a numeric string).
pub fn settings(custom: Option<&Value>) -> Result<Option<PruneSettings>, PluginError> {
    const PATH: &str = "custom.prune";
    let Some(prune) = custom.and_then(|c| c.get("prune")).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let map = prune
        .as_object()
        .ok_or_else(|| super::invalid(PATH, "expected a map"))?;
    if let Some(unknown) = map
        .keys()
        .find(|k| !["automatic", "number", "includeLayers"].contains(&k.as_str()))
    {
        return Err(super::invalid(
            format!("{PATH}.{unknown}"),
            "not a serverless-prune-plugin setting (known: automatic, number, includeLayers)",
        ));
    }
    let flag = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(super::invalid(
            format!("{PATH}.{key}"),
            "expected true or false",
        )),
    };
    let automatic = flag("automatic")?;
    let include_layers = flag("includeLayers")?;
    let number = match map.get("number") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_number(v).ok_or_else(|| {
            super::invalid(
                format!("{PATH}.number"),
                "expected a whole number of versions to keep (0 or more)",
            )
        })?),
    };
    Ok(match (automatic, number) {
        (true, Some(number)) => Some(PruneSettings {
            number,
            include_layers,
        }),
        _ => None,
    })
}

/// `parseInt`: a non-negative integer, or a string starting with digits.
fn parse_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => {
            let digits: String = s.trim().chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        }
        _ => None,
    }
}

/// One alias of a function, as `ListAliases` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// `FunctionVersion`.
    pub function_version: String,
    /// The versions of `RoutingConfig.AdditionalVersionWeights`: also in use.
    pub additional_versions: Vec<String>,
}

/// The versions to delete, newest first: every numbered version no alias points to, after
/// the newest `keep` of them. `$LATEST` is never returned.
pub fn versions_to_delete(versions: &[String], aliases: &[Alias], keep: u64) -> Vec<String> {
    let aliased = |v: &str| {
        aliases
            .iter()
            .any(|a| a.function_version == v || a.additional_versions.iter().any(|x| x == v))
    };
    let mut candidates: Vec<(u64, &String)> = versions
        .iter()
        .filter(|v| !aliased(v))
        .filter_map(|v| v.parse::<u64>().ok().map(|n| (n, v)))
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    candidates
        .into_iter()
        .skip(usize::try_from(keep).unwrap_or(usize::MAX))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The layer versions to delete: all but the newest `keep`, newest first.
pub fn layer_versions_to_delete(versions: &[u64], keep: u64) -> Vec<u64> {
    let mut sorted = versions.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted
        .into_iter()
        .skip(usize::try_from(keep).unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_newest_unaliased_versions() {
        let versions = strings(&["$LATEST", "1", "2", "3", "10", "4", "5"]);
        let aliases = [Alias {
            function_version: "3".into(),
            additional_versions: vec!["1".into()],
        }];
        // Candidates 10, 5, 4, 2 (3 and 1 are aliased): keep 10 and 5.
        assert_eq!(
            versions_to_delete(&versions, &aliases, 2),
            strings(&["4", "2"])
        );
        assert_eq!(
            versions_to_delete(&versions, &aliases, 0),
            strings(&["10", "5", "4", "2"])
        );
        assert!(versions_to_delete(&versions, &aliases, 9).is_empty());
    }

    #[test]
    fn layers_keep_newest() {
        assert_eq!(layer_versions_to_delete(&[1, 3, 2, 4], 2), vec![2, 1]);
    }

    #[test]
    fn settings_need_automatic_and_number() {
        let s = |v: Value| settings(Some(&json!({"prune": v})));
        assert_eq!(
            s(json!({"automatic": true, "number": 3})).unwrap(),
            Some(PruneSettings {
                number: 3,
                include_layers: false
            })
        );
        assert_eq!(
            s(json!({"automatic": true, "number": "5", "includeLayers": true})).unwrap(),
            Some(PruneSettings {
                number: 5,
                include_layers: true
            })
        );
        assert_eq!(s(json!({"automatic": false, "number": 3})).unwrap(), None);
        assert_eq!(s(json!({"automatic": true})).unwrap(), None);
        assert!(s(json!({"automatic": "yes", "number": 3})).is_err());
        assert!(s(json!({"automatic": true, "number": "many"})).is_err());
        let err = s(json!({"automatic": true, "number": 1, "keep": 2})).unwrap_err();
        assert!(err.to_string().contains("custom.prune.keep"), "{err}");
        assert_eq!(settings(None).unwrap(), None);
    }
}
