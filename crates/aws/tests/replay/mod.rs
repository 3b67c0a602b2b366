//! What the replay tests share: an SDK configuration whose HTTP client is a recording.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// An SDK configuration for `region` that sends every request to `http` (a replay or scripted
/// client), with test keys and three fast attempts.
pub fn sdk(http: SharedHttpClient, region: &'static str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url("https://aws.test")
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep"))
        .http_client(http)
        .build()
}
