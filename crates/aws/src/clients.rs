//! The SDK clients a deploy needs, built from one stage's `SdkConfig` with the call counter
//! attached.

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
    /// The stage's region.
    pub region: String,
    sdk: SdkConfig,
    counter: CallCounter,
}

impl AwsClients {
    /// Clients for `sdk` (already carrying the stage's credentials and region), each counting
    /// its requests in `counter`.
    pub fn new(sdk: &SdkConfig, counter: &CallCounter) -> Self {
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        Self {
            cfn: cfn_client(sdk, counter, None),
            s3: s3_client(sdk, counter, None),
            ssm: ssm_client(sdk, counter, None),
            region,
            sdk: sdk.clone(),
            counter: counter.clone(),
        }
    }

    /// The request counter shared by these clients.
    pub fn counter(&self) -> &CallCounter {
        &self.counter
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
