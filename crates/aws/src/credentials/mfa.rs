//! Role profiles with `mfa_serial`, which aws-config cannot assume: ask for the code (option,
//! environment or terminal prompt), call STS AssumeRole with it, and cache the temporary
//! credentials in a mode-0600 file until they expire so the next command does not ask again.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_types::region::Region;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{CredentialError, error_chain};
use super::options::CredentialOptions;
use super::profile::{ProfileInfo, Profiles};
use super::sts::{self, RoleRequest};
use crate::calls::CallCounter;

/// Cached credentials closer to expiry than this are not reused.
const MIN_REMAINING: Duration = Duration::from_secs(5 * 60);

/// The on-disk form of cached temporary credentials.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Cached {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    /// Seconds since the Unix epoch.
    expiration: u64,
}

impl Cached {
    fn of(c: &Credentials) -> Self {
        let expiry = c.expiry().unwrap_or(UNIX_EPOCH);
        Cached {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().unwrap_or_default().to_string(),
            expiration: expiry
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        }
    }
}

/// Where an MFA role assumption happens: the profiles, the stage's region, the session's
/// call counter and the display form of the source (for messages).
pub(crate) struct MfaContext<'a> {
    /// The parsed profile files.
    pub profiles: &'a Profiles,
    /// The stage's region.
    pub region: &'a Region,
    /// The command-line choices (code, prompt).
    pub opts: &'a CredentialOptions,
    /// The session's call counter.
    pub counter: &'a CallCounter,
    /// Display form of the source.
    pub source_name: String,
}

/// Temporary credentials for the MFA role profile `info` with `base` credentials, from the
/// cache or a fresh AssumeRole.
pub(crate) async fn assume_role(
    info: &ProfileInfo,
    base: SharedCredentialsProvider,
    ctx: &MfaContext<'_>,
) -> Result<Credentials, CredentialError> {
    let (Some(role_arn), Some(serial)) = (&info.role_arn, &info.mfa_serial) else {
        unreachable!("assume_role is only called for role profiles with mfa_serial")
    };
    let cache_file = cache_dir().map(|d| d.join(format!("{}.json", cache_key(info))));
    if let Some(creds) = cache_file.as_deref().and_then(read_cache) {
        tracing::info!("using cached MFA session of profile {}", info.name);
        return Ok(creds);
    }
    let code = mfa_code(info, serial, ctx)?;
    let base = base_credentials(info, base).await?;
    let config = sts::role_config(info, ctx.region, base.clone()).await;
    let req = RoleRequest::for_profile(info, Some((serial.clone(), code)));
    let creds = sts::assume_role(&config, ctx.counter, base, &req)
        .await
        .map_err(|reason| CredentialError::MfaAssumeRole {
            profile: info.name.clone(),
            role_arn: role_arn.clone(),
            serial: serial.clone(),
            reason,
        })?;
    let cached = Cached::of(&creds);
    if let Some(file) = &cache_file {
        // A cache that cannot be written only costs a prompt next time.
        if let Err(e) = write_cache(file, &cached) {
            tracing::warn!("cannot cache the MFA session in {}: {e}", file.display());
        }
    }
    Ok(to_credentials(cached))
}

/// The code from the option or environment, else from the prompt.
fn mfa_code(
    info: &ProfileInfo,
    serial: &str,
    ctx: &MfaContext<'_>,
) -> Result<String, CredentialError> {
    match (&ctx.opts.mfa_code, &ctx.opts.interactive_mfa) {
        (Some(code), _) if !code.trim().is_empty() => Ok(code.trim().to_string()),
        (_, Some(prompt)) => prompt(serial).map_err(|reason| CredentialError::Provider {
            source_name: ctx.source_name.clone(),
            reason: format!("reading the MFA code failed: {reason}"),
        }),
        _ => Err(CredentialError::MfaCodeRequired {
            profile: info.name.clone(),
            serial: serial.to_string(),
        }),
    }
}

/// The role's base credentials, resolved once so a failure names where they come from.
async fn base_credentials(
    info: &ProfileInfo,
    base: SharedCredentialsProvider,
) -> Result<SharedCredentialsProvider, CredentialError> {
    let creds = base
        .provide_credentials()
        .await
        .map_err(|e| CredentialError::Provider {
            source_name: match &info.source_profile {
                Some(p) => format!("profile \"{p}\" (source_profile of \"{}\")", info.name),
                None => format!("the credential_source of profile \"{}\"", info.name),
            },
            reason: error_chain(&e),
        })?;
    Ok(SharedCredentialsProvider::new(creds))
}

fn to_credentials(c: Cached) -> Credentials {
    Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        Some(UNIX_EPOCH + Duration::from_secs(c.expiration)),
        "deployer-mfa",
    )
}

/// `$XDG_CACHE_HOME/deployer/mfa`, else `~/.cache/deployer/mfa`.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("deployer").join("mfa"))
}

/// The cache entry of a profile: a hash of profile, role and device, so renaming any of them
/// never reuses another role's session.
fn cache_key(info: &ProfileInfo) -> String {
    let mut h = Sha256::new();
    for part in [&Some(info.name.clone()), &info.role_arn, &info.mfa_serial] {
        h.update(part.as_deref().unwrap_or_default().as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_cache(file: &Path) -> Option<Credentials> {
    let text = fs::read_to_string(file).ok()?;
    let cached: Cached = serde_json::from_str(&text).ok()?;
    let expires = UNIX_EPOCH + Duration::from_secs(cached.expiration);
    (expires > SystemTime::now() + MIN_REMAINING).then(|| to_credentials(cached))
}

fn write_cache(file: &Path, cached: &Cached) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = file.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    {
        let mut f = private_file(&tmp)?;
        f.write_all(serde_json::to_string(cached).unwrap_or_default().as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, file)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> ProfileInfo {
        ProfileInfo {
            name: name.into(),
            role_arn: Some("arn:aws:iam::111111111111:role/admin".into()),
            mfa_serial: Some("arn:aws:iam::222222222222:mfa/me".into()),
            ..Default::default()
        }
    }

    #[test]
    fn cache_key_depends_on_profile_role_and_device() {
        assert_eq!(cache_key(&info("a")), cache_key(&info("a")));
        assert_ne!(cache_key(&info("a")), cache_key(&info("b")));
        let mut other_role = info("a");
        other_role.role_arn = Some("arn:aws:iam::111111111111:role/other".into());
        assert_ne!(cache_key(&info("a")), cache_key(&other_role));
        assert_eq!(cache_key(&info("a")).len(), 32);
    }

    #[test]
    fn cache_round_trip_is_private_and_respects_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/entry.json");
        let later = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        let c = |expiration| Cached {
            access_key_id: "ASIA".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration,
        };
        write_cache(&file, &c(later)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let creds = read_cache(&file).expect("fresh entry is reused");
        assert_eq!(creds.access_key_id(), "ASIA");
        write_cache(&file, &c(later - 3600 + 60)).unwrap();
        assert!(
            read_cache(&file).is_none(),
            "an entry about to expire is not reused"
        );
    }
}
