//! The Serverless v3 variable grammar: `${source:address}`, `${source(params):address}`,
//! fallbacks with literals, nesting in addresses and params, interpolation, `\${` escapes and
//! "foreign" `${…}` (CloudFormation `Fn::Sub` syntax) left as text.
//!
//! A hand-written scanner over bytes: every character that matters is ASCII, so byte offsets
//! are always char boundaries.

use std::borrow::Cow;

use serde_json::Value;

use crate::limits::MAX_VARIABLE_NESTING;

/// The source names deployer knows, for typo suggestions.
pub(crate) const KNOWN_SOURCES: [&str; 11] = [
    "self",
    "opt",
    "env",
    "file",
    "sls",
    "param",
    "strToBool",
    "aws",
    "cf",
    "ssm",
    "s3",
];

/// A parsed string value: text and variables in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Text(String),
    Var(Var),
}

/// One `${…}`: the sources to try, left to right.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    pub sources: Vec<Source>,
    /// The variable as written, for messages.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// A fallback literal: quoted string, number, boolean or null.
    Literal(Value),
    Ref(SourceRef),
}

/// `kind(params):address`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SourceRef {
    pub kind: String,
    pub params: Option<Vec<Arg>>,
    /// `None` for `${self:}` and `${strToBool(x)}`.
    pub address: Option<Arg>,
}

/// A param or an address: a plain value, or a string with nested variables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Value(Value),
    Template(Template),
}

impl Template {
    /// The single variable when the whole string is one variable (its type is kept).
    pub fn whole_var(&self) -> Option<&Var> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// True when there is at least one variable to resolve.
    pub fn has_vars(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(_)))
    }
}

/// The result of scanning one string value.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// `None` when the string needs no change (no variables, no escapes).
    pub template: Option<Template>,
    /// Text that looks like a mistyped variable (`${self.custom.x}`), kept literal as v3 does.
    pub warnings: Vec<String>,
}

/// Scans a string value. Errors are v3's syntax errors (with our suggestions appended).
pub(crate) fn scan(s: &str) -> Result<Scan, String> {
    // Fast path: nothing that could start a variable or an escape.
    if !s.contains("${") {
        return Ok(Scan::default());
    }
    let mut p = Parser {
        s,
        b: s.as_bytes(),
        warnings: Vec::new(),
        nesting: 0,
    };
    let (parts, changed) = p.top()?;
    let template = changed.then_some(Template { parts });
    Ok(Scan {
        template,
        warnings: p.warnings,
    })
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    warnings: Vec<String>,
    /// Variables open around the current position (bounded: the scanner recurses on them).
    nesting: usize,
}

/// A string for a message: cut to its first 200 characters, so an error about a huge value
/// stays readable.
pub(crate) fn excerpt(s: &str) -> Cow<'_, str> {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes in all)", &s[..end], s.len())),
    }
}

fn is_type_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.'
}

fn is_type(s: &str) -> bool {
    let mut chars = s.bytes();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

fn push_text(parts: &mut Vec<Part>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Part::Text(t)) = parts.last_mut() {
        t.push_str(text);
    } else {
        parts.push(Part::Text(text.to_string()));
    }
}

/// Converts a bare literal like v3 (`Number()` rules for numbers); `None` if it is not one.
pub(crate) fn bare_literal(text: &str) -> Option<Value> {
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "null" => return Some(Value::Null),
        _ => {}
    }
    if text.is_empty()
        || !text
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::from(i));
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

impl Parser<'_> {
    fn err(&self, what: &str, at: usize) -> String {
        format!(
            "Invalid variable {what} at index {at} in \"{}\"",
            excerpt(self.s)
        )
    }

    fn unterminated(&self) -> String {
        format!("Missing variable closing bracket in {}", excerpt(self.s))
    }

    fn skip_spaces(&self, mut i: usize) -> usize {
        while i < self.b.len() && self.b[i] == b' ' {
            i += 1;
        }
        i
    }

    /// The whole string: text, escapes and variables. Returns the parts and whether they
    /// differ from the plain input.
    fn top(&mut self) -> Result<(Vec<Part>, bool), String> {
        let (s, b) = (self.s, self.b);
        let mut parts = Vec::new();
        let mut changed = false;
        let mut last = 0;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    let mut j = i;
                    while j < b.len() && b[j] == b'\\' {
                        j += 1;
                    }
                    // An odd run of backslashes escapes the `${` after it: drop one backslash.
                    if (j - i) % 2 == 1 && b.get(j) == Some(&b'$') && b.get(j + 1) == Some(&b'{') {
                        push_text(&mut parts, &s[last..i]);
                        push_text(&mut parts, &s[i + 1..j + 2]);
                        changed = true;
                        i = j + 2;
                        last = i;
                    } else {
                        i = j;
                    }
                }
                b'$' if b.get(i + 1) == Some(&b'{') => match self.var(i, false)? {
                    Some((var, end)) => {
                        push_text(&mut parts, &s[last..i]);
                        parts.push(Part::Var(var));
                        changed = true;
                        i = end;
                        last = i;
                    }
                    // Foreign text: keep it, but keep scanning inside it for real variables.
                    None => i += 2,
                },
                _ => i += 1,
            }
        }
        push_text(&mut parts, &s[last..]);
        Ok((parts, changed))
    }

    /// A variable at `start` (`${`). `Ok(None)` = foreign text (only when not nested).
    fn var(&mut self, start: usize, nested: bool) -> Result<Option<(Var, usize)>, String> {
        let b = self.b;
        let p = start + 2;
        if p >= b.len() {
            return if nested {
                Err(self.unterminated())
            } else {
                Ok(None)
            };
        }
        if !b[p].is_ascii_lowercase() {
            if nested {
                return Err(self.err("type", p).to_string() + &self.dot_hint(start));
            }
            self.foreign_hint(start);
            return Ok(None);
        }
        let mut q = p;
        while q < b.len() && is_type_char(b[q]) {
            q += 1;
        }
        if q >= b.len() {
            return if nested {
                Err(self.unterminated())
            } else {
                Ok(None)
            };
        }
        let kind = &self.s[p..q];
        let mut sources = Vec::new();
        let mut i = match b[q] {
            b':' => {
                let a = self.skip_spaces(q + 1);
                if a < b.len() && b[a] == b':' {
                    // `${AWS::Region}`-like text is CloudFormation's, not ours.
                    if nested {
                        return Err(self.err("address", a));
                    }
                    return Ok(None);
                }
                let (address, next) = self.address(q + 1, p)?;
                sources.push(Source::Ref(SourceRef {
                    kind: kind.to_string(),
                    params: None,
                    address,
                }));
                next
            }
            b'(' => {
                let (src, next) = self.after_type(kind, q + 1)?;
                sources.push(Source::Ref(src));
                next
            }
            _ => {
                if nested {
                    return Err(self.err("type", p) + &self.dot_hint(start));
                }
                self.foreign_hint(start);
                return Ok(None);
            }
        };
        // `i` points at the `}` or `,` that ended the last source.
        loop {
            if b[i] == b'}' {
                let end = i + 1;
                let var = Var {
                    sources,
                    text: self.s[start..end].to_string(),
                };
                return Ok(Some((var, end)));
            }
            let (source, next) = self.next_source(i + 1)?;
            sources.push(source);
            i = next;
        }
    }

    /// After `kind(`: params, then an optional `:address`. Returns the position of `}`/`,`.
    fn after_type(&mut self, kind: &str, i: usize) -> Result<(SourceRef, usize), String> {
        let (params, i) = self.params(i)?;
        let b = self.b;
        let i = self.skip_spaces(i);
        if i >= b.len() {
            return Err(self.unterminated());
        }
        let (address, next) = match b[i] {
            b':' => self.address(i + 1, i)?,
            b'}' | b',' => (None, i),
            _ => return Err(self.err("address", i)),
        };
        Ok((
            SourceRef {
                kind: kind.to_string(),
                params: Some(params),
                address,
            },
            next,
        ))
    }

    /// Params after `(`; returns them and the position after `)`.
    fn params(&mut self, mut i: usize) -> Result<(Vec<Arg>, usize), String> {
        let b = self.b;
        let mut params = Vec::new();
        loop {
            i = self.skip_spaces(i);
            if i >= b.len() {
                return Err(self.unterminated());
            }
            match b[i] {
                b')' => return Ok((params, i + 1)),
                b',' => {
                    params.push(Arg::Value(Value::Null));
                    i += 1;
                }
                b'}' => return Err(self.err("param", i)),
                b'"' | b'\'' => {
                    let (value, end) = self.quoted(i)?;
                    let j = self.skip_spaces(end);
                    match b.get(j) {
                        Some(b')') => {
                            params.push(Arg::Value(Value::String(value)));
                            return Ok((params, j + 1));
                        }
                        Some(b',') => {
                            params.push(Arg::Value(Value::String(value)));
                            i = j + 1;
                        }
                        Some(_) => return Err(self.err("param", i)),
                        None => return Err(self.unterminated()),
                    }
                }
                _ => {
                    let (arg, end, empty) = self.bare(i, b")", true)?;
                    let closing = b[end] == b')';
                    // v3 drops an empty last param (`(a, )`), but keeps empty middle ones as null.
                    if !(closing && empty) {
                        params.push(arg);
                    }
                    i = end + 1;
                    if closing {
                        return Ok((params, i));
                    }
                }
            }
        }
    }

    /// An address after `:`; returns it and the position of the `}`/`,` that ends the source.
    /// `source_start` is where v3 reports a stray `:`.
    fn address(&mut self, i: usize, source_start: usize) -> Result<(Option<Arg>, usize), String> {
        let b = self.b;
        let i = self.skip_spaces(i);
        if i >= b.len() {
            return Err(self.unterminated());
        }
        match b[i] {
            b'}' | b',' => Ok((None, i)),
            b':' => Err(self.err("address", i)),
            b'"' | b'\'' => {
                let (value, end) = self.quoted(i)?;
                let j = self.skip_spaces(end);
                match b.get(j) {
                    Some(b'}') | Some(b',') => Ok((Some(Arg::Value(Value::String(value))), j)),
                    Some(_) => Err(self.err("address", i)),
                    None => Err(self.unterminated()),
                }
            }
            _ => {
                let (arg, end, _) = self.bare(i, b"}", false).map_err(|e| {
                    if e == "colon" {
                        // v3's parser refuses a bare `:` in an address the same way; quoting
                        // the address is how v3 (and deployer) read a key containing `:`.
                        format!(
                            "{}; an address containing \":\" must be quoted, e.g. ${{self:\"custom.key:with:colons\"}}",
                            self.err("address", source_start)
                        )
                    } else {
                        e
                    }
                })?;
                Ok((Some(arg), end))
            }
        }
    }

    /// Bare text of a param (ends at `)`/`,`) or address (ends at `}`/`,`), with nested
    /// variables. Returns the arg, the position of the terminator and whether it was empty.
    fn bare(
        &mut self,
        start: usize,
        close: &[u8],
        is_param: bool,
    ) -> Result<(Arg, usize, bool), String> {
        let b = self.b;
        let mut parts = Vec::new();
        let mut last = start;
        let mut i = start;
        loop {
            if i >= b.len() {
                return Err(self.unterminated());
            }
            let c = b[i];
            if c == b',' || close.contains(&c) {
                break;
            }
            if is_param && c == b'}' {
                return Err(self.err("param", start));
            }
            if !is_param && c == b':' {
                return Err("colon".into());
            }
            if c == b'$' && b.get(i + 1) == Some(&b'{') {
                if self.nesting >= MAX_VARIABLE_NESTING {
                    return Err(format!(
                        "Variables nest more than {MAX_VARIABLE_NESTING} levels inside one \
                         another (the nesting limit) at index {i} in \"{}\"",
                        excerpt(self.s)
                    ));
                }
                self.nesting += 1;
                let nested = self.var(i, true);
                self.nesting -= 1;
                let (var, end) = nested?.ok_or_else(|| self.err("type", i + 2))?;
                push_text(&mut parts, &self.s[last..i]);
                parts.push(Part::Var(var));
                i = end;
                last = i;
                continue;
            }
            i += 1;
        }
        push_text(&mut parts, &self.s[last..i]);
        let has_vars = parts.iter().any(|p| matches!(p, Part::Var(_)));
        if !has_vars {
            let text = self.s[start..i].trim();
            let value = if is_param {
                bare_literal(text).unwrap_or_else(|| Value::String(text.to_string()))
            } else {
                Value::String(text.to_string())
            };
            return Ok((Arg::Value(value), i, text.is_empty()));
        }
        // Trim like v3 trims the raw slice: the outer text parts only.
        if let Some(Part::Text(t)) = parts.last_mut() {
            let trimmed = t.trim_end().len();
            t.truncate(trimmed);
        }
        if let Some(Part::Text(t)) = parts.first_mut() {
            *t = t.trim_start().to_string();
        }
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok((Arg::Template(Template { parts }), i, false))
    }

    /// A fallback source after `,`: another `type:address`/`type(params)`, or a literal.
    /// Returns it and the position of the `}`/`,` that ends it.
    fn next_source(&mut self, i: usize) -> Result<(Source, usize), String> {
        let b = self.b;
        let i = self.skip_spaces(i);
        if i >= b.len() {
            return Err(self.unterminated());
        }
        let c = b[i];
        if c == b'"' || c == b'\'' {
            let (value, end) = self.quoted(i)?;
            let j = self.skip_spaces(end);
            return match b.get(j) {
                Some(b'}') => Ok((Source::Literal(Value::String(value)), j)),
                Some(_) => Err(self.err("source", i)),
                None => Err(self.unterminated()),
            };
        }
        if !(is_type_char(c) || c == b'-' || c == b'+') {
            return Err(self.err("source", i));
        }
        let mut q = i;
        while q < b.len() && (is_type_char(b[q]) || matches!(b[q], b' ' | b'-' | b'+')) {
            q += 1;
        }
        if q >= b.len() {
            return Err(self.unterminated());
        }
        let word = &self.s[i..q];
        match b[q] {
            b':' | b'(' => {
                if !is_type(word) {
                    return Err(self.err("source", i));
                }
                if b[q] == b':' {
                    let (address, next) = self.address(q + 1, i)?;
                    Ok((
                        Source::Ref(SourceRef {
                            kind: word.to_string(),
                            params: None,
                            address,
                        }),
                        next,
                    ))
                } else {
                    let (src, next) = self.after_type(word, q + 1)?;
                    Ok((Source::Ref(src), next))
                }
            }
            b'}' => {
                let literal = word.trim();
                match bare_literal(literal) {
                    Some(v) => Ok((Source::Literal(v), q)),
                    None => Err(format!(
                        "Invalid literal source \"{literal}\" at index {i} in \"{}\"; quote text \
                         fallbacks: '{literal}'",
                        excerpt(self.s),
                        literal = excerpt(literal)
                    )),
                }
            }
            _ => Err(self.err("source", i)),
        }
    }

    /// A quoted string at `i`: double quotes follow JSON rules, single quotes are raw.
    /// Returns the text and the position after the closing quote.
    fn quoted(&self, i: usize) -> Result<(String, usize), String> {
        let b = self.b;
        let quote = b[i];
        let mut j = i + 1;
        while j < b.len() && b[j] != quote {
            j += if quote == b'"' && b[j] == b'\\' { 2 } else { 1 };
        }
        if j >= b.len() {
            return Err(self.unterminated());
        }
        if quote == b'\'' {
            return Ok((self.s[i + 1..j].to_string(), j + 1));
        }
        serde_json::from_str::<String>(&self.s[i..=j])
            .map(|v| (v, j + 1))
            .map_err(|e| {
                format!(
                    "Invalid string literal at index {i} in \"{}\": {e}",
                    excerpt(self.s)
                )
            })
    }

    /// The text of a `${…}` at `start` up to its first `}` (for hints).
    fn braced(&self, start: usize) -> Option<&str> {
        let rest = &self.s[start + 2..];
        rest.find('}').map(|end| &rest[..end])
    }

    /// `${self.custom.x}` (a dot after a source name): the `${self:custom.x}` it likely means.
    fn dot_suggestion(&self, start: usize) -> Option<String> {
        let inner = self.braced(start)?;
        let (head, rest) = inner.split_once('.')?;
        if KNOWN_SOURCES.contains(&head) && !rest.is_empty() && !inner.contains(':') {
            return Some(format!("${{{head}:{rest}}}"));
        }
        None
    }

    fn dot_hint(&self, start: usize) -> String {
        match (self.dot_suggestion(start), self.braced(start)) {
            (Some(fix), Some(inner)) => format!(
                "; \"${{{inner}}}\" has a \".\" after the source name: did you mean \"{fix}\"?"
            ),
            _ => String::new(),
        }
    }

    /// Records a warning when foreign text looks like a mistyped variable.
    fn foreign_hint(&mut self, start: usize) {
        let Some(inner) = self.braced(start) else {
            return;
        };
        let written = format!("${{{inner}}}");
        let fix = if let Some(fix) = self.dot_suggestion(start) {
            Some(fix)
        } else {
            // `${ self:x }` or `${Self:x}`: v3 ignores these silently.
            let trimmed = inner.trim();
            trimmed.split_once(':').and_then(|(head, rest)| {
                let lower = head.to_ascii_lowercase();
                let known = KNOWN_SOURCES
                    .iter()
                    .find(|k| k.to_ascii_lowercase() == lower)?;
                (!rest.starts_with(':') && (trimmed != inner || *known != head))
                    .then(|| format!("${{{known}:{}}}", rest.trim()))
            })
        };
        if let Some(fix) = fix {
            self.warnings.push(format!(
                "\"{written}\" is not a variable and stays as literal text (as in Serverless v3); did you mean \"{fix}\"?"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Template {
        scan(s).unwrap().template.unwrap_or_else(|| Template {
            parts: vec![Part::Text(s.into())],
        })
    }

    fn whole(s: &str) -> Vec<Source> {
        t(s).whole_var()
            .unwrap_or_else(|| panic!("{s} is not one variable"))
            .sources
            .clone()
    }

    fn r(kind: &str, params: Option<Vec<Arg>>, address: Option<&str>) -> Source {
        Source::Ref(SourceRef {
            kind: kind.into(),
            params,
            address: address.map(|a| Arg::Value(Value::String(a.into()))),
        })
    }

    fn v(x: Value) -> Arg {
        Arg::Value(x)
    }

    #[test]
    fn plain_strings_need_no_template() {
        assert!(scan("hello").unwrap().template.is_none());
        assert!(scan("$ {x} $x {y}").unwrap().template.is_none());
        assert!(
            scan("${AWS::Region}-${AWS::AccountId}")
                .unwrap()
                .template
                .is_none()
        );
        assert!(
            scan("arn:${AWS::Partition}:s3:::b/${MyParam}")
                .unwrap()
                .template
                .is_none()
        );
        assert!(scan("${}").unwrap().template.is_none());
        assert!(scan("${ self:foo }").unwrap().template.is_none());
        assert!(scan("foo${").unwrap().template.is_none());
    }

    #[test]
    fn type_and_address_forms() {
        assert_eq!(whole("${self:a.b}"), vec![r("self", None, Some("a.b"))]);
        assert_eq!(whole("${self:}"), vec![r("self", None, None)]);
        assert_eq!(whole("${opt: stage }"), vec![r("opt", None, Some("stage"))]);
        assert_eq!(
            whole("${strToBool(true)}"),
            vec![r("strToBool", Some(vec![v(json!(true))]), None)]
        );
        assert_eq!(
            whole("${file(./x.yml):a.b}"),
            vec![r("file", Some(vec![v(json!("./x.yml"))]), Some("a.b"))]
        );
        assert_eq!(
            whole("${ssm(eu-west-1, raw):/x}"),
            vec![r(
                "ssm",
                Some(vec![v(json!("eu-west-1")), v(json!("raw"))]),
                Some("/x")
            )]
        );
        assert_eq!(
            whole("${t(,,)}"),
            vec![r("t", Some(vec![v(Value::Null), v(Value::Null)]), None)]
        );
        assert_eq!(whole("${t()}"), vec![r("t", Some(vec![]), None)]);
        assert_eq!(
            whole("${t(a, 232, null)}"),
            vec![r(
                "t",
                Some(vec![v(json!("a")), v(json!(232)), v(Value::Null)]),
                None
            )]
        );
        assert_eq!(
            whole(r#"${t(",},${\"p", ',},${q')}"#),
            vec![r(
                "t",
                Some(vec![v(json!(",},${\"p")), v(json!(",},${q"))]),
                None
            )]
        );
        assert_eq!(
            whole(r#"${self:"custom.a b"}"#),
            vec![r("self", None, Some("custom.a b"))]
        );
        assert_eq!(whole("${self:'}$x' }"), vec![r("self", None, Some("}$x"))]);
        assert_eq!(
            whole("${type.dot(p)}"),
            vec![r("type.dot", Some(vec![v(json!("p"))]), None)]
        );
    }

    #[test]
    fn fallbacks_and_literals() {
        assert_eq!(
            whole(r#"${env:A, opt:b, 'lit, x'}"#),
            [
                r("env", None, Some("A")),
                r("opt", None, Some("b")),
                Source::Literal(json!("lit, x"))
            ]
        );
        let s = whole(r#"${env:A, "q\n"}"#);
        assert_eq!(s[1], Source::Literal(json!("q\n")));
        assert_eq!(whole("${env:A, 'a\\n'}")[1], Source::Literal(json!("a\\n")));
        assert_eq!(whole("${env:A, 512}")[1], Source::Literal(json!(512)));
        assert_eq!(whole("${env:A, -1.5}")[1], Source::Literal(json!(-1.5)));
        assert_eq!(whole("${env:A, true}")[1], Source::Literal(json!(true)));
        assert_eq!(whole("${env:A, false }")[1], Source::Literal(json!(false)));
        assert_eq!(whole("${env:A, null}")[1], Source::Literal(Value::Null));
        assert_eq!(whole("${env:A,opt:b}")[1], r("opt", None, Some("b")));
        assert_eq!(whole("${a(p), b(q):\"x\", c:, d:y}").len(), 4);
    }

    #[test]
    fn nesting_in_address_and_params() {
        let s = whole("${self:custom.myProfile.${self:custom.myStage}}");
        let Source::Ref(src) = &s[0] else { panic!() };
        let Some(Arg::Template(tpl)) = &src.address else {
            panic!("{src:?}")
        };
        assert_eq!(tpl.parts.len(), 2);
        assert_eq!(tpl.parts[0], Part::Text("custom.myProfile.".into()));
        let s = whole("${file(./config.${opt:stage, 'dev'}.json):CREDS}");
        let Source::Ref(src) = &s[0] else { panic!() };
        assert!(matches!(&src.params.as_ref().unwrap()[0], Arg::Template(t) if t.parts.len() == 3));
        // v3 issue 8999: a nested variable in an address followed by a fallback.
        assert_eq!(whole("${s:${s:}, 1}").len(), 2);
        assert_eq!(whole("${s:, s:${s:}}").len(), 2);
    }

    #[test]
    fn interpolation_and_foreign_text() {
        let tpl = t("prefix-${self:service}-${sls:stage}-suffix");
        assert_eq!(tpl.parts.len(), 5);
        assert!(tpl.whole_var().is_none());
        let tpl = t("${AWS::${self:x}}");
        assert_eq!(tpl.parts[0], Part::Text("${AWS::".into()));
        assert!(matches!(tpl.parts[1], Part::Var(_)));
        assert_eq!(tpl.parts[2], Part::Text("}".into()));
        let tpl = t("${AWS::Region}-${sls:stage}");
        assert_eq!(tpl.parts[0], Part::Text("${AWS::Region}-".into()));
    }

    #[test]
    fn escapes() {
        assert_eq!(t(r"\${self:x}").parts, vec![Part::Text("${self:x}".into())]);
        assert_eq!(t(r"a\${b} ${c:d}").parts[0], Part::Text("a${b} ".into()));
        // An even run is not an escape: the variable is live and the backslashes stay.
        let tpl = t(r"\\${self:x}");
        assert_eq!(tpl.parts[0], Part::Text(r"\\".into()));
        assert!(matches!(tpl.parts[1], Part::Var(_)));
        assert_eq!(t(r"\\\${x}").parts, vec![Part::Text(r"\\${x}".into())]);
        assert!(scan(r"C:\path\x").unwrap().template.is_none());
    }

    #[test]
    fn syntax_errors() {
        let e = |s: &str| scan(s).unwrap_err();
        assert_eq!(
            e("${self:custom.nope"),
            "Missing variable closing bracket in ${self:custom.nope"
        );
        assert_eq!(
            e("${type(foo)"),
            "Missing variable closing bracket in ${type(foo)"
        );
        assert!(e("${self:custom.nope, unquoted}").starts_with(
            "Invalid literal source \"unquoted\" at index 20 in \"${self:custom.nope, unquoted}\""
        ));
        assert!(e("${opt:a, ${env:B}}").starts_with("Invalid variable source at index 9"));
        assert!(e("${env:A,}").starts_with("Invalid variable source"));
        assert!(e("${type:foo:bar}").starts_with("Invalid variable address"));
        assert!(e("${self:custom.offline:true}").contains("must be quoted"));
        let quoted = scan("${self:\"custom.offline:true\"}").unwrap();
        assert!(quoted.template.is_some());
        assert!(e("${type('foo')bar}").starts_with("Invalid variable address"));
        assert!(e("${type:\"address\"marko}").starts_with("Invalid variable address"));
        assert!(e("${type(foo})").starts_with("Invalid variable param"));
        assert!(e("${type(foo,})").starts_with("Invalid variable param"));
        assert!(e("${type:foo, --}").starts_with("Invalid"));
        assert!(e("${type:foo, 000:}").starts_with("Invalid variable source"));
        assert!(e("${type:foo, aa--}").starts_with("Invalid"));
        assert!(e(r#"${type:foo,"dev",20}"#).starts_with("Invalid variable source"));
        assert!(e(r#"${type("\u")}"#).starts_with("Invalid string literal"));
        assert!(e("${type(${AWS::Region})}").starts_with("Invalid variable type"));
        assert!(e("${type(${foo::Region})}").starts_with("Invalid variable address"));
        assert!(e("${type(params):${inner(p):${sdfs.fefef}").starts_with("Invalid variable type"));
    }

    #[test]
    fn dot_typo_nested_is_an_error_with_a_suggestion() {
        let err = scan("${self:custom.myProfile.${self.custom.myStage}}").unwrap_err();
        assert!(
            err.starts_with("Invalid variable type at index 26"),
            "{err}"
        );
        assert!(
            err.contains("did you mean \"${self:custom.myStage}\""),
            "{err}"
        );
    }

    #[test]
    fn dot_typo_plain_stays_literal_with_a_warning() {
        let s = scan("${self.custom.x}").unwrap();
        assert!(s.template.is_none());
        assert_eq!(s.warnings.len(), 1);
        assert!(
            s.warnings[0].contains("did you mean \"${self:custom.x}\""),
            "{:?}",
            s.warnings
        );
        let s = scan("${ opt:stage }").unwrap();
        assert!(s.warnings[0].contains("did you mean \"${opt:stage}\""));
        let s = scan("${Self:service}").unwrap();
        assert!(s.warnings[0].contains("did you mean \"${self:service}\""));
        assert!(scan("${AWS::Region}").unwrap().warnings.is_empty());
        assert!(scan("${Bucket.Arn}").unwrap().warnings.is_empty());
    }

    #[test]
    fn bare_literals() {
        assert_eq!(bare_literal("12"), Some(json!(12)));
        assert_eq!(bare_literal("1e3"), Some(json!(1000.0)));
        assert_eq!(bare_literal("inf"), None);
        assert_eq!(bare_literal("dev"), None);
        assert_eq!(bare_literal(""), None);
    }
}
