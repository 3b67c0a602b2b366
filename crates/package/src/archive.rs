//! Deterministic zip writing: fixed dates and modes, parallel compression, inline hashing.
//!
//! The container is written here rather than through a zip library so that a compressed entry
//! is a plain value: an entry shared by several artifacts (common with `individually`) is
//! compressed once and its bytes copied into each zip, and every entry is laid out the same
//! way whichever artifact it lands in, so an artifact's bytes never depend on its neighbours.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use base64::Engine as _;
use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::PackageError;
use crate::select::Candidate;

/// zlib's default level, which archiver (v3's zip library) uses.
const DEFLATE_LEVEL: u32 = 6;
/// A batch of entries is compressed in parallel while the previous batch is being written;
/// these bounds keep the compressed data held in memory small.
const BATCH_BYTES: u64 = 32 << 20;
const BATCH_FILES: usize = 2048;

/// DOS date 1980-01-01 (day 1, month 1, year 0 = 1980) and time 00:00:00.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// "Version made by": Unix (3) in the high byte, spec version 2.0 in the low byte.
const MADE_BY_UNIX_20: u16 = (3 << 8) | 20;
const VERSION_DEFLATE: u16 = 20;
const VERSION_ZIP64: u16 = 45;
const METHOD_DEFLATE: u16 = 8;
/// General purpose flag bit 11: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
const U32_LIMIT: u64 = 0xFFFF_FFFF;
const U16_LIMIT: u64 = 0xFFFF;

/// One file, read and deflated, ready to be written into any number of zips.
pub(crate) struct Compressed {
    name: String,
    mode: u32,
    crc32: u32,
    size: u64,
    data: Vec<u8>,
}

/// What was written: the artifact's size and its base64 SHA-256 (Lambda's `CodeSha256`).
pub(crate) struct Written {
    pub sha256_base64: String,
    pub size: u64,
}

/// Where an entry's compressed bytes come from when writing one zip.
pub(crate) enum Source<'a> {
    /// Compress the file while writing this zip.
    File(&'a Candidate),
    /// Already compressed (shared with other zips).
    Ready(&'a Compressed),
}

impl Source<'_> {
    fn size_hint(&self) -> u64 {
        match self {
            Source::File(candidate) => candidate.size,
            Source::Ready(compressed) => compressed.data.len() as u64,
        }
    }
}

/// Reads and deflates one file.
pub(crate) fn compress(entry: &Candidate) -> Result<Compressed, PackageError> {
    let content = std::fs::read(&entry.path).map_err(|source| PackageError::Read {
        path: entry.path.clone(),
        source,
    })?;
    let data = deflate(&content).map_err(|err| PackageError::Read {
        path: entry.path.clone(),
        source: io::Error::other(err),
    })?;
    Ok(Compressed {
        name: entry.name.clone(),
        mode: if entry.executable { 0o100755 } else { 0o100644 },
        crc32: crc32fast::hash(&content),
        size: content.len() as u64,
        data,
    })
}

thread_local! {
    /// One raw-deflate compressor per thread, reset between files: setting one up costs
    /// hundreds of KB of tables, which would dominate for small files.
    static COMPRESSOR: RefCell<Compress> =
        RefCell::new(Compress::new(Compression::new(DEFLATE_LEVEL), false));
}

/// Raw deflate stream (no zlib header) of `input`.
fn deflate(input: &[u8]) -> Result<Vec<u8>, flate2::CompressError> {
    COMPRESSOR.with(|cell| {
        let mut compressor = cell.borrow_mut();
        compressor.reset();
        // Deflate never expands by more than 5 bytes per 16 KB block plus a few bytes.
        let mut out = Vec::with_capacity(input.len() + input.len() / 1000 + 64);
        let mut consumed = 0;
        loop {
            let before = compressor.total_in();
            let status =
                compressor.compress_vec(&input[consumed..], &mut out, FlushCompress::Finish)?;
            consumed += (compressor.total_in() - before) as usize;
            match status {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
            }
        }
    })
}

/// Writes `entries` (already in their final order) as a zip file at `dest`.
///
/// Every entry gets the DOS date 1980-01-01 00:00:00, unix mode `0100644` or `0100755`,
/// "made by unix", deflate at level 6, and there are no directory entries, so the bytes depend
/// only on names, contents and execute bits. Files are compressed on the rayon pool one batch
/// ahead of the (sequential) writer; the SHA-256 is computed while the bytes go to disk.
pub(crate) fn write_zip(entries: &[Source<'_>], dest: &Path) -> Result<Written, PackageError> {
    let write_err = |source: io::Error| PackageError::Write {
        path: dest.to_path_buf(),
        source,
    };
    let file = File::create(dest).map_err(write_err)?;
    let mut zip = ZipOut::new(BufWriter::with_capacity(1 << 20, file));

    let mut ready: Vec<Compressed> = Vec::new();
    let mut ready_batch: &[Source<'_>] = &[];
    for batch in batches(entries) {
        let previous = std::mem::take(&mut ready);
        let (appended, compressed) = rayon::join(
            || zip.add_batch(ready_batch, previous),
            || compress_batch(batch),
        );
        appended.map_err(write_err)?;
        ready = compressed?;
        ready_batch = batch;
    }
    zip.add_batch(ready_batch, ready).map_err(write_err)?;
    zip.finish().map_err(write_err)
}

/// Compresses the batch's files (entries already compressed are skipped).
fn compress_batch(batch: &[Source<'_>]) -> Result<Vec<Compressed>, PackageError> {
    batch
        .par_iter()
        .filter_map(|source| match source {
            Source::File(candidate) => Some(compress(candidate)),
            Source::Ready(_) => None,
        })
        .collect()
}

/// Splits entries into consecutive batches bounded by count and total size.
fn batches<'a, 'b>(entries: &'b [Source<'a>]) -> Vec<&'b [Source<'a>]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (index, entry) in entries.iter().enumerate() {
        bytes += entry.size_hint();
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

/// A zip being written sequentially: local headers and data now, the central directory at the
/// end. Uses ZIP64 fields only where a size, offset or count does not fit the classic format.
struct ZipOut<W: Write> {
    out: HashingWriter<W>,
    central: Vec<u8>,
    count: u64,
}

impl<W: Write> ZipOut<W> {
    fn new(inner: W) -> Self {
        Self {
            out: HashingWriter::new(inner),
            central: Vec::new(),
            count: 0,
        }
    }

    /// Writes a batch in order, taking freshly compressed entries from `fresh` (in order).
    fn add_batch(&mut self, batch: &[Source<'_>], fresh: Vec<Compressed>) -> io::Result<()> {
        let mut fresh = fresh.into_iter();
        for source in batch {
            match source {
                Source::Ready(entry) => self.add(entry)?,
                Source::File(_) => {
                    let entry = fresh.next().expect("one compressed entry per file");
                    self.add(&entry)?;
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, entry: &Compressed) -> io::Result<()> {
        let offset = self.out.size;
        let name = entry.name.as_bytes();
        let flags = if entry.name.is_ascii() { 0 } else { FLAG_UTF8 };
        let compressed = entry.data.len() as u64;
        let big_sizes = entry.size >= U32_LIMIT || compressed >= U32_LIMIT;
        let version = if big_sizes || offset >= U32_LIMIT {
            VERSION_ZIP64
        } else {
            VERSION_DEFLATE
        };
        let name_len = u16::try_from(name.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("entry name longer than 65535 bytes: {}", entry.name),
            )
        })?;

        // Local header: sizes move to a ZIP64 extra field only when they overflow.
        let mut local = Vec::with_capacity(30 + name.len() + 20);
        put32(&mut local, 0x0403_4b50);
        put16(&mut local, version);
        put16(&mut local, flags);
        put16(&mut local, METHOD_DEFLATE);
        put16(&mut local, DOS_TIME);
        put16(&mut local, DOS_DATE);
        put32(&mut local, entry.crc32);
        if big_sizes {
            put32(&mut local, U32_LIMIT as u32);
            put32(&mut local, U32_LIMIT as u32);
        } else {
            put32(&mut local, compressed as u32);
            put32(&mut local, entry.size as u32);
        }
        put16(&mut local, name_len);
        put16(&mut local, if big_sizes { 20 } else { 0 });
        local.extend_from_slice(name);
        if big_sizes {
            put16(&mut local, 0x0001);
            put16(&mut local, 16);
            put64(&mut local, entry.size);
            put64(&mut local, compressed);
        }
        self.out.write_all(&local)?;
        self.out.write_all(&entry.data)?;

        // Central directory record: each overflowing field goes to the extra field, in the
        // order the spec lists them (uncompressed size, compressed size, offset).
        let mut extra = Vec::new();
        let field = |value: u64, extra: &mut Vec<u8>| {
            if value >= U32_LIMIT {
                put64(extra, value);
                U32_LIMIT as u32
            } else {
                value as u32
            }
        };
        let size32 = field(entry.size, &mut extra);
        let compressed32 = field(compressed, &mut extra);
        let offset32 = field(offset, &mut extra);
        let c = &mut self.central;
        put32(c, 0x0201_4b50);
        put16(c, MADE_BY_UNIX_20.max(version));
        put16(c, version);
        put16(c, flags);
        put16(c, METHOD_DEFLATE);
        put16(c, DOS_TIME);
        put16(c, DOS_DATE);
        put32(c, entry.crc32);
        put32(c, compressed32);
        put32(c, size32);
        put16(c, name_len);
        put16(
            c,
            if extra.is_empty() {
                0
            } else {
                extra.len() as u16 + 4
            },
        );
        put16(c, 0); // comment length
        put16(c, 0); // disk number
        put16(c, 0); // internal attributes
        put32(c, entry.mode << 16);
        put32(c, offset32);
        c.extend_from_slice(name);
        if !extra.is_empty() {
            put16(c, 0x0001);
            put16(c, extra.len() as u16);
            c.extend_from_slice(&extra);
        }
        self.count += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<Written> {
        let cd_offset = self.out.size;
        let cd_size = self.central.len() as u64;
        let central = std::mem::take(&mut self.central);
        self.out.write_all(&central)?;
        let mut tail = Vec::with_capacity(22 + 76);
        let zip64 = self.count >= U16_LIMIT || cd_offset >= U32_LIMIT || cd_size >= U32_LIMIT;
        if zip64 {
            let record_offset = cd_offset + cd_size;
            put32(&mut tail, 0x0606_4b50);
            put64(&mut tail, 44); // size of the rest of this record
            put16(&mut tail, MADE_BY_UNIX_20.max(VERSION_ZIP64));
            put16(&mut tail, VERSION_ZIP64);
            put32(&mut tail, 0); // this disk
            put32(&mut tail, 0); // disk with the central directory
            put64(&mut tail, self.count);
            put64(&mut tail, self.count);
            put64(&mut tail, cd_size);
            put64(&mut tail, cd_offset);
            put32(&mut tail, 0x0706_4b50); // locator
            put32(&mut tail, 0);
            put64(&mut tail, record_offset);
            put32(&mut tail, 1); // total disks
        }
        put32(&mut tail, 0x0605_4b50);
        put16(&mut tail, 0);
        put16(&mut tail, 0);
        put16(&mut tail, self.count.min(U16_LIMIT) as u16);
        put16(&mut tail, self.count.min(U16_LIMIT) as u16);
        put32(&mut tail, cd_size.min(U32_LIMIT) as u32);
        put32(&mut tail, cd_offset.min(U32_LIMIT) as u32);
        put16(&mut tail, 0); // comment length
        self.out.write_all(&tail)?;
        self.out.finish()
    }
}

fn put16(buf: &mut Vec<u8>, value: u16) {
    buf.extend_from_slice(&value.to_le_bytes());
}

fn put32(buf: &mut Vec<u8>, value: u32) {
    buf.extend_from_slice(&value.to_le_bytes());
}

fn put64(buf: &mut Vec<u8>, value: u64) {
    buf.extend_from_slice(&value.to_le_bytes());
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
    use std::io::{Cursor, Read};
    use std::path::PathBuf;

    fn candidate(size: u64) -> Candidate {
        Candidate {
            name: String::new(),
            path: PathBuf::new(),
            executable: false,
            size,
        }
    }

    fn ready(name: &str, content: &[u8], mode: u32) -> Compressed {
        Compressed {
            name: name.to_string(),
            mode,
            crc32: crc32fast::hash(content),
            size: content.len() as u64,
            data: deflate(content).unwrap(),
        }
    }

    fn write_to_vec(entries: &[Compressed]) -> (Vec<u8>, Written) {
        let mut bytes = Vec::new();
        let mut zip = ZipOut::new(&mut bytes);
        for entry in entries {
            zip.add(entry).unwrap();
        }
        let written = zip.finish().unwrap();
        (bytes, written)
    }

    #[test]
    fn batches_cover_all_entries_in_order_within_bounds() {
        let files: Vec<Candidate> = (0..5000).map(|i| candidate(i % 7 * 10_000)).collect();
        let sources: Vec<Source<'_>> = files.iter().map(Source::File).collect();
        let parts = batches(&sources);
        assert_eq!(parts.iter().map(|b| b.len()).sum::<usize>(), sources.len());
        assert!(parts.iter().all(|b| b.len() <= BATCH_FILES));
        let big: Vec<Candidate> = (0..4).map(|_| candidate(BATCH_BYTES)).collect();
        let big_sources: Vec<Source<'_>> = big.iter().map(Source::File).collect();
        assert_eq!(batches(&big_sources).len(), 4);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn deflate_round_trips_and_reuses_the_compressor() {
        let text = b"hello hello hello hello\n".repeat(5000);
        let random: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for input in [&text[..], &random[..], b"", &text[..]] {
            let compressed = deflate(input).unwrap();
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&compressed[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, input);
        }
        // Same input, same bytes, whatever the compressor did before.
        assert_eq!(deflate(&text).unwrap(), deflate(&text).unwrap());
    }

    #[test]
    fn zip_layout_is_readable_with_fixed_metadata() {
        let entries = [
            ready("a.txt", b"alpha\n", 0o100644),
            ready("bin/run", b"#!/bin/sh\n", 0o100755),
            ready("d\u{e9}j\u{e0}.txt", b"", 0o100644),
        ];
        let (bytes, written) = write_to_vec(&entries);
        assert_eq!(written.size, bytes.len() as u64);
        assert_eq!(
            written.sha256_base64,
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes))
        );
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 3);
        for (index, expected) in entries.iter().enumerate() {
            let mut file = archive.by_index(index).unwrap();
            assert_eq!(file.name().unwrap(), expected.name);
            assert_eq!(file.unix_mode(), Some(expected.mode));
            assert_eq!(file.system(), zip::System::Unix);
            assert_eq!(file.compression(), zip::CompressionMethod::Deflated);
            assert_eq!(file.last_modified(), Some(zip::DateTime::default()));
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            assert_eq!(content.len() as u64, expected.size);
        }
    }

    #[test]
    fn more_than_65535_entries_use_zip64_end_records() {
        let template = ready("", b"same content", 0o100644);
        let entries: Vec<Compressed> = (0..70_000)
            .map(|i| Compressed {
                name: format!("f{i:05}"),
                data: template.data.clone(),
                ..template
            })
            .collect();
        let (bytes, _) = write_to_vec(&entries);
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 70_000);
        let mut last = archive.by_index(69_999).unwrap();
        assert_eq!(last.name().unwrap(), "f69999");
        let mut content = String::new();
        last.read_to_string(&mut content).unwrap();
        assert_eq!(content, "same content");
    }
}
