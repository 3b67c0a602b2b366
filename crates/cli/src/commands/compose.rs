//! A compose root: the working directory holds `serverless-compose.yml` (and no `-c FILE`
//! was given). The commands of every service run through [`deployer_ops::compose`]; one
//! that acts on a single function (`invoke`, `logs`, `deploy function`, …) runs as the
//! single-service command in the folder of the `--service` it names, with that service's
//! params. `deployer NAME:COMMAND` is Compose's spelling of `deployer COMMAND --service NAME`.

use std::ffi::OsString;
use std::path::Path;

use deployer_ops::Observer;
use deployer_ops::compose::{self, ComposeOptions};
use deployer_ops::types::CredentialOptions;

use crate::ui::{CliObserver, Output};

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
        || (command == "deploy" && words.get(at + 1).is_some_and(|w| w == "function"))
        || saved_plan(&command, &words[at..]);
    if delegate {
        return match single_service(&cwd, words).await {
            Ok(argv) => Dispatch::Single(argv),
            Err(code) => Dispatch::Done(code),
        };
    }
    Dispatch::Done(super::compose_run::run_compose(&words).await)
}

/// A saved plan is one service's: `up --plan FILE`, `plan --out FILE`, `plan --discard FILE`
/// run as that service's single-service command (and ask for `--service` without one).
fn saved_plan(command: &str, words: &[String]) -> bool {
    let flags: &[&str] = match command {
        "up" | "deploy" => &["--plan"],
        "diff" | "plan" => &["--out", "--discard"],
        _ => return false,
    };
    words.iter().any(|w| {
        flags
            .iter()
            .any(|f| w == f || w.strip_prefix(f).is_some_and(|r| r.starts_with('=')))
    })
}

/// `NAME:COMMAND` → `COMMAND --service NAME` (only in the command's place: option values
/// such as times hold colons too).
fn spelled_the_compose_way(words: Vec<String>) -> Vec<String> {
    let Some((i, word)) = first_command(&words) else {
        return words;
    };
    let Some((service, command)) = word
        .split_once(':')
        .filter(|(s, c)| !s.is_empty() && !c.is_empty())
    else {
        return words;
    };
    let mut out = words.clone();
    out.splice(i..=i, command.split(':').map(str::to_string));
    out.push("--service".into());
    out.push(service.to_string());
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
        let logs = words("deployer logs -f a --startTime 2026-11-27T13:53:12Z");
        assert_eq!(spelled_the_compose_way(logs.clone()), logs);
    }

    #[test]
    fn a_saved_plan_is_one_services_command() {
        assert!(saved_plan("up", &words("up --plan p.json --service api")));
        assert!(saved_plan("deploy", &words("deploy --plan=p.json")));
        assert!(saved_plan("plan", &words("plan --stage prod --out p.json")));
        assert!(saved_plan("diff", &words("diff --discard p.json")));
        assert!(!saved_plan("up", &words("up --stage prod --planned")));
        assert!(!saved_plan("diff", &words("diff --drift")));
        assert!(!saved_plan("remove", &words("remove --plan p.json")));
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
