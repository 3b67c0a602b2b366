//! Fitting the live progress line to the terminal: a line wider than the terminal wraps, and
//! `\r` + clear-line then clears only its last row, leaving the others behind.

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
/// cursor never wraps), ending in `…` when cut.
pub fn fit(text: &str, columns: usize) -> String {
    let max = columns.saturating_sub(1);
    if display_width(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = char_width(c);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// Display columns of `text`.
pub fn display_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// Display columns of one character: 0 for combining marks and zero-width characters, 2 for
/// East Asian wide characters and emoji, 1 otherwise.
fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0..=0x1F | 0x7F..=0x9F => 0,
        0x300..=0x36F | 0x200B..=0x200F | 0xFE00..=0xFE0F | 0x20D0..=0x20FF => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
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
}
