//! The hostile-input corpus (tests/hostile/): every case drives the real binary and must end
//! with the expected exit code and message, no panic, no abort and in bounded time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::deployer_bin;

/// A debug build on a shared machine; the unbounded runs took minutes, hung or crashed.
const DEADLINE: Duration = Duration::from_secs(60);

/// What a panic, an abort or a crash prints.
const CRASH_TEXT: [&str; 5] = [
    "panicked",
    "RUST_BACKTRACE",
    "stack overflow",
    "memory allocation of",
    "Aborted",
];

/// One line of tests/hostile/expectations.txt.
#[derive(Debug)]
struct Case {
    file: String,
    command: String,
    code: i32,
    expected: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile")
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("expectations.txt")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.splitn(4, '|').map(str::trim).collect();
            let [file, command, code, expected] = fields[..] else {
                panic!("expectations.txt: not `file | command | code | text`: {line}");
            };
            Case {
                file: file.into(),
                command: command.into(),
                code: code.parse().expect("exit code"),
                expected: expected.into(),
            }
        })
        .collect()
}

/// The generated cases: too large or too odd (invalid UTF-8, NUL) to keep as files.
fn generated(name: &str) -> Option<Vec<u8>> {
    let head = "service: hostile\nprovider:\n  name: aws\ncustom:\n";
    let text = match name {
        "deep-brackets.yml" => format!(
            "{head}  a: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        "deep-block.yml" => {
            let mut text = head.to_string();
            for depth in 1..=200 {
                text.push_str(&format!("{}k{depth}:\n", " ".repeat(depth * 2)));
            }
            text
        }
        "deep-json.json" => format!(
            r#"{{"service": "hostile", "provider": {{"name": "aws"}}, "custom": {}1{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        "chain-4000.yml" => {
            let mut text = head.to_string();
            for i in 0..4_000 {
                text.push_str(&format!("  v{i}: ${{self:custom.v{}}}\n", i + 1));
            }
            text + "  v4000: end\n"
        }
        "nested-variables.yml" => format!(
            "{head}  a: '{}x{}'\n",
            "${self:".repeat(20_000),
            "}".repeat(20_000)
        ),
        "huge-string.yml" => format!("{head}  a: '{}${{self:'\n", "x".repeat(8 << 20)),
        "too-large.yml" => format!("{head}  a: '{}'\n", "x".repeat(11 << 20)),
        "invalid-utf8.yml" => {
            let mut bytes = head.as_bytes().to_vec();
            bytes.extend_from_slice(b"  a: \xff\xfe\xc3\x28\n");
            return Some(bytes);
        }
        "nul-bytes.yml" => format!("{head}  a: x\0y\n"),
        _ => return None,
    };
    Some(text.into_bytes())
}

/// The input of a case: its file in the corpus, else the generated text.
fn input(case: &Case) -> Vec<u8> {
    let path = corpus_dir().join(&case.file);
    if path.is_file() {
        return std::fs::read(path).unwrap();
    }
    generated(&case.file)
        .unwrap_or_else(|| panic!("{}: neither in tests/hostile nor generated", case.file))
}

/// A service directory holding the case as its configuration (and a FIFO for the FIFO case).
fn service_for(case: &Case, root: &Path) -> PathBuf {
    // Nested two deep, so that `../../outside.zip` would land inside `root`, where we look.
    let dir = root.join("a/service");
    std::fs::create_dir_all(&dir).unwrap();
    let name = if case.file.ends_with(".json") {
        "serverless.json"
    } else {
        "serverless.yml"
    };
    std::fs::write(dir.join(name), input(case)).unwrap();
    std::fs::write(dir.join("handler.js"), "exports.hello = () => 1;\n").unwrap();
    if case.file.starts_with("fifo") {
        let status = Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo");
    }
    dir
}

/// How one run ended.
#[derive(Debug)]
enum Outcome {
    /// Exit code and everything printed.
    Exited { code: i32, output: String },
    /// Killed by a signal (an abort, a stack overflow).
    Signal(String),
    /// Still running at the deadline (then killed).
    Timeout,
}

fn run_case(dir: &Path, command: &str) -> Outcome {
    let mut child = Command::new(deployer_bin())
        .arg(command)
        .current_dir(dir)
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run deployer");
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = format!(
        "{}{}",
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default()
    );
    match status {
        None => Outcome::Timeout,
        Some(status) => match status.code() {
            Some(code) => Outcome::Exited { code, output },
            None => Outcome::Signal(format!("{status}: {output}")),
        },
    }
}

/// Why a case failed, or `None` when it ended as expected.
fn check(case: &Case, outcome: &Outcome, root: &Path) -> Option<String> {
    let (code, output) = match outcome {
        Outcome::Exited { code, output } => (*code, output),
        Outcome::Signal(how) => return Some(format!("killed by a signal, {how}")),
        Outcome::Timeout => return Some(format!("still running after {DEADLINE:?}")),
    };
    if let Some(crash) = CRASH_TEXT.iter().find(|t| output.contains(*t)) {
        return Some(format!("printed {crash:?}:\n{output}"));
    }
    if code != case.code || !output.contains(&case.expected) {
        return Some(format!(
            "exit {code} (expected {}), output without {:?}:\n{}",
            case.code,
            case.expected,
            excerpt(output)
        ));
    }
    if output.len() > 20_000 {
        return Some(format!("{} bytes of output", output.len()));
    }
    let escaped = root.join("outside.zip");
    escaped
        .exists()
        .then(|| format!("wrote {}", escaped.display()))
}

fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(2_000) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[test]
fn every_hostile_input_ends_in_a_clear_error() {
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus lost cases");
    // Every file of the corpus has an expectation.
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name != "expectations.txt" {
            assert!(
                cases.iter().any(|c| c.file == name),
                "tests/hostile/{name} has no line in expectations.txt"
            );
        }
    }
    let (mut clean, mut crashes, mut timeouts, mut failures) = (0, 0, 0, Vec::new());
    for case in &cases {
        let root = tempfile::tempdir().unwrap();
        let dir = service_for(case, root.path());
        let started = Instant::now();
        let outcome = run_case(&dir, &case.command);
        match &outcome {
            Outcome::Timeout => timeouts += 1,
            Outcome::Signal(_) => crashes += 1,
            Outcome::Exited { output, .. } if output.contains("panicked") => crashes += 1,
            Outcome::Exited { .. } => {}
        }
        match check(case, &outcome, root.path()) {
            None => clean += 1,
            Some(why) => failures.push(format!("{} ({}): {why}", case.file, case.command)),
        }
        eprintln!("hostile {}: {:?}", case.file, started.elapsed());
    }
    eprintln!(
        "hostile inputs: {} tried, {clean} clean errors, {crashes} panics or aborts, {timeouts} timeouts",
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
