//! The plugin table: classification of each treatment, ignoring host plugins, and
//! docs/plugins.md kept equal to the table.

use deployer_template::plugins::{PLUGINS, Treatment, classify, hosted, markdown_table, plan};
use serde_json::{Value, json};

fn custom_ignoring(names: &[&str]) -> Value {
    json!({"deployer": {"ignorePlugins": names}})
}

/// A service declaring one plugin of each treatment, plus a local and an unknown one.
fn declared() -> Value {
    json!([
        "serverless-step-functions",
        "serverless-offline",
        "serverless-domain-manager",
        "./plugins/stamp",
        "serverless-something-new"
    ])
}

#[test]
fn each_plugin_gets_its_treatment() {
    let treatments = classify(Some(&declared())).unwrap();
    let got: Vec<(&str, Treatment)> = treatments
        .iter()
        .map(|t| (t.name.as_str(), t.treatment))
        .collect();
    assert_eq!(
        got,
        [
            ("serverless-step-functions", Treatment::Native),
            ("serverless-offline", Treatment::NotNeeded),
            ("serverless-domain-manager", Treatment::Host),
            ("./plugins/stamp", Treatment::Host),
            ("serverless-something-new", Treatment::Host),
        ]
    );
    assert!(treatments[3].detail.contains("local plugin"));
    assert!(treatments[4].detail.contains("run by the plugin host"));
    // The JSON the command layer prints with --json.
    let json = serde_json::to_value(&treatments[1]).unwrap();
    assert_eq!(json["treatment"], json!("not-needed"));
    assert_eq!(json["ignored"], json!(false));
    let json = serde_json::to_value(&treatments[2]).unwrap();
    assert_eq!(json["treatment"], json!("host"));
    // A local-emulation plugin is not needed, not run.
    let local = classify(Some(&json!(["serverless-step-functions-local"]))).unwrap();
    assert_eq!(local[0].treatment, Treatment::NotNeeded);
}

#[test]
fn no_plugin_is_refused_by_the_table_and_the_host_runs_the_rest_in_order() {
    let treatments = plan(Some(&declared()), None, &[]).unwrap();
    let names: Vec<&str> = hosted(&treatments)
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "serverless-domain-manager",
            "./plugins/stamp",
            "serverless-something-new"
        ]
    );
}

#[test]
fn ignoring_by_flag_or_config_leaves_host_plugins_out() {
    let flags = vec![
        "serverless-domain-manager".to_owned(),
        "./plugins/stamp".to_owned(),
    ];
    let custom = custom_ignoring(&["serverless-something-new"]);
    let treatments = plan(Some(&declared()), Some(&custom), &flags).unwrap();
    let ignored: Vec<&str> = treatments
        .iter()
        .filter(|t| t.ignored)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        ignored,
        [
            "serverless-domain-manager",
            "./plugins/stamp",
            "serverless-something-new"
        ]
    );
    assert!(hosted(&treatments).is_empty());
    // One left out of the ignore list: only that one runs.
    let treatments = plan(Some(&declared()), None, &flags).unwrap();
    let hosted: Vec<&str> = hosted(&treatments)
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(hosted, ["serverless-something-new"]);
}

#[test]
fn ignoring_an_undeclared_or_handled_plugin_is_an_error() {
    let err = plan(
        Some(&json!(["serverless-offline"])),
        None,
        &["serverless-offlin".into()],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("serverless-offlin is not declared under plugins"),
        "{err}"
    );
    let err = plan(
        Some(&json!(["serverless-step-functions"])),
        None,
        &["serverless-step-functions".into()],
    )
    .unwrap_err();
    assert!(err.to_string().contains("handled by deployer"), "{err}");
    let err = plan(
        Some(&json!([])),
        Some(&json!({"deployer": {"ignorePlugins": 3}})),
        &[],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("custom.deployer.ignorePlugins:"),
        "{err}"
    );
}

#[test]
fn both_forms_of_plugins_are_read() {
    let modules = json!({"localPath": "./plugins", "modules": ["serverless-offline", "serverless-pseudo-parameters"]});
    let names: Vec<String> = plan(Some(&modules), None, &[])
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        ["serverless-offline", "serverless-pseudo-parameters"]
    );
    assert!(plan(None, None, &[]).unwrap().is_empty());
    let err = plan(Some(&json!("serverless-offline")), None, &[]).unwrap_err();
    assert!(err.to_string().starts_with("plugins:"), "{err}");
    let err = plan(Some(&json!(["ok", 5])), None, &[]).unwrap_err();
    assert!(err.to_string().starts_with("plugins[1]:"), "{err}");
}

#[test]
fn every_row_is_documented_in_docs_plugins_md() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plugins.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let table = markdown_table();
    assert!(
        doc.contains(&table),
        "docs/plugins.md must hold the plugin table exactly as the code has it; replace its table with:\n{table}"
    );
    let rows = doc.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(
        rows,
        PLUGINS.len(),
        "docs/plugins.md has plugin rows outside the table"
    );
    let mut names: Vec<&str> = PLUGINS.iter().map(|r| r.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PLUGINS.len(), "a plugin is listed twice");
}
