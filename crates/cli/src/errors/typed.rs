//! The kind, exit code and typed fields of an error: each error type says its own
//! ([`Classify`]); `deployer_ops::errors::classify` finds the workspace's, this adds the
//! command line's own ([`NoPrompt`]).

use deployer_ops::errors::{Classified, Classify, Kind, classify};
use serde_json::{Map, Value};

use super::NoPrompt;
use crate::exit;

// The kinds' exit codes are the ones `--help` documents.
const _: () = assert!(
    Kind::Usage.exit_code() == exit::USAGE
        && Kind::AccountGuard.exit_code() == exit::GUARD
        && Kind::Internal.exit_code() == exit::FAILURE
);

pub(super) type Typed = (&'static str, u8, Map<String, Value>);

/// The kind of `e` when it is a typed error; `None` otherwise.
pub(super) fn typed(e: &(dyn std::error::Error + 'static)) -> Option<Typed> {
    let classified = match e.downcast_ref::<NoPrompt>() {
        Some(n) => Classified {
            kind: n.kind(),
            fields: n.fields(),
        },
        None => classify(e)?,
    };
    let kind = classified.kind;
    Some((kind.name(), kind.exit_code(), classified.fields))
}

/// The fields of a JSON object, without the null ones.
pub(super) fn fields(v: Value) -> Map<String, Value> {
    deployer_ops::errors::json_fields(v)
}

#[cfg(test)]
mod kind_table {
    use deployer_ops::errors::Kind;

    #[test]
    fn the_listed_kinds_are_the_classified_ones() {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, super::super::KINDS);
    }
}
