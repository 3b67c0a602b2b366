//! `useDotenv: true`: reading `.env.<stage>` / `.env` the way Serverless v3 does (the `dotenv`
//! 16 line format, then `dotenv-expand` 10 expansion). The variables are layered over the
//! caller's environment for `${env:…}`; they are never exported to the process.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::env::Env;

/// One `KEY=value` of a `.env` file, value unquoted but not expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    /// 1-based line where the entry starts.
    pub line: usize,
}

/// A parsed `.env` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub entries: Vec<Entry>,
    /// 1-based numbers of lines that are neither blank, a comment nor `KEY=value` (dotenv
    /// skips them silently; deployer warns).
    pub skipped: Vec<usize>,
}

/// The `.env` file a run loaded, its expanded variables and what looked wrong in it.
#[derive(Debug, Clone)]
pub(crate) struct Dotenv {
    pub path: PathBuf,
    pub vars: HashMap<String, String>,
    pub warnings: Vec<String>,
}

/// The caller's environment with a `.env` file's variables under it: a variable set in the
/// environment wins over the file, as dotenv does.
pub(crate) struct Layered<'a> {
    pub base: &'a dyn Env,
    pub file: Option<&'a HashMap<String, String>>,
}

impl Env for Layered<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.base
            .var(name)
            .or_else(|| self.file.and_then(|f| f.get(name).cloned()))
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses the dotenv format: `KEY=value` or `KEY: value`, an optional `export ` prefix,
/// `#` comments, values in single, double or back quotes (which may span lines); in double
/// quotes `\n` and `\r` become a newline and a carriage return, other backslashes stay. An
/// unquoted value ends at `#` and is trimmed. A repeated key keeps its last value.
pub(crate) fn parse(text: &str) -> Parsed {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut parsed = Parsed::default();
    let mut pos = 0;
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    while pos < text.len() {
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        match parse_entry(&text, pos, line_end) {
            Some((key, value, next)) => {
                parsed.entries.push(Entry {
                    key,
                    value,
                    line: line_of(pos),
                });
                pos = next;
            }
            None => {
                let line = text[pos..line_end].trim();
                if !line.is_empty() && !line.starts_with('#') {
                    parsed.skipped.push(line_of(pos));
                }
                pos = line_end + 1;
            }
        }
    }
    parsed
}

/// The entry starting on the line `start..line_end`, and where the next line begins.
fn parse_entry(text: &str, start: usize, line_end: usize) -> Option<(String, String, usize)> {
    let line = &text[start..line_end];
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("export")
        && after.starts_with([' ', '\t'])
    {
        rest = after.trim_start();
    }
    let key_len = rest.find(|c| !is_key_char(c)).unwrap_or(rest.len());
    if key_len == 0 {
        return None;
    }
    let key = rest[..key_len].to_string();
    rest = &rest[key_len..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    rest = if let Some(after) = trimmed.strip_prefix('=') {
        after
    } else if let Some(after) = rest.strip_prefix(':')
        && after.starts_with([' ', '\t'])
    {
        after
    } else {
        return None;
    };
    let value = rest.trim_start_matches([' ', '\t']);
    let value_at = line_end - value.len();
    if let Some(q) = value
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"' | '`'))
        && let Some((inner, next)) = quoted(text, value_at, q)
    {
        return Some((key, unescape(inner, q), next));
    }
    // Unquoted (or a quote that does not close cleanly): up to a comment, trimmed; quotes
    // around the whole of it are still removed, as dotenv does.
    let value = value.split('#').next().unwrap_or_default().trim();
    let value = match value.chars().next() {
        Some(q @ ('\'' | '"' | '`')) if value.len() >= 2 && value.ends_with(q) => {
            unescape(&value[1..value.len() - 1], q)
        }
        _ => value.to_string(),
    };
    Some((key, value, line_end + 1))
}

/// The text inside the quote opening at `at`, if it closes and only blanks or a comment
/// follow on the closing line; and where the next line begins.
fn quoted(text: &str, at: usize, q: char) -> Option<(&str, usize)> {
    let body = at + 1;
    let mut chars = text[body..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && text[body + i + 1..].starts_with(q) {
            chars.next();
            continue;
        }
        if c == q {
            let close = body + i;
            let line_end = text[close..].find('\n').map_or(text.len(), |j| close + j);
            let after = text[close + 1..line_end].trim_start();
            if after.is_empty() || after.starts_with('#') {
                return Some((&text[body..close], line_end + 1));
            }
            return None;
        }
    }
    None
}

fn unescape(inner: &str, q: char) -> String {
    if q == '"' {
        inner.replace("\\n", "\n").replace("\\r", "\r")
    } else {
        inner.to_string()
    }
}

/// Expands `$NAME`, `${NAME}` and `${NAME:-default}` in every value, as dotenv-expand does: a
/// name is looked up in `base` (the environment), then in the file (any line, itself
/// expanded), then the default, else it is empty; `\$` is a literal `$`. Variables that
/// `base` already has are left out: the environment wins. Errors name variables, never values.
pub(crate) fn expand(
    parsed: &Parsed,
    base: &dyn Env,
) -> Result<(HashMap<String, String>, Vec<String>), String> {
    let raw: HashMap<&str, (&str, usize)> = parsed
        .entries
        .iter()
        .map(|e| (e.key.as_str(), (e.value.as_str(), e.line)))
        .collect();
    let mut x = Expander {
        raw: &raw,
        base,
        done: HashMap::new(),
        visiting: Vec::new(),
        warned: HashSet::new(),
        warnings: Vec::new(),
    };
    let mut vars = HashMap::new();
    for entry in &parsed.entries {
        if base.var(&entry.key).is_some() {
            continue;
        }
        let value = x.value_of(&entry.key)?;
        vars.insert(entry.key.clone(), value);
    }
    Ok((vars, x.warnings))
}

struct Expander<'a> {
    raw: &'a HashMap<&'a str, (&'a str, usize)>,
    base: &'a dyn Env,
    done: HashMap<String, String>,
    visiting: Vec<String>,
    warned: HashSet<usize>,
    warnings: Vec<String>,
}

impl Expander<'_> {
    /// The expanded value of a key of the file.
    fn value_of(&mut self, key: &str) -> Result<String, String> {
        if let Some(v) = self.done.get(key) {
            return Ok(v.clone());
        }
        if self.visiting.iter().any(|k| k == key) {
            let mut chain = self.visiting.clone();
            chain.push(key.to_string());
            let start = chain.iter().position(|k| k == key).unwrap_or_default();
            return Err(format!(
                "\"{key}\" refers to itself ({}); a variable cannot be defined by its own value",
                chain[start..].join(" → ")
            ));
        }
        let (raw, line) = self.raw[key];
        self.visiting.push(key.to_string());
        let value = self.interpolate(raw, line);
        self.visiting.pop();
        let value = value?;
        self.done.insert(key.to_string(), value.clone());
        Ok(value)
    }

    fn lookup(&mut self, name: &str, default: Option<&str>) -> Result<String, String> {
        if let Some(v) = self.base.var(name) {
            return Ok(v);
        }
        if self.raw.contains_key(name) {
            return self.value_of(name);
        }
        Ok(default.unwrap_or_default().to_string())
    }

    fn interpolate(&mut self, s: &str, line: usize) -> Result<String, String> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            if rest[..i].ends_with('\\') {
                out.push_str(&rest[..i - 1]);
                out.push('$');
                rest = &rest[i + 1..];
                continue;
            }
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(inner) = after.strip_prefix('{')
                && let Some(close) = inner.find('}')
            {
                let body = &inner[..close];
                let (name, default) = match body.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (body, None),
                };
                if !name.is_empty() && name.chars().all(is_name_char) {
                    out.push_str(&self.lookup(name, default)?);
                    rest = &inner[close + 1..];
                    continue;
                }
            }
            let len = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
            if len > 0 {
                out.push_str(&self.lookup(&after[..len], None)?);
            } else if self.warned.insert(line) {
                // dotenv-expand drops a `$` that starts no name; keep its value, but say so.
                self.warnings.push(format!(
                    "line {line}: a \"$\" that starts no variable name is removed (as Serverless \
                     v3 does); write \\$ for a literal dollar sign"
                ));
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The variables of one `.env` file's text in file order (a repeated name keeps its first
/// position and its last value, as dotenv does). With `expand_values`, each value as
/// dotenv-expand leaves it: the environment's value when `base` has the name, else the
/// expanded one; without, the values as written. Used by serverless-dotenv-plugin's
/// equivalent, which puts them into `provider.environment`.
pub fn file_variables(
    text: &str,
    base: &dyn Env,
    expand_values: bool,
) -> Result<Vec<(String, String)>, String> {
    let parsed = parse(text);
    let expanded = if expand_values {
        Some(expand(&parsed, base)?.0)
    } else {
        None
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in &parsed.entries {
        let value = match &expanded {
            Some(vars) => base
                .var(&entry.key)
                .or_else(|| vars.get(&entry.key).cloned())
                .unwrap_or_default(),
            None => entry.value.clone(),
        };
        match out.iter_mut().find(|(k, _)| k == &entry.key) {
            Some(slot) => slot.1 = value,
            None => out.push((entry.key.clone(), value)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text)
            .entries
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn env(items: &[(&str, &str)]) -> HashMap<String, String> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expanded(text: &str, base: &[(&str, &str)]) -> HashMap<String, String> {
        expand(&parse(text), &env(base)).unwrap().0
    }

    #[test]
    fn plain_lines_comments_and_export() {
        let text = "# a comment\n\nA=1\nexport B = two words  \nC: colon\n  D=x # trailing\nE=\nF=a#b\nexport=3\n";
        assert_eq!(
            kv(text),
            pairs(&[
                ("A", "1"),
                ("B", "two words"),
                ("C", "colon"),
                ("D", "x"),
                ("E", ""),
                ("F", "a"),
                ("export", "3"),
            ])
        );
        assert!(parse(text).skipped.is_empty());
    }

    #[test]
    fn quotes_and_escapes() {
        let text = concat!(
            "S='single $x \\n kept' # c\n",
            "D=\"line1\\nline2\\rend \\\"q\\\" \\t\"\n",
            "B=`back \"tick\" 'q'`\n",
            "H=\"# not a comment\"\n",
            "E=''\n",
        );
        assert_eq!(
            kv(text),
            pairs(&[
                ("S", "single $x \\n kept"),
                ("D", "line1\nline2\rend \\\"q\\\" \\t"),
                ("B", "back \"tick\" 'q'"),
                ("H", "# not a comment"),
                ("E", ""),
            ])
        );
    }

    #[test]
    fn multi_line_double_quoted_values() {
        let text = "KEY=\"-----BEGIN-----\nabc\n-----END-----\"\nNEXT=1\r\nCRLF=\"a\r\nb\"\n";
        assert_eq!(
            kv(text),
            pairs(&[
                ("KEY", "-----BEGIN-----\nabc\n-----END-----"),
                ("NEXT", "1"),
                ("CRLF", "a\nb"),
            ])
        );
        let entries = parse(text).entries;
        assert_eq!(entries[1].line, 4);
    }

    #[test]
    fn unclosed_or_trailing_quotes_fall_back_to_unquoted() {
        assert_eq!(
            kv("A=\"open\nB=2\nC=\"x\" y\n"),
            pairs(&[("A", "\"open"), ("B", "2"), ("C", "\"x\" y")])
        );
    }

    #[test]
    fn malformed_lines_are_skipped_and_reported() {
        let p = parse("A=1\nnot a pair\n  # comment\nB C=2\n=3\nD=4\n");
        assert_eq!(
            p.entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["A", "D"]
        );
        assert_eq!(p.skipped, [2, 4, 5]);
    }

    #[test]
    fn repeated_key_keeps_the_last_value() {
        let vars = expanded("A=1\nA=2\n", &[]);
        assert_eq!(vars["A"], "2");
    }

    #[test]
    fn expansion_of_file_and_environment_variables() {
        let text = concat!(
            "HOST=db.local\n",
            "URL=postgres://${USER}@${HOST}:$PORT/x\n",
            "PORT=5432\n",
            "DEF=${MISSING:-fallback}-${HOST:-unused}\n",
            "EMPTY=[$MISSING]\n",
            "ESC=\\$HOST and \\${HOST}\n",
            "SINGLE='$HOST'\n",
        );
        let vars = expanded(text, &[("USER", "admin")]);
        assert_eq!(vars["URL"], "postgres://admin@db.local:5432/x");
        assert_eq!(vars["DEF"], "fallback-db.local");
        assert_eq!(vars["EMPTY"], "[]");
        assert_eq!(vars["ESC"], "$HOST and ${HOST}");
        // dotenv-expand 10 does not know about quotes: single-quoted values expand too.
        assert_eq!(vars["SINGLE"], "db.local");
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let text = "HOST=file\nURL=http://$HOST\n";
        let vars = expanded(text, &[("HOST", "env")]);
        assert!(!vars.contains_key("HOST"));
        assert_eq!(vars["URL"], "http://env");
        let base = env(&[("HOST", "env")]);
        let layered = Layered {
            base: &base,
            file: Some(&vars),
        };
        assert_eq!(layered.var("HOST").as_deref(), Some("env"));
        assert_eq!(layered.var("URL").as_deref(), Some("http://env"));
        assert_eq!(layered.var("NOPE"), None);
    }

    #[test]
    fn a_lone_dollar_is_removed_with_a_warning() {
        let (vars, warnings) = expand(&parse("P=pa$ ss$\n"), &env(&[])).unwrap();
        assert_eq!(vars["P"], "pa ss");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("line 1: "), "{warnings:?}");
    }

    #[test]
    fn cycles_are_errors_that_name_variables_not_values() {
        let e = expand(&parse("A=secret-$B\nB=other-${A}\n"), &env(&[])).unwrap_err();
        assert!(e.contains("\"A\" refers to itself (A → B → A)"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = expand(&parse("X=$X\n"), &env(&[])).unwrap_err();
        assert!(e.contains("(X → X)"), "{e}");
    }
}
