//! JavaScript `String.prototype.localeCompare` key order (ICU root collation, as Node uses it)
//! and the deep key sort Serverless v3 applies before hashing (`deepSortObjectByKey`).

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// ASCII punctuation and symbols in ICU root collation order (they sort before digits, which
/// sort before letters).
const PUNCTUATION_ORDER: &str = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

/// Primary collation weight of one character: whitespace < punctuation < digits < letters,
/// letters compared without case.
fn primary(c: char) -> (u8, u32) {
    if c.is_whitespace() {
        return (0, c as u32);
    }
    if let Some(i) = PUNCTUATION_ORDER.find(c) {
        return (1, i as u32);
    }
    if c.is_ascii_digit() {
        return (2, c as u32);
    }
    if c.is_ascii_alphabetic() {
        return (3, c.to_ascii_lowercase() as u32);
    }
    // Other characters: after ASCII letters, by code point of their lower case.
    let lower = c.to_lowercase().next().unwrap_or(c);
    (4, lower as u32)
}

/// Tertiary weight: lower case sorts before upper case when everything else is equal.
fn tertiary(c: char) -> u8 {
    u8::from(c.is_uppercase())
}

/// Compares two strings like `a.localeCompare(b)` in Node (ICU root locale): first by letters
/// and digits ignoring case, then lower case before upper case, then by code point.
fn locale_compare(a: &str, b: &str) -> Ordering {
    let pa = a.chars().map(primary);
    let pb = b.chars().map(primary);
    pa.cmp(pb)
        .then_with(|| a.chars().map(tertiary).cmp(b.chars().map(tertiary)))
        .then_with(|| a.cmp(b))
}

/// True for keys that JavaScript engines order first in any object: canonical array indices.
fn is_array_index(key: &str) -> bool {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key.starts_with('0')) {
        return false;
    }
    key.bytes().all(|b| b.is_ascii_digit())
        && key.parse::<u64>().is_ok_and(|n| n < u64::from(u32::MAX))
}

/// Sorts the keys of one object in the order `JSON.stringify` would print them after
/// Serverless sorted them with `localeCompare`: integer-like keys first (JavaScript objects
/// always enumerate them first, ascending), then the rest in `localeCompare` order.
fn sorted_keys<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut keys: Vec<&String> = keys.collect();
    keys.sort_by(|a, b| match (is_array_index(a), is_array_index(b)) {
        (true, true) => a
            .parse::<u64>()
            .unwrap_or(0)
            .cmp(&b.parse::<u64>().unwrap_or(0)),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => locale_compare(a, b),
    });
    keys
}

/// Serverless v3's `deepSortObjectByKey`: every object's keys sorted (see [`sorted_keys`]),
/// arrays kept in order with their elements sorted.
pub fn deep_sort(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for key in sorted_keys(map.keys()) {
                out.insert(key.clone(), deep_sort(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(deep_sort).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn locale_compare_is_case_insensitive_first() {
        let mut keys = vec![
            "Timeout",
            "layerConfigurations",
            "FunctionName",
            "Role",
            "Handler",
        ];
        keys.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(
            keys,
            [
                "FunctionName",
                "Handler",
                "layerConfigurations",
                "Role",
                "Timeout"
            ]
        );
    }

    #[test]
    fn lower_case_before_upper_case_on_ties() {
        assert_eq!(locale_compare("a", "A"), Ordering::Less);
        assert_eq!(locale_compare("Ab", "ac"), Ordering::Less);
        assert_eq!(locale_compare("ab", "Ab"), Ordering::Less);
    }

    #[test]
    fn punctuation_before_digits_before_letters() {
        let mut keys = vec!["b", "1", "_x", "-x", "a", "Fn::Join", "FnA"];
        keys.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(keys, ["_x", "-x", "1", "a", "b", "Fn::Join", "FnA"]);
    }

    #[test]
    fn deep_sort_sorts_nested_objects_and_puts_integer_keys_first() {
        let v = json!({"b": {"z": 1, "Y": [{"d": 1, "C": 2}]}, "a": 1, "10": 0, "2": 0});
        let sorted = serde_json::to_string(&deep_sort(&v)).unwrap();
        assert_eq!(
            sorted,
            r#"{"2":0,"10":0,"a":1,"b":{"Y":[{"C":2,"d":1}],"z":1}}"#
        );
    }
}
