//! `print`: the resolved configuration, like `serverless print`. AWS-backed variables are
//! resolved with the stage's credentials, opened (guard first) only when one is needed;
//! `offline` keeps them as written instead.

use deployer_config::ResolveSettings;
use serde::Serialize;
use serde_json::Value;

use crate::defaults::DEPLOYMENT_PREFIX;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::service;
use crate::pipeline::stage::{OnDemand, StageOptions};

/// What to print.
#[derive(Debug, Default)]
pub struct PrintOptions {
    /// The service, its options (`${opt:…}` sees the ones `print` declares) and the
    /// credentials for AWS-backed variables.
    pub stage: StageOptions,
    /// Only the value at this dotted path (`provider.profile`, `functions.hello.events.0`),
    /// resolving only what it needs.
    pub path: Option<String>,
    /// Resolve only offline sources; AWS-backed variables are printed as written
    /// (`${ssm:/x}`) and no credentials are opened.
    pub offline: bool,
}

/// The resolved configuration with the keys v3's `print` adds (or the value at the path).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Printed(pub Value);

/// Resolves the configuration (or the value at the path) and adds v3's derived keys. Async
/// because an AWS-backed variable opens the stage on the caller's (multi-thread) runtime.
pub async fn print(options: &PrintOptions, observer: &dyn Observer) -> anyhow::Result<Printed> {
    let source = service::load(&options.stage.service, observer)?;
    let settings = ResolveSettings {
        aws_as_text: options.offline,
        only: options.path.clone(),
        ..Default::default()
    };
    let mut aws = OnDemand::new(&options.stage, &source, observer);
    let resolved = source.resolve_with(&settings, &mut |r| aws.answer(r), observer);
    let (resolved, _) = aws.finish(resolved)?;
    if let Some(dotenv) = &resolved.dotenv {
        observer.detail(&format!("loaded {}", dotenv.display()));
    }
    let mut value = resolved.value;
    add_derived(&mut value, &resolved.stage, &resolved.region);
    match &options.path {
        Some(path) => select(&value, path).cloned().map(Printed).ok_or_else(|| {
            OpError::error(
                OpErrorKind::NoSuchPath,
                format!(
                    "--path {path}: no such property in the resolved configuration of {}",
                    source.file.path.display()
                ),
            )
        }),
        None => Ok(Printed(value)),
    }
}

/// The keys Serverless v3 adds to what `print` shows: the effective region,
/// `provider.versionFunctions`, each function's deployed `name`,
/// `package.artifactsS3KeyDirname`, and a schedule `rate` string made a list.
fn add_derived(config: &mut Value, stage: &str, region: &str) {
    let service = match config.get("service") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    let Some(root) = config.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(provider)) = root.get_mut("provider") {
        provider.insert("region".into(), Value::String(region.to_string()));
        provider
            .entry("versionFunctions")
            .or_insert(Value::Bool(true));
    }
    if let Some(Value::Object(package)) = root.get_mut("package") {
        package.entry("artifactsS3KeyDirname").or_insert_with(|| {
            Value::String(format!(
                "{DEPLOYMENT_PREFIX}/{service}/{stage}/code-artifacts"
            ))
        });
    }
    if let Some(Value::Object(functions)) = root.get_mut("functions") {
        for (name, function) in functions.iter_mut() {
            let Value::Object(function) = function else {
                continue;
            };
            function
                .entry("name")
                .or_insert_with(|| Value::String(format!("{service}-{stage}-{name}")));
            if let Some(Value::Array(events)) = function.get_mut("events") {
                events.iter_mut().for_each(schedule_rate_as_list);
            }
        }
    }
}

fn schedule_rate_as_list(event: &mut Value) {
    let Some(Value::Object(schedule)) = event.get_mut("schedule") else {
        return;
    };
    if let Some(rate @ Value::String(_)) = schedule.get_mut("rate") {
        *rate = Value::Array(vec![rate.take()]);
    }
}

/// The value at a dotted path (`provider.profile`, `functions.hello.events.0`).
fn select<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .filter(|k| !k.is_empty())
        .try_fold(value, |cur, key| match cur {
            Value::Object(m) => m.get(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn derived_keys() {
        let mut v = json!({
            "service": "svc",
            "provider": {"name": "aws", "stage": "dev", "region": "eu-west-1"},
            "package": {"patterns": []},
            "functions": {
                "a": {"handler": "h", "events": [{"schedule": {"rate": "cron(0 3 * * ? *)"}}, {"schedule": "rate(1 hour)"}]},
                "b": {"handler": "h", "name": "custom-name"}
            }
        });
        add_derived(&mut v, "prod", "us-west-2");
        assert_eq!(v["provider"]["region"], "us-west-2");
        assert_eq!(v["provider"]["stage"], "dev");
        assert_eq!(v["provider"]["versionFunctions"], true);
        assert_eq!(
            v["package"]["artifactsS3KeyDirname"],
            "serverless/svc/prod/code-artifacts"
        );
        assert_eq!(v["functions"]["a"]["name"], "svc-prod-a");
        assert_eq!(v["functions"]["b"]["name"], "custom-name");
        assert_eq!(
            v["functions"]["a"]["events"][0]["schedule"]["rate"],
            json!(["cron(0 3 * * ? *)"])
        );
        assert_eq!(v["functions"]["a"]["events"][1]["schedule"], "rate(1 hour)");
        let mut no_package = json!({"service": "s", "provider": {"versionFunctions": false}});
        add_derived(&mut no_package, "dev", "us-east-1");
        assert!(no_package.get("package").is_none());
        assert_eq!(no_package["provider"]["versionFunctions"], false);
    }

    #[test]
    fn select_paths() {
        let v = json!({"a": {"b": [1, {"c": "x"}]}});
        assert_eq!(select(&v, "a.b.1.c"), Some(&json!("x")));
        assert_eq!(select(&v, "a.b.5"), None);
        assert_eq!(select(&v, "a.z"), None);
    }
}
