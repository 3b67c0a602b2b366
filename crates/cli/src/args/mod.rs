//! Command-line grammar. Options come after the command, as in Serverless v3.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod compose;
mod daily;

pub use daily::{
    DeployCommand, DeployFunctionArgs, InvokeArgs, InvokeCommand, InvokeKind, InvokeLocalArgs,
    LogsArgs, MetricsArgs, RollbackArgs, RollbackCommand, RollbackFunctionArgs,
};

/// Deploy a Serverless Framework v3 service to AWS: each stage into its own account,
/// proven with STS GetCallerIdentity before anything is written.
#[derive(Debug, Parser)]
#[command(
    name = "deployer",
    version,
    about,
    propagate_version = true,
    after_help = "Exit codes: 0 success, 1 failure, 2 usage error (or changes found with \
                  `diff --detailed-exitcode`), 3 the account guard refused the credentials.\n\
                  Environment: NO_COLOR disables colour; CI=true gives plain progress lines."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Print one JSON object with the result on stdout (progress stays on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Show more detail: `-v` deployer's own steps (resource events, resolution steps),
    /// `-vv` also the AWS SDK's requests and raw error chains. Never shows secrets.
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Disable colour (also: NO_COLOR set to any non-empty value).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resolved configuration, like `serverless print`.
    Print(PrintArgs),
    /// Build the artifacts and CloudFormation templates into `.serverless/` (offline).
    Package(PackageArgs),
    /// Show which credentials and account a stage resolves to.
    Whoami(AwsCommandArgs),
    /// Check the account guard alone: exit 0 when the stage's credentials belong to its account, 3 when not.
    Verify(AwsCommandArgs),
    /// Package and deploy the stage to its account (subcommands: `deploy function -f NAME`, `deploy list`).
    #[command(visible_alias = "deploy", args_conflicts_with_subcommands = true)]
    Up(UpArgs),
    /// Show what a deploy would change (a CloudFormation change set, deleted afterwards).
    #[command(visible_alias = "plan")]
    Diff(DiffArgs),
    /// Show the deployed stack: status, outputs, endpoints, functions.
    Info(AwsCommandArgs),
    /// Delete the stage's stack and its deployment artifacts.
    Remove(RemoveArgs),
    /// Record the stage's current account (proven with STS) in deployer.accounts.json.
    Pin(AwsCommandArgs),
    /// Invoke a deployed function and print its response (`invoke local`: run it on this machine).
    Invoke(InvokeArgs),
    /// Show a function's CloudWatch Logs (`--tail` follows them).
    Logs(LogsArgs),
    /// Update the stack to an earlier deployment (`rollback` alone lists them; `rollback function`: one function's code).
    Rollback(RollbackArgs),
    /// Invocations, errors, throttles and duration of the functions from CloudWatch.
    Metrics(MetricsArgs),
    /// Watch the service directory and ship each saved change to the stage (Ctrl-C to stop).
    Watch(WatchArgs),
    /// Print the completion script for a shell (e.g. `deployer completions bash > ~/.local/share/bash-completion/completions/deployer`).
    Completions(CompletionsArgs),
    /// Print the deployer(1) man page in roff (`--dir DIR`: write a page per command into DIR).
    Man(ManArgs),
    /// Compare the live stack and function code with what was deployed: exit 0 in sync, 2 drifted.
    Drift(AwsCommandArgs),
}

/// Where `deployer man` puts the pages.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write deployer.1 and one page per command (deployer-up.1, ...) into this directory
    /// instead of printing deployer.1.
    #[arg(long, value_name = "DIR", value_parser = utf8_path)]
    pub dir: Option<PathBuf>,
}

/// The shell of `deployer completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options that select the service and stage.
#[derive(Debug, Args, Clone, Default)]
pub struct ServiceArgs {
    /// Service configuration file (default: serverless.yml, serverless.yaml or serverless.json in the working directory).
    #[arg(short = 'c', long = "config", value_name = "FILE", value_parser = utf8_path)]
    pub config: Option<PathBuf>,
    /// Stage (default: provider.stage, else "dev").
    #[arg(short = 's', long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Region (default: provider.region, else "us-east-1"; AWS_REGION does not change a stage's region).
    #[arg(short = 'r', long, value_name = "REGION")]
    pub region: Option<String>,
    /// Parameter for ${param:key}, as key=value (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

/// Options that select and check the AWS credentials of a stage.
#[derive(Debug, Args, Clone, Default)]
pub struct CredentialArgs {
    /// Use this AWS profile only (beats every other source).
    #[arg(long, value_name = "NAME")]
    pub aws_profile: Option<String>,
    /// Ignore provider.profile and use AWS_<STAGE>_* or the SDK's default chain (for CI with ambient credentials).
    #[arg(long)]
    pub no_profile: bool,
    /// Refuse to act unless the credentials belong to this 12-digit account (also:
    /// DEPLOYER_EXPECT_ACCOUNT; an empty value is an error, never "no pin").
    #[arg(
        long,
        value_name = "ID",
        env = "DEPLOYER_EXPECT_ACCOUNT",
        hide_env = true,
        value_parser = crate::errors::account_id
    )]
    pub expect_account: Option<String>,
    /// The stage's account is now this one: accept it instead of the account recorded in deployer.accounts.json, and re-record it there.
    #[arg(long, value_name = "ID", value_parser = account_id)]
    pub accept_account: Option<String>,
    /// MFA code for a role profile with mfa_serial (otherwise prompted on a terminal).
    #[arg(
        long,
        value_name = "CODE",
        env = "DEPLOYER_MFA_CODE",
        hide_env_values = true
    )]
    pub mfa_code: Option<String>,
}

#[derive(Debug, Args)]
pub struct PrintArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PrintFormat::Yaml)]
    pub format: PrintFormat,
    /// Print only the value at this dotted path (e.g. provider.profile), resolving only what it needs.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Open no credentials: print AWS-backed variables (ssm, cf, s3, aws:accountId) as written.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrintFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Output directory (default: .serverless in the service directory).
    #[arg(short = 'p', long = "package", value_name = "DIR", value_parser = utf8_path)]
    pub package: Option<PathBuf>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Open no credentials: an AWS-backed variable (ssm, cf, s3, aws:accountId) is an error.
    #[arg(long)]
    pub offline: bool,
    /// Deploy knowingly without this unsupported plugin (repeatable; also custom.deployer.ignorePlugins).
    #[arg(long = "ignore-plugin", value_name = "NAME")]
    pub ignore_plugins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AwsCommandArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Deploy even when nothing changed.
    #[arg(long)]
    pub force: bool,
    /// Deploy a package built earlier with `deployer package --package DIR`.
    #[arg(short = 'p', long = "package", value_name = "DIR", value_parser = utf8_path)]
    pub package: Option<PathBuf>,
    /// Longest wait, in minutes, for the stack update to finish (at most a week).
    #[arg(
        long,
        value_name = "MINUTES",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(..=MAX_TIMEOUT_MINUTES)
    )]
    pub timeout: u64,
    /// Remove a deploy lock left by a killed run of this stage before deploying.
    #[arg(long)]
    pub force_unlock: bool,
    /// Deploy knowingly without this unsupported plugin (repeatable; also custom.deployer.ignorePlugins).
    #[arg(long = "ignore-plugin", value_name = "NAME")]
    pub ignore_plugins: Vec<String>,
    /// On a protected stage: deploy changes that broaden access (new roles or statements,
    /// Lambda permissions, security-group ingress).
    #[arg(long)]
    pub approve_broadening: bool,
    /// Execute a saved plan (`deployer plan --out FILE`) exactly as reviewed.
    #[arg(long, value_name = "FILE", value_parser = utf8_path, conflicts_with_all = ["package", "force"])]
    pub plan: Option<PathBuf>,
    /// With --plan: do not package the checkout to compare with the plan (the source is absent).
    #[arg(long, requires = "plan")]
    pub skip_source_check: bool,
    /// With --plan on a protected stage: execute a plan made on a drifted stack.
    #[arg(long, requires = "plan")]
    pub accept_drift: bool,
    /// `deploy function` or `deploy list`.
    #[command(subcommand)]
    pub target: Option<DeployCommand>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Exit 2 when there are changes (0 none, 1 error), like `terraform plan -detailed-exitcode`.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Diff a package built earlier with `deployer package --package DIR`.
    #[arg(short = 'p', long = "package", value_name = "DIR", value_parser = utf8_path)]
    pub package: Option<PathBuf>,
    /// Deploy knowingly without this unsupported plugin (repeatable; also custom.deployer.ignorePlugins).
    #[arg(long = "ignore-plugin", value_name = "NAME")]
    pub ignore_plugins: Vec<String>,
    /// Save the plan: keep the change set and write the plan file for `up --plan FILE`.
    #[arg(long, value_name = "FILE", value_parser = utf8_path, conflicts_with = "discard")]
    pub out: Option<PathBuf>,
    /// Delete the change set a saved plan kept.
    #[arg(long, value_name = "FILE", value_parser = utf8_path)]
    pub discard: Option<PathBuf>,
    /// Also run drift detection on the stack (recorded in a saved plan).
    #[arg(long)]
    pub drift: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Only ship this function (repeatable; default: every function).
    #[arg(short = 'f', long = "function", value_name = "NAME")]
    pub functions: Vec<String>,
    /// Do not ask for confirmation on a production stage (required there without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Do not ask for confirmation (required without a terminal for a stage with an account pin).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// The longest `--timeout`: a week, in minutes (a bound, so that the wait cannot overflow).
pub const MAX_TIMEOUT_MINUTES: u64 = 7 * 24 * 60;

/// A path given on the command line, which must be UTF-8 like every argument: it ends up in
/// messages, manifests and `--json` output (clap names a value that is not).
pub(crate) fn utf8_path(s: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(s))
}

/// A 12-digit AWS account id (a usage error otherwise).
fn account_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("\"{s}\" is not a 12-digit AWS account id"))
    }
}

/// clap's error for an argument that is not UTF-8 ("invalid UTF-8 was detected in one or more
/// arguments"), reworded to name the argument: the option whose value it is, or the word
/// itself; else the environment variable clap read it from.
pub fn invalid_utf8(argv: &[OsString]) -> clap::Error {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut named: Vec<String> = Vec::new();
    for (i, arg) in argv.iter().enumerate().skip(1) {
        if arg.to_str().is_some() {
            continue;
        }
        named.push(match option_of(&cmd, argv[i - 1].to_str(), arg) {
            Some((option, value)) => format!("the value of {option} (\"{}\")", shown(value)),
            None => format!("argument {i} (\"{}\")", shown(arg.as_encoded_bytes())),
        });
    }
    named.extend(
        env_names(&cmd)
            .into_iter()
            .filter(|name| std::env::var_os(name).is_some_and(|v| v.to_str().is_none()))
            .map(|name| format!("the environment variable {}", name.display())),
    );
    if named.is_empty() {
        named.push("an argument".to_string());
    }
    let message = format!(
        "{} is not valid UTF-8; deployer's arguments must be UTF-8 text",
        named.join(", ")
    );
    clap::Error::raw(clap::error::ErrorKind::InvalidUtf8, message).format(&mut cmd)
}

/// Bytes as text, each byte that is not UTF-8 as `\xNN`.
fn shown(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        text.extend(chunk.valid().escape_debug());
        for b in chunk.invalid() {
            text.push_str(&format!("\\x{b:02X}"));
        }
    }
    text
}

/// The option a non-UTF-8 `arg` is the value of, and the value: `--data=…` itself, or the
/// option before it when that option takes a value (in any command: the names do not clash).
fn option_of<'a>(
    cmd: &clap::Command,
    previous: Option<&str>,
    arg: &'a OsString,
) -> Option<(String, &'a [u8])> {
    let bytes = arg.as_encoded_bytes();
    if bytes.starts_with(b"--")
        && let Some(eq) = bytes.iter().position(|b| *b == b'=')
    {
        let option = String::from_utf8_lossy(&bytes[..eq]).into_owned();
        return Some((option, &bytes[eq + 1..]));
    }
    let previous = previous?;
    let takes_value = |a: &clap::Arg| a.get_action().takes_values();
    let found = if let Some(long) = previous.strip_prefix("--") {
        find_arg(cmd, &|a| {
            takes_value(a)
                && (a.get_long() == Some(long)
                    || a.get_all_aliases().is_some_and(|x| x.contains(&long)))
        })
    } else if let Some(short) = previous
        .strip_prefix('-')
        .filter(|s| s.chars().count() == 1)
    {
        let short = short.chars().next()?;
        find_arg(cmd, &|a| takes_value(a) && a.get_short() == Some(short))
    } else {
        false
    };
    found.then(|| (previous.to_string(), bytes))
}

/// True when `cmd` or one of its subcommands has an argument matching `pred`.
fn find_arg(cmd: &clap::Command, pred: &dyn Fn(&clap::Arg) -> bool) -> bool {
    cmd.get_arguments().any(pred) || cmd.get_subcommands().any(|sub| find_arg(sub, pred))
}

/// Every environment variable an argument of `cmd` or its subcommands reads.
fn env_names(cmd: &clap::Command) -> std::collections::BTreeSet<OsString> {
    let mut names: std::collections::BTreeSet<OsString> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env().map(ToOwned::to_owned))
        .collect();
    for sub in cmd.get_subcommands() {
        names.extend(env_names(sub));
    }
    names
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt as _;

    use super::*;

    fn argv(words: &[&[u8]]) -> Vec<OsString> {
        words
            .iter()
            .map(|w| OsString::from_vec(w.to_vec()))
            .collect()
    }

    fn message(words: &[&[u8]]) -> String {
        invalid_utf8(&argv(words)).render().to_string()
    }

    #[test]
    fn non_utf8_arguments_are_named() {
        let data = message(&[b"deployer", b"invoke", b"-f", b"hello", b"-d", b"\xff"]);
        assert!(
            data.contains(r#"the value of -d ("\xFF") is not valid UTF-8"#),
            "{data}"
        );
        let eq = message(&[b"deployer", b"logs", b"--filter=a\xfe", b"-f", b"x"]);
        assert!(eq.contains(r#"the value of --filter ("a\xFE")"#), "{eq}");
        let alias = message(&[b"deployer", b"logs", b"--start-time", b"\xc3\x28"]);
        assert!(alias.contains("the value of --start-time"), "{alias}");
        let word = message(&[b"deployer", b"--json", b"\xff"]);
        assert!(word.contains(r#"argument 2 ("\xFF")"#), "{word}");
        assert!(!word.contains("--json"), "{word}");
    }
}
