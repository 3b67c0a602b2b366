//! Builds through the binary: `deployer package` on the plugin fixtures (esbuild bundles, pip
//! requirements) against what Serverless v3 with the plugins wrote, the code in the zips loads,
//! a TypeScript service deployed to moto runs the bundle, and build errors stop the command
//! before any AWS write. esbuild is the pinned one of tests/tools (scripts/test.sh installs it);
//! the Python fixture's wheels come from PyPI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use deployer_testbed::TestBed;
use serde_json::Value;

use crate::deploy::account;
use crate::package::{normalise, read_json};
use crate::support::{Run, copy_dir, deployer_bin, fixture, run, seed_service};

/// The pinned esbuild and the packages the esbuild fixture bundles (`uuid`, `zod`).
pub(crate) fn tools_node_modules() -> PathBuf {
    let dir = fixture("../tools/node_modules");
    assert!(
        dir.join(".bin/esbuild").is_file(),
        "{} has no esbuild: run scripts/test.sh (or `npm ci --prefix tests/tools`) first",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

pub(crate) fn link_node_modules(dir: &Path) {
    std::os::unix::fs::symlink(tools_node_modules(), dir.join("node_modules")).unwrap();
}

/// A copy of a fixture's service in a fresh temporary directory.
fn copy_service(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name).join("service"), dir.path());
    dir
}

/// `deployer ARGS` offline in `dir`, with `env` on top of the test's environment.
fn deployer(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(deployer_bin());
    cmd.args(args)
        .current_dir(dir)
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run deployer")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `deployer package --json --stage STAGE`, which must succeed; returns its JSON.
fn package_json(dir: &Path, stage: &str) -> Value {
    let out = deployer(dir, &["package", "--json", "--stage", stage], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Entry names of each zip in a fixture's `zip-contents.txt`, sorted.
fn expected_names(fixture_name: &str, stage: &str) -> Vec<String> {
    let path = fixture(fixture_name)
        .join("expected/serverless-v3")
        .join(stage)
        .join("zip-contents.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// A zip's entry names, sorted (read with Python's zipfile, an independent reader).
fn zip_names(zip: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(zip)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

fn unzip(zip: &Path) -> tempfile::TempDir {
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(zip)
        .arg(dest.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    dest
}

/// The packaged templates equal v3's once the run-dependent parts are normalised.
fn assert_templates_match(dir: &Path, fixture_name: &str, stage: &str) {
    let expected = fixture(fixture_name)
        .join("expected/serverless-v3")
        .join(stage);
    for file in [
        "cloudformation-template-update-stack.json",
        "cloudformation-template-create-stack.json",
    ] {
        let got = read_json(&dir.join(".serverless").join(file));
        let want = read_json(&expected.join(file));
        assert_eq!(
            normalise(&got),
            normalise(&want),
            "{fixture_name}/{stage}/{file}"
        );
    }
}

fn only_artifact(json: &Value) -> PathBuf {
    let artifacts = json["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{json}");
    PathBuf::from(artifacts[0]["path"].as_str().unwrap())
}

#[test]
fn esbuild_fixture_packages_like_v3_and_its_handlers_load() {
    for stage in ["dev", "prod"] {
        let service = copy_service("plugin-esbuild");
        link_node_modules(service.path());
        let json = package_json(service.path(), stage);
        assert_eq!(json["builds"]["built"], 3, "{json}");
        assert_eq!(json["builds"]["functions"]["getOrder"], "esbuild");
        assert_templates_match(service.path(), "plugin-esbuild", stage);
        let zip = only_artifact(&json);
        assert_eq!(zip_names(&zip), expected_names("plugin-esbuild", stage));

        let unpacked = unzip(&zip);
        for handler in ["create", "get", "process"] {
            let script = format!(
                "const m = require('./src/handlers/{handler}.js'); \
                 if (typeof m.handler !== 'function') {{ throw new Error('no handler'); }}"
            );
            let out = Command::new("node")
                .args(["-e", &script])
                .current_dir(unpacked.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{handler}: {}", stderr(&out));
        }

        // Unchanged sources: nothing rebuilt, the same zip bytes.
        let before = std::fs::read(&zip).unwrap();
        let again = package_json(service.path(), stage);
        assert_eq!(again["builds"]["built"], 0, "{again}");
        assert_eq!(again["builds"]["cached"], 3, "{again}");
        assert_eq!(std::fs::read(&zip).unwrap(), before);
    }
}

#[test]
fn python_fixture_packages_like_v3_and_imports() {
    for stage in ["dev", "prod"] {
        let service = copy_service("plugin-python");
        let json = package_json(service.path(), stage);
        assert_eq!(json["builds"]["functions"]["now"], "pip", "{json}");
        assert_templates_match(service.path(), "plugin-python", stage);
        let zip = only_artifact(&json);
        assert_eq!(zip_names(&zip), expected_names("plugin-python", stage));
        let script = "import sys; sys.path.insert(0, sys.argv[1]); import handler, six, dateutil.tz; \
                      assert callable(handler.now); r = handler.now({}, None); \
                      assert r['statusCode'] == 200, r";
        let out = Command::new("python3")
            .args(["-I", "-c", script])
            .arg(&zip)
            .output()
            .unwrap();
        assert!(out.status.success(), "{stage}: {}", stderr(&out));
    }
}

#[test]
fn verbose_names_the_builder_of_each_function() {
    let service = copy_service("plugin-esbuild");
    link_node_modules(service.path());
    let out = deployer(service.path(), &["package", "--verbose"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for key in ["createOrder", "getOrder", "processOrders"] {
        assert!(
            err.contains(&format!("function {key}: built with esbuild")),
            "{err}"
        );
    }
}

#[test]
fn a_typescript_syntax_error_shows_esbuilds_file_and_line() {
    let service = copy_service("plugin-esbuild");
    link_node_modules(service.path());
    std::fs::write(
        service.path().join("src/handlers/get.ts"),
        "export const handler = async () => {\n  return { statusCode: 200 ;\n};\n",
    )
    .unwrap();
    let out = deployer(service.path(), &["package"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("src/handlers/get.ts:2:"), "{err}");
    assert!(err.contains("[ERROR]"), "esbuild's own message: {err}");
    assert!(!service.path().join(".serverless/orders.zip").exists());
}

/// The seed service (stage dev → devAccount) with its handlers in TypeScript.
fn typescript_seed(bed: &TestBed<'_>, name: &str) -> PathBuf {
    let dir = seed_service(bed, name, |yml| {
        yml.replacen("service: service-name", &format!("service: {name}"), 1)
    });
    std::fs::remove_file(dir.join("handler.js")).unwrap();
    std::fs::write(
        dir.join("handler.ts"),
        "import { z } from 'zod';\n\
         const Body = z.object({ message: z.string() });\n\
         export const hello = async (): Promise<{ statusCode: number; body: string }> => ({\n\
         \x20 statusCode: 200,\n\
         \x20 body: JSON.stringify(Body.parse({ message: 'hello' })),\n\
         });\n\
         export const cron = async (): Promise<void> => {};\n",
    )
    .unwrap();
    link_node_modules(&dir);
    dir
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

#[test]
fn a_typescript_service_deploys_its_bundle_and_redeploys_from_the_cache() {
    let bed = TestBed::standard();
    let dir = typescript_seed(&bed, "tsdeploy");
    let acct = account(&bed, "devAccount");
    let first = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&first);
    let j = first.json();
    assert_eq!(j["status"], "deployed", "{j}");
    assert_eq!(j["builds"]["built"], 1, "one entry for both handlers: {j}");
    let zip = dir.join(".serverless/tsdeploy.zip");
    assert_eq!(zip_names(&zip), ["handler.js"]);
    let local = deployer_package::sha256_base64_file(&zip).unwrap();
    for function in ["tsdeploy-dev-hello", "tsdeploy-dev-cron"] {
        assert_eq!(acct.code_sha(function), Some(local.clone()), "{function}");
    }

    let again = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&again);
    let j = again.json();
    assert_eq!(j["status"], "unchanged", "{j}");
    assert_eq!(j["builds"]["built"], 0, "{j}");
    assert_eq!(j["builds"]["cached"], 1, "{j}");
}

/// Exit 1 with `needle` on stderr, and nothing created in the dev account.
fn assert_fails_before_aws_writes(bed: &TestBed<'_>, r: &Run, name: &str, needle: &str) {
    assert_eq!(r.code, 1, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    let acct = account(bed, "devAccount");
    assert_eq!(acct.stack_status(&format!("{name}-dev")), None);
    assert!(
        !acct.buckets().iter().any(|b| b.starts_with(name)),
        "no bucket"
    );
}

#[test]
fn missing_esbuild_fails_up_before_any_aws_write() {
    let bed = TestBed::standard();
    let dir = typescript_seed(&bed, "noesbuild");
    std::fs::remove_file(dir.join("node_modules")).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let r = run(&bed, &dir, &["up"], &[("PATH", path)]);
    assert_fails_before_aws_writes(&bed, &r, "noesbuild", "npm install --save-dev esbuild");
}

#[test]
fn a_missing_handler_file_fails_up_before_upload() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "nohandler", |yml| {
        yml.replacen("service: service-name", "service: nohandler", 1)
            .replacen("handler: handler.cron", "handler: jobs/cron.run", 1)
    });
    let r = run(&bed, &dir, &["up"], &[]);
    assert_fails_before_aws_writes(&bed, &r, "nohandler", "jobs/cron.js");
    assert!(r.stderr.contains("cron"), "{}", r.stderr);
}

/// The esbuild fixture's package.json and lock (uuid, zod) with three individually packaged
/// functions: `ids` imports uuid, `shapes` zod, `plain` no package.
fn individually_service(individually: bool) -> tempfile::TempDir {
    let service = copy_service("plugin-esbuild");
    link_node_modules(service.path());
    let yml = format!(
        "service: split\nplugins:\n  - serverless-esbuild\nprovider:\n  name: aws\n  runtime: nodejs20.x\n\
         package:\n  individually: {individually}\ncustom:\n  esbuild:\n    external:\n      - uuid\n      - zod\n\
         functions:\n  ids:\n    handler: ids.handler\n  shapes:\n    handler: shapes.handler\n  plain:\n    handler: plain.handler\n"
    );
    std::fs::write(service.path().join("serverless.yml"), yml).unwrap();
    let handlers = [
        (
            "ids.ts",
            "import { v4 } from 'uuid';\nexport const handler = async () => v4();\n",
        ),
        (
            "shapes.ts",
            "import { z } from 'zod';\nexport const handler = async () => z.string().parse('ok');\n",
        ),
        (
            "plain.ts",
            "import { readFileSync } from 'node:fs';\nexport const handler = async () => typeof readFileSync;\n",
        ),
    ];
    for (file, code) in handlers {
        std::fs::write(service.path().join(file), code).unwrap();
    }
    service
}

/// The top-level `node_modules/` entries of a zip (`uuid`, `.bin`, `.package-lock.json`).
fn top_node_modules(zip: &Path) -> Vec<String> {
    let mut top: Vec<String> = zip_names(zip)
        .iter()
        .filter_map(|n| n.strip_prefix("node_modules/"))
        .map(|rest| rest.split('/').next().unwrap().to_string())
        .collect();
    top.dedup();
    top
}

#[test]
fn individually_packaged_functions_carry_only_the_packages_their_bundle_imports() {
    let service = individually_service(true);
    let json = package_json(service.path(), "dev");
    let zips = service.path().join(".serverless");
    for (function, packages) in [("ids", &["uuid"][..]), ("shapes", &["zod"]), ("plain", &[])] {
        let zip = zips.join(format!("{function}.zip"));
        assert_eq!(top_node_modules(&zip), packages, "{function}: {json}");
        // The handler loads with only what its zip holds.
        let unpacked = unzip(&zip);
        let script = format!(
            "require('./{function}.js').handler().then(r => {{ if (r === undefined) process.exit(1); }})"
        );
        let out = Command::new("node")
            .args(["-e", &script])
            .current_dir(unpacked.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{function}: {}", stderr(&out));
    }

    // From the cache: the same selection, the same bytes.
    let before = std::fs::read(zips.join("ids.zip")).unwrap();
    let again = package_json(service.path(), "dev");
    assert_eq!(again["builds"]["built"], 0, "{again}");
    assert_eq!(std::fs::read(zips.join("ids.zip")).unwrap(), before);

    // A declared external that no bundle imports is named, not dropped silently.
    let yml = service.path().join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    let without = text.replace("  shapes:\n    handler: shapes.handler\n", "");
    std::fs::write(&yml, without).unwrap();
    let out = deployer(service.path(), &["package"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "custom.esbuild.external: zod is imported by no bundle, so the zips of the individually packaged functions ids, plain leave it out"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_service_zip_keeps_the_whole_installed_tree() {
    let service = individually_service(false);
    let json = package_json(service.path(), "dev");
    let zip = only_artifact(&json);
    assert_eq!(
        top_node_modules(&zip),
        [".bin", ".package-lock.json", "uuid", "zod"]
    );
}

#[test]
fn without_bundling_each_entry_is_only_transpiled() {
    let service = copy_service("plugin-esbuild");
    link_node_modules(service.path());
    let yml = "service: flat\nplugins:\n  - serverless-esbuild\nprovider:\n  name: aws\n  runtime: nodejs20.x\n\
               custom:\n  esbuild:\n    bundle: false\nfunctions:\n  flat:\n    handler: flat.handler\n";
    std::fs::write(service.path().join("serverless.yml"), yml).unwrap();
    std::fs::write(
        service.path().join("flat.ts"),
        "const greeting: string = 'hi';\nexport const handler = async () => greeting;\n",
    )
    .unwrap();
    let json = package_json(service.path(), "dev");
    let zip = only_artifact(&json);
    let names = zip_names(&zip);
    assert!(names.contains(&"flat.js".to_string()), "{names:?}");
    let unpacked = unzip(&zip);
    let out = Command::new("node")
        .args([
            "-e",
            "require('./flat.js').handler().then(r => { if (r !== 'hi') process.exit(1); })",
        ])
        .current_dir(unpacked.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}
