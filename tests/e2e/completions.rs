//! `deployer completions SHELL` and `deployer man`: generated from the grammar, they name the
//! real commands and options.

use std::path::Path;

use crate::support::offline_run;

/// Every command of `deployer --help` (and the `deploy` alias), which completions and the man
/// page must name.
const COMMANDS: &[&str] = &[
    "print", "package", "whoami", "verify", "up", "deploy", "diff", "info", "remove", "pin",
    "invoke", "logs", "rollback", "metrics", "watch",
];

#[test]
fn completion_scripts_name_every_command_for_each_shell() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = offline_run(here, &["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for command in COMMANDS {
            assert!(
                run.stdout.contains(command),
                "{shell} script lacks `{command}`"
            );
        }
        // Options of a command too, not only the command names.
        assert!(
            run.stdout.contains("expect-account"),
            "{shell}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("detailed-exitcode"), "{shell}");
    }
    let bash = offline_run(here, &["completions", "bash"]).stdout;
    assert!(bash.contains("complete -F _deployer"), "{bash}");
    let zsh = offline_run(here, &["completions", "zsh"]).stdout;
    assert!(zsh.starts_with("#compdef deployer"), "{zsh}");
    let fish = offline_run(here, &["completions", "fish"]).stdout;
    assert!(fish.contains("complete -c deployer"), "{fish}");
}

#[test]
fn completions_refuse_an_unknown_shell_as_a_usage_error() {
    let run = offline_run(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["completions", "tcsh"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("tcsh"), "{}", run.stderr);
    assert!(run.stderr.contains("bash"), "{}", run.stderr);
}

#[test]
fn man_page_is_roff_naming_every_command_and_the_exit_codes() {
    let run = offline_run(Path::new(env!("CARGO_MANIFEST_DIR")), &["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(".ie"),
        "{}",
        &run.stdout[..80.min(run.stdout.len())]
    );
    assert!(run.stdout.contains(".TH deployer 1"), "{}", run.stdout);
    assert!(run.stdout.contains(".SH SUBCOMMANDS"), "{}", run.stdout);
    for command in COMMANDS.iter().filter(|c| **c != "deploy") {
        assert!(
            run.stdout.contains(&format!("deployer\\-{command}")),
            "man page lacks `{command}`"
        );
    }
    assert!(run.stdout.contains("Exit codes"), "{}", run.stdout);
    // No page for a `help` command is referred to: there is none.
    assert!(!run.stdout.contains("deployer\\-help"), "{}", run.stdout);
}

#[test]
fn man_dir_writes_a_page_for_every_command_it_refers_to() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = offline_run(here, &["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let main = std::fs::read_to_string(pages.join("deployer.1")).unwrap();
    for command in COMMANDS.iter().filter(|c| **c != "deploy") {
        let page = pages.join(format!("deployer-{command}.1"));
        let text = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{page:?}: {e}"));
        assert!(
            text.contains(&format!(".TH deployer-{command} 1")),
            "{text}"
        );
        assert!(
            main.contains(&format!("deployer\\-{command}(1)")),
            "{command}"
        );
    }
    // Nested commands too.
    let function = std::fs::read_to_string(pages.join("deployer-up-function.1")).unwrap();
    assert!(function.contains("\\-f"), "{function}");
    let listed = offline_run(here, &["man", "--dir", pages.to_str().unwrap(), "--json"]).json();
    let written = listed["written"].as_array().unwrap();
    assert_eq!(written.len(), std::fs::read_dir(&pages).unwrap().count());
}

#[test]
fn json_wraps_the_script_and_the_page_in_one_object() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = offline_run(here, &["completions", "fish", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["shell"], "fish");
    assert!(
        json["script"]
            .as_str()
            .unwrap()
            .contains("complete -c deployer")
    );
    let man = offline_run(here, &["man", "--json"]).json();
    assert_eq!(man["name"], "deployer");
    assert!(man["page"].as_str().unwrap().contains(".TH deployer 1"));
}
