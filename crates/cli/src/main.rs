//! `deployer`: one fast binary that deploys an existing `serverless.yml` service to AWS, each
//! stage into its own account, proven with STS before anything is written.

mod args;
mod commands;
mod errors;
mod exit;
mod ui;
mod unsupported;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::ui::Output;

/// The binary's one async runtime: every operation is an `async fn` awaited here. The default
/// multi-thread flavor is required: the variable engine asks for AWS-backed values through a
/// synchronous callback, which waits with `tokio::task::block_in_place`.
#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    // Lossy: `std::env::args` panics on an argument that is not UTF-8; clap's error names it.
    let words = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    if let Some(code) = unsupported::refuse(words) {
        return ExitCode::from(code);
    }
    // A compose root runs its own grammar, or hands a single-service command its service.
    let argv = match commands::compose::dispatch(argv).await {
        commands::compose::Dispatch::Single(argv) => argv,
        commands::compose::Dispatch::Done(code) => return ExitCode::from(code),
    };
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(err) => {
            let err = match err.kind() {
                clap::error::ErrorKind::InvalidUtf8 => args::invalid_utf8(&argv),
                _ => err,
            };
            // `--json` among the arguments: the usage error is the one JSON object too.
            if let Some(failure) = errors::clap_failure(&argv, &err) {
                let _ = err.print();
                ui::print_json(&failure.to_json());
                return ExitCode::from(failure.exit_code);
            }
            // clap prints help/version on stdout (exit 0) and usage errors on stderr (exit 2).
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let out = Output::new(&cli.global);
    ui::init_tracing(&cli.global, &out);
    let result = match cli.command {
        Command::Print(a) => commands::print::run(&out, a).await,
        Command::Package(a) => commands::package::run(&out, a).await,
        Command::Whoami(a) => commands::whoami::run(&out, a).await,
        Command::Verify(a) => commands::verify::run(&out, a).await,
        Command::Up(a) => commands::daily::deploy(&out, a).await,
        Command::Diff(a) => commands::diff::run(&out, a).await,
        Command::Info(a) => commands::info::run(&out, a).await,
        Command::Remove(a) => commands::remove::run(&out, a).await,
        Command::Invoke(a) => commands::invoke::run(&out, a).await,
        Command::Logs(a) => commands::logs::run(&out, a).await,
        Command::Rollback(a) => commands::rollback::run(&out, a).await,
        Command::Metrics(a) => commands::metrics::run(&out, a).await,
        Command::Pin(a) => commands::pin::run(&out, a).await,
        Command::Watch(a) => commands::watch::run(&out, a).await,
        Command::Completions(a) => commands::completions::completions(&out, a),
        Command::Man(a) => commands::completions::man(&out, a),
        Command::Drift(a) => commands::drift::run(&out, a).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let failure = errors::classify(&err);
            out.error(&err);
            if out.json {
                out.json_result(&failure.to_json());
            }
            ExitCode::from(failure.exit_code)
        }
    }
}
