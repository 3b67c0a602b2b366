//! The plugin host end to end: real v3 plugins pinned in tests/tools (installed by
//! scripts/test.sh) run by the real binary in a Node.js child process. The templates equal
//! what Serverless 3.40.0 with the same plugins produced (tests/fixtures/plugin-host, recorded
//! as its README says), cfn-lint finds no error in them, and `up` to moto runs the deploy hooks
//! with the stage's proven credentials. Failures (a hook that throws, a plugin that is not
//! installed, no Node.js) stop the command before any AWS write.

use std::path::{Path, PathBuf};
use std::process::Command;

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};
use serde_json::Value;

use crate::support::{copy_dir, fixture, offline_run as offline, run, settled_count};

/// The pinned plugins (and Serverless 3.40.0, which service-proxy requires by path).
fn tools_node_modules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tools/node_modules")
}

/// A copy of fixture `name`'s service in `root`, its node_modules linked to the test tools'.
fn service(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    copy_dir(&fixture(&format!("plugin-host/{name}/service")), &dir);
    let modules = tools_node_modules();
    assert!(
        modules.join("serverless/package.json").is_file(),
        "the pinned plugins are missing: run `npm ci --prefix tests/tools` (scripts/test.sh does)"
    );
    std::os::unix::fs::symlink(modules, dir.join("node_modules")).unwrap();
    dir
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn expected(name: &str, file: &str) -> Value {
    read_json(&fixture(&format!(
        "plugin-host/{name}/expected/serverless-v3/dev/{file}"
    )))
}

/// What differs from one run to the next (see tests/fixtures/README.md): the deployment
/// directory, the API deployment's suffix, version hashes and code hashes (other zips).
fn normalise(template: &Value) -> Value {
    let text = serde_json::to_string(template).unwrap();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    // `serverless/<service>/<stage>/<ms>-<ISO time>/…`: the last segment becomes DIR.
    while let Some(at) = rest.find("serverless/") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let segments: Vec<&str> = tail.splitn(4, '/').collect();
        let stamp = segments
            .get(3)
            .map(|s| &s[..s.find(['/', '"', '\\']).unwrap_or(s.len())]);
        match stamp {
            Some(stamp) if stamp.ends_with('Z') && stamp.contains('-') => {
                let kept = format!("serverless/{}/{}/", segments[1], segments[2]);
                out.push_str(&kept);
                out.push_str("DIR");
                rest = &tail[kept.len() + stamp.len()..];
            }
            _ => {
                out.push_str("serverless/");
                rest = &tail["serverless/".len()..];
            }
        }
    }
    out.push_str(rest);
    let mut value: Value = serde_json::from_str(&out).unwrap();
    rename_varying_ids(&mut value);
    value
}

/// `ApiGatewayDeployment<ms>` and `<Fn>LambdaVersion<hash>` keys and references, and
/// `CodeSha256` values, made run-independent.
fn rename_varying_ids(value: &mut Value) {
    let fix = |s: &str| -> String {
        for marker in ["ApiGatewayDeployment", "LambdaVersion"] {
            if let Some(at) = s.find(marker) {
                let end = at + marker.len();
                let tail = &s[end..];
                let id_len = tail.chars().take_while(char::is_ascii_alphanumeric).count();
                if id_len > 0 {
                    return format!("{}{marker}X{}", &s[..at], &tail[id_len..]);
                }
            }
        }
        s.to_string()
    };
    match value {
        Value::Object(map) => {
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (key, mut v) in entries {
                if key == "CodeSha256" {
                    v = Value::String("X".into());
                }
                rename_varying_ids(&mut v);
                map.insert(fix(&key), v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rename_varying_ids),
        Value::String(s) => *s = fix(s),
        _ => {}
    }
}

fn package_equals_v3(name: &str) -> PathBuf {
    let root = tempfile::tempdir().unwrap().keep();
    let dir = service(&root, name);
    let r = offline(&dir, &["package", "--stage", "dev", "--offline", "--json"]);
    assert_eq!(r.code, 0, "{name}: {r:?}");
    let plugins = r.json()["plugins"].clone();
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["treatment"] == "host"),
        "{plugins}"
    );
    let got = read_json(&dir.join(".serverless/cloudformation-template-update-stack.json"));
    let want = expected(name, "cloudformation-template-update-stack.json");
    assert_eq!(
        normalise(&got),
        normalise(&want),
        "{name}: the template differs from Serverless v3's with the same plugin"
    );
    dir
}

/// Entry names of the zips in `.serverless`, as tests/fixtures' zip-contents.txt lists them.
fn zip_entries(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir.join(".serverless")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "zip") {
            let file = std::fs::File::open(&path).unwrap();
            let mut zip = zip::ZipArchive::new(file).unwrap();
            for i in 0..zip.len() {
                names.push(zip.by_index(i).unwrap().name().unwrap().to_string());
            }
        }
    }
    names.sort();
    names
}

fn expected_entries(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixture(&format!(
        "plugin-host/{name}/expected/serverless-v3/dev/zip-contents.txt"
    )))
    .unwrap();
    let mut names: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.trim().split('\t').next().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn cfn_lint(files: &[PathBuf]) {
    let output = Command::new("cfn-lint")
        .args(files)
        .output()
        .expect("cfn-lint (pip install -r requirements-test.txt)");
    let code = output.status.code().unwrap_or(-1);
    // Exit code bits: 2 = error (1 = cfn-lint itself failed).
    assert!(
        code >= 0 && code & 3 == 0,
        "cfn-lint reported errors (exit {code}):\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn template_plugins_compile_what_serverless_v3_compiles_and_cfn_lint_agrees() {
    let mut templates = Vec::new();
    for name in [
        "service-proxy",
        "aws-alerts",
        "export-outputs",
        "local-plugin",
    ] {
        let dir = package_equals_v3(name);
        templates.push(dir.join(".serverless/cloudformation-template-update-stack.json"));
    }
    cfn_lint(&templates);
}

#[test]
fn packaging_plugins_add_their_files_to_the_zip_as_in_v3() {
    for name in ["wsgi", "local-plugin"] {
        let dir = package_equals_v3(name);
        assert_eq!(zip_entries(&dir), expected_entries(name), "{name}");
    }
    // serverless-wsgi removes what it added once the zip is written.
    let dir = package_equals_v3("wsgi");
    assert!(!dir.join("wsgi_handler.py").exists());
}

#[test]
fn split_stacks_calls_aws_while_packaging_with_the_proven_stage() {
    let bed = TestBed::standard();
    let dir = service(bed.path(), "split-stacks");
    let offline = run(&bed, &dir, &["package", "--stage", "dev", "--offline"], &[]);
    assert_eq!(offline.code, 1, "{offline:?}");
    assert!(
        offline
            .stderr
            .contains("asked for AWS (CloudFormation.listStackResources)"),
        "{}",
        offline.stderr
    );
    // With credentials the stage is opened (guard first) and the plugin's call goes out.
    let r = run(&bed, &dir, &["package", "--stage", "dev", "--json"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let calls = r.json()["awsCalls"].to_string();
    assert!(calls.contains("ListStackResources"), "{calls}");
    let got = read_json(&dir.join(".serverless/cloudformation-template-update-stack.json"));
    let want = expected("split-stacks", "cloudformation-template-update-stack.json");
    assert_eq!(normalise(&got), normalise(&want));
    let nested_dir = fixture("plugin-host/split-stacks/expected/serverless-v3/dev");
    let mut nested = Vec::new();
    for entry in std::fs::read_dir(&nested_dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.contains("nested-stack") {
            let got = read_json(&dir.join(".serverless").join(&name));
            assert_eq!(
                normalise(&got),
                normalise(&read_json(&nested_dir.join(&name))),
                "{name}"
            );
            nested.push(dir.join(".serverless").join(&name));
        }
    }
    assert!(!nested.is_empty(), "split-stacks wrote its nested stacks");
    nested.push(dir.join(".serverless/cloudformation-template-update-stack.json"));
    cfn_lint(&nested);
}

#[test]
fn up_runs_the_deploy_hooks_with_the_proven_credentials() {
    let bed = TestBed::standard();
    let dir = service(bed.path(), "local-plugin");
    let r = run(&bed, &dir, &["up", "--stage", "dev", "--json", "-v"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    // The plugin's resource and output were deployed.
    assert!(j["outputs"].as_object().unwrap().len() > 1, "{j}");
    // Its after:deploy:deploy hook called S3 ListBuckets through the host, counted.
    assert!(
        j["awsCalls"].to_string().contains("ListBuckets"),
        "{}",
        j["awsCalls"]
    );
    assert!(r.stderr.contains("./plugins/add-output:"), "{}", r.stderr);
    assert!(r.stderr.contains("buckets"), "{}", r.stderr);
}

#[test]
fn export_outputs_writes_the_deployed_stack_outputs_after_up() {
    let bed = TestBed::standard();
    let dir = service(bed.path(), "export-outputs");
    let r = run(&bed, &dir, &["up", "--stage", "dev", "--json"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    let bucket = j["outputs"]["UploadsBucketName"]
        .as_str()
        .unwrap()
        .to_string();
    // The plugin's after:deploy:deploy hook read the stack through the host (DescribeStacks
    // with the stage's credentials, counted) and wrote the file v3 writes.
    assert!(
        j["awsCalls"].to_string().contains("DescribeStacks"),
        "{}",
        j["awsCalls"]
    );
    let written = read_json(&dir.join("stack-outputs.json"));
    assert_eq!(written["UploadsBucketName"], bucket.as_str(), "{written}");
    assert_eq!(written["Region"], "us-east-1", "{written}");
}

#[test]
fn aws_alerts_deploy_to_moto() {
    let bed = TestBed::standard();
    let dir = service(bed.path(), "aws-alerts");
    let r = run(&bed, &dir, &["up", "--stage", "dev", "--json"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["status"], "deployed", "{j}");
    assert!(
        j["stackStatus"].as_str().unwrap().ends_with("_COMPLETE"),
        "{j}"
    );
    // The plugin's alarms and topic are in the deployed template.
    let template = read_json(&dir.join(".serverless/cloudformation-template-update-stack.json"));
    let alarms = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .count();
    assert!(alarms >= 3, "{alarms}");
}

const THROWS: &str = "module.exports = class {
  constructor(sls) {
    this.hooks = { 'package:compileEvents': () => { throw new sls.classes.Error('custom.limit must be set'); } };
  }
};
";

const SERVICE: &str = "service: hooked
provider:
  name: aws
  runtime: nodejs22.x
  region: us-east-1
plugins:
  - ./plugins/check
functions:
  hello:
    handler: handler.hello
";

fn local_service(root: &Path, plugin: Option<&str>) -> PathBuf {
    let dir = root.join("hooked");
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::write(dir.join("serverless.yml"), SERVICE).unwrap();
    std::fs::write(dir.join("handler.js"), "exports.hello = async () => 1;\n").unwrap();
    if let Some(plugin) = plugin {
        std::fs::write(dir.join("plugins/check.js"), plugin).unwrap();
    }
    dir
}

/// A dedicated server, for the tests that count requests (the shared one serves other tests).
fn counted() -> Moto {
    Moto::start().expect("starting a dedicated moto server")
}

fn bed(moto: &Moto) -> TestBed<'_> {
    let profiles = [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ];
    TestBed::with_profiles(moto, &profiles).unwrap()
}

#[test]
fn a_hook_that_throws_stops_up_before_any_write() {
    let moto = counted();
    let bed = bed(&moto);
    let dir = local_service(bed.path(), Some(THROWS));
    let before = settled_count(bed.moto());
    let r = run(&bed, &dir, &["up", "--stage", "dev", "--json"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["error"]["kind"], "plugin", "{j}");
    let message = j["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "plugin ./plugins/check failed in hook package:compileEvents: custom.limit must be set"
        ),
        "{message}"
    );
    // Only the guard's GetCallerIdentity reached AWS: nothing was written.
    assert_eq!(settled_count(bed.moto()) - before, 1, "{r:?}");
}

#[test]
fn a_plugin_that_is_not_installed_or_no_node_stops_before_any_aws_call() {
    let moto = counted();
    let bed = bed(&moto);
    let dir = local_service(bed.path(), None);
    let yml = SERVICE.replace("./plugins/check", "serverless-plugin-not-installed");
    std::fs::write(dir.join("serverless.yml"), yml).unwrap();
    let before = settled_count(bed.moto());
    let r = run(&bed, &dir, &["up", "--stage", "dev"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("npm install --save-dev serverless-plugin-not-installed"),
        "{}",
        r.stderr
    );
    assert_eq!(settled_count(bed.moto()), before, "no AWS call");

    // Installed, but no `node` on PATH.
    std::fs::write(dir.join("serverless.yml"), SERVICE).unwrap();
    std::fs::write(dir.join("plugins/check.js"), THROWS).unwrap();
    let before = settled_count(bed.moto());
    let r = run(
        &bed,
        &dir,
        &["up", "--stage", "dev", "-v"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("needs Node.js"), "{}", r.stderr);
    assert!(
        r.stderr.contains("--ignore-plugin ./plugins/check"),
        "{}",
        r.stderr
    );
    assert_eq!(settled_count(bed.moto()), before, "no AWS call: {r:?}");
}
