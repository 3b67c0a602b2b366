//! The SDK clients a deploy needs, built from one stage's `SdkConfig` with the call counter
//! attached.

use std::time::Duration;

use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::calls::CallCounter;

/// CloudFormation, S3 and SSM clients for one stage (one account, one region).
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// CloudFormation in the stage's region.
    pub cfn: aws_sdk_cloudformation::Client,
    /// S3 in the stage's region (path-style addressing when a custom endpoint is configured).
    pub s3: aws_sdk_s3::Client,
    /// SSM in the stage's region (for `${ssm:...}`).
    pub ssm: aws_sdk_ssm::Client,
    /// Lambda in the stage's region (`deploy function`, `invoke`).
    pub lambda: aws_sdk_lambda::Client,
    /// CloudWatch Logs in the stage's region (`logs`).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// CloudWatch in the stage's region (`metrics`).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The stage's region.
    pub region: String,
    sdk: SdkConfig,
    counter: CallCounter,
    timeouts: CallTimeouts,
}

impl AwsClients {
    /// Clients for `sdk` (already carrying the stage's credentials and region), each counting
    /// its requests in `counter`.
    pub fn new(sdk: &SdkConfig, counter: &CallCounter) -> Self {
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        crate::endpoint::note(sdk.endpoint_url(), &region);
        let timeouts = CallTimeouts::from_env();
        let sdk = &bounded(sdk, &timeouts);
        Self {
            cfn: cfn_client(sdk, counter, None),
            s3: s3_client(sdk, counter, None),
            ssm: ssm_client(sdk, counter, None),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(sdk)
                    .interceptor(counter.interceptor())
                    .build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
                    .interceptor(counter.interceptor())
                    .build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(sdk)
                    .interceptor(counter.interceptor())
                    .build(),
            ),
            region,
            sdk: sdk.clone(),
            counter: counter.clone(),
            timeouts,
        }
    }

    /// The time limits these clients apply.
    pub fn timeouts(&self) -> &CallTimeouts {
        &self.timeouts
    }

    /// The request counter shared by these clients.
    pub fn counter(&self) -> &CallCounter {
        &self.counter
    }

    /// The stage's SDK configuration with the call limits, for clients built elsewhere.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// A CloudFormation client for another region (for `${cf(region):...}`).
    pub fn cfn_in(&self, region: &str) -> aws_sdk_cloudformation::Client {
        if region == self.region {
            return self.cfn.clone();
        }
        cfn_client(&self.sdk, &self.counter, Some(region))
    }

    /// An SSM client for another region (for `${ssm(region):...}`).
    pub fn ssm_in(&self, region: &str) -> aws_sdk_ssm::Client {
        if region == self.region {
            return self.ssm.clone();
        }
        ssm_client(&self.sdk, &self.counter, Some(region))
    }
}

/// Time limits of every AWS call. Without them a stalled endpoint (a connection that is
/// accepted but never answered) would hang a deploy for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimeouts {
    /// Establishing a TCP/TLS connection.
    pub connect: Duration,
    /// One attempt of a small call (every call but uploads); the SDK retries after it.
    pub attempt: Duration,
    /// Lowest throughput an upload is allowed, in bytes per second: an upload's attempt limit
    /// is `attempt + size / upload_floor`.
    pub upload_floor: u64,
}

impl Default for CallTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            attempt: Duration::from_secs(60),
            upload_floor: 128 * 1024,
        }
    }
}

/// Overrides the per-attempt limit (seconds), for slow links or tests.
pub const ATTEMPT_TIMEOUT_ENV: &str = "DEPLOYER_AWS_ATTEMPT_TIMEOUT";

impl CallTimeouts {
    /// The defaults, with the attempt limit from [`ATTEMPT_TIMEOUT_ENV`] when it is set to a
    /// positive number of seconds (the connect limit follows it down).
    pub fn from_env() -> Self {
        let mut t = Self::default();
        if let Some(secs) = std::env::var(ATTEMPT_TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0 && s.is_finite())
        {
            t.attempt = Duration::from_secs_f64(secs);
            t.connect = t.connect.min(t.attempt);
        }
        t
    }

    /// The attempt limit of an upload of `size` bytes.
    pub fn upload_attempt(&self, size: u64) -> Duration {
        self.attempt + Duration::from_secs(size / self.upload_floor.max(1))
    }

    /// Limits for a call whose attempts may take `attempt`: the whole call (all attempts and
    /// the backoff between them) gets three attempts' worth plus a margin.
    pub fn config_for(&self, attempt: Duration) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(attempt)
            .operation_timeout(attempt * 3 + Duration::from_secs(10))
            .build()
    }
}

/// `loader` with the call limits of [`CallTimeouts::from_env`], for the configurations the
/// credential check builds (STS GetCallerIdentity, AssumeRole). Retries stay the loader's own
/// (standard, or what `AWS_MAX_ATTEMPTS`/the profile say).
pub(crate) fn bounded_loader(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    let t = CallTimeouts::from_env();
    loader
        .timeout_config(t.config_for(t.attempt))
        .http_client(https_client())
}

/// The HTTPS client of every SDK call and credential provider: rustls on ring. The SDK crates
/// are built without their default client (it would add aws-lc-sys, a second crypto stack), so
/// every configuration gets this one; a configuration without it cannot send anything.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// What the SDK's credential providers (profile chains, IMDS, ECS, web identity) are built
/// with: `region` and [`https_client`].
pub(crate) fn provider_config(region: &Region) -> ProviderConfig {
    ProviderConfig::without_region()
        .with_region(Some(region.clone()))
        .with_http_client(https_client())
}

/// `sdk` with the call limits and the SDK's standard retry mode (kept when already set).
fn bounded(sdk: &SdkConfig, timeouts: &CallTimeouts) -> SdkConfig {
    let mut b = sdk.to_builder();
    b.set_timeout_config(Some(timeouts.config_for(timeouts.attempt)));
    if sdk.retry_config().is_none() {
        b.set_retry_config(Some(RetryConfig::standard()));
    }
    b.build()
}

fn cfn_client(
    sdk: &SdkConfig,
    counter: &CallCounter,
    region: Option<&str>,
) -> aws_sdk_cloudformation::Client {
    let mut b =
        aws_sdk_cloudformation::config::Builder::from(sdk).interceptor(counter.interceptor());
    if let Some(r) = region {
        b = b.region(Region::new(r.to_string()));
    }
    aws_sdk_cloudformation::Client::from_conf(b.build())
}

fn ssm_client(sdk: &SdkConfig, counter: &CallCounter, region: Option<&str>) -> aws_sdk_ssm::Client {
    let mut b = aws_sdk_ssm::config::Builder::from(sdk).interceptor(counter.interceptor());
    if let Some(r) = region {
        b = b.region(Region::new(r.to_string()));
    }
    aws_sdk_ssm::Client::from_conf(b.build())
}

fn s3_client(sdk: &SdkConfig, counter: &CallCounter, region: Option<&str>) -> aws_sdk_s3::Client {
    // A custom endpoint (a local emulator) cannot serve virtual-hosted bucket names such as
    // `bucket.localhost`, so address buckets by path there.
    let mut b = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .interceptor(counter.interceptor());
    if let Some(r) = region {
        b = b.region(Region::new(r.to_string()));
    }
    aws_sdk_s3::Client::from_conf(b.build())
}
