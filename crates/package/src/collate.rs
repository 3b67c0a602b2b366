//! Entry ordering that follows JavaScript's `String.prototype.localeCompare` (ICU root
//! collation), which Serverless v3 uses to sort zip entries.
//!
//! ICU compares strings level by level: first the base characters of the whole string
//! (punctuation, then digits, then letters, with case ignored), then, only on a tie, the case
//! (lowercase before uppercase). For ASCII this module reproduces that order exactly, e.g.
//! `a b` < `a_b` < `a-b.js` < `a.js` < `A.js` < `a/b.js` < `a1` < `a10` < `a2` < `ab`.
//! Characters outside ASCII sort after all ASCII letters by code point (ICU would interleave
//! accented letters with their base letter); names that tie on every level fall back to byte
//! order so the result is a total order.

use std::cmp::Ordering;

/// ASCII symbols in ICU root primary order (space first, `$` last; digits and letters follow).
const SYMBOL_ORDER: &[u8] = b" _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

/// Primary weight of one character: whitespace/controls < symbols < digits < letters < others.
fn primary(c: char) -> u32 {
    if c.is_ascii() {
        let b = c as u8;
        if b.is_ascii_alphabetic() {
            return 200 + u32::from(b.to_ascii_lowercase() - b'a');
        }
        if b.is_ascii_digit() {
            return 100 + u32::from(b - b'0');
        }
        if let Some(pos) = SYMBOL_ORDER.iter().position(|&s| s == b) {
            return 10 + pos as u32;
        }
        // Control characters (tab, newline, ...) sort before everything printable.
        return u32::from(b);
    }
    0x1000 + c as u32
}

/// Tertiary (case) weight: lowercase and caseless characters before uppercase ones.
fn tertiary(c: char) -> u8 {
    u8::from(c.is_uppercase())
}

/// Compares two entry names the way `a.localeCompare(b)` orders them in Serverless v3.
pub fn locale_cmp(a: &str, b: &str) -> Ordering {
    a.chars()
        .map(primary)
        .cmp(b.chars().map(primary))
        .then_with(|| a.chars().map(tertiary).cmp(b.chars().map(tertiary)))
        .then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(items: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| locale_cmp(a, b));
        v
    }

    #[test]
    fn printable_ascii_matches_icu_root_order() {
        // The order printed by Node 20 (ICU 78) for every printable ASCII character.
        let expected = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ";
        let all: Vec<String> = (32u8..127).map(|b| (b as char).to_string()).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(sorted(&refs).concat(), expected);
    }

    #[test]
    fn paths_sort_like_local_compare() {
        // Expected orders taken from Node's `localeCompare`.
        assert_eq!(
            sorted(&[
                "a.js", "a-b.js", "a/b.js", "A.js", "a1", "a10", "a2", "ab", "a_b", "a b"
            ]),
            [
                "a b", "a_b", "a-b.js", "a.js", "A.js", "a/b.js", "a1", "a10", "a2", "ab"
            ]
        );
        assert_eq!(
            sorted(&["aB", "Ab", "ab", "a.js", "A", "a"]),
            ["a", "A", "a.js", "ab", "aB", "Ab"]
        );
        // Differs from byte order, where `Z` < `a` and `/` < `_`.
        assert_eq!(
            sorted(&["Zeta.js", "alpha.js", "src_x/a", "src/a"]),
            ["alpha.js", "src_x/a", "src/a", "Zeta.js"]
        );
    }

    #[test]
    fn total_order_for_ties() {
        assert_eq!(locale_cmp("x", "x"), Ordering::Equal);
        assert_ne!(locale_cmp("é", "ê"), Ordering::Equal);
    }
}
