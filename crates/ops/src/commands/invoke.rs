//! `invoke -f NAME`: call the deployed function with a payload and return its answer.

use std::io::Read as _;
use std::path::PathBuf;

use deployer_aws::lambda::{self, InvokeType};
use serde::Serialize;
use serde_json::Value;

use crate::calls::AwsCalls;
use crate::commands::deployments;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::stage::StageOptions;

/// Requests bigger than this are refused before the call (Lambda's synchronous limit).
pub const MAX_PAYLOAD: u64 = 6 * 1024 * 1024;

/// Where the event comes from.
#[derive(Debug, Clone, Default)]
pub enum Payload {
    /// No payload: an empty body, as v3 sends.
    #[default]
    None,
    /// `--data`.
    Data(String),
    /// `--path FILE` (JSON or YAML).
    File(PathBuf),
}

/// What to invoke.
#[derive(Debug, Default)]
pub struct InvokeOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// The function's key in `functions:`.
    pub function: String,
    /// The event.
    pub payload: Payload,
    /// RequestResponse, Event or DryRun.
    pub kind: InvokeType,
    /// Ask for the tail of the log (`--log`).
    pub log: bool,
    /// Version or alias (`--qualifier`).
    pub qualifier: Option<String>,
}

/// The answer of `invoke`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    /// The function's key.
    pub function: String,
    /// Its deployed name.
    pub name: String,
    /// Lambda's status code.
    pub status_code: i32,
    /// `Unhandled` or `Handled` when the function failed.
    pub function_error: Option<String>,
    /// `errorType: errorMessage` of a failed function's payload.
    pub error: Option<String>,
    /// The response payload as text.
    pub payload: String,
    /// The payload parsed, when it is JSON.
    pub payload_json: Option<Value>,
    /// The decoded log tail (`--log`).
    pub log: Option<String>,
    /// The version that ran.
    pub executed_version: Option<String>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// The bytes of the payload (a YAML file is sent as JSON, as v3 does). Every refusal is about
/// the command line's `--data` or `--path`, so it is an [`OpErrorKind::Input`] (a usage error).
pub(crate) fn payload_bytes(payload: &Payload, cwd: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let bytes = match payload {
        Payload::None => return Ok(Vec::new()),
        Payload::Data(d) => {
            check_size("--data", d.len() as u64)?;
            d.clone().into_bytes()
        }
        Payload::File(p) => {
            let path = cwd.join(p);
            let text = read_payload_file(&path)?;
            let yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml")
            );
            if !yaml {
                return Ok(text);
            }
            let value: Value = serde_yaml_ng_value(&text)
                .map_err(|e| input(format!("--path {}: not valid YAML: {e:#}", path.display())))?;
            serde_json::to_vec(&value)?
        }
    };
    // A YAML file can grow on its way to JSON.
    check_size("the payload (as JSON)", bytes.len() as u64)?;
    Ok(bytes)
}

fn input(message: String) -> anyhow::Error {
    OpError::error(OpErrorKind::Input, message)
}

fn check_size(what: &str, len: u64) -> anyhow::Result<()> {
    if len <= MAX_PAYLOAD {
        return Ok(());
    }
    Err(input(format!(
        "{what} is {len} bytes; Lambda takes a payload of at most {MAX_PAYLOAD} bytes (6 MB)"
    )))
}

/// Reads `--path`: a regular file only (a device such as `/dev/zero` would never end, a FIFO
/// would block), and at most one byte over [`MAX_PAYLOAD`] even if it grows while read.
fn read_payload_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let cannot = |e: std::io::Error| input(format!("cannot read --path {}: {e}", path.display()));
    // `metadata` follows symlinks and does not open the file (opening a FIFO blocks).
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(input(format!(
            "--path {} is {}, not a regular file; put the event in a file, or pass it with --data",
            path.display(),
            deployer_config::limits::file_kind(&metadata)
        )));
    }
    let what = format!("--path {}", path.display());
    check_size(&what, metadata.len())?;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_PAYLOAD + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    check_size(&what, bytes.len() as u64)?;
    Ok(bytes)
}

fn serde_yaml_ng_value(text: &[u8]) -> anyhow::Result<Value> {
    deployer_config::parse_yaml(&String::from_utf8_lossy(text)).map_err(anyhow::Error::msg)
}

/// `errorType: errorMessage` of a Lambda error payload.
fn error_of(payload: Option<&Value>, raw: &str) -> String {
    let field = |k: &str| payload.and_then(|p| p[k].as_str()).map(str::to_string);
    match (field("errorType"), field("errorMessage")) {
        (Some(t), Some(m)) => format!("{t}: {m}"),
        (None, Some(m)) => m,
        (Some(t), None) => t,
        (None, None) => raw.to_string(),
    }
}

/// Opens the stage (guard first) and invokes the function.
pub async fn invoke(
    options: &InvokeOptions,
    observer: &dyn Observer,
) -> anyhow::Result<Invocation> {
    let body = payload_bytes(&options.payload, &options.stage.service.cwd)?;
    let target = deployments::open(&options.stage, observer).await?;
    let key = &options.function;
    deployments::ensure_function(&target.service, key, &target.stage.source.file.path)?;
    let name = target.service.function_name(key, &target.name);
    let lambda = &target.stage.clients.lambda;
    let answer = lambda::invoke(
        lambda,
        &name,
        body,
        options.kind,
        options.log,
        options.qualifier.as_deref(),
    )
    .await;
    let answer = match answer {
        Err(e) if e.code() == Some("ResourceNotFoundException") => {
            return Err(OpError::error(
                OpErrorKind::Function,
                format!(
                    "function \"{key}\" ({name}) is not deployed: run `deployer up --stage {}` \
                     first",
                    target.name
                ),
            ));
        }
        other => other?,
    };
    let payload = String::from_utf8_lossy(&answer.payload).into_owned();
    let payload_json: Option<Value> = serde_json::from_str(&payload).ok();
    let error = answer
        .function_error
        .as_ref()
        .map(|_| error_of(payload_json.as_ref(), &payload));
    Ok(Invocation {
        function: key.clone(),
        name,
        status_code: answer.status,
        function_error: answer.function_error,
        error,
        payload,
        payload_json,
        log: answer.log,
        executed_version: answer.executed_version,
        aws_calls: target.stage.calls(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_payloads_name_type_and_message() {
        let p = serde_json::json!({"errorType": "TypeError", "errorMessage": "x is undefined"});
        assert_eq!(error_of(Some(&p), ""), "TypeError: x is undefined");
        assert_eq!(error_of(None, "boom"), "boom");
    }

    #[test]
    fn payloads_from_data_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("e.yml"), "a: 1\n").unwrap();
        let yaml = payload_bytes(&Payload::File("e.yml".into()), dir.path()).unwrap();
        assert_eq!(yaml, br#"{"a":1}"#);
        let data = payload_bytes(&Payload::Data("{}".into()), dir.path()).unwrap();
        assert_eq!(data, b"{}");
        assert!(payload_bytes(&Payload::File("missing.json".into()), dir.path()).is_err());
        assert!(
            payload_bytes(&Payload::None, dir.path())
                .unwrap()
                .is_empty()
        );
    }

    fn refusal(payload: Payload, cwd: &std::path::Path) -> OpError {
        let err = payload_bytes(&payload, cwd).unwrap_err();
        let op = err.downcast_ref::<OpError>().expect("an OpError");
        assert_eq!(op.kind, OpErrorKind::Input, "{op:?}");
        op.clone()
    }

    #[test]
    fn oversized_payloads_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let big = "x".repeat(MAX_PAYLOAD as usize + 1);
        let data = refusal(Payload::Data(big.clone()), dir.path());
        assert!(
            data.message.starts_with("--data is 6291457 bytes"),
            "{data:?}"
        );
        std::fs::write(dir.path().join("big.json"), &big).unwrap();
        let file = refusal(Payload::File("big.json".into()), dir.path());
        assert!(
            file.message.contains("big.json is 6291457 bytes"),
            "{file:?}"
        );
        let exact = "x".repeat(MAX_PAYLOAD as usize);
        std::fs::write(dir.path().join("max.json"), &exact).unwrap();
        let max = payload_bytes(&Payload::File("max.json".into()), dir.path()).unwrap();
        assert_eq!(max.len() as u64, MAX_PAYLOAD);
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_directories_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let zero = refusal(Payload::File("/dev/zero".into()), dir.path());
        assert!(
            zero.message
                .starts_with("--path /dev/zero is a device, not a regular file"),
            "{zero:?}"
        );
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        let fifo = refusal(Payload::File("fifo".into()), dir.path());
        assert!(fifo.message.contains("is a FIFO (named pipe)"), "{fifo:?}");
        let here = refusal(Payload::File(".".into()), dir.path());
        assert!(here.message.contains("is a directory"), "{here:?}");
        let missing = refusal(Payload::File("missing.json".into()), dir.path());
        assert!(
            missing.message.starts_with("cannot read --path"),
            "{missing:?}"
        );
    }
}
