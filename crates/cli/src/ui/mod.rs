//! Everything the user sees: results on stdout, progress, warnings and errors on stderr,
//! prompts on stderr/stdin. The only code that knows about the terminal.

mod fit;
mod observer;
mod progress;
mod prompt;

pub use observer::CliObserver;
pub use prompt::{confirm_removal, prompt_mfa};

use std::io::{IsTerminal, Write};

use crate::args::GlobalArgs;

/// How and where to print.
#[derive(Debug, Clone)]
pub struct Output {
    /// `--json`: one JSON object on stdout, nothing else there.
    pub json: bool,
    /// `--verbose`.
    pub verbose: bool,
    /// Colour on stderr (off with `--no-color`, `NO_COLOR`, or when stderr is not a terminal).
    pub color: bool,
    /// Running in CI (`CI` set and not `false`/`0`): plain progress lines, never prompt.
    pub ci: bool,
    /// stderr is a terminal: live progress lines are allowed.
    pub stderr_tty: bool,
    /// stdin is a terminal: prompting is allowed (never in CI).
    pub interactive: bool,
}

impl Output {
    /// The output settings of the global options and the environment.
    pub fn new(global: &GlobalArgs) -> Self {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        let stderr_tty = std::io::stderr().is_terminal();
        Self {
            json: global.json,
            verbose: global.verbose,
            color: !global.no_color && !no_color_env && stderr_tty,
            ci,
            stderr_tty: stderr_tty && !ci,
            interactive: std::io::stdin().is_terminal() && !ci,
        }
    }

    /// A result line on stdout (suppressed with `--json`, which prints [`Output::json_result`] instead).
    pub fn result(&self, line: &str) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }

    /// The one JSON result object of a `--json` run.
    pub fn json_result(&self, value: &impl serde::Serialize) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }

    /// A progress line on stderr.
    pub fn progress(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }

    /// A detail line on stderr, only with `--verbose`.
    pub fn detail(&self, line: &str) {
        if self.verbose {
            self.progress(line);
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, message: &str) {
        let label = self.paint("Warning:", anstyle::AnsiColor::Yellow);
        self.progress(&format!("{label} {message}"));
    }

    /// The final error of a failed command, with its causes.
    pub fn error(&self, err: &anyhow::Error) {
        let label = self.paint("Error:", anstyle::AnsiColor::Red);
        let mut text = format!("{label} {err}");
        for cause in err.chain().skip(1) {
            let cause = cause.to_string();
            if !text.contains(&cause) {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
        }
        self.progress(&text);
    }

    /// `text` in `color` when colour is on.
    pub fn paint(&self, text: &str, color: anstyle::AnsiColor) -> String {
        if self.color {
            let style = anstyle::Style::new().fg_color(Some(color.into())).bold();
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

/// Logs (`tracing`) go to stderr: `DEPLOYER_LOG` sets the filter, `--verbose` means `info`.
pub fn init_tracing(global: &GlobalArgs) {
    let default = if global.verbose { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DEPLOYER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .try_init();
}
