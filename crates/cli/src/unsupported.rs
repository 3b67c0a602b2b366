//! Serverless commands deployer does not have: a clear answer with what to use instead, before
//! clap would suggest an unrelated "similar subcommand".

use crate::exit;
use crate::ui::Output;

/// `(command words, what to do instead)`; the longest match wins.
const UNSUPPORTED: &[(&[&str], &str)] = &[
    (
        &["deploy", "list", "functions"],
        "not supported; `deployer info` lists the deployed functions",
    ),
    (
        &["config"],
        "not supported; create the profile with `aws configure --profile NAME` and name it in \
         provider.profile (`deployer whoami` shows what a stage uses)",
    ),
    (
        &["plugin"],
        "not supported; deployer has no plugin manager: it runs the plugins of serverless.yml it implements natively and refuses the others",
    ),
    (
        &["plugins"],
        "not supported; deployer has no plugin manager: it runs the plugins of serverless.yml it implements natively and refuses the others",
    ),
    (
        &["dev"],
        "not supported; `deployer watch --stage STAGE` ships each saved change, and \
         `deployer logs -f NAME --tail` follows the logs",
    ),
    (
        &["offline"],
        "not supported; run serverless-offline with the Serverless CLI for local emulation",
    ),
    (
        &["login"],
        "not supported; deployer uses AWS profiles, not a Serverless account (`deployer whoami`)",
    ),
    (
        &["logout"],
        "not supported; deployer uses AWS profiles, not a Serverless account",
    ),
    (
        &["dashboard"],
        "not supported; use `deployer info` and `deployer metrics`",
    ),
    (
        &["create"],
        "not supported; start from a template repository (git clone) and run deployer in it",
    ),
    (
        &["install"],
        "not supported; clone the service with git and run deployer in it",
    ),
    (
        &["test"],
        "not supported; run your test runner, then `deployer invoke -f NAME` against a stage",
    ),
    (
        &["generate-event"],
        "not supported; write the event as JSON and pass it with `deployer invoke -p FILE`",
    ),
    (
        &["doctor"],
        "not supported; `deployer verify` checks a stage's credentials and account",
    ),
    (&["support"], "not supported"),
    (
        &["upgrade"],
        "not supported; install a newer deployer release",
    ),
    (&["uninstall"], "not supported; remove the deployer binary"),
    (
        &["output"],
        "not supported; `deployer info` shows the stack outputs",
    ),
    (
        &["param"],
        "not supported; pass parameters with `--param key=value` or in serverless.yml params",
    ),
];

/// The unsupported command `args` (the words after the binary) start with, if any, and what
/// to use instead. Options before the command are skipped, as clap would.
pub fn lookup(args: &[String]) -> Option<(String, &'static str)> {
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .skip_while(|a| matches!(*a, "--json" | "-v" | "--verbose" | "--no-color"))
        .take_while(|a| !a.starts_with('-'))
        .collect();
    UNSUPPORTED
        .iter()
        .filter(|(cmd, _)| words.len() >= cmd.len() && words[..cmd.len()] == **cmd)
        .max_by_key(|(cmd, _)| cmd.len())
        .map(|(cmd, advice)| (cmd.join(" "), *advice))
}

/// Refuses an unsupported command with exit 2 (usage); `None` lets clap parse the rest.
pub fn refuse(args: impl Iterator<Item = String>) -> Option<u8> {
    let args: Vec<String> = args.collect();
    let (command, advice) = lookup(&args)?;
    let out = Output::new(&crate::args::GlobalArgs::default());
    out.error(&anyhow::anyhow!("`deployer {command}` is {advice}"));
    Some(exit::USAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn serverless_only_commands_are_named() {
        assert_eq!(lookup(&words("--json offline start")).unwrap().0, "offline");
        assert_eq!(
            lookup(&words("config credentials --provider aws"))
                .unwrap()
                .0,
            "config"
        );
        assert_eq!(
            lookup(&words("deploy list functions")).unwrap().0,
            "deploy list functions"
        );
    }

    #[test]
    fn deployer_commands_pass_through() {
        for ok in [
            "invoke -f x",
            "deploy list",
            "deploy function -f x",
            "deploy",
            "info -s dev",
            "logs -f x -t",
            "invoke local -f x",
            "rollback function -f x --function-version 1",
        ] {
            assert!(lookup(&words(ok)).is_none(), "{ok}");
        }
        // A function named like a command is an option value, not a command.
        assert!(lookup(&words("invoke -f local")).is_none());
    }
}
