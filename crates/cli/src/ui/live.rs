//! The live region at the bottom of stderr: one live line per running operation, and every
//! other stderr line around it.
//!
//! Whatever else writes to stderr while the region is up (a warning, a log line, a detail)
//! goes through here: the region is cleared first and drawn again below, so a live line never
//! ends up glued to the front of another line. Results on stdout clear it for good. With one
//! operation the region is the single live line it always was.

use std::io::Write;
use std::sync::Mutex;

use super::fit;

/// Clears the row the cursor is on and returns to its start.
const CLEAR_ROW: &str = "\r\x1b[2K";
/// Moves the cursor one row up and clears that row.
const CLEAR_ROW_ABOVE: &str = "\x1b[1A\x1b[2K";

/// The live lines, one per operation key, in the order the operations first drew.
#[derive(Debug, Default)]
struct Region {
    /// `(key, text before fitting)`.
    lines: Vec<(String, String)>,
}

impl Region {
    const fn new() -> Self {
        Self { lines: Vec::new() }
    }

    fn is_up(&self) -> bool {
        !self.lines.is_empty()
    }

    /// Sets `key`'s line to `text` (a new key's line goes below the others).
    fn set(&mut self, key: &str, text: &str) {
        match self.lines.iter_mut().find(|(k, _)| k == key) {
            Some((_, line)) => *line = text.to_string(),
            None => self.lines.push((key.to_string(), text.to_string())),
        }
    }

    /// Takes `key`'s line out of the region.
    fn remove(&mut self, key: &str) {
        self.lines.retain(|(k, _)| k != key);
    }

    /// The bytes that erase the region as drawn (the cursor ends at the start of its first
    /// row); nothing when it is down.
    fn erase(&self) -> String {
        match self.lines.len() {
            0 => String::new(),
            n => format!("{CLEAR_ROW}{}", CLEAR_ROW_ABOVE.repeat(n - 1)),
        }
    }

    /// The region's lines, each fitted to `columns`, the cursor left at the end of the last.
    fn draw(&self, columns: usize) -> String {
        let fitted: Vec<String> = self
            .lines
            .iter()
            .map(|(_, text)| fit::fit(text, columns))
            .collect();
        fitted.join("\n")
    }
}

/// The region as last drawn.
static REGION: Mutex<Region> = Mutex::new(Region::new());

fn region() -> std::sync::MutexGuard<'static, Region> {
    REGION.lock().unwrap_or_else(|e| e.into_inner())
}

/// Draws `text` as the live line of operation `key`, in place of its line if one is up,
/// every line fitted to the terminal's width now.
pub fn draw(key: &str, text: &str) {
    let mut live = region();
    let frame = drawn(&mut live, key, text, fit::stderr_columns());
    let _ = write_stderr(frame.as_bytes());
}

/// The frame that sets `key`'s line to `text` and draws the region again.
fn drawn(live: &mut Region, key: &str, text: &str, columns: usize) -> String {
    let erase = live.erase();
    live.set(key, text);
    // A region that was down still clears the row: the cursor may be on a partial line.
    let erase = if erase.is_empty() { CLEAR_ROW } else { &erase };
    format!("{erase}{}", live.draw(columns))
}

/// Removes the live region (before the final output).
pub fn clear() {
    let mut live = region();
    if live.is_up() {
        let _ = write_stderr(live.erase().as_bytes());
        live.lines.clear();
    }
}

/// Prints `line` on stderr in place of operation `key`'s live line, which stays off until its
/// next draw (a progress line that ends what the live line said); the other operations'
/// lines are drawn again below it.
pub fn replace(key: &str, line: &str) {
    let mut live = region();
    let frame = replaced(&mut live, key, line, fit::stderr_columns());
    let _ = write_stderr(frame.as_bytes());
}

/// The frame that prints `line` and takes `key`'s line out of the region.
fn replaced(live: &mut Region, key: &str, line: &str, columns: usize) -> String {
    let erase = live.erase();
    live.remove(key);
    format!("{erase}{line}\n{}", live.draw(columns))
}

/// Prints `line` on stderr as a permanent line, above the live region when it is up.
pub fn println(line: &str) {
    let _ = write_permanent(format!("{line}\n").as_bytes());
}

/// Writes `bytes` (complete lines) on stderr; a live region that was up is drawn again after
/// them. Bytes that do not end a line take the region down until the next draw.
pub fn write_permanent(bytes: &[u8]) -> std::io::Result<()> {
    let mut live = region();
    if !live.is_up() {
        return write_stderr(bytes);
    }
    let (frame, still_up) = around(&live, bytes, fit::stderr_columns());
    if !still_up {
        live.lines.clear();
    }
    write_stderr(&frame)
}

/// The frame that writes `bytes` with `live` up (or not) on a terminal `columns` wide, and
/// whether the region is up after it.
fn around(live: &Region, bytes: &[u8], columns: usize) -> (Vec<u8>, bool) {
    if !live.is_up() {
        return (bytes.to_vec(), false);
    }
    let mut frame = live.erase().into_bytes();
    frame.extend_from_slice(bytes);
    let ends_line = bytes.ends_with(b"\n");
    if ends_line {
        frame.extend_from_slice(live.draw(columns).as_bytes());
    }
    (frame, ends_line)
}

/// One write of a whole frame, so that a frame is never split by another writer.
fn write_stderr(bytes: &[u8]) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    err.write_all(bytes)?;
    err.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(frame: (Vec<u8>, bool)) -> (String, bool) {
        (String::from_utf8(frame.0).unwrap(), frame.1)
    }

    fn with(lines: &[(&str, &str)]) -> Region {
        let mut r = Region::new();
        for (k, t) in lines {
            r.set(k, t);
        }
        r
    }

    #[test]
    fn without_a_live_line_lines_pass_unchanged() {
        assert_eq!(
            text(around(&Region::new(), b"Warning: x\n", 80)),
            ("Warning: x\n".into(), false)
        );
    }

    #[test]
    fn a_line_replaces_the_live_line_which_comes_back_below_it() {
        let live = with(&[("a", "[  1.0s] Uploaded 1/2")]);
        let (frame, up) = text(around(&live, b"Warning: x\n", 80));
        assert_eq!(frame, "\r\x1b[2KWarning: x\n[  1.0s] Uploaded 1/2");
        assert!(up);
    }

    #[test]
    fn the_live_line_comes_back_fitted_to_the_width() {
        let live = with(&[("a", "[  1.0s] Stack a-long-name")]);
        let (frame, _) = text(around(&live, b"w\n", 12));
        assert_eq!(frame, "\r\x1b[2Kw\n[  1.0s] S…");
    }

    #[test]
    fn an_unfinished_line_takes_the_live_line_down() {
        let live = with(&[("a", "[  1.0s] Uploaded 1/2")]);
        let (frame, up) = text(around(&live, b"Enter code: ", 80));
        assert_eq!(frame, "\r\x1b[2KEnter code: ");
        assert!(!up);
    }

    #[test]
    fn one_operation_draws_one_line_in_place() {
        let mut live = Region::new();
        assert_eq!(drawn(&mut live, "a", "one", 80), "\r\x1b[2Kone");
        assert_eq!(drawn(&mut live, "a", "two", 80), "\r\x1b[2Ktwo");
        assert_eq!(replaced(&mut live, "a", "done", 80), "\r\x1b[2Kdone\n");
        assert!(!live.is_up());
    }

    #[test]
    fn two_operations_interleaved_draw_one_fitted_line_each() {
        let mut live = Region::new();
        drawn(&mut live, "a", "a: Uploaded 1/2", 12);
        let frame = drawn(&mut live, "b", "b: Waiting for stack b-dev", 12);
        assert_eq!(frame, "\r\x1b[2Ka: Uploade…\nb: Waiting…");
        // a's next event redraws both rows in place, in the same order.
        let frame = drawn(&mut live, "a", "a: Uploaded 2/2", 12);
        assert_eq!(frame, "\r\x1b[2K\x1b[1A\x1b[2Ka: Uploade…\nb: Waiting…");
        assert_eq!(live.lines.len(), 2);
    }

    #[test]
    fn an_operation_that_finishes_takes_only_its_line_away() {
        let mut live = with(&[("a", "a: one"), ("b", "b: two")]);
        let frame = replaced(&mut live, "a", "a: Stack a-dev: done", 80);
        assert_eq!(frame, "\r\x1b[2K\x1b[1A\x1b[2Ka: Stack a-dev: done\nb: two");
        assert_eq!(live.lines, vec![("b".to_string(), "b: two".to_string())]);
    }

    #[test]
    fn other_writers_go_above_every_live_line() {
        let live = with(&[("a", "a: one"), ("b", "b: two")]);
        let (frame, up) = text(around(&live, b"Warning: x\n", 80));
        assert_eq!(frame, "\r\x1b[2K\x1b[1A\x1b[2KWarning: x\na: one\nb: two");
        assert!(up);
    }
}
