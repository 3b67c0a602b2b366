//! The account lock file (`deployer.accounts.json` next to the configuration): the account
//! each stage was first deployed to (or pinned with `deployer pin`). A small, stable, sorted
//! JSON file meant to be committed, so a later run with another account's credentials is
//! refused by the guard like a broken `allowedAccountIds`.
//!
//! The file fails closed: anything but a missing file or a well-formed lock file (a dangling
//! symlink, a FIFO, a device, a directory, an oversized file, a stage recorded twice) is an
//! error naming it, never "nothing recorded". It sits next to the configuration file's real
//! location (symlinks resolved), is read with a size bound and is written atomically, never
//! through a symlink.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use deployer_aws::RecordedAccount;
use deployer_config::limits::{MAX_FILE_BYTES, file_kind};
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::defaults::ACCOUNT_LOCK_FILE;
use crate::errors::{OpError, OpErrorKind};

/// The file's layout; `stages` is sorted so the file is stable under version control.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layout {
    stages: Stages,
}

/// The recorded stages. Deserializing refuses a stage recorded twice: serde_json would keep
/// the last one silently, and which account a stage is held to must never be a guess.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Stages(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Stages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StagesVisitor)
    }
}

struct StagesVisitor;

impl<'de> Visitor<'de> for StagesVisitor {
    type Value = Stages;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of stage names to account ids")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stages, A::Error> {
        let mut stages = BTreeMap::new();
        while let Some((stage, account)) = map.next_entry::<String, String>()? {
            if stages.contains_key(&stage) {
                return Err(A::Error::custom(format!(
                    "stage \"{stage}\" is recorded more than once"
                )));
            }
            stages.insert(stage, account);
        }
        Ok(Stages(stages))
    }
}

/// The account lock file of a service, as read (missing = empty).
#[derive(Debug, Clone)]
pub(crate) struct LockFile {
    /// Where it is (or would be).
    pub path: PathBuf,
    layout: Layout,
}

/// A lock-file failure, typed so `--json` reports it as `lock-file`.
fn lock_error(message: String) -> anyhow::Error {
    OpError::error(OpErrorKind::LockFile, message)
}

impl LockFile {
    /// The lock file next to `config` (the service configuration file), located from the
    /// file's canonical path: a `serverless.yml` reached through a symlink (or `-c` through
    /// another directory) shares the lock file of the real configuration, so no path to the
    /// same configuration can start a fresh, empty record.
    pub fn next_to(config: &Path) -> anyhow::Result<PathBuf> {
        let real = std::fs::canonicalize(config).map_err(|e| {
            lock_error(format!(
                "Cannot resolve the configuration file {} to find its account lock file \
                 ({ACCOUNT_LOCK_FILE}) next to it: {e}",
                config.display()
            ))
        })?;
        Ok(real
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(ACCOUNT_LOCK_FILE))
    }

    /// Reads the lock file at `path`; only a missing file records nothing. A symlink is
    /// followed to a regular file; anything else (a dangling symlink, a directory, a FIFO, a
    /// device, a file over [`MAX_FILE_BYTES`], malformed JSON, a stage recorded twice) is an
    /// error naming the file.
    pub fn read(path: PathBuf) -> anyhow::Result<Self> {
        let Some(bytes) = read_bounded(&path)? else {
            return Ok(Self {
                path,
                layout: Layout::default(),
            });
        };
        let layout = parse(&path, &bytes)?;
        Ok(Self { path, layout })
    }

    /// The account recorded for `stage`, with the file as its origin.
    pub fn recorded(&self, stage: &str) -> Option<RecordedAccount> {
        self.layout
            .stages
            .0
            .get(stage)
            .map(|account| RecordedAccount {
                account: account.clone(),
                origin: self.path.display().to_string(),
            })
    }

    /// Records `account` for `stage` and writes the file (atomically) when that changes it;
    /// returns the account recorded before, if any. Nothing is recorded when the write fails.
    pub fn record(&mut self, stage: &str, account: &str) -> anyhow::Result<Option<String>> {
        let previous = self.layout.stages.0.get(stage).cloned();
        if previous.as_deref() != Some(account) {
            let mut layout = self.layout.clone();
            layout
                .stages
                .0
                .insert(stage.to_string(), account.to_string());
            write(&self.path, &layout, stage, account)?;
            self.layout = layout;
        }
        Ok(previous)
    }
}

/// The file's bytes, `None` when nothing is at `path`. Checks what the path is before opening
/// it (opening a FIFO blocks), then reads at most [`MAX_FILE_BYTES`] + 1 bytes (a file that
/// grows after the check).
fn read_bounded(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let cannot = |e: std::io::Error| lock_error(format!("Cannot read {}: {e}", path.display()));
    // `symlink_metadata` tells a missing file from a dangling symlink.
    let link = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    let metadata = if link.file_type().is_symlink() {
        std::fs::metadata(path).map_err(|e| dangling(path, e))?
    } else {
        link
    };
    check_regular(path, &metadata)?;
    check_size(path, metadata.len())?;
    let file = std::fs::File::open(path).map_err(cannot)?;
    // The path may have been swapped between the check and the open: check what was opened.
    check_regular(path, &file.metadata().map_err(cannot)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    check_size(path, bytes.len() as u64)?;
    Ok(Some(bytes))
}

/// The error for a symlink whose target cannot be reached: the record it should hold is
/// unknown, so the guard cannot treat it as "no record".
fn dangling(path: &Path, e: std::io::Error) -> anyhow::Error {
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    let what = if e.kind() == std::io::ErrorKind::NotFound {
        "a dangling symlink".to_string()
    } else {
        format!("a symlink that cannot be followed ({e})")
    };
    lock_error(format!(
        "The account lock file {} is {what} to {target}; restore the file it points to, or \
         replace the link with the lock file from version control",
        path.display()
    ))
}

fn check_regular(path: &Path, metadata: &std::fs::Metadata) -> anyhow::Result<()> {
    if metadata.is_file() {
        return Ok(());
    }
    Err(lock_error(format!(
        "The account lock file {} is {}, not a regular file; replace it with the lock file \
         from version control (or remove it if no stage was ever recorded)",
        path.display(),
        file_kind(metadata)
    )))
}

fn check_size(path: &Path, len: u64) -> anyhow::Result<()> {
    if len <= MAX_FILE_BYTES {
        return Ok(());
    }
    Err(lock_error(format!(
        "The account lock file {} is larger than the limit of {MAX_FILE_BYTES} bytes (10 MiB) \
         for configuration files; restore it from version control",
        path.display()
    )))
}

/// Parses and checks the file's text: the layout, each stage once, 12-digit account ids.
fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<Layout> {
    let layout: Layout = serde_json::from_slice(bytes).map_err(|e| {
        lock_error(format!(
            "{} is not a valid account lock file: {e}; expected {{\"stages\": {{\"STAGE\": \
             \"123456789012\"}}}} with each stage once; fix it or restore it from version \
             control",
            path.display()
        ))
    })?;
    if let Some((stage, account)) = layout
        .stages
        .0
        .iter()
        .find(|(_, a)| !deployer_aws::is_account_id(a))
    {
        return Err(lock_error(format!(
            "{}: stage {stage} records \"{account}\", which is not a 12-digit account id; fix \
             it or run `deployer pin --stage {stage}`",
            path.display()
        )));
    }
    Ok(layout)
}

/// Writes the file through a new temporary file in the same directory and a rename, so a
/// reader never sees half a file. A symlink (or anything but a regular file) at `path` is
/// refused, not replaced or written through: the link may be shared on purpose, and its
/// target is not this service's to rewrite.
fn write(path: &Path, layout: &Layout, stage: &str, account: &str) -> anyhow::Result<()> {
    refuse_link(path, stage, account)?;
    let mut text = serde_json::to_string_pretty(layout)?;
    text.push('\n');
    let cannot = |e: std::io::Error| lock_error(format!("Cannot write {}: {e}", path.display()));
    let (tmp, mut file) = create_temp(path).map_err(cannot)?;
    let result = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(cannot)
}

/// Refuses to replace what is at `path` unless it is a regular file or nothing.
fn refuse_link(path: &Path, stage: &str, account: &str) -> anyhow::Result<()> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(lock_error(format!("Cannot write {}: {e}", path.display()))),
    };
    if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(lock_error(format!(
            "Cannot record stage {stage} for account {account}: the account lock file {} is a \
             symlink (to {target}), and deployer never writes through one; add \"{stage}\": \
             \"{account}\" to {target} yourself, or replace the link with a regular file",
            path.display()
        )));
    }
    check_regular(path, &metadata)
}

/// Creates a fresh temporary file next to `path`; `create_new` never opens an existing file
/// or follows a symlink planted at the temporary name.
fn create_temp(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut attempt = 0u32;
    loop {
        let tmp = path.with_file_name(format!(
            ".{ACCOUNT_LOCK_FILE}.{}.{attempt}.tmp",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(err: anyhow::Error) -> String {
        let op = err
            .downcast_ref::<OpError>()
            .expect("a typed lock-file error");
        assert_eq!(op.kind, OpErrorKind::LockFile);
        op.message.clone()
    }

    #[test]
    fn missing_file_records_nothing_and_records_are_written_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("serverless.yml");
        std::fs::write(&config, "service: a\n").unwrap();
        let path = LockFile::next_to(&config).unwrap();
        let mut lock = LockFile::read(path.clone()).unwrap();
        assert_eq!(lock.recorded("dev"), None);
        assert_eq!(lock.record("prod", "111111111111").unwrap(), None);
        assert_eq!(lock.record("dev", "222222222222").unwrap(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\n  \"stages\": {\n    \"dev\": \"222222222222\",\n    \"prod\": \"111111111111\"\n  }\n}\n"
        );
        let again = LockFile::read(path.clone()).unwrap();
        let dev = again.recorded("dev").unwrap();
        assert_eq!(dev.account, "222222222222");
        assert_eq!(dev.origin, path.display().to_string());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn re_recording_returns_the_previous_account() {
        let dir = tempfile::tempdir().unwrap();
        let mut lock = LockFile::read(dir.path().join(ACCOUNT_LOCK_FILE)).unwrap();
        lock.record("dev", "222222222222").unwrap();
        assert_eq!(
            lock.record("dev", "333333333333").unwrap().as_deref(),
            Some("222222222222")
        );
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACCOUNT_LOCK_FILE);
        std::fs::write(&path, "{\"stages\": {\"dev\": \"12\"}}").unwrap();
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(err.contains("not a 12-digit account id"), "{err}");
        for broken in ["[]", "", "{\"stages\": {}, \"extra\": 1}"] {
            std::fs::write(&path, broken).unwrap();
            let err = message(LockFile::read(path.clone()).unwrap_err());
            assert!(
                err.starts_with(&format!(
                    "{} is not a valid account lock file",
                    path.display()
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn a_stage_recorded_twice_is_an_error_naming_the_stage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACCOUNT_LOCK_FILE);
        std::fs::write(
            &path,
            "{\"stages\": {\"dev\": \"222222222222\", \"prod\": \"111111111111\", \
             \"dev\": \"111111111111\"}}",
        )
        .unwrap();
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("stage \"dev\" is recorded more than once"),
            "{err}"
        );
        // The same key spelled with an escape is the same stage.
        std::fs::write(
            &path,
            "{\"stages\": {\"dev\": \"222222222222\", \"d\\u0065v\": \"111111111111\"}}",
        )
        .unwrap();
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(
            err.contains("stage \"dev\" is recorded more than once"),
            "{err}"
        );
        // Two `stages` objects: the first must not be dropped either.
        std::fs::write(
            &path,
            "{\"stages\": {\"dev\": \"222222222222\"}, \"stages\": {}}",
        )
        .unwrap();
        let err = message(LockFile::read(path).unwrap_err());
        assert!(err.contains("duplicate field `stages`"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_symlink_is_an_error_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACCOUNT_LOCK_FILE);
        std::os::unix::fs::symlink("../gone/accounts.json", &path).unwrap();
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(
            err.contains(&format!(
                "{} is a dangling symlink to ../gone/accounts.json",
                path.display()
            )),
            "{err}"
        );
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_lock_file_is_read_but_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("shared.json");
        let text = "{\"stages\": {\"dev\": \"222222222222\"}}";
        std::fs::write(&real, text).unwrap();
        let path = dir.path().join(ACCOUNT_LOCK_FILE);
        std::os::unix::fs::symlink(&real, &path).unwrap();
        let mut lock = LockFile::read(path.clone()).unwrap();
        assert_eq!(lock.recorded("dev").unwrap().account, "222222222222");
        // Recording what is already there writes nothing.
        assert_eq!(
            lock.record("dev", "222222222222").unwrap().as_deref(),
            Some("222222222222")
        );
        let err = message(lock.record("prod", "111111111111").unwrap_err());
        assert!(
            err.contains("is a symlink") && err.contains("never writes through one"),
            "{err}"
        );
        assert!(err.contains("\"prod\": \"111111111111\""), "{err}");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), text);
        assert_eq!(
            lock.recorded("prod"),
            None,
            "a failed write records nothing"
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_directories_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACCOUNT_LOCK_FILE);
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(err.contains("is a device, not a regular file"), "{err}");
        std::fs::remove_file(&path).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        // Opening a FIFO with no writer blocks forever: this returning at all is the test.
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(err.contains("is a FIFO (named pipe)"), "{err}");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(err.contains("is a directory, not a regular file"), "{err}");
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACCOUNT_LOCK_FILE);
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = message(LockFile::read(path.clone()).unwrap_err());
        assert!(
            err.contains(&format!(
                "{} is larger than the limit of 10485760 bytes",
                path.display()
            )),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_file_sits_next_to_the_real_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let svc = root.join("svc");
        let alt = root.join("alt");
        std::fs::create_dir_all(&svc).unwrap();
        std::fs::create_dir_all(&alt).unwrap();
        std::fs::write(svc.join("serverless.yml"), "service: a\n").unwrap();
        std::os::unix::fs::symlink("../svc/serverless.yml", alt.join("serverless.yml")).unwrap();
        let expected = svc.join(ACCOUNT_LOCK_FILE);
        assert_eq!(
            LockFile::next_to(&alt.join("serverless.yml")).unwrap(),
            expected
        );
        // Through a symlinked directory and `..` too.
        std::os::unix::fs::symlink(&alt, root.join("link")).unwrap();
        let winding = root.join("link/../alt/serverless.yml");
        assert_eq!(LockFile::next_to(&winding).unwrap(), expected);
        // A configuration that cannot be resolved is an error, not a guess.
        std::fs::remove_file(svc.join("serverless.yml")).unwrap();
        let err = message(LockFile::next_to(&alt.join("serverless.yml")).unwrap_err());
        assert!(
            err.contains("Cannot resolve the configuration file"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_at_a_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACCOUNT_LOCK_FILE);
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        // Links at the names a writer in this process would pick (`pid.tmp`, `pid.N.tmp`).
        let pid = std::process::id();
        let planted: Vec<PathBuf> = std::iter::once(format!(".{ACCOUNT_LOCK_FILE}.{pid}.tmp"))
            .chain((0..3).map(|n| format!(".{ACCOUNT_LOCK_FILE}.{pid}.{n}.tmp")))
            .map(|name| path.with_file_name(name))
            .collect();
        for link in &planted {
            std::os::unix::fs::symlink(&victim, link).unwrap();
        }
        let mut lock = LockFile::read(path.clone()).unwrap();
        lock.record("dev", "222222222222").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        for link in &planted {
            assert!(std::fs::symlink_metadata(link).unwrap().is_symlink());
        }
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        let again = LockFile::read(path).unwrap();
        assert_eq!(again.recorded("dev").unwrap().account, "222222222222");
    }
}
