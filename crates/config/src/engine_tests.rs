//! Tests of the variable engine: every source, the phases, cycles and error messages.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::load::parse_yaml;

fn file_in(dir: PathBuf, yaml: &str) -> ConfigFile {
    ConfigFile {
        path: dir.join("serverless.yml"),
        dir,
        raw: parse_yaml(yaml).unwrap(),
    }
}

fn file(yaml: &str) -> ConfigFile {
    file_in(PathBuf::from("/nonexistent-service"), yaml)
}

fn opts(stage: Option<&str>) -> CliOptions {
    CliOptions {
        stage: stage.map(str::to_string),
        region: None,
        params: Vec::new(),
        extra: Default::default(),
    }
}

fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

fn offline(reqs: &[ExternalRequest]) -> Vec<Result<Option<Value>, String>> {
    reqs.iter()
        .map(|r| Err(format!("{r} needs AWS credentials")))
        .collect()
}

fn run_with(
    f: &ConfigFile,
    o: &CliOptions,
    env: &HashMap<String, String>,
) -> Result<Resolved, ConfigError> {
    let settings = ResolveSettings {
        instance_id: Some("1700000000000".into()),
        external_sources: Vec::new(),
        ..Default::default()
    };
    resolve_with(f, o, env, &settings, &mut offline)
}

fn run(yaml: &str) -> Result<Value, ConfigError> {
    run_with(&file(yaml), &opts(None), &no_env()).map(|r| r.value)
}

fn err(yaml: &str) -> String {
    run(yaml).unwrap_err().to_string()
}

const MULTI: &str = "
service: service-name
custom:
  myStage: ${opt:stage, self:provider.stage}
  myProfile:
    prod: default
    dev: devAccount
  myAccount:
    prod: '111111111111'
    dev: '222222222222'
provider:
  name: aws
  stage: dev
  region: us-east-1
  profile: ${self:custom.myProfile.${self:custom.myStage}}
  allowedAccountIds: ${self:custom.myAccount.${self:custom.myStage}}
";

#[test]
fn stage_settings_of_the_multi_account_idiom() {
    let f = file(MULTI);
    let dev = resolve_stage(&f, &opts(None), &no_env()).unwrap();
    assert_eq!(dev.stage, "dev");
    assert_eq!(dev.region, "us-east-1");
    assert_eq!(dev.profile.as_deref(), Some("devAccount"));
    assert_eq!(dev.allowed_account_ids, ["222222222222"]);
    let prod = resolve_stage(&f, &opts(Some("prod")), &no_env()).unwrap();
    assert_eq!(prod.stage, "prod");
    assert_eq!(prod.profile.as_deref(), Some("default"));
    assert_eq!(prod.allowed_account_ids, ["111111111111"]);
    assert!(prod.forbidden_account_ids.is_empty());
}

#[test]
fn stage_and_region_precedence() {
    let f = file("provider:\n  stage: qa\n  region: eu-west-1");
    let s = resolve_stage(&f, &opts(None), &no_env()).unwrap();
    assert_eq!((s.stage.as_str(), s.region.as_str()), ("qa", "eu-west-1"));
    let o = CliOptions {
        stage: Some("prod".into()),
        region: Some("ap-south-1".into()),
        params: vec![],
        ..Default::default()
    };
    let s = resolve_stage(&f, &o, &no_env()).unwrap();
    assert_eq!(
        (s.stage.as_str(), s.region.as_str()),
        ("prod", "ap-south-1")
    );
    // Defaults; AWS_REGION never changes the region.
    let env: HashMap<String, String> =
        [("AWS_REGION".to_string(), "eu-north-1".to_string())].into();
    let s = resolve_stage(&file("service: x"), &opts(None), &env).unwrap();
    assert_eq!(
        (s.stage.as_str(), s.region.as_str(), s.profile),
        ("dev", "us-east-1", None)
    );
}

#[test]
fn early_phase_ignores_broken_properties_it_does_not_need() {
    let f = file("provider:\n  profile: p\ncustom:\n  x: ${env:NOPE}\n  y: ${ssm:/a}");
    assert_eq!(
        resolve_stage(&f, &opts(None), &no_env())
            .unwrap()
            .profile
            .as_deref(),
        Some("p")
    );
}

#[test]
fn early_phase_refuses_aws_sources() {
    let f = file("custom:\n  p: ${ssm:/profiles/dev}\nprovider:\n  profile: ${self:custom.p}");
    let e = resolve_stage(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("  - custom.p: ${ssm:/profiles/dev} needs AWS credentials"),
        "{e}"
    );
    assert!(
        e.contains("  - provider.profile: depends on \"custom.p\""),
        "{e}"
    );
}

#[test]
fn stage_and_account_ids_are_validated() {
    let e = resolve_stage(&file("provider:\n  stage: a_b"), &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("provider.stage: stage \"a_b\" is not valid"),
        "{e}"
    );
    let f = file(
        "provider:\n  allowedAccountIds: ['111111111111', 12345]\n  forbiddenAccountIds: 12345678901",
    );
    let e = resolve_stage(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("provider.allowedAccountIds: 12345 is not a 12-digit AWS account ID"),
        "{e}"
    );
    assert!(
        e.contains("provider.forbiddenAccountIds: 12345678901 is not a 12-digit"),
        "{e}"
    );
    assert!(e.contains("leading 0"), "{e}");
    let f = file(
        "provider:\n  allowedAccountIds: ['111111111111', 222222222222]\n  forbiddenAccountIds: '333333333333'",
    );
    let s = resolve_stage(&f, &opts(None), &no_env()).unwrap();
    assert_eq!(s.allowed_account_ids, ["111111111111", "222222222222"]);
    assert_eq!(s.forbidden_account_ids, ["333333333333"]);
}

#[test]
fn a_pin_that_resolves_to_nothing_is_an_error_not_no_pin() {
    let map = "custom:\n  myStage: ${opt:stage, self:provider.stage}\n  myAccount:\n    dev: '222222222222'\n";
    let cases = [
        ("~", "null"),
        ("null", "null"),
        ("[]", "an empty list"),
        ("''", "an empty string"),
        ("['  ']", "an empty string"),
        ("${env:PIN_UNSET, null}", "null"),
        ("${env:PIN_EMPTY, null}", "an empty string"),
        (
            "${self:custom.myAccount.${self:custom.myStage}, null}",
            "null",
        ),
    ];
    let mut env = no_env();
    env.insert("PIN_EMPTY".into(), String::new());
    for key in ["allowedAccountIds", "forbiddenAccountIds"] {
        for (value, what) in cases {
            let yaml = format!("{map}provider:\n  name: aws\n  {key}: {value}\n");
            let e = resolve_stage(&file(&yaml), &opts(Some("prod")), &env)
                .expect_err(&yaml)
                .to_string();
            assert!(
                e.contains(&format!(
                    "provider.{key}: is declared but resolved to {what} for stage \"prod\""
                )),
                "{yaml}\n{e}"
            );
        }
    }
    // Absent keys are no pin; the map entry of the stage being deployed is used.
    let yaml = format!(
        "{map}provider:\n  name: aws\n  allowedAccountIds: ${{self:custom.myAccount.${{self:custom.myStage}}, null}}\n"
    );
    let s = resolve_stage(&file(&yaml), &opts(Some("dev")), &env).unwrap();
    assert_eq!(s.allowed_account_ids, ["222222222222"]);
    let s = resolve_stage(&file("provider:\n  name: aws\n"), &opts(None), &env).unwrap();
    assert!(s.allowed_account_ids.is_empty() && s.forbidden_account_ids.is_empty());
}

#[test]
fn seed_typo_names_the_property_and_suggests_the_fix() {
    let f = file(&MULTI.replace(
        "${self:custom.myProfile.${self:custom.myStage}}",
        "${self:custom.myProfile.${self.custom.myStage}}",
    ));
    for e in [
        resolve_stage(&f, &opts(None), &no_env())
            .unwrap_err()
            .to_string(),
        run_with(&f, &opts(None), &no_env())
            .unwrap_err()
            .to_string(),
    ] {
        assert!(
            e.starts_with("Cannot resolve /nonexistent-service/serverless.yml: 1 property failed:"),
            "{e}"
        );
        assert!(
            e.contains("\n  - provider.profile: Variable syntax error: Invalid variable type"),
            "{e}"
        );
        assert!(
            e.contains("did you mean \"${self:custom.myStage}\"?"),
            "{e}"
        );
    }
}

#[test]
fn plain_dot_typo_stays_literal_and_warns() {
    let e = run_with(
        &file("custom:\n  y: ${self.custom.x}\n  z: ${env:NOPE}"),
        &opts(None),
        &no_env(),
    )
    .unwrap_err();
    assert_eq!(e.warnings().len(), 1, "warnings travel with the error");
    let r = run_with(
        &file("custom:\n  x: a\n  y: ${self.custom.x}"),
        &opts(None),
        &no_env(),
    )
    .unwrap();
    assert_eq!(r.value["custom"]["y"], "${self.custom.x}");
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].starts_with("custom.y: "), "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("did you mean \"${self:custom.x}\""),
        "{:?}",
        r.warnings
    );
}

#[test]
fn self_provider_stage_is_the_file_value_and_sls_stage_the_effective_one() {
    let f = file(
        "provider:\n  stage: qa\ncustom:\n  a: ${self:provider.stage}\n  b: ${sls:stage}\n  c: ${aws:region}",
    );
    let r = run_with(&f, &opts(Some("prod")), &no_env()).unwrap();
    assert_eq!(
        r.value["custom"],
        json!({"a": "qa", "b": "prod", "c": "us-east-1"})
    );
    assert_eq!(r.value["provider"]["stage"], "qa");
    assert_eq!((r.stage.as_str(), r.region.as_str()), ("prod", "us-east-1"));
    // Without provider.stage, ${self:provider.stage} has no value (as in v3).
    let e = err("custom:\n  s: ${opt:stage, self:provider.stage}");
    assert!(
        e.contains("custom.s: Value not found at \"self\" source"),
        "{e}"
    );
}

#[test]
fn types_are_kept_for_whole_string_variables() {
    let v = run("custom:\n  n: 512\n  b: true\n  o: {k: v}\n  l: [1, 2]\n  a: ${self:custom.n}\n  c: ${self:custom.b}\n  d: ${self:custom.o}\n  e: ${self:custom.l}\n  f: ${opt:x, 512}\n  g: ${env:X, null}\n  h: 'n=${self:custom.n} b=${self:custom.b}'").unwrap();
    let c = &v["custom"];
    assert_eq!(c["a"], 512);
    assert_eq!(c["c"], true);
    assert_eq!(c["d"], json!({"k": "v"}));
    assert_eq!(c["e"], json!([1, 2]));
    assert_eq!(c["f"], 512);
    assert_eq!(c["g"], Value::Null);
    assert_eq!(c["h"], "n=512 b=true");
}

#[test]
fn interpolation_of_an_object_is_an_error() {
    let e = err("custom:\n  o: {k: v}\n  s: x-${self:custom.o}");
    assert!(e.contains("custom.s: \"${self:custom.o}\" resolves to an object, which cannot be part of a longer string"), "{e}");
}

#[test]
fn fallbacks() {
    let env: HashMap<String, String> = [
        ("EMPTY".to_string(), String::new()),
        ("B".to_string(), "b".to_string()),
    ]
    .into();
    let f = file(
        "custom:\n  a: ${env:NOPE, env:B}\n  b: ${env:EMPTY, 'fallback'}\n  c: ${env:NOPE, \"lit\"}\n  d: ${opt:region, 'r'}\n  e: ${self:custom.none, self:custom.a}",
    );
    let r = run_with(&f, &opts(None), &env).unwrap();
    assert_eq!(
        r.value["custom"],
        json!({"a": "b", "b": "", "c": "lit", "d": "r", "e": "b"})
    );
    let e = err("custom:\n  x: ${env:NOPE1, env:NOPE2}");
    assert!(e.contains("custom.x: Value not found at \"env\" source for ${env:NOPE1, env:NOPE2}: the environment variable NOPE2 is not set"), "{e}");
}

#[test]
fn nested_variables_in_addresses_and_params() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.prod.json"),
        r#"{"CREDS": {"user": "u"}}"#,
    )
    .unwrap();
    let f = file_in(
        dir.path().to_path_buf(),
        "custom:\n  stages: {prod: P}\n  a: ${self:custom.stages.${sls:stage}}\n  b: ${file(./config.${opt:stage, 'dev'}.json):CREDS.user}",
    );
    let r = run_with(&f, &opts(Some("prod")), &no_env()).unwrap();
    assert_eq!(r.value["custom"]["a"], "P");
    assert_eq!(r.value["custom"]["b"], "u");
}

#[test]
fn resolved_values_are_rescanned_with_a_depth_limit() {
    let env: HashMap<String, String> = [
        ("FOO".to_string(), "${self:service}".to_string()),
        ("LOOP".to_string(), "${env:LOOP}".to_string()),
    ]
    .into();
    let f = file("service: svc\ncustom:\n  a: ${env:FOO}\n  b: x-${env:FOO}");
    let r = run_with(&f, &opts(None), &env).unwrap();
    assert_eq!(r.value["custom"], json!({"a": "svc", "b": "x-svc"}));
    let e = run_with(&file("custom:\n  l: ${env:LOOP}"), &opts(None), &env)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("custom.l: Excessive variables nest depth"),
        "{e}"
    );
}

#[test]
fn escapes_and_foreign_variables_and_keys() {
    let v = run("service: s\ncustom:\n  a: '\\${self:service}'\n  b: '${AWS::Region}-${self:service}'\n  ${self:service}: key\n  c: !Sub 'arn:${AWS::Partition}:s3:::${self:service}-${Bucket}'").unwrap();
    assert_eq!(v["custom"]["a"], "${self:service}");
    assert_eq!(v["custom"]["b"], "${AWS::Region}-s");
    assert_eq!(v["custom"]["${self:service}"], "key");
    assert_eq!(
        v["custom"]["c"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::s-${Bucket}"})
    );
}

#[test]
fn cross_property_references_resolve_on_demand() {
    let v = run("custom:\n  a: ${self:custom.b}-a\n  b: ${self:custom.c}-b\n  c: c\n  obj:\n    x: ${self:custom.a}\n  whole: ${self:custom.obj}").unwrap();
    assert_eq!(v["custom"]["a"], "c-b-a");
    assert_eq!(v["custom"]["whole"], json!({"x": "c-b-a"}));
}

#[test]
fn cycles_are_reported_on_every_property_of_the_cycle() {
    let e = err(
        "custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\n  c: ${self:custom.a}\n  ok: fine",
    );
    assert!(
        e.contains(
            "  - custom.a: Circular reference among \"custom.a\" and \"custom.b\" properties"
        ),
        "{e}"
    );
    assert!(
        e.contains(
            "  - custom.b: Circular reference among \"custom.a\" and \"custom.b\" properties"
        ),
        "{e}"
    );
    assert!(
        e.contains("  - custom.c: depends on \"custom.a\", which cannot be resolved"),
        "{e}"
    );
    assert!(
        e.starts_with("Cannot resolve /nonexistent-service/serverless.yml: 3 properties failed:"),
        "{e}"
    );
    let e = err("custom:\n  x: ${self:custom.x}");
    assert!(
        e.contains("custom.x: Circular reference: \"custom.x\" refers to itself"),
        "{e}"
    );
}

#[test]
fn stage_cycle_only_without_the_stage_option() {
    let y = "provider:\n  stage: ${self:custom.myStage}\ncustom:\n  myStage: ${opt:stage, self:provider.stage}";
    let r = run_with(&file(y), &opts(Some("prod")), &no_env()).unwrap();
    assert_eq!(r.value["provider"]["stage"], "prod");
    let e = run_with(&file(y), &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Circular reference among \"provider.stage\" and \"custom.myStage\" properties"),
        "{e}"
    );
}

#[test]
fn all_failing_properties_in_one_run_with_suggestions() {
    let e = err(
        "custom:\n  myStage: dev\n  a: ${slef:custom.myStage}\n  b: ${self:custom.myStge}\n  c: ${sls:stgae}\n  d: ${opt:stgae}\n  e: ${aws:acountId}\n  f: ${self:custom.nope, unquoted}\n  g: ${self:custom.x",
    );
    let expect = [
        "  - custom.a: Unrecognized configuration variable source \"slef\"; did you mean \"self\"?",
        "  - custom.b: Value not found at \"self\" source for ${self:custom.myStge}: \"custom.myStge\" is not set; did you mean \"self:custom.myStage\"?",
        "  - custom.c: Unsupported \"stgae\" address argument in variable \"sls\" source; did you mean \"sls:stage\"?",
        "  - custom.d: Value not found at \"opt\" source for ${opt:stgae}: this command has no option --stgae; did you mean \"opt:stage\"?",
        "  - custom.e: Unsupported \"acountId\" address argument in variable \"aws\" source; did you mean \"aws:accountId\"?",
        "  - custom.f: Variable syntax error: Invalid literal source \"unquoted\"",
        "  - custom.g: Variable syntax error: Missing variable closing bracket in ${self:custom.x",
    ];
    for line in expect {
        assert!(e.contains(line), "missing {line:?} in:\n{e}");
    }
    assert!(e.contains("7 properties failed"), "{e}");
}

#[test]
fn opt_source() {
    let o = CliOptions {
        stage: Some("prod".into()),
        region: None,
        params: vec!["a=1".into()],
        ..Default::default()
    };
    let r = run_with(
        &file("custom:\n  all: ${opt:}\n  s: ${opt:stage}"),
        &o,
        &no_env(),
    )
    .unwrap();
    assert_eq!(
        r.value["custom"]["all"],
        json!({"stage": "prod", "region": null, "param": ["a=1"]})
    );
    assert_eq!(r.value["custom"]["s"], "prod");
}

#[test]
fn param_source_precedence() {
    let y = "params:\n  prod:\n    a: prod-a\n  default:\n    a: def-a\n    b: def-b\n    c: ${sls:stage}-c\ncustom:\n  a: ${param:a}\n  b: ${param:b}\n  c: ${param:c}\n  d: ${param:d, 'none'}";
    let o = CliOptions {
        stage: Some("prod".into()),
        region: None,
        params: vec!["b=cli-b  ".into()],
        ..Default::default()
    };
    let r = run_with(&file(y), &o, &no_env()).unwrap();
    assert_eq!(
        r.value["custom"],
        json!({"a": "prod-a", "b": "cli-b", "c": "prod-c", "d": "none"})
    );
    let r = run_with(&file(y), &opts(None), &no_env()).unwrap();
    assert_eq!(r.value["custom"]["a"], "def-a");
    let e = run_with(
        &file("params:\n  default:\n    bucket: b\ncustom:\n  x: ${param:bukket}"),
        &opts(None),
        &no_env(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("did you mean \"param:bucket\"?"), "{e}");
    let bad = CliOptions {
        params: vec!["novalue".into()],
        ..Default::default()
    };
    let e = run_with(&file("service: x"), &bad, &no_env())
        .unwrap_err()
        .to_string();
    assert!(e.contains("--param \"novalue\" is not valid"), "{e}");
}

#[test]
fn str_to_bool_source() {
    let v = run("custom:\n  a: ${strToBool(true)}\n  b: ${strToBool('FALSE ')}\n  c: ${strToBool(1)}\n  d: ${strToBool(0)}\n  e: ${strToBool(false)}\n  f: ${strToBool(${self:custom.t})}\n  t: 'true'").unwrap();
    assert_eq!(v["custom"]["a"], true);
    assert_eq!(v["custom"]["b"], false);
    assert_eq!(v["custom"]["c"], true);
    assert_eq!(v["custom"]["d"], false);
    assert_eq!(v["custom"]["e"], false);
    assert_eq!(v["custom"]["f"], true);
    let e = err("custom:\n  x: ${strToBool(yes)}");
    assert!(e.contains("Invalid \"strToBool\" input: Expected either \"true\", \"false\", \"0\", or \"1\". Received: yes"), "{e}");
    assert!(err("custom:\n  x: ${strToBool()}").contains("Missing \"strToBool\" input"));
}

#[test]
fn sls_and_aws_sources() {
    let r = run_with(
        &file(
            "provider:\n  region: eu-west-1\ncustom:\n  i: ${sls:instanceId}\n  r: ${aws:region}",
        ),
        &opts(None),
        &no_env(),
    )
    .unwrap();
    assert_eq!(
        r.value["custom"],
        json!({"i": "1700000000000", "r": "eu-west-1"})
    );
    assert_eq!(r.instance_id, "1700000000000");
    let r = resolve(
        &file("custom:\n  i: ${sls:instanceId}"),
        &opts(None),
        &no_env(),
        &mut offline,
    )
    .unwrap();
    assert!(r.instance_id.len() >= 13 && r.instance_id.bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(r.value["custom"]["i"], r.instance_id.as_str());
}

#[test]
fn file_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.yml"),
        "a:\n  b: !Ref X\n  s: ${sls:stage}\nlist: [x, y]\nlink: ${file(./d.json)}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("d.json"), r#"{"deep": {"v": 1}}"#).unwrap();
    std::fs::write(dir.path().join("t.txt"), "raw text\n").unwrap();
    let f = file_in(
        dir.path().to_path_buf(),
        "custom:\n  all: ${file(./c.yml)}\n  b: ${file(./c.yml):a.b}\n  s: ${file(c.yml):a.s}\n  i: ${file(./c.yml):list.1}\n  through: ${file(./c.yml):link.deep.v}\n  txt: ${file(./t.txt)}\n  missing: ${file(./none.yml), 'fb'}\n  missingKey: ${file(./c.yml):nope, null}",
    );
    let r = run_with(&f, &opts(Some("qa")), &no_env()).unwrap();
    let c = &r.value["custom"];
    assert_eq!(c["all"]["a"], json!({"b": {"Ref": "X"}, "s": "qa"}));
    assert_eq!(c["all"]["link"], json!({"deep": {"v": 1}}));
    assert_eq!(c["b"], json!({"Ref": "X"}));
    assert_eq!(c["s"], "qa");
    assert_eq!(c["i"], "y");
    assert_eq!(c["through"], 1);
    assert_eq!(c["txt"], "raw text\n");
    assert_eq!(c["missing"], "fb");
    assert_eq!(c["missingKey"], Value::Null);
    let f = file_in(
        dir.path().to_path_buf(),
        "custom:\n  m: ${file(./none.yml)}\n  k: ${file(./c.yml):a.nope}\n  j: ${file(./x.js)}",
    );
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("custom.m: Value not found at \"file\" source"),
        "{e}"
    );
    assert!(e.contains("none.yml does not exist"), "{e}");
    assert!(e.contains("custom.k: Value not found at \"file\" source for ${file(./c.yml):a.nope}: ./c.yml has no \"a.nope\""), "{e}");
    assert!(e.contains("custom.j: ./x.js is a JavaScript file"), "{e}");
    std::fs::write(dir.path().join("bad.yml"), "a: [1\n").unwrap();
    let f = file_in(dir.path().to_path_buf(), "custom:\n  m: ${file(./bad.yml)}");
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.yml:2:1: invalid YAML"), "{e}");
}

#[test]
fn external_sources_are_batched_and_answered_by_the_caller() {
    let y = "custom:\n  a: ${ssm:/a}\n  b: ${ssm:/b, 'fb'}\n  c: ${cf(eu-west-1):stack.Out}\n  d: ${aws:accountId}\n  e: ${ssm:/a}-x\n  f: ${ssm:/${self:custom.d}}\n  g: ${s3:bucket/key, ssm:/g}\n  plain: ${sls:stage}";
    let mut rounds: Vec<Vec<String>> = Vec::new();
    let mut answer = |reqs: &[ExternalRequest]| {
        rounds.push(reqs.iter().map(|r| r.to_string()).collect());
        reqs.iter()
            .map(|r| match (r.source.as_str(), r.address.as_deref()) {
                ("ssm", Some("/a")) => Ok(Some(json!("A"))),
                ("ssm", Some("/b")) => Ok(None),
                ("cf", _) => {
                    assert_eq!(r.params, [json!("eu-west-1")]);
                    Ok(Some(json!("out")))
                }
                ("aws", Some("accountId")) => Ok(Some(json!("123456789012"))),
                ("ssm", Some("/123456789012")) => Ok(Some(json!("${self:custom.plain}"))),
                ("s3", _) => Ok(None),
                ("ssm", Some("/g")) => Ok(Some(json!(["l1", "l2"]))),
                _ => Err(format!("unexpected {r}")),
            })
            .collect()
    };
    let r = resolve(&file(y), &opts(None), &no_env(), &mut answer).unwrap();
    assert_eq!(
        r.value["custom"],
        json!({"a": "A", "b": "fb", "c": "out", "d": "123456789012", "e": "A-x", "f": "dev", "g": ["l1", "l2"], "plain": "dev"})
    );
    // Distinct requests only, several per round; dependent ones in a later round.
    assert_eq!(
        rounds[0],
        [
            "${ssm:/a}",
            "${ssm:/b}",
            "${cf(eu-west-1):stack.Out}",
            "${aws:accountId}",
            "${s3:bucket/key}"
        ]
    );
    assert_eq!(rounds[1], ["${ssm:/123456789012}", "${ssm:/g}"]);
    assert_eq!(rounds.len(), 2);
}

#[test]
fn external_errors_land_on_their_property_and_offline_properties_still_resolve() {
    let y = "custom:\n  secret: ${ssm:/s}\n  plain: ${self:service}\nservice: svc";
    let e = resolve(
        &file(y),
        &opts(None),
        &no_env(),
        &mut |reqs: &[ExternalRequest]| {
            reqs.iter()
                .map(|_| Err("no credentials".to_string()))
                .collect()
        },
    )
    .unwrap_err();
    assert_eq!(e.problems().len(), 1);
    assert_eq!(e.problems()[0].path.as_deref(), Some("custom.secret"));
    assert_eq!(e.problems()[0].message, "no credentials");
    let mut called = false;
    let r = resolve(
        &file("service: svc\ncustom:\n  a: ${self:service}"),
        &opts(None),
        &no_env(),
        &mut |_: &[ExternalRequest]| {
            called = true;
            Vec::new()
        },
    )
    .unwrap();
    assert!(!called, "no AWS source: the callback must not be called");
    assert_eq!(r.value["custom"]["a"], "svc");
}

#[test]
fn declared_external_sources_and_unknown_sources() {
    let settings = ResolveSettings {
        instance_id: None,
        external_sources: vec!["vault".into()],
        ..Default::default()
    };
    let r = resolve_with(
        &file("custom:\n  v: ${vault:x}"),
        &opts(None),
        &no_env(),
        &settings,
        &mut |reqs: &[ExternalRequest]| reqs.iter().map(|_| Ok(Some(json!("V")))).collect(),
    )
    .unwrap();
    assert_eq!(r.value["custom"]["v"], "V");
    let e = err("custom:\n  v: ${vault:x}\n  o: ${output:svc.key}");
    assert!(
        e.contains("custom.v: Unrecognized configuration variable source \"vault\""),
        "{e}"
    );
    assert!(
        e.contains(
            "custom.o: Unrecognized configuration variable source \"output\" (Serverless Dashboard"
        ),
        "{e}"
    );
}

#[test]
fn error_display_format() {
    let e = err("custom:\n  a: ${env:NOPE}");
    assert_eq!(
        e,
        "Cannot resolve /nonexistent-service/serverless.yml: 1 property failed:\n  - custom.a: Value not found at \"env\" source for ${env:NOPE}: the environment variable NOPE is not set"
    );
}

#[test]
fn array_paths_and_self_whole_config() {
    let v = run("service: s\nfunctions:\n  f:\n    events:\n      - http: {path: '${self:service}'}\ncustom:\n  p: ${self:functions.f.events.0.http.path}").unwrap();
    assert_eq!(v["custom"]["p"], "s");
    let e = err(
        "service: s\ncustom:\n  bad: ${self:functions.f.events.3}\nfunctions:\n  f:\n    events: [a]",
    );
    assert!(e.contains("\"functions.f.events\" has 1 items"), "{e}");
}

#[test]
fn literal_dollar_brace_in_an_address_is_explained() {
    let e =
        err("custom:\n  m: {dev: a}\n  note: ${self.x}\n  p: ${self:custom.m.${self:custom.note}}");
    assert!(
        e.contains("the address contains \"${\" text that is not a variable"),
        "{e}"
    );
}

#[test]
fn stage_settings_warn_only_about_what_the_early_phase_used() {
    let f = file(
        "custom:\n  p: ${self.custom.q}\n  other: ${self.custom.z}\nprovider:\n  profile: ${self:custom.p}",
    );
    let s = resolve_stage(&f, &opts(None), &no_env()).unwrap();
    assert_eq!(s.profile.as_deref(), Some("${self.custom.q}"));
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].starts_with("custom.p: "), "{:?}", s.warnings);
}

#[test]
fn opt_source_sees_every_declared_option() {
    let mut o = opts(Some("prod"));
    o.extra.insert("aws-profile".into(), json!("ci"));
    o.extra.insert("force".into(), Value::Null);
    o.extra.insert("verbose".into(), json!(true));
    let y = "custom:\n  p: ${opt:aws-profile}\n  f: ${opt:force, false}\n  v: ${opt:verbose}\n  all: ${opt:}";
    let r = run_with(&file(y), &o, &no_env()).unwrap();
    assert_eq!(r.value["custom"]["p"], "ci");
    assert_eq!(r.value["custom"]["f"], false);
    assert_eq!(r.value["custom"]["v"], true);
    assert_eq!(
        r.value["custom"]["all"],
        json!({"aws-profile": "ci", "force": null, "verbose": true,
               "stage": "prod", "region": null, "param": []})
    );
    // A declared option that was not given has no value: the fallback applies, else an error.
    let e = run_with(&file("custom:\n  f: ${opt:force}"), &o, &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("custom.f: Value not found at \"opt\" source for ${opt:force}"),
        "{e}"
    );
    let e = run_with(&file("custom:\n  p: ${opt:aws-profil}"), &o, &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("this command has no option --aws-profil; did you mean \"opt:aws-profile\"?"),
        "{e}"
    );
    let e = run_with(&file("custom:\n  t: ${opt:table}"), &o, &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "this command has no option --table (its options: --stage, --region, --param, \
             --aws-profile, --force, --verbose); pass other values with --param table=…"
        ),
        "{e}"
    );
}

/// A service directory with `serverless.yml` and the given files.
fn service_dir(yaml: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, ConfigFile) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let f = file_in(dir.path().to_path_buf(), yaml);
    (dir, f)
}

fn env_of(items: &[(&str, &str)]) -> HashMap<String, String> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const DOTENV_SERVICE: &str = "service: s\nuseDotenv: true\nprovider:\n  name: aws\n  stage: dev\n  profile: ${env:PROFILE}\ncustom:\n  table: ${env:TABLE}\n  url: ${env:URL, 'none'}";

#[test]
fn use_dotenv_loads_the_stage_file_else_dot_env() {
    let (dir, f) = service_dir(
        DOTENV_SERVICE,
        &[
            (".env", "PROFILE=dev-profile\nTABLE=dev-table\n"),
            (
                ".env.prod",
                "# prod\nexport PROFILE=prod-profile\nTABLE=\"prod-${PROFILE}\"\nURL=https://$HOST/x\n",
            ),
        ],
    );
    let base = env_of(&[("HOST", "example.com")]);
    let prod = run_with(&f, &opts(Some("prod")), &base).unwrap();
    assert_eq!(prod.dotenv, Some(dir.path().join(".env.prod")));
    assert_eq!(
        prod.value["custom"],
        json!({"table": "prod-prod-profile", "url": "https://example.com/x"})
    );
    assert_eq!(prod.value["provider"]["profile"], "prod-profile");
    let s = resolve_stage(&f, &opts(Some("prod")), &base).unwrap();
    assert_eq!(s.profile.as_deref(), Some("prod-profile"));
    assert_eq!(s.dotenv, Some(dir.path().join(".env.prod")));
    // No .env.dev: .env is read instead (the stage comes from provider.stage).
    let dev = run_with(&f, &opts(None), &base).unwrap();
    assert_eq!(dev.dotenv, Some(dir.path().join(".env")));
    assert_eq!(
        dev.value["custom"],
        json!({"table": "dev-table", "url": "none"})
    );
    let s = resolve_stage(&f, &opts(None), &base).unwrap();
    assert_eq!(s.profile.as_deref(), Some("dev-profile"));
    // The environment wins over the file.
    let r = run_with(&f, &opts(Some("prod")), &env_of(&[("PROFILE", "from-env")])).unwrap();
    assert_eq!(r.value["provider"]["profile"], "from-env");
    assert_eq!(r.value["custom"]["table"], "prod-from-env");
}

#[test]
fn dotenv_files_are_read_only_with_use_dotenv_true() {
    let files = [(".env", "TABLE=t\nPROFILE=p\n")];
    for head in ["", "useDotenv: false\n", "useDotenv: ${env:USE, false}\n"] {
        let y = format!("{head}custom:\n  table: ${{env:TABLE, 'unset'}}");
        let (_dir, f) = service_dir(&y, &files);
        let r = run_with(&f, &opts(None), &no_env()).unwrap();
        assert_eq!(r.value["custom"]["table"], "unset", "{head}");
        assert_eq!(r.dotenv, None);
    }
    let (_dir, f) = service_dir(
        "useDotenv: ${strToBool(${env:USE})}\ncustom:\n  table: ${env:TABLE}",
        &files,
    );
    let r = run_with(&f, &opts(None), &env_of(&[("USE", "true")])).unwrap();
    assert_eq!(r.value["custom"]["table"], "t");
    let (_dir, f) = service_dir("useDotenv: 'yes'", &files);
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("  - useDotenv: expected true or false, found a string (\"yes\")"),
        "{e}"
    );
    // useDotenv without any .env file: nothing loaded, no error.
    let (_dir, f) = service_dir(DOTENV_SERVICE, &[]);
    let r = run_with(
        &f,
        &opts(None),
        &env_of(&[("PROFILE", "p"), ("TABLE", "t")]),
    )
    .unwrap();
    assert_eq!(r.dotenv, None);
}

#[test]
fn an_env_variable_of_the_stage_defined_only_by_the_file_is_a_conflict() {
    let y = "useDotenv: true\nprovider:\n  stage: ${self:custom.stage}\ncustom:\n  stage: ${env:STAGE, 'dev'}";
    let (_dir, f) = service_dir(y, &[(".env.dev", "STAGE=prod\nSECRET=hunter2\n")]);
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("Cannot reliably resolve \"env\" variables of "),
        "{e}"
    );
    assert!(
        e.contains(
            "  - custom.stage: ${env:STAGE} (read by \"provider.stage\") is not set in the \
             environment but is defined in .env.dev;"
        ),
        "{e}"
    );
    assert!(
        e.contains("set STAGE in the environment, pass --stage"),
        "{e}"
    );
    assert!(!e.contains("prod") && !e.contains("hunter2"), "{e}");
    let e = resolve_stage(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(e.contains("resolution conflict"), "{e}");
    // Set in the environment, or the stage given on the command line: no conflict.
    let r = run_with(&f, &opts(None), &env_of(&[("STAGE", "dev")])).unwrap();
    assert_eq!(r.stage, "dev");
    let r = run_with(&f, &opts(Some("dev")), &no_env()).unwrap();
    assert_eq!(r.value["custom"]["stage"], "prod");
}

#[test]
fn dotenv_warnings_and_errors_name_the_file_and_line() {
    let y = "useDotenv: true\ncustom:\n  a: ${env:A}";
    let (_dir, f) = service_dir(y, &[(".env", "A=1\nthis is not a pair\n")]);
    let r = run_with(&f, &opts(None), &no_env()).unwrap();
    assert_eq!(r.value["custom"]["a"], "1");
    assert_eq!(
        r.warnings,
        [".env: line 2 is not KEY=value and is ignored (as Serverless v3 does)"]
    );
    let s = resolve_stage(&f, &opts(None), &no_env()).unwrap();
    assert_eq!(s.warnings, r.warnings);
    let (dir, f) = service_dir(y, &[(".env", "A=secret-$B\nB=$A\n")]);
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "Failed to load environment variables from {}: \"A\" refers to itself (A → B → A)",
            dir.path().join(".env").display()
        )),
        "{e}"
    );
    assert!(!e.contains("secret"), "{e}");
}

/// A shared file included with `file()` whose values refer back with `self:` into the part
/// it fills (v3: `self:` is the service's configuration, and an included object's variables
/// are properties of their own, so this is no cycle).
#[test]
fn a_shared_file_may_refer_back_into_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let service = dir.path().join("orders");
    std::fs::create_dir_all(&service).unwrap();
    std::fs::write(
        dir.path().join("shared.yml"),
        "custom:\n  tableName: ${self:service}-${self:provider.stage}\n  other: ${self:custom.tableName}\n  nested: {t: '${self:custom.other}'}\n",
    )
    .unwrap();
    let head = "service: orders\nprovider: {name: aws, stage: dev}\n";
    let f = file_in(
        service.clone(),
        &format!("{head}custom: ${{file(../shared.yml):custom}}\n"),
    );
    let r = run_with(&f, &opts(None), &no_env()).unwrap();
    assert_eq!(
        r.value["custom"],
        json!({"tableName": "orders-dev", "other": "orders-dev", "nested": {"t": "orders-dev"}})
    );
    let f = file_in(
        service.clone(),
        &format!(
            "{head}custom:\n  shared: ${{file(../shared.yml)}}\n  copy: ${{self:custom.shared.custom.nested}}\n"
        ),
    );
    std::fs::write(
        dir.path().join("shared.yml"),
        "custom:\n  tableName: ${self:service}-${self:provider.stage}\n  other: ${self:custom.shared.custom.tableName}\n  nested: {t: '${self:custom.shared.custom.other}'}\n",
    )
    .unwrap();
    let r = run_with(&f, &opts(None), &no_env()).unwrap();
    let shared = &r.value["custom"]["shared"]["custom"];
    assert_eq!(shared["other"], "orders-dev");
    assert_eq!(r.value["custom"]["copy"], json!({"t": "orders-dev"}));
}

/// A loop through an included file is still a cycle, reported at the included properties.
#[test]
fn a_real_cycle_through_a_shared_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shared.yml"),
        "custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("whole.yml"), "whole: ${self:custom}\n").unwrap();
    let f = file_in(
        dir.path().to_path_buf(),
        "service: s\ncustom: ${file(./shared.yml):custom}\n",
    );
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("custom.a: Circular reference among \"custom.a\" and \"custom.b\" properties"),
        "{e}"
    );
    let f = file_in(dir.path().to_path_buf(), "custom: ${file(./whole.yml)}\n");
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("custom.whole: Circular reference: \"custom.whole\" refers to itself"),
        "{e}"
    );
}

/// A file that includes itself nests without end: stopped at the nest depth limit.
#[test]
fn a_file_that_includes_itself_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("loop.yml"), "again: ${file(./loop.yml)}\n").unwrap();
    let f = file_in(dir.path().to_path_buf(), "custom: ${file(./loop.yml)}\n");
    let e = run_with(&f, &opts(None), &no_env())
        .unwrap_err()
        .to_string();
    assert!(e.contains("Excessive variables nest depth"), "{e}");
}
