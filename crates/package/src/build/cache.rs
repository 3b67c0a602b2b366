//! Build cache records: a build is skipped when the content of every input it read last time
//! (esbuild's metafile inputs, the requirements file), its options and the tool's version hash
//! to the key recorded with its output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::BuildError;

/// Hex SHA-256 of some text parts, each followed by a separator so parts cannot run together.
pub(crate) fn hash_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// Content digests of the files read during one build run: entries share most of their module
/// graph (a library, a common module), so each file is hashed once per run.
#[derive(Default)]
pub(crate) struct Digests {
    seen: Mutex<HashMap<PathBuf, Option<[u8; 32]>>>,
}

impl Digests {
    fn of(&self, path: PathBuf) -> Option<[u8; 32]> {
        if let Some(d) = self.seen.lock().expect("digest map").get(&path) {
            return *d;
        }
        let digest = std::fs::read(&path).ok().map(|b| Sha256::digest(&b).into());
        self.seen.lock().expect("digest map").insert(path, digest);
        digest
    }
}

/// The key of a build: `base` (tool version, options, entry) plus each input file's path and
/// content. A missing input makes a different key, so a deleted import rebuilds.
pub(crate) fn key_for(base: &str, root: &Path, inputs: &[String], digests: &Digests) -> String {
    let mut h = Sha256::new();
    h.update(base.as_bytes());
    for input in inputs {
        h.update([0u8]);
        h.update(input.as_bytes());
        h.update([0u8]);
        match digests.of(root.join(input)) {
            Some(d) => h.update(d),
            None => h.update(b"<missing>"),
        }
    }
    hex::encode(h.finalize())
}

/// A cache slot: `<dir>/record.json` and the output tree `<dir>/out`.
pub(crate) struct Slot {
    pub dir: PathBuf,
}

impl Slot {
    pub fn new(dir: PathBuf) -> Slot {
        Slot { dir }
    }

    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("record.json")
    }

    /// The inputs and key recorded by the last successful build.
    pub fn record(&self) -> Option<(String, Vec<String>)> {
        let text = std::fs::read_to_string(self.record_path()).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        let key = v.get("key")?.as_str()?.to_string();
        let inputs = v
            .get("inputs")?
            .as_array()?
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect();
        Some((key, inputs))
    }

    /// True when the recorded key matches what the recorded inputs hash to now.
    pub fn is_fresh(&self, base: &str, root: &Path, digests: &Digests) -> bool {
        match self.record() {
            Some((key, inputs)) => {
                self.out().is_dir() && key_for(base, root, &inputs, digests) == key
            }
            None => false,
        }
    }

    /// Records a successful build.
    pub fn save(&self, key: &str, inputs: &[String]) -> Result<(), BuildError> {
        let text = json!({"key": key, "inputs": inputs}).to_string();
        let path = self.record_path();
        std::fs::write(&path, text).map_err(BuildError::io("write", &path))
    }

    /// Forgets the last build (before rebuilding into the slot).
    pub fn clear(&self) -> Result<(), BuildError> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(BuildError::io("remove", &self.dir))?;
        }
        std::fs::create_dir_all(&self.dir).map_err(BuildError::io("create", &self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_input_invalidates_the_slot() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.ts"), "1").unwrap();
        let slot = Slot::new(tmp.path().join("slot"));
        slot.clear().unwrap();
        std::fs::create_dir_all(slot.out()).unwrap();
        let inputs = vec!["a.ts".to_string()];
        let d = Digests::default();
        slot.save(&key_for("base", tmp.path(), &inputs, &d), &inputs)
            .unwrap();
        assert!(slot.is_fresh("base", tmp.path(), &d));
        assert!(!slot.is_fresh("other options", tmp.path(), &d));
        std::fs::write(tmp.path().join("a.ts"), "2").unwrap();
        // A new run sees the new content.
        assert!(!slot.is_fresh("base", tmp.path(), &Digests::default()));
    }
}
