//! v3's `provider.naming` as plugins call it (`lib/plugins/aws/lib/naming.js`), answered from
//! deployer's naming rules: the plugin host sends `naming.<function>(...args)` here.
//!
//! Most functions put literal text and normalised arguments together; they are rows of
//! [`RULES`]. The ones that read the configuration (stack name, API names, role) or branch on
//! their arguments are in [`special`].

use serde_json::{Value, json};

use crate::naming::{normalize_alnum, normalize_path, normalized_function_name, upper_first};

/// What the naming functions read of the service.
#[derive(Debug, Clone, Default)]
pub struct NamingContext {
    /// `service:`.
    pub service: String,
    /// The stage.
    pub stage: String,
    /// The service configuration (`provider.stackName`, `provider.apiName`, …).
    pub config: Value,
}

/// How an argument is normalised before it is put into the name.
#[derive(Debug, Clone, Copy)]
enum Norm {
    /// As given.
    Raw,
    /// `normalizeName`: upperFirst.
    Name,
    /// `normalizeNameToAlphaNumericOnly`.
    Alnum,
    /// `getNormalizedFunctionName` / `getNormalizedResourceName`.
    Function,
    /// `normalizePath`.
    Path,
    /// `normalizeMethodName`: lower-cased, then upperFirst.
    Method,
    /// `getNormalizedWebsocketsRouteKey`.
    Route,
    /// Only `[0-9A-Za-z]` kept (version and deployment hashes).
    Hash,
}

/// A piece of a name: literal text, or argument `n` normalised.
#[derive(Debug, Clone, Copy)]
enum Part {
    Lit(&'static str),
    Arg(usize, Norm),
}

use Norm::*;
use Part::{Arg, Lit};

/// The naming functions that only join text and normalised arguments.
const RULES: &[(&str, &[Part])] = &[
    ("normalizeName", &[Arg(0, Name)]),
    ("normalizeNameToAlphaNumericOnly", &[Arg(0, Alnum)]),
    ("normalizePath", &[Arg(0, Path)]),
    ("normalizeMethodName", &[Arg(0, Method)]),
    ("normalizeBucketName", &[Arg(0, Alnum)]),
    ("normalizeTopicName", &[Arg(0, Alnum)]),
    ("getNormalizedFunctionName", &[Arg(0, Function)]),
    ("getNormalizedResourceName", &[Arg(0, Function)]),
    ("getNormalizedAuthorizerName", &[Arg(0, Function)]),
    ("getNormalizedWebsocketsRouteKey", &[Arg(0, Route)]),
    ("getFunctionArtifactName", &[Arg(0, Raw), Lit(".zip")]),
    ("getLayerArtifactName", &[Arg(0, Raw), Lit(".zip")]),
    ("getServiceStateFileName", &[Lit("serverless-state.json")]),
    (
        "getCompiledTemplateFileName",
        &[Lit("cloudformation-template-update-stack.json")],
    ),
    (
        "getCompiledTemplateS3Suffix",
        &[Lit("compiled-cloudformation-template.json")],
    ),
    (
        "getCoreTemplateFileName",
        &[Lit("cloudformation-template-create-stack.json")],
    ),
    ("getRoleLogicalId", &[Lit("IamRoleLambdaExecution")]),
    ("getLogGroupLogicalId", &[Arg(0, Function), Lit("LogGroup")]),
    ("getLogGroupName", &[Lit("/aws/lambda/"), Arg(0, Raw)]),
    (
        "getLambdaLogicalId",
        &[Arg(0, Function), Lit("LambdaFunction")],
    ),
    (
        "getLambdaFunctionUrlLogicalId",
        &[Arg(0, Function), Lit("LambdaFunctionUrl")],
    ),
    (
        "getLambdaEventConfigLogicalId",
        &[Arg(0, Function), Lit("LambdaEvConf")],
    ),
    (
        "getLambdaLayerLogicalId",
        &[Arg(0, Function), Lit("LambdaLayer")],
    ),
    (
        "getLambdaVersionLogicalId",
        &[Arg(0, Function), Lit("LambdaVersion"), Arg(1, Hash)],
    ),
    (
        "getCodeDeployApplicationLogicalId",
        &[Lit("CodeDeployApplication")],
    ),
    (
        "getCodeDeployDeploymentGroupLogicalId",
        &[Lit("CodeDeployDeploymentGroup")],
    ),
    ("getCodeDeployRoleLogicalId", &[Lit("CodeDeployRole")]),
    (
        "getLambdaProvisionedConcurrencyAliasLogicalId",
        &[Arg(0, Function), Lit("ProvConcLambdaAlias")],
    ),
    (
        "getLambdaSnapStartAliasLogicalId",
        &[Arg(0, Function), Lit("SnapStartLambdaAlias")],
    ),
    (
        "getLambdaProvisionedConcurrencyAliasName",
        &[Lit("provisioned")],
    ),
    ("getLambdaSnapStartEnabledAliasName", &[Lit("snapstart")]),
    (
        "getLambdaFunctionUrlOutputLogicalId",
        &[Arg(0, Function), Lit("LambdaFunctionUrl")],
    ),
    (
        "getLambdaVersionOutputLogicalId",
        &[Arg(0, Function), Lit("LambdaFunctionQualifiedArn")],
    ),
    (
        "getLambdaLayerOutputLogicalId",
        &[Arg(0, Function), Lit("LambdaLayerQualifiedArn")],
    ),
    (
        "getLambdaLayerHashOutputLogicalId",
        &[Arg(0, Function), Lit("LambdaLayerHash")],
    ),
    (
        "getLambdaLayerS3KeyOutputLogicalId",
        &[Arg(0, Function), Lit("LambdaLayerS3Key")],
    ),
    ("getWebsocketsApiLogicalId", &[Lit("WebsocketsApi")]),
    (
        "getWebsocketsIntegrationLogicalId",
        &[Arg(0, Function), Lit("WebsocketsIntegration")],
    ),
    (
        "getLambdaWebsocketsPermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaPermissionWebsockets")],
    ),
    (
        "getWebsocketsRouteLogicalId",
        &[Arg(0, Route), Lit("WebsocketsRoute")],
    ),
    (
        "getWebsocketsDeploymentLogicalId",
        &[Lit("WebsocketsDeployment"), Arg(0, Hash)],
    ),
    (
        "getWebsocketsRouteResponseLogicalId",
        &[Arg(0, Route), Lit("WebsocketsRouteResponse")],
    ),
    (
        "getWebsocketsStageLogicalId",
        &[Lit("WebsocketsDeploymentStage")],
    ),
    (
        "getWebsocketsAuthorizerLogicalId",
        &[Arg(0, Function), Lit("WebsocketsAuthorizer")],
    ),
    (
        "getWebsocketsLogGroupLogicalId",
        &[Lit("WebsocketsLogGroup")],
    ),
    (
        "generateApiGatewayDeploymentLogicalId",
        &[Lit("ApiGatewayDeployment"), Arg(0, Raw)],
    ),
    ("getRestApiLogicalId", &[Lit("ApiGatewayRestApi")]),
    (
        "getAuthorizerLogicalId",
        &[Arg(0, Function), Lit("ApiGatewayAuthorizer")],
    ),
    (
        "getResourceLogicalId",
        &[Lit("ApiGatewayResource"), Arg(0, Path)],
    ),
    (
        "getMethodLogicalId",
        &[Lit("ApiGatewayMethod"), Arg(0, Raw), Arg(1, Method)],
    ),
    ("getStageLogicalId", &[Lit("ApiGatewayStage")]),
    (
        "getApiGatewayLogGroupLogicalId",
        &[Lit("ApiGatewayLogGroup")],
    ),
    (
        "getDeploymentBucketLogicalId",
        &[Lit("ServerlessDeploymentBucket")],
    ),
    (
        "getDeploymentBucketOutputLogicalId",
        &[Lit("ServerlessDeploymentBucketName")],
    ),
    (
        "getDeploymentBucketPolicyLogicalId",
        &[Lit("ServerlessDeploymentBucketPolicy")],
    ),
    ("getBucketLogicalId", &[Lit("S3Bucket"), Arg(0, Alnum)]),
    ("getTopicLogicalId", &[Lit("SNSTopic"), Arg(0, Alnum)]),
    (
        "getTopicDLQPolicyLogicalId",
        &[Arg(1, Alnum), Lit("To"), Arg(0, Function), Lit("DLQPolicy")],
    ),
    ("getScheduleId", &[Arg(0, Raw), Lit("Schedule")]),
    (
        "getScheduleLogicalId",
        &[Arg(0, Function), Lit("EventsRuleSchedule"), Arg(1, Raw)],
    ),
    (
        "getSchedulerScheduleLogicalId",
        &[Arg(0, Function), Lit("SchedulerSchedule"), Arg(1, Raw)],
    ),
    (
        "getStreamLogicalId",
        &[
            Arg(0, Function),
            Lit("EventSourceMapping"),
            Arg(1, Name),
            Arg(2, Alnum),
        ],
    ),
    (
        "getStreamConsumerLogicalId",
        &[Arg(0, Function), Lit("StreamConsumer")],
    ),
    (
        "getIotLogicalId",
        &[Arg(0, Function), Lit("IotTopicRule"), Arg(1, Raw)],
    ),
    (
        "getLambdaIotPermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermissionIotTopicRule"),
            Arg(1, Raw),
        ],
    ),
    (
        "getIotFleetProvisioningLogicalId",
        &[Arg(0, Function), Lit("IotProvisioningTemplate")],
    ),
    (
        "getLambdaIotFleetProvisioningPermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermissionIotProvisioningTemplate"),
        ],
    ),
    (
        "getCloudWatchEventId",
        &[Arg(0, Raw), Lit("CloudWatchEvent")],
    ),
    (
        "getCloudWatchEventLogicalId",
        &[
            Arg(0, Function),
            Lit("EventsRuleCloudWatchEvent"),
            Arg(1, Raw),
        ],
    ),
    (
        "getCloudWatchLogLogicalId",
        &[
            Arg(0, Function),
            Lit("LogsSubscriptionFilterCloudWatchLog"),
            Arg(1, Raw),
        ],
    ),
    (
        "getCognitoUserPoolLogicalId",
        &[Lit("CognitoUserPool"), Arg(0, Alnum)],
    ),
    (
        "getQueueLogicalId",
        &[
            Arg(0, Function),
            Lit("EventSourceMappingSQS"),
            Arg(1, Alnum),
        ],
    ),
    (
        "getAlbListenerRuleLogicalId",
        &[Arg(0, Function), Lit("AlbListenerRule"), Arg(1, Raw)],
    ),
    (
        "getLambdaS3PermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermission"),
            Arg(1, Alnum),
            Lit("S3"),
        ],
    ),
    (
        "getLambdaSnsPermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermission"),
            Arg(1, Alnum),
            Lit("SNS"),
        ],
    ),
    (
        "getLambdaSnsSubscriptionLogicalId",
        &[Arg(0, Function), Lit("SnsSubscription"), Arg(1, Alnum)],
    ),
    (
        "getLambdaSchedulePermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermissionEventsRuleSchedule"),
            Arg(1, Raw),
        ],
    ),
    (
        "getLambdaCloudWatchEventPermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermissionEventsRuleCloudWatchEvent"),
            Arg(1, Raw),
        ],
    ),
    (
        "getLambdaApiGatewayPermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaPermissionApiGateway")],
    ),
    (
        "getLambdaHttpApiPermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaPermissionHttpApi")],
    ),
    (
        "getLambdaFnUrlPermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaPermissionFnUrl")],
    ),
    (
        "getLambdaAuthorizerHttpApiPermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaAuthorizerPermissionHttpApi")],
    ),
    (
        "getLambdaAlexaSmartHomePermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermissionAlexaSmartHome"),
            Arg(1, Raw),
        ],
    ),
    (
        "getLambdaCloudWatchLogPermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermissionLogsSubscriptionFilterCloudWatchLog"),
        ],
    ),
    (
        "getLambdaCognitoUserPoolPermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("LambdaPermissionCognitoUserPool"),
            Arg(1, Alnum),
            Lit("TriggerSource"),
            Arg(2, Alnum),
        ],
    ),
    (
        "getLambdaAlbPermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaPermissionAlb")],
    ),
    (
        "getLambdaRegisterTargetPermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaPermissionRegisterTarget")],
    ),
    (
        "getCustomResourcesArtifactName",
        &[Lit("custom-resources.zip")],
    ),
    (
        "getCustomResourcesRoleLogicalId",
        &[Lit("IamRoleCustomResourcesLambdaExecution")],
    ),
    (
        "getCustomResourceS3HandlerFunctionName",
        &[Lit("custom-resource-existing-s3")],
    ),
    (
        "getCustomResourceS3HandlerFunctionLogicalId",
        &[Lit("CustomDashresourceDashexistingDashs3LambdaFunction")],
    ),
    (
        "getCustomResourceS3ResourceLogicalId",
        &[Arg(0, Function), Lit("CustomS31")],
    ),
    (
        "getCustomResourceCognitoUserPoolHandlerFunctionName",
        &[Lit("custom-resource-existing-cup")],
    ),
    (
        "getCustomResourceCognitoUserPoolHandlerFunctionLogicalId",
        &[Lit("CustomDashresourceDashexistingDashcupLambdaFunction")],
    ),
    (
        "getCustomResourceCognitoUserPoolResourceLogicalId",
        &[Arg(0, Function), Lit("CustomCognitoUserPool1")],
    ),
    (
        "getCustomResourceEventBridgeHandlerFunctionName",
        &[Lit("custom-resource-event-bridge")],
    ),
    (
        "getCustomResourceEventBridgeHandlerFunctionLogicalId",
        &[Lit("CustomDashresourceDasheventDashbridgeLambdaFunction")],
    ),
    (
        "getCustomResourceEventBridgeResourceLogicalId",
        &[Arg(0, Function), Lit("CustomEventBridge"), Arg(1, Raw)],
    ),
    (
        "getEventBridgeEventBusLogicalId",
        &[Arg(0, Function), Lit("EventBridgeEventBus")],
    ),
    (
        "getEventBridgeRuleLogicalId",
        &[Arg(0, Alnum), Lit("EventBridgeRule")],
    ),
    (
        "getEventBridgeLambdaPermissionLogicalId",
        &[
            Arg(0, Function),
            Lit("EventBridgeLambdaPermission"),
            Arg(1, Raw),
        ],
    ),
    (
        "getCustomResourceApiGatewayAccountCloudWatchRoleHandlerFunctionName",
        &[Lit("custom-resource-apigw-cw-role")],
    ),
    (
        "getCustomResourceApiGatewayAccountCloudWatchRoleHandlerFunctionLogicalId",
        &[Lit(
            "CustomDashresourceDashapigwDashcwDashroleLambdaFunction",
        )],
    ),
    (
        "getCustomResourceApiGatewayAccountCloudWatchRoleResourceLogicalId",
        &[Lit("CustomApiGatewayAccountCloudWatchRole")],
    ),
    (
        "getCloudFrontDistributionLogicalId",
        &[Lit("CloudFrontDistribution")],
    ),
    (
        "getCloudFrontDistributionDomainNameLogicalId",
        &[Lit("CloudFrontDistributionDomainName")],
    ),
    (
        "getLambdaAtEdgeInvokePermissionLogicalId",
        &[Arg(0, Function), Lit("LambdaFunctionInvokePermission")],
    ),
    (
        "getCloudFrontCachePolicyLogicalId",
        &[Lit("CloudFrontCachePolicy"), Arg(0, Function)],
    ),
    ("getHttpApiLogicalId", &[Lit("HttpApi")]),
    ("getHttpApiStageLogicalId", &[Lit("HttpApiStage")]),
    (
        "getHttpApiIntegrationLogicalId",
        &[Lit("HttpApiIntegration"), Arg(0, Function)],
    ),
    (
        "getHttpApiAuthorizerLogicalId",
        &[Lit("HttpApiAuthorizer"), Arg(0, Function)],
    ),
    ("getHttpApiLogGroupLogicalId", &[Lit("HttpApiLogGroup")]),
];

/// Calls naming function `function` with `args`: the same answer v3's `provider.naming` gives,
/// or an error naming a function deployer does not implement.
pub fn call(function: &str, args: &[Value], ctx: &NamingContext) -> Result<Value, String> {
    if let Some(value) = special(function, args, ctx)? {
        return Ok(value);
    }
    let Some((_, parts)) = RULES.iter().find(|(name, _)| *name == function) else {
        return Err(format!(
            "deployer does not implement provider.naming.{function} (the plugin host answers \
             v3's naming functions from deployer's own rules)"
        ));
    };
    let mut out = String::new();
    for part in *parts {
        match part {
            Lit(text) => out.push_str(text),
            Arg(n, norm) => out.push_str(&normalize(*norm, &arg(args, *n, function)?)),
        }
    }
    Ok(Value::String(out))
}

fn normalize(norm: Norm, s: &str) -> String {
    match norm {
        Raw => s.to_string(),
        Name => upper_first(s),
        Alnum => normalize_alnum(s),
        Function => normalized_function_name(s),
        Path => normalize_path(s),
        Method => upper_first(&s.to_lowercase()),
        Route => s
            .replace('$', "S")
            .replace('/', "Slash")
            .replace('-', "Dash")
            .replace('_', "Underscore")
            .replace('.', "Period"),
        Hash => s.chars().filter(char::is_ascii_alphanumeric).collect(),
    }
}

/// Argument `n` as JavaScript's template literals print it.
fn arg(args: &[Value], n: usize, function: &str) -> Result<String, String> {
    match args.get(n) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(x)) => Ok(js_number(x)),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(Value::Null) | None => Err(format!(
            "provider.naming.{function} needs argument {} (got undefined)",
            n + 1
        )),
        Some(other) => Ok(other.to_string()),
    }
}

fn js_number(x: &serde_json::Number) -> String {
    match x.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i64),
        _ => x.to_string(),
    }
}

fn truthy(args: &[Value], n: usize) -> bool {
    match args.get(n) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(x)) => x.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    }
}

fn regex(source: &str) -> Value {
    json!({"$regex": source, "flags": ""})
}

/// A string setting of the configuration, when set as a non-empty string.
fn setting<'a>(ctx: &'a NamingContext, pointer: &str) -> Option<&'a str> {
    ctx.config
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn flag(ctx: &NamingContext, pointer: &str) -> bool {
    ctx.config
        .pointer(pointer)
        .is_some_and(|v| !v.is_null() && v != &json!(false) && v != &json!(""))
}

/// `<service>-<stage>` or `<stage>-<service>`.
fn api_name(ctx: &NamingContext, service_first: bool) -> String {
    if service_first {
        format!("{}-{}", ctx.service, ctx.stage)
    } else {
        format!("{}-{}", ctx.stage, ctx.service)
    }
}

fn stack_name(ctx: &NamingContext) -> String {
    setting(ctx, "/provider/stackName")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}-{}", ctx.service, ctx.stage))
}

/// The functions that read the configuration or branch on their arguments.
fn special(function: &str, args: &[Value], ctx: &NamingContext) -> Result<Option<Value>, String> {
    let text = |s: String| Ok(Some(Value::String(s)));
    match function {
        "getServiceEndpointRegex" => Ok(Some(regex("^(ServiceEndpoint|HttpApiUrl)"))),
        "getLambdaLogicalIdRegex" => Ok(Some(regex("LambdaFunction$"))),
        "getApiKeyLogicalIdRegex" => Ok(Some(regex("^ApiGatewayApiKey"))),
        "getStackName" => text(stack_name(ctx)),
        "getStackChangeSetName" => text(format!("{}-change-set", stack_name(ctx))),
        "getServiceArtifactName" => text(format!("{}.zip", ctx.service)),
        "getHttpApiLogGroupName" => text(format!("/aws/http-api/{}", stack_name(ctx))),
        "getRolePath" => text(
            setting(ctx, "/provider/iam/role/path")
                .unwrap_or("/")
                .into(),
        ),
        "getRoleName" => Ok(Some(match ctx.config.pointer("/provider/iam/role/name") {
            Some(name) if !name.is_null() => name.clone(),
            _ => {
                json!({"Fn::Join": ["-", [ctx.service, ctx.stage, {"Ref": "AWS::Region"}, "lambdaRole"]]})
            }
        })),
        "getPolicyName" => Ok(Some(
            json!({"Fn::Join": ["-", [ctx.service, ctx.stage, "lambda"]]}),
        )),
        "getApiGatewayName" => match setting(ctx, "/provider/apiName") {
            Some(name) => text(name.into()),
            None => text(api_name(
                ctx,
                flag(ctx, "/provider/apiGateway/shouldStartNameWithService"),
            )),
        },
        "getHttpApiName" => match ctx.config.pointer("/provider/httpApi/name") {
            Some(name) if truthy(std::slice::from_ref(name), 0) => {
                text(arg(std::slice::from_ref(name), 0, function)?)
            }
            _ => text(api_name(
                ctx,
                flag(ctx, "/provider/httpApi/shouldStartNameWithService"),
            )),
        },
        "getWebsocketsApiName" => text(match setting(ctx, "/provider/websocketsApiName") {
            Some(name) => name.into(),
            None => format!("{}-{}-websockets", ctx.stage, ctx.service),
        }),
        "getValidatorLogicalId" => text(format!(
            "ApiGateway{}RequestValidator",
            normalize_alnum(&ctx.service)
        )),
        "getHttpApiRouteLogicalId" => {
            let route = arg(args, 0, function)?;
            text(if route == "*" {
                "HttpApiRouteDefault".into()
            } else {
                format!("HttpApiRoute{}", normalize_path(&route))
            })
        }
        "getLambdaAlexaSkillPermissionLogicalId" => {
            let index = if truthy(args, 1) {
                arg(args, 1, function)?
            } else {
                "0".into()
            };
            text(format!(
                "{}LambdaPermissionAlexaSkill{index}",
                normalized_function_name(&arg(args, 0, function)?)
            ))
        }
        "getApiKeyLogicalId" => named_numbered("ApiGatewayApiKey", args, function),
        "getUsagePlanKeyLogicalId" => named_numbered("ApiGatewayUsagePlanKey", args, function),
        "getUsagePlanLogicalId" => text(if truthy(args, 0) {
            format!(
                "ApiGatewayUsagePlan{}",
                upper_first(&arg(args, 0, function)?)
            )
        } else {
            "ApiGatewayUsagePlan".into()
        }),
        "getAlbTargetGroupLogicalId" => text(format!(
            "{}Alb{}TargetGroup{}",
            normalized_function_name(&arg(args, 0, function)?),
            if truthy(args, 2) { "MultiValue" } else { "" },
            arg(args, 1, function)?
        )),
        "getLambdaLayerPermissionLogicalId" => text(format!(
            "{}{}LambdaLayerPermission",
            normalized_function_name(&arg(args, 0, function)?),
            arg(args, 1, function)?.replacen('*', "Wild", 1)
        )),
        "extractLambdaNameFromArn" => {
            let arn = arg(args, 0, function)?;
            text(arn.rsplit(':').next().unwrap_or_default().to_string())
        }
        "extractResourceId" => {
            let id = arg(args, 0, function)?;
            match id.find("ApiGatewayResource") {
                Some(at) => text(id[at + "ApiGatewayResource".len()..].to_string()),
                None => Err(format!(
                    "provider.naming.extractResourceId: no resource id in {id}"
                )),
            }
        }
        "getStreamConsumerName" => {
            let (function_name, stream) = (arg(args, 0, function)?, arg(args, 1, function)?);
            text(if flag(ctx, "/provider/kinesis/consumerNamingMode") {
                format!(
                    "{function_name}{stream}{}{}Consumer",
                    ctx.service, ctx.stage
                )
            } else {
                format!("{function_name}{stream}Consumer")
            })
        }
        "getEcrRepositoryName" => text(ecr_repository_name(ctx)),
        "getCloudFrontCachePolicyName" => text(format!(
            "{}-{}-{}",
            ctx.service,
            ctx.stage,
            arg(args, 0, function)?
        )),
        "getMSKEventLogicalId" => text(format!(
            "{}EventSourceMappingMSK{}{}",
            normalized_function_name(&arg(args, 0, function)?),
            truncated(&normalize_alnum(&arg(args, 1, function)?), 79),
            truncated(&normalize_alnum(&arg(args, 2, function)?), 79)
        )),
        "getKafkaEventLogicalId" => mapping("Kafka", 158, args, function),
        "getActiveMQEventLogicalId" => mapping("ActiveMQ", 150, args, function),
        "getRabbitMQEventLogicalId" => mapping("RabbitMQ", 150, args, function),
        _ => Ok(None),
    }
}

fn named_numbered(prefix: &str, args: &[Value], function: &str) -> Result<Option<Value>, String> {
    let number = arg(args, 0, function)?;
    let name = if truthy(args, 1) {
        upper_first(&arg(args, 1, function)?)
    } else {
        String::new()
    };
    Ok(Some(Value::String(format!("{prefix}{name}{number}"))))
}

fn mapping(
    kind: &str,
    limit: usize,
    args: &[Value],
    function: &str,
) -> Result<Option<Value>, String> {
    Ok(Some(Value::String(format!(
        "{}EventSourceMapping{kind}{}",
        normalized_function_name(&arg(args, 0, function)?),
        truncated(&normalize_alnum(&arg(args, 1, function)?), limit)
    ))))
}

fn truncated(s: &str, limit: usize) -> String {
    s.chars().take(limit).collect()
}

/// `serverless-<service>-<stage>`, lower-cased, runs of `-` squeezed, no trailing `-`.
fn ecr_repository_name(ctx: &NamingContext) -> String {
    let name = format!("serverless-{}-{}", ctx.service, ctx.stage).to_lowercase();
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.strip_suffix('-').map(str::to_string).unwrap_or(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(config: Value) -> NamingContext {
        NamingContext {
            service: "my-svc".into(),
            stage: "dev".into(),
            config,
        }
    }

    fn name(function: &str, args: Value, config: Value) -> Value {
        call(function, args.as_array().unwrap(), &ctx(config)).unwrap()
    }

    #[test]
    fn joined_names_match_v3() {
        let none = json!({});
        let cases = [
            (
                "getLambdaLogicalId",
                json!(["hello-world_x"]),
                "HelloDashworldUnderscorexLambdaFunction",
            ),
            (
                "getLogGroupName",
                json!(["my-svc-dev-hello"]),
                "/aws/lambda/my-svc-dev-hello",
            ),
            (
                "getMethodLogicalId",
                json!(["ApiGatewayResourceUsers", "GET"]),
                "ApiGatewayMethodApiGatewayResourceUsersGet",
            ),
            (
                "getResourceLogicalId",
                json!(["users/{id}/items"]),
                "ApiGatewayResourceUsersIdVarItems",
            ),
            (
                "getLambdaVersionLogicalId",
                json!(["hello", "a+b/c="]),
                "HelloLambdaVersionabc",
            ),
            (
                "getLambdaVersionOutputLogicalId",
                json!(["hello"]),
                "HelloLambdaFunctionQualifiedArn",
            ),
            (
                "getScheduleLogicalId",
                json!(["hello", 2]),
                "HelloEventsRuleSchedule2",
            ),
            (
                "getStreamLogicalId",
                json!(["fn", "dynamodb", "my-table"]),
                "FnEventSourceMappingDynamodbMytable",
            ),
            (
                "getTopicDLQPolicyLogicalId",
                json!(["fn", "dlq-topic"]),
                "DlqtopicToFnDLQPolicy",
            ),
            (
                "getWebsocketsRouteLogicalId",
                json!(["$connect"]),
                "SconnectWebsocketsRoute",
            ),
            (
                "getLambdaAtEdgeInvokePermissionLogicalId",
                json!(["edge"]),
                "EdgeLambdaFunctionInvokePermission",
            ),
        ];
        for (function, args, want) in cases {
            assert_eq!(
                name(function, args, none.clone()),
                json!(want),
                "{function}"
            );
        }
    }

    #[test]
    fn configuration_dependent_names_match_v3() {
        assert_eq!(
            name("getStackName", json!([]), json!({})),
            json!("my-svc-dev")
        );
        let custom = json!({"provider": {"stackName": "custom", "apiName": "api"}});
        assert_eq!(
            name("getStackName", json!([]), custom.clone()),
            json!("custom")
        );
        assert_eq!(name("getApiGatewayName", json!([]), custom), json!("api"));
        assert_eq!(
            name("getApiGatewayName", json!([]), json!({})),
            json!("dev-my-svc")
        );
        let first = json!({"provider": {"apiGateway": {"shouldStartNameWithService": true}}});
        assert_eq!(
            name("getApiGatewayName", json!([]), first),
            json!("my-svc-dev")
        );
        assert_eq!(
            name("getWebsocketsApiName", json!([]), json!({})),
            json!("dev-my-svc-websockets")
        );
        assert_eq!(
            name("getHttpApiLogGroupName", json!([]), json!({})),
            json!("/aws/http-api/my-svc-dev")
        );
    }

    #[test]
    fn branching_names_match_v3() {
        let none = json!({});
        assert_eq!(
            name("getApiKeyLogicalId", json!([1]), none.clone()),
            json!("ApiGatewayApiKey1")
        );
        assert_eq!(
            name("getApiKeyLogicalId", json!([2, "free"]), none.clone()),
            json!("ApiGatewayApiKeyFree2")
        );
        assert_eq!(
            name("getUsagePlanLogicalId", json!([]), none.clone()),
            json!("ApiGatewayUsagePlan")
        );
        assert_eq!(
            name(
                "getLambdaAlexaSkillPermissionLogicalId",
                json!(["a"]),
                none.clone()
            ),
            json!("ALambdaPermissionAlexaSkill0")
        );
        assert_eq!(
            name("getHttpApiRouteLogicalId", json!(["*"]), none.clone()),
            json!("HttpApiRouteDefault")
        );
        assert_eq!(
            name(
                "getHttpApiRouteLogicalId",
                json!(["GET /users/{id}"]),
                none.clone()
            ),
            json!("HttpApiRouteGetUsersIdVar")
        );
        assert_eq!(
            name("getServiceEndpointRegex", json!([]), none.clone())["$regex"],
            json!("^(ServiceEndpoint|HttpApiUrl)")
        );
        assert_eq!(
            name("getEcrRepositoryName", json!([]), none),
            json!("serverless-my-svc-dev")
        );
    }

    #[test]
    fn unknown_functions_and_missing_arguments_are_errors() {
        let err = call("getSomething", &[], &ctx(json!({}))).unwrap_err();
        assert!(err.contains("provider.naming.getSomething"), "{err}");
        let err = call("getLambdaLogicalId", &[], &ctx(json!({}))).unwrap_err();
        assert!(err.contains("needs argument 1"), "{err}");
    }
}
