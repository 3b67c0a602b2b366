//! The account lock file (`deployer.accounts.json` next to the configuration): the account
//! each stage was first deployed to (or pinned with `deployer pin`). A small, stable, sorted
//! JSON file meant to be committed, so a later run with another account's credentials is
//! refused by the guard like a broken `allowedAccountIds`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use deployer_aws::RecordedAccount;
use serde::{Deserialize, Serialize};

use crate::defaults::ACCOUNT_LOCK_FILE;
use crate::errors::{OpError, OpErrorKind};

/// The file's layout; `stages` is sorted so the file is stable under version control.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layout {
    stages: BTreeMap<String, String>,
}

/// The account lock file of a service, as read (missing = empty).
#[derive(Debug, Clone)]
pub(crate) struct LockFile {
    /// Where it is (or would be).
    pub path: PathBuf,
    layout: Layout,
}

impl LockFile {
    /// The lock file next to `config` (the service configuration file).
    pub fn next_to(config: &Path) -> PathBuf {
        config
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(ACCOUNT_LOCK_FILE)
    }

    /// Reads the lock file at `path`; a missing file records nothing.
    pub fn read(path: PathBuf) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path,
                    layout: Layout::default(),
                });
            }
            Err(e) => return Err(e).with_context(|| format!("Cannot read {}", path.display())),
        };
        let layout: Layout = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not an account lock file (expected {{\"stages\": {{\"STAGE\": \
                 \"123456789012\"}}}}); fix it or restore it from version control",
                path.display()
            )
        })?;
        if let Some((stage, account)) = layout
            .stages
            .iter()
            .find(|(_, a)| !deployer_aws::is_account_id(a))
        {
            return Err(OpError::error(
                OpErrorKind::LockFile,
                format!(
                    "{}: stage {stage} records \"{account}\", which is not a 12-digit account \
                     id; fix it or run `deployer pin --stage {stage}`",
                    path.display()
                ),
            ));
        }
        Ok(Self { path, layout })
    }

    /// The account recorded for `stage`, with the file as its origin.
    pub fn recorded(&self, stage: &str) -> Option<RecordedAccount> {
        self.layout
            .stages
            .get(stage)
            .map(|account| RecordedAccount {
                account: account.clone(),
                origin: self.path.display().to_string(),
            })
    }

    /// Records `account` for `stage` and writes the file (atomically) when that changes it;
    /// returns the account recorded before, if any.
    pub fn record(&mut self, stage: &str, account: &str) -> anyhow::Result<Option<String>> {
        let previous = self
            .layout
            .stages
            .insert(stage.to_string(), account.to_string());
        if previous.as_deref() != Some(account) {
            self.write()?;
        }
        Ok(previous)
    }

    /// Writes the file through a temporary file in the same directory and a rename, so a
    /// reader never sees half a file.
    fn write(&self) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(&self.layout)?;
        text.push('\n');
        let tmp = self
            .path
            .with_file_name(format!(".{ACCOUNT_LOCK_FILE}.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        });
        let result = written.and_then(|()| std::fs::rename(&tmp, &self.path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.with_context(|| format!("Cannot write {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_records_nothing_and_records_are_written_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let path = LockFile::next_to(&dir.path().join("serverless.yml"));
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
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
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
        let err = LockFile::read(path.clone()).unwrap_err().to_string();
        assert!(err.contains("not a 12-digit account id"), "{err}");
        std::fs::write(&path, "[]").unwrap();
        let err = format!("{:#}", LockFile::read(path).unwrap_err());
        assert!(err.contains("not an account lock file"), "{err}");
    }
}
