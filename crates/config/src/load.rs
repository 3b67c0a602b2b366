//! Finding and parsing `serverless.yml` / `.yaml` / `.json`, with CloudFormation short-form
//! tags turned into their long form exactly as Serverless v3's YAML schema does.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::limits::MAX_NESTING_DEPTH;
use crate::yaml_depth;

/// Where to look for the service configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config FILE` (relative to `cwd`); `None` = the first of `serverless.yml`,
    /// `serverless.yaml`, `serverless.json` in `cwd`.
    pub config: Option<PathBuf>,
    /// The working directory.
    pub cwd: PathBuf,
}

/// A parsed configuration file, before variable resolution.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The file that was read.
    pub path: PathBuf,
    /// The service directory (the file's directory): `${file(…)}` paths are relative to it.
    pub dir: PathBuf,
    /// The parsed file: CloudFormation short tags in long form, key order kept.
    pub raw: Value,
}

/// The file names tried, in order, when no `--config` is given.
const DEFAULT_NAMES: [&str; 3] = ["serverless.yml", "serverless.yaml", "serverless.json"];
/// Serverless v3 also reads these, but they need a JavaScript runtime.
const SCRIPT_NAMES: [&str; 4] = [
    "serverless.js",
    "serverless.ts",
    "serverless.mjs",
    "serverless.cjs",
];

thread_local! {
    /// Configuration files read by [`load`] on this thread (see [`reads_on_this_thread`]).
    static READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A diagnostic: how many times [`load`] has read a configuration file on the calling
/// thread. Per thread so that tests running side by side do not see each other's reads; an
/// operation proves it reads its file once by comparing this before and after.
pub fn reads_on_this_thread() -> usize {
    READS.with(std::cell::Cell::get)
}

/// Finds and parses the service configuration.
pub fn load(opts: &LoadOptions) -> Result<ConfigFile, ConfigError> {
    READS.with(|n| n.set(n.get() + 1));
    let path = match &opts.config {
        Some(p) => {
            let path = opts.cwd.join(p);
            if !path.exists() {
                return Err(ConfigError::new(format!(
                    "Configuration file {} (from --config) does not exist",
                    path.display()
                )));
            }
            path
        }
        None => find_default(&opts.cwd)?,
    };
    let text = crate::limits::read_text(&path)
        .map_err(ConfigError::new)?
        .ok_or_else(|| ConfigError::new(format!("{} does not exist", path.display())))?;
    let raw = parse_document(&path, &text).map_err(ConfigError::new)?;
    if !raw.is_object() {
        return Err(ConfigError::new(format!(
            "{} must hold a mapping of settings (service, provider, functions, …) at the top level",
            path.display()
        )));
    }
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| opts.cwd.clone());
    Ok(ConfigFile { path, dir, raw })
}

fn find_default(cwd: &Path) -> Result<PathBuf, ConfigError> {
    for name in DEFAULT_NAMES {
        let path = cwd.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    if let Some(script) = SCRIPT_NAMES
        .iter()
        .map(|n| cwd.join(n))
        .find(|p| p.is_file())
    {
        return Err(ConfigError::new(format!(
            "{} is a JavaScript/TypeScript configuration, which deployer does not run; \
             convert it to serverless.yml (for example with `serverless print > serverless.yml`)",
            script.display()
        )));
    }
    Err(ConfigError::new(format!(
        "No serverless.yml, serverless.yaml or serverless.json in {}; run deployer in the \
         service directory or pass --config FILE",
        cwd.display()
    )))
}

/// Parses a YAML or JSON document by the file's extension (anything but `.json` is YAML).
/// Errors read `<file>:<line>:<column>: <message>`.
pub(crate) fn parse_document(path: &Path, text: &str) -> Result<Value, String> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "{}:{}:{}: invalid JSON: {}",
                path.display(),
                e.line(),
                e.column(),
                strip_location(&e.to_string())
            )
        })
    } else {
        parse_yaml(text).map_err(|e| format!("{}{e}", path.display()))
    }
}

/// Parses YAML with the CloudFormation schema. The error starts with `:<line>:<column>: `
/// when the parser knows the position, so the caller can prefix the file name.
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    if let Some((line, column)) = yaml_depth::too_deep(text, MAX_NESTING_DEPTH) {
        return Err(format!(
            ":{line}:{column}: invalid YAML: collections nest more than {MAX_NESTING_DEPTH} \
             levels deep (the nesting limit); flatten the structure"
        ));
    }
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| match e.location() {
            Some(loc) => format!(
                ":{}:{}: invalid YAML: {}",
                loc.line(),
                loc.column(),
                strip_location(&e.to_string())
            ),
            None => format!(": invalid YAML: {e}"),
        })?;
    doc.apply_merge()
        .map_err(|e| format!(": invalid YAML merge key (<<): {e}"))?;
    let mut path = Vec::new();
    yaml_to_json(doc, &mut path).map_err(|(at, msg)| {
        if at.is_empty() {
            format!(": {msg}")
        } else {
            format!(": at {at}: {msg}")
        }
    })
}

/// Removes the " at line N column M" that serde puts in its messages (we print our own).
fn strip_location(msg: &str) -> String {
    let Some(i) = msg.find(" at line ") else {
        return msg.to_string();
    };
    let rest = &msg[i + " at line ".len()..];
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix(" column ").unwrap_or(rest);
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    format!("{}{rest}", &msg[..i])
}

/// The short-form tags of Serverless v3's CloudFormation YAML schema.
const CFN_TAGS: [&str; 17] = [
    "And",
    "Base64",
    "Cidr",
    "Condition",
    "Equals",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Ref",
    "Select",
    "Split",
    "Sub",
];

type ConvError = (String, String);

fn yaml_to_json(v: serde_yaml::Value, path: &mut Vec<String>) -> Result<Value, ConvError> {
    Ok(match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => number_to_json(&n),
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(seq) => {
            let mut out = Vec::with_capacity(seq.len());
            for (i, item) in seq.into_iter().enumerate() {
                path.push(i.to_string());
                out.push(yaml_to_json(item, path)?);
                path.pop();
            }
            Value::Array(out)
        }
        serde_yaml::Value::Mapping(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, item) in map {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    serde_yaml::Value::Null => "null".to_string(),
                    _ => {
                        return Err((
                            path.join("."),
                            "a mapping key must be a plain scalar".into(),
                        ));
                    }
                };
                path.push(key);
                let item = yaml_to_json(item, path)?;
                let key = path.pop().unwrap_or_default();
                out.insert(key, item);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            if let Some(core) = name.strip_prefix("tag:yaml.org,2002:") {
                // Explicit core tags (`!!str 123`): only `str` changes the value.
                let inner = yaml_to_json(tagged.value, path)?;
                return Ok(if core == "str" {
                    Value::String(scalar_text(&inner))
                } else {
                    inner
                });
            }
            if !CFN_TAGS.contains(&name) {
                return Err((
                    path.join("."),
                    format!(
                        "unknown tag {tag}; the CloudFormation short forms are {}",
                        CFN_TAGS
                            .iter()
                            .map(|t| format!("!{t}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                ));
            }
            let scalar = !matches!(
                tagged.value,
                serde_yaml::Value::Sequence(_)
                    | serde_yaml::Value::Mapping(_)
                    | serde_yaml::Value::Tagged(_)
            );
            let inner = yaml_to_json(tagged.value, path)?;
            // js-yaml hands a scalar-form tag its source text, so scalars become strings.
            let inner = if scalar {
                Value::String(scalar_text(&inner))
            } else {
                inner
            };
            let inner = match (name, inner) {
                ("GetAtt", Value::String(s)) => {
                    let (resource, attribute) = s.split_once('.').unwrap_or((s.as_str(), ""));
                    Value::Array(vec![
                        Value::String(resource.into()),
                        Value::String(attribute.into()),
                    ])
                }
                (_, inner) => inner,
            };
            let key = if name == "Ref" || name == "Condition" {
                name.to_string()
            } else {
                format!("Fn::{name}")
            };
            let mut out = Map::with_capacity(1);
            out.insert(key, inner);
            Value::Object(out)
        }
    })
}

fn number_to_json(n: &serde_yaml::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        // JSON has no infinities or NaN: keep YAML's spelling as text.
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(n.to_string()))
    }
}

/// The text of a scalar as YAML wrote it (null = empty).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn y(text: &str) -> Value {
        parse_yaml(text).unwrap()
    }

    #[test]
    fn each_load_counts_one_read_on_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("serverless.yml"), "service: s\n").unwrap();
        let opts = LoadOptions {
            config: None,
            cwd: dir.path().to_path_buf(),
        };
        let before = reads_on_this_thread();
        load(&opts).unwrap();
        load(&opts).unwrap();
        assert_eq!(reads_on_this_thread() - before, 2);
    }

    #[test]
    fn short_tags_scalar_form() {
        let v = y(
            "a: !Ref Queue\nb: !GetAtt Queue.Arn\nc: !GetAtt A.B.C\nd: !Sub '${AWS::Region}-x'\ne: !Condition IsProd\nf: !GetAZs ''\ng: !Base64 123",
        );
        assert_eq!(
            v,
            json!({
                "a": {"Ref": "Queue"},
                "b": {"Fn::GetAtt": ["Queue", "Arn"]},
                "c": {"Fn::GetAtt": ["A", "B.C"]},
                "d": {"Fn::Sub": "${AWS::Region}-x"},
                "e": {"Condition": "IsProd"},
                "f": {"Fn::GetAZs": ""},
                "g": {"Fn::Base64": "123"}
            })
        );
    }

    #[test]
    fn short_tags_sequence_and_mapping_form() {
        let v = y(
            "a: !Join ['-', [a, !Ref B]]\nb: !GetAtt [X, Y]\nc: !If [IsProd, 1, !Ref AWS::NoValue]\nd: !Sub\n  - '${A}'\n  - A: !Select [0, !GetAZs '']\ne: !FindInMap { k: v }\nf: !Equals [!Ref S, prod]\ng: !Not [!Condition C]\n",
        );
        assert_eq!(
            v,
            json!({
                "a": {"Fn::Join": ["-", ["a", {"Ref": "B"}]]},
                "b": {"Fn::GetAtt": ["X", "Y"]},
                "c": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
                "d": {"Fn::Sub": ["${A}", {"A": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}]},
                "e": {"Fn::FindInMap": {"k": "v"}},
                "f": {"Fn::Equals": [{"Ref": "S"}, "prod"]},
                "g": {"Fn::Not": [{"Condition": "C"}]}
            })
        );
    }

    #[test]
    fn all_cfn_tags_are_known() {
        for tag in CFN_TAGS {
            let v = y(&format!("a: !{tag} x"));
            let key = if tag == "Ref" || tag == "Condition" {
                tag.to_string()
            } else {
                format!("Fn::{tag}")
            };
            assert!(v["a"].get(&key).is_some(), "{tag}");
        }
    }

    #[test]
    fn unknown_tag_is_an_error_with_the_path() {
        let err = parse_yaml("a:\n  b: !Foo x").unwrap_err();
        assert!(
            err.contains("at a.b") && err.contains("unknown tag !Foo"),
            "{err}"
        );
    }

    #[test]
    fn key_order_is_kept_and_keys_are_strings() {
        let v = y("z: 1\na: 2\n3: x\ntrue: y");
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "3", "true"]);
    }

    #[test]
    fn merge_keys_apply() {
        let v = y("base: &b\n  x: 1\nother:\n  <<: *b\n  y: 2");
        assert_eq!(v["other"], json!({"x": 1, "y": 2}));
    }

    #[test]
    fn yaml_error_has_line_and_column() {
        let err =
            parse_document(Path::new("/s/serverless.yml"), "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.starts_with("/s/serverless.yml:"), "{err}");
        let mut parts = err.splitn(4, ':');
        parts.next();
        let line: usize = parts.next().unwrap().parse().unwrap();
        let col: usize = parts.next().unwrap().parse().unwrap();
        assert!(line >= 2 && col >= 1, "{err}");
        assert!(
            !err.contains(&format!("at line {line} column {col}")),
            "{err}"
        );
    }

    #[test]
    fn json_error_has_line_and_column() {
        let err = parse_document(Path::new("x.json"), "{\n  \"a\": 1,\n}").unwrap_err();
        assert!(err.starts_with("x.json:3:1: invalid JSON"), "{err}");
    }

    #[test]
    fn load_finds_default_names_in_order_and_config_option() {
        let dir = tempfile::tempdir().unwrap();
        let opts = LoadOptions {
            config: None,
            cwd: dir.path().to_path_buf(),
        };
        let err = load(&opts).unwrap_err().to_string();
        assert!(
            err.contains("No serverless.yml, serverless.yaml or serverless.json"),
            "{err}"
        );
        std::fs::write(dir.path().join("serverless.json"), r#"{"service": "j"}"#).unwrap();
        assert_eq!(load(&opts).unwrap().raw["service"], "j");
        std::fs::write(dir.path().join("serverless.yaml"), "service: yaml").unwrap();
        assert_eq!(load(&opts).unwrap().raw["service"], "yaml");
        std::fs::write(dir.path().join("serverless.yml"), "service: yml").unwrap();
        let f = load(&opts).unwrap();
        assert_eq!(f.raw["service"], "yml");
        assert_eq!(f.dir, dir.path());
        std::fs::write(dir.path().join("other.yml"), "service: other").unwrap();
        let opts = LoadOptions {
            config: Some("other.yml".into()),
            cwd: dir.path().to_path_buf(),
        };
        assert_eq!(load(&opts).unwrap().raw["service"], "other");
        let opts = LoadOptions {
            config: Some("missing.yml".into()),
            cwd: dir.path().to_path_buf(),
        };
        assert!(
            load(&opts)
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }

    #[test]
    fn load_rejects_script_configs_and_non_mappings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("serverless.ts"), "export default {}").unwrap();
        let opts = LoadOptions {
            config: None,
            cwd: dir.path().to_path_buf(),
        };
        assert!(
            load(&opts)
                .unwrap_err()
                .to_string()
                .contains("does not run")
        );
        std::fs::write(dir.path().join("serverless.yml"), "- a\n- b").unwrap();
        assert!(load(&opts).unwrap_err().to_string().contains("mapping"));
    }
}
