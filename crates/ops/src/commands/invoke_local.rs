//! `invoke local -f NAME`: run one function's handler on this machine with the local runtime
//! (node or python3), after the build `package` does, with the function's environment and a
//! Lambda-like context, under its timeout. No AWS call unless a variable needs one or
//! `with_credentials` asks for the stage's credentials (guard first).

use std::time::{Duration, Instant};

use deployer_config::Resolved;
use deployer_config::model::Service;
use serde::Serialize;
use serde_json::{Value, json};

use crate::calls::AwsCalls;
use crate::commands::deployments;
use crate::commands::invoke::{Payload, payload_bytes};
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::local::context::{context_of, identity};
use crate::pipeline::local::env;
use crate::pipeline::local::{self, LambdaError, Outcome};
use crate::pipeline::service::{self, Source};
use crate::pipeline::stage::{self, Guard, OnDemand, Stage, StageOptions};
use crate::pipeline::{builds, plugins};

/// Lambda's default timeout when neither the function nor the provider sets one.
const DEFAULT_TIMEOUT: u64 = 6;

/// What to run locally.
#[derive(Debug, Default)]
pub struct LocalOptions {
    /// The stage (its configuration; its credentials only when needed).
    pub stage: StageOptions,
    /// The function's key in `functions:`.
    pub function: String,
    /// The event (`--data` or `--path`; none is `{}`).
    pub payload: Payload,
    /// `-e KEY=VALUE`: variables over the configured environment.
    pub env: Vec<String>,
    /// `--context JSON`: the context's `clientContext` (`client_context` in Python).
    pub context: Option<String>,
    /// Pass the stage's credentials to the handler (after the guard).
    pub with_credentials: bool,
}

/// The answer of `invoke local`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalInvocation {
    /// The function's key.
    pub function: String,
    /// The name it has when deployed (`AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    /// The declared runtime.
    pub runtime: String,
    /// `succeeded`, `failed` or `timedOut`.
    pub status: &'static str,
    /// The handler's result (`null` when it failed or returned nothing).
    pub result: Value,
    /// The error in Lambda's shape, when it failed or timed out.
    pub error: Option<LambdaError>,
    /// The function's timeout in seconds.
    pub timeout_seconds: u64,
    /// Environment variables left out because their values are CloudFormation intrinsics.
    pub env_left_out: Vec<String>,
    /// How long the run took, build included, in milliseconds.
    pub millis: u64,
    /// AWS calls made (absent when no credentials were opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_calls: Option<AwsCalls>,
}

fn input(message: String) -> anyhow::Error {
    OpError::error(OpErrorKind::Input, message)
}

/// Builds what the function needs and runs its handler once.
pub async fn invoke_local(
    options: &LocalOptions,
    observer: &dyn Observer,
) -> anyhow::Result<LocalInvocation> {
    let started = Instant::now();
    let cwd = &options.stage.service.cwd;
    let event = event_of(&payload_bytes(&options.payload, cwd)?);
    let client_context = match &options.context {
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|e| input(format!("--context is not JSON: {e}")))?,
        ),
        None => None,
    };
    let overrides = env::parse_overrides(&options.env).map_err(input)?;
    let source = service::load(&options.stage.service, observer)?;
    let opened = open(source, options, observer).await?;
    let Opened {
        source,
        stage,
        resolved,
        mut service,
        aws_calls,
    } = opened;
    plugins::prepare(
        &mut service,
        &source.file.dir,
        &options.stage.service,
        None,
        observer,
    )?;
    let key = &options.function;
    deployments::ensure_function(&service, key, &source.file.path)?;
    let function = &service.functions[key];
    let identity = identity(&service, key, &resolved)?;
    let runtime = local::runtime(key, &identity.runtime)?;
    let (zip_options, _) = builds::run(&service, &source.file, observer)?;
    let module = function
        .extra
        .get("module")
        .and_then(Value::as_str)
        .unwrap_or(".");
    let handler = &identity.handler;
    let code = local::code(
        key,
        handler,
        runtime.language,
        &source.file.dir,
        module,
        &zip_options,
    )?;
    let timeout = function
        .timeout
        .or(service.provider.timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let (mut vars, left_out) = env::configured(&service, key);
    if !left_out.is_empty() {
        observer.warning(&format!(
            "environment variable(s) {} of function \"{key}\" are CloudFormation intrinsics \
             with no value before deploy; left out of the local run (set them with -e NAME=value)",
            left_out.join(", ")
        ));
    }
    let credentials = match &stage {
        Some(stage) if options.with_credentials => Some(stage.session.export_credentials().await?),
        _ => None,
    };
    let work = tempfile::tempdir()?;
    let mut all = env::lambda_vars(&identity, &code.root);
    all.extend(env::credential_vars(
        credentials.as_ref(),
        &work.path().join("no-aws-files"),
    ));
    all.append(&mut vars);
    all.extend(overrides);
    let account = stage.as_ref().map(|s| s.session.account().to_string());
    let context = context_of(&identity, account.as_deref(), timeout, client_context);
    let outcome = local::run(&local::Run {
        runtime: &runtime,
        code: &code,
        event: &event,
        context: &context,
        vars: &all,
        timeout: Duration::from_secs(timeout),
        work: work.path(),
    })
    .await?;
    let (status, result, error) = match outcome {
        Outcome::Result(v) => ("succeeded", v, None),
        Outcome::Failed(e) => ("failed", Value::Null, Some(e)),
        Outcome::TimedOut => ("timedOut", Value::Null, Some(timed_out(timeout))),
    };
    Ok(LocalInvocation {
        function: key.clone(),
        name: identity.name,
        runtime: identity.runtime,
        status,
        result,
        error,
        timeout_seconds: timeout,
        env_left_out: left_out,
        millis: started.elapsed().as_millis() as u64,
        aws_calls: stage.as_ref().map(Stage::calls).or(aws_calls),
    })
}

/// The event: the payload as JSON, else as a string (as v3 does); none is `{}`.
fn event_of(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return json!({});
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn timed_out(timeout: u64) -> LambdaError {
    LambdaError {
        error_type: "Sandbox.Timedout".into(),
        error_message: format!("Task timed out after {timeout}.00 seconds"),
        stack_trace: Vec::new(),
    }
}

/// The configuration resolved, with the stage when it was opened.
struct Opened {
    source: Source,
    stage: Option<Stage>,
    resolved: Resolved,
    service: Service,
    aws_calls: Option<AwsCalls>,
}

/// Resolves the configuration: with `--with-credentials` the stage is opened first (guard
/// first), else only when an AWS-backed variable needs it.
async fn open(
    source: Source,
    options: &LocalOptions,
    observer: &dyn Observer,
) -> anyhow::Result<Opened> {
    if options.with_credentials {
        let stage = stage::open_source(source, &options.stage, Guard::Enforce, observer).await?;
        let resolved = stage
            .source
            .resolve(None, &mut stage.aws_answers(), observer)?;
        let service = stage.source.service(&resolved)?;
        return Ok(Opened {
            source: stage.source.clone(),
            stage: Some(stage),
            resolved,
            service,
            aws_calls: None,
        });
    }
    let mut aws = OnDemand::new(&options.stage, &source, observer);
    let resolved = source.resolve(None, &mut |r| aws.answer(r), observer);
    let (resolved, aws_calls) = aws.finish(resolved)?;
    let service = source.service(&resolved)?;
    Ok(Opened {
        source,
        stage: None,
        resolved,
        service,
        aws_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_or_text() {
        assert_eq!(event_of(b""), json!({}));
        assert_eq!(event_of(br#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(event_of(b"hello"), json!("hello"));
    }
}
