//! Build-plan detection from the service model.

use super::*;
use serde_json::json;

fn service(value: Value) -> Service {
    Service::from_value(&value).unwrap()
}

fn dir_with(files: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for f in files {
        let path = tmp.path().join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    tmp
}

fn builders(plan: &BuildPlan) -> Vec<(&str, Builder)> {
    plan.functions
        .iter()
        .map(|f| (f.key.as_str(), f.builder.clone()))
        .collect()
}

#[test]
fn a_typescript_handler_is_bundled_without_any_plugin() {
    let tmp = dir_with(&["src/api.ts", "src/plain.js"]);
    let s = service(
        json!({"service": "s", "provider": {"name": "aws", "runtime": "nodejs22.x"},
        "functions": {"api": {"handler": "src/api.handler"}, "plain": {"handler": "src/plain.handler"}}}),
    );
    let plan = plan(&s, tmp.path()).unwrap();
    // Once the service is bundled every Node function is, as v4 does.
    assert_eq!(
        builders(&plan),
        [("api", Builder::Esbuild), ("plain", Builder::Esbuild)]
    );
    let o = plan.esbuild.unwrap();
    assert_eq!(o.bundle_externals(), ["@aws-sdk/*"]);
    assert_eq!(o.target, "node22");
    assert!(plan.warnings.is_empty());
}

#[test]
fn plain_javascript_without_plugin_is_not_built() {
    let tmp = dir_with(&["handler.js"]);
    let s = service(
        json!({"service": "s", "provider": {"name": "aws", "runtime": "nodejs20.x"},
        "functions": {"api": {"handler": "handler.main"}}}),
    );
    let plan = plan(&s, tmp.path()).unwrap();
    assert_eq!(builders(&plan), [("api", Builder::None)]);
    assert!(plan.esbuild.is_none());
}

#[test]
fn webpack_services_are_bundled_with_esbuild_and_told_once() {
    let tmp = dir_with(&["a.js", "b.js"]);
    let s = service(json!({"service": "s", "plugins": ["serverless-webpack"],
        "provider": {"name": "aws", "runtime": "nodejs20.x"},
        "functions": {"a": {"handler": "a.h"}, "b": {"handler": "b.h"}}}));
    let plan = plan(&s, tmp.path()).unwrap();
    assert_eq!(
        builders(&plan),
        [("a", Builder::Esbuild), ("b", Builder::Esbuild)]
    );
    let told: Vec<_> = plan
        .warnings
        .iter()
        .filter(|w| w.contains("bundled with esbuild instead of webpack"))
        .collect();
    assert_eq!(told.len(), 1, "{:?}", plan.warnings);
}

#[test]
fn serverless_esbuild_options_and_unknown_keys() {
    let tmp = dir_with(&["h.ts"]);
    let s = service(json!({"service": "s", "plugins": ["serverless-esbuild"],
        "provider": {"name": "aws", "runtime": "nodejs22.x"},
        "custom": {"esbuild": {"minify": true, "bogus": 1}},
        "functions": {"f": {"handler": "h.handler"}, "skip": {"handler": "h.handler", "skipEsbuild": true}}}));
    let plan = plan(&s, tmp.path()).unwrap();
    assert_eq!(
        builders(&plan),
        [("f", Builder::Esbuild), ("skip", Builder::None)]
    );
    let o = plan.esbuild.as_ref().unwrap();
    assert!(o.minify);
    assert_eq!(o.bundle_externals(), ["aws-sdk"]);
    // The unknown key is named; `skip` shares the service zip with the bundle, which is said too.
    assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
    assert_eq!(
        plan.warnings[0],
        "custom.esbuild: unknown option(s) bogus ignored"
    );
    assert!(
        plan.warnings[1].contains("function(s) skip that are not bundled"),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn v4_build_block_is_read() {
    let tmp = dir_with(&["h.js"]);
    let s = service(
        json!({"service": "s", "provider": {"name": "aws", "runtime": "nodejs20.x"},
        "build": {"esbuild": {"minify": true, "sourcemap": true}},
        "functions": {"f": {"handler": "h.handler"}}}),
    );
    let plan = plan(&s, tmp.path()).unwrap();
    let o = plan.esbuild.unwrap();
    assert!(o.minify);
    assert_eq!(o.sourcemap.as_deref(), Some("true"));
    let bad = service(
        json!({"service": "s", "provider": {"name": "aws", "runtime": "nodejs20.x"},
        "build": {"esbuild": {"format": "iife"}}, "functions": {"f": {"handler": "h.handler"}}}),
    );
    let err = super::plan(&bad, tmp.path()).unwrap_err().to_string();
    assert!(err.starts_with("build.esbuild: option \"format\""), "{err}");
}

#[test]
fn python_requirements_without_plugin_warn() {
    let tmp = dir_with(&["handler.py", "requirements.txt"]);
    let s = service(
        json!({"service": "s", "provider": {"name": "aws", "runtime": "python3.12"},
        "functions": {"f": {"handler": "handler.main"}}}),
    );
    let plan = plan(&s, tmp.path()).unwrap();
    assert_eq!(builders(&plan), [("f", Builder::None)]);
    assert_eq!(plan.warnings.len(), 1);
    assert!(
        plan.warnings[0]
            .contains("set custom.pythonRequirements or declare serverless-python-requirements")
    );
}

#[test]
fn python_plugin_or_custom_block_installs() {
    let tmp = dir_with(&["handler.py", "requirements.txt"]);
    for s in [
        json!({"service": "s", "plugins": ["serverless-python-requirements"],
            "provider": {"name": "aws", "runtime": "python3.12"}, "functions": {"f": {"handler": "handler.main"}}}),
        json!({"service": "s", "custom": {"pythonRequirements": {"slim": true}},
            "provider": {"name": "aws", "runtime": "python3.12", "architecture": "arm64"},
            "functions": {"f": {"handler": "handler.main", "module": "svc"}}}),
    ] {
        let plan = plan(&service(s), tmp.path()).unwrap();
        assert_eq!(builders(&plan), [("f", Builder::Python)]);
        assert!(plan.warnings.is_empty());
        assert!(plan.python.is_some());
    }
}

#[test]
fn handler_base_strips_only_the_export() {
    assert_eq!(handler_base("src/api.handler"), "src/api");
    assert_eq!(handler_base("src/v1.2/api.handler"), "src/v1.2/api");
    assert_eq!(handler_base("handler"), "handler");
    assert_eq!(handler_base("./src/api.handler"), "src/api");
    assert_eq!(handler_base(".//src/api.handler"), "src/api");
}

#[test]
fn python_handler_files_follow_module_imports() {
    let f = |handler: &str, runtime: &str| FunctionPlan {
        key: "f".into(),
        handler: handler.into(),
        runtime: runtime.into(),
        architecture: "x86_64".into(),
        individually: false,
        builder: Builder::None,
        entrypoint: None,
        module: ".".into(),
    };
    let dotted = ["handlers/orders.py", "handlers/orders/__init__.py"];
    assert_eq!(
        default_handler_files(&f("handlers.orders.create", "python3.12")),
        dotted
    );
    assert_eq!(
        default_handler_files(&f("handlers/orders.create", "python3.12")),
        dotted
    );
    assert_eq!(
        default_handler_files(&f("./handlers/orders.create", "python3.12")),
        dotted
    );
    assert_eq!(
        default_handler_files(&f("app.main", "python3.12"))[0],
        "app.py"
    );
    // Node's module is a file path: its dots are not turned into folders.
    assert_eq!(
        default_handler_files(&f("./src/api.main", "nodejs22.x")),
        ["src/api.js", "src/api.mjs", "src/api.cjs"]
    );
}

#[test]
fn image_disabled_and_prebuilt_functions_are_not_planned() {
    let tmp = dir_with(&["h.ts"]);
    let s = service(
        json!({"service": "s", "provider": {"name": "aws", "runtime": "nodejs20.x"},
        "functions": {"img": {"image": "x"}, "off": {"handler": "h.h", "package": {"disable": true}},
            "pre": {"handler": "h.h", "package": {"artifact": "a.zip"}}, "f": {"handler": "h.h"}}}),
    );
    let plan = plan(&s, tmp.path()).unwrap();
    assert_eq!(builders(&plan), [("f", Builder::Esbuild)]);
}

/// A workspace monorepo hoists esbuild to the root's `node_modules` (a fake script here: only
/// the lookup is tested); `PATH` holds none.
#[test]
fn esbuild_hoisted_to_an_ancestor_is_found() {
    let repo = dir_with(&["node_modules/.bin/esbuild", "packages/orders/handler.ts"]);
    let service = repo.path().join("packages/orders");
    let empty_path = repo.path().join("no-bin").into_os_string();
    let found = esbuild::find_esbuild(&service, Some(&empty_path)).unwrap();
    assert_eq!(found, repo.path().join("node_modules/.bin/esbuild"));
}
