//! `deployer`: one fast binary that deploys an existing `serverless.yml` service to AWS, each
//! stage into its own account, proven with STS before anything is written.

mod args;
mod commands;
mod exit;
mod ui;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::ui::Output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
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
    ui::init_tracing(&cli.global);
    let result = match cli.command {
        Command::Print(a) => commands::print::run(&out, a),
        Command::Package(a) => commands::package::run(&out, a),
        Command::Whoami(a) => commands::whoami::run(&out, a),
        Command::Verify(a) => commands::verify::run(&out, a),
        Command::Up(a) => commands::up::run(&out, a),
        Command::Diff(a) => commands::diff::run(&out, a),
        Command::Info(a) => commands::info::run(&out, a),
        Command::Remove(a) => commands::remove::run(&out, a),
        Command::Pin(a) => commands::pin::run(&out, a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = exit::code_for(&err);
            out.error(&err);
            ExitCode::from(code)
        }
    }
}
