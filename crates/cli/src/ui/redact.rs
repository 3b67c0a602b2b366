//! Log lines are redacted before they reach stderr: the AWS SDK's debug and trace logs print
//! credentials structs, signed headers and STS response bodies. Access key ids are masked
//! (`AKIA…ZFQ`), secret keys and session tokens never appear, whatever `RUST_LOG` says.

use std::io::Write;

/// Names after which a value is a secret (compared case-insensitively, `_`/`-` ignored).
const SECRET_NAMES: &[&str] = &[
    "secretaccesskey",
    "awssecretaccesskey",
    "sessiontoken",
    "awssessiontoken",
    "xamzsecuritytoken",
    "securitytoken",
    "secretkey",
    "signature",
];

/// The filter when neither `DEPLOYER_LOG` nor `RUST_LOG` is set: warnings; deployer's own
/// `info` with `-v`; with `-vv` also the SDK's `debug`.
pub fn default_filter(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "warn",
        1 => {
            "warn,deployer=info,deployer_ops=info,deployer_aws=info,deployer_config=info,deployer_package=info,deployer_template=info"
        }
        _ => {
            "info,deployer=debug,deployer_ops=debug,deployer_aws=debug,aws_config=debug,aws_sdk_sts=debug,aws_sdk_s3=debug,aws_sdk_cloudformation=debug,aws_smithy_runtime=debug,aws_runtime=debug"
        }
    }
}

/// `text` with access key ids masked and secrets replaced by `** redacted **`.
pub fn text(text: &str) -> String {
    let masked = mask_key_ids(text);
    redact_long_tokens(&redact_named(&masked))
}

/// `AKIAIOSFODNN7EXAMPLE` → `AKIA…PLE` (also `ASIA` temporary ids).
fn mask_key_ids(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let is_id = (b[i..].starts_with(b"AKIA") || b[i..].starts_with(b"ASIA"))
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.len() >= i + 20
            && b[i..i + 20]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && b.get(i + 20).is_none_or(|c| !c.is_ascii_alphanumeric());
        if is_id {
            out.push_str(&text[i..i + 4]);
            out.push('…');
            out.push_str(&text[i + 17..i + 20]);
            i += 20;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+' | b'=' | b'%' | b'_' | b'-' | b'.')
}

/// The value after a secret's name (`SessionToken>…`, `session_token: "…"`,
/// `x-amz-security-token=…`).
fn redact_named(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphabetic() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut name = String::new();
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
            if b[i].is_ascii_alphanumeric() {
                name.push(b[i].to_ascii_lowercase() as char);
            }
            i += 1;
        }
        if !SECRET_NAMES.contains(&name.as_str()) {
            continue;
        }
        let mut j = i;
        while j < b.len() && matches!(b[j], b'"' | b'\'' | b':' | b'=' | b'>' | b' ' | b'\t') {
            j += 1;
        }
        let value_start = j;
        while j < b.len() && is_token_char(b[j]) {
            j += 1;
        }
        if j > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str("** redacted **");
            copied = j;
        }
        i = j.max(start + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// Any run of base64 characters that looks like a secret key (40 characters, mixed case) or a
/// session token (100 characters or more): a secret printed under a name not listed above
/// (`key: "aws_secret_access_key", value: "…"` in a profile file's debug form).
fn redact_long_tokens(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    let base64 = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+' | b'=');
    while i < b.len() {
        if !base64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && base64(b[i]) {
            i += 1;
        }
        let run = &b[start..i];
        // Mixed case: a hex digest (lower case only) or an ARN-like id is not a secret.
        let mixed =
            run.iter().any(u8::is_ascii_uppercase) && run.iter().any(u8::is_ascii_lowercase);
        if mixed && (run.len() == 40 || run.len() >= 100) {
            out.push_str(&text[copied..start]);
            out.push_str("** redacted **");
            copied = i;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A log writer that redacts each formatted event before writing it to stderr.
pub struct Writer;

impl Writer {
    /// The writer for one event.
    pub fn stderr() -> Self {
        Writer
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let redacted = text(&String::from_utf8_lossy(buf));
        super::live::write_permanent(redacted.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_masked_and_secrets_removed() {
        let line = r#"Credentials { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", session_token: "FQoGZXIvYXdzEJr" }"#;
        let out = text(line);
        assert!(out.contains("AKIA…PLE"), "{out}");
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE"), "{out}");
        assert!(!out.contains("wJalrXUtnFEMI"), "{out}");
        assert!(!out.contains("FQoGZXIvYXdzEJr"), "{out}");
    }

    #[test]
    fn xml_bodies_and_signed_headers_are_redacted() {
        let body =
            "<SecretAccessKey>abc/DEF+123</SecretAccessKey><SessionToken>tok123</SessionToken>";
        let out = text(body);
        assert!(
            !out.contains("abc/DEF+123") && !out.contains("tok123"),
            "{out}"
        );
        let header = "x-amz-security-token:IQoJb3JpZ2luX2VjE signature=0f3a9";
        let out = text(header);
        assert!(
            !out.contains("IQoJb3JpZ2luX2VjE") && !out.contains("0f3a9"),
            "{out}"
        );
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let line = "DescribeStacks on stack \"svc-dev\" in 111111111111 (sha a1b2c3)";
        assert_eq!(text(line), line);
    }
}
