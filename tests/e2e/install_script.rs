//! scripts/install.sh, the GitHub Action's installer, against release archives served over
//! loopback: a good archive installs and runs; a wrong checksum or a missing archive is refused
//! and installs nothing.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::deployer_bin;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install.sh")
}

/// Serves the files under `root` over HTTP on loopback (GET only; 404 for anything else) from
/// a background thread; returns the base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // The request line, then the headers up to the blank line (read, so that closing
            // the socket does not reset the connection under the reply).
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let file = root.join(path.trim_start_matches('/'));
            let body = (!path.contains(".."))
                .then(|| std::fs::read(&file).ok())
                .flatten();
            let (status, body) = match body {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(&body));
        }
    });
    url
}

fn install(base_url: &str, dir: &Path) -> Output {
    Command::new("bash")
        .arg(script())
        .args(["--version", VERSION, "--base-url", base_url, "--dir"])
        .arg(dir)
        .output()
        .expect("run install.sh")
}

/// The release archive of this machine's target, packed by scripts/release-archive.sh (as the
/// release workflow packs it) around this test build's binary, stripped when `strip` is there.
fn release_dir(root: &Path, target: &str) -> String {
    let binary = root.join("deployer");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&binary)
        .arg(deployer_bin())
        .status();
    if !stripped.is_ok_and(|s| s.success()) {
        std::fs::copy(deployer_bin(), &binary).unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/release-archive.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(["--target", target, "--binary"])
        .arg(&binary)
        .arg("--out")
        .arg(root.join("good"))
        .output()
        .expect("run release-archive.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = format!("deployer-v{VERSION}-{target}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.trim().ends_with(&format!("good/{name}.tar.gz")),
        "{printed}"
    );
    name
}

/// The paths in the archive, without the top folder.
fn listing(archive: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('/').map(|(_, rest)| rest.to_string()))
        .filter(|rest| !rest.is_empty() && !rest.ends_with('/'))
        .collect();
    paths.sort();
    paths
}

#[test]
fn release_archive_holds_the_binary_completions_man_pages_and_licences() {
    let root = tempfile::tempdir().unwrap();
    let name = release_dir(root.path(), "x86_64-unknown-linux-musl");
    let archive = root.path().join(format!("good/{name}.tar.gz"));
    let paths = listing(&archive);
    for expected in [
        "deployer",
        "completions/deployer.bash",
        "completions/_deployer",
        "completions/deployer.fish",
        "completions/_deployer.ps1",
        "man/deployer.1",
        "man/deployer-up.1",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} in {paths:?}"
        );
    }
    // The .sha256 is sha256sum's line for the archive's file name.
    let sum = std::fs::read_to_string(root.path().join(format!("good/{name}.tar.gz.sha256")));
    let sum = sum.unwrap();
    let check = Command::new("sha256sum")
        .arg("--check")
        .current_dir(root.path().join("good"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(sum.as_bytes())?;
            child.wait()
        });
    assert!(check.is_ok_and(|s| s.success()), "{sum}");
    assert!(sum.ends_with(&format!("  {name}.tar.gz\n")), "{sum}");

    // A binary of another version is refused, naming both.
    let fake = root.path().join("old");
    std::fs::write(&fake, "#!/bin/sh\necho deployer 0.0.1\n").unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&fake, executable).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/release-archive.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(["--target", "x", "--binary"])
        .arg(&fake)
        .arg("--out")
        .arg(root.path().join("refused"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"deployer 0.0.1\", the workspace is"),
        "{stderr}"
    );
    assert!(!root.path().join("refused").exists());
}

#[test]
fn install_script_installs_a_verified_archive_and_refuses_a_bad_checksum() {
    let target = Command::new("bash")
        .arg(script())
        .arg("--print-target")
        .output()
        .unwrap();
    if !target.status.success() {
        eprintln!(
            "skipping: install.sh has no release target for this machine: {}",
            String::from_utf8_lossy(&target.stderr)
        );
        return;
    }
    let target = String::from_utf8(target.stdout).unwrap();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let name = release_dir(root, target.trim());
    let url = serve(root.to_path_buf());

    let dir = root.join("bin");
    let out = install(&format!("{url}/good"), &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = Command::new(dir.join("deployer"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("deployer {VERSION}")
    );

    // The same archive with the checksum of something else: refused, nothing installed.
    let bad = root.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(
        root.join(format!("good/{name}.tar.gz")),
        bad.join(format!("{name}.tar.gz")),
    )
    .unwrap();
    let other = "0".repeat(64);
    std::fs::write(
        bad.join(format!("{name}.tar.gz.sha256")),
        format!("{other}  {name}.tar.gz\n"),
    )
    .unwrap();
    let refused_dir = root.join("refused");
    let out = install(&format!("{url}/bad"), &refused_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains(&other), "{stderr}");
    assert!(!refused_dir.join("deployer").exists());

    // No archive for that version: the URL that failed is named.
    let out = install(&format!("{url}/missing"), &refused_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("could not download {url}/missing/{name}.tar.gz")),
        "{stderr}"
    );
    assert!(!refused_dir.join("deployer").exists());
}
