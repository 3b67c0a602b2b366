use std::collections::BTreeMap;

use super::*;
use crate::env::Env;

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
}

/// A project folder with `folders` and the compose file `text`; reads it for `stage`.
fn project(text: &str, folders: &[&str], stage: &str) -> Result<Compose, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    for f in folders {
        std::fs::create_dir_all(dir.path().join(f)).unwrap();
    }
    let file = dir.path().join("serverless-compose.yml");
    std::fs::write(&file, text).unwrap();
    let opts = BTreeMap::new();
    let ctx = Context {
        stage,
        env: &NoEnv,
        opts: &opts,
    };
    read(&file, &ctx)
}

fn problems(err: &ConfigError) -> Vec<(String, String)> {
    err.problems()
        .iter()
        .map(|p| (p.path.clone().unwrap_or_default(), p.message.clone()))
        .collect()
}

#[test]
fn references_are_implicit_dependencies_and_params_merge_by_level() {
    let c = project(
        r#"params: { team: core, level: top }
stages:
  default: { params: { level: default } }
  prod: { params: { level: prod } }
services:
  consumer:
    path: consumer
    params:
      queueUrl: ${producer.QueueUrl}
      name: q-${sls:stage}
  producer: { path: producer, region: eu-west-1 }
  other: { path: other, dependsOn: producer }
"#,
        &["consumer", "producer", "other"],
        "prod",
    )
    .unwrap();
    assert_eq!(c.waves, vec![vec!["producer"], vec!["consumer", "other"]]);
    // `other` depends on the producer through dependsOn: a wave after it.
    assert_eq!(c.services["other"].depends_on, vec!["producer"]);
    let consumer = &c.services["consumer"];
    assert_eq!(consumer.depends_on, vec!["producer"]);
    let render = |k: &str| consumer.params[k].render(&|_| Some("U".into())).unwrap();
    assert_eq!(render("level"), "prod");
    assert_eq!(render("team"), "core");
    assert_eq!(render("name"), "q-prod");
    assert_eq!(render("queueUrl"), "U");
    assert_eq!(c.services["producer"].region.as_deref(), Some("eu-west-1"));
}

#[test]
fn default_stage_params_apply_to_stages_not_listed() {
    let c = project(
        "stages:\n  default: { params: { level: default } }\n  prod: { params: { level: prod } }\n\
         services:\n  a: { path: a }\n",
        &["a"],
        "dev",
    )
    .unwrap();
    let level = c.services["a"].params["level"].render(&|_| None).unwrap();
    assert_eq!(level, "default");
}

#[test]
fn every_problem_is_named_at_its_key() {
    let err = project(
        r#"provider: { name: aws }
extra: 1
services:
  a: { path: missing, colour: blue }
  b: { path: b, dependsOn: [ghost], params: { x: '${nobody.Out}' } }
"#,
        &["b"],
        "dev",
    )
    .unwrap_err();
    let found = problems(&err);
    let at = |path: &str| found.iter().any(|(p, _)| p == path);
    assert!(at("provider"), "{found:?}");
    assert!(at("extra"), "{found:?}");
    assert!(at("services.a.path"), "{found:?}");
    assert!(at("services.a.colour"), "{found:?}");
    assert!(at("services.b.dependsOn"), "{found:?}");
    assert!(at("services.b.params.x"), "{found:?}");
    assert!(err.to_string().contains("ghost"), "{err}");
    assert!(err.to_string().contains("nobody"), "{err}");
}

#[test]
fn cycles_are_refused_with_the_services_along_them() {
    let err = project(
        r#"services:
  a: { path: a, params: { x: '${b.Out}' } }
  b: { path: b, dependsOn: a }
"#,
        &["a", "b"],
        "dev",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("circular dependencies: a → b → a"),
        "{err}"
    );
}

#[test]
fn a_missing_config_file_and_state_are_refused() {
    let err = project(
        "state: s3\nservices:\n  a: { path: a, config: other.yml }\n",
        &["a"],
        "dev",
    )
    .unwrap_err();
    let found = problems(&err);
    assert!(
        found.iter().any(|(p, _)| p == "services.a.config"),
        "{found:?}"
    );
    assert!(found.iter().any(|(p, _)| p == "state"), "{found:?}");
}

#[test]
fn selection_names_unknown_services() {
    let c = project(
        "services:\n  a: { path: a }\n  b: { path: b }\n",
        &["a", "b"],
        "dev",
    )
    .unwrap();
    assert_eq!(c.select(&["b".into()]).unwrap(), vec!["b"]);
    let err = c.select(&["zz".into()]).unwrap_err().to_string();
    assert!(err.contains("\"zz\"") && err.contains("a, b"), "{err}");
}
