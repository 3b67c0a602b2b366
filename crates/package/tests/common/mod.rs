//! Helpers shared by the integration tests: building trees and reading zips back.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One zip entry as read back: the columns of `zip-contents.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub name: String,
    pub size: u64,
    pub mode: u32,
    pub date: (u16, u8, u8, u8, u8, u8),
    /// First 16 hex digits of the entry content's SHA-256.
    pub sha256_16: String,
    pub deflated: bool,
    pub unix: bool,
    pub is_dir: bool,
}

impl EntryInfo {
    /// The line `zip-contents.txt` uses for this entry (without the leading indent).
    pub fn line(&self) -> String {
        let (y, mo, d, h, mi, s) = self.date;
        format!(
            "{}\t{}\tmode={:#o}\tdate=({y}, {mo}, {d}, {h}, {mi}, {s})\tsha256={}",
            self.name, self.size, self.mode, self.sha256_16
        )
    }
}

/// Reads every entry of a zip in archive order, checking each CRC by reading its content.
pub fn read_zip(path: &Path) -> Vec<EntryInfo> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut archive = zip::ZipArchive::new(file).expect("valid zip");
    let mut out = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("entry decompresses");
        let date = entry.last_modified().expect("entry has a date");
        let digest = Sha256::digest(&content);
        out.push(EntryInfo {
            name: entry.name().unwrap().into_owned(),
            size: entry.size(),
            mode: entry.unix_mode().expect("entry has a unix mode"),
            date: (
                date.year(),
                date.month(),
                date.day(),
                date.hour(),
                date.minute(),
                date.second(),
            ),
            sha256_16: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
            deflated: entry.compression() == zip::CompressionMethod::Deflated,
            unix: entry.system() == zip::System::Unix,
            is_dir: entry.is_dir(),
        });
    }
    out
}

/// Entry names of a zip, in archive order.
pub fn names(path: &Path) -> Vec<String> {
    read_zip(path).into_iter().map(|e| e.name).collect()
}

/// Writes `content` at `root/rel`, creating parent directories.
pub fn write(root: &Path, rel: &str, content: &[u8]) -> PathBuf {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    path
}

/// Sets the permission bits of a file.
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Strings from string literals.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
