//! Everything the user sees: results on stdout, progress, warnings and errors on stderr,
//! prompts on stderr/stdin. The only code that knows about the terminal.

mod fit;
mod live;
mod observer;
mod progress;
mod prompt;
mod redact;

pub use observer::CliObserver;
pub use prompt::{confirm_removal, confirm_watch, prompt_mfa};

use std::io::{IsTerminal, Write};

use crate::args::GlobalArgs;

/// How and where to print.
#[derive(Debug, Clone)]
pub struct Output {
    /// `--json`: one JSON object on stdout, nothing else there.
    pub json: bool,
    /// `--verbose` given at least once (`-v`): deployer's own steps.
    pub verbose: bool,
    /// `-vv`: the SDK's requests and raw error chains too.
    pub sdk_debug: bool,
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
            verbose: global.verbose >= 1,
            sdk_debug: global.verbose >= 2,
            color: !global.no_color && !no_color_env && stderr_tty,
            ci,
            stderr_tty: stderr_tty && !ci,
            interactive: std::io::stdin().is_terminal() && !ci,
        }
    }

    /// A result line on stdout (suppressed with `--json`, which prints [`Output::json_result`] instead).
    pub fn result(&self, line: &str) {
        if !self.json {
            live::clear();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }

    /// The one JSON result object of a `--json` run.
    pub fn json_result(&self, value: &impl serde::Serialize) {
        print_json(value);
    }

    /// One compact JSON object on its own stdout line (streamed results such as `logs --tail`).
    pub fn json_line(&self, value: &impl serde::Serialize) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", serde_json::to_string(value).unwrap_or_default());
        let _ = out.flush();
    }

    /// A progress line on stderr (above the live line when one is up).
    pub fn progress(&self, line: &str) {
        live::println(line);
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

    /// The final error of a failed command, with its causes; the SDK's raw error chain only
    /// with `-vv`.
    pub fn error(&self, err: &anyhow::Error) {
        let label = self.paint("Error:", anstyle::AnsiColor::Red);
        self.progress(&format!("{label} {}", crate::errors::describe(err)));
        if self.sdk_debug
            && let Some(raw) = crate::errors::raw_chain(err)
        {
            self.progress(&format!("AWS SDK error chain: {}", redact::text(&raw)));
        }
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

/// Prints `value` as pretty JSON on stdout (the one object of a `--json` run).
pub fn print_json(value: &impl serde::Serialize) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Logs (`tracing`) go to stderr through [`redact`]: `DEPLOYER_LOG` (or `RUST_LOG`) sets the
/// filter — `LEVEL` and `TARGET=LEVEL` directives, comma-separated; `-v` means deployer's own
/// `info`, `-vv` adds the AWS SDK's `debug`. A value that does not parse is named in a warning
/// and the next setting (or the default) is used.
pub fn init_tracing(global: &GlobalArgs, out: &Output) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let set = ["DEPLOYER_LOG", "RUST_LOG"].map(|name| (name, std::env::var(name).ok()));
    let set = set.into_iter().filter_map(|(name, v)| Some((name, v?)));
    let (filter, warnings) = filter_from(set, global.verbose);
    for warning in &warnings {
        out.warn(warning);
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(redact::Writer::stderr)
        .with_ansi(false)
        .with_target(global.verbose >= 2)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init();
}

/// The first of the `(variable, value)` settings that is a non-empty, valid filter, else the
/// default for `verbosity`; with a warning for each setting that is not a filter.
fn filter_from<'a>(
    settings: impl IntoIterator<Item = (&'a str, String)>,
    verbosity: u8,
) -> (tracing_subscriber::filter::Targets, Vec<String>) {
    let mut warnings = Vec::new();
    for (name, value) in settings {
        if value.trim().is_empty() {
            continue;
        }
        // `Targets` would read `target[span]` as a target name that matches nothing.
        let parsed = match value.contains(['[', '{']) {
            true => Err("span and field filters are not supported".to_string()),
            false => value.parse().map_err(|e| format!("{e}")),
        };
        match parsed {
            Ok(filter) => return (filter, warnings),
            Err(e) => warnings.push(format!(
                "{name}={value:?} is not a log filter ({e}): deployer takes LEVEL and \
                 target=level, comma-separated (no span or field filters); it is ignored"
            )),
        }
    }
    let default = redact::default_filter(verbosity).parse();
    (default.unwrap_or_default(), warnings)
}

#[cfg(test)]
mod tests {
    use super::filter_from;
    use tracing_subscriber::filter::LevelFilter;

    fn values(list: &[&str]) -> Vec<(&'static str, String)> {
        list.iter()
            .map(|v| ("DEPLOYER_LOG", v.to_string()))
            .collect()
    }

    #[test]
    fn the_first_valid_setting_wins() {
        let (filter, warnings) = filter_from(values(&["", "warn,deployer_aws=debug", "trace"]), 0);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(filter.would_enable(
            "deployer_aws::flow",
            &LevelFilter::DEBUG.into_level().unwrap()
        ));
        assert!(!filter.would_enable(
            "aws_smithy_runtime",
            &LevelFilter::INFO.into_level().unwrap()
        ));
    }

    #[test]
    fn an_invalid_setting_falls_back_to_the_default() {
        let (filter, warnings) = filter_from(values(&["deployer=loud", "deployer[run]=debug"]), 1);
        assert_eq!(warnings.len(), 2);
        assert!(warnings[1].contains("span and field filters are not supported"));
        assert!(warnings[0].starts_with("DEPLOYER_LOG=\"deployer=loud\" is not a log filter"));
        assert!(warnings[0].contains("it is ignored"), "{}", warnings[0]);
        assert!(filter.would_enable(
            "deployer_ops::commands",
            &LevelFilter::INFO.into_level().unwrap()
        ));
        assert!(!filter.would_enable(
            "deployer_ops::commands",
            &LevelFilter::DEBUG.into_level().unwrap()
        ));
        assert_eq!(
            filter_from(values(&[]), 0).0.default_level(),
            Some(LevelFilter::WARN)
        );
    }

    #[test]
    fn very_verbose_shows_the_sdk_debug_lines() {
        let (filter, _) = filter_from(values(&[]), 2);
        assert!(filter.would_enable(
            "aws_smithy_runtime::client",
            &LevelFilter::DEBUG.into_level().unwrap()
        ));
    }
}
