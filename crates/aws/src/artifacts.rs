//! The deployment bucket, laid out as Serverless v3 does:
//! `<prefix>/<service>/<stage>/<ms>-<ISO8601>/{compiled-cloudformation-template.json, *.zip}`,
//! each object with `filesha256` metadata (SHA-256, base64) used for change detection.

use std::path::PathBuf;
use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use tokio::task::JoinSet;

use crate::clients::CallTimeouts;
use crate::error::{AwsError, FailureKind};
use crate::progress::{Progress, Scoped};

/// Name of the template object in a deployment directory.
pub const TEMPLATE_FILE: &str = "compiled-cloudformation-template.json";
/// User-metadata key holding the SHA-256 (base64) of an object's content.
pub const HASH_METADATA: &str = "filesha256";
/// DeleteObjects takes at most this many keys.
const DELETE_BATCH: usize = 1000;

/// One object of the bucket listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    /// Full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub last_modified: Option<SystemTime>,
}

/// One deployment directory of the service/stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Directory key without trailing slash (`serverless/svc/dev/1700000000000-2023-...Z`).
    pub directory: String,
    /// Its objects.
    pub objects: Vec<RemoteObject>,
}

impl Deployment {
    /// The `<ms>` timestamp of the directory name.
    pub fn timestamp_ms(&self) -> Option<u64> {
        self.directory
            .rsplit('/')
            .next()?
            .split('-')
            .next()?
            .parse()
            .ok()
    }

    /// The newest object modification time in this directory.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.objects.iter().filter_map(|o| o.last_modified).max()
    }
}

/// `<prefix>/<service>/<stage>` — the stage's folder in the bucket.
pub fn stage_prefix(deployment_prefix: &str, service: &str, stage: &str) -> String {
    format!(
        "{}/{service}/{stage}",
        deployment_prefix.trim_end_matches('/')
    )
}

/// True for v3's deployment directory names `<ms>-YYYY-MM-DDTHH:MM:SS.sssZ` (the package
/// time as `Date.getTime()` and `Date.toISOString()`), matched strictly: a folder of another
/// service nested under this stage's prefix never looks like one.
pub fn is_deployment_dir(name: &str) -> bool {
    let Some((ms, iso)) = name.split_once('-') else {
        return false;
    };
    // `YYYY-MM-DDTHH:MM:SS.sssZ`: `d` a digit, anything else itself.
    const SHAPE: &[u8; 24] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    let b = iso.as_bytes();
    (1..=16).contains(&ms.len())
        && ms.bytes().all(|c| c.is_ascii_digit())
        && b.len() == SHAPE.len()
        && b.iter().zip(SHAPE).all(|(&c, &want)| match want {
            b'd' => c.is_ascii_digit(),
            _ => c == want,
        })
}

/// Folder (under the stage's prefix) of the zips `deploy function` uploads when they are too
/// big to send inline.
pub const DEPLOY_FUNCTION_DIR: &str = "deploy-function";
/// Folder-name start (under the stage's prefix) of the template `diff` uploads when it is too
/// big to send inline: `deployer-diff-<ms>/compiled-cloudformation-template.json`.
pub const DIFF_DIR_PREFIX: &str = "deployer-diff-";

/// `<stage_prefix>/deploy-function/<file>`: where `deploy function` uploads a zip.
pub fn deploy_function_key(stage_prefix: &str, file: &str) -> String {
    format!("{stage_prefix}/{DEPLOY_FUNCTION_DIR}/{file}")
}

/// Which of deployer's own objects a key under the stage's prefix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnKey {
    /// A file of a deployment directory `<ms>-<ISO>/<file>`.
    Deployment,
    /// The stage's deploy lock.
    Lock,
    /// A zip `deploy function` uploaded.
    DeployFunction,
    /// A template `diff` uploaded (left when its clean-up failed).
    DiffTemplate,
}

/// What `key` is to the stage at `stage_prefix`: one of the objects deployer (or v3) writes
/// for this service and stage, or `None` for anything else — another service's objects under
/// an overlapping prefix included. Every kind is one exact level below the prefix: a file
/// name never holds a `/`.
pub fn own_key(stage_prefix: &str, key: &str) -> Option<OwnKey> {
    let rest = key.strip_prefix(stage_prefix)?.strip_prefix('/')?;
    if rest == crate::lock::LOCK_FILE {
        return Some(OwnKey::Lock);
    }
    let (dir, file) = rest.split_once('/')?;
    if file.is_empty() || file.contains('/') {
        return None;
    }
    if is_deployment_dir(dir) {
        return Some(OwnKey::Deployment);
    }
    if dir == DEPLOY_FUNCTION_DIR {
        return Some(OwnKey::DeployFunction);
    }
    let diff_stamp = dir.strip_prefix(DIFF_DIR_PREFIX)?;
    (file == TEMPLATE_FILE
        && !diff_stamp.is_empty()
        && diff_stamp.bytes().all(|c| c.is_ascii_digit()))
    .then_some(OwnKey::DiffTemplate)
}

/// List every object under `<stage_prefix>/` (all pages) and group them into deployment
/// directories, oldest first. Objects outside deployment directories (see [`own_key`]) are
/// ignored.
pub async fn list_deployments(
    s3: &Client,
    bucket: &str,
    stage_prefix: &str,
) -> Result<Vec<Deployment>, AwsError> {
    let objects = list_objects(s3, bucket, &format!("{stage_prefix}/")).await?;
    let mut deployments: Vec<Deployment> = Vec::new();
    for o in objects {
        if own_key(stage_prefix, &o.key) != Some(OwnKey::Deployment) {
            continue;
        }
        let rest = &o.key[stage_prefix.len() + 1..];
        let Some((dir, _)) = rest.split_once('/') else {
            continue;
        };
        let directory = format!("{stage_prefix}/{dir}");
        match deployments.iter_mut().find(|d| d.directory == directory) {
            Some(d) => d.objects.push(o),
            None => deployments.push(Deployment {
                directory,
                objects: vec![o],
            }),
        }
    }
    // Same digit count for every realistic `<ms>`, so byte order is time order (v3 sorts keys).
    deployments.sort_by(|a, b| {
        a.timestamp_ms()
            .cmp(&b.timestamp_ms())
            .then_with(|| a.directory.cmp(&b.directory))
    });
    Ok(deployments)
}

/// Every object whose key starts with `prefix` (all pages).
pub async fn list_objects(
    s3: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<RemoteObject>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| {
                let err = AwsError::call(format!("ListObjectsV2 on bucket \"{bucket}\""), e);
                if err.code() == Some("NoSuchBucket") {
                    AwsError::Bucket(format!(
                        "the deployment bucket \"{bucket}\" does not exist. Create it again if \
                         you want to reuse the stack, or remove the stack if it is no longer \
                         needed (`deployer remove`)"
                    ))
                } else {
                    err
                }
            })?;
        for o in page.contents() {
            out.push(RemoteObject {
                key: o.key().unwrap_or_default().to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                last_modified: o
                    .last_modified()
                    .and_then(|t| SystemTime::try_from(*t).ok()),
            });
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// `HeadObject` every key in parallel and return its `filesha256` metadata (None when absent),
/// in the order given.
pub async fn head_hashes(
    s3: &Client,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<Option<String>>, AwsError> {
    let mut set = JoinSet::new();
    for (i, key) in keys.iter().enumerate() {
        let s3 = s3.clone();
        let bucket = bucket.to_string();
        let key = key.clone();
        set.spawn(async move {
            let res = s3.head_object().bucket(&bucket).key(&key).send().await;
            let res = match res {
                Ok(out) => Ok(out.metadata().and_then(|m| m.get(HASH_METADATA)).cloned()),
                Err(e) => {
                    let err = AwsError::call(format!("HeadObject s3://{bucket}/{key}"), e);
                    match err.code() {
                        Some("NotFound" | "NoSuchKey") => Ok(None),
                        Some("Forbidden" | "AccessDenied") => Err(AwsError::Bucket(format!(
                            "could not access s3://{bucket}/{key} in the deployment bucket: make \
                             sure the credentials may read it (s3:GetObject)"
                        ))),
                        _ => Err(err),
                    }
                }
            };
            (i, res)
        });
    }
    let mut out = vec![None; keys.len()];
    while let Some(joined) = set.join_next().await {
        let (i, res) = joined.map_err(|e| AwsError::Invalid(format!("HeadObject task: {e}")))?;
        out[i] = res?;
    }
    Ok(out)
}

/// A file to upload into the deployment directory.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Object key.
    pub key: String,
    /// Content.
    pub body: UploadBody,
    /// `application/json` or `application/zip`.
    pub content_type: &'static str,
    /// SHA-256 (base64) for the `filesha256` metadata.
    pub sha256_base64: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where an upload's bytes come from.
#[derive(Debug, Clone)]
pub enum UploadBody {
    /// In memory (the minified template).
    Bytes(Vec<u8>),
    /// A file on disk (a zip), streamed.
    File(PathBuf),
}

/// Upload every file in parallel with a single `PutObject` each (no multipart: Lambda zips are
/// far below PutObject's 5 GB limit, and one request per file is the fastest path).
///
/// Each upload's attempt limit scales with its size ([`CallTimeouts::upload_attempt`]), so a
/// large zip on a slow link is not cut off while a stalled one still ends.
pub async fn upload_all(
    s3: &Client,
    bucket: &str,
    uploads: Vec<Upload>,
    timeouts: &CallTimeouts,
    progress: Scoped<'_>,
) -> Result<(), AwsError> {
    let mut set = JoinSet::new();
    for u in uploads {
        let s3 = s3.clone();
        let limits = timeouts.config_for(timeouts.upload_attempt(u.size));
        let bucket = bucket.to_string();
        set.spawn(async move {
            let body = match &u.body {
                UploadBody::Bytes(b) => ByteStream::from(b.clone()),
                UploadBody::File(p) => {
                    ByteStream::from_path(p)
                        .await
                        .map_err(|e| AwsError::Local {
                            path: p.display().to_string(),
                            source: std::io::Error::other(e.to_string()),
                        })?
                }
            };
            s3.put_object()
                .bucket(&bucket)
                .key(&u.key)
                .content_type(u.content_type)
                .content_length(u.size as i64)
                .metadata(HASH_METADATA, &u.sha256_base64)
                .body(body)
                .customize()
                .config_override(aws_sdk_s3::config::Builder::default().timeout_config(limits))
                .send()
                .await
                .map_err(|e| {
                    AwsError::call(format!("PutObject s3://{bucket}/{}", u.key), e).with_state(
                        "nothing was deployed: the stack still runs the previous version",
                    )
                })?;
            Ok::<_, AwsError>((u.key, u.size))
        });
    }
    let mut first_err = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok((key, bytes))) => {
                progress.report(|scope| Progress::Uploaded { scope, key, bytes })
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(AwsError::Invalid(format!("upload task: {e}")));
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Delete keys with `DeleteObjects`, 1000 per request, batches in parallel.
pub async fn delete_keys(s3: &Client, bucket: &str, keys: &[String]) -> Result<usize, AwsError> {
    let mut set = JoinSet::new();
    for chunk in keys.chunks(DELETE_BATCH) {
        let objects: Vec<ObjectIdentifier> = chunk
            .iter()
            .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        let s3 = s3.clone();
        let bucket = bucket.to_string();
        set.spawn(async move {
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| AwsError::Invalid(format!("DeleteObjects request: {e}")))?;
            let out = s3
                .delete_objects()
                .bucket(&bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| AwsError::call(format!("DeleteObjects on bucket \"{bucket}\""), e))?;
            if let Some(e) = out.errors().first() {
                return Err(AwsError::Bucket(format!(
                    "could not delete s3://{bucket}/{}: {} {}",
                    e.key().unwrap_or_default(),
                    e.code().unwrap_or_default(),
                    e.message().unwrap_or_default()
                )));
            }
            Ok(())
        });
    }
    while let Some(joined) = set.join_next().await {
        joined.map_err(|e| AwsError::Invalid(format!("delete task: {e}")))??;
    }
    Ok(keys.len())
}

/// The real-AWS-style URL CloudFormation reads a template from:
/// `https://<bucket>.s3.<region>.amazonaws.com/<key>` (path style for bucket names with dots,
/// which break virtual-hosted TLS; `.com.cn` in the China partition).
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    if bucket.contains('.') {
        format!("https://s3.{region}.{suffix}/{bucket}/{key}")
    } else {
        format!("https://{bucket}.s3.{region}.{suffix}/{key}")
    }
}

/// Read an object's bytes (the object must exist).
pub async fn get_bytes(s3: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("GetObject s3://{bucket}/{key}"), e))?;
    let bytes = out.body.collect().await.map_err(|e| {
        AwsError::failed(
            format!("GetObject s3://{bucket}/{key}"),
            format!("the download broke off: {e}"),
            FailureKind::Connection,
        )
    })?;
    Ok(bytes.into_bytes().to_vec())
}

/// Read an object as text; `None` when the key does not exist (for `${s3:bucket/key}`).
pub async fn get_text(s3: &Client, bucket: &str, key: &str) -> Result<Option<String>, AwsError> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let bytes = out.body.collect().await.map_err(|e| {
                AwsError::failed(
                    format!("GetObject s3://{bucket}/{key}"),
                    format!("the download broke off: {e}"),
                    FailureKind::Connection,
                )
            })?;
            Ok(Some(
                String::from_utf8_lossy(&bytes.into_bytes()).into_owned(),
            ))
        }
        Err(e) => {
            let err = AwsError::call(format!("GetObject s3://{bucket}/{key}"), e);
            match err.code() {
                Some("NoSuchKey" | "NotFound") => Ok(None),
                _ => Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_directory_names() {
        assert!(is_deployment_dir("1795787592389-2026-11-27T13:53:12.389Z"));
        assert!(!is_deployment_dir("diff-1795787592389"));
        assert!(!is_deployment_dir("1795787592389"));
        assert!(!is_deployment_dir("abc-2026-11-27T13:53:12.389Z"));
        // Strict: the whole ISO timestamp, milliseconds and `Z` included, nothing after it.
        assert!(!is_deployment_dir("1795787592389-2026-11-27T13:53:12"));
        assert!(!is_deployment_dir(
            "1795787592389-2026-11-27T13:53:12.389Zx"
        ));
        assert!(!is_deployment_dir("1795787592389-2026-11-27 13:53:12.389Z"));
        assert!(!is_deployment_dir("-2026-11-27T13:53:12.389Z"));
        let d = Deployment {
            directory: "serverless/s/dev/1795787592389-2026-11-27T13:53:12.389Z".into(),
            objects: vec![],
        };
        assert_eq!(d.timestamp_ms(), Some(1795787592389));
    }

    #[test]
    fn only_deployers_own_keys_belong_to_the_stage() {
        let p = "serverless/sa/dev";
        let dir = "1795787592389-2026-11-27T13:53:12.389Z";
        let own = |k: &str| own_key(p, k);
        assert_eq!(
            own(&format!("{p}/{dir}/{TEMPLATE_FILE}")),
            Some(OwnKey::Deployment)
        );
        assert_eq!(own(&format!("{p}/{dir}/sa.zip")), Some(OwnKey::Deployment));
        assert_eq!(own(&format!("{p}/deployer.lock")), Some(OwnKey::Lock));
        assert_eq!(
            own(&deploy_function_key(p, "hello.zip")),
            Some(OwnKey::DeployFunction)
        );
        assert_eq!(
            own(&format!("{p}/deployer-diff-1795787592389/{TEMPLATE_FILE}")),
            Some(OwnKey::DiffTemplate)
        );
        // Another service whose deploymentPrefix is `serverless/sa/dev`.
        for foreign in [
            format!("{p}/b/dev/{dir}/{TEMPLATE_FILE}"),
            format!("{p}/b/dev/deployer.lock"),
            format!("{p}/{dir}/b/dev/{dir}/b.zip"),
            format!("{p}/deploy-function/b/dev/{dir}/b.zip"),
            format!("{p}/deployer-diff-1/other.json"),
            format!("{p}/deployer-diff-x/{TEMPLATE_FILE}"),
            format!("{p}/user-extra/x"),
            format!("{p}/{dir}/"),
            format!("{p}/loose-file"),
            format!("{p}x/{dir}/t.json"),
            p.to_string(),
        ] {
            assert_eq!(own(&foreign), None, "{foreign}");
        }
    }

    #[test]
    fn template_urls_are_real_aws_style() {
        assert_eq!(
            template_url("b-1", "us-east-1", "serverless/s/dev/1-x/t.json"),
            "https://b-1.s3.us-east-1.amazonaws.com/serverless/s/dev/1-x/t.json"
        );
        assert_eq!(
            template_url("my.bucket", "eu-west-1", "k"),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/k"
        );
        assert_eq!(
            template_url("b", "cn-north-1", "k"),
            "https://b.s3.cn-north-1.amazonaws.com.cn/k"
        );
    }

    #[test]
    fn stage_prefixes() {
        assert_eq!(
            stage_prefix("serverless", "svc", "dev"),
            "serverless/svc/dev"
        );
        assert_eq!(stage_prefix("custom/", "svc", "prod"), "custom/svc/prod");
    }
}
