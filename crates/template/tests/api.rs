//! The helpers the deploy step uses: change-detection hash, S3 directory name, stack tags.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use deployer_template::{artifact_directory_name, normalized_template_hash, stack_tags};
use serde_json::json;

/// Known values computed independently from v3's definition with Python (case-insensitive
/// key sort, compact JSON, base64 SHA-256) on v3's own templates.
#[test]
fn normalized_hash_matches_reference_values() {
    let rest = read_json(
        "rest-api",
        "dev",
        "cloudformation-template-update-stack.json",
    );
    assert_eq!(
        normalized_template_hash(&rest),
        "n6qU7CUSIRZn3CTmZkWEnXRWhGkS0qZVl5KHxW4fEUk="
    );
    let multi = read_json(
        "multi-account",
        "dev",
        "cloudformation-template-update-stack.json",
    );
    assert_eq!(
        normalized_template_hash(&multi),
        "G/VvUYGakE7OSip1gF175w8BZcE1aois6n8mpJe4eKs="
    );
}

#[test]
fn normalized_hash_ignores_run_dependent_parts_only() {
    let service = service("rest-api", "prod");
    let expected = read_json(
        "rest-api",
        "prod",
        "cloudformation-template-update-stack.json",
    );
    let mut run = v3_run_inputs(&service, &expected);
    let first = compile_with(&service, "prod", "eu-west-1", &run).update;
    run.instance_id = "1800000000000".into();
    run.directory = "serverless/items-api/prod/1800000000000-2027-01-15T08:00:00.000Z".into();
    let second = compile_with(&service, "prod", "eu-west-1", &run).update;
    assert_ne!(first, second);
    assert_eq!(
        normalized_template_hash(&first),
        normalized_template_hash(&second)
    );

    let mut changed = first.clone();
    changed["Resources"]["ListLambdaFunction"]["Properties"]["MemorySize"] = json!(2048);
    assert_ne!(
        normalized_template_hash(&first),
        normalized_template_hash(&changed)
    );
    // Key order does not matter: the sections are sorted before hashing.
    let mut reordered = first.clone();
    let resources = reordered["Resources"].as_object_mut().unwrap();
    let first_key = resources.keys().next().unwrap().clone();
    let moved = resources.shift_remove(&first_key).unwrap();
    resources.insert(first_key, moved);
    assert_eq!(
        normalized_template_hash(&first),
        normalized_template_hash(&reordered)
    );
}

#[test]
fn artifact_directory_name_is_v3s() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_790_329_751);
    assert_eq!(
        artifact_directory_name(None, "service-name", "dev", at),
        "serverless/service-name/dev/1795790329751-2026-11-27T14:38:49.751Z"
    );
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(5);
    assert_eq!(
        artifact_directory_name(Some("deploys"), "s", "prod", at),
        "deploys/s/prod/5-1970-01-01T00:00:00.005Z"
    );
}

#[test]
fn stack_tags_put_stage_first_and_let_stack_tags_override_it() {
    let service = service("rest-api", "dev");
    assert_eq!(
        stack_tags(&service, "dev"),
        vec![
            ("STAGE".into(), "dev".into()),
            ("cost-center".into(), "1234".into())
        ]
    );
    let value =
        json!({"service": "s", "provider": {"name": "aws", "stackTags": {"a": "1", "stage": "x"}}});
    let service = deployer_config::model::Service::from_value(&value).unwrap();
    assert_eq!(
        stack_tags(&service, "dev"),
        vec![("a".into(), "1".into()), ("stage".into(), "x".into())]
    );
}
