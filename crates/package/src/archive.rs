//! Deterministic zip writing: fixed dates and modes, parallel compression, inline hashing.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use base64::Engine as _;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zip::write::{PreparedZipFile, SimpleFileOptions};
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use crate::PackageError;
use crate::select::Candidate;

/// zlib's default level, which archiver (v3's zip library) uses.
const DEFLATE_LEVEL: i64 = 6;
/// A batch of entries is compressed in parallel while the previous batch is being written;
/// these bounds keep the compressed data held in memory small.
const BATCH_BYTES: u64 = 32 << 20;
const BATCH_FILES: usize = 2048;

/// What was written: the artifact's size and its base64 SHA-256 (Lambda's `CodeSha256`).
pub(crate) struct Written {
    pub sha256_base64: String,
    pub size: u64,
}

/// Writes `entries` (already in their final order) as a zip file at `dest`.
///
/// Every entry gets the DOS date 1980-01-01 00:00:00, unix mode `0100644` or `0100755`,
/// "made by unix", deflate at level 6, and no directory entries, so the bytes depend only on
/// names, contents and execute bits. Compression runs on the rayon pool one batch ahead of the
/// (sequential) writer; the SHA-256 is computed while the bytes go to disk.
pub(crate) fn write_zip(entries: &[&Candidate], dest: &Path) -> Result<Written, PackageError> {
    let write_err = |source: io::Error| PackageError::Write {
        path: dest.to_path_buf(),
        source,
    };
    let file = File::create(dest).map_err(write_err)?;
    let sink = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let mut zip = ZipWriter::new_stream(sink);

    let mut ready: Vec<PreparedZipFile> = Vec::new();
    for batch in batches(entries) {
        let previous = std::mem::take(&mut ready);
        let (appended, compressed) =
            rayon::join(|| append(&mut zip, previous), || compress_batch(batch));
        appended.map_err(|err| zip_err(dest, err))?;
        ready = compressed?;
    }
    append(&mut zip, ready).map_err(|err| zip_err(dest, err))?;

    let sink = zip.finish().map_err(|err| zip_err(dest, err))?.into_inner();
    sink.finish().map_err(write_err)
}

fn zip_err(dest: &Path, err: zip::result::ZipError) -> PackageError {
    PackageError::Zip {
        path: dest.to_path_buf(),
        message: err.to_string(),
    }
}

/// Splits entries into consecutive batches bounded by count and total size.
fn batches<'a, 'b>(entries: &'b [&'a Candidate]) -> Vec<&'b [&'a Candidate]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (index, entry) in entries.iter().enumerate() {
        bytes += entry.size;
        if bytes >= BATCH_BYTES || index + 1 - start >= BATCH_FILES {
            out.push(&entries[start..=index]);
            start = index + 1;
            bytes = 0;
        }
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

fn append<W: Write>(
    zip: &mut ZipWriter<zip::write::StreamWriter<W>>,
    files: Vec<PreparedZipFile>,
) -> zip::result::ZipResult<()> {
    zip.add_prepared_files(files)
}

fn compress_batch(batch: &[&Candidate]) -> Result<Vec<PreparedZipFile>, PackageError> {
    batch.par_iter().map(|entry| compress(entry)).collect()
}

/// Reads and compresses one file into a ready-to-append entry.
fn compress(entry: &Candidate) -> Result<PreparedZipFile, PackageError> {
    let data = std::fs::read(&entry.path).map_err(|source| PackageError::Read {
        path: entry.path.clone(),
        source,
    })?;
    let mode = if entry.executable { 0o755 } else { 0o644 };
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(DateTime::default())
        .unix_permissions(mode)
        .system(System::Unix);
    PreparedZipFile::from_data(&entry.name, options, &data).map_err(|err| PackageError::Zip {
        path: entry.path.clone(),
        message: err.to_string(),
    })
}

/// Passes bytes through to `inner` while hashing and counting them.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(mut self) -> io::Result<Written> {
        self.inner.flush()?;
        Ok(Written {
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(self.hasher.finalize()),
            size: self.size,
        })
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn entry(size: u64) -> Candidate {
        Candidate {
            name: String::new(),
            path: PathBuf::new(),
            executable: false,
            size,
        }
    }

    #[test]
    fn batches_cover_all_entries_in_order_within_bounds() {
        let entries: Vec<Candidate> = (0..5000).map(|i| entry(i % 7 * 10_000)).collect();
        let refs: Vec<&Candidate> = entries.iter().collect();
        let parts = batches(&refs);
        assert_eq!(parts.iter().map(|b| b.len()).sum::<usize>(), refs.len());
        assert!(parts.iter().all(|b| b.len() <= BATCH_FILES));
        let big: Vec<Candidate> = (0..4).map(|_| entry(BATCH_BYTES)).collect();
        let big_refs: Vec<&Candidate> = big.iter().collect();
        assert_eq!(batches(&big_refs).len(), 4);
        assert!(batches(&[]).is_empty());
    }
}
