//! Log groups, the generated execution role, functions and versions
//! (v3 `merge-iam-templates.js` and `compile/functions.js`).

use base64::Engine;
use deployer_config::model::{Function, FunctionVpc, IamRole, IamRoleSettings, Vpc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::log_group::log_group;
use crate::naming::{self, ROLE_LOGICAL_ID};
use crate::{Ctx, FunctionArtifact, TemplateError, sort};

const ROLE_TEMPLATE: &str =
    include_str!("../../../templates/iam-role-lambda-execution-template.json");

/// v3 default runtime (3.40.0) when neither the function nor the provider sets one.
pub const DEFAULT_RUNTIME: &str = "nodejs16.x";

fn log_arn(prefix: &str, suffix: &str) -> Value {
    json!({"Fn::Sub": format!(
        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{prefix}{suffix}"
    )})
}

/// Log groups of every function, then `IamRoleLambdaExecution` unless an existing role is used.
pub fn compile_log_groups_and_role(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    if service.functions.is_empty() {
        return Ok(());
    }
    compile_log_groups(ctx);
    let provider = &service.provider;
    let role_settings = match provider.iam.as_ref().and_then(|i| i.role.as_ref()) {
        Some(IamRole::Existing(_)) => return Ok(()),
        Some(IamRole::Generated(settings)) => Some(settings.as_ref()),
        None => None,
    };
    if provider.role.is_some() || service.functions.values().all(|f| f.role.is_some()) {
        return Ok(());
    }
    let mut role: Value = serde_json::from_str(ROLE_TEMPLATE).expect("role template is JSON");
    insert_role_settings(ctx, &mut role, role_settings);
    let statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .expect("role statements");
    add_log_statements(ctx, statements);
    if let Some(extra) = role_settings
        .and_then(|s| s.statements.clone())
        .or_else(|| provider.iam_role_statements.clone())
    {
        statements.extend(extra);
    }
    let managed = managed_policies(ctx, role_settings);
    if !managed.is_empty() {
        role["Properties"]
            .as_object_mut()
            .expect("role Properties")
            .insert("ManagedPolicyArns".to_owned(), Value::Array(managed));
    }
    ctx.resources().insert(ROLE_LOGICAL_ID.to_owned(), role);
    Ok(())
}

/// `<Fn>LogGroup` for every function that logs.
fn compile_log_groups(ctx: &mut Ctx) {
    let service = ctx.service;
    let provider = &service.provider;
    for (key, function) in &service.functions {
        if function.disable_logs == Some(true) {
            continue;
        }
        let group = log_group(
            naming::log_group_name(&ctx.function_name(key)),
            function
                .log_retention_in_days
                .or(provider.log_retention_in_days),
            function
                .log_data_protection_policy
                .as_ref()
                .or(provider.log_data_protection_policy.as_ref()),
        );
        ctx.resources()
            .insert(naming::log_group_logical_id(key), group);
    }
}

/// The role's `Path`, `RoleName`, `Tags`, `PermissionsBoundary` and policy name.
fn insert_role_settings(ctx: &Ctx, role: &mut Value, settings: Option<&IamRoleSettings>) {
    let service = ctx.service;
    let properties = role["Properties"].as_object_mut().expect("role Properties");
    properties.insert(
        "Path".to_owned(),
        settings
            .and_then(|s| s.path.clone())
            .unwrap_or_else(|| json!("/")),
    );
    properties.insert(
        "RoleName".to_owned(),
        settings.and_then(|s| s.name.clone()).unwrap_or_else(|| {
            json!({"Fn::Join": ["-", [service.service, ctx.stage, {"Ref": "AWS::Region"}, "lambdaRole"]]})
        }),
    );
    if let Some(tags) = settings.and_then(|s| s.tags.as_ref()) {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        properties.insert("Tags".to_owned(), Value::Array(tags));
    }
    let boundary = settings
        .and_then(|s| {
            s.permissions_boundary
                .clone()
                .or(s.permission_boundary.clone())
        })
        .or_else(|| service.provider.role_permissions_boundary.clone());
    if let Some(boundary) = boundary {
        properties.insert("PermissionsBoundary".to_owned(), boundary);
    }
    role["Properties"]["Policies"][0]["PolicyName"] =
        json!({"Fn::Join": ["-", [service.service, ctx.stage, "lambda"]]});
}

/// Log permissions: one wildcard for functions named `<service>-<stage>-*`, one ARN per
/// custom-named function, and a Deny for canonically named functions with disableLogs.
fn add_log_statements(ctx: &Ctx, statements: &mut Vec<Value>) {
    let service = ctx.service;
    let canonical_prefix = format!("{}-{}", service.service, ctx.stage);
    let mut has_canonical = false;
    let mut disabled_canonical = Vec::new();
    for (key, function) in &service.functions {
        let name = ctx.function_name(key);
        let disabled = function.disable_logs == Some(true);
        if name.starts_with(&canonical_prefix) {
            if disabled {
                disabled_canonical.push(name);
            } else {
                has_canonical = true;
            }
        } else if !disabled {
            let group = naming::log_group_name(&name);
            push_resource(&mut statements[0], log_arn(&group, ":*"));
            push_resource(&mut statements[1], log_arn(&group, ":*:*"));
        }
    }
    if !has_canonical {
        return;
    }
    let group = naming::log_group_name(&canonical_prefix);
    push_resource(&mut statements[0], log_arn(&group, "*:*"));
    push_resource(&mut statements[1], log_arn(&group, "*:*:*"));
    if !disabled_canonical.is_empty() {
        let arns: Vec<Value> = disabled_canonical
            .iter()
            .map(|n| log_arn(&naming::log_group_name(n), ":*"))
            .collect();
        statements.push(json!({"Effect": "Deny", "Action": "logs:PutLogEvents", "Resource": arns}));
    }
}

/// Appends to a statement's `Resource` list.
fn push_resource(statement: &mut Value, resource: Value) {
    statement["Resource"]
        .as_array_mut()
        .expect("resource list")
        .push(resource);
}

/// The role's managed policies, with Lambda's VPC access policy when any function is in a VPC.
fn managed_policies(ctx: &Ctx, settings: Option<&IamRoleSettings>) -> Vec<Value> {
    let service = ctx.service;
    let provider = &service.provider;
    let mut managed: Vec<Value> = settings
        .and_then(|s| s.managed_policies.clone())
        .or_else(|| provider.iam_managed_policies.clone())
        .unwrap_or_default();
    let any_vpc = service
        .functions
        .values()
        .any(|f| !matches!(f.vpc, FunctionVpc::Inherit));
    if any_vpc || provider.vpc.is_some() {
        managed.push(json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
            ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]]}));
    }
    managed
}

/// A scalar configuration value as the string CloudFormation expects (numbers and booleans
/// are written as text, intrinsic functions kept).
fn as_cfn_string(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other.clone(),
    }
}

/// `base` then `overlay`, overlay winning, in first-seen key order (JS `Object.assign`).
fn assign(
    base: Option<&Map<String, Value>>,
    overlay: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for source in [base, overlay].into_iter().flatten() {
        for (k, v) in source {
            out.insert(k.clone(), as_cfn_string(v));
        }
    }
    out
}

fn to_json_map(map: Option<&indexmap::IndexMap<String, Value>>) -> Option<Map<String, Value>> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn unsupported_function_settings(key: &str, function: &Function) -> Result<(), TemplateError> {
    let path = |what: &str| format!("functions.{key}.{what}");
    if function.image.is_some() {
        return Err(TemplateError::unsupported(
            path("image"),
            "container image functions",
        ));
    }
    let snap_start = function
        .extra
        .get("snapStart")
        .is_some_and(|v| v == &Value::Bool(true));
    if function.provisioned_concurrency.is_some_and(|n| n > 0) && snap_start {
        return Err(TemplateError::invalid(
            format!("functions.{key}"),
            format!(
                "Functions with enabled SnapStart does not support provisioned concurrency. \
                 Please remove at least one of the settings on function \"{key}\"."
            ),
        ));
    }
    Ok(())
}

/// `<Fn>LambdaFunction` for every function, then each function's version and its output.
pub fn compile_functions(ctx: &mut Ctx) -> Result<(), TemplateError> {
    let service = ctx.service;
    let provider = &service.provider;
    let mut versions = Vec::new();
    for (key, function) in &service.functions {
        unsupported_function_settings(key, function)?;
        let artifact =
            ctx.input
                .artifacts
                .get(key)
                .ok_or_else(|| TemplateError::MissingArtifact {
                    function: key.clone(),
                })?;
        let properties = compile_function(ctx, key, function, artifact)?;
        let versioned = function
            .version_function
            .or(provider.version_functions)
            .unwrap_or(true);
        let provisioned = function.provisioned_concurrency.filter(|n| *n > 0);
        let snap_start = function.extra.get("snapStart") == Some(&Value::Bool(true));
        if versioned || provisioned.is_some() || snap_start {
            versions.push((key, function, properties, artifact));
        } else {
            // Without a version to hash, v3 compiles these synchronously right after the
            // function (the order matters only for how the template reads).
            compile_function_extras(ctx, key)?;
        }
    }
    for (key, function, properties, artifact) in versions {
        let version_id = compile_version(ctx, key, function, &properties, artifact);
        compile_aliases(ctx, key, function, &version_id);
        compile_function_extras(ctx, key)?;
    }
    Ok(())
}

/// What follows a function once its alias, if any, is known.
fn compile_function_extras(ctx: &mut Ctx, key: &str) -> Result<(), TemplateError> {
    apply_logging_config(ctx, key);
    crate::function_extras::compile_url(ctx, key)?;
    crate::function_extras::compile_event_invoke_config(ctx, key)
}

/// `<Fn>LambdaFunction`; returns its properties (the version's hash covers them).
fn compile_function(
    ctx: &mut Ctx,
    key: &str,
    function: &Function,
    artifact: &FunctionArtifact,
) -> Result<Map<String, Value>, TemplateError> {
    let mut depends_on: Vec<Value> = Vec::new();
    if let Some(extra) = &function.depends_on {
        match extra {
            Value::Array(items) => depends_on.extend(items.iter().cloned()),
            other => depends_on.push(other.clone()),
        }
    }
    let mut p = Map::new();
    insert_code_and_runtime(ctx, &mut p, key, function, artifact)?;
    insert_tags(&mut p, ctx, function);
    if let Some(size) = function.ephemeral_storage_size {
        p.insert("EphemeralStorage".to_owned(), json!({"Size": size}));
    }
    insert_dead_letter_and_kms(ctx, &mut p, function);
    insert_tracing(ctx, &mut p, function);
    let provider = &ctx.service.provider;
    if function.environment.is_some() || provider.environment.is_some() {
        let variables = assign(
            to_json_map(provider.environment.as_ref()).as_ref(),
            to_json_map(function.environment.as_ref()).as_ref(),
        );
        p.insert("Environment".to_owned(), json!({"Variables": variables}));
    }
    insert_role(ctx, &mut p, &mut depends_on, key);
    insert_vpc_and_file_system(ctx, &mut p, key, function)?;
    if let Some(n) = function.reserved_concurrency {
        p.insert("ReservedConcurrentExecutions".to_owned(), json!(n));
    }
    if let Some(layers) = function.layers.as_ref().or(provider.layers.as_ref()) {
        p.insert("Layers".to_owned(), Value::Array(layers.clone()));
    }
    if function.disable_logs != Some(true) {
        depends_on.insert(0, json!(naming::log_group_logical_id(key)));
    }
    let mut resource = Map::new();
    resource.insert("Type".to_owned(), json!("AWS::Lambda::Function"));
    resource.insert("Properties".to_owned(), Value::Object(p.clone()));
    if let Some(condition) = &function.condition {
        resource.insert("Condition".to_owned(), json!(condition));
    }
    if !depends_on.is_empty() {
        resource.insert("DependsOn".to_owned(), Value::Array(depends_on));
    }
    ctx.resources()
        .insert(naming::lambda_logical_id(key), Value::Object(resource));
    Ok(p)
}

/// `Code`, `RuntimeManagementConfig`, `Handler`, `Runtime`, `FunctionName`, `MemorySize`,
/// `Timeout`, `Architectures` and `Description`.
fn insert_code_and_runtime(
    ctx: &Ctx,
    p: &mut Map<String, Value>,
    key: &str,
    function: &Function,
    artifact: &FunctionArtifact,
) -> Result<(), TemplateError> {
    let provider = &ctx.service.provider;
    let bucket = match provider.deployment_bucket.as_ref().and_then(|b| b.name()) {
        Some(name) => json!(name),
        None => json!({"Ref": "ServerlessDeploymentBucket"}),
    };
    p.insert(
        "Code".to_owned(),
        json!({"S3Bucket": bucket,
               "S3Key": format!("{}/{}", ctx.input.artifact_directory_name, artifact.s3_key_name)}),
    );
    if let Some(config) = runtime_management(
        function
            .extra
            .get("runtimeManagement")
            .or(provider.extra.get("runtimeManagement")),
        &format!("functions.{key}.runtimeManagement"),
    )? {
        p.insert("RuntimeManagementConfig".to_owned(), config);
    }
    p.insert("Handler".to_owned(), json!(function.handler));
    let runtime = function
        .runtime
        .as_deref()
        .or(provider.runtime.as_deref())
        .unwrap_or(DEFAULT_RUNTIME);
    p.insert("Runtime".to_owned(), json!(runtime));
    p.insert("FunctionName".to_owned(), json!(ctx.function_name(key)));
    let memory = function
        .memory_size
        .or(provider.memory_size)
        .unwrap_or(1024);
    p.insert("MemorySize".to_owned(), json!(memory));
    p.insert(
        "Timeout".to_owned(),
        json!(function.timeout.or(provider.timeout).unwrap_or(6)),
    );
    if let Some(arch) = function
        .architecture
        .as_ref()
        .or(provider.architecture.as_ref())
    {
        p.insert("Architectures".to_owned(), json!([arch]));
    }
    if let Some(description) = &function.description {
        p.insert("Description".to_owned(), json!(description));
    }
    Ok(())
}

/// `Tags`: the provider's, then the function's.
fn insert_tags(p: &mut Map<String, Value>, ctx: &Ctx, function: &Function) {
    let provider = &ctx.service.provider;
    if function.tags.is_none() && provider.tags.is_none() {
        return;
    }
    let tags = assign(
        to_json_map(provider.tags.as_ref()).as_ref(),
        to_json_map(function.tags.as_ref()).as_ref(),
    );
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    p.insert("Tags".to_owned(), Value::Array(tags));
}

/// Adds a statement to the generated role unless it holds it already.
fn add_statement_once(ctx: &mut Ctx, statement: Value) {
    if let Some(statements) = ctx.role_statements()
        && !statements.contains(&statement)
    {
        statements.push(statement);
    }
}

/// `DeadLetterConfig` (`onError`) and `KmsKeyArn`, with the statements they need.
fn insert_dead_letter_and_kms(ctx: &mut Ctx, p: &mut Map<String, Value>, function: &Function) {
    if let Some(target) = &function.on_error {
        p.insert("DeadLetterConfig".to_owned(), json!({"TargetArn": target}));
        if target.is_string()
            && let Some(statements) = ctx.role_statements()
        {
            statements
                .push(json!({"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [target]}));
        }
    }
    let provider = &ctx.service.provider;
    if let Some(kms) = function
        .kms_key_arn
        .as_ref()
        .or(provider.kms_key_arn.as_ref())
    {
        p.insert("KmsKeyArn".to_owned(), kms.clone());
        if kms.is_string() {
            add_statement_once(
                ctx,
                json!({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [kms]}),
            );
        }
    }
}

/// `TracingConfig` (the function's `tracing`, else `provider.tracing.lambda`) and the X-Ray
/// statement.
fn insert_tracing(ctx: &mut Ctx, p: &mut Map<String, Value>, function: &Function) {
    let provider = &ctx.service.provider;
    let tracing = function
        .tracing
        .clone()
        .or_else(|| {
            provider
                .tracing
                .as_ref()
                .and_then(|t| t.get("lambda"))
                .cloned()
        })
        .filter(|t| !matches!(t, Value::Null | Value::Bool(false)));
    let Some(tracing) = tracing else {
        return;
    };
    let mode = if tracing.is_boolean() {
        json!("Active")
    } else {
        tracing
    };
    p.insert("TracingConfig".to_owned(), json!({"Mode": mode}));
    add_statement_once(
        ctx,
        json!({"Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": ["*"]}),
    );
}

/// `Role`: the generated role, an ARN, or a role in the stack the function must wait for.
fn insert_role(ctx: &Ctx, p: &mut Map<String, Value>, depends_on: &mut Vec<Value>, key: &str) {
    match ctx.custom_execution_role(key) {
        None => {
            p.insert(
                "Role".to_owned(),
                json!({"Fn::GetAtt": [ROLE_LOGICAL_ID, "Arn"]}),
            );
        }
        Some(Value::String(role)) if role.starts_with("arn:") => {
            p.insert("Role".to_owned(), json!(role));
        }
        Some(Value::String(role)) => {
            p.insert("Role".to_owned(), json!({"Fn::GetAtt": [role, "Arn"]}));
            if role != ROLE_LOGICAL_ID {
                depends_on.push(json!(role));
            }
        }
        Some(role) => {
            if let Some(target) = role.get("Fn::GetAtt").and_then(|g| g.get(0)) {
                depends_on.push(target.clone());
            }
            p.insert("Role".to_owned(), role);
        }
    }
}

/// `VpcConfig` and `FileSystemConfigs` (which needs a VPC), with the EFS statement.
fn insert_vpc_and_file_system(
    ctx: &mut Ctx,
    p: &mut Map<String, Value>,
    key: &str,
    function: &Function,
) -> Result<(), TemplateError> {
    let vpc = vpc_config(&function.vpc, ctx.service.provider.vpc.as_ref());
    let has_vpc = vpc.is_some();
    if let Some(vpc) = vpc {
        p.insert("VpcConfig".to_owned(), vpc);
    }
    let Some(fs) = function
        .extra
        .get("fileSystemConfig")
        .filter(|v| !v.is_null())
    else {
        return Ok(());
    };
    if !has_vpc {
        return Err(TemplateError::invalid(
            format!("functions.{key}.fileSystemConfig"),
            format!(
                "Function \"{key}\": when using fileSystemConfig, ensure that function has vpc configured on function or provider level"
            ),
        ));
    }
    let arn = fs.get("arn").cloned().unwrap_or(Value::Null);
    if let Some(statements) = ctx.role_statements() {
        statements.push(json!({"Effect": "Allow",
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": [arn]}));
    }
    p.insert(
        "FileSystemConfigs".to_owned(),
        json!([{"Arn": arn, "LocalMountPath": fs.get("localMountPath")}]),
    );
    Ok(())
}

/// `<Fn>LambdaVersion<hash>` and its `QualifiedArn` output; returns the version's ID.
fn compile_version(
    ctx: &mut Ctx,
    key: &str,
    function: &Function,
    properties: &Map<String, Value>,
    artifact: &FunctionArtifact,
) -> String {
    let digest = version_digest(&artifact.sha256_base64, properties);
    let version_id = format!(
        "{}LambdaVersion{}",
        naming::normalized_function_name(key),
        digest
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    );
    let mut version_properties = Map::new();
    version_properties.insert(
        "FunctionName".to_owned(),
        json!({"Ref": naming::lambda_logical_id(key)}),
    );
    version_properties.insert("CodeSha256".to_owned(), json!(artifact.sha256_base64));
    if let Some(description) = &function.description {
        version_properties.insert("Description".to_owned(), json!(description));
    }
    let versioned = function
        .version_function
        .or(ctx.service.provider.version_functions)
        .unwrap_or(true);
    let mut version = Map::new();
    version.insert("Type".to_owned(), json!("AWS::Lambda::Version"));
    if versioned {
        // Old versions stay when a new one replaces them (v3 behaviour); a version that
        // exists only for an alias goes with it.
        version.insert("DeletionPolicy".to_owned(), json!("Retain"));
    }
    version.insert("Properties".to_owned(), Value::Object(version_properties));
    ctx.resources()
        .insert(version_id.clone(), Value::Object(version));
    ctx.outputs().insert(
        format!("{}QualifiedArn", naming::lambda_logical_id(key)),
        json!({"Description": "Current Lambda function version", "Value": {"Ref": version_id}}),
    );
    version_id
}

/// The `provisioned` (provisioned concurrency) and `snapstart` aliases, which event sources
/// then target.
fn compile_aliases(ctx: &mut Ctx, key: &str, function: &Function, version_id: &str) {
    let function_id = naming::lambda_logical_id(key);
    let fn_name = naming::normalized_function_name(key);
    let alias = |name: &str, extra: Option<Value>| {
        let mut properties = json!({
            "FunctionName": {"Ref": function_id},
            "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]},
            "Name": name
        });
        if let Some(config) = extra {
            properties["ProvisionedConcurrencyConfig"] = config;
        }
        json!({"Type": "AWS::Lambda::Alias", "Properties": properties, "DependsOn": function_id})
    };
    if let Some(n) = function.provisioned_concurrency.filter(|n| *n > 0) {
        let alias_id = format!("{fn_name}ProvConcLambdaAlias");
        let resource = alias(
            "provisioned",
            Some(json!({"ProvisionedConcurrentExecutions": n})),
        );
        ctx.resources().insert(alias_id.clone(), resource);
        ctx.aliases
            .insert(key.to_owned(), ("provisioned".to_owned(), alias_id));
    }
    if function.extra.get("snapStart") == Some(&Value::Bool(true)) {
        if let Some(props) = ctx.resources()[&function_id]["Properties"].as_object_mut() {
            props.insert(
                "SnapStart".to_owned(),
                json!({"ApplyOn": "PublishedVersions"}),
            );
        }
        let alias_id = format!("{fn_name}SnapStartLambdaAlias");
        let resource = alias("snapstart", None);
        ctx.resources().insert(alias_id.clone(), resource);
        ctx.aliases
            .insert(key.to_owned(), ("snapstart".to_owned(), alias_id));
    }
}

/// `RuntimeManagementConfig` unless the mode is `auto` (v3 `resolveFunctionRuntimeManagement`).
fn runtime_management(setting: Option<&Value>, path: &str) -> Result<Option<Value>, TemplateError> {
    let (mode, arn) = match setting {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(mode)) => (mode.clone(), None),
        Some(Value::Object(o)) => (
            o.get("mode")
                .and_then(Value::as_str)
                .unwrap_or("auto")
                .to_owned(),
            o.get("arn").cloned(),
        ),
        Some(_) => {
            return Err(TemplateError::invalid(
                path,
                "expected a mode or {mode, arn}",
            ));
        }
    };
    let update_on = match mode.as_str() {
        "auto" => return Ok(None),
        "onFunctionUpdate" => "FunctionUpdate",
        "manual" => "Manual",
        other => {
            return Err(TemplateError::invalid(
                path,
                format!("unknown mode \"{other}\" (expected auto, onFunctionUpdate or manual)"),
            ));
        }
    };
    let mut config = Map::new();
    config.insert("UpdateRuntimeOn".to_owned(), json!(update_on));
    if mode == "manual" {
        config.insert("RuntimeVersionArn".to_owned(), arn.unwrap_or(Value::Null));
    }
    Ok(Some(Value::Object(config)))
}

/// `LoggingConfig` from the function's `logs` or `provider.logs.lambda`. v3 sets it after the
/// version hash, so it is not part of it.
fn apply_logging_config(ctx: &mut Ctx, key: &str) {
    let function = &ctx.service.functions[key];
    let logs = function
        .extra
        .get("logs")
        .filter(|v| !v.is_null())
        .or_else(|| {
            ctx.service
                .provider
                .logs
                .as_ref()
                .and_then(|l| l.get("lambda"))
        })
        .filter(|v| v.is_object());
    let Some(logs) = logs else { return };
    let mut config = Map::new();
    for (from, to) in [
        ("applicationLogLevel", "ApplicationLogLevel"),
        ("logFormat", "LogFormat"),
        ("logGroup", "LogGroup"),
        ("systemLogLevel", "SystemLogLevel"),
    ] {
        if let Some(v) = logs.get(from).filter(|v| !v.is_null() && v != &&json!("")) {
            config.insert(to.to_owned(), v.clone());
        }
    }
    if config.is_empty() {
        return;
    }
    let id = naming::lambda_logical_id(key);
    if let Some(props) = ctx.resources()[&id]["Properties"].as_object_mut() {
        props.insert("LoggingConfig".to_owned(), Value::Object(config));
    }
}

/// `VpcConfig`: function settings over provider settings, only when both security groups
/// and subnets are known; none when the function opts out.
fn vpc_config(function: &FunctionVpc, provider: Option<&Vpc>) -> Option<Value> {
    let own = match function {
        FunctionVpc::Disabled => return None,
        FunctionVpc::Inherit => None,
        FunctionVpc::Config(vpc) => Some(vpc.as_ref()),
    };
    let pick = |f: fn(&Vpc) -> Option<&Value>| own.and_then(f).or_else(|| provider.and_then(f));
    let security_groups = pick(|v| v.security_group_ids.as_ref())?;
    let subnets = pick(|v| v.subnet_ids.as_ref())?;
    let mut config = Map::new();
    let ipv6 = own
        .and_then(|v| v.ipv6_allowed_for_dual_stack)
        .or_else(|| provider.and_then(|v| v.ipv6_allowed_for_dual_stack));
    if let Some(ipv6) = ipv6 {
        config.insert("Ipv6AllowedForDualStack".to_owned(), json!(ipv6));
    }
    config.insert("SecurityGroupIds".to_owned(), security_groups.clone());
    config.insert("SubnetIds".to_owned(), subnets.clone());
    Some(Value::Object(config))
}

/// v3's version digest: base64 SHA-256 of the zip's base64 SHA-256 text followed by
/// the compact JSON of the function properties (minus `Code`, `ReservedConcurrentExecutions`,
/// `Tags`, plus `layerConfigurations: []`), deep-sorted in `localeCompare` order.
pub fn version_digest(code_sha256_base64: &str, properties: &Map<String, Value>) -> String {
    let mut props = properties.clone();
    for key in ["Code", "ReservedConcurrentExecutions", "Tags"] {
        props.shift_remove(key);
    }
    props.insert("layerConfigurations".to_owned(), json!([]));
    let text = serde_json::to_string(&sort::deep_sort(&Value::Object(props)))
        .expect("a JSON value serializes");
    let mut hasher = Sha256::new();
    hasher.update(code_sha256_base64.as_bytes());
    hasher.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest of v3's own run of the multi-account fixture (function `hello`, dev),
    /// recomputed from v3's definition with Python:
    /// `b64(sha256(code_sha + json.dumps(sorted_props, separators=(',',':'))))`.
    #[test]
    fn version_digest_matches_v3() {
        let properties: Map<String, Value> = serde_json::from_value(json!({
            "Code": {"S3Bucket": {"Ref": "ServerlessDeploymentBucket"}, "S3Key": "x/service-name.zip"},
            "Handler": "handler.hello",
            "Runtime": "nodejs24.x",
            "FunctionName": "service-name-dev-hello",
            "MemorySize": 1024,
            "Timeout": 6,
            "Role": {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]}
        }))
        .unwrap();
        let digest = version_digest("qCNBKLsPAm/3nWCsBxQOvJd3ffpUfNK6CrowZ5reCy8=", &properties);
        let id: String = digest.chars().filter(char::is_ascii_alphanumeric).collect();
        assert_eq!(id, "5Fgcb9oESCIQekPTm7XUAYC9wzMfelSlMjE1H1tGxg");
    }

    #[test]
    fn version_digest_ignores_tags_code_and_reserved_concurrency() {
        let base: Map<String, Value> =
            serde_json::from_value(json!({"Handler": "h", "Timeout": 6})).unwrap();
        let mut with_extras = base.clone();
        with_extras.insert("Tags".into(), json!([{"Key": "a", "Value": "b"}]));
        with_extras.insert("ReservedConcurrentExecutions".into(), json!(5));
        with_extras.insert("Code".into(), json!({"S3Key": "other"}));
        assert_eq!(
            version_digest("x", &base),
            version_digest("x", &with_extras)
        );
        let mut changed = base.clone();
        changed.insert("Timeout".into(), json!(7));
        assert_ne!(version_digest("x", &base), version_digest("x", &changed));
    }
}
