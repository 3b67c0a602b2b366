//! `deployer up` in a pseudo-terminal, as a person sees it: the live progress line is fitted
//! to the terminal's width, so it never wraps, and when the deploy ends no row holds a piece
//! of it; the result lines are whole.

mod terminal;

use std::path::Path;

use deployer_testbed::proxy::{Fault, FaultProxy, Rule};
use deployer_testbed::{DEV_ACCOUNT, TestBed};
use unicode_width::UnicodeWidthStr;

use crate::faults::Moto;
use crate::support::{pin_seed, run, seed_service};
use terminal::PtyRun;

/// A function whose name and logical id make the progress text wider than the terminal.
const FUNCTION: &str = "processIncomingOrdersQueue";

/// The seed service named `name`, its `hello` function renamed to [`FUNCTION`].
fn long_named_service(bed: &TestBed<'_>, name: &str) -> std::path::PathBuf {
    seed_service(bed, name, |yml| {
        let yml = yml
            .replacen("service: service-name", &format!("service: {name}"), 1)
            .replacen("  hello:\n", &format!("  {FUNCTION}:\n"), 1);
        pin_seed(yml)
    })
}

/// True when `s` starts with the live line's elapsed-time stamp, `[  1.2s] `.
fn starts_with_stamp(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('[') else {
        return false;
    };
    let Some(end) = rest.find("s] ") else {
        return false;
    };
    let secs = &rest[..end];
    secs.contains('.')
        && secs
            .chars()
            .all(|c| c == ' ' || c == '.' || c.is_ascii_digit())
}

/// True when a live line's stamp appears anywhere in `line`.
fn has_stamp(line: &str) -> bool {
    line.char_indices()
        .any(|(i, _)| starts_with_stamp(&line[i..]))
}

/// Every live line drawn: the text after each clear-line that starts with the stamp, up to
/// the next carriage return, newline or escape sequence.
fn live_segments(raw: &str) -> Vec<&str> {
    raw.split("\x1b[2K")
        .skip(1)
        .map(|piece| piece.split(['\r', '\n', '\x1b']).next().unwrap_or(""))
        .filter(|text| starts_with_stamp(text))
        .collect()
}

/// What the terminal shows is what the output means, with no progress line left: the
/// screen's lines are those of the same bytes on a terminal too wide to wrap, no line holds
/// a live line's stamp, every live line drawn was narrower than the terminal, and the cursor
/// stands at the start of the first empty row after the output.
fn assert_clean(r: &PtyRun) -> Vec<String> {
    let shown = r.lines();
    let cols = usize::from(r.cols);
    let context = format!(
        "{cols}-column screen:\n{}\n--- raw output:\n{:?}",
        shown.join("\n"),
        r.raw
    );
    assert_eq!(
        shown,
        r.unwrapped_lines(),
        "the screen holds rows the output does not mean\n{context}"
    );
    for line in &shown {
        assert!(
            !has_stamp(line),
            "a progress line was left: {line:?}\n{context}"
        );
    }
    let live = live_segments(&r.raw);
    assert!(!live.is_empty(), "no live line was drawn\n{context}");
    for text in &live {
        assert!(
            text.width() < cols,
            "a live line of {} columns on a {cols}-column terminal: {text:?}\n{context}",
            text.width()
        );
    }
    let screen = r.screen.screen();
    let (row, col) = screen.cursor_position();
    assert_eq!(col, 0, "the cursor is not at the start of a row\n{context}");
    let after: Vec<String> = screen.rows(0, r.cols).skip(usize::from(row)).collect();
    assert!(
        after.iter().all(|l| l.trim().is_empty()),
        "rows below the cursor hold text\n{context}"
    );
    shown
}

/// The result line of a deploy of `name` is on screen, whole.
fn assert_deployed(lines: &[String], name: &str) {
    let result = format!("✔ Service deployed to stack {name}-dev in account {DEV_ACCOUNT} (");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&result) && l.ends_with("s)")),
        "{lines:#?}"
    );
}

/// A first deploy at `cols` columns: clean screen, the live line was cut to fit at least once,
/// and the announcement, the result and the outputs are whole lines.
fn deploys_cleanly_at(cols: u16, name: &str) {
    let bed = TestBed::standard();
    let dir = long_named_service(&bed, name);
    let r = terminal::run(&bed, &dir, &["up"], &[], cols);
    assert_eq!(r.code, 0, "{}", r.raw);
    let lines = assert_clean(&r);
    assert!(
        live_segments(&r.raw).iter().any(|t| t.ends_with('…')),
        "no live line was wider than {cols} columns, so nothing was tested: {:?}",
        r.raw
    );
    let has = |start: &str| lines.iter().any(|l| l.starts_with(start));
    let stack = format!("{name}-dev");
    assert!(
        has(&format!(
            "Deploying {name} to stage dev (us-east-1) in account {DEV_ACCOUNT} as "
        )),
        "{lines:#?}"
    );
    assert_deployed(&lines, name);
    assert!(
        lines.iter().any(|l| l.contains("JobsQueueUrl")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{stack}-{FUNCTION}"))),
        "{lines:#?}"
    );
}

#[test]
fn live_line_fits_80_columns() {
    deploys_cleanly_at(80, "pty-progress-line-at-80-columns");
}

#[test]
fn live_line_fits_40_columns() {
    deploys_cleanly_at(40, "pty-progress-line-at-40-columns");
}

/// At 20 columns the stamp and a few letters of the label fill the line.
#[test]
fn live_line_fits_20_columns() {
    deploys_cleanly_at(20, "pty-progress-line-at-20-columns");
}

/// The deploy lock of another run, left in the stage's prefix: the next deploy waits for it
/// (a live line) until it is [`OtherRun::expire`]d, then takes it over.
struct OtherRun {
    moto: Moto,
    bucket: String,
    key: String,
    owner: &'static str,
}

impl OtherRun {
    /// Deploys `dir` once (for its bucket), then leaves a lock held by `owner` for an hour.
    fn holding(bed: &TestBed<'_>, dir: &Path, name: &str, owner: &'static str) -> Self {
        let first = run(bed, dir, &["up", "--json"], &[]);
        assert_eq!(first.code, 0, "{}", first.stderr);
        let other = Self {
            moto: Moto::new(bed, "devAccount"),
            bucket: first.json()["bucket"].as_str().unwrap().to_string(),
            key: format!("serverless/{name}/dev/deployer.lock"),
            owner,
        };
        other.lock(time::Duration::hours(1));
        other
    }

    /// The lock now expires `ttl` from now (in the past when negative).
    fn lock(&self, ttl: time::Duration) {
        let now = time::OffsetDateTime::now_utc();
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let body = serde_json::json!({
            "owner": self.owner,
            "pid": 4242,
            "token": "another-run",
            "acquired": fmt(now),
            "expires": fmt(now + ttl),
        });
        self.moto.put(&self.bucket, &self.key, &body.to_string());
    }

    /// The lock has expired: the waiting deploy takes it over at its next look.
    fn expire(&self) {
        self.lock(time::Duration::seconds(-1));
    }
}

/// Names holding wide characters and emoji (here the holder of a deploy lock, whose wait is a
/// live line) count two columns each: the line still fits.
#[test]
fn wide_characters_in_the_live_line_fit() {
    let bed = TestBed::standard();
    let name = "pty-progress-line-wide-characters";
    let dir = long_named_service(&bed, name);
    let owner = "デプロイ🚀🚀🚀担当者@構築サーバー🛠️";
    let other = OtherRun::holding(&bed, &dir, name, owner);
    let expire = terminal::Trigger {
        after: "Waiting for the deploy",
        resize_to: None,
        typed: None,
        action: Box::new(|| other.expire()),
    };
    let env = [("DEPLOYER_LOCK_WAIT", "60")];
    let r = terminal::run_with(&bed, &dir, &["up", "--force"], &env, 80, Some(expire));
    assert_eq!(r.code, 0, "{}", r.raw);
    let lines = assert_clean(&r);
    assert!(
        live_segments(&r.raw)
            .iter()
            .any(|t| t.contains("Waiting for the deploy") && t.contains('🚀')),
        "the wait was not drawn with the holder's name: {:?}",
        r.raw
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Removed the deploy lock") && l.contains(owner)),
        "{lines:#?}"
    );
    assert_deployed(&lines, name);
}

/// With `--verbose`, details and log lines are printed while the live line is up: each one
/// replaces it instead of being appended to it.
#[test]
fn verbose_lines_replace_the_live_line() {
    let bed = TestBed::standard();
    let name = "pty-progress-line-verbose";
    let dir = long_named_service(&bed, name);
    let r = terminal::run(&bed, &dir, &["up", "-v"], &[], 80);
    assert_eq!(r.code, 0, "{}", r.raw);
    let lines = assert_clean(&r);
    assert_deployed(&lines, name);
}

/// A warning logged while the live line is up (the lock cannot be removed after the stack
/// update) replaces the live line: the warning is whole and no piece of progress is left.
#[test]
fn a_warning_replaces_the_live_line() {
    let bed = TestBed::standard();
    let name = "pty-progress-line-warning";
    let dir = long_named_service(&bed, name);
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    // The lock's removal is the only DELETE of a first deploy.
    proxy.set_rules(vec![Rule::new("DELETE /", Fault::Status(500))]);
    let endpoint = proxy.endpoint();
    let r = terminal::run(&bed, &dir, &["up"], &[("AWS_ENDPOINT_URL", &endpoint)], 80);
    assert_eq!(r.code, 0, "{}", r.raw);
    assert!(proxy.faults() > 0, "the proxy injected nothing");
    let lines = assert_clean(&r);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the deploy lock was left at")),
        "{lines:#?}"
    );
    assert_deployed(&lines, name);
}

/// The live line is fitted to the width of the moment: after the terminal narrows from 80 to
/// 40 columns, every line drawn fits 40.
#[test]
fn the_width_is_read_again_after_a_resize() {
    let bed = TestBed::standard();
    let name = "pty-progress-line-resized";
    let dir = long_named_service(&bed, name);
    let other = OtherRun::holding(&bed, &dir, name, "ana@laptop");
    // Narrowed during the wait; the uploads and the stack update are drawn after it.
    let resize = terminal::Trigger {
        after: "Waiting for the deploy",
        resize_to: Some(40),
        typed: None,
        action: Box::new(|| other.expire()),
    };
    let env = [("DEPLOYER_LOCK_WAIT", "60")];
    let r = terminal::run_with(&bed, &dir, &["up", "--force"], &env, 80, Some(resize));
    assert_eq!(r.code, 0, "{}", r.raw);
    let at = r.triggered_at.expect("the terminal was resized");
    let (before, after) = r.raw.split_at(at);
    assert!(
        live_segments(before).iter().all(|t| t.width() < 80),
        "{before:?}"
    );
    let narrow = live_segments(after);
    assert!(
        narrow.iter().any(|t| t.ends_with('…')),
        "no line cut to the new width after the resize: {after:?}"
    );
    for text in &narrow {
        assert!(text.width() < 40, "{text:?} after the resize to 40 columns");
    }
    let lines = r.lines();
    assert!(lines.iter().all(|l| !has_stamp(l)), "{lines:#?}");
    assert_deployed(&lines, name);
}

/// A deploy that fails after drawing the live line (the stage stays locked by another run)
/// ends with its error alone on screen: no piece of the wait is left before it.
#[test]
fn an_error_replaces_the_live_line() {
    let bed = TestBed::standard();
    let name = "pty-progress-line-error";
    let dir = long_named_service(&bed, name);
    let _other = OtherRun::holding(&bed, &dir, name, "ana@laptop");
    let r = terminal::run(
        &bed,
        &dir,
        &["up", "--force"],
        &[("DEPLOYER_LOCK_WAIT", "3")],
        40,
    );
    assert_eq!(r.code, 1, "{}", r.raw);
    let lines = assert_clean(&r);
    let has = |start: &str| lines.iter().any(|l| l.starts_with(start));
    assert!(
        has(&format!("Error: Stack {name}-dev failed to deploy")),
        "{lines:#?}"
    );
    assert!(
        has("  caused by: stage dev is being deployed by ana@laptop (pid 4242)"),
        "{lines:#?}"
    );
}

/// In CI a terminal still gets plain lines: nothing is drawn in place, so nothing can be
/// left, and every progress line stays whole.
#[test]
fn in_ci_a_terminal_gets_plain_lines() {
    let bed = TestBed::standard();
    let name = "pty-progress-line-in-ci";
    let dir = long_named_service(&bed, name);
    let r = terminal::run(&bed, &dir, &["up"], &[("CI", "true")], 40);
    assert_eq!(r.code, 0, "{}", r.raw);
    assert!(
        !r.raw.contains("\x1b[2K"),
        "a line was drawn in place: {:?}",
        r.raw
    );
    let lines = r.lines();
    assert_eq!(lines, r.unwrapped_lines());
    assert!(lines.iter().all(|l| !has_stamp(l)), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "Stack {name}-dev: updating the stack with the service's resources"
        ))),
        "{lines:#?}"
    );
    assert_deployed(&lines, name);
}

/// `remove` on a terminal asks first: the question and the typed answer stay whole, then the
/// deletion's live line goes and the result is whole.
#[test]
fn remove_asks_then_leaves_only_its_result() {
    let bed = TestBed::standard();
    let name = "pty-progress-line-remove";
    let dir = long_named_service(&bed, name);
    let first = run(&bed, &dir, &["up", "--json"], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let stack = format!("{name}-dev");

    // Another answer declines: nothing removed, and `--json` still prints its one object.
    let decline = terminal::Trigger {
        after: "Type the stack name to confirm: ",
        resize_to: None,
        typed: Some("not-the-name\n"),
        action: Box::new(|| {}),
    };
    let r = terminal::run_with(&bed, &dir, &["remove", "--json"], &[], 80, Some(decline));
    assert_eq!(r.code, 1, "{}", r.raw);
    // On a terminal the object is pretty-printed: it starts at a line holding only `{`.
    let text = r.raw.replace('\r', "");
    let at = text
        .find("\n{\n")
        .unwrap_or_else(|| panic!("no JSON object in:\n{}", r.raw));
    let j: serde_json::Value = serde_json::from_str(text[at..].trim()).unwrap();
    assert_eq!(j["error"]["kind"], "declined", "{j}");
    assert_eq!(j["exitCode"], 1, "{j}");
    let info = run(&bed, &dir, &["info", "--json"], &[]);
    assert_eq!(info.code, 0, "still deployed: {}", info.stderr);

    let answer = format!("{stack}\n");
    let confirm = terminal::Trigger {
        after: "Type the stack name to confirm: ",
        resize_to: None,
        typed: Some(&answer),
        action: Box::new(|| {}),
    };
    let r = terminal::run_with(&bed, &dir, &["remove"], &[], 40, Some(confirm));
    assert_eq!(r.code, 0, "{}", r.raw);
    let lines = assert_clean(&r);
    let question = format!(
        "Remove stack {stack} and its deployment artifacts from account {DEV_ACCOUNT}? Type the \
         stack name to confirm: {stack}"
    );
    assert!(lines.contains(&question), "{lines:#?}");
    let result = format!("✔ Stack {stack} removed from account {DEV_ACCOUNT} (");
    assert!(lines.iter().any(|l| l.starts_with(&result)), "{lines:#?}");
}
