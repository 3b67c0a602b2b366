//! Fitting the live progress line to the terminal: a line wider than the terminal wraps, and
//! `\r` + clear-line then clears only its last row, leaving the others behind.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns assumed when the terminal's width cannot be read.
const FALLBACK_COLUMNS: usize = 80;

/// The width of the terminal stderr is on, read now (the terminal may have been resized).
pub fn stderr_columns() -> usize {
    terminal_size::terminal_size_of(std::io::stderr())
        .map(|(w, _)| usize::from(w.0))
        .filter(|&w| w > 0)
        .unwrap_or(FALLBACK_COLUMNS)
}

/// `text` cut to at most `columns - 1` display columns (the last column stays free so the
/// cursor never wraps), ending in `…` when cut. Control characters become spaces: a newline,
/// carriage return or escape inside a name would break the line it is drawn on.
pub fn fit(text: &str, columns: usize) -> String {
    let text = printable(text);
    let max = columns.saturating_sub(1);
    if display_width(&text) <= max {
        return text.into_owned();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - 1;
    // One pass on character widths, then back off where a sequence is wider than its parts.
    let (mut end, mut used) = (0, 0);
    for (i, c) in text.char_indices() {
        used += char_width(c);
        if used > room {
            break;
        }
        end = i + c.len_utf8();
    }
    let mut cut = &text[..end];
    while display_width(cut) > room {
        let last = cut.char_indices().last().map_or(0, |(i, _)| i);
        cut = &cut[..last];
    }
    format!("{cut}…")
}

/// Display columns of `text`, counted so that no terminal shows it wider: emoji sequences
/// (`🛠️`, flags) count as wide as they are drawn joined, and ZWJ sequences as wide as their
/// parts, which is how terminals that do not join them draw them.
pub fn display_width(text: &str) -> usize {
    let joined = UnicodeWidthStr::width(text);
    let apart: usize = text.chars().map(char_width).sum();
    joined.max(apart)
}

/// Display columns of one character (0 for combining marks and zero-width characters, 2 for
/// East Asian wide characters and emoji).
fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// `text` with its control characters replaced by spaces.
fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept() {
        assert_eq!(fit("Uploaded 1/3", 40), "Uploaded 1/3");
    }

    #[test]
    fn long_lines_end_in_an_ellipsis_one_column_short_of_the_width() {
        let line = "[  3.2s] Stack service-name-dev: UPDATE_IN_PROGRESS - AWS::Lambda::Function";
        for columns in [10, 40, 80] {
            let f = fit(line, columns);
            assert!(display_width(&f) < columns, "{columns}: {f}");
            if display_width(line) > columns - 1 {
                assert!(f.ends_with('…'), "{f}");
                assert_eq!(display_width(&f), columns - 1, "{f}");
            }
        }
    }

    #[test]
    fn wide_characters_count_twice() {
        let f = fit("部署部署部署部署", 8);
        assert!(display_width(&f) <= 7, "{f}");
        assert_eq!(f, "部署部…");
        assert_eq!(fit("abc", 1), "");
    }

    #[test]
    fn emoji_beyond_the_basic_ranges_count_twice() {
        // U+1F680 and U+1F6E0 + VS16: wide on a terminal.
        assert_eq!(display_width("🚀"), 2);
        assert_eq!(display_width("🛠️"), 2);
        assert_eq!(display_width("✅"), 2);
        let f = fit("by デプロイ🚀🚀🚀担当者", 12);
        assert!(display_width(&f) <= 11, "{f}");
        assert_eq!(f, "by デプロ…");
    }

    #[test]
    fn joined_sequences_count_as_their_parts() {
        let family = "👨\u{200d}👩\u{200d}👧";
        assert_eq!(display_width(family), 6);
        let f = fit(&format!("{family}{family}"), 8);
        assert!(display_width(&f) <= 7, "{f:?}");
    }

    #[test]
    fn a_presentation_sequence_counts_as_drawn() {
        // "🛠" alone is one column, with VS16 two: the cut backs off what no longer fits.
        let f = fit("ab🛠️cdefgh", 6);
        assert!(display_width(&f) <= 5, "{f:?}");
        assert_eq!(f, "ab🛠️…");
        let f = fit("abc🛠️defgh", 6);
        assert!(display_width(&f) <= 5, "{f:?}");
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(fit("a\nb\rc\x1b[2Kd\te", 80), "a b c [2Kd e");
        let f = fit("waiting for x\ny\nz and more text here", 12);
        assert!(!f.contains('\n') && display_width(&f) <= 11, "{f:?}");
    }

    #[test]
    fn many_zero_width_characters_are_cut_quickly() {
        let text = format!("x{}{}", "\u{301}".repeat(100_000), "y".repeat(100));
        let f = fit(&text, 40);
        assert!(display_width(&f) <= 39);
        assert!(f.ends_with('…'));
    }

    #[test]
    fn tiny_terminals() {
        assert_eq!(fit("[  0.1s] Stack", 2), "…");
        assert_eq!(fit("[  0.1s] Stack", 0), "");
        assert_eq!(fit("部署", 2), "…");
    }
}
