//! The compose commands that act on every service: options from the arguments, the
//! operation of `deployer_ops::compose`, and the result as one line per service (the name
//! first) or one JSON object.

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;
use deployer_ops::Confirmation;
use deployer_ops::compose::{self, ComposeOptions, ComposeResult, Status, UpSettings};
use deployer_ops::types::{CredentialOptions, MfaPrompt};
use serde_json::Value;

use crate::args::compose::{ComposeArgs, ComposeCli, ComposeCommand};
use crate::args::{CredentialArgs, PrintFormat};
use crate::ui::{self, CliObserver, Output};

/// Parses and runs a compose command; the exit code.
pub async fn run_compose(words: &[String]) -> u8 {
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
    ui::init_tracing(&cli.global, &out);
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
                approve_broadening: a.approve_broadening,
            };
            let mut opts = options(out, &a.common)?;
            opts.ignore_plugins = a.ignore_plugins;
            compose::compose_up(&opts, &settings, &observer).await
        }
        ComposeCommand::Diff(a) => {
            let r = compose::compose_diff(&options(out, &a.common)?, a.drift, &observer).await;
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
                "{}: {failed} of {} services failed or were skipped",
                result.command,
                result.services.len()
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
