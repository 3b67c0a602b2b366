//! The grammar at a compose root (a folder with `serverless-compose.yml`): the commands that
//! act on every service (or the `--service` ones), in dependency order.

use clap::{Args, Parser, Subcommand};

use super::{CredentialArgs, GlobalArgs, PrintFormat};

/// At a compose root: deploy, diff, remove, package, print … every service of the compose
/// file (or the `--service` ones), in the order of their dependencies. Commands that act on
/// one function (`invoke`, `logs`, `deploy function`, …) take `--service NAME`; so does the
/// Compose spelling `deployer NAME:COMMAND`.
#[derive(Debug, Parser)]
#[command(name = "deployer", version, propagate_version = true)]
pub struct ComposeCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Debug, Subcommand)]
pub enum ComposeCommand {
    /// Deploy the services in waves of their dependencies, every account proven first.
    #[command(visible_alias = "deploy")]
    Up(ComposeUpArgs),
    /// What each service's deploy would change.
    #[command(visible_alias = "plan")]
    Diff(ComposeDiffArgs),
    /// Remove the services, consumers before their producers, every account proven first.
    Remove(ComposeRemoveArgs),
    /// Package every service into its own .serverless/.
    Package(ComposePackageArgs),
    /// Print every service's resolved configuration.
    Print(ComposePrintArgs),
    /// Every service's deployed stack.
    Info(ComposeArgs),
    /// Every service's credentials and account.
    Whoami(ComposeArgs),
    /// The account guard of every service: exit 0 when each holds, 3 when one is refused.
    Verify(ComposeArgs),
    /// The deployments of every service (`deploy list` at a compose root).
    #[command(name = "deploy-list", hide = true)]
    DeployList(ComposeArgs),
    /// The dependency graph in waves (`--json`: a shape for a CI matrix).
    Graph(ComposeArgs),
}

/// The options of every compose command.
#[derive(Debug, Args, Clone, Default)]
pub struct ComposeArgs {
    /// Stage of every service (default: dev, as Serverless Compose).
    #[arg(short = 's', long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Only these services (repeatable, or comma-separated); the outputs of the others are
    /// read from their stacks.
    #[arg(long = "service", value_name = "NAME", value_delimiter = ',')]
    pub services: Vec<String>,
    /// How many services run at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub max_concurrency: u64,
    /// Parameter for ${param:key} of every service, as key=value (repeatable; after the
    /// compose file's params).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct ComposeUpArgs {
    #[command(flatten)]
    pub common: ComposeArgs,
    /// Deploy even when nothing changed.
    #[arg(long)]
    pub force: bool,
    /// Longest wait, in minutes, for each stack update to finish.
    #[arg(long, value_name = "MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(..=super::MAX_TIMEOUT_MINUTES))]
    pub timeout: u64,
    /// Remove a deploy lock left by a killed run first.
    #[arg(long)]
    pub force_unlock: bool,
    /// Deploy knowingly without this unsupported plugin (repeatable).
    #[arg(long = "ignore-plugin", value_name = "NAME")]
    pub ignore_plugins: Vec<String>,
    /// On protected stages: deploy changes that broaden access (new roles or statements,
    /// Lambda permissions, security-group ingress).
    #[arg(long)]
    pub approve_broadening: bool,
}

#[derive(Debug, Args)]
pub struct ComposeDiffArgs {
    #[command(flatten)]
    pub common: ComposeArgs,
    /// Exit 2 when any service has changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Add each stack's drift (DetectStackDrift) to its diff.
    #[arg(long)]
    pub drift: bool,
}

#[derive(Debug, Args)]
pub struct ComposeRemoveArgs {
    #[command(flatten)]
    pub common: ComposeArgs,
    /// Do not ask for confirmation (required without a terminal for pinned stages).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ComposePackageArgs {
    #[command(flatten)]
    pub common: ComposeArgs,
    /// Open no credentials: every output reference becomes a placeholder, an AWS-backed
    /// variable an error.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct ComposePrintArgs {
    #[command(flatten)]
    pub common: ComposeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PrintFormat::Yaml)]
    pub format: PrintFormat,
    /// Print only the value at this dotted path.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Open no credentials: output references become placeholders, AWS-backed variables
    /// are printed as written.
    #[arg(long)]
    pub offline: bool,
}
