//! Serverless v3 naming rules (`lib/plugins/aws/lib/naming.js`). The logical IDs other crates
//! look resources up by are public; the rest serves the compilers.

/// lodash `upperFirst`: the first character upper-cased, nothing else changed.
pub(crate) fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// lodash `capitalize`: first character upper-cased, the rest lower-cased.
fn capitalize(s: &str) -> String {
    upper_first(&s.to_lowercase())
}

/// `normalizeNameToAlphaNumericOnly`: drop everything but `[0-9A-Za-z]`, then upperFirst.
pub(crate) fn normalize_alnum(s: &str) -> String {
    upper_first(
        &s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>(),
    )
}

/// `getNormalizedFunctionName`: `-` → `Dash`, `_` → `Underscore`, then upperFirst
/// (`hello-world` → `HelloDashworld`, `get_item` → `GetUnderscoreitem`).
pub fn normalized_function_name(key: &str) -> String {
    upper_first(&key.replace('-', "Dash").replace('_', "Underscore"))
}

/// `normalizePathPart`: capitalize, `-` → `Dash`, `{x}` → `xVar`, drop non-alphanumerics.
pub(crate) fn normalize_path_part(part: &str) -> String {
    let mut s = capitalize(part).replace('-', "Dash");
    // JavaScript's /\{(.*)\}/ is greedy: from the first `{` to the last `}` after it.
    if let Some(open) = s.find('{')
        && let Some(close) = s.rfind('}')
        && close > open
    {
        let inner = s[open + 1..close].to_owned();
        s = format!("{}{}Var{}", &s[..open], inner, &s[close + 1..]);
    }
    upper_first(
        &s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>(),
    )
}

/// `normalizePath`: each `/`-separated part normalized and concatenated
/// (`users/{userId}/items` → `UsersUseridVarItems`).
pub(crate) fn normalize_path(path: &str) -> String {
    path.split('/').map(normalize_path_part).collect()
}

/// `<Fn>LambdaFunction`.
pub fn lambda_logical_id(key: &str) -> String {
    format!("{}LambdaFunction", normalized_function_name(key))
}

/// `<Fn>LogGroup`.
pub(crate) fn log_group_logical_id(key: &str) -> String {
    format!("{}LogGroup", normalized_function_name(key))
}

/// The log group of a deployed function name.
pub(crate) fn log_group_name(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// The generated execution role.
pub(crate) const ROLE_LOGICAL_ID: &str = "IamRoleLambdaExecution";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        assert_eq!(normalized_function_name("hello-world"), "HelloDashworld");
        assert_eq!(normalized_function_name("get_item"), "GetUnderscoreitem");
        assert_eq!(
            normalized_function_name("delete_item"),
            "DeleteUnderscoreitem"
        );
        assert_eq!(lambda_logical_id("get-item"), "GetDashitemLambdaFunction");
        assert_eq!(log_group_logical_id("cron"), "CronLogGroup");
    }

    #[test]
    fn paths() {
        assert_eq!(
            normalize_path("users/{userId}/items"),
            "UsersUseridVarItems"
        );
        assert_eq!(normalize_path("{proxy+}"), "ProxyVar");
        assert_eq!(normalize_path("items/{id}"), "ItemsIdVar");
        assert_eq!(normalize_path("GET /users/{id}"), "GetUsersIdVar");
        assert_eq!(normalize_path("my-path"), "MyDashpath");
    }

    #[test]
    fn alnum() {
        assert_eq!(
            normalize_alnum("pipeline-dev-uploads"),
            "Pipelinedevuploads"
        );
        assert_eq!(normalize_alnum("my_queue"), "Myqueue");
    }
}
