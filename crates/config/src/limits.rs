//! Bounds on what a configuration can make deployer read, parse and build, so that a hostile or
//! broken `serverless.yml` ends in a clear error instead of a hang, an abort or a crash.
//!
//! Each limit is far above what a real service needs; the error names the limit, its value and
//! where it was hit.

use std::io::Read;
use std::path::Path;

/// The largest file read as configuration: `serverless.yml`, a `${file(…)}` file, a `.env`
/// file (10 MiB).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// How deep YAML or JSON collections may nest (the parsers' own recursion limit). Checked while
/// the YAML parser streams, so a deep document is refused after reading only that deep.
pub const MAX_NESTING_DEPTH: usize = 128;

/// How deep variables may nest inside one another in one string (`${a:${b:${c:…}}}`).
pub const MAX_VARIABLE_NESTING: usize = 32;

/// How many properties may be in progress at once: `a` needs `b`, which needs `c`, …
/// A longer chain is refused instead of exhausting the thread's stack.
pub const MAX_REFERENCE_CHAIN: usize = 100;

/// How many variable evaluations may be in progress inside one another, through chains,
/// nesting and re-scans together: the engine recurses on each, and this keeps it well inside
/// a 2 MiB thread stack even in a debug build.
pub const MAX_EVALUATION_DEPTH: usize = 128;

/// How many variables one resolution may evaluate (each `${…}`, each fallback, each re-scan).
pub const MAX_RESOLUTION_STEPS: u64 = 200_000;

/// The longest string a variable may produce (10 MiB).
pub const MAX_STRING_BYTES: usize = 10 * 1024 * 1024;

/// The most bytes the resolved properties may add up to (64 MiB, counted as JSON text).
pub const MAX_RESOLVED_BYTES: usize = 64 * 1024 * 1024;

/// How deep a resolved value may sit in the configuration (its path plus its own nesting).
pub const MAX_RESOLVED_DEPTH: usize = 256;

const MIB: u64 = 1024 * 1024;

/// `bytes` as messages quote a size limit ("64 MiB"), so the figure always follows the
/// constant it describes.
pub fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// The error for a resolution whose values add up to more than [`MAX_RESOLVED_BYTES`].
pub(crate) fn resolved_size_exceeded() -> String {
    format!(
        "variables produced or copied more than {MAX_RESOLVED_BYTES} bytes of values in all \
         (the resolved size limit, {}); large values referenced many times or growing through \
         references cause this",
        mib(MAX_RESOLVED_BYTES as u64)
    )
}

/// The error for a variable whose string would grow past [`MAX_STRING_BYTES`].
pub(crate) fn string_size_exceeded() -> String {
    format!(
        "the resolved string would be longer than {MAX_STRING_BYTES} bytes (the string size \
         limit, {}); variables that repeat each other grow exponentially: check what refers to \
         what",
        mib(MAX_STRING_BYTES as u64)
    )
}

/// Reads a configuration file as UTF-8 text: `Ok(None)` when it does not exist. Only regular
/// files (or symlinks to one) are read, at most [`MAX_FILE_BYTES`]: a device (`/dev/zero`)
/// or a FIFO is refused before it is opened, so reading can neither hang nor exhaust memory.
pub(crate) fn read_text(path: &Path) -> Result<Option<String>, String> {
    // `metadata` follows symlinks and does not open the file (opening a FIFO blocks).
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Cannot read {}: {e}", path.display())),
    };
    check_regular(path, &metadata)?;
    check_size(path, metadata.len())?;
    let file =
        std::fs::File::open(path).map_err(|e| format!("Cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    // `take` bounds a file that grows after the size check.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("Cannot read {}: {e}", path.display()))?;
    check_size(path, bytes.len() as u64)?;
    String::from_utf8(bytes).map(Some).map_err(|e| {
        format!(
            "{} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

fn check_regular(path: &Path, metadata: &std::fs::Metadata) -> Result<(), String> {
    if metadata.is_file() {
        return Ok(());
    }
    Err(format!(
        "{} is {}, not a regular file; configuration values can only be read from files",
        path.display(),
        file_kind(metadata)
    ))
}

fn check_size(path: &Path, len: u64) -> Result<(), String> {
    if len <= MAX_FILE_BYTES {
        return Ok(());
    }
    Err(format!(
        "{} is larger than the limit of {MAX_FILE_BYTES} bytes ({}) for configuration files",
        path.display(),
        mib(MAX_FILE_BYTES)
    ))
}

/// What a non-regular file is, for messages ("a device", "a FIFO (named pipe)", …).
pub fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = metadata.file_type();
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if metadata.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures a message states, in bytes and in MiB, are the constant's.
    #[test]
    fn size_messages_state_their_constants() {
        assert_eq!(mib(MAX_RESOLVED_BYTES as u64), "64 MiB");
        let resolved = resolved_size_exceeded();
        assert!(resolved.contains("more than 67108864 bytes"), "{resolved}");
        assert!(
            resolved.contains("resolved size limit, 64 MiB"),
            "{resolved}"
        );
        let string = string_size_exceeded();
        assert!(string.contains("longer than 10485760 bytes"), "{string}");
        assert!(string.contains("string size limit, 10 MiB"), "{string}");
        assert_eq!(mib(MAX_FILE_BYTES), "10 MiB");
        assert_eq!(mib(3 * MIB / 2), "1.5 MiB");
    }

    /// docs/reliability.md quotes the messages as they are, so the table cannot drift from the
    /// constants again.
    #[test]
    fn reliability_doc_quotes_the_size_messages() {
        let doc = include_str!("../../../docs/reliability.md");
        let resolved = resolved_size_exceeded();
        let quoted = resolved.split(';').next().unwrap();
        assert!(doc.contains(quoted), "docs/reliability.md lacks {quoted:?}");
        let row = format!("| {} (`MAX_RESOLVED_BYTES`", mib(MAX_RESOLVED_BYTES as u64));
        assert!(doc.contains(&row), "docs/reliability.md lacks {row:?}");
        let string = string_size_exceeded();
        let quoted = string.split(';').next().unwrap();
        assert!(doc.contains(quoted), "docs/reliability.md lacks {quoted:?}");
    }

    #[test]
    fn reads_regular_files_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yml");
        std::fs::write(&path, "a: 1").unwrap();
        assert_eq!(read_text(&path).unwrap().as_deref(), Some("a: 1"));
        assert_eq!(read_text(&dir.path().join("missing")).unwrap(), None);
        let err = read_text(dir.path()).unwrap_err();
        assert!(err.contains("is a directory, not a regular file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_without_reading() {
        let err = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(
            err.contains("/dev/zero is a device, not a regular file"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // Opening a FIFO with no writer would block forever: this returning at all is the test.
        let err = read_text(&fifo).unwrap_err();
        assert!(err.contains("is a FIFO"), "{err}");
    }

    #[test]
    fn large_and_non_utf8_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = read_text(&big).unwrap_err();
        assert!(
            err.contains("larger than the limit of 10485760 bytes"),
            "{err}"
        );
        let bin = dir.path().join("bin.yml");
        std::fs::write(&bin, b"a: \xff\xfe").unwrap();
        let err = read_text(&bin).unwrap_err();
        assert!(
            err.contains("not UTF-8 text (invalid byte at offset 3)"),
            "{err}"
        );
    }
}
