//! Behaviour of `deployer_package::package` on generated service trees.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{chmod, names, read_zip, strings, write};
use deployer_package::{
    FunctionPackaging, PackageError, PackageRequest, package, sha256_base64_file,
};

fn function(key: &str) -> FunctionPackaging {
    FunctionPackaging {
        key: key.to_string(),
        ..Default::default()
    }
}

fn request(dir: &Path, functions: &[&str]) -> PackageRequest {
    PackageRequest {
        service_dir: dir.to_path_buf(),
        service_name: "svc".to_string(),
        config_file: Some("serverless.yml".to_string()),
        functions: functions.iter().map(|k| function(k)).collect(),
        ..Default::default()
    }
}

/// A small Node-style service.
fn sample_service(dir: &Path) {
    write(dir, "serverless.yml", b"service: svc\n");
    write(
        dir,
        "handler.js",
        b"module.exports.hello = async () => ({ statusCode: 200 });\n",
    );
    write(dir, "lib/Zeta.js", b"exports.z = 1;\n");
    write(dir, "lib/alpha.js", b"exports.a = 1;\n");
    write(dir, "lib_extra/x.js", b"exports.x = 1;\n");
    let script = write(dir, "bin/run.sh", b"#!/bin/sh\necho hi\n");
    chmod(&script, 0o755);
    write(dir, "empty.txt", b"");
}

#[test]
fn entries_have_fixed_dates_modes_order_and_no_directories() {
    let svc = tempfile::tempdir().unwrap();
    sample_service(svc.path());
    let out = tempfile::tempdir().unwrap();
    let result = package(&request(svc.path(), &["hello"]), out.path()).unwrap();

    assert_eq!(result.artifacts.len(), 1);
    let artifact = &result.artifacts[0];
    assert_eq!(artifact.name, "svc.zip");
    assert_eq!(artifact.path, out.path().join("svc.zip"));
    assert!(!artifact.prebuilt);
    assert_eq!(artifact.functions, ["hello"]);
    assert_eq!(result.function_artifacts["hello"], "svc.zip");

    let entries = read_zip(&artifact.path);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    // localeCompare order: `_` before `/`, case-insensitive first.
    assert_eq!(
        names,
        [
            "bin/run.sh",
            "empty.txt",
            "handler.js",
            "lib_extra/x.js",
            "lib/alpha.js",
            "lib/Zeta.js"
        ]
    );
    for entry in &entries {
        assert_eq!(entry.date, (1980, 1, 1, 0, 0, 0), "{}", entry.name);
        assert!(
            entry.deflated && entry.unix && !entry.is_dir,
            "{}",
            entry.name
        );
        let expected_mode = if entry.name == "bin/run.sh" {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(entry.mode, expected_mode, "{}", entry.name);
    }
    assert_eq!(entries[1].size, 0);
    assert_eq!(
        artifact.sha256_base64,
        sha256_base64_file(&artifact.path).unwrap()
    );
    assert_eq!(artifact.size, fs::metadata(&artifact.path).unwrap().len());
}

#[test]
fn same_bytes_across_runs_and_after_touching_files() {
    let svc = tempfile::tempdir().unwrap();
    sample_service(svc.path());
    let req = request(svc.path(), &["hello"]);
    let first_out = tempfile::tempdir().unwrap();
    let first = package(&req, first_out.path()).unwrap();
    let first_bytes = fs::read(&first.artifacts[0].path).unwrap();

    // Move every mtime far into the past, as a fresh checkout on another machine would.
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for rel in ["handler.js", "lib/alpha.js", "lib/Zeta.js", "bin/run.sh"] {
        let file = fs::File::options()
            .write(true)
            .open(svc.path().join(rel))
            .unwrap();
        file.set_modified(past).unwrap();
    }
    let second_out = tempfile::tempdir().unwrap();
    let second = package(&req, second_out.path()).unwrap();
    assert_eq!(fs::read(&second.artifacts[0].path).unwrap(), first_bytes);
    assert_eq!(
        second.artifacts[0].sha256_base64,
        first.artifacts[0].sha256_base64
    );

    // Content changes do change the hash.
    write(svc.path(), "handler.js", b"changed\n");
    let third_out = tempfile::tempdir().unwrap();
    let third = package(&req, third_out.path()).unwrap();
    assert_ne!(
        third.artifacts[0].sha256_base64,
        first.artifacts[0].sha256_base64
    );
}

#[test]
fn executable_bit_alone_changes_the_mode_and_hash() {
    let svc = tempfile::tempdir().unwrap();
    let file = write(svc.path(), "main.py", b"print('x')\n");
    chmod(&file, 0o644);
    let req = request(svc.path(), &["f"]);
    let out = tempfile::tempdir().unwrap();
    let plain = package(&req, out.path()).unwrap().artifacts.remove(0);
    assert_eq!(read_zip(&plain.path)[0].mode, 0o100644);

    // Only the owner-execute bit counts; group/other execute bits are ignored.
    chmod(&file, 0o654);
    let out2 = tempfile::tempdir().unwrap();
    let still_plain = package(&req, out2.path()).unwrap().artifacts.remove(0);
    assert_eq!(still_plain.sha256_base64, plain.sha256_base64);

    chmod(&file, 0o744);
    let out3 = tempfile::tempdir().unwrap();
    let exec = package(&req, out3.path()).unwrap().artifacts.remove(0);
    assert_eq!(read_zip(&exec.path)[0].mode, 0o100755);
    assert_ne!(exec.sha256_base64, plain.sha256_base64);
}

#[test]
fn default_excludes_apply_and_dotfiles_are_included() {
    let svc = tempfile::tempdir().unwrap();
    for rel in [
        "serverless.yml",
        ".git/HEAD",
        ".git/objects/ab/cdef",
        ".gitignore",
        ".DS_Store",
        "npm-debug.log",
        "yarn-error.log",
        ".serverless/old.zip",
        ".serverless_plugins/p.js",
        ".env",
        ".env.dev",
        ".npmrc",
        "src/.DS_Store",
        "src/app.js",
        "src/.gitignore",
    ] {
        write(svc.path(), rel, rel.as_bytes());
    }
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["f"]);
    let result = package(&req, out.path()).unwrap();
    // `.DS_Store`/`.gitignore` are only excluded at the top level, as in v3.
    assert_eq!(
        names(&result.artifacts[0].path),
        [
            ".env",
            ".env.dev",
            ".npmrc",
            "src/.DS_Store",
            "src/.gitignore",
            "src/app.js"
        ]
    );

    req.use_dotenv = true;
    let out2 = tempfile::tempdir().unwrap();
    let result = package(&req, out2.path()).unwrap();
    assert_eq!(
        names(&result.artifacts[0].path),
        [".npmrc", "src/.DS_Store", "src/.gitignore", "src/app.js"]
    );
}

#[test]
fn patterns_apply_in_order_with_negation_and_re_include() {
    let svc = tempfile::tempdir().unwrap();
    for rel in [
        "src/a.js",
        "src/b.js",
        "src/test/a.test.js",
        "docs/readme.md",
        "docs/keep.md",
        "node_modules/x/index.js",
    ] {
        write(svc.path(), rel, b"x");
    }
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["f"]);
    req.patterns = strings(&[
        "!docs/**",
        "docs/keep.md",
        "!src/test/**",
        "!node_modules/**",
    ]);
    let result = package(&req, out.path()).unwrap();
    assert_eq!(
        names(&result.artifacts[0].path),
        ["docs/keep.md", "src/a.js", "src/b.js"]
    );

    // Reversed order: the later exclusion wins over the earlier include.
    req.patterns = strings(&["docs/keep.md", "!docs/**"]);
    let out2 = tempfile::tempdir().unwrap();
    let result = package(&req, out2.path()).unwrap();
    assert!(!names(&result.artifacts[0].path).contains(&"docs/keep.md".to_string()));

    // Deprecated exclude/include: excludes first (negated), then includes.
    req.patterns.clear();
    req.exclude = strings(&["src/**"]);
    req.include = strings(&["src/a.js"]);
    let out3 = tempfile::tempdir().unwrap();
    let result = package(&req, out3.path()).unwrap();
    assert_eq!(
        names(&result.artifacts[0].path),
        [
            "docs/keep.md",
            "docs/readme.md",
            "node_modules/x/index.js",
            "src/a.js"
        ]
    );
}

#[test]
fn individually_uses_function_patterns_after_service_patterns() {
    let svc = tempfile::tempdir().unwrap();
    for rel in ["common/util.py", "a/main.py", "b/main.py", "b/secret.txt"] {
        write(svc.path(), rel, rel.as_bytes());
    }
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["a", "b"]);
    req.individually = true;
    req.patterns = strings(&["!**", "common/**"]);
    req.functions[0].patterns = strings(&["a/**"]);
    req.functions[1].patterns = strings(&["b/**", "!b/secret.txt"]);
    let result = package(&req, out.path()).unwrap();

    let by_name: Vec<(&str, Vec<String>)> = result
        .artifacts
        .iter()
        .map(|a| (a.name.as_str(), names(&a.path)))
        .collect();
    assert_eq!(
        by_name,
        [
            ("a.zip", strings(&["a/main.py", "common/util.py"])),
            ("b.zip", strings(&["b/main.py", "common/util.py"])),
        ]
    );
    assert_eq!(result.function_artifacts["a"], "a.zip");
    assert_eq!(result.function_artifacts["b"], "b.zip");
}

#[test]
fn function_level_individually_mixes_with_the_service_zip() {
    let svc = tempfile::tempdir().unwrap();
    for rel in ["shared.js", "solo/x.js", "old/y.js"] {
        write(svc.path(), rel, rel.as_bytes());
    }
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["main", "solo", "other"]);
    req.functions[1].individually = true;
    req.functions[1].exclude = strings(&["old/**"]);
    // Function patterns are ignored without individually (v3 only warns).
    req.functions[2].patterns = strings(&["!shared.js"]);
    let result = package(&req, out.path()).unwrap();

    assert_eq!(result.artifacts[0].name, "svc.zip");
    assert_eq!(result.artifacts[0].functions, ["main", "other"]);
    assert_eq!(
        names(&result.artifacts[0].path),
        ["old/y.js", "shared.js", "solo/x.js"]
    );
    assert_eq!(result.artifacts[1].name, "solo.zip");
    assert_eq!(names(&result.artifacts[1].path), ["shared.js", "solo/x.js"]);
}

#[test]
fn a_zip_does_not_depend_on_files_shared_with_other_functions() {
    let svc = tempfile::tempdir().unwrap();
    for rel in ["common/util.py", "a/main.py", "b/main.py"] {
        write(svc.path(), rel, rel.repeat(50).as_bytes());
    }
    let mut req = request(svc.path(), &["a"]);
    req.individually = true;
    req.patterns = strings(&["!**", "common/**"]);
    req.functions[0].patterns = strings(&["a/**"]);
    let alone_out = tempfile::tempdir().unwrap();
    let alone = package(&req, alone_out.path()).unwrap();

    // With `b` sharing common/, that file is compressed once for both zips.
    let mut b = function("b");
    b.patterns = strings(&["b/**"]);
    req.functions.push(b);
    let both_out = tempfile::tempdir().unwrap();
    let both = package(&req, both_out.path()).unwrap();
    assert_eq!(both.artifacts.len(), 2);
    assert_eq!(
        fs::read(&both.artifacts[0].path).unwrap(),
        fs::read(&alone.artifacts[0].path).unwrap()
    );
    assert_eq!(
        names(&both.artifacts[1].path),
        ["b/main.py", "common/util.py"]
    );
}

#[test]
fn identical_selections_give_identical_copies() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.py", b"x = 1\n");
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["one", "two"]);
    req.individually = true;
    let result = package(&req, out.path()).unwrap();
    let [one, two] = &result.artifacts[..] else {
        panic!("two artifacts expected")
    };
    assert_eq!(
        (one.name.as_str(), two.name.as_str()),
        ("one.zip", "two.zip")
    );
    assert_eq!(fs::read(&one.path).unwrap(), fs::read(&two.path).unwrap());
    assert_eq!(one.sha256_base64, two.sha256_base64);
    assert_eq!(two.sha256_base64, sha256_base64_file(&two.path).unwrap());
}

#[test]
fn prebuilt_artifacts_are_used_as_is() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    let service_zip = write(svc.path(), "build/service.zip", b"not really a zip");
    let fn_zip = write(svc.path(), "build/special.zip", b"another prebuilt file");
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["a", "b", "c"]);
    req.artifact = Some(PathBuf::from("build/service.zip"));
    req.functions[1].artifact = Some(PathBuf::from("build/special.zip"));
    req.functions[2].artifact = Some(fn_zip.clone());
    let result = package(&req, out.path()).unwrap();

    assert_eq!(result.artifacts.len(), 2);
    let service = &result.artifacts[0];
    assert_eq!(service.name, "service.zip");
    assert_eq!(service.path, service_zip);
    assert!(service.prebuilt);
    assert_eq!(service.functions, ["a"]);
    assert_eq!(
        service.sha256_base64,
        sha256_base64_file(&service_zip).unwrap()
    );
    assert_eq!(service.size, 16);
    let special = &result.artifacts[1];
    assert_eq!(special.name, "special.zip");
    assert_eq!(special.functions, ["b", "c"]);
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing zipped"
    );

    // With service-level individually, functions without their own setting still use the
    // service artifact; a function-level individually builds its own zip.
    req.individually = true;
    req.functions[1].artifact = None;
    req.functions[1].individually = true;
    let out2 = tempfile::tempdir().unwrap();
    let result = package(&req, out2.path()).unwrap();
    assert_eq!(result.function_artifacts["a"], "service.zip");
    assert_eq!(result.function_artifacts["b"], "b.zip");
    assert_eq!(result.function_artifacts["c"], "special.zip");
    assert_eq!(
        names(&out2.path().join("b.zip")),
        ["app.js", "build/service.zip", "build/special.zip"]
    );
}

#[test]
fn missing_or_remote_artifact_is_an_error() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["a"]);
    req.functions[0].artifact = Some(PathBuf::from("missing.zip"));
    let err = package(&req, out.path()).unwrap_err();
    assert!(matches!(err, PackageError::ArtifactNotFound { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with("Cannot access package artifact at"),
        "{message}"
    );
    assert!(
        message.contains("missing.zip") && message.contains("(for \"a\")"),
        "{message}"
    );

    req.functions[0].artifact = Some(PathBuf::from("s3://bucket/key.zip"));
    let err = package(&req, out.path()).unwrap_err();
    assert!(matches!(err, PackageError::RemoteArtifact { .. }), "{err}");
}

#[test]
fn disabled_functions_get_no_artifact() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["on", "off"]);
    req.functions[1].disable = true;
    let result = package(&req, out.path()).unwrap();
    assert_eq!(result.artifacts[0].functions, ["on"]);
    assert!(!result.function_artifacts.contains_key("off"));

    req.functions[0].disable = true;
    let out2 = tempfile::tempdir().unwrap();
    let result = package(&req, out2.path()).unwrap();
    assert!(result.artifacts.is_empty());
    assert!(result.function_artifacts.is_empty());
}

#[test]
fn no_matching_file_is_an_error_naming_the_function_and_patterns() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["worker"]);
    req.individually = true;
    req.patterns = strings(&["!**"]);
    req.functions[0].patterns = strings(&["worker/**"]);
    let err = package(&req, out.path()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("No file matches include / exclude patterns for function \"worker\""),
        "{message}"
    );
    assert!(message.contains("!**, worker/**"), "{message}");

    req.individually = false;
    let err = package(&req, out.path()).unwrap_err().to_string();
    assert!(err.contains("for service \"svc\""), "{err}");
}

#[test]
fn unsupported_pattern_syntax_is_an_error() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    let out = tempfile::tempdir().unwrap();
    let mut req = request(svc.path(), &["f"]);
    req.patterns = strings(&["!+(a|b)/**"]);
    let err = package(&req, out.path()).unwrap_err();
    assert!(matches!(err, PackageError::InvalidPattern { .. }), "{err}");
    assert!(err.to_string().contains("!+(a|b)/**"));
}

#[test]
fn symlinks_are_followed_and_broken_ones_skipped() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "lib/shared.js", b"shared");
    let target = write(outside.path(), "tool.sh", b"#!/bin/sh\n");
    chmod(&target, 0o755);

    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    std::os::unix::fs::symlink(outside.path().join("lib"), svc.path().join("linked")).unwrap();
    std::os::unix::fs::symlink(&target, svc.path().join("tool")).unwrap();
    std::os::unix::fs::symlink(svc.path().join("nowhere"), svc.path().join("broken")).unwrap();
    // A link back to the service root must not recurse forever.
    std::os::unix::fs::symlink(svc.path(), svc.path().join("loop")).unwrap();

    let out = tempfile::tempdir().unwrap();
    let result = package(&request(svc.path(), &["f"]), out.path()).unwrap();
    let entries = read_zip(&result.artifacts[0].path);
    let listed: Vec<(&str, u64, u32)> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.size, e.mode))
        .collect();
    assert_eq!(
        listed,
        [
            ("app.js", 1, 0o100644),
            ("linked/shared.js", 6, 0o100644),
            ("tool", 10, 0o100755)
        ]
    );
}

#[test]
fn output_directory_inside_the_service_is_not_packaged() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    write(svc.path(), "dist/stale.zip", b"old");
    let req = request(svc.path(), &["f"]);
    let out = svc.path().join("dist");
    let first = package(&req, &out).unwrap();
    assert_eq!(names(&first.artifacts[0].path), ["app.js"]);
    // Packaging again does not pick up the zip written the first time.
    let second = package(&req, &out).unwrap();
    assert_eq!(
        second.artifacts[0].sha256_base64,
        first.artifacts[0].sha256_base64
    );

    let err = package(&req, svc.path()).unwrap_err();
    assert!(
        matches!(err, PackageError::OutputIsServiceDir { .. }),
        "{err}"
    );
}

#[test]
fn clashing_artifact_names_are_an_error() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    let out = tempfile::tempdir().unwrap();
    // The service zip `svc.zip` and function `svc`'s individual zip would collide.
    let mut req = request(svc.path(), &["main", "svc"]);
    req.functions[1].individually = true;
    let err = package(&req, out.path()).unwrap_err();
    assert!(
        matches!(err, PackageError::DuplicateArtifactName { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("\"svc.zip\""), "{err}");
}

#[test]
fn many_files_keep_their_order_across_compression_batches() {
    let svc = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for i in 0..5000 {
        let rel = format!("d{}/f{i:05}.txt", i % 7);
        write(
            svc.path(),
            &rel,
            format!("file {i}\n").repeat(i % 13).as_bytes(),
        );
        expected.push(rel);
    }
    expected.sort_by(|a, b| deployer_package::collate::locale_cmp(a, b));
    let out = tempfile::tempdir().unwrap();
    let result = package(&request(svc.path(), &["f"]), out.path()).unwrap();
    let entries = read_zip(&result.artifacts[0].path);
    let got: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(got, expected);
    for (entry, name) in entries.iter().zip(&expected) {
        let i: usize = name[name.len() - 9..name.len() - 4].parse().unwrap();
        assert_eq!(entry.size as usize, format!("file {i}\n").len() * (i % 13));
    }
}

#[test]
fn a_service_without_functions_has_no_artifacts() {
    let svc = tempfile::tempdir().unwrap();
    write(svc.path(), "app.js", b"x");
    let out = tempfile::tempdir().unwrap();
    let result = package(&request(svc.path(), &[]), out.path()).unwrap();
    assert!(result.artifacts.is_empty());
}

#[test]
fn dev_dependencies_are_left_out_like_v3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write(
        dir,
        "package.json",
        br#"{"dependencies": {"a": "1"}, "devDependencies": {"d": "1"}}"#,
    );
    common::write(dir, "handler.js", b"exports.h = 1;\n");
    common::write(
        dir,
        "node_modules/a/package.json",
        br#"{"name": "a", "dependencies": {"s": "1"}}"#,
    );
    common::write(dir, "node_modules/s/package.json", br#"{"name": "s"}"#);
    common::write(
        dir,
        "node_modules/d/package.json",
        br#"{"name": "d", "bin": {"dcli": "cli.js"}, "dependencies": {"s": "1", "only-d": "1"}}"#,
    );
    common::write(dir, "node_modules/d/cli.js", b"");
    common::write(
        dir,
        "node_modules/only-d/package.json",
        br#"{"name": "only-d"}"#,
    );
    common::write(dir, "node_modules/.bin/dcli", b"");
    common::write(dir, "node_modules/.package-lock.json", b"{}");
    let out = tempfile::tempdir().unwrap();
    let result = package(&request(dir, &["f"]), out.path()).unwrap();
    assert_eq!(
        common::names(&result.artifacts[0].path),
        [
            "handler.js",
            "node_modules/.package-lock.json",
            "node_modules/a/package.json",
            "node_modules/s/package.json",
            "package.json"
        ]
    );
    let keep = deployer_package::PackageOptions {
        exclude_dev_dependencies: false,
        ..Default::default()
    };
    let result = deployer_package::package_with(&request(dir, &["f"]), out.path(), &keep).unwrap();
    assert_eq!(common::names(&result.artifacts[0].path).len(), 9);
}
