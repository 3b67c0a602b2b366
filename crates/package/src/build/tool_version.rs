//! A build tool's version, remembered per binary: asking `esbuild --version` starts a process
//! on every run (a third of an unchanged `package`), while the binary changes only when it is
//! reinstalled. The record holds the binary's real path, size and modification time; any
//! change asks the tool again.

use std::path::Path;
use std::time::UNIX_EPOCH;

use super::BuildError;
use super::cache::hash_parts;

/// The version of `binary`: the one recorded under `dir` when the binary is unchanged, else
/// `ask()`'s answer, recorded for the next run.
pub(crate) fn remembered(
    binary: &Path,
    dir: &Path,
    ask: impl FnOnce() -> Result<String, BuildError>,
) -> Result<String, BuildError> {
    let Some(stamp) = stamp(binary) else {
        return ask();
    };
    let record = dir.join(format!("version-{}", &hash_parts([stamp.0.as_str()])[..16]));
    let line = format!("{} {}", stamp.0, stamp.1);
    if let Ok(text) = std::fs::read_to_string(&record)
        && let Some((recorded, version)) = text.split_once('\n')
        && recorded == line
        && !version.is_empty()
    {
        return Ok(version.to_string());
    }
    let version = ask()?;
    // Best effort: a run that cannot write the record only asks again next time.
    let _ = write_atomically(dir, &record, &format!("{line}\n{version}"));
    Ok(version)
}

/// (real path, "size mtime-ns") of the file the binary resolves to.
fn stamp(binary: &Path) -> Option<(String, String)> {
    let real = std::fs::canonicalize(binary).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some((
        real.to_string_lossy().into_owned(),
        format!("{} {}", meta.len(), mtime.as_nanos()),
    ))
}

/// Writes through a temporary file and a rename, so a parallel run never reads half a record.
fn write_atomically(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".version-{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn the_tool_is_asked_again_only_when_its_binary_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let binary = tmp.path().join("esbuild");
        std::fs::write(&binary, "v1").unwrap();
        let cache = tmp.path().join("cache");
        let asked = Cell::new(0);
        let version = |v: &'static str| {
            remembered(&binary, &cache, || {
                asked.set(asked.get() + 1);
                Ok(v.to_string())
            })
            .unwrap()
        };
        assert_eq!(version("0.28.2"), "0.28.2");
        assert_eq!(version("ignored"), "0.28.2", "remembered");
        assert_eq!(asked.get(), 1);
        // A reinstall: other content, so another size.
        std::fs::write(&binary, "v2 binary").unwrap();
        assert_eq!(version("0.29.0"), "0.29.0");
        assert_eq!(asked.get(), 2);
        // The same binary through a symlink (node_modules/.bin) shares the record.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&binary, &link).unwrap();
        let via_link = remembered(&link, &cache, || Ok("asked".to_string())).unwrap();
        assert_eq!(via_link, "0.29.0");
    }

    #[test]
    fn a_missing_binary_or_a_failing_tool_is_not_remembered() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let got = remembered(&missing, tmp.path(), || Ok("direct".to_string())).unwrap();
        assert_eq!(got, "direct");
        let binary = tmp.path().join("esbuild");
        std::fs::write(&binary, "v1").unwrap();
        let failed = remembered(&binary, tmp.path(), || {
            Err(BuildError::ToolMissing {
                message: "cannot run".into(),
            })
        });
        assert!(failed.is_err());
        let next = remembered(&binary, tmp.path(), || Ok("0.28.2".to_string())).unwrap();
        assert_eq!(next, "0.28.2", "the failure left no record");
    }
}
