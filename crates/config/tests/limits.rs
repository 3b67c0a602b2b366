//! The resolution limits: each hostile shape ends in one clear error that names the limit,
//! quickly, instead of a stack overflow, an allocation failure or an endless run.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use deployer_config::limits::{
    MAX_NESTING_DEPTH, MAX_REFERENCE_CHAIN, MAX_RESOLUTION_STEPS, MAX_RESOLVED_BYTES,
    MAX_VARIABLE_NESTING,
};
use deployer_config::{
    CliOptions, ConfigError, ConfigFile, ExternalRequest, ResolveSettings, parse_yaml, resolve_with,
};
use serde_json::Value;

/// Generous for a debug build on a shared machine; the unbounded runs took minutes or crashed.
const QUICK: Duration = Duration::from_secs(20);

fn config(dir: &Path, yaml: &str) -> ConfigFile {
    ConfigFile {
        path: dir.join("serverless.yml"),
        dir: dir.to_path_buf(),
        raw: parse_yaml(yaml).unwrap_or_else(|e| panic!("{e}")),
    }
}

/// Resolves `yaml` (in `dir`); AWS-backed sources answer `"v"` at once.
fn resolve_in(dir: &Path, yaml: &str) -> Result<Value, ConfigError> {
    let file = config(dir, yaml);
    let settings = ResolveSettings {
        instance_id: Some("1".into()),
        external_sources: Vec::new(),
        ..Default::default()
    };
    let env: HashMap<String, String> = HashMap::new();
    let mut answer = |reqs: &[ExternalRequest]| {
        reqs.iter()
            .map(|_| Ok(Some(Value::String("v".into()))))
            .collect()
    };
    resolve_with(&file, &CliOptions::default(), &env, &settings, &mut answer).map(|r| r.value)
}

/// Resolves `yaml`, expects an error containing `needle`, within [`QUICK`].
fn refused(yaml: &str, needle: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    refused_in(dir.path(), yaml, needle)
}

fn refused_in(dir: &Path, yaml: &str, needle: &str) -> String {
    let started = Instant::now();
    let err = resolve_in(dir, yaml).unwrap_err().to_string();
    assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    assert!(
        err.len() < 4_000,
        "the message stays short: {} bytes",
        err.len()
    );
    err
}

fn service(custom: &str) -> String {
    format!("service: limits\nprovider:\n  name: aws\ncustom:\n{custom}")
}

#[test]
fn a_long_reference_chain_is_refused_not_a_stack_overflow() {
    // v0 needs v1, which needs v2, …: resolving v0 recurses through all of them.
    let chain = |n: usize| {
        let mut custom = String::new();
        for i in 0..n {
            custom.push_str(&format!("  v{i}: ${{self:custom.v{}}}\n", i + 1));
        }
        custom.push_str(&format!("  v{n}: end\n"));
        service(&custom)
    };
    let ok = resolve_in(Path::new("/nonexistent"), &chain(MAX_REFERENCE_CHAIN - 1)).unwrap();
    assert_eq!(ok["custom"]["v0"], "end");
    let err = refused(&chain(4_000), "reference chain limit");
    assert!(err.contains("custom.v0"), "{err}");
}

#[test]
fn a_doubling_string_is_refused_at_the_string_size_limit() {
    let mut custom = String::from("  a0: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    for i in 1..40 {
        custom.push_str(&format!(
            "  a{i}: ${{self:custom.a{p}}}${{self:custom.a{p}}}\n",
            p = i - 1
        ));
    }
    refused(&service(&custom), "string size limit");
}

#[test]
fn a_doubling_list_is_refused_at_the_resolved_size_limit() {
    let mut custom = String::from("  a0: [xxxxxxxxxxxxxxxx]\n");
    for i in 1..40 {
        custom.push_str(&format!(
            "  a{i}: ['${{self:custom.a{p}}}', '${{self:custom.a{p}}}']\n",
            p = i - 1
        ));
    }
    refused(&service(&custom), "resolved size limit");
}

#[test]
fn a_value_that_keeps_nesting_is_refused_at_the_depth_limit() {
    let mut custom = String::from("  a0: {x: 1}\n");
    for i in 1..400 {
        custom.push_str(&format!("  a{i}: {{x: '${{self:custom.a{}}}'}}\n", i - 1));
    }
    refused(&service(&custom), "resolved depth limit");
}

#[test]
fn deeply_nested_variables_are_a_syntax_error() {
    let n = 10_000;
    let text = format!("{}x{}", "${self:".repeat(n), "}".repeat(n));
    let yaml = service(&format!("  a: '{text}'\n"));
    let err = refused(&yaml, "nesting limit");
    assert!(
        err.contains(&format!("more than {MAX_VARIABLE_NESTING} levels")),
        "{err}"
    );
    let ok = format!("{}custom.b{}", "${self:".repeat(3), "}".repeat(3));
    let yaml = service(&format!(
        "  a: '{ok}'\n  b: custom.c\n  c: custom.d\n  d: fin\n"
    ));
    let v = resolve_in(Path::new("/nonexistent"), &yaml).unwrap();
    assert_eq!(v["custom"]["a"], "fin");
}

#[test]
fn rounds_of_dependent_aws_lookups_stop_at_the_step_limit() {
    // Each round answers one more lookup, and every round re-walks the chain: cubic work.
    let mut custom = String::new();
    for chain in 0..40 {
        // Listed first-to-last, each needing the next: every round re-walks what is left.
        for i in 0..60 {
            custom.push_str(&format!(
                "  c{chain}p{i}: ${{ssm:${{self:custom.c{chain}p{}}}}}\n",
                i + 1
            ));
        }
        custom.push_str(&format!("  c{chain}p60: start\n"));
    }
    let err = refused(&service(&custom), "step limit");
    assert!(err.contains(&MAX_RESOLUTION_STEPS.to_string()), "{err}");
}

#[test]
fn deep_yaml_is_refused_with_its_position() {
    let text = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let started = Instant::now();
    let err = parse_yaml(&text).unwrap_err();
    assert!(started.elapsed() < QUICK);
    assert!(
        err.starts_with(":1:131:")
            && err.contains(&format!("more than {MAX_NESTING_DEPTH} levels")),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn file_variables_read_only_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for (reference, needle) in [
        ("/dev/zero", "/dev/zero is a device, not a regular file"),
        ("/dev/urandom", "is a device"),
        ("./fifo", "is a FIFO (named pipe)"),
        ("./sub", "is a directory"),
    ] {
        let yaml = service(&format!("  a: ${{file({reference})}}\n"));
        let err = refused_in(dir.path(), &yaml, needle);
        assert!(err.contains("custom.a"), "{err}");
    }
}

#[test]
fn chains_through_nested_variables_hit_the_evaluation_depth_limit() {
    // Each property is a chain link wrapped in nested variables: neither limit alone is hit,
    // but the recursion is their product.
    let mut custom = String::new();
    for i in 0..90 {
        let wrapped = format!(
            "{}custom.v{}{}",
            "${self:custom.none, self:".repeat(2),
            i + 1,
            "}".repeat(2)
        );
        custom.push_str(&format!("  v{i}: '{wrapped}'\n"));
    }
    custom.push_str("  v90: end\n");
    refused(&service(&custom), "evaluation depth limit");
}

/// `n` properties that each copy one string of `len` bytes.
fn copies(n: usize, len: usize) -> String {
    let mut custom = format!("  big: {}\n", "x".repeat(len));
    for i in 0..n {
        custom.push_str(&format!("  r{i}: ${{self:custom.big}}\n"));
    }
    service(&custom)
}

#[test]
fn a_resolution_just_over_the_resolved_size_limit_is_refused_naming_it() {
    // Each reference is counted twice as JSON text: the copy read and the value produced,
    // so one reference to a string of MiB − 2 characters costs exactly 2 MiB.
    const MIB: usize = 1024 * 1024;
    let per_reference = 2 * MIB;
    let fit = MAX_RESOLVED_BYTES / per_reference;
    let dir = tempfile::tempdir().unwrap();
    let ok = resolve_in(dir.path(), &copies(fit, MIB - 2)).unwrap();
    assert_eq!(
        ok["custom"][format!("r{}", fit - 1)]
            .as_str()
            .unwrap()
            .len(),
        MIB - 2
    );
    let err = refused(&copies(fit + 1, MIB - 2), "resolved size limit");
    let stated = format!(
        "more than {MAX_RESOLVED_BYTES} bytes of values in all (the resolved size limit, {} MiB)",
        MAX_RESOLVED_BYTES / MIB
    );
    assert!(err.contains(&stated), "expected {stated:?} in:\n{err}");
}
