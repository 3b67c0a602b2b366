//! Variables of a compose file: `${sls:stage}`, `${env:NAME}`, `${opt:name}` (each with an
//! optional `, fallback`) are resolved when the file is read; `${<service>.<OutputKey>}`
//! stays a reference to another service's stack output, filled in once that service is
//! deployed (or read as deployed).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::env::Env;

/// What variables of a compose file can see.
pub struct Context<'a> {
    /// The stage (`${sls:stage}`).
    pub stage: &'a str,
    /// The environment (`${env:…}`).
    pub env: &'a dyn Env,
    /// Command-line options (`${opt:…}`).
    pub opts: &'a BTreeMap<String, Value>,
}

/// A reference to another service's stack output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputRef {
    /// The producing service (a key of `services`).
    pub service: String,
    /// The CloudFormation output key.
    pub output: String,
}

impl std::fmt::Display for OutputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${{{}.{}}}", self.service, self.output)
    }
}

/// A piece of a param's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text (static variables already resolved).
    Text(String),
    /// Another service's output.
    Output(OutputRef),
}

/// A param value: text and output references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<Piece>);

impl Template {
    /// The output references, in order.
    pub fn outputs(&self) -> impl Iterator<Item = &OutputRef> {
        self.0.iter().filter_map(|p| match p {
            Piece::Output(r) => Some(r),
            Piece::Text(_) => None,
        })
    }

    /// The value with each reference answered by `output` (`Err` names the first reference
    /// without an answer).
    pub fn render(
        &self,
        output: &dyn Fn(&OutputRef) -> Option<String>,
    ) -> Result<String, OutputRef> {
        let mut text = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Output(r) => text.push_str(&output(r).ok_or_else(|| r.clone())?),
            }
        }
        Ok(text)
    }
}

/// Parses and resolves the static variables of a param value (a string, number or boolean).
pub fn template(value: &Value, ctx: &Context<'_>) -> Result<Template, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        _ => return Err("a param must be a string, number or boolean".into()),
    };
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            return Err(format!("\"{text}\" has an unclosed ${{"));
        };
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        let inner = rest[start + 2..start + len].trim();
        pieces.push(variable(inner, ctx)?);
        rest = &rest[start + len + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(Template(pieces))
}

/// Resolves a string of the compose file that may not hold output references (a `path`,
/// `config` or `region`).
pub fn plain(value: &str, ctx: &Context<'_>) -> Result<String, String> {
    let t = template(&Value::String(value.to_string()), ctx)?;
    t.render(&|_| None)
        .map_err(|r| format!("{r}: an output reference is only allowed in params"))
}

/// One `${…}` (without the braces).
fn variable(inner: &str, ctx: &Context<'_>) -> Result<Piece, String> {
    let (body, fallback) = match inner.split_once(',') {
        Some((b, f)) => (b.trim(), Some(unquote(f.trim()))),
        None => (inner, None),
    };
    let Some((source, address)) = body.split_once(':') else {
        return output_ref(body);
    };
    let value = match source {
        "sls" if address == "stage" => Some(ctx.stage.to_string()),
        "env" => ctx.env.var(address),
        "opt" => ctx.opts.get(address).and_then(|v| match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }),
        _ => {
            return Err(format!(
                "${{{body}}}: the compose file accepts ${{sls:stage}}, ${{env:NAME}}, \
                 ${{opt:name}} and ${{<service>.<Output>}}; put other variables in the \
                 service's own configuration"
            ));
        }
    };
    match value.or(fallback) {
        Some(v) => Ok(Piece::Text(v)),
        None => Err(format!(
            "${{{body}}} has no value; set it or add a fallback (${{{body}, 'value'}})"
        )),
    }
}

/// `service.Output`.
fn output_ref(body: &str) -> Result<Piece, String> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match body.split_once('.') {
        Some((service, output)) if valid(service) && valid(output) => {
            Ok(Piece::Output(OutputRef {
                service: service.to_string(),
                output: output.to_string(),
            }))
        }
        _ => Err(format!(
            "${{{body}}} is not a variable the compose file knows: write \
             ${{<service>.<OutputKey>}} for another service's output"
        )),
    }
}

fn unquote(s: &str) -> String {
    let quoted = s.len() >= 2
        && ((s.starts_with('\'') && s.ends_with('\'')) || (s.starts_with('"') && s.ends_with('"')));
    if quoted {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars;
    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            (name == "TEAM").then(|| "core".to_string())
        }
    }

    fn ctx_template(value: &str) -> Result<Template, String> {
        let opts = BTreeMap::from([("tier".to_string(), Value::String("gold".into()))]);
        let ctx = Context {
            stage: "dev",
            env: &Vars,
            opts: &opts,
        };
        template(&Value::String(value.into()), &ctx)
    }

    #[test]
    fn static_sources_resolve_and_outputs_stay_references() {
        let t = ctx_template("${sls:stage}-${env:TEAM}-${opt:tier}-${queue.Url}").unwrap();
        assert_eq!(t.outputs().count(), 1);
        let text = t
            .render(&|r| (r.output == "Url").then(|| "https://q".to_string()))
            .unwrap();
        assert_eq!(text, "dev-core-gold-https://q");
        assert_eq!(t.render(&|_| None).unwrap_err().to_string(), "${queue.Url}");
    }

    #[test]
    fn fallbacks_and_refusals() {
        let t = ctx_template("${env:NOPE, 'x'}").unwrap();
        assert_eq!(t.render(&|_| None).unwrap(), "x");
        assert!(
            ctx_template("${env:NOPE}")
                .unwrap_err()
                .contains("no value")
        );
        assert!(ctx_template("${ssm:/a}").unwrap_err().contains("accepts"));
        assert!(
            ctx_template("${justone}")
                .unwrap_err()
                .contains("<service>")
        );
        assert!(ctx_template("${open").unwrap_err().contains("unclosed"));
    }
}
