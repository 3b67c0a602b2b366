//! Which source a stage's credentials come from, and the provider each source builds.
//!
//! Precedence, highest first (one selector each, in `SELECTORS`):
//! 1. `--aws-profile NAME` (that profile only);
//! 2. `AWS_<STAGE>_PROFILE`, then `AWS_<STAGE>_ACCESS_KEY_ID` + `AWS_<STAGE>_SECRET_ACCESS_KEY`
//!    (+ `AWS_<STAGE>_SESSION_TOKEN`);
//! 3. `provider.profile` (that profile only; skipped with `--no-profile`);
//! 4. the SDK's default chain (environment keys, `AWS_PROFILE`, web identity, SSO,
//!    `credential_process`, container, instance metadata).
//!
//! A named profile (1–3) must exist: it never falls through to another source.
//!
//! Adding a source touches this file only: a [`CredentialSource`] variant carrying what it
//! was chosen by, its arm in `facts` (how messages name it), a selector at its place in
//! `SELECTORS`, and its arm in `Selection::resolve` returning its provider (STS calls go
//! through `sts` so the session counts them).

use std::fmt;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_types::region::Region;

use super::chain;
use super::error::{CredentialError, error_chain};
use super::guard::{AccountPin, Evidence, Subject};
use super::mfa::MfaContext;
use super::options::{CredentialOptions, StageTarget};
use super::profile::{self, ProfileInfo, Profiles, account_of_arn};
use super::roles::{self, RoleContext};
use crate::calls::CallCounter;

/// Which source the stage's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `--aws-profile NAME`.
    CliProfile {
        /// Profile name.
        name: String,
    },
    /// `AWS_<STAGE>_PROFILE`.
    StageEnvProfile {
        /// The variable, e.g. `AWS_PROD_PROFILE`.
        var: String,
        /// Profile name.
        name: String,
    },
    /// `AWS_<STAGE>_ACCESS_KEY_ID` and friends.
    StageEnvKeys {
        /// The key id variable, e.g. `AWS_PROD_ACCESS_KEY_ID`.
        var: String,
    },
    /// `provider.profile`.
    ConfigProfile {
        /// Profile name.
        name: String,
    },
    /// The SDK's default chain.
    DefaultChain {
        /// Which link of the chain answered, once known (e.g. `environment variables`).
        detail: Option<String>,
        /// The profile it used, when it used one (`AWS_PROFILE` or `default`).
        profile: Option<String>,
    },
}

/// What describes one source: the profile it uses, what chose it, how messages name it.
struct Facts<'a> {
    profile: Option<&'a str>,
    origin: &'a str,
    label: String,
}

impl CredentialSource {
    /// The one place each source describes itself.
    fn facts(&self) -> Facts<'_> {
        let facts = |profile, origin, label| Facts {
            profile,
            origin,
            label,
        };
        match self {
            CredentialSource::CliProfile { name } => facts(
                Some(name),
                "--aws-profile",
                format!("profile \"{name}\" (--aws-profile)"),
            ),
            CredentialSource::StageEnvProfile { var, name } => {
                facts(Some(name), var, format!("{var} profile \"{name}\""))
            }
            CredentialSource::StageEnvKeys { var } => {
                facts(None, var, format!("environment {var}"))
            }
            CredentialSource::ConfigProfile { name } => facts(
                Some(name),
                "provider.profile",
                format!("profile \"{name}\""),
            ),
            CredentialSource::DefaultChain { detail, profile } => facts(
                profile.as_deref(),
                "the default chain",
                match detail {
                    Some(d) => format!("default chain ({d})"),
                    None => "default chain".into(),
                },
            ),
        }
    }

    /// The profile the credentials come from, if any.
    pub fn profile(&self) -> Option<&str> {
        self.facts().profile
    }

    /// Where a named profile was chosen, for messages.
    fn origin(&self) -> &str {
        self.facts().origin
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.facts().label)
    }
}

/// Static keys taken from the stage's environment variables. Debug never shows the secrets.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StageKeys {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl fmt::Debug for StageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageKeys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// The outcome of the precedence rules, before anything is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    /// The winning source.
    pub source: CredentialSource,
    /// The keys, for [`CredentialSource::StageEnvKeys`].
    pub keys: Option<StageKeys>,
}

/// The stage's variable stems: `AWS_` + the stage upper-cased with every non-alphanumeric
/// character as `_`, then Serverless's form that keeps the characters (`AWS_MY-STAGE`).
pub(crate) fn stage_env_stems(stage: &str) -> Vec<String> {
    let upper = stage.to_uppercase();
    let sanitized: String = upper
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut stems = vec![format!("AWS_{sanitized}")];
    if sanitized != upper {
        stems.push(format!("AWS_{upper}"));
    }
    stems
}

/// What the selectors read: the stage, the options and the non-empty environment values.
struct Inputs<'a> {
    target: &'a StageTarget,
    opts: &'a CredentialOptions,
    stems: Vec<String>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Inputs<'_> {
    fn get(&self, key: &str) -> Option<String> {
        (self.env)(key).filter(|v| !v.is_empty())
    }
}

/// One rule of the precedence: `None` when its source is not configured.
type Selector = fn(&Inputs<'_>) -> Option<Result<Selection, CredentialError>>;

/// The precedence, highest first; the default chain answers when none does.
const SELECTORS: [Selector; 4] = [
    cli_profile,
    stage_env_profile,
    stage_env_keys,
    config_profile,
];

/// Apply the precedence rules to the options and an environment lookup (pure).
pub(crate) fn select_source(
    target: &StageTarget,
    opts: &CredentialOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Selection, CredentialError> {
    let inputs = Inputs {
        target,
        opts,
        stems: stage_env_stems(&target.stage),
        env,
    };
    SELECTORS
        .iter()
        .find_map(|select| select(&inputs))
        .unwrap_or_else(|| {
            Ok(named(CredentialSource::DefaultChain {
                detail: None,
                profile: None,
            }))
        })
}

fn named(source: CredentialSource) -> Selection {
    Selection { source, keys: None }
}

fn cli_profile(i: &Inputs<'_>) -> Option<Result<Selection, CredentialError>> {
    let name = i.opts.aws_profile.as_ref().filter(|n| !n.is_empty())?;
    Some(Ok(named(CredentialSource::CliProfile {
        name: name.clone(),
    })))
}

fn stage_env_profile(i: &Inputs<'_>) -> Option<Result<Selection, CredentialError>> {
    i.stems.iter().find_map(|stem| {
        let var = format!("{stem}_PROFILE");
        let name = i.get(&var)?;
        Some(Ok(named(CredentialSource::StageEnvProfile { var, name })))
    })
}

fn stage_env_keys(i: &Inputs<'_>) -> Option<Result<Selection, CredentialError>> {
    i.stems.iter().find_map(|stem| {
        let id_var = format!("{stem}_ACCESS_KEY_ID");
        let secret_var = format!("{stem}_SECRET_ACCESS_KEY");
        let half = |present: String, missing: String| {
            Some(Err(CredentialError::IncompleteStageKeys {
                present,
                missing,
                stem: stem.clone(),
            }))
        };
        match (i.get(&id_var), i.get(&secret_var)) {
            (Some(access_key_id), Some(secret_access_key)) => Some(Ok(Selection {
                source: CredentialSource::StageEnvKeys { var: id_var },
                keys: Some(StageKeys {
                    access_key_id,
                    secret_access_key,
                    session_token: i.get(&format!("{stem}_SESSION_TOKEN")),
                }),
            })),
            (Some(_), None) => half(id_var, secret_var),
            (None, Some(_)) => half(secret_var, id_var),
            (None, None) => None,
        }
    })
}

fn config_profile(i: &Inputs<'_>) -> Option<Result<Selection, CredentialError>> {
    if i.opts.no_profile {
        return None;
    }
    let name = i.target.profile.as_ref().filter(|n| !n.is_empty())?;
    Some(Ok(named(CredentialSource::ConfigProfile {
        name: name.clone(),
    })))
}

/// What every source's provider may need: the stage, its pin, the profile files, the
/// session's call counter and the process environment.
pub(crate) struct Resolver<'a> {
    /// The stage.
    pub target: &'a StageTarget,
    /// The command-line choices.
    pub opts: &'a CredentialOptions,
    /// The stage's pin, for the checks before any request.
    pub pin: &'a AccountPin,
    /// The parsed profile files.
    pub profiles: &'a Profiles,
    /// The stage's region.
    pub region: Region,
    /// The session's call counter.
    pub counter: &'a CallCounter,
    /// `AWS_DEV`.
    pub stage_env: String,
    /// Non-empty environment values.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// A source's provider and the profile whose settings apply, if any.
pub(crate) struct Resolved {
    /// Gives the credentials (once now, again after expiry).
    pub provider: SharedCredentialsProvider,
    /// The profile used (named, or the default chain's `AWS_PROFILE` / `default`).
    pub profile: Option<ProfileInfo>,
}

impl Selection {
    /// Build the provider of the selected source, refusing early when the profile itself names
    /// an account the pin rules out.
    pub(crate) async fn resolve(&self, r: &Resolver<'_>) -> Result<Resolved, CredentialError> {
        match (&self.source, &self.keys) {
            (CredentialSource::StageEnvKeys { .. }, Some(keys)) => Ok(Resolved {
                provider: keys.provider(),
                profile: None,
            }),
            (CredentialSource::DefaultChain { .. }, _) => r.default_chain(&self.source).await,
            (source, _) => {
                let name = source.profile().unwrap_or_default();
                r.named_profile(name, source).await
            }
        }
    }
}

impl StageKeys {
    fn provider(&self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            self.session_token.clone(),
            None,
            "deployer-stage-env",
        ))
    }
}

impl Resolver<'_> {
    /// A profile chosen by name (1–3 of the precedence), which must exist.
    async fn named_profile(
        &self,
        name: &str,
        source: &CredentialSource,
    ) -> Result<Resolved, CredentialError> {
        let info = self
            .profiles
            .info(name)
            .ok_or_else(|| self.profiles.not_found(name, source.origin()))?;
        self.early_check(source, &info)?;
        let provider = self.profile_provider(&info, source).await?;
        Ok(Resolved {
            provider,
            profile: Some(info),
        })
    }

    /// The default chain; mirrors its order (environment keys, then the profile, then web
    /// identity) to find what it will use, for the early account check.
    async fn default_chain(&self, source: &CredentialSource) -> Result<Resolved, CredentialError> {
        let env = self.env;
        let ambient_keys = env("AWS_ACCESS_KEY_ID").is_some();
        let chain_profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let info = (!ambient_keys)
            .then(|| self.profiles.info(&chain_profile))
            .flatten();
        // Like the AWS CLI, a named AWS_PROFILE that does not exist is an error, not a
        // silent fall-through to a runner's instance role.
        if !ambient_keys
            && info.is_none()
            && let Some(name) = env("AWS_PROFILE")
        {
            return Err(self.profiles.not_found(&name, "AWS_PROFILE"));
        }
        match &info {
            Some(info) => self.early_check(source, info)?,
            None if !ambient_keys => self.web_identity_check(source)?,
            None => {}
        }
        let provider = match &info {
            // A role profile is what the chain would use, and its failure would end the chain.
            Some(info) if roles::handles(info) || info.needs_mfa() => {
                self.profile_provider(info, source).await?
            }
            _ => SharedCredentialsProvider::new(
                chain::default_chain(&self.region, self.counter, self.env).await,
            ),
        };
        Ok(Resolved {
            provider,
            profile: info,
        })
    }

    /// The provider for one profile, built directly so a failure never falls through to
    /// another source; role and web identity profiles are assumed on the session's counted
    /// STS client.
    async fn profile_provider(
        &self,
        info: &ProfileInfo,
        source: &CredentialSource,
    ) -> Result<SharedCredentialsProvider, CredentialError> {
        if roles::handles(info) || info.needs_mfa() {
            let ctx = RoleContext {
                mfa: MfaContext {
                    profiles: self.profiles,
                    region: &self.region,
                    opts: self.opts,
                    counter: self.counter,
                    source_name: source.to_string(),
                },
            };
            return ctx.provider(info).await;
        }
        Ok(SharedCredentialsProvider::new(profile::provider(
            &info.name,
            &self.region,
        )))
    }

    /// The guard's view of `source` for this stage.
    pub(crate) fn subject(&self, source: &CredentialSource) -> Subject {
        Subject {
            stage: self.target.stage.clone(),
            source: source.to_string(),
            stage_env: self.stage_env.clone(),
        }
    }

    /// Refuse before any network call when the profile itself names an account the pin
    /// rules out.
    fn early_check(
        &self,
        source: &CredentialSource,
        info: &ProfileInfo,
    ) -> Result<(), CredentialError> {
        match info.declared_account() {
            Some((account, how)) => self.declared_check(source, &account, how),
            None => Ok(()),
        }
    }

    /// The web identity role of the environment, checked like a profile's role.
    fn web_identity_check(&self, source: &CredentialSource) -> Result<(), CredentialError> {
        let env = self.env;
        if env("AWS_WEB_IDENTITY_TOKEN_FILE").is_none() {
            return Ok(());
        }
        let Some(role) = env("AWS_ROLE_ARN") else {
            return Ok(());
        };
        let Some(account) = account_of_arn(&role) else {
            return Ok(());
        };
        let how = format!("assumes {role} (AWS_ROLE_ARN, web identity)");
        self.declared_check(source, account, how)
    }

    fn declared_check(
        &self,
        source: &CredentialSource,
        account: &str,
        how: String,
    ) -> Result<(), CredentialError> {
        self.subject(source)
            .judge(self.pin, account, Evidence::Declared { how })
            .map(|_| ())
            .map_err(CredentialError::Refused)
    }

    /// The error for a provider that gave no credentials.
    pub(crate) fn provider_error(
        &self,
        err: CredentialsError,
        source: &CredentialSource,
        info: Option<&ProfileInfo>,
    ) -> CredentialError {
        let reason = error_chain(&err);
        if let Some(info) = info.filter(|i| i.is_sso) {
            return CredentialError::SsoLogin {
                profile: info.name.clone(),
                reason,
            };
        }
        let nothing_found = matches!(err, CredentialsError::CredentialsNotLoaded(_));
        match source {
            CredentialSource::DefaultChain { .. } if nothing_found => self.no_credentials(),
            _ => CredentialError::Provider {
                source_name: source.to_string(),
                reason,
            },
        }
    }

    fn no_credentials(&self) -> CredentialError {
        CredentialError::NoCredentials {
            stage: self.target.stage.clone(),
            config_profile: match &self.target.profile {
                Some(p) => format!("provider.profile \"{p}\" skipped by --no-profile"),
                None => "no provider.profile".into(),
            },
            stem: self.stage_env.clone(),
            files: self.profiles.paths.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::options::test_target as target;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    /// The selection for `target` with no command-line options.
    fn select_default(
        target: &StageTarget,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Selection, CredentialError> {
        select_source(target, &CredentialOptions::default(), env)
    }

    #[test]
    fn stems_sanitize_and_keep_serverless_form() {
        assert_eq!(stage_env_stems("prod"), vec!["AWS_PROD"]);
        assert_eq!(
            stage_env_stems("my-stage"),
            vec!["AWS_MY_STAGE", "AWS_MY-STAGE"]
        );
    }

    #[test]
    fn cli_profile_beats_everything() {
        let env = env_of(&[("AWS_PROD_PROFILE", "x"), ("AWS_PROFILE", "y")]);
        let opts = CredentialOptions {
            aws_profile: Some("cli".into()),
            ..Default::default()
        };
        let s = select_source(&target("prod", Some("yml")), &opts, &env).unwrap();
        assert_eq!(
            s.source,
            CredentialSource::CliProfile { name: "cli".into() }
        );
    }

    #[test]
    fn stage_profile_then_stage_keys_beat_provider_profile() {
        let env = env_of(&[
            ("AWS_PROD_PROFILE", "stageprof"),
            ("AWS_PROD_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_PROD_SECRET_ACCESS_KEY", "s"),
        ]);
        let s = select_default(&target("prod", Some("yml")), &env).unwrap();
        assert_eq!(
            s.source.to_string(),
            "AWS_PROD_PROFILE profile \"stageprof\""
        );

        let env = env_of(&[
            ("AWS_PROD_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_PROD_SECRET_ACCESS_KEY", "s"),
        ]);
        let s = select_default(&target("prod", Some("yml")), &env).unwrap();
        assert_eq!(s.source.to_string(), "environment AWS_PROD_ACCESS_KEY_ID");
        assert!(
            !format!("{s:?}").contains("\"s\""),
            "Debug must not show the secret"
        );
    }

    #[test]
    fn serverless_dash_form_is_accepted() {
        let env = env_of(&[("AWS_MY-STAGE_PROFILE", "p")]);
        let s = select_default(&target("my-stage", None), &env).unwrap();
        assert_eq!(s.source.profile(), Some("p"));
    }

    #[test]
    fn ambient_profile_and_keys_never_beat_provider_profile() {
        let env = env_of(&[
            ("AWS_PROFILE", "ambient"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let s = select_default(&target("dev", Some("devAccount")), &env).unwrap();
        assert_eq!(
            s.source,
            CredentialSource::ConfigProfile {
                name: "devAccount".into()
            }
        );
    }

    #[test]
    fn no_profile_skips_provider_profile() {
        let env = env_of(&[]);
        let opts = CredentialOptions {
            no_profile: true,
            ..Default::default()
        };
        let s = select_source(&target("dev", Some("devAccount")), &opts, &env).unwrap();
        assert_eq!(
            s.source,
            CredentialSource::DefaultChain {
                detail: None,
                profile: None
            }
        );
    }

    #[test]
    fn half_a_key_pair_is_an_error() {
        let env = env_of(&[("AWS_PROD_ACCESS_KEY_ID", "AKIA")]);
        let err = select_default(&target("prod", None), &env).unwrap_err();
        assert!(
            err.to_string()
                .contains("AWS_PROD_SECRET_ACCESS_KEY is not"),
            "{err}"
        );
    }
}
