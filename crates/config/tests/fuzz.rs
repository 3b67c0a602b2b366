//! Property tests over the loader and the resolver: generated configurations full of nested
//! structures, variables, self-references, cycles and file references, plus byte-level
//! mutations of them, must end in a value or an error — never a panic, never a long run.
//!
//! The seed is fixed and the cases bounded, so a run is deterministic and takes seconds.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use deployer_config::model::Service;
use deployer_config::{
    CliOptions, ConfigFile, ExternalRequest, ResolveSettings, parse_yaml, resolve_stage,
    resolve_with,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;

/// Per input, in a debug build on a shared machine.
const PER_INPUT: Duration = Duration::from_secs(5);

fn config() -> Config {
    Config {
        cases: 1000,
        rng_seed: RngSeed::Fixed(0x5EED_0013),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    }
}

/// Keys the generated documents use, so self-references often hit something.
const KEYS: [&str; 6] = ["a", "b", "c", "stage", "list", "name"];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..]).prop_map(str::to_string)
}

/// A dotted address into the generated document (`custom.a.b`, `provider.stage`).
fn address() -> impl Strategy<Value = String> {
    prop::collection::vec(key(), 0..4).prop_map(|keys| {
        let mut path = vec!["custom".to_string()];
        path.extend(keys);
        path.join(".")
    })
}

/// One variable, possibly nested or with fallbacks; some are broken on purpose.
fn variable() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        address().prop_map(|a| format!("${{self:{a}}}")),
        Just("${self:}".to_string()),
        Just("${opt:stage, 'dev'}".to_string()),
        Just("${sls:stage}".to_string()),
        Just("${env:FUZZ_A, env:FUZZ_UNSET, 'x'}".to_string()),
        Just("${env:FUZZ_SELF}".to_string()),
        Just("${file(./vars.yml):a}".to_string()),
        Just("${file(./vars.yml)}".to_string()),
        Just("${file(./loop.yml):x}".to_string()),
        Just("${file(./missing.yml), null}".to_string()),
        Just("${ssm:/path, 'fallback'}".to_string()),
        Just("${aws:accountId}".to_string()),
        Just("${strToBool(true)}".to_string()),
        Just("${param:p, 1}".to_string()),
        Just("${self:custom.a".to_string()),
        Just("${AWS::Region}".to_string()),
        Just("\\${self:custom.a}".to_string()),
        Just("${nope:x}".to_string()),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (address(), inner.clone()).prop_map(|(a, v)| format!("${{self:{a}.{v}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
            inner.prop_map(|v| format!("${{self:custom.none, '{v}'}}")),
        ]
    })
}

/// A YAML scalar: plain text, a number, a quoted variable string.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ]{0,8}",
        Just("123".to_string()),
        Just("~".to_string()),
        Just("true".to_string()),
        variable().prop_map(|v| format!("'{}'", v.replace('\'', "''"))),
        variable().prop_map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))),
        Just("!Ref Thing".to_string()),
        Just("*anchor".to_string()),
    ]
}

/// A YAML node at `indent`, as lines: a mapping, a list, a flow list or a scalar.
#[derive(Debug, Clone)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Flow(Vec<String>),
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        scalar().prop_map(Node::Scalar),
        prop::collection::vec(scalar(), 0..4).prop_map(Node::Flow),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone()), 1..4).prop_map(Node::Map),
            prop::collection::vec(inner, 1..3).prop_map(Node::List),
        ]
    })
}

fn render(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Scalar(s) => {
            out.push(' ');
            out.push_str(s);
            out.push('\n');
        }
        Node::Flow(items) => {
            out.push_str(&format!(" [{}]\n", items.join(", ")));
        }
        Node::Map(entries) => {
            out.push('\n');
            for (k, v) in entries {
                out.push_str(&format!("{pad}{k}:"));
                render(v, indent + 2, out);
            }
        }
        Node::List(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&format!("{pad}-"));
                render(item, indent + 2, out);
            }
        }
    }
}

/// A whole configuration: the usual top-level keys around a generated `custom`.
fn document() -> impl Strategy<Value = String> {
    (node(), scalar(), any::<bool>()).prop_map(|(custom, stage, anchor)| {
        let mut text = String::from("service: fuzz\nprovider:\n  name: aws\n  stage:");
        text.push_str(&format!(" {stage}\n"));
        if anchor {
            text.push_str("anchors:\n  base: &anchor {k: v}\n");
        }
        text.push_str("custom:");
        render(&custom, 2, &mut text);
        text
    })
}

/// A document with a few bytes changed: cuts, duplicated runs, inserted hostile characters.
fn mutated() -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0usize..6, 0usize..16);
    (document(), prop::collection::vec(edit, 1..6)).prop_map(|(text, edits)| {
        let mut bytes = text.into_bytes();
        const INSERTS: [&[u8]; 8] = [
            b"${",
            b"}",
            b"[",
            b"{",
            b"'",
            b"\"",
            b"&x *x ",
            b"\n  <<: *anchor\n",
        ];
        for (at, kind, n) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 => {
                    let end = (i + n).min(bytes.len());
                    bytes.drain(i..end);
                }
                1 => {
                    let end = (i + n).min(bytes.len());
                    let run = bytes[i..end].to_vec();
                    bytes.splice(i..i, run);
                }
                _ => {
                    let insert = INSERTS[n % INSERTS.len()];
                    bytes.splice(i..i, insert.iter().copied());
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The files `${file(…)}` reads: values with variables, and a file that refers to itself.
fn service_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vars.yml"),
        "a: ${self:custom.b, 'fa'}\nb: [1, '${self:provider.stage}']\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("loop.yml"), "x: ${file(./loop.yml):x}\n").unwrap();
    dir
}

fn env() -> HashMap<String, String> {
    HashMap::from([
        ("FUZZ_A".to_string(), "value".to_string()),
        ("FUZZ_SELF".to_string(), "${self:custom}".to_string()),
    ])
}

/// Loads, resolves (both phases) and models `text`; any outcome but a panic is fine.
/// Returns how far it got, for the tally.
fn exercise(dir: &Path, text: &str) -> &'static str {
    let Ok(raw) = parse_yaml(text) else {
        return "refused by the loader";
    };
    if !raw.is_object() {
        return "not a mapping";
    }
    let file = ConfigFile {
        path: dir.join("serverless.yml"),
        dir: dir.to_path_buf(),
        raw,
    };
    let env = env();
    let opts = CliOptions::default();
    let _ = resolve_stage(&file, &opts, &env);
    let settings = ResolveSettings {
        instance_id: Some("1".into()),
        external_sources: Vec::new(),
        ..Default::default()
    };
    let mut answer = |reqs: &[ExternalRequest]| {
        reqs.iter()
            .map(|r| match r.source.as_str() {
                "ssm" => Ok(None),
                _ => Ok(Some(Value::String("123456789012".into()))),
            })
            .collect()
    };
    match resolve_with(&file, &opts, &env, &settings, &mut answer) {
        Ok(resolved) => {
            let _ = serde_json::to_string(&resolved.value);
            match Service::from_value(&resolved.value) {
                Ok(_) => "resolved and modelled",
                Err(_) => "resolved, refused by the model",
            }
        }
        Err(_) => "refused by the resolver",
    }
}

fn bounded(text: &str) -> Result<(), TestCaseError> {
    let dir = service_dir();
    let started = Instant::now();
    let _ = exercise(dir.path(), text);
    let took = started.elapsed();
    prop_assert!(took < PER_INPUT, "took {took:?} for:\n{text}");
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_configurations_resolve_or_fail_cleanly(text in document()) {
        bounded(&text)?;
    }

    #[test]
    fn mutated_configurations_resolve_or_fail_cleanly(text in mutated()) {
        bounded(&text)?;
    }
}

/// The generator really produces what the suite claims: variables that resolve, cycles and
/// file references (a generator that only made syntax errors would test nothing).
#[test]
fn the_generator_reaches_the_resolver() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config());
    let dir = service_dir();
    let (mut parsed, mut with_vars) = (0, 0);
    let mut tally = std::collections::BTreeMap::new();
    for _ in 0..200 {
        let text = document().new_tree(&mut runner).unwrap().current();
        if parse_yaml(&text).is_ok_and(|v| v.is_object()) {
            parsed += 1;
            with_vars += usize::from(text.contains("${"));
        }
        *tally.entry(exercise(dir.path(), &text)).or_insert(0) += 1;
        let text = mutated().new_tree(&mut runner).unwrap().current();
        *tally.entry(exercise(dir.path(), &text)).or_insert(0) += 1;
    }
    eprintln!("fuzz outcomes of 400 inputs: {tally:?}");
    assert!(
        tally.get("resolved and modelled").is_some_and(|n| *n > 10)
            && tally
                .get("refused by the resolver")
                .is_some_and(|n| *n > 10),
        "both outcomes are reached: {tally:?}"
    );
    assert!(parsed > 100, "only {parsed} of 200 documents parsed");
    assert!(
        with_vars > 50,
        "only {with_vars} parsed documents had variables"
    );
}
