//! The one live line at the bottom of stderr, and every other stderr line around it.
//!
//! Whatever else writes to stderr while the live line is up (a warning, a log line, a detail)
//! goes through here: the live line is cleared first and drawn again below, so the line never
//! ends up glued to the front of the other one. Results on stdout clear it for good.

use std::io::Write;
use std::sync::Mutex;

use super::fit;

/// Clears the row the cursor is on and returns to its start.
const CLEAR_ROW: &str = "\r\x1b[2K";

/// The live line's text as last drawn (before fitting), while it is up.
static SHOWN: Mutex<Option<String>> = Mutex::new(None);

fn shown() -> std::sync::MutexGuard<'static, Option<String>> {
    SHOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Draws `text` as the live line, in place of the one up, fitted to the terminal's width now.
pub fn draw(text: &str) {
    let mut live = shown();
    let frame = format!("{CLEAR_ROW}{}", fit::fit(text, fit::stderr_columns()));
    let _ = write_stderr(frame.as_bytes());
    *live = Some(text.to_string());
}

/// Removes the live line (before the final output).
pub fn clear() {
    let mut live = shown();
    if live.take().is_some() {
        let _ = write_stderr(CLEAR_ROW.as_bytes());
    }
}

/// Prints `line` on stderr in place of the live line, which stays off until the next draw
/// (a progress line that ends what the live line said).
pub fn replace(line: &str) {
    let mut live = shown();
    let frame = match live.take() {
        Some(_) => format!("{CLEAR_ROW}{line}\n"),
        None => format!("{line}\n"),
    };
    let _ = write_stderr(frame.as_bytes());
}

/// Prints `line` on stderr as a permanent line, above the live line when one is up.
pub fn println(line: &str) {
    let _ = write_permanent(format!("{line}\n").as_bytes());
}

/// Writes `bytes` (complete lines) on stderr; a live line that was up is drawn again after
/// them. Bytes that do not end a line leave the live line off until the next draw.
pub fn write_permanent(bytes: &[u8]) -> std::io::Result<()> {
    let mut live = shown();
    if live.is_none() {
        return write_stderr(bytes);
    }
    let (frame, still_up) = around(live.as_deref(), bytes, fit::stderr_columns());
    if !still_up {
        *live = None;
    }
    write_stderr(&frame)
}

/// The frame that writes `bytes` with `live` up (or not) on a terminal `columns` wide, and
/// whether the live line is up after it.
fn around(live: Option<&str>, bytes: &[u8], columns: usize) -> (Vec<u8>, bool) {
    let Some(text) = live else {
        return (bytes.to_vec(), false);
    };
    let mut frame = CLEAR_ROW.as_bytes().to_vec();
    frame.extend_from_slice(bytes);
    let ends_line = bytes.ends_with(b"\n");
    if ends_line {
        frame.extend_from_slice(fit::fit(text, columns).as_bytes());
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

    #[test]
    fn without_a_live_line_lines_pass_unchanged() {
        assert_eq!(
            text(around(None, b"Warning: x\n", 80)),
            ("Warning: x\n".into(), false)
        );
    }

    #[test]
    fn a_line_replaces_the_live_line_which_comes_back_below_it() {
        let (frame, up) = text(around(Some("[  1.0s] Uploaded 1/2"), b"Warning: x\n", 80));
        assert_eq!(frame, "\r\x1b[2KWarning: x\n[  1.0s] Uploaded 1/2");
        assert!(up);
    }

    #[test]
    fn the_live_line_comes_back_fitted_to_the_width() {
        let (frame, _) = text(around(Some("[  1.0s] Stack a-long-name"), b"w\n", 12));
        assert_eq!(frame, "\r\x1b[2Kw\n[  1.0s] S…");
    }

    #[test]
    fn an_unfinished_line_takes_the_live_line_down() {
        let (frame, up) = text(around(Some("[  1.0s] Uploaded 1/2"), b"Enter code: ", 80));
        assert_eq!(frame, "\r\x1b[2KEnter code: ");
        assert!(!up);
    }
}
