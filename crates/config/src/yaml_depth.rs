//! A streaming nesting-depth check run before the YAML is deserialized.
//!
//! serde_yaml_ng applies its recursion limit only after libyaml has produced the events of
//! the whole document, and libyaml's scanner costs O(tokens × flow depth): 100,000 nested `[`
//! took over half a minute to be refused. Here the same parser is driven event by event and
//! stopped at the first collection deeper than the limit, so the cost stays linear.

use std::mem::MaybeUninit;

use unsafe_libyaml as unsafe_sys;

/// Where the document first nests deeper than `limit` collections: `(line, column)`, 1-based.
/// `None` when it never does, and also on a syntax error, which the real parse then reports
/// with its own message.
pub(crate) fn too_deep(text: &str, limit: usize) -> Option<(u64, u64)> {
    let mut parser = Parser::new(text)?;
    let mut depth = 0usize;
    loop {
        let event = parser.next()?;
        match event.kind {
            Kind::Open => {
                depth += 1;
                if depth > limit {
                    return Some((event.line + 1, event.column + 1));
                }
            }
            Kind::Close => depth = depth.saturating_sub(1),
            Kind::End => return None,
            Kind::Other => {}
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Open,
    Close,
    End,
    Other,
}

struct Event {
    kind: Kind,
    line: u64,
    column: u64,
}

/// An initialized libyaml parser over a borrowed string; deleted on drop.
struct Parser<'a> {
    sys: Box<MaybeUninit<unsafe_sys::yaml_parser_t>>,
    _input: &'a str,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Option<Self> {
        let mut sys = Box::new(MaybeUninit::<unsafe_sys::yaml_parser_t>::uninit());
        // SAFETY: `yaml_parser_initialize` fully initializes the boxed (stable) parser; the
        // input outlives the parser (`'a`), which only reads it.
        unsafe {
            let parser = sys.as_mut_ptr();
            if unsafe_sys::yaml_parser_initialize(parser).fail {
                return None;
            }
            unsafe_sys::yaml_parser_set_encoding(parser, unsafe_sys::YAML_UTF8_ENCODING);
            unsafe_sys::yaml_parser_set_input_string(parser, input.as_ptr(), input.len() as u64);
        }
        Some(Parser { sys, _input: input })
    }

    /// The next event's kind and start; `None` on a syntax error.
    fn next(&mut self) -> Option<Event> {
        let mut event = MaybeUninit::<unsafe_sys::yaml_event_t>::uninit();
        // SAFETY: the parser was initialized in `new`; a successful `yaml_parser_parse`
        // initializes `event`, which is read and then released with `yaml_event_delete`.
        unsafe {
            let parser = self.sys.as_mut_ptr();
            let event = event.as_mut_ptr();
            if unsafe_sys::yaml_parser_parse(parser, event).fail {
                return None;
            }
            let kind = match (*event).type_ {
                unsafe_sys::YAML_SEQUENCE_START_EVENT | unsafe_sys::YAML_MAPPING_START_EVENT => {
                    Kind::Open
                }
                unsafe_sys::YAML_SEQUENCE_END_EVENT | unsafe_sys::YAML_MAPPING_END_EVENT => {
                    Kind::Close
                }
                // No event only comes after the end or an error: never loop on it.
                unsafe_sys::YAML_STREAM_END_EVENT | unsafe_sys::YAML_NO_EVENT => Kind::End,
                _ => Kind::Other,
            };
            let mark = (*event).start_mark;
            unsafe_sys::yaml_event_delete(event);
            Some(Event {
                kind,
                line: mark.line,
                column: mark.column,
            })
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: the parser was initialized in `new` and is deleted exactly once.
        unsafe { unsafe_sys::yaml_parser_delete(self.sys.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_collection_past_the_limit() {
        assert_eq!(too_deep("a: [[1]]", 3), None);
        assert_eq!(too_deep("a: [[1]]", 2), Some((1, 5)));
        assert_eq!(too_deep("a:\n  b:\n    c: 1\n", 2), Some((3, 5)));
        // Brackets in strings, comments and block scalars do not nest.
        assert_eq!(
            too_deep("a: '[[[['\nb: x[[[[ # [[[[\nc: |\n  [[[[\n", 1),
            None
        );
    }

    #[test]
    fn syntax_errors_are_left_to_the_real_parse() {
        assert_eq!(too_deep("a: [1, 2\nb: 3", 5), None);
        assert_eq!(too_deep("", 1), None);
    }

    #[test]
    fn a_hundred_thousand_brackets_are_refused_quickly() {
        let text = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        assert_eq!(too_deep(&text, 128), Some((1, 131)));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
