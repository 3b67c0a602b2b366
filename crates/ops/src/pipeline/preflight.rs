//! Pre-flight checks before any AWS write: limits AWS would only report halfway through a
//! deploy (or not at all: a blocked runtime fails the stack update after the uploads).
//!
//! - the runtime of each function is one Lambda accepts for new functions ([`RUNTIMES`]:
//!   a deprecated runtime is a warning, one whose creation is blocked an error for `up` and
//!   `diff`, a warning for the offline `package`);
//! - function names are at most 64 characters (an error for `up` and `diff`, a warning for
//!   `package`, which v3 also packages);
//! - the stack template is at most 1 MB (the limit for a template given by S3 URL, which is
//!   how deployer always passes it) and has at most 500 resources.
//!
//! A handler whose file is missing is refused by the packaging step itself
//! (`deployer_package::PackageError::HandlerMissing`), which runs before any AWS write.

use std::collections::BTreeMap;

use deployer_config::model::{Event, Service};
use serde_json::Value;

use crate::observer::Observer;
use crate::pipeline::report::{self, Names};

/// A deploy refused by the pre-flight checks, before anything was sent to AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightError {
    /// One sentence per problem: the setting, what is wrong and what to choose instead.
    pub problems: Vec<String>,
}

impl std::fmt::Display for PreflightError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pre-flight check failed, nothing was sent to AWS:\n  - {}",
            self.problems.join("\n  - ")
        )
    }
}

impl std::error::Error for PreflightError {}

/// A calendar date, `(year, month, day)`, compared as a tuple.
pub(crate) type Day = (i32, u8, u8);

/// A Lambda runtime and its end-of-support dates.
pub(crate) struct Runtime {
    /// The runtime identifier (`provider.runtime`).
    pub id: &'static str,
    /// Deprecation: no more security patches; still deployable.
    pub deprecated: Day,
    /// From this day Lambda refuses to create functions with it.
    pub block_create: Day,
    /// From this day Lambda refuses to update functions with it.
    pub block_update: Day,
}

const fn rt(id: &'static str, deprecated: Day, block_create: Day, block_update: Day) -> Runtime {
    Runtime {
        id,
        deprecated,
        block_create,
        block_update,
    }
}

/// Lambda's managed runtimes and their dates, from AWS's "Lambda runtimes" page (supported
/// and deprecated runtimes). The one place to update when AWS announces new dates.
pub(crate) const RUNTIMES: &[Runtime] = &[
    rt("nodejs24.x", (2028, 4, 30), (2028, 6, 1), (2028, 7, 1)),
    rt("nodejs22.x", (2027, 4, 30), (2027, 6, 1), (2027, 7, 1)),
    rt("nodejs20.x", (2026, 4, 30), (2026, 8, 31), (2026, 9, 30)),
    rt("nodejs18.x", (2025, 9, 1), (2026, 2, 3), (2026, 3, 9)),
    rt("nodejs16.x", (2024, 6, 12), (2025, 2, 28), (2025, 3, 31)),
    rt("nodejs14.x", (2023, 12, 4), (2025, 2, 28), (2025, 3, 31)),
    rt("nodejs12.x", (2023, 3, 31), (2023, 3, 31), (2023, 4, 30)),
    rt("python3.14", (2029, 6, 30), (2029, 7, 31), (2029, 8, 31)),
    rt("python3.13", (2029, 6, 30), (2029, 7, 31), (2029, 8, 31)),
    rt("python3.12", (2028, 10, 31), (2028, 11, 30), (2029, 1, 10)),
    rt("python3.11", (2027, 6, 30), (2027, 7, 31), (2027, 8, 31)),
    rt("python3.10", (2026, 6, 30), (2026, 7, 31), (2026, 8, 31)),
    rt("python3.9", (2025, 12, 15), (2026, 2, 3), (2026, 3, 9)),
    rt("python3.8", (2024, 10, 14), (2025, 2, 28), (2025, 3, 31)),
    rt("python3.7", (2023, 12, 4), (2025, 2, 28), (2025, 3, 31)),
    rt("java25", (2029, 6, 30), (2029, 7, 31), (2029, 8, 31)),
    rt("java21", (2029, 6, 30), (2029, 7, 31), (2029, 8, 31)),
    rt("java17", (2026, 6, 30), (2026, 7, 31), (2026, 8, 31)),
    rt("java11", (2026, 6, 30), (2026, 7, 31), (2026, 8, 31)),
    rt("java8.al2", (2026, 6, 30), (2026, 7, 31), (2026, 8, 31)),
    rt("dotnet10", (2028, 11, 14), (2028, 12, 14), (2029, 1, 15)),
    rt("dotnet8", (2026, 11, 10), (2026, 12, 10), (2027, 1, 11)),
    rt("dotnet6", (2024, 12, 20), (2025, 2, 28), (2025, 3, 31)),
    rt("ruby3.4", (2028, 3, 31), (2028, 4, 30), (2028, 5, 31)),
    rt("ruby3.3", (2027, 3, 31), (2027, 4, 30), (2027, 5, 31)),
    rt("ruby3.2", (2026, 3, 31), (2026, 4, 30), (2026, 5, 31)),
    rt(
        "provided.al2023",
        (2029, 6, 30),
        (2029, 7, 31),
        (2029, 8, 31),
    ),
    rt("provided.al2", (2026, 6, 30), (2026, 7, 31), (2026, 8, 31)),
    rt("provided", (2023, 12, 31), (2024, 1, 8), (2024, 2, 8)),
    rt("go1.x", (2023, 12, 31), (2024, 1, 8), (2024, 2, 8)),
    // Retired before the list above; AWS gives no separate deprecation date for the oldest
    // ones (it is the day creation was blocked here). Container-only runtimes (dotnet5.0,
    // dotnet7) never took a zip: blocked from their deprecation.
    rt("java8", (2023, 12, 31), (2024, 1, 8), (2024, 2, 8)),
    rt("ruby2.7", (2023, 12, 7), (2024, 1, 9), (2024, 2, 8)),
    rt("ruby2.5", (2021, 7, 30), (2021, 7, 30), (2022, 3, 31)),
    rt("dotnet7", (2024, 5, 14), (2024, 5, 14), (2024, 5, 14)),
    rt("dotnet5.0", (2022, 5, 10), (2022, 5, 10), (2022, 5, 10)),
    rt("dotnetcore3.1", (2023, 4, 3), (2023, 4, 3), (2023, 5, 3)),
    rt("dotnetcore2.1", (2022, 1, 5), (2022, 1, 5), (2022, 4, 13)),
    rt("dotnetcore2.0", (2019, 5, 30), (2019, 5, 30), (2019, 5, 30)),
    rt("dotnetcore1.0", (2019, 7, 30), (2019, 7, 30), (2019, 7, 30)),
    rt("python3.6", (2022, 7, 18), (2022, 7, 18), (2022, 8, 29)),
    rt("python2.7", (2021, 7, 15), (2021, 7, 15), (2022, 5, 30)),
    rt("nodejs10.x", (2021, 7, 30), (2021, 7, 30), (2022, 2, 14)),
    rt("nodejs8.10", (2020, 1, 6), (2020, 1, 6), (2020, 3, 6)),
    rt("nodejs6.10", (2019, 4, 30), (2019, 4, 30), (2019, 8, 12)),
    rt(
        "nodejs4.3-edge",
        (2019, 4, 30),
        (2019, 4, 30),
        (2019, 4, 30),
    ),
    rt("nodejs4.3", (2020, 3, 5), (2020, 3, 5), (2020, 3, 5)),
    rt("nodejs", (2016, 10, 31), (2016, 10, 31), (2016, 10, 31)),
];

/// The longest Lambda function name.
pub(crate) const MAX_FUNCTION_NAME: usize = 64;
/// The largest template CloudFormation takes by S3 URL (`TemplateURL`).
pub(crate) const MAX_TEMPLATE_BYTES: usize = 1024 * 1024;
/// The most resources one stack may declare.
pub(crate) const MAX_RESOURCES: usize = 500;

/// Which command runs the checks: `package` writes nothing to AWS, so a runtime whose
/// creation is blocked and a function name Lambda would refuse are only warnings there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `package`.
    Package,
    /// `up`, `diff`: the stack will be (or could be) created or updated.
    Deploy,
}

/// Runs every check on the resolved service and its stack template: warnings go to
/// `observer`, the first set of errors is returned as one error listing them all.
pub(crate) fn check(
    service: &Service,
    template: &Value,
    today: Day,
    mode: Mode,
    observer: &dyn Observer,
) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for (problem, blocking) in runtime_problems(service, today) {
        if blocking && mode == Mode::Deploy {
            errors.push(problem);
        } else {
            observer.warning(&problem);
        }
    }
    for note in bare_alexa_skills(service) {
        observer.warning(&note);
    }
    for problem in name_problems(service, template) {
        // v3 packages such a function; only creating it fails.
        match mode {
            Mode::Deploy => errors.push(problem),
            Mode::Package => observer.warning(&problem),
        }
    }
    errors.extend(template_problems(template));
    if errors.is_empty() {
        return Ok(());
    }
    Err(PreflightError { problems: errors }.into())
}

/// Today's date (UTC).
pub(crate) fn today() -> Day {
    let now = time::OffsetDateTime::now_utc();
    (now.year(), now.month() as u8, now.day())
}

/// Each function's runtime problem and whether it blocks a deploy.
fn runtime_problems(service: &Service, today: Day) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let current = current_runtimes(today).join(", ");
    for (key, function) in &service.functions {
        if function.image.is_some() {
            continue; // container images bring their own runtime
        }
        let (runtime, from) = match (&function.runtime, &service.provider.runtime) {
            (Some(r), _) => (r.as_str(), format!("functions.{key}.runtime")),
            (None, Some(r)) => (r.as_str(), "provider.runtime".to_string()),
            (None, None) => {
                out.push((
                    format!(
                        "function {key} has no runtime: neither provider.runtime nor \
                         functions.{key}.runtime is set, and Serverless v3's default \
                         (nodejs16.x) can no longer be created by Lambda. Set provider.runtime \
                         to one of: {current}"
                    ),
                    true,
                ));
                continue;
            }
        };
        if let Some(problem) = runtime_problem(runtime, &from, today, &current) {
            out.push(problem);
        }
    }
    out.dedup();
    out
}

/// The problem with `runtime` (set at `from`) on `today`, if any.
fn runtime_problem(runtime: &str, from: &str, today: Day, current: &str) -> Option<(String, bool)> {
    let Some(r) = RUNTIMES.iter().find(|r| r.id == runtime) else {
        return Some((
            format!(
                "{from} is {runtime}, which is not a Lambda runtime deployer knows; Lambda \
                 currently creates functions with: {current}"
            ),
            false,
        ));
    };
    if today >= r.block_create {
        let update = if today >= r.block_update {
            format!("nor updates them since {}", day(r.block_update))
        } else {
            format!(
                "and updates existing ones only until {}",
                day(r.block_update)
            )
        };
        return Some((
            format!(
                "{from} is {runtime}, deprecated since {}: since {} Lambda no longer creates \
                 functions with it {update}. Choose one of: {current}",
                day(r.deprecated),
                day(r.block_create)
            ),
            true,
        ));
    }
    (today >= r.deprecated).then(|| {
        (
            format!(
                "{from} is {runtime}, deprecated since {}; Lambda stops creating functions with \
                 it on {}. Move to one of: {current}",
                day(r.deprecated),
                day(r.block_create)
            ),
            false,
        )
    })
}

/// The runtimes Lambda creates functions with and that are not deprecated on `today`.
fn current_runtimes(today: Day) -> Vec<&'static str> {
    RUNTIMES
        .iter()
        .filter(|r| today < r.deprecated)
        .map(|r| r.id)
        .collect()
}

fn day((y, m, d): Day) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// Function names longer than Lambda takes.
fn name_problems(service: &Service, template: &Value) -> Vec<String> {
    report::functions(service, Names::Template(template))
        .into_iter()
        .filter(|(_, name)| name.chars().count() > MAX_FUNCTION_NAME)
        .map(|(key, name)| {
            format!(
                "function {key} would be named \"{name}\" ({} characters); Lambda takes at most \
                 {MAX_FUNCTION_NAME}. Set functions.{key}.name, or shorten the service, stage \
                 or function key",
                name.chars().count()
            )
        })
        .collect()
}

/// Bare `- alexaSkill` events: v3 3.x grants no permission for them (and warns that the
/// syntax goes away), so no skill can invoke the function through them.
fn bare_alexa_skills(service: &Service) -> Vec<String> {
    let mut out = Vec::new();
    for (key, function) in &service.functions {
        for (i, event) in function.events.iter().enumerate() {
            if matches!(event, Event::AlexaSkill(Value::Null)) {
                out.push(format!(
                    "functions.{key}.events[{i}] is `alexaSkill` without an app ID: as in \
                     Serverless v3, no permission is added for it, so no skill can invoke \
                     {key}. Write `- alexaSkill: <skill ID>` (amzn1.ask.skill....) to allow one"
                ));
            }
        }
    }
    out
}

/// A template over CloudFormation's size or resource limits.
fn template_problems(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = serde_json::to_vec(template).map_or(0, |v| v.len());
    if bytes > MAX_TEMPLATE_BYTES {
        out.push(format!(
            "the stack template is {bytes} bytes; CloudFormation takes at most \
             {MAX_TEMPLATE_BYTES} bytes. Move resources into a separate stack or shorten \
             repeated definitions"
        ));
    }
    let Some(resources) = template["Resources"].as_object() else {
        return out;
    };
    if resources.len() > MAX_RESOURCES {
        let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
        for r in resources.values() {
            *by_type
                .entry(r["Type"].as_str().unwrap_or("?"))
                .or_default() += 1;
        }
        let mut groups: Vec<(&str, usize)> = by_type.into_iter().collect();
        groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let biggest: Vec<String> = groups
            .iter()
            .take(3)
            .map(|(t, n)| format!("{n} × {t}"))
            .collect();
        out.push(format!(
            "the stack has {} resources; CloudFormation takes at most {MAX_RESOURCES}. Move at \
             least {} into another service or a nested stack; the biggest groups: {}",
            resources.len(),
            resources.len() - MAX_RESOURCES,
            biggest.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::tests::Collect;

    const TODAY: Day = (2026, 12, 1);

    fn service(yml: &str) -> Service {
        let v: Value = serde_yaml::from_str(yml).unwrap();
        Service::from_value(&v).unwrap()
    }

    fn run(yml: &str, template: &Value, mode: Mode) -> (anyhow::Result<()>, Vec<String>) {
        let observer = Collect::default();
        let result = check(&service(yml), template, TODAY, mode, &observer);
        (result, observer.warnings.into_inner().unwrap())
    }

    fn empty() -> Value {
        serde_json::json!({"Resources": {}})
    }

    #[test]
    fn current_runtime_passes_without_a_word() {
        let yml = "service: s\nprovider: {name: aws, runtime: nodejs24.x}\nfunctions: {f: {handler: h.f}}\n";
        let (r, w) = run(yml, &empty(), Mode::Deploy);
        assert!(r.is_ok() && w.is_empty(), "{r:?} {w:?}");
    }

    #[test]
    fn deprecated_runtime_warns_and_still_deploys() {
        let yml = "service: s\nprovider: {name: aws, runtime: python3.11}\nfunctions: {f: {handler: h.f}}\n";
        let (r, w) = run(yml, &empty(), Mode::Deploy);
        assert!(r.is_ok(), "{r:?}");
        assert!(w.is_empty(), "python3.11 is current until 2027: {w:?}");
        let yml =
            "service: s\nprovider: {name: aws, runtime: dotnet8}\nfunctions: {f: {handler: h.f}}\n";
        let (r, w) = run(yml, &empty(), Mode::Deploy);
        assert!(r.is_ok(), "{r:?}");
        assert!(w[0].contains("deprecated since 2026-11-10"), "{w:?}");
    }

    #[test]
    fn blocked_runtime_fails_a_deploy_and_warns_in_package() {
        let yml = "service: s\nprovider: {name: aws, runtime: nodejs20.x}\nfunctions: {f: {handler: h.f}}\n";
        let err = run(yml, &empty(), Mode::Deploy).0.unwrap_err().to_string();
        assert!(
            err.contains(
                "provider.runtime is nodejs20.x, deprecated since 2026-04-30: since 2026-08-31 \
                 Lambda no longer creates functions with it nor updates them since 2026-09-30"
            ),
            "{err}"
        );
        assert!(err.contains("nodejs24.x"), "{err}");
        let (r, w) = run(yml, &empty(), Mode::Package);
        assert!(r.is_ok());
        assert_eq!(w.len(), 1, "{w:?}");
    }

    /// Runtimes retired long ago are refused with their dates like recent ones, not let through
    /// as unknown.
    #[test]
    fn every_retired_runtime_fails_a_deploy_with_its_dates() {
        for (runtime, dates) in [
            ("nodejs10.x", "2021-07-30"),
            ("nodejs8.10", "2020-03-06"),
            ("nodejs4.3", "2020-03-05"),
            ("nodejs", "2016-10-31"),
            ("python2.7", "2022-05-30"),
            ("python3.6", "2022-08-29"),
            ("dotnetcore3.1", "2023-05-03"),
            ("dotnetcore1.0", "2019-07-30"),
            ("dotnet5.0", "2022-05-10"),
            ("dotnet7", "2024-05-14"),
            ("ruby2.5", "2022-03-31"),
            ("ruby2.7", "2024-02-08"),
            ("java8", "2024-02-08"),
            ("go1.x", "2024-02-08"),
            ("provided", "2024-02-08"),
        ] {
            let yml = format!(
                "service: s\nprovider: {{name: aws, runtime: {runtime}}}\nfunctions: {{f: {{handler: h.f}}}}\n"
            );
            let err = run(&yml, &empty(), Mode::Deploy).0.unwrap_err().to_string();
            assert!(
                err.contains(&format!("provider.runtime is {runtime}, deprecated since")),
                "{err}"
            );
            assert!(err.contains(dates), "{runtime}: {err}");
        }
    }

    #[test]
    fn no_runtime_names_provider_runtime_and_the_choices() {
        let yml = "service: s\nprovider: {name: aws}\nfunctions: {f: {handler: h.f}}\n";
        let err = run(yml, &empty(), Mode::Deploy).0.unwrap_err().to_string();
        assert!(
            err.contains("Set provider.runtime to one of: nodejs24.x"),
            "{err}"
        );
        assert!(
            !err.contains("nodejs20.x,"),
            "deprecated ones are not offered: {err}"
        );
    }

    #[test]
    fn a_bare_alexa_skill_is_a_warning() {
        let yml = "service: s\nprovider: {name: aws, runtime: nodejs24.x}\nfunctions: {f: {handler: h.f, events: [alexaSkill]}}\n";
        let (r, w) = run(yml, &empty(), Mode::Deploy);
        assert!(r.is_ok(), "{r:?}");
        assert!(
            w[0].starts_with("functions.f.events[0] is `alexaSkill` without an app ID"),
            "{w:?}"
        );
    }

    #[test]
    fn long_function_names_are_refused_with_key_and_name() {
        let yml = "service: s\nprovider: {name: aws, runtime: nodejs24.x}\nfunctions: {f: {handler: h.f}}\n";
        let long = "x".repeat(65);
        let t = serde_json::json!({"Resources": {"FLambdaFunction": {
            "Type": "AWS::Lambda::Function", "Properties": {"FunctionName": long}}}});
        let err = run(yml, &t, Mode::Deploy).0.unwrap_err().to_string();
        let problem = format!("function f would be named \"{long}\" (65 characters)");
        assert!(err.contains(&problem));
        // v3 packages it: `package` only warns.
        let (r, w) = run(yml, &t, Mode::Package);
        assert!(r.is_ok(), "{r:?}");
        assert!(w.len() == 1 && w[0].starts_with(&problem), "{w:?}");
    }

    #[test]
    fn too_many_resources_names_the_biggest_groups() {
        let yml = "service: s\nprovider: {name: aws, runtime: nodejs24.x}\n";
        let mut resources = serde_json::Map::new();
        for i in 0..480 {
            resources.insert(
                format!("Q{i}"),
                serde_json::json!({"Type": "AWS::SQS::Queue"}),
            );
        }
        for i in 0..30 {
            resources.insert(
                format!("T{i}"),
                serde_json::json!({"Type": "AWS::SNS::Topic"}),
            );
        }
        let t = serde_json::json!({ "Resources": resources });
        let err = run(yml, &t, Mode::Package).0.unwrap_err().to_string();
        assert!(err.contains("510 resources"), "{err}");
        assert!(err.contains("at least 10"), "{err}");
        assert!(
            err.contains("480 × AWS::SQS::Queue, 30 × AWS::SNS::Topic"),
            "{err}"
        );
    }

    #[test]
    fn template_over_one_megabyte_is_refused() {
        let yml = "service: s\nprovider: {name: aws, runtime: nodejs24.x}\n";
        let t = serde_json::json!({"Resources": {}, "Description": "d".repeat(MAX_TEMPLATE_BYTES)});
        let err = run(yml, &t, Mode::Package).0.unwrap_err().to_string();
        assert!(
            err.contains("CloudFormation takes at most 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn every_runtime_has_ordered_dates() {
        for r in RUNTIMES {
            assert!(
                r.deprecated <= r.block_create && r.block_create <= r.block_update,
                "{}",
                r.id
            );
        }
    }
}

#[cfg(test)]
#[path = "settings_probe_tests.rs"]
mod settings_probe_tests;
