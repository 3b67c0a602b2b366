//! File system events for `watch`: the service directory watched recursively (the `notify`
//! crate), events under `.serverless/`, `node_modules/` and `.git/` ignored, and a burst of
//! events (an editor's save writes, renames and touches) gathered into one change.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// Directories whose changes never ship anything.
const IGNORED: [&str; 3] = [".serverless", "node_modules", ".git"];

/// One gathered change: the files and when the first of them changed.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The changed files (relative to the service directory).
    pub files: BTreeSet<PathBuf>,
    /// When the first event arrived.
    pub first: Instant,
}

/// A running watch of a directory.
pub(crate) struct Watch {
    _watcher: notify::RecommendedWatcher,
    events: UnboundedReceiver<PathBuf>,
    dir: PathBuf,
}

impl Watch {
    /// Starts watching `dir` recursively.
    pub fn start(dir: &Path) -> anyhow::Result<Watch> {
        let (tx, events) = unbounded_channel();
        let root = dir.to_path_buf();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if event.kind.is_access() {
                return;
            }
            for path in event.paths {
                if let Some(rel) = relevant(&root, &path) {
                    let _ = tx.send(rel);
                }
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", dir.display()))?;
        watcher
            .watch(dir, RecursiveMode::Recursive)
            .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", dir.display()))?;
        Ok(Watch {
            _watcher: watcher,
            events,
            dir: dir.to_path_buf(),
        })
    }

    /// The next change: waits for an event, then gathers events until `quiet` passes without
    /// one. `None` when the watcher stopped.
    pub async fn next(&mut self, quiet: Duration) -> Option<Change> {
        let first_path = self.events.recv().await?;
        let first = Instant::now();
        let mut files = BTreeSet::from([first_path]);
        while let Ok(Some(path)) = tokio::time::timeout(quiet, self.events.recv()).await {
            files.insert(path);
        }
        Some(Change { files, first })
    }

    /// The watched directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `path` relative to `root`, unless it is under an ignored directory.
fn relevant(root: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let ignored = rel.components().any(|c| match c {
        Component::Normal(name) => IGNORED.iter().any(|i| name == *i),
        _ => false,
    });
    (!ignored && !rel.as_os_str().is_empty()).then(|| rel.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_dependencies_are_ignored() {
        let root = Path::new("/svc");
        assert_eq!(
            relevant(root, Path::new("/svc/src/a.ts")),
            Some(PathBuf::from("src/a.ts"))
        );
        for p in [
            "/svc/.serverless/x.zip",
            "/svc/node_modules/a/b.js",
            "/svc/.git/HEAD",
        ] {
            assert_eq!(relevant(root, Path::new(p)), None, "{p}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_burst_of_writes_is_one_change() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let mut watch = Watch::start(&dir).unwrap();
        std::fs::create_dir(dir.join("node_modules")).unwrap();
        std::fs::write(dir.join("node_modules/x.js"), "").unwrap();
        std::fs::write(dir.join("a.js"), "1").unwrap();
        std::fs::write(dir.join("b.js"), "2").unwrap();
        let change = tokio::time::timeout(
            Duration::from_secs(5),
            watch.next(Duration::from_millis(200)),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(change.files.contains(Path::new("a.js")), "{change:?}");
        assert!(change.files.contains(Path::new("b.js")), "{change:?}");
        assert!(
            !change.files.iter().any(|f| f.starts_with("node_modules")),
            "{change:?}"
        );
    }
}
