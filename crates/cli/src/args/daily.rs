//! Arguments of the daily commands: `deploy function`, `deploy list`, `invoke`, `logs`,
//! `rollback`, `metrics`.

use clap::{Args, Subcommand, ValueEnum};

use super::{AwsCommandArgs, CredentialArgs, ServiceArgs};

/// `deploy function` and `deploy list`.
#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Replace one function's code (and with --update-config its settings) without touching the stack.
    Function(DeployFunctionArgs),
    /// List the deployments in the deployment bucket, newest first.
    List(AwsCommandArgs),
}

#[derive(Debug, Args)]
pub struct DeployFunctionArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The function's key in `functions:`.
    #[arg(short = 'f', long = "function", value_name = "NAME")]
    pub function: String,
    /// Also apply memory, timeout, environment, layers, role and VPC.
    #[arg(short = 'u', long)]
    pub update_config: bool,
    /// Update the code even when it did not change.
    #[arg(long)]
    pub force: bool,
    /// Remove a deploy lock left by a killed run of this stage first.
    #[arg(long)]
    pub force_unlock: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct InvokeArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The function's key in `functions:`.
    #[arg(short = 'f', long = "function", value_name = "NAME", required = true)]
    pub function: Option<String>,
    /// The event, as a string (usually JSON).
    #[arg(short = 'd', long, value_name = "DATA", conflicts_with = "path")]
    pub data: Option<String>,
    /// A file with the event (JSON, or YAML for .yml/.yaml).
    #[arg(short = 'p', long, value_name = "FILE", value_parser = super::utf8_path)]
    pub path: Option<std::path::PathBuf>,
    /// Invocation type.
    #[arg(short = 't', long = "type", value_enum, default_value_t = InvokeKind::RequestResponse)]
    pub kind: InvokeKind,
    /// Print the tail of the function's log on stderr.
    #[arg(short = 'l', long)]
    pub log: bool,
    /// Version or alias to invoke.
    #[arg(short = 'q', long, value_name = "QUALIFIER")]
    pub qualifier: Option<String>,
    /// `invoke local`.
    #[command(subcommand)]
    pub local: Option<InvokeCommand>,
}

/// `invoke local`.
#[derive(Debug, Subcommand)]
pub enum InvokeCommand {
    /// Run the function's handler on this machine with node or python3 (no deploy).
    Local(InvokeLocalArgs),
}

#[derive(Debug, Args)]
pub struct InvokeLocalArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The function's key in `functions:`.
    #[arg(short = 'f', long = "function", value_name = "NAME")]
    pub function: String,
    /// The event, as a string (JSON, else passed as a string).
    #[arg(short = 'd', long, value_name = "DATA", conflicts_with = "path")]
    pub data: Option<String>,
    /// A file with the event (JSON, or YAML for .yml/.yaml).
    #[arg(short = 'p', long, value_name = "FILE", value_parser = super::utf8_path)]
    pub path: Option<std::path::PathBuf>,
    /// An environment variable over the function's (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// JSON for the context's clientContext (client_context in Python).
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// Give the handler the stage's credentials (after the account guard) so it can call AWS.
    #[arg(long)]
    pub with_credentials: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InvokeKind {
    #[value(name = "RequestResponse")]
    RequestResponse,
    #[value(name = "Event")]
    Event,
    #[value(name = "DryRun")]
    DryRun,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The function's key in `functions:`.
    #[arg(short = 'f', long = "function", value_name = "NAME")]
    pub function: String,
    /// Keep following new events (stop with Ctrl-C).
    #[arg(short = 't', long)]
    pub tail: bool,
    /// Start of the window: 30s, 10m, 2h, 1d, or a date/time (default 10m).
    #[arg(long = "startTime", alias = "start-time", value_name = "TIME")]
    pub start_time: Option<String>,
    /// CloudWatch Logs filter pattern.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Milliseconds between polls with --tail (default 1000; backs off while nothing arrives).
    #[arg(short = 'i', long, value_name = "MS")]
    pub interval: Option<u64>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The deployment's timestamp (from `deployer deploy list`); without it, list them.
    #[arg(short = 't', long, value_name = "TIMESTAMP")]
    pub timestamp: Option<String>,
    /// Remove a deploy lock left by a killed run of this stage first.
    #[arg(long)]
    pub force_unlock: bool,
    /// Roll back a protected stage knowingly (a protected stage refuses a rollback without it).
    #[arg(long)]
    pub approve_rollback: bool,
    /// `rollback function`.
    #[command(subcommand)]
    pub target: Option<RollbackCommand>,
}

/// `rollback function`.
#[derive(Debug, Subcommand)]
pub enum RollbackCommand {
    /// Point a function's code at the code of one of its published versions.
    Function(RollbackFunctionArgs),
}

#[derive(Debug, Args)]
pub struct RollbackFunctionArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The function's key in `functions:`.
    #[arg(short = 'f', long = "function", value_name = "NAME")]
    pub function: String,
    /// The published version whose code to restore (see the Versions of the function).
    #[arg(long = "function-version", value_name = "N")]
    pub function_version: String,
    /// Remove a deploy lock left by a killed run of this stage first.
    #[arg(long)]
    pub force_unlock: bool,
    /// Roll back a protected stage knowingly (a protected stage refuses a rollback without it).
    #[arg(long)]
    pub approve_rollback: bool,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Only this function (default: every function).
    #[arg(short = 'f', long = "function", value_name = "NAME")]
    pub function: Option<String>,
    /// Start of the window: 30m, 2h, 1d, or a date/time (default 1d).
    #[arg(long = "startTime", alias = "start-time", value_name = "TIME")]
    pub start_time: Option<String>,
    /// End of the window (default now).
    #[arg(long = "endTime", alias = "end-time", value_name = "TIME")]
    pub end_time: Option<String>,
}
