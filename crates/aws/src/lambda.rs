//! Lambda calls of the daily loop: read a deployed function, replace its code or settings and
//! wait until the update has landed, invoke it.

use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Environment, InvocationType, LastUpdateStatus, LogType, State, VpcConfig,
};
use base64::Engine as _;

use crate::error::{AwsError, FailureKind};

/// Longest wait for an update to land (v3 polls for 60 s too).
pub const UPDATE_WAIT: Duration = Duration::from_secs(60);
/// Zips larger than this go through the deployment bucket (UpdateFunctionCode's inline
/// `ZipFile` takes at most 50 MB base64-encoded; stay clearly below it).
pub const INLINE_ZIP_LIMIT: u64 = 40 * 1024 * 1024;

/// What GetFunction says about a deployed function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionState {
    /// Function name.
    pub name: String,
    /// Function ARN.
    pub arn: String,
    /// base64 SHA-256 of the deployed code.
    pub code_sha256: String,
    /// `Pending`, `Active`, … (empty when not reported).
    pub state: String,
    /// `InProgress`, `Successful`, `Failed` (empty when not reported).
    pub last_update_status: String,
    /// Why the last update failed, when it did.
    pub last_update_reason: Option<String>,
    /// Memory in MB.
    pub memory_size: Option<i32>,
    /// Timeout in seconds.
    pub timeout: Option<i32>,
    /// Execution role ARN.
    pub role: Option<String>,
    /// Last modification time as Lambda reports it.
    pub last_modified: Option<String>,
}

/// Settings for UpdateFunctionConfiguration; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionSettings {
    /// Memory in MB.
    pub memory_size: Option<i32>,
    /// Timeout in seconds.
    pub timeout: Option<i32>,
    /// Environment variables (the whole set).
    pub environment: Option<Vec<(String, String)>>,
    /// Layer version ARNs (the whole list).
    pub layers: Option<Vec<String>>,
    /// Execution role ARN.
    pub role: Option<String>,
    /// VPC subnets and security groups.
    pub vpc: Option<(Vec<String>, Vec<String>)>,
}

impl FunctionSettings {
    /// True when no setting is to change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How to invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvokeType {
    /// Wait for the result.
    #[default]
    RequestResponse,
    /// Queue the event.
    Event,
    /// Check the permissions only.
    DryRun,
}

impl InvokeType {
    fn sdk(self) -> InvocationType {
        match self {
            Self::RequestResponse => InvocationType::RequestResponse,
            Self::Event => InvocationType::Event,
            Self::DryRun => InvocationType::DryRun,
        }
    }
}

/// The answer of an Invoke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invoked {
    /// HTTP status Lambda reported (200, 202, 204).
    pub status: i32,
    /// `Unhandled`/`Handled` when the function failed.
    pub function_error: Option<String>,
    /// The response payload.
    pub payload: Vec<u8>,
    /// The decoded tail of the log (with `LogType: Tail`).
    pub log: Option<String>,
    /// The version that ran.
    pub executed_version: Option<String>,
}

fn is_not_found(err: &AwsError) -> bool {
    err.code() == Some("ResourceNotFoundException")
}

/// GetFunction; `None` when the function does not exist.
pub async fn get_function(lambda: &Client, name: &str) -> Result<Option<FunctionState>, AwsError> {
    let out = match lambda.get_function().function_name(name).send().await {
        Ok(out) => out,
        Err(e) => {
            let err = AwsError::call(format!("Lambda GetFunction \"{name}\""), e);
            return if is_not_found(&err) {
                Ok(None)
            } else {
                Err(err)
            };
        }
    };
    let Some(c) = out.configuration() else {
        return Ok(None);
    };
    Ok(Some(FunctionState {
        name: c.function_name().unwrap_or(name).to_string(),
        arn: c.function_arn().unwrap_or_default().to_string(),
        code_sha256: c.code_sha256().unwrap_or_default().to_string(),
        state: c
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        last_update_status: c
            .last_update_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        last_update_reason: c.last_update_status_reason().map(str::to_string),
        memory_size: c.memory_size(),
        timeout: c.timeout(),
        role: c.role().map(str::to_string),
        last_modified: c.last_modified().map(str::to_string),
    }))
}

/// GetFunction of one published version (`Qualifier`): its CodeSha256, `None` when the
/// function or the version does not exist.
pub async fn get_version(
    lambda: &Client,
    name: &str,
    version: &str,
) -> Result<Option<String>, AwsError> {
    let req = lambda.get_function().function_name(name).qualifier(version);
    match req.send().await {
        Ok(out) => Ok(out
            .configuration()
            .map(|c| c.code_sha256().unwrap_or_default().to_string())),
        Err(e) => {
            let err = AwsError::call(
                format!("Lambda GetFunction \"{name}\" version {version}"),
                e,
            );
            if is_not_found(&err) {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// The published versions of a function (ListVersionsByFunction, every page), `$LATEST` left
/// out.
pub async fn list_versions(lambda: &Client, name: &str) -> Result<Vec<String>, AwsError> {
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = lambda
            .list_versions_by_function()
            .function_name(name)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| AwsError::call(format!("Lambda ListVersionsByFunction \"{name}\""), e))?;
        versions.extend(
            out.versions()
                .iter()
                .filter_map(|v| v.version())
                .filter(|v| *v != "$LATEST")
                .map(str::to_string),
        );
        match out.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(versions),
        }
    }
}

/// Where new code comes from.
#[derive(Debug, Clone)]
pub enum CodeSource {
    /// The zip's bytes, sent inline.
    Zip(Vec<u8>),
    /// A zip already uploaded to S3.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

/// UpdateFunctionCode; a `ResourceConflictException` (an update still running) is retried
/// every second for up to [`UPDATE_WAIT`], as v3 does. Returns the new CodeSha256.
pub async fn update_code(
    lambda: &Client,
    name: &str,
    code: &CodeSource,
) -> Result<String, AwsError> {
    let started = Instant::now();
    loop {
        let mut req = lambda.update_function_code().function_name(name);
        req = match code {
            CodeSource::Zip(bytes) => req.zip_file(Blob::new(bytes.clone())),
            CodeSource::S3 { bucket, key } => req.s3_bucket(bucket).s3_key(key),
        };
        match req.send().await {
            Ok(out) => return Ok(out.code_sha256().unwrap_or_default().to_string()),
            Err(e) => {
                let err = AwsError::call(format!("Lambda UpdateFunctionCode \"{name}\""), e);
                if !conflict_retry(&err, started).await {
                    return Err(err);
                }
            }
        }
    }
}

/// UpdateFunctionConfiguration with the settings given (retried like [`update_code`]).
pub async fn update_settings(
    lambda: &Client,
    name: &str,
    settings: &FunctionSettings,
) -> Result<(), AwsError> {
    let started = Instant::now();
    loop {
        let mut req = lambda
            .update_function_configuration()
            .function_name(name)
            .set_memory_size(settings.memory_size)
            .set_timeout(settings.timeout)
            .set_role(settings.role.clone())
            .set_layers(settings.layers.clone());
        if let Some(vars) = &settings.environment {
            req = req.environment(
                Environment::builder()
                    .set_variables(Some(vars.iter().cloned().collect()))
                    .build(),
            );
        }
        if let Some((subnets, groups)) = &settings.vpc {
            req = req.vpc_config(
                VpcConfig::builder()
                    .set_subnet_ids(Some(subnets.clone()))
                    .set_security_group_ids(Some(groups.clone()))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => return Ok(()),
            Err(e) => {
                let err =
                    AwsError::call(format!("Lambda UpdateFunctionConfiguration \"{name}\""), e);
                if !conflict_retry(&err, started).await {
                    return Err(err);
                }
            }
        }
    }
}

/// Sleeps and says "retry" while an earlier update of the function is still running.
async fn conflict_retry(err: &AwsError, started: Instant) -> bool {
    if err.code() != Some("ResourceConflictException") || started.elapsed() > UPDATE_WAIT {
        return false;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    true
}

/// Uploads a zip too big for an inline update to `bucket/key` (one PutObject).
pub async fn upload_code(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &std::path::Path,
) -> Result<(), AwsError> {
    let action = format!("PutObject s3://{bucket}/{key}");
    let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
        .await
        .map_err(|e| {
            AwsError::failed(
                &action,
                format!("cannot read {}: {e}", path.display()),
                FailureKind::Other,
            )
        })?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/zip")
        .body(body)
        .send()
        .await
        .map_err(|e| AwsError::call(&action, e))?;
    Ok(())
}

/// Polls GetFunction (100 ms, doubling up to 1 s) until the function is not `Pending` and its
/// last update is no longer `InProgress`; a `Failed` update is an error.
pub async fn wait_updated(
    lambda: &Client,
    name: &str,
    limit: Duration,
) -> Result<FunctionState, AwsError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let state = get_function(lambda, name).await?.ok_or_else(|| {
            AwsError::Invalid(format!("function \"{name}\" disappeared during the update"))
        })?;
        if state.last_update_status == LastUpdateStatus::Failed.as_str() {
            return Err(AwsError::failed(
                format!("Lambda update of \"{name}\""),
                format!(
                    "LastUpdateStatus Failed: {}",
                    state
                        .last_update_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
                FailureKind::Service,
            ));
        }
        let busy = state.state == State::Pending.as_str()
            || state.last_update_status == LastUpdateStatus::InProgress.as_str();
        if !busy {
            return Ok(state);
        }
        if started.elapsed() > limit {
            return Err(AwsError::failed(
                format!("Lambda update of \"{name}\""),
                format!(
                    "still {} after {}s; check it with `deployer info` and retry",
                    state.last_update_status,
                    limit.as_secs()
                ),
                FailureKind::Timeout,
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// After UpdateFunctionCode failed in a way that may still have landed (a lost answer, a
/// timeout, a 5xx after the SDK's retries): reads the function. Its CodeSha256 when it now
/// runs `expected`; otherwise the error, saying what the read found.
pub async fn confirm_code(
    lambda: &Client,
    name: &str,
    expected: &str,
    err: AwsError,
) -> Result<String, AwsError> {
    if !err.is_transient() {
        return Err(err);
    }
    match get_function(lambda, name).await {
        Ok(Some(f)) if f.code_sha256 == expected => Ok(f.code_sha256),
        Ok(Some(f)) => Err(err.with_state(format!(
            "the function still runs CodeSha256 {}: its code was not changed; re-running is safe",
            f.code_sha256
        ))),
        Ok(None) => Err(err.with_state(format!("function \"{name}\" no longer exists"))),
        Err(_) => Err(err.with_state(format!(
            "whether function \"{name}\" got the new code could not be read either: compare \
             its CodeSha256 with {expected} in the Lambda console; re-running is safe"
        ))),
    }
}

/// [`wait_updated`]; when its polls fail on the way (a lost answer, a 5xx, a wait that ran
/// out), the function is read once more before giving up, so an update that did land is not
/// reported as a failure. A `Failed` update stays an error.
pub async fn settle_update(
    lambda: &Client,
    name: &str,
    limit: Duration,
) -> Result<FunctionState, AwsError> {
    let err = match wait_updated(lambda, name, limit).await {
        Ok(state) => return Ok(state),
        Err(e) if e.is_transient() => e,
        Err(e) => return Err(e),
    };
    match get_function(lambda, name).await {
        Ok(Some(state)) if is_settled(&state) => Ok(state),
        _ => Err(err),
    }
}

/// True when the last update has finished well.
fn is_settled(state: &FunctionState) -> bool {
    state.state != State::Pending.as_str()
        && state.last_update_status != LastUpdateStatus::InProgress.as_str()
        && state.last_update_status != LastUpdateStatus::Failed.as_str()
}

/// Invoke with `payload`; `tail` asks for the last 4 KB of the log.
pub async fn invoke(
    lambda: &Client,
    name: &str,
    payload: Vec<u8>,
    kind: InvokeType,
    tail: bool,
    qualifier: Option<&str>,
) -> Result<Invoked, AwsError> {
    let mut req = lambda
        .invoke()
        .function_name(name)
        .invocation_type(kind.sdk())
        .payload(Blob::new(payload))
        .set_qualifier(qualifier.map(str::to_string));
    if tail {
        req = req.log_type(LogType::Tail);
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::call(format!("Lambda Invoke \"{name}\""), e))?;
    let log = out.log_result().map(decode_log);
    Ok(Invoked {
        status: out.status_code(),
        function_error: out.function_error().map(str::to_string),
        payload: out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default(),
        log,
        executed_version: out.executed_version().map(str::to_string),
    })
}

/// `LogResult` is base64; an undecodable one is shown as it came.
pub fn decode_log(encoded: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => encoded.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_results_are_decoded() {
        assert_eq!(decode_log("aGVsbG8K"), "hello\n");
        assert_eq!(decode_log("not base64!"), "not base64!");
    }

    #[test]
    fn empty_settings_change_nothing() {
        assert!(FunctionSettings::default().is_empty());
        let s = FunctionSettings {
            timeout: Some(3),
            ..Default::default()
        };
        assert!(!s.is_empty());
    }
}
