//! The per-stage deploy lock: one object `<prefix>/<service>/<stage>/deployer.lock` in the
//! deployment bucket, created with a conditional `PutObject` (`If-None-Match: *`), so that of
//! two runs deploying one stage only one writes at a time. The body names the holder (user,
//! host, pid), when it took the lock and when the lock expires; a run that finds the lock held
//! waits (bounded) and then fails naming the holder. The holder checks the lock again right
//! before it changes the stack and deletes it afterwards (`If-Match` on its own ETag).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{AwsError, LockHeld};
use crate::progress::{Progress, Reporter};

/// File name of the lock object in the stage's folder.
pub const LOCK_FILE: &str = "deployer.lock";

/// How a deploy takes the stage lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockOptions {
    /// Break a lock held by another run (one left by a killed run) instead of waiting for it.
    pub force_unlock: bool,
    /// Longest time to wait for another run's lock before failing.
    pub wait: Duration,
    /// Delay between two looks at a held lock.
    pub poll: Duration,
    /// Lifetime of a lock this run takes; a lock past its expiry is taken over.
    pub ttl: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            force_unlock: false,
            wait: Duration::from_secs(10 * 60),
            poll: Duration::from_secs(2),
            ttl: Duration::from_secs(2 * 60 * 60),
        }
    }
}

/// Overrides how long a deploy waits for another run's lock (seconds).
pub const LOCK_WAIT_ENV: &str = "DEPLOYER_LOCK_WAIT";

impl LockOptions {
    /// The defaults, with the wait from [`LOCK_WAIT_ENV`] when it is set to a number of seconds.
    pub fn from_env() -> Self {
        let mut o = Self::default();
        if let Some(secs) = std::env::var(LOCK_WAIT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            o.wait = Duration::from_secs(secs);
        }
        o
    }
}

/// What the lock object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBody {
    /// `user@host`.
    pub owner: String,
    /// Process id of the holder.
    pub pid: u32,
    /// Unique per run: tells our own lock from another run's.
    pub token: String,
    /// When the lock was taken (RFC 3339).
    pub acquired: String,
    /// When it expires (RFC 3339).
    pub expires: String,
}

impl LockBody {
    fn new(ttl: Duration) -> Self {
        let now = OffsetDateTime::now_utc();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Self {
            owner: format!("{}@{}", user(), host()),
            pid: std::process::id(),
            token: format!("{}-{nanos:x}", std::process::id()),
            acquired: rfc3339(now),
            expires: rfc3339(now + ttl),
        }
    }

    /// `user@host (pid N)`.
    pub fn holder(&self) -> String {
        format!("{} (pid {})", self.owner, self.pid)
    }

    /// True once the expiry has passed (an unreadable expiry never expires).
    pub fn expired(&self) -> bool {
        OffsetDateTime::parse(&self.expires, &Rfc3339).is_ok_and(|t| t < OffsetDateTime::now_utc())
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// A lock this run holds.
#[derive(Debug, Clone)]
pub struct StageLock {
    /// Deployment bucket.
    pub bucket: String,
    /// Lock key.
    pub key: String,
    /// Stage (for messages).
    pub stage: String,
    body: LockBody,
    etag: Option<String>,
    /// Whether another run held the lock when this one asked for it.
    pub waited: bool,
}

/// `<stage_prefix>/deployer.lock`.
pub fn lock_key(stage_prefix: &str) -> String {
    format!("{stage_prefix}/{LOCK_FILE}")
}

/// The lock object as it is now: its body and ETag; `None` when there is none.
pub async fn read(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(LockBody, Option<String>)>, AwsError> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) => {
            let err = AwsError::call(format!("GetObject s3://{bucket}/{key} (deploy lock)"), e);
            return match err.code() {
                Some("NoSuchKey" | "NotFound") => Ok(None),
                _ => Err(err),
            };
        }
    };
    let etag = out.e_tag().map(str::to_string);
    let bytes = out.body.collect().await.map_err(|e| {
        AwsError::failed(
            format!("GetObject s3://{bucket}/{key} (deploy lock)"),
            format!("the download broke off: {e}"),
            crate::error::FailureKind::Connection,
        )
    })?;
    // A lock object that is not ours to read still holds the stage: it never expires by
    // itself and needs --force-unlock.
    let body = serde_json::from_slice(&bytes.into_bytes()).unwrap_or_else(|_| LockBody {
        owner: "an unknown tool (the lock file is not deployer's)".into(),
        pid: 0,
        token: String::new(),
        acquired: "an unknown time".into(),
        expires: "never".into(),
    });
    Ok(Some((body, etag)))
}

fn is_precondition_failed(err: &AwsError) -> bool {
    matches!(
        err.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(
        err,
        AwsError::Call {
            status: Some(412),
            ..
        }
    )
}

/// Create the lock object only if there is none; the new ETag on success.
async fn put_if_absent(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: &LockBody,
) -> Result<Option<String>, AwsError> {
    let bytes = serde_json::to_vec(body).map_err(|e| AwsError::Invalid(format!("lock: {e}")))?;
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_none_match("*")
        .content_type("application/json")
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| AwsError::call(format!("PutObject s3://{bucket}/{key} (deploy lock)"), e))?;
    Ok(out.e_tag().map(str::to_string))
}

/// Delete the lock object if it is still the one with `etag` (any, when unknown).
async fn delete_if_match(
    s3: &Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<(), AwsError> {
    let mut req = s3.delete_object().bucket(bucket).key(key);
    if let Some(etag) = etag {
        req = req.if_match(etag);
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::call(format!("DeleteObject s3://{bucket}/{key} (deploy lock)"), e);
            // Someone else's lock by now, or already gone: not ours to delete.
            if is_precondition_failed(&err) || matches!(err.code(), Some("NoSuchKey")) {
                Ok(())
            } else {
                Err(err)
            }
        }
    }
}

/// Upper bound on attempts, whatever the clock says (every loop here is bounded).
const MAX_ROUNDS: u32 = 2_000;

/// Take the stage lock: create it, or wait while another run holds it (at most
/// `opts.wait`), taking over an expired one, or breaking any with `opts.force_unlock`.
pub async fn acquire(
    s3: &Client,
    bucket: &str,
    key: &str,
    stage: &str,
    opts: &LockOptions,
    reporter: &dyn Reporter,
) -> Result<StageLock, AwsError> {
    let body = LockBody::new(opts.ttl);
    let started = Instant::now();
    let mut force = opts.force_unlock;
    let mut uncertain = 0u32;
    let ours = |etag| StageLock {
        bucket: bucket.to_string(),
        key: key.to_string(),
        stage: stage.to_string(),
        body: body.clone(),
        etag,
        waited: false,
    };
    let mut waited = false;
    for _ in 0..MAX_ROUNDS {
        match put_if_absent(s3, bucket, key, &body).await {
            // Read back what was written: a store that does not honour If-None-Match under
            // concurrent writes lets the later write win, and then the other run waits.
            Ok(_) => {}
            Err(err) if is_precondition_failed(&err) => {}
            Err(err) if err.is_transient() && uncertain < 3 => {
                // The create may have landed with its answer lost: look before trying again.
                uncertain += 1;
            }
            Err(err) => return Err(err),
        }
        let Some((holder, etag)) = read(s3, bucket, key).await? else {
            continue;
        };
        if holder.token == body.token {
            return Ok(StageLock {
                waited,
                ..ours(etag)
            });
        }
        if force || holder.expired() {
            reporter.report(Progress::LockBroken {
                key: key.to_string(),
                holder: holder.holder(),
                since: holder.acquired.clone(),
            });
            delete_if_match(s3, bucket, key, etag.as_deref()).await?;
            force = false;
            continue;
        }
        if started.elapsed() >= opts.wait {
            return Err(AwsError::Locked(Box::new(LockHeld {
                stage: stage.to_string(),
                owner: holder.holder(),
                since: holder.acquired,
                expires: holder.expires,
                bucket: bucket.to_string(),
                key: key.to_string(),
            })));
        }
        reporter.report(Progress::LockWait {
            stage: stage.to_string(),
            holder: holder.holder(),
            since: holder.acquired.clone(),
            waited: started.elapsed(),
        });
        waited = true;
        tokio::time::sleep(opts.poll).await;
    }
    Err(AwsError::Invalid(format!(
        "could not take the deploy lock s3://{bucket}/{key} after {MAX_ROUNDS} attempts"
    )))
}

impl StageLock {
    /// Check that this run still holds the lock (right before the stack is changed): a lock
    /// that expired and was taken over, or deleted with `--force-unlock`, stops the deploy.
    pub async fn verify(&self, s3: &Client) -> Result<(), AwsError> {
        let now = read(s3, &self.bucket, &self.key).await?;
        match now {
            Some((holder, _)) if holder.token == self.body.token => Ok(()),
            other => Err(AwsError::Invalid(format!(
                "the deploy lock of stage {} (s3://{}/{}) was taken over by {} while this run \
                 was uploading; the stack was not changed by this run. Re-run when the other \
                 deploy has finished",
                self.stage,
                self.bucket,
                self.key,
                other.map_or("no one (it was deleted)".to_string(), |(h, _)| h.holder()),
            ))),
        }
    }

    /// Delete the lock (only if it is still ours).
    pub async fn release(self, s3: &Client) -> Result<(), AwsError> {
        delete_if_match(s3, &self.bucket, &self.key, self.etag.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_bodies_expire_and_name_their_holder() {
        let live = LockBody::new(Duration::from_secs(60));
        assert!(!live.expired());
        assert!(
            live.holder()
                .contains(&format!("(pid {})", std::process::id()))
        );
        let mut old = live.clone();
        old.expires = "2020-01-01T00:00:00Z".into();
        assert!(old.expired());
        old.expires = "never".into();
        assert!(!old.expired(), "an unreadable expiry needs --force-unlock");
        assert_ne!(live.token, LockBody::new(Duration::from_secs(60)).token);
    }

    #[test]
    fn the_lock_sits_in_the_stage_folder() {
        assert_eq!(
            lock_key("serverless/svc/dev"),
            "serverless/svc/dev/deployer.lock"
        );
    }
}
