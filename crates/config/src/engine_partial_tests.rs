//! Tests of the partial resolutions: AWS-backed variables kept as written, and only the
//! value at one path.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::load::parse_yaml;

fn file(yaml: &str) -> ConfigFile {
    let dir = PathBuf::from("/nonexistent-service");
    ConfigFile {
        path: dir.join("serverless.yml"),
        dir,
        raw: parse_yaml(yaml).unwrap(),
    }
}

fn settings(aws_as_text: bool, only: Option<&str>) -> ResolveSettings {
    ResolveSettings {
        instance_id: Some("1".into()),
        aws_as_text,
        only: only.map(str::to_string),
        ..Default::default()
    }
}

/// Resolves with answers `ANSWER(<source>:<address>)`; returns the result and every request asked.
fn resolve_recording(
    yaml: &str,
    settings: &ResolveSettings,
) -> (Result<Resolved, ConfigError>, Vec<String>) {
    let asked = RefCell::new(Vec::new());
    let mut answer = |reqs: &[ExternalRequest]| {
        reqs.iter()
            .map(|r| {
                asked.borrow_mut().push(r.to_string());
                // Not `${…}`: answers are re-scanned for variables.
                let address = r.address.clone().unwrap_or_default();
                Ok(Some(json!(format!("ANSWER({}:{address})", r.source))))
            })
            .collect()
    };
    let env: HashMap<String, String> = HashMap::new();
    let cli = CliOptions::default();
    let r = resolve_with(&file(yaml), &cli, &env, settings, &mut answer);
    (r, asked.into_inner())
}

const AWS_VARIABLES: &str = "\
service: svc
custom:
  whole: ${ssm:/app/key}
  inside: pre-${aws:accountId}-post
  fallback: ${ssm:/app/none, 'fb'}
  reference: ${self:custom.whole}
  nested: ${file(./${ssm:/app/name}.yml)}
  region: ${aws:region}
  plain: ${sls:stage}
  output: ${cf(eu-west-1):other-stack.Url}
";

#[test]
fn aws_variables_are_kept_as_written_without_asking() {
    let (r, asked) = resolve_recording(AWS_VARIABLES, &settings(true, None));
    let custom = r.unwrap().value["custom"].clone();
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(
        custom,
        json!({
            "whole": "${ssm:/app/key}",
            "inside": "pre-${aws:accountId}-post",
            "fallback": "${ssm:/app/none, 'fb'}",
            "reference": "${ssm:/app/key}",
            "nested": "${file(./${ssm:/app/name}.yml)}",
            "region": "us-east-1",
            "plain": "dev",
            "output": "${cf(eu-west-1):other-stack.Url}",
        })
    );
}

#[test]
fn without_the_setting_aws_variables_are_asked_for() {
    let (r, asked) = resolve_recording(
        "custom:\n  whole: ${ssm:/app/key}\n  inside: pre-${aws:accountId}",
        &settings(false, None),
    );
    let custom = r.unwrap().value["custom"].clone();
    assert_eq!(custom["whole"], "ANSWER(ssm:/app/key)");
    assert_eq!(custom["inside"], "pre-ANSWER(aws:accountId)");
    assert_eq!(asked.len(), 2, "{asked:?}");
}

const MIXED: &str = "\
service: ${self:custom.name}
provider:
  name: aws
  allowedAccountIds: ['111111111111']
  environment:
    SECRET: ${ssm:/app/secret}
custom:
  name: svc
  table: ${self:custom.prefix}-table
  prefix: ${ssm:/app/prefix}
  broken: ${env:DEPLOYER_TEST_SURELY_UNSET}
functions:
  hello:
    handler: h.main
    environment:
      TABLE: ${self:custom.table}
";

#[test]
fn only_a_path_resolves_what_it_needs() {
    let (r, asked) = resolve_recording(MIXED, &settings(false, Some("provider.allowedAccountIds")));
    let value = r.unwrap().value;
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(
        value["provider"]["allowedAccountIds"],
        json!(["111111111111"])
    );
    // Untouched properties keep their variables; the broken one does not fail the run.
    assert_eq!(
        value["provider"]["environment"]["SECRET"],
        "${ssm:/app/secret}"
    );
    assert_eq!(
        value["custom"]["broken"],
        "${env:DEPLOYER_TEST_SURELY_UNSET}"
    );
}

#[test]
fn only_a_path_asks_for_what_its_references_need() {
    let (r, asked) = resolve_recording(MIXED, &settings(false, Some("functions.hello")));
    let value = r.unwrap().value;
    assert_eq!(asked, ["${ssm:/app/prefix}"]);
    assert_eq!(
        value["functions"]["hello"]["environment"]["TABLE"],
        "ANSWER(ssm:/app/prefix)-table"
    );
    // Under `functions`, the service name is resolved too (function names derive from it).
    assert_eq!(value["service"], "svc");
    assert_eq!(
        value["provider"]["environment"]["SECRET"],
        "${ssm:/app/secret}"
    );
}

#[test]
fn only_a_path_reports_its_own_failures() {
    let (r, _) = resolve_recording(MIXED, &settings(false, Some("custom")));
    let e = r.unwrap_err().to_string();
    assert!(e.contains("custom.broken"), "{e}");
    let (r, _) = resolve_recording(MIXED, &settings(false, Some("custom.nope")));
    assert!(r.unwrap().value["custom"].get("nope").is_none());
}

#[test]
fn only_a_path_with_aws_kept_as_written() {
    let (r, asked) = resolve_recording(MIXED, &settings(true, Some("custom.table")));
    assert!(asked.is_empty());
    assert_eq!(
        r.unwrap().value["custom"]["table"],
        "${ssm:/app/prefix}-table"
    );
}

#[test]
fn an_unanswered_round_is_an_error_not_a_loop() {
    let env: HashMap<String, String> = HashMap::new();
    let mut silent = |_: &[ExternalRequest]| Vec::new();
    let r = resolve_with(
        &file("custom:\n  a: ${ssm:/a}"),
        &CliOptions::default(),
        &env,
        &settings(false, Some("custom.a")),
        &mut silent,
    );
    let e = r.unwrap_err().to_string();
    assert!(e.contains("no answer was given for ${ssm:/a}"), "{e}");
}

#[test]
fn only_a_path_keeps_the_warnings_of_what_it_holds() {
    let yaml = "custom:\n  note: ${self.custom.other}\n  other: x\nprovider:\n  name: ${self.p}";
    let (r, _) = resolve_recording(yaml, &settings(false, Some("custom")));
    let warnings = r.unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("custom.note:"), "{warnings:?}");
    assert!(within("custom.note", "custom") && within("a", "") && !within("customs", "custom"));
}
