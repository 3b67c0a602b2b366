//! The per-stage deploy lock: one object `<prefix>/<service>/<stage>/deployer.lock` in the
//! deployment bucket, created with a conditional `PutObject` (`If-None-Match: *`), so that of
//! two runs deploying one stage only one writes at a time. The body names the holder (user,
//! host, pid), when it took the lock and when the lock expires; a run that finds the lock held
//! waits (bounded) and then fails naming the holder. The holder checks the lock again right
//! before it changes the stack and deletes it afterwards (`If-Match` on its own ETag).
//!
//! A lock is never left silently: a run that wrote its lock and cannot read it back deletes
//! it again, and a lock that could not be deleted is named with `--force-unlock` in the
//! message. A lock whose holder was a process of this host that no longer runs is taken over
//! at once, with a warning.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{AwsError, LockHeld};
use crate::progress::{Progress, Scoped};

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
    /// The holder's pid namespace (`pid:[4026531836]` on Linux), so that a pid is only judged
    /// in the namespace it belongs to; absent in older locks and elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidns: Option<String>,
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
            pidns: pid_namespace(),
        }
    }

    /// The host part of `user@host`.
    pub fn host(&self) -> &str {
        self.owner.rsplit_once('@').map_or("", |(_, h)| h)
    }

    /// True when the holder was a process of this host that no longer runs: its lock can be
    /// taken over without waiting. Judged only where it can be: the same real host name, the
    /// same pid namespace (when the lock records one) and a process table that shows every
    /// process (`/proc` without `hidepid`).
    pub fn holder_is_gone(&self) -> bool {
        let here = host();
        self.pid != 0
            && is_specific_host(&here)
            && self.host() == here
            && self
                .pidns
                .as_ref()
                .is_none_or(|ns| pid_namespace().as_ref() == Some(ns))
            && process_gone(self.pid)
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

/// Host names that many machines share: a pid there says nothing about this machine.
fn is_specific_host(host: &str) -> bool {
    !matches!(
        host,
        "" | "unknown-host" | "localhost" | "localhost.localdomain"
    )
}

/// `readlink /proc/self/ns/pid`, when there is one.
fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.display().to_string())
}

/// True only when the process table is readable and has no process `pid`: `/proc/1` hidden
/// (`hidepid`) or no `/proc` at all (not Linux) means it cannot be told.
fn process_gone(pid: u32) -> bool {
    let proc_root = std::path::Path::new("/proc");
    proc_root.join("1").exists()
        && proc_root.join("self").exists()
        && !proc_root.join(pid.to_string()).exists()
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
        pidns: None,
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

/// What to say about a lock left at `bucket/key`.
fn left_text(bucket: &str, key: &str, stage: &str) -> String {
    format!(
        "the deploy lock was left at s3://{bucket}/{key}: the next run of stage {stage} waits \
         for it; when no other run of this stage is going on, re-run with --force-unlock"
    )
}

/// `err` with `left` as where things stand, in place of what it said about re-running. Errors
/// without a place for it keep their text and the lock's state is a warning.
fn with_lock_left(err: AwsError, left: &str) -> AwsError {
    match err {
        AwsError::Call { ref state, .. } => {
            let state = match state
                .as_deref()
                .map(without_rerun)
                .filter(|s| !s.is_empty())
            {
                Some(before) => format!("{before}; {left}"),
                None => left.to_string(),
            };
            err.with_state(state)
        }
        AwsError::Bucket(text) => AwsError::Bucket(format!("{}; {left}", without_rerun(&text))),
        AwsError::Invalid(text) => AwsError::Invalid(format!("{}; {left}", without_rerun(&text))),
        other => {
            tracing::warn!("{left}");
            other
        }
    }
}

/// `text` without its "re-running is safe", which a lock left behind makes untrue.
fn without_rerun(text: &str) -> String {
    [
        "; re-running is safe",
        " (re-running is safe)",
        "re-running is safe",
    ]
    .iter()
    .fold(text.to_string(), |t, phrase| t.replace(phrase, ""))
    .trim_end_matches([';', ' '])
    .to_string()
}

/// Whether this round's create of the lock object landed.
enum Written {
    /// It did, with this ETag.
    Yes(Option<String>),
    /// Its answer was lost: it may have.
    Maybe,
    /// Another run's lock was there.
    No,
}

impl Written {
    /// After the read-back failed: delete the lock again when this run wrote it (only if it is
    /// still the one written) so that it does not hold the stage, and say where things stand.
    async fn undo(
        self,
        s3: &Client,
        bucket: &str,
        key: &str,
        stage: &str,
        err: AwsError,
    ) -> AwsError {
        let etag = match self {
            Written::No => return err,
            Written::Maybe => {
                return err.with_state(format!(
                    "the deploy lock s3://{bucket}/{key} may have been left by this run: if the \
                     next run waits for it while no other run of stage {stage} is going on, \
                     re-run with --force-unlock"
                ));
            }
            Written::Yes(etag) => etag,
        };
        match delete_if_match(s3, bucket, key, etag.as_deref()).await {
            Ok(()) => err.with_state(format!(
                "this run's deploy lock s3://{bucket}/{key} was deleted again and nothing was \
                 changed; re-running is safe"
            )),
            Err(delete) => {
                tracing::debug!("deleting the unconfirmed deploy lock failed: {delete}");
                err.with_state(left_text(bucket, key, stage))
            }
        }
    }
}

/// Why a held lock may be taken without waiting, if it may.
fn takeover_reason(holder: &LockBody, force: bool) -> Option<&'static str> {
    if force {
        Some("--force-unlock")
    } else if holder.expired() {
        Some("it expired")
    } else if holder.holder_is_gone() {
        Some("its process no longer runs on this host")
    } else {
        None
    }
}

/// Take the stage lock: create it, or wait while another run holds it (at most
/// `opts.wait`), taking over an expired one or one whose holder process on this host is gone,
/// or breaking any with `opts.force_unlock`.
pub async fn acquire(
    s3: &Client,
    bucket: &str,
    key: &str,
    stage: &str,
    opts: &LockOptions,
    progress: Scoped<'_>,
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
        let written = match put_if_absent(s3, bucket, key, &body).await {
            // Read back what was written: a store that does not honour If-None-Match under
            // concurrent writes lets the later write win, and then the other run waits.
            Ok(etag) => Written::Yes(etag),
            Err(err) if is_precondition_failed(&err) => Written::No,
            Err(err) if err.is_transient() && uncertain < 3 => {
                // The create may have landed with its answer lost: look before trying again.
                uncertain += 1;
                Written::Maybe
            }
            Err(err) => return Err(err),
        };
        let read_back = match read(s3, bucket, key).await {
            Ok(r) => r,
            Err(err) => return Err(written.undo(s3, bucket, key, stage, err).await),
        };
        let Some((holder, etag)) = read_back else {
            continue;
        };
        if holder.token == body.token {
            return Ok(StageLock {
                waited,
                ..ours(etag)
            });
        }
        if let Some(reason) = takeover_reason(&holder, force) {
            if reason != "--force-unlock" {
                tracing::warn!(
                    "taking over the deploy lock s3://{bucket}/{key} of {} (taken {}): {reason}",
                    holder.holder(),
                    holder.acquired
                );
            }
            progress.report(|scope| Progress::LockBroken {
                scope,
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
        progress.report(|scope| Progress::LockWait {
            scope,
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

    /// Delete the lock (only if it is still ours). The error says that the lock was left and
    /// how to remove it (`--force-unlock`).
    pub async fn release(self, s3: &Client) -> Result<(), AwsError> {
        delete_if_match(s3, &self.bucket, &self.key, self.etag.as_deref())
            .await
            .map_err(|e| e.with_state(self.left_message()))
    }

    /// What to say when this lock could not be deleted: where it is, that the next run of the
    /// stage waits for it, and `--force-unlock`.
    pub fn left_message(&self) -> String {
        left_text(&self.bucket, &self.key, &self.stage)
    }

    /// Release the lock after `result`, the outcome of the work done under it. When the lock
    /// cannot be deleted, a failed `result` says so instead of "re-running is safe", and a
    /// successful one is followed by a warning.
    pub async fn release_after<T>(
        self,
        s3: &Client,
        result: Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let left = self.left_message();
        let Err(release) = self.release(s3).await else {
            return result;
        };
        match result {
            Ok(value) => {
                tracing::warn!("{release}");
                Ok(value)
            }
            Err(err) => {
                tracing::debug!("{release}");
                Err(with_lock_left(err, &left))
            }
        }
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

    /// A pid that ran on this host and has ended.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn held_here(pid: u32) -> LockBody {
        LockBody {
            owner: format!("ana@{}", host()),
            pid,
            ..LockBody::new(Duration::from_secs(60))
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_lock_of_a_process_gone_from_this_host_can_be_taken_over() {
        let gone = held_here(dead_pid());
        if !is_specific_host(&host()) {
            // A shared host name proves nothing: never taken over here.
            assert!(!gone.holder_is_gone());
            return;
        }
        assert!(gone.holder_is_gone(), "{gone:?}");
        assert_eq!(
            takeover_reason(&gone, false),
            Some("its process no longer runs on this host")
        );
        assert!(
            !held_here(std::process::id()).holder_is_gone(),
            "a live holder"
        );
        let elsewhere = LockBody {
            owner: "ana@another-host".into(),
            ..gone.clone()
        };
        assert!(!elsewhere.holder_is_gone(), "a pid of another host");
        let other_ns = LockBody {
            pidns: Some("pid:[1]".into()),
            ..gone.clone()
        };
        assert!(!other_ns.holder_is_gone(), "a pid of another pid namespace");
        let unknown = LockBody { pid: 0, ..gone };
        assert!(!unknown.holder_is_gone(), "a lock that is not deployer's");
        assert!(!is_specific_host("localhost"));
    }

    #[test]
    fn a_left_lock_replaces_re_running_is_safe() {
        let left = "the deploy lock was left at s3://b/k";
        let err = AwsError::failed("UpdateStack", "boom", crate::error::FailureKind::Timeout)
            .with_state("the stack was not changed; re-running is safe");
        let text = with_lock_left(err, left).to_string();
        assert!(
            text.contains("the stack was not changed; the deploy lock was left"),
            "{text}"
        );
        assert!(!text.contains("re-running is safe"), "{text}");
        let bare = AwsError::failed("UpdateStack", "boom", crate::error::FailureKind::Timeout);
        let text = with_lock_left(bare, left).to_string();
        assert!(
            text.ends_with(left) && !text.contains("re-running"),
            "{text}"
        );
        let invalid = AwsError::Invalid("re-run when it has finished (re-running is safe)".into());
        assert_eq!(
            with_lock_left(invalid, left).to_string(),
            format!("re-run when it has finished; {left}")
        );
        assert!(left_text("b", "k", "dev").contains("--force-unlock"));
    }

    #[test]
    fn lock_bodies_without_a_pid_namespace_still_read() {
        let old = r#"{"owner":"a@h","pid":1,"token":"t","acquired":"x","expires":"y"}"#;
        let body: LockBody = serde_json::from_str(old).unwrap();
        assert_eq!(body.pidns, None);
        assert_eq!(body.host(), "h");
    }

    #[test]
    fn the_lock_sits_in_the_stage_folder() {
        assert_eq!(
            lock_key("serverless/svc/dev"),
            "serverless/svc/dev/deployer.lock"
        );
    }
}
