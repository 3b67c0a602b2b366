//! A compose root: the working directory holds `serverless-compose.yml` (and no `-c FILE`
//! was given). The commands of every service run through [`deployer_ops::compose`]; one
//! that acts on a single function (`invoke`, `logs`, `deploy function`, …) runs as the
//! single-service command in the folder of the `--service` it names, with that service's
//! params. `deployer NAME:COMMAND` is Compose's spelling of `deployer COMMAND --service NAME`.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use deployer_ops::compose::{self, ComposeOptions, ComposeResult, Status, UpSettings};
use deployer_ops::types::{CredentialOptions, MfaPrompt};
use deployer_ops::{Confirmation, Observer};
use serde_json::Value;

use crate::args::compose::{ComposeArgs, ComposeCli, ComposeCommand};
use crate::args::{CredentialArgs, PrintFormat};
use crate::ui::{self, CliObserver, Output};

/// What `main` does with the command line.
pub enum Dispatch {
    /// Not a compose root: the single-service grammar.
    Single(Vec<OsString>),
    /// Handled here, with this exit code.
    Done(u8),
}

/// The commands run on every service at a compose root (the rest need `--service`).
const COMPOSE_COMMANDS: [&str; 13] = [
    "up",
    "deploy",
    "diff",
    "plan",
    "remove",
    "package",
    "print",
    "info",
    "whoami",
    "verify",
    "graph",
    "help",
    "deploy-list",
];

/// Decides how to run `argv`: at a compose root, the compose commands run here and a
/// single-service command gets the service's folder, stage, region and params.
pub async fn dispatch(argv: Vec<OsString>) -> Dispatch {
    let Ok(cwd) = std::env::current_dir() else {
        return Dispatch::Single(argv);
    };
    let words: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let explicit_config = words.iter().any(|w| {
        w == "-c" || w == "--config" || w.starts_with("--config=") || w.starts_with("-c=")
    });
    if compose::find(&cwd).is_none() || explicit_config {
        return Dispatch::Single(argv);
    }
    let words = spelled_the_compose_way(words);
    let Some((at, command)) = first_command(&words) else {
        return Dispatch::Single(argv);
    };
    let words = deploy_list_as_one_word(words, at);
    let command = if words.get(at).map(String::as_str) == Some("deploy-list") {
        "deploy-list".to_string()
    } else {
        command
    };
    let delegate = !COMPOSE_COMMANDS.contains(&command.as_str())
        || (command == "deploy" && words.get(at + 1).is_some_and(|w| w == "function"));
    if delegate {
        return match single_service(&cwd, words).await {
            Ok(argv) => Dispatch::Single(argv),
            Err(code) => Dispatch::Done(code),
        };
    }
    Dispatch::Done(run_compose(&words).await)
}

/// `NAME:COMMAND` → `COMMAND --service NAME`.
fn spelled_the_compose_way(words: Vec<String>) -> Vec<String> {
    let Some((i, (service, command))) = words.iter().enumerate().skip(1).find_map(|(i, w)| {
        if w.starts_with('-') {
            return None;
        }
        w.split_once(':')
            .filter(|(s, c)| !s.is_empty() && !c.is_empty())
            .map(|(s, c)| (i, (s.to_string(), c.to_string())))
    }) else {
        return words;
    };
    let mut out = words;
    let rest: Vec<String> = command.split(':').map(str::to_string).collect();
    out.splice(i..=i, rest);
    out.push("--service".into());
    out.push(service);
    out
}

/// The command word and its index (global flags before it take no value).
fn first_command(words: &[String]) -> Option<(usize, String)> {
    words
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, w)| !w.starts_with('-'))
        .map(|(i, w)| (i, w.clone()))
}

/// `deploy list` → `deploy-list` (one compose command).
fn deploy_list_as_one_word(mut words: Vec<String>, at: usize) -> Vec<String> {
    if words.get(at).is_some_and(|w| w == "deploy")
        && words.get(at + 1).is_some_and(|w| w == "list")
    {
        words.splice(at..at + 2, ["deploy-list".to_string()]);
    }
    words
}

/// Parses and runs a compose command; the exit code.
async fn run_compose(words: &[String]) -> u8 {
    let cli = match ComposeCli::try_parse_from(words) {
        Ok(cli) => cli,
        Err(err) => {
            let argv: Vec<OsString> = words.iter().map(OsString::from).collect();
            if let Some(failure) = crate::errors::clap_failure(&argv, &err) {
                let _ = err.print();
                ui::print_json(&failure.to_json());
                return failure.exit_code;
            }
            let _ = err.print();
            return if err.use_stderr() {
                crate::exit::USAGE
            } else {
                crate::exit::OK
            };
        }
    };
    let out = Output::new(&cli.global);
    ui::init_tracing(&cli.global);
    match run(&out, cli.command).await {
        Ok(code) => code,
        Err(err) => {
            let failure = crate::errors::classify(&err);
            out.error(&err);
            if out.json {
                out.json_result(&failure.to_json());
            }
            failure.exit_code
        }
    }
}

async fn run(out: &Output, command: ComposeCommand) -> anyhow::Result<u8> {
    let observer = CliObserver::new(out);
    let result = match command {
        ComposeCommand::Up(a) => {
            let settings = UpSettings {
                force: a.force,
                timeout: Some(Duration::from_secs(a.timeout * 60)),
                force_unlock: a.force_unlock,
            };
            let mut opts = options(out, &a.common)?;
            opts.ignore_plugins = a.ignore_plugins;
            compose::compose_up(&opts, &settings, &observer).await
        }
        ComposeCommand::Diff(a) => {
            let r = compose::compose_diff(&options(out, &a.common)?, &observer).await;
            return finish(out, &observer, r, a.detailed_exitcode, None);
        }
        ComposeCommand::Remove(a) => {
            let confirmation = if a.yes {
                Confirmation::Given
            } else if out.interactive {
                Confirmation::Ask(&ui::confirm_removal)
            } else {
                Confirmation::Unavailable
            };
            let opts = options(out, &a.common)?;
            let r = compose::compose_remove(&opts, &confirmation, &observer).await;
            r.map_err(|e| crate::errors::NoPrompt::explain(e, out.ci))
        }
        ComposeCommand::Package(a) => {
            let opts = options(out, &a.common)?;
            compose::compose_package(&opts, a.offline, &observer).await
        }
        ComposeCommand::Print(a) => {
            let opts = options(out, &a.common)?;
            let r = compose::compose_print(&opts, a.path.clone(), a.offline, &observer).await;
            return finish(out, &observer, r, false, Some(a.format));
        }
        ComposeCommand::Info(a) => compose::compose_info(&options(out, &a)?, &observer).await,
        ComposeCommand::Whoami(a) => compose::compose_whoami(&options(out, &a)?, &observer).await,
        ComposeCommand::Verify(a) => compose::compose_verify(&options(out, &a)?, &observer).await,
        ComposeCommand::DeployList(a) => {
            compose::compose_deploy_list(&options(out, &a)?, &observer).await
        }
        ComposeCommand::Graph(a) => return graph(out, &a),
    };
    finish(out, &observer, result, false, None)
}

/// The options of a compose command.
fn options(out: &Output, a: &ComposeArgs) -> anyhow::Result<ComposeOptions> {
    let cwd = std::env::current_dir()?;
    Ok(ComposeOptions {
        cwd,
        stage: a.stage.clone(),
        services: a.services.clone(),
        max_concurrency: a.max_concurrency as usize,
        credentials: credentials(out, &a.credentials),
        params: a.params.clone(),
        extra: extra(out, a),
        ignore_plugins: Vec::new(),
    })
}

fn credentials(out: &Output, c: &CredentialArgs) -> CredentialOptions {
    CredentialOptions {
        aws_profile: c.aws_profile.clone(),
        no_profile: c.no_profile,
        expect_account: c.expect_account.clone(),
        mfa_code: c.mfa_code.clone(),
        interactive_mfa: out
            .interactive
            .then(|| Box::new(ui::prompt_mfa) as MfaPrompt),
    }
}

/// `${opt:…}` of the compose file and the services: the common options, as single commands.
fn extra(out: &Output, a: &ComposeArgs) -> std::collections::BTreeMap<String, Value> {
    let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
    let flag = |on: bool| if on { Value::Bool(true) } else { Value::Null };
    [
        ("config", Value::Null),
        ("aws-profile", text(a.credentials.aws_profile.clone())),
        ("json", flag(out.json)),
        ("verbose", flag(out.verbose)),
        ("stage", text(a.stage.clone())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Prints the result (one JSON object, or one line per service) and gives the exit code:
/// 1 when a service failed or was skipped, 2 for `--detailed-exitcode` with changes.
fn finish(
    out: &Output,
    observer: &CliObserver<'_>,
    result: anyhow::Result<ComposeResult>,
    detailed: bool,
    print_format: Option<PrintFormat>,
) -> anyhow::Result<u8> {
    observer.finish();
    let result = result?;
    if out.json {
        out.json_result(&result);
    } else {
        render(out, &result, print_format);
    }
    if !result.succeeded() {
        let failed = result
            .services
            .iter()
            .filter(|u| u.status.is_failure())
            .count();
        if !out.json {
            out.warn(&format!(
                "{failed} of {} services did not {}",
                result.services.len(),
                result.command
            ));
        }
        return Ok(crate::exit::FAILURE);
    }
    let changed = result.services.iter().any(|u| {
        u.result
            .as_ref()
            .and_then(|r| r.get("changes"))
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty())
    });
    Ok(if detailed && changed {
        crate::exit::USAGE
    } else {
        crate::exit::OK
    })
}

/// One line per service (its name first), then what the command shows per service.
fn render(out: &Output, result: &ComposeResult, print_format: Option<PrintFormat>) {
    for unit in &result.services {
        let mark = match unit.status {
            Status::Failed => "✖",
            Status::Skipped => "-",
            _ => "✔",
        };
        let status = serde_json::to_value(unit.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut line = format!("{mark} {} {status}", unit.service);
        if let Some(stack) = &unit.stack {
            line.push_str(&format!(" · stack {stack}"));
        }
        if let Some(account) = &unit.account {
            line.push_str(&format!(" · account {account}"));
        }
        line.push_str(&format!(" ({:.1}s)", unit.millis as f32 / 1000.0));
        if let Some(error) = &unit.error {
            line.push_str(&format!(": {error}"));
        }
        out.result(&line);
        detail(out, result.command, unit, print_format);
    }
    for note in &result.notes {
        out.warn(note);
    }
}

/// The per-service part a command shows: outputs of `up`/`info`, changes of `diff`, the
/// configuration of `print`.
fn detail(out: &Output, command: &str, unit: &compose::Unit, format: Option<PrintFormat>) {
    let Some(result) = &unit.result else { return };
    let name = &unit.service;
    match command {
        "up" | "info" => {
            if let Some(outputs) = result.get("outputs").and_then(Value::as_object) {
                for (k, v) in outputs {
                    out.result(&format!(
                        "  {name}: {k}: {}",
                        v.as_str().unwrap_or_default()
                    ));
                }
            }
        }
        "diff" => {
            let changes = result.get("changes").and_then(Value::as_array);
            for c in changes.into_iter().flatten() {
                let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
                out.result(&format!(
                    "  {name}: {} {} ({})",
                    field("action"),
                    field("logicalId"),
                    field("resourceType")
                ));
            }
        }
        "print" => {
            let text = match format {
                Some(PrintFormat::Json) => serde_json::to_string_pretty(result).ok(),
                _ => serde_yaml::to_string(result).ok(),
            };
            out.result(&format!(
                "# {name}\n{}",
                text.unwrap_or_default().trim_end()
            ));
        }
        _ => {}
    }
}

/// `deployer graph`: the waves, for a person or a CI matrix.
fn graph(out: &Output, a: &ComposeArgs) -> anyhow::Result<u8> {
    let opts = options(out, a)?;
    let g = compose::graph(&opts)?;
    if out.json {
        out.json_result(&g);
        return Ok(crate::exit::OK);
    }
    for (i, wave) in g.waves.iter().enumerate() {
        out.result(&format!("wave {}:", i + 1));
        for n in wave {
            let deps = if n.depends_on.is_empty() {
                String::new()
            } else {
                format!(" after {}", n.depends_on.join(", "))
            };
            let account = n.account.as_deref().unwrap_or("account not pinned");
            out.result(&format!(
                "  {} ({}) · stack {} · {} · {account}{deps}",
                n.service, n.path, n.stack, n.region
            ));
        }
    }
    Ok(crate::exit::OK)
}

/// A single-service command at a compose root: its `--service` names the service; the
/// command runs with `-c <service config>`, the compose stage, the service's region and
/// params (producers' outputs read from their stacks).
async fn single_service(cwd: &Path, words: Vec<String>) -> Result<Vec<OsString>, u8> {
    let (services, mut rest) = take_service(words);
    let json = rest.iter().any(|w| w == "--json");
    let out = Output::new(&crate::args::GlobalArgs {
        json,
        ..Default::default()
    });
    let stage = value_of(&rest, &["-s", "--stage"]);
    let opts = ComposeOptions {
        cwd: cwd.to_path_buf(),
        stage: stage.clone(),
        services,
        max_concurrency: compose::DEFAULT_MAX_CONCURRENCY,
        credentials: CredentialOptions {
            aws_profile: value_of(&rest, &["--aws-profile"]),
            ..Default::default()
        },
        ..Default::default()
    };
    let observer = CliObserver::new(&out);
    let found = compose::service_options(&opts, &observer as &dyn Observer).await;
    observer.finish();
    let service = match found {
        Ok(s) => s,
        Err(err) => {
            let failure = crate::errors::classify(&err);
            out.error(&err);
            if json {
                out.json_result(&failure.to_json());
            }
            return Err(failure.exit_code);
        }
    };
    let config = match &service.config {
        Some(c) => service.dir.join(c),
        None => default_config(&service.dir),
    };
    rest.push("--config".into());
    rest.push(config.display().to_string());
    if stage.is_none() {
        rest.push("--stage".into());
        rest.push(service.stage.clone());
    }
    if let Some(region) = &service.region
        && value_of(&rest, &["-r", "--region"]).is_none()
    {
        rest.push("--region".into());
        rest.push(region.clone());
    }
    for p in service.params {
        rest.push("--param".into());
        rest.push(p);
    }
    Ok(rest.into_iter().map(OsString::from).collect())
}

/// The service's configuration file, as the single-service commands look for it.
fn default_config(dir: &Path) -> std::path::PathBuf {
    ["serverless.yml", "serverless.yaml", "serverless.json"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .unwrap_or_else(|| dir.join("serverless.yml"))
}

/// Removes `--service NAME` / `--service=NAME` from `words`, returning the names.
fn take_service(words: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut services = Vec::new();
    let mut rest = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        if w == "--service" {
            services.extend(it.next());
        } else if let Some(v) = w.strip_prefix("--service=") {
            services.push(v.to_string());
        } else {
            rest.push(w);
        }
    }
    (services, rest)
}

/// The value of the first of `names` in `words`.
fn value_of(words: &[String], names: &[&str]) -> Option<String> {
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if names.contains(&w.as_str()) {
            return it.next().cloned();
        }
        for n in names {
            if let Some(v) = w.strip_prefix(&format!("{n}=")) {
                return Some(v.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_compose_spelling_names_the_service() {
        assert_eq!(
            spelled_the_compose_way(words("deployer api:deploy --stage dev")),
            words("deployer deploy --stage dev --service api")
        );
        assert_eq!(
            spelled_the_compose_way(words("deployer --json api:deploy:function -f x")),
            words("deployer --json deploy function -f x --service api")
        );
        assert_eq!(
            spelled_the_compose_way(words("deployer up --stage dev")),
            words("deployer up --stage dev")
        );
    }

    #[test]
    fn service_flags_are_taken_out() {
        let (s, rest) = take_service(words("deployer logs -f a --service=api --stage dev"));
        assert_eq!(s, vec!["api"]);
        assert_eq!(rest, words("deployer logs -f a --stage dev"));
        assert_eq!(value_of(&rest, &["-s", "--stage"]).as_deref(), Some("dev"));
        let list = deploy_list_as_one_word(words("deployer deploy list --stage x"), 1);
        assert_eq!(list, words("deployer deploy-list --stage x"));
    }
}
