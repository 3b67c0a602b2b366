//! Reading the shared AWS config and credentials files: where they are, whether a profile
//! exists, and what a profile declares (role, MFA, SSO) before any network call.

use std::fmt;
use std::path::PathBuf;

use aws_config::profile::{ProfileFileCredentialsProvider, ProfileSet};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};
use aws_types::region::Region;

use super::error::{CredentialError, error_chain};

/// The two files profiles are read from, as the AWS CLI and SDKs locate them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProfilePaths {
    /// `AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub config: PathBuf,
    /// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub credentials: PathBuf,
}

impl ProfilePaths {
    /// The paths for the current process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// The paths for an environment given as a lookup function.
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let home = env("HOME")
            .or_else(|| env("USERPROFILE"))
            .unwrap_or_else(|| "~".into());
        let expand = |p: String| -> PathBuf {
            match p.strip_prefix("~/") {
                Some(rest) => PathBuf::from(&home).join(rest),
                None => PathBuf::from(p),
            }
        };
        let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
        ProfilePaths {
            config: expand(non_empty("AWS_CONFIG_FILE").unwrap_or_else(|| "~/.aws/config".into())),
            credentials: expand(
                non_empty("AWS_SHARED_CREDENTIALS_FILE")
                    .unwrap_or_else(|| "~/.aws/credentials".into()),
            ),
        }
    }
}

impl fmt::Display for ProfilePaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} and {}",
            self.config.display(),
            self.credentials.display()
        )
    }
}

/// The parsed profiles of both files.
#[derive(Debug, Clone)]
pub(crate) struct Profiles {
    set: ProfileSet,
    /// Where they were read from (for messages).
    pub paths: ProfilePaths,
}

impl Profiles {
    /// Parse the config and credentials files of the current environment. Missing files are
    /// an empty set; a file that does not parse is an error naming it.
    pub async fn load() -> Result<Profiles, CredentialError> {
        let paths = ProfilePaths::from_env();
        let set =
            aws_config::profile::load(&Fs::real(), &Env::real(), &EnvConfigFiles::default(), None)
                .await
                .map_err(|e| CredentialError::ProfileFiles {
                    files: paths.to_string(),
                    reason: error_chain(&e),
                })?;
        Ok(Profiles { set, paths })
    }

    /// Whether `name` is a profile in either file.
    pub fn contains(&self, name: &str) -> bool {
        self.profile(name).is_some()
    }

    /// The parser always adds an empty `default` profile; only a `default` that sets
    /// something counts as existing.
    fn profile(&self, name: &str) -> Option<&aws_config::profile::Profile> {
        const KEYS: [&str; 14] = [
            "aws_access_key_id",
            "aws_session_token",
            "role_arn",
            "source_profile",
            "credential_source",
            "credential_process",
            "sso_session",
            "sso_start_url",
            "web_identity_token_file",
            "login_session",
            "mfa_serial",
            "region",
            "output",
            "endpoint_url",
        ];
        let p = self.set.get_profile(name)?;
        (name != "default" || KEYS.iter().any(|k| p.get(k).is_some())).then_some(p)
    }

    /// The error for a named profile that is not there; `origin` is what chose it.
    pub(crate) fn not_found(&self, name: &str, origin: &str) -> CredentialError {
        CredentialError::ProfileNotFound {
            name: name.to_string(),
            origin: origin.to_string(),
            files: self.paths.to_string(),
            known: self.known(),
        }
    }

    /// ` (profiles found: a, b)` for messages about a missing profile.
    fn known(&self) -> String {
        let names = self.names();
        if names.is_empty() {
            " (no profiles found there)".into()
        } else {
            format!(" (profiles found: {})", names.join(", "))
        }
    }

    /// Names of all profiles, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .set
            .profiles()
            .filter(|n| self.contains(n))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// The static keys of profile `name` (`aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_session_token`), when it has both of the pair.
    pub fn static_keys(&self, name: &str) -> Option<aws_credential_types::Credentials> {
        let p = self.profile(name)?;
        let get = |k: &str| p.get(k).map(str::to_string).filter(|v| !v.is_empty());
        Some(aws_credential_types::Credentials::new(
            get("aws_access_key_id")?,
            get("aws_secret_access_key")?,
            get("aws_session_token"),
            None,
            "deployer-profile-keys",
        ))
    }

    /// What profile `name` declares, or `None` when it does not exist.
    pub fn info(&self, name: &str) -> Option<ProfileInfo> {
        let p = self.profile(name)?;
        let get = |k: &str| p.get(k).map(str::to_string).filter(|v| !v.is_empty());
        let sso_session = get("sso_session");
        Some(ProfileInfo {
            name: name.to_string(),
            role_arn: get("role_arn"),
            source_profile: get("source_profile"),
            credential_source: get("credential_source"),
            mfa_serial: get("mfa_serial"),
            role_session_name: get("role_session_name"),
            duration_seconds: get("duration_seconds").and_then(|v| v.parse().ok()),
            external_id: get("external_id"),
            sso_account_id: get("sso_account_id"),
            is_sso: get("sso_start_url").is_some() || sso_session.is_some(),
            has_static_keys: get("aws_access_key_id").is_some(),
            credential_process: get("credential_process").is_some(),
            web_identity: get("web_identity_token_file").is_some(),
            web_identity_token_file: get("web_identity_token_file"),
        })
    }
}

/// The credential-relevant settings of one profile (never its secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProfileInfo {
    /// Profile name.
    pub name: String,
    /// `role_arn`.
    pub role_arn: Option<String>,
    /// `source_profile`.
    pub source_profile: Option<String>,
    /// `credential_source`.
    pub credential_source: Option<String>,
    /// `mfa_serial`.
    pub mfa_serial: Option<String>,
    /// `role_session_name`.
    pub role_session_name: Option<String>,
    /// `duration_seconds`.
    pub duration_seconds: Option<i32>,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `sso_account_id`.
    pub sso_account_id: Option<String>,
    /// The profile uses IAM Identity Center (`sso_start_url` or `sso_session`).
    pub is_sso: bool,
    /// `aws_access_key_id` is set.
    pub has_static_keys: bool,
    /// `credential_process` is set.
    pub credential_process: bool,
    /// `web_identity_token_file` is set.
    pub web_identity: bool,
    /// `web_identity_token_file`.
    pub web_identity_token_file: Option<String>,
}

impl ProfileInfo {
    /// The account the profile's credentials will belong to, when the profile says so itself,
    /// with what says it (for messages): the role's ARN or `sso_account_id`.
    pub fn declared_account(&self) -> Option<(String, String)> {
        if let Some(arn) = &self.role_arn
            && let Some(account) = account_of_arn(arn)
        {
            return Some((account.to_string(), format!("assumes {arn}")));
        }
        self.sso_account_id.as_ref().map(|a| {
            (
                a.clone(),
                format!("signs in to account {a} (sso_account_id)"),
            )
        })
    }

    /// A role profile that needs an MFA code, which aws-config cannot do by itself.
    pub fn needs_mfa(&self) -> bool {
        self.role_arn.is_some() && self.mfa_serial.is_some()
    }
}

/// The SDK's provider for profile `name` alone (role assumptions in `region`), built directly
/// so a failure never falls through to another source.
pub(crate) fn provider(name: &str, region: &Region) -> ProfileFileCredentialsProvider {
    let conf = crate::clients::provider_config(region);
    ProfileFileCredentialsProvider::builder()
        .profile_name(name)
        .configure(&conf)
        .build()
}

/// The 12-digit account id of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
pub(crate) fn account_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let account = parts.nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_read_from_role_arns() {
        assert_eq!(
            account_of_arn("arn:aws:iam::222222222222:role/deployer"),
            Some("222222222222")
        );
        assert_eq!(
            account_of_arn("arn:aws-cn:iam::123456789012:role/x"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("arn:aws:iam::alias:role/x"), None);
        assert_eq!(account_of_arn("role/x"), None);
    }

    #[test]
    fn paths_honour_the_environment_and_home() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            "AWS_CONFIG_FILE" => Some("/etc/aws.cfg".to_string()),
            _ => None,
        };
        let p = ProfilePaths::from_lookup(&env);
        assert_eq!(p.config, PathBuf::from("/etc/aws.cfg"));
        assert_eq!(p.credentials, PathBuf::from("/home/u/.aws/credentials"));
        assert_eq!(p.to_string(), "/etc/aws.cfg and /home/u/.aws/credentials");
    }

    #[test]
    fn declared_account_prefers_the_role() {
        let info = ProfileInfo {
            role_arn: Some("arn:aws:iam::333333333333:role/r".into()),
            sso_account_id: Some("444444444444".into()),
            ..Default::default()
        };
        assert_eq!(info.declared_account().unwrap().0, "333333333333");
        let sso = ProfileInfo {
            sso_account_id: Some("444444444444".into()),
            ..Default::default()
        };
        assert_eq!(sso.declared_account().unwrap().0, "444444444444");
        assert!(ProfileInfo::default().declared_account().is_none());
    }
}
