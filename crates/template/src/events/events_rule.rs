//! What the plugins that create `AWS::Events::Rule`s for a function (schedule,
//! cloudwatchEvent) share: the rule with its alias dependency, the invoke permission, and the
//! target's input transformer.

use serde_json::{Map, Value, json};

use crate::Ctx;

/// `InputTransformer` of a rule target from `inputTransformer` settings.
pub fn input_transformer(settings: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "InputTemplate".to_owned(),
        settings
            .get("inputTemplate")
            .cloned()
            .unwrap_or(Value::Null),
    );
    if let Some(m) = settings.get("inputPathsMap") {
        out.insert("InputPathsMap".to_owned(), m.clone());
    }
    Value::Object(out)
}

/// Adds the rule `rule_id` and `permission_id`, the permission that lets EventBridge invoke
/// the function; both wait for the function's alias.
pub fn compile_rule(
    ctx: &mut Ctx,
    key: &str,
    rule_id: String,
    permission_id: String,
    properties: Map<String, Value>,
) {
    let target = ctx.lambda_arn(key);
    let alias = ctx.alias_id(key).map(Value::String);
    let permission = json!({
        "FunctionName": target,
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}
    });
    ctx.resources().insert(
        rule_id,
        crate::resource_depending(
            "AWS::Events::Rule",
            alias.clone(),
            Value::Object(properties),
        ),
    );
    ctx.resources().insert(
        permission_id,
        crate::resource_depending("AWS::Lambda::Permission", alias, permission),
    );
}
