//! The SDK's default chain, for a stage no explicit source covers: environment keys,
//! `AWS_PROFILE` / `default`, web identity, container and instance metadata.

use std::time::Duration;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::Credentials;
use aws_credential_types::credential_feature::AwsCredentialFeature;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_types::region::Region;

use super::error::error_chain;
use super::profile::ProfileInfo;
use super::sts::{self, WebIdentity, WebIdentityProvider};
use crate::calls::CallCounter;

/// How long to wait for the instance metadata service: it only exists on EC2, and elsewhere a
/// default-chain miss must fail within a second or two, not after several retries.
const IMDS_TIMEOUT: Duration = Duration::from_millis(400);

/// The SDK's default chain (environment, profile, web identity, container, instance
/// metadata), with instance metadata bounded to one short attempt whose failure counts as
/// "nothing found" rather than a loud error, and the environment's web identity role assumed
/// on the session's counted STS client.
pub(crate) async fn default_chain(
    region: &Region,
    counter: &CallCounter,
    env: &dyn Fn(&str) -> Option<String>,
) -> CredentialsProviderChain {
    let conf = crate::clients::provider_config(region);
    let imds_client = aws_config::imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .operation_timeout(IMDS_TIMEOUT * 3)
        .configure(&conf)
        .build();
    let imds = ImdsCredentialsProvider::builder()
        .imds_client(imds_client)
        .configure(&conf)
        .build();
    CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "Profile",
        ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .build(),
    )
    .or_else(
        "WebIdentityToken",
        web_identity(&conf, region, counter, env).await,
    )
    .or_else(
        "EcsContainer",
        EcsCredentialsProvider::builder().configure(&conf).build(),
    )
    .or_else("Ec2InstanceMetadata", QuietImds(imds))
}

/// The environment's web identity role (`AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`) on
/// the counted client; without both, the SDK's provider (which then finds nothing).
async fn web_identity(
    conf: &ProviderConfig,
    region: &Region,
    counter: &CallCounter,
    env: &dyn Fn(&str) -> Option<String>,
) -> SharedCredentialsProvider {
    let (Some(token_file), Some(role_arn)) =
        (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN"))
    else {
        return SharedCredentialsProvider::new(
            WebIdentityTokenCredentialsProvider::builder()
                .configure(conf)
                .build(),
        );
    };
    let identity = WebIdentity {
        token_file,
        role_arn,
        session_name: env("AWS_ROLE_SESSION_NAME"),
    };
    let config = sts::unsigned_config(None, region).await;
    SharedCredentialsProvider::new(WebIdentityProvider::new(config, counter, identity))
}

/// Instance metadata that is unreachable or refused (not on EC2, IMDS disabled, a proxy in
/// the way) means "no credentials here", so the chain ends with a clean not-loaded error.
#[derive(Debug)]
struct QuietImds(ImdsCredentialsProvider);

impl ProvideCredentials for QuietImds {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.0.provide_credentials().await.map_err(|e| match e {
                CredentialsError::CredentialsNotLoaded(_) => e,
                other => {
                    tracing::debug!("instance metadata: {}", error_chain(&other));
                    CredentialsError::not_loaded("instance metadata did not provide credentials")
                }
            })
        })
    }
}

/// Which link of the default chain produced `creds`.
pub(crate) fn chain_link(
    creds: &Credentials,
    info: Option<&ProfileInfo>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (String, Option<String>) {
    let features = creds
        .get_property::<Vec<AwsCredentialFeature>>()
        .cloned()
        .unwrap_or_default();
    let has = |f: AwsCredentialFeature| features.contains(&f);
    let profile = info.map(|i| i.name.clone());
    if has(AwsCredentialFeature::CredentialsEnvVars) {
        ("environment variables".into(), None)
    } else if has(AwsCredentialFeature::CredentialsEnvVarsStsWebIdToken)
        || has(AwsCredentialFeature::CredentialsProfileStsWebIdToken)
        || has(AwsCredentialFeature::CredentialsStsAssumeRoleWebId)
        || (profile.is_none() && env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some())
    {
        let role = env("AWS_ROLE_ARN").unwrap_or_default();
        (format!("web identity token, role {role}"), None)
    } else if has(AwsCredentialFeature::CredentialsHttp) {
        ("container credentials".into(), None)
    } else if has(AwsCredentialFeature::CredentialsImds) {
        ("instance metadata".into(), None)
    } else if let Some(p) = profile {
        let via = if env("AWS_PROFILE").is_some() {
            "AWS_PROFILE"
        } else {
            "default"
        };
        (format!("{via} profile \"{p}\""), Some(p))
    } else {
        ("unknown provider".into(), None)
    }
}
