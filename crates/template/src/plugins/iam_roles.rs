//! serverless-iam-roles-per-function 3.2.0 (`before:package:finalize`): a role of its own for
//! every function that declares `iamRoleStatements`, cloned from the generated provider role.

use deployer_config::model::{Event, Function, FunctionVpc, IamRole};
use serde_json::{Value, json};

use crate::naming::{ROLE_LOGICAL_ID, lambda_logical_id, normalized_function_name};
use crate::{Ctx, TemplateError};

const CUSTOM_KEY: &str = "serverless-iam-roles-per-function";
const MAX_ROLE_NAME: usize = 64;

/// `custom.serverless-iam-roles-per-function`.
struct Options {
    default_inherit: bool,
    global_boundary: Option<Value>,
}

fn options(ctx: &Ctx) -> Result<Options, TemplateError> {
    let path = format!("custom.{CUSTOM_KEY}");
    let Some(custom) = ctx.service.custom.as_ref().and_then(|c| c.get(CUSTOM_KEY)) else {
        return Ok(Options {
            default_inherit: false,
            global_boundary: None,
        });
    };
    let map = custom
        .as_object()
        .ok_or_else(|| TemplateError::invalid(&path, "expected a map"))?;
    super::reject_unknown_keys(
        &path,
        map,
        &["defaultInherit", "iamGlobalPermissionsBoundary"],
    )?;
    let default_inherit = match map.get("defaultInherit") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(TemplateError::invalid(
                format!("{path}.defaultInherit"),
                "expected true or false",
            ));
        }
    };
    Ok(Options {
        default_inherit,
        global_boundary: map.get("iamGlobalPermissionsBoundary").cloned(),
    })
}

/// Adds `<Fn>IamRoleLambdaExecution` for each function with `iamRoleStatements` and points
/// the function and its event source mappings at it.
pub fn apply(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let options = options(ctx)?;
    let keys: Vec<String> = ctx
        .service
        .functions
        .iter()
        .filter(|(_, f)| f.extra.contains_key("iamRoleStatements"))
        .map(|(k, _)| k.clone())
        .collect();
    if let Some(boundary) = &options.global_boundary
        && let Some(props) = ctx
            .resources()
            .get_mut(ROLE_LOGICAL_ID)
            .and_then(|r| r.get_mut("Properties"))
            .and_then(Value::as_object_mut)
    {
        props.insert("PermissionsBoundary".into(), boundary.clone());
    }
    for key in keys {
        let role = function_role(ctx, &key, &options)?;
        let role_id = role_logical_id(&key);
        ctx.resources().insert(role_id.clone(), role);
        point_function_at(ctx, &key, &role_id);
        point_mappings_at(ctx, &key, &role_id);
    }
    Ok(())
}

/// `<Fn>IamRoleLambdaExecution`.
pub fn role_logical_id(key: &str) -> String {
    format!("{}IamRoleLambdaExecution", normalized_function_name(key))
}

fn function_role(ctx: &Ctx, key: &str, options: &Options) -> Result<Value, TemplateError> {
    let function = &ctx.service.functions[key];
    let path = format!("functions.{key}");
    if function.role.is_some() {
        return Err(TemplateError::invalid(
            &path,
            format!(
                "serverless-iam-roles-per-function: a function with both 'role' and 'iamRoleStatements' is not supported; remove one of them (function {key})"
            ),
        ));
    }
    let statements = own_statements(function, &path)?;
    let Some(global) = ctx.template["Resources"].get(ROLE_LOGICAL_ID) else {
        return Err(TemplateError::invalid(
            &path,
            "iamRoleStatements needs the role deployer generates (IamRoleLambdaExecution), but provider.iam.role names an existing role",
        ));
    };
    let mut role = global.clone();
    let props = role["Properties"]
        .as_object_mut()
        .expect("the generated role has Properties");
    let mut all = vec![logs_statement(&ctx.function_name(key))];
    all.extend(stream_statements(function, &path)?);
    all.extend(sqs_statement(function));
    if let Some(target) = &function.on_error {
        all.push(json!({"Effect": "Allow", "Action": ["sns:Publish"], "Resource": target}));
    }
    if inherits(function, options) {
        all.extend(provider_statements(ctx));
    }
    all.extend(statements);
    props["Policies"][0]["PolicyDocument"]["Statement"] = Value::Array(all);
    props.insert("RoleName".into(), role_name(ctx, key, function)?);
    props.insert("ManagedPolicyArns".into(), managed_policies(ctx, function));
    let boundary = function
        .extra
        .get("iamPermissionsBoundary")
        .or(options.global_boundary.as_ref());
    if let Some(boundary) = boundary {
        props.insert("PermissionsBoundary".into(), boundary.clone());
    }
    Ok(role)
}

/// The function's `iamRoleStatements`, each checked like the plugin's `validateStatements`.
fn own_statements(function: &Function, path: &str) -> Result<Vec<Value>, TemplateError> {
    let path = format!("{path}.iamRoleStatements");
    let list = match &function.extra["iamRoleStatements"] {
        Value::Array(list) => list,
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(TemplateError::invalid(
                path,
                "expected a list of IAM statements",
            ));
        }
    };
    for (i, statement) in list.iter().enumerate() {
        let has = |k: &str| statement.get(k).is_some_and(|v| !v.is_null());
        if !has("Effect")
            || !(has("Action") || has("NotAction"))
            || !(has("Resource") || has("NotResource"))
        {
            return Err(TemplateError::invalid(
                format!("{path}[{i}]"),
                "each statement needs Effect, Action or NotAction, and Resource or NotResource",
            ));
        }
    }
    Ok(list.iter().map(crate::plugins::schema_statement).collect())
}

fn inherits(function: &Function, options: &Options) -> bool {
    match function.extra.get("iamRoleStatementsInherit") {
        Some(Value::Bool(b)) => *b,
        _ => options.default_inherit,
    }
}

fn logs_statement(function_name: &str) -> Value {
    json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents"],
        "Resource": [{"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function_name}:*:*"
        )}]
    })
}

/// One statement for DynamoDB streams, one for Kinesis streams, when the function has them.
fn stream_statements(function: &Function, path: &str) -> Result<Vec<Value>, TemplateError> {
    let mut dynamodb = Vec::new();
    let mut kinesis = Vec::new();
    for (i, event) in function.events.iter().enumerate() {
        let Event::Stream(stream) = event else {
            continue;
        };
        let kind = stream.stream_type.clone().or_else(|| {
            stream
                .arn
                .as_str()
                .and_then(|arn| arn.split(':').nth(2))
                .map(str::to_owned)
        });
        match kind.as_deref() {
            Some("dynamodb") => dynamodb.push(stream.arn.clone()),
            Some("kinesis") => kinesis.push(stream.arn.clone()),
            _ => {
                return Err(TemplateError::invalid(
                    format!("{path}.events[{i}].stream"),
                    "set type: dynamodb or type: kinesis (serverless-iam-roles-per-function needs it to grant stream access)",
                ));
            }
        }
    }
    let statement = |service: &str, arns: Vec<Value>| {
        let actions: Vec<String> = [
            "GetRecords",
            "GetShardIterator",
            "DescribeStream",
            "ListStreams",
        ]
        .iter()
        .map(|a| format!("{service}:{a}"))
        .collect();
        json!({"Effect": "Allow", "Action": actions, "Resource": arns})
    };
    let mut out = Vec::new();
    if !dynamodb.is_empty() {
        out.push(statement("dynamodb", dynamodb));
    }
    if !kinesis.is_empty() {
        out.push(statement("kinesis", kinesis));
    }
    Ok(out)
}

fn sqs_statement(function: &Function) -> Option<Value> {
    let arns: Vec<Value> = function
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Sqs(sqs) => Some(sqs.arn.clone()),
            _ => None,
        })
        .collect();
    (!arns.is_empty()).then(|| {
        json!({
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": arns
        })
    })
}

/// `provider.iam.role.statements`, else the legacy `provider.iamRoleStatements`.
fn provider_statements(ctx: &Ctx) -> Vec<Value> {
    let provider = &ctx.service.provider;
    let statements = match provider.iam.as_ref() {
        Some(iam) => match &iam.role {
            Some(IamRole::Generated(settings)) => settings.statements.clone(),
            _ => None,
        },
        None => provider.iam_role_statements.clone(),
    };
    statements
        .unwrap_or_default()
        .iter()
        .map(crate::plugins::schema_statement)
        .collect()
}

fn has_vpc(ctx: &Ctx, function: &Function) -> bool {
    match &function.vpc {
        FunctionVpc::Disabled => false,
        FunctionVpc::Config(_) => true,
        FunctionVpc::Inherit => ctx.service.provider.vpc.is_some(),
    }
}

fn managed_policies(ctx: &Ctx, function: &Function) -> Value {
    if !has_vpc(ctx, function) {
        return json!([]);
    }
    json!([{"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"},
        ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    ]]}])
}

/// `iamRoleStatementsName`, else the global role name with the function key inserted, without
/// `lambdaRole` when that makes it fit in 64 characters.
fn role_name(ctx: &Ctx, key: &str, function: &Function) -> Result<Value, TemplateError> {
    if let Some(name) = function.extra.get("iamRoleStatementsName") {
        return Ok(name.clone());
    }
    let global = ctx.template["Resources"][ROLE_LOGICAL_ID]["Properties"]["RoleName"].clone();
    let parts = global
        .pointer("/Fn::Join/1")
        .and_then(Value::as_array)
        .filter(|_| global.pointer("/Fn::Join/0") == Some(&json!("-")))
        .filter(|p| p.len() >= 2)
        .ok_or_else(|| {
            TemplateError::invalid(
                format!("functions.{key}"),
                "serverless-iam-roles-per-function: the global role name (provider.iam.role.name) is not in the expected format; set iamRoleStatementsName on the function",
            )
        })?;
    let mut parts = parts.clone();
    parts.insert(2, json!(key));
    if name_length(&parts, ctx.input.region) > MAX_ROLE_NAME
        && parts.last() == Some(&json!("lambdaRole"))
    {
        parts.pop();
    }
    if name_length(&parts, ctx.input.region) > MAX_ROLE_NAME {
        return Err(TemplateError::invalid(
            format!("functions.{key}"),
            format!(
                "auto generated role name for function: {key} is too long (over 64 chars); set a custom role name with iamRoleStatementsName"
            ),
        ));
    }
    Ok(json!({"Fn::Join": ["-", parts]}))
}

/// Length of `parts` joined with `-`, `{Ref: AWS::Region}` counted as the region's name.
fn name_length(parts: &[Value], region: &str) -> usize {
    let part_len = |p: &Value| match p {
        Value::String(s) => s.chars().count(),
        _ if p == &json!({"Ref": "AWS::Region"}) => region.len(),
        other => other.to_string().len(),
    };
    parts.iter().map(part_len).sum::<usize>() + parts.len().saturating_sub(1)
}

fn point_function_at(ctx: &mut Ctx, key: &str, role_id: &str) {
    let Some(resource) = ctx.resources().get_mut(&lambda_logical_id(key)) else {
        return;
    };
    resource["Properties"]["Role"] = json!({"Fn::GetAtt": [role_id, "Arn"]});
    let previous: Vec<Value> = match resource.get("DependsOn") {
        Some(Value::Array(list)) => list.clone(),
        Some(Value::String(s)) => vec![json!(s)],
        _ => Vec::new(),
    };
    let mut depends = vec![json!(role_id)];
    depends.extend(
        previous
            .into_iter()
            .filter(|d| d != &json!(ROLE_LOGICAL_ID)),
    );
    if let Some(obj) = resource.as_object_mut() {
        obj.insert("DependsOn".into(), Value::Array(depends));
    }
}

/// Event source mappings of the function wait for its role (a string, as the plugin writes).
fn point_mappings_at(ctx: &mut Ctx, key: &str, role_id: &str) {
    let function_id = lambda_logical_id(key);
    for resource in ctx.resources().values_mut() {
        if resource["Type"] != "AWS::Lambda::EventSourceMapping" {
            continue;
        }
        let target = resource.pointer("/Properties/FunctionName/Fn::GetAtt/0");
        if target != Some(&json!(function_id)) {
            continue;
        }
        if let Some(obj) = resource.as_object_mut() {
            obj.insert("DependsOn".into(), json!(role_id));
        }
    }
}
