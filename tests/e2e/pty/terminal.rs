//! The real binary in a pseudo-terminal of a given width, and what a person then sees: every
//! byte it writes goes through a terminal emulator of the same size.

use std::fs::File;
use std::io::Read;
use std::num::NonZeroU16;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use deployer_testbed::TestBed;
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;

use crate::support::deployer_bin;

/// Rows of the terminal: enough that a whole deploy stays on screen (nothing scrolls away).
pub const ROWS: u16 = 200;

/// A deploy against moto takes seconds; past this the run is killed and the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// How long the last output may take to arrive once the process has exited.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// One run in a pseudo-terminal.
pub struct PtyRun {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Every byte the terminal received (stdout and stderr), as text.
    pub raw: String,
    /// Width of the terminal (at the end, after any resize).
    pub cols: u16,
    /// Where in `raw` the trigger fired, if it did.
    pub triggered_at: Option<usize>,
    /// The terminal after the run.
    pub screen: vt100::Parser,
}

impl PtyRun {
    /// The screen as logical lines (rows the terminal wrapped are joined), right-trimmed.
    pub fn lines(&self) -> Vec<String> {
        logical_lines(&self.screen)
    }

    /// The same bytes on a terminal too wide to wrap anything: what the output means.
    pub fn unwrapped_lines(&self) -> Vec<String> {
        let mut wide = parser(1000);
        wide.process(self.raw.as_bytes());
        logical_lines(&wide)
    }
}

/// What the test does once, while the run goes on, as soon as the output holds `after`.
pub struct Trigger<'a> {
    /// The text to wait for.
    pub after: &'static str,
    /// The terminal's new width, if it is resized then.
    pub resize_to: Option<u16>,
    /// What the person types then, if anything.
    pub typed: Option<&'a str>,
    /// Anything else to do then (such as releasing what the run waits for).
    pub action: Box<dyn FnOnce() + 'a>,
}

/// Runs `deployer ARGS` in `dir` with stdin, stdout and stderr on a fresh pseudo-terminal of
/// `cols` columns, with the bed's environment plus `env` and neither `CI` nor `NO_COLOR`.
pub fn run(
    bed: &TestBed<'_>,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cols: u16,
) -> PtyRun {
    run_with(bed, dir, args, env, cols, None)
}

/// [`run`], with `trigger` fired during the run.
pub fn run_with(
    bed: &TestBed<'_>,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cols: u16,
    trigger: Option<Trigger<'_>>,
) -> PtyRun {
    let (master, slave) = open_pty(cols);
    let control = master.try_clone().expect("dup the terminal");
    let child = spawn(bed, dir, args, env, slave);
    let chunks = reader(master);
    let end_cols = trigger.as_ref().and_then(|t| t.resize_to).unwrap_or(cols);
    let (code, raw, triggered_at) = collect(child, &chunks, trigger.map(|t| (&control, t)));
    bed.assert_no_secret(&String::from_utf8_lossy(&raw));
    let split = triggered_at.unwrap_or(raw.len());
    PtyRun {
        code,
        raw: String::from_utf8_lossy(&raw).into_owned(),
        cols: end_cols,
        triggered_at: triggered_at.map(|at| String::from_utf8_lossy(&raw[..at]).len()),
        screen: emulate(&raw, cols, split, end_cols),
    }
}

/// `deployer` started with all three standard streams on the terminal side `slave`.
fn spawn(
    bed: &TestBed<'_>,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    slave: OwnedFd,
) -> Killer {
    let mut cmd = Command::new(deployer_bin());
    bed.apply(&mut cmd);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("CI")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().expect("dup the terminal")))
        .stdout(Stdio::from(slave.try_clone().expect("dup the terminal")))
        .stderr(Stdio::from(slave));
    for (k, v) in env {
        cmd.env(k, v);
    }
    // `cmd` holds the parent's copies of the terminal: dropped on return, so the reader sees
    // the end of the output when the child exits.
    Killer(cmd.spawn().expect("start deployer"))
}

/// The emulator after `raw`: `cols` wide for its first `split` bytes, `end_cols` after.
fn emulate(raw: &[u8], cols: u16, split: usize, end_cols: u16) -> vt100::Parser {
    let mut screen = parser(cols);
    screen.process(&raw[..split]);
    let rows = NonZeroU16::new(ROWS).expect("rows");
    let end_cols = NonZeroU16::new(end_cols).expect("a terminal has at least one column");
    screen.screen_mut().set_size(rows, end_cols);
    screen.process(&raw[split..]);
    screen
}

/// A pseudo-terminal pair, its size set on the terminal side.
fn open_pty(cols: u16) -> (OwnedFd, OwnedFd) {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags).expect("open a pseudo-terminal");
    rustix::pty::grantpt(&master).expect("grantpt");
    rustix::pty::unlockpt(&master).expect("unlockpt");
    let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    let slave = rustix::fs::open(name.as_c_str(), flags, Mode::empty()).expect("open the pts");
    set_width(&slave, cols);
    (master, slave)
}

/// Sets the terminal's size (on either side of the pair).
fn set_width(fd: &OwnedFd, cols: u16) {
    let size = Winsize {
        ws_row: ROWS,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, size).expect("set the terminal size");
}

/// Reads the terminal side's output on a thread (a read cannot time out; the channel can).
fn reader(master: OwnedFd) -> Receiver<Vec<u8>> {
    let (tx, rx) = channel();
    let mut file = File::from(master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match file.read(&mut buf) {
                // Linux answers EIO once every terminal-side descriptor is closed.
                Ok(0) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Everything the child writes until it exits and its output ends, each wait bounded, and
/// where in it the trigger fired.
fn collect(
    mut child: Killer,
    chunks: &Receiver<Vec<u8>>,
    mut trigger: Option<(&OwnedFd, Trigger<'_>)>,
) -> (i32, Vec<u8>, Option<usize>) {
    let started = Instant::now();
    let mut raw = Vec::new();
    let mut triggered_at = None;
    let status = loop {
        if trigger
            .as_ref()
            .is_some_and(|(_, t)| contains(&raw, t.after.as_bytes()))
            && let Some((fd, t)) = trigger.take()
        {
            fire(fd, t);
            triggered_at = Some(raw.len());
        }
        if let Some(status) = child.0.try_wait().expect("wait for deployer") {
            break status;
        }
        assert!(
            started.elapsed() < RUN_LIMIT,
            "deployer did not finish in {RUN_LIMIT:?}; its terminal so far:\n{}",
            String::from_utf8_lossy(&raw)
        );
        if let Ok(chunk) = chunks.recv_timeout(Duration::from_millis(50)) {
            raw.extend(chunk);
        }
    };
    let drained = Instant::now();
    loop {
        match chunks.recv_timeout(Duration::from_millis(200)) {
            Ok(chunk) => raw.extend(chunk),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => assert!(
                drained.elapsed() < DRAIN_LIMIT,
                "the terminal's output did not end after deployer exited"
            ),
        }
    }
    (status.code().unwrap_or(-1), raw, triggered_at)
}

/// Resizes, types, then runs the action, as `t` says.
fn fire(fd: &OwnedFd, t: Trigger<'_>) {
    if let Some(cols) = t.resize_to {
        set_width(fd, cols);
    }
    let mut typed = t.typed.unwrap_or_default().as_bytes();
    while !typed.is_empty() {
        let n = rustix::io::write(fd, typed).expect("type into the terminal");
        typed = &typed[n..];
    }
    (t.action)();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Kills the child when the test gives up on it.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn parser(cols: u16) -> vt100::Parser {
    let rows = NonZeroU16::new(ROWS).expect("rows");
    let cols = NonZeroU16::new(cols).expect("a terminal has at least one column");
    vt100::Parser::new(rows, cols, 0)
}

fn logical_lines(parser: &vt100::Parser) -> Vec<String> {
    parser
        .screen()
        .contents()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect()
}
