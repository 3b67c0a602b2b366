//! Role profiles deployer assumes itself, so every AssumeRole lands in the session's counter:
//! `source_profile` chains of any length (the base credentials of each link are the previous
//! link's assumed credentials; a cycle is an error naming the profiles) and `credential_source`
//! roles. Each link keeps its own settings (role, external id, session name, duration, MFA,
//! region and endpoint of its profile).

use std::future::Future;
use std::pin::Pin;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::region::Region;

use super::error::CredentialError;
use super::mfa::{self, MfaContext};
use super::profile::{self, ProfileInfo, Profiles};
use super::sts::{self, AssumeRoleProvider, RoleRequest, WebIdentity, WebIdentityProvider};
use crate::calls::CallCounter;

/// What building a role chain needs.
pub(crate) struct RoleContext<'a> {
    /// The MFA context (profiles, region, options, counter, source name).
    pub mfa: MfaContext<'a>,
}

type Built<'a> =
    Pin<Box<dyn Future<Output = Result<SharedCredentialsProvider, CredentialError>> + Send + 'a>>;

/// Whether deployer builds the provider of profile `info` itself: a role with a base
/// (another profile, its own keys, or a `credential_source`), or a web identity role.
pub(crate) fn handles(info: &ProfileInfo) -> bool {
    info.role_arn.is_some()
        && (info.web_identity || info.source_profile.is_some() || info.credential_source.is_some())
}

impl RoleContext<'_> {
    fn profiles(&self) -> &Profiles {
        self.mfa.profiles
    }

    fn region(&self) -> &Region {
        self.mfa.region
    }

    fn counter(&self) -> &CallCounter {
        self.mfa.counter
    }

    /// The provider of profile `info` (one that [`handles`] accepts).
    pub(crate) async fn provider(
        &self,
        info: &ProfileInfo,
    ) -> Result<SharedCredentialsProvider, CredentialError> {
        self.link(info.clone(), vec![info.name.clone()]).await
    }

    /// One link: its base (recursively), then its own AssumeRole. `seen` is the chain so far,
    /// from the selected profile down.
    fn link(&self, info: ProfileInfo, seen: Vec<String>) -> Built<'_> {
        Box::pin(async move {
            if info.web_identity {
                return Ok(self.web_identity(&info).await);
            }
            let base = self.base(&info, seen).await?;
            if info.mfa_serial.is_some() {
                let creds = mfa::assume_role(&info, base, &self.mfa).await?;
                return Ok(SharedCredentialsProvider::new(creds));
            }
            let config = sts::role_config(&info, self.region(), base).await;
            let req = RoleRequest::for_profile(&info, None);
            Ok(SharedCredentialsProvider::new(AssumeRoleProvider::new(
                config,
                self.counter(),
                req,
            )))
        })
    }

    /// The base credentials of role link `info`.
    async fn base(
        &self,
        info: &ProfileInfo,
        mut seen: Vec<String>,
    ) -> Result<SharedCredentialsProvider, CredentialError> {
        let Some(name) = info.source_profile.as_deref() else {
            return self.credential_source(info);
        };
        if name == info.name {
            // Keys and role in one profile: its own keys are the base.
            return self.own_keys(info);
        }
        if seen.iter().any(|s| s == name) {
            seen.push(name.to_string());
            return Err(CredentialError::SourceProfileCycle {
                chain: seen.join(" → "),
            });
        }
        let base = self
            .profiles()
            .info(name)
            .ok_or_else(|| CredentialError::ProfileNotFound {
                name: name.to_string(),
                origin: format!("source_profile of profile \"{}\"", info.name),
                files: self.profiles().paths.to_string(),
                known: String::new(),
            })?;
        seen.push(name.to_string());
        if handles(&base) || (base.role_arn.is_some() && base.mfa_serial.is_some()) {
            return self.link(base, seen).await;
        }
        Ok(SharedCredentialsProvider::new(profile::provider(
            name,
            self.region(),
        )))
    }

    /// The keys of a role profile whose `source_profile` is itself.
    fn own_keys(&self, info: &ProfileInfo) -> Result<SharedCredentialsProvider, CredentialError> {
        match self.profiles().static_keys(&info.name) {
            Some(keys) => Ok(SharedCredentialsProvider::new(keys)),
            None => Err(CredentialError::Provider {
                source_name: format!("profile \"{}\"", info.name),
                reason: "source_profile names the profile itself, which has no \
                         aws_access_key_id and aws_secret_access_key"
                    .into(),
            }),
        }
    }

    /// The base of a `credential_source` role, or the error for a role with no base.
    fn credential_source(
        &self,
        info: &ProfileInfo,
    ) -> Result<SharedCredentialsProvider, CredentialError> {
        let conf = crate::clients::provider_config(self.region());
        let provider = match info.credential_source.as_deref() {
            Some("Environment") => {
                SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new())
            }
            Some("Ec2InstanceMetadata") => SharedCredentialsProvider::new(
                ImdsCredentialsProvider::builder().configure(&conf).build(),
            ),
            Some("EcsContainer") => SharedCredentialsProvider::new(
                EcsCredentialsProvider::builder().configure(&conf).build(),
            ),
            other => {
                return Err(CredentialError::Provider {
                    source_name: format!("profile \"{}\"", info.name),
                    reason: match other {
                        Some(v) => format!(
                            "credential_source = {v} is not one of Environment, \
                             Ec2InstanceMetadata, EcsContainer"
                        ),
                        None => "role_arn without source_profile or credential_source".into(),
                    },
                });
            }
        };
        Ok(provider)
    }

    /// A profile with `web_identity_token_file` and `role_arn`.
    async fn web_identity(&self, info: &ProfileInfo) -> SharedCredentialsProvider {
        let config = sts::unsigned_config(Some(&info.name), self.region()).await;
        let identity = WebIdentity {
            token_file: info.web_identity_token_file.clone().unwrap_or_default(),
            role_arn: info.role_arn.clone().unwrap_or_default(),
            session_name: info.role_session_name.clone(),
        };
        SharedCredentialsProvider::new(WebIdentityProvider::new(config, self.counter(), identity))
    }
}
