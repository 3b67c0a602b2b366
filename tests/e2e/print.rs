//! `deployer print` on the fixtures, against what Serverless v3 printed, and its errors.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{deployer_offline as deployer, fixture};

use serde_json::Value;

fn fixtures() -> PathBuf {
    fixture("")
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

#[test]
fn print_matches_serverless_v3_on_every_fixture_and_stage() {
    for fixture in ["multi-account", "rest-api", "events"] {
        for stage in ["dev", "prod"] {
            let dir = fixtures().join(fixture).join("service");
            let out = deployer(&dir, &["print", "--stage", stage]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{fixture} {stage}: {stderr}");
            let expected_file = fixtures()
                .join(fixture)
                .join(format!("expected/serverless-v3/{stage}/print.yml"));
            let expected = yaml(&std::fs::read_to_string(expected_file).unwrap());
            let actual = yaml(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(actual, expected, "{fixture} --stage {stage}");
            // The JSON format prints the same value.
            let out = deployer(&dir, &["print", "--stage", stage, "--format", "json"]);
            let json: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(json, expected, "{fixture} --stage {stage} --format json");
        }
    }
}

#[test]
fn print_path_selects_one_value() {
    let dir = fixtures().join("multi-account/service");
    let out = deployer(&dir, &["print", "-s", "prod", "--path", "provider.profile"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "default");
    let out = deployer(&dir, &["print", "--path", "provider.profile"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "devAccount");
    let out = deployer(&dir, &["print", "--path", "provider.nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--path provider.nope"));
}

/// A copy of the multi-account service with `serverless.yml` edited by `edit`.
fn edited_multi_account(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures().join("multi-account/service");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let yml = std::fs::read_to_string(src.join("serverless.yml")).unwrap();
    std::fs::write(dir.path().join("serverless.yml"), edit(&yml)).unwrap();
    dir
}

#[test]
fn seed_typo_fails_naming_provider_profile_with_a_suggestion() {
    let dir = edited_multi_account(|y| {
        y.replace(
            "${self:custom.myProfile.${self:custom.myStage}}",
            "${self:custom.myProfile.${self.custom.myStage}}",
        )
    });
    let out = deployer(dir.path(), &["print", "--stage", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cannot resolve"), "{stderr}");
    assert!(
        stderr.contains("  - provider.profile: Variable syntax error"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean \"${self:custom.myStage}\"?"),
        "{stderr}"
    );
}

#[test]
fn plain_dot_typo_prints_literally_with_a_warning() {
    let dir = edited_multi_account(|y| {
        y.replace(
            "  myProfile:\n",
            "  note: ${self.provider.stage}\n  myProfile:\n",
        )
    });
    let out = deployer(dir.path(), &["print", "--path", "custom.note"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "${self.provider.stage}"
    );
    assert!(
        stderr.contains("Warning: custom.note:")
            && stderr.contains("did you mean \"${self:provider.stage}\"?"),
        "{stderr}"
    );
}

#[test]
fn allowed_account_ids_idiom_resolves_per_stage() {
    let dir = edited_multi_account(|y| {
        y.replace(
            "  myProfile:\n",
            "  myAccount:\n    prod: '111111111111'\n    dev: '222222222222'\n  myProfile:\n",
        )
        .replace(
            "  profile: ${self:custom.myProfile.${self:custom.myStage}}\n",
            "  profile: ${self:custom.myProfile.${self:custom.myStage}}\n  allowedAccountIds: ${self:custom.myAccount.${self:custom.myStage}}\n",
        )
    });
    for (stage, id) in [("dev", "222222222222"), ("prod", "111111111111")] {
        let out = deployer(
            dir.path(),
            &[
                "print",
                "-s",
                stage,
                "--path",
                "provider.allowedAccountIds",
                "--format",
                "json",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("\"{id}\"")
        );
    }
}

#[test]
fn aws_sources_print_as_written_offline_and_need_the_stage_profile_otherwise() {
    let dir = edited_multi_account(|y| {
        y.replace(
            "  myProfile:\n",
            "  secret: ${ssm:/app/secret}\n  myProfile:\n",
        )
    });
    let out = deployer(
        dir.path(),
        &["print", "--offline", "--path", "custom.secret"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "${ssm:/app/secret}"
    );
    // Without --offline, the secret needs the stage's profile, which these files lack.
    let empty = tempfile::tempdir().unwrap();
    let config = empty.path().join("config");
    let credentials = empty.path().join("credentials");
    std::fs::write(&config, "").unwrap();
    std::fs::write(&credentials, "").unwrap();
    let out = std::process::Command::new(crate::support::deployer_bin())
        .arg("print")
        .current_dir(dir.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AWS profile \"devAccount\" (from provider.profile)"),
        "{stderr}"
    );
}

#[test]
fn missing_configuration_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = deployer(dir.path(), &["print"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No serverless.yml"));
}

#[test]
fn use_dotenv_reads_the_stage_file_else_dot_env() {
    let dir = edited_multi_account(|y| {
        format!("useDotenv: true\n{y}").replace(
            "  myProfile:\n",
            "  table: ${env:DEPLOYER_E2E_TABLE}\n  region: ${env:DEPLOYER_E2E_REGION, 'none'}\n  myProfile:\n",
        )
    });
    std::fs::write(dir.path().join(".env"), "DEPLOYER_E2E_TABLE=dev-table\n").unwrap();
    std::fs::write(
        dir.path().join(".env.prod"),
        "# prod only\nexport DEPLOYER_E2E_TABLE=\"prod-${DEPLOYER_E2E_REGION}\"\nDEPLOYER_E2E_REGION=eu-west-1\n",
    )
    .unwrap();
    let print = |args: &[&str]| {
        let out = deployer(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        (yaml(&String::from_utf8_lossy(&out.stdout)), stderr)
    };
    let (custom, stderr) = print(&["--verbose", "print", "-s", "prod", "--path", "custom"]);
    assert_eq!(custom["table"], "prod-eu-west-1");
    assert_eq!(custom["region"], "eu-west-1");
    assert!(
        stderr.contains("loaded ") && stderr.contains(".env.prod"),
        "{stderr}"
    );
    // No .env.dev: .env is read.
    let (custom, _) = print(&["print", "--path", "custom"]);
    assert_eq!(custom["table"], "dev-table");
    assert_eq!(custom["region"], "none");
    // The environment wins over the file.
    let out = Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(["print", "-s", "prod", "--path", "custom.table"])
        .current_dir(dir.path())
        .env("DEPLOYER_E2E_TABLE", "from-env")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "from-env");
}

#[test]
fn opt_reads_the_options_of_print() {
    let dir = edited_multi_account(|y| {
        y.replace(
            "  myProfile:\n",
            "  path: ${opt:path}\n  format: ${opt:format}\n  verbose: ${opt:verbose, 'quiet'}\n  myProfile:\n",
        )
    });
    let out = deployer(dir.path(), &["print", "--path", "custom.path"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "custom.path");
    let out = deployer(
        dir.path(),
        &["print", "--format", "json", "--path", "custom"],
    );
    let custom: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(custom["format"], "json");
    assert_eq!(custom["verbose"], "quiet");
    let dir =
        edited_multi_account(|y| y.replace("  myProfile:\n", "  f: ${opt:formt}\n  myProfile:\n"));
    let out = deployer(dir.path(), &["print"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("custom.f: Value not found at \"opt\" source for ${opt:formt}: this command has no option --formt; did you mean \"opt:format\"?"),
        "{stderr}"
    );
}
