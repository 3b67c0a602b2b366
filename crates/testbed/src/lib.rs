//! Test support: starts `moto_server` on a free loopback port, provisions accounts and writes an
//! AWS config/credentials pair pointing at them.
//!
//! One server holds many accounts (moto picks the account from the access key), so tests share
//! one server per test binary ([`Moto::shared`]) and stay independent by using their own
//! accounts or their own IAM users. Auth checking is global on a server: tests that turn it on
//! take [`Moto::auth_lock`] first. [`proxy::FaultProxy`] sits in front of a server to inject
//! errors, resets, latency and stalls.

mod http;
pub mod proxy;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// Account of the `default` profile in [`TestBed::standard`] (the seed's prod account).
pub const PROD_ACCOUNT: &str = "111111111111";
/// Account of the `devAccount` profile in [`TestBed::standard`] (the seed's dev account).
pub const DEV_ACCOUNT: &str = "222222222222";

/// How long to wait for a freshly started server to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `moto_server` child process, killed on drop.
pub struct Moto {
    child: Mutex<Child>,
    port: u16,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
    auth: Mutex<()>,
}

impl Moto {
    /// Start `moto_server -H 127.0.0.1 -p <free port>`, wait until it answers and turn auth off.
    ///
    /// Fails with a message naming `make test` / requirements-test.txt when moto is not installed.
    pub fn start() -> Result<Moto> {
        let dir = tempfile::tempdir().context("creating a temporary directory for moto's log")?;
        let log_path = dir.path().join("moto.log");
        let log = fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let port = free_port()?;
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let install_hint = "The tests need moto 5.2.1: run `make test` (it installs \
                            requirements-test.txt) or `python3 -m pip install -r requirements-test.txt`";
        if !is_runnable(&program) {
            bail!("`{program}` is not on PATH. {install_hint}");
        }
        // A shared server lives in a static that is never dropped, so the server must die with
        // the test process: a small shell holds moto and kills it when our end of its stdin
        // pipe closes (on drop or when this process exits for any reason).
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("\"$0\" \"$@\" & m=$!; read -r _; kill $m 2>/dev/null; wait $m")
            .arg(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            // A server-wide account id would put every key into one account.
            .env_remove("MOTO_ACCOUNT_ID");
        let child = cmd
            .spawn()
            .map_err(|e| anyhow!("cannot start `{program}` through sh ({e}). {install_hint}"))?;
        let moto = Moto {
            child: Mutex::new(child),
            port,
            log_path,
            _dir: dir,
            auth: Mutex::new(()),
        };
        moto.wait_ready()?;
        moto.set_auth(false)?;
        Ok(moto)
    }

    /// The server shared by every test of this test binary, started on first use.
    ///
    /// Panics with the start error: a test that needs moto must fail, never skip.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(|| match Moto::start() {
            Ok(m) => m,
            Err(e) => panic!("{e:#}"),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn wait_ready(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            let ready = http::request(self.port, "GET", "/moto-api/data.json", &[], b"")
                .is_ok_and(|resp| resp.status == 200);
            if ready {
                return Ok(());
            }
            if let Some(status) = self.child.lock().unwrap().try_wait()? {
                let log = fs::read_to_string(&self.log_path).unwrap_or_default();
                bail!(
                    "moto_server exited ({status}) before answering. Its output:\n{log}\n\
                     Install the pinned test tools with `make test` or \
                     `python3 -m pip install -r requirements-test.txt`"
                );
            }
            if started.elapsed() > START_TIMEOUT {
                let log = fs::read_to_string(&self.log_path).unwrap_or_default();
                bail!(
                    "moto_server on port {} did not answer within {START_TIMEOUT:?}. Its output:\n{log}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Turn moto's signature and IAM checks on or off (global for the whole server).
    pub fn set_auth(&self, on: bool) -> Result<()> {
        let body: &[u8] = if on { b"0" } else { b"inf" };
        // Any other content type makes moto answer 500.
        let headers = [("Content-Type", "application/octet-stream")];
        let resp = http::request(self.port, "POST", "/moto-api/reset-auth", &headers, body)?;
        if resp.status != 200 {
            bail!(
                "moto reset-auth answered HTTP {}: {}",
                resp.status,
                resp.body
            );
        }
        Ok(())
    }

    /// Run Lambda functions without Docker (`use_docker = false`) or with it (moto's default),
    /// through moto's `POST /moto-api/config` with `{"lambda": {"use_docker": false}}`.
    ///
    /// Without Docker, Invoke answers with the request payload (or "Simple Lambda happy path
    /// OK" for an empty one) instead of running the code. The switch is global for the server
    /// and moto then serves Lambda calls from a separate store that does not see functions
    /// created by CloudFormation (GetFunction answers ResourceNotFound), so use it on a
    /// dedicated server ([`Moto::start`]) and only around the invokes.
    pub fn set_lambda_docker(&self, use_docker: bool) -> Result<()> {
        let body = format!(r#"{{"lambda": {{"use_docker": {use_docker}}}}}"#);
        let headers = [("Content-Type", "application/json")];
        let resp = http::request(
            self.port,
            "POST",
            "/moto-api/config",
            &headers,
            body.as_bytes(),
        )?;
        if resp.status != 201 && resp.status != 200 {
            bail!("moto config answered HTTP {}: {}", resp.status, resp.body);
        }
        Ok(())
    }

    /// Serialises tests that switch auth on; hold the guard while auth is on.
    pub fn auth_lock(&self) -> MutexGuard<'_, ()> {
        self.auth
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run `f` with auth on, turning it off again afterwards (also when `f` panics).
    pub fn with_auth<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        struct Off<'a>(&'a Moto);
        impl Drop for Off<'_> {
            fn drop(&mut self) {
                let _ = self.0.set_auth(false);
            }
        }
        let _lock = self.auth_lock();
        self.set_auth(true)?;
        let _off = Off(self);
        Ok(f())
    }

    /// Number of AWS API requests the server has logged so far (moto-api calls excluded).
    ///
    /// Compare two readings around a command to count the calls it made. Only meaningful on a
    /// server no other test uses at the same time (see [`Moto::start`]).
    pub fn api_request_count(&self) -> usize {
        fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"POST ") || l.contains("\"GET ") || l.contains("\"PUT "))
            .filter(|l| !l.contains(" /moto-api/"))
            .count()
    }

    /// Call an IAM/STS query action as `account` (moto's `x-moto-account-id` header; auth must
    /// be off). Returns the XML body.
    pub fn query(&self, service: &str, account: &str, params: &[(&str, &str)]) -> Result<String> {
        let version = match service {
            "iam" => "2010-05-08",
            "sts" => "2011-06-15",
            other => bail!("testbed query: unsupported service {other}"),
        };
        let mut body = String::new();
        for (k, v) in params.iter().copied().chain([("Version", version)]) {
            if !body.is_empty() {
                body.push('&');
            }
            body.push_str(&http::form_encode(k));
            body.push('=');
            body.push_str(&http::form_encode(v));
        }
        // moto routes by the credential scope of the Authorization header; with auth off the
        // signature itself is never checked.
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIATESTBED000000000/20240101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=00"
        );
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", auth.as_str()),
            ("x-moto-account-id", account),
        ];
        let resp = http::request(self.port, "POST", "/", &headers, body.as_bytes())?;
        if resp.status != 200 {
            bail!(
                "{service} {params:?} in account {account} answered HTTP {}: {}",
                resp.status,
                resp.body
            );
        }
        Ok(resp.body)
    }

    /// Create IAM user `user` with an allow-all inline policy in `account`, and an access key.
    pub fn provision_user(&self, account: &str, user: &str) -> Result<AccessKey> {
        self.query(
            "iam",
            account,
            &[("Action", "CreateUser"), ("UserName", user)],
        )?;
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        self.query(
            "iam",
            account,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", user),
                ("PolicyName", "all"),
                ("PolicyDocument", policy),
            ],
        )?;
        let xml = self.query(
            "iam",
            account,
            &[("Action", "CreateAccessKey"), ("UserName", user)],
        )?;
        Ok(AccessKey {
            account: account.to_string(),
            user_arn: format!("arn:aws:iam::{account}:user/{user}"),
            access_key_id: xml_text(&xml, "AccessKeyId")?,
            secret_access_key: xml_text(&xml, "SecretAccessKey")?,
        })
    }

    /// Create role `name` in `account` trusting everyone (AssumeRole, web identity); returns its ARN.
    pub fn provision_role(&self, account: &str, name: &str) -> Result<String> {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:AssumeRoleWithWebIdentity"]}]}"#;
        let xml = self.query(
            "iam",
            account,
            &[
                ("Action", "CreateRole"),
                ("RoleName", name),
                ("AssumeRolePolicyDocument", trust),
            ],
        )?;
        xml_text(&xml, "Arn")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        // Closing the pipe makes the shell kill moto and exit.
        drop(child.stdin.take());
        let _ = child.wait();
    }
}

/// An IAM access key created on the server. The secret is test data, never real.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// The account the key belongs to.
    pub account: String,
    /// `arn:aws:iam::<account>:user/<name>`, what GetCallerIdentity reports for the key.
    pub user_arn: String,
    /// The key id.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
}

/// One profile of a [`TestBed`]: a static key for `account`, with a region.
#[derive(Debug, Clone)]
pub struct ProfileSpec {
    /// Profile name (`default` is written as `[default]`).
    pub name: String,
    /// 12-digit account id.
    pub account: String,
    /// The profile's `region`.
    pub region: String,
}

impl ProfileSpec {
    /// A profile `name` for `account` in us-east-1.
    pub fn new(name: &str, account: &str) -> Self {
        Self {
            name: name.into(),
            account: account.into(),
            region: "us-east-1".into(),
        }
    }
}

/// A temporary AWS config/credentials pair (and HOME) with profiles provisioned on a moto server.
pub struct TestBed<'m> {
    moto: &'m Moto,
    dir: tempfile::TempDir,
    keys: HashMap<String, AccessKey>,
    extra_secrets: Mutex<Vec<String>>,
}

static USER_SEQ: AtomicUsize = AtomicUsize::new(0);

impl<'m> TestBed<'m> {
    /// The seed's pair on the shared server: `default` → 111111111111, `devAccount` → 222222222222.
    pub fn standard() -> TestBed<'static> {
        TestBed::with_profiles(
            Moto::shared(),
            &[
                ProfileSpec::new("default", PROD_ACCOUNT),
                ProfileSpec::new("devAccount", DEV_ACCOUNT),
            ],
        )
        .unwrap_or_else(|e| panic!("provisioning the test bed: {e:#}"))
    }

    /// Provision one IAM user per profile (unique user names, so beds never collide) and write
    /// `.aws/credentials` and `.aws/config` under a fresh temporary HOME.
    pub fn with_profiles(moto: &'m Moto, profiles: &[ProfileSpec]) -> Result<TestBed<'m>> {
        let dir = tempfile::tempdir().context("creating the test bed directory")?;
        fs::create_dir_all(dir.path().join("home/.aws"))?;
        let mut keys = HashMap::new();
        let mut credentials = String::new();
        let mut config = String::new();
        for p in profiles {
            let user = format!(
                "ci-{}-{}",
                std::process::id(),
                USER_SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let key = moto.provision_user(&p.account, &user)?;
            // What `aws configure --profile NAME` writes.
            credentials.push_str(&format!(
                "[{}]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n",
                p.name, key.access_key_id, key.secret_access_key
            ));
            let header = if p.name == "default" {
                "default".to_string()
            } else {
                format!("profile {}", p.name)
            };
            config.push_str(&format!(
                "[{header}]\nregion = {}\noutput = json\n\n",
                p.region
            ));
            keys.insert(p.name.clone(), key);
        }
        let bed = TestBed {
            moto,
            dir,
            keys,
            extra_secrets: Mutex::new(Vec::new()),
        };
        fs::write(bed.credentials_file(), credentials)?;
        fs::write(bed.config_file(), config)?;
        Ok(bed)
    }

    /// The server behind this bed.
    pub fn moto(&self) -> &'m Moto {
        self.moto
    }

    /// The temporary HOME (holds `.aws/`).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A scratch directory next to HOME, for test files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `AWS_CONFIG_FILE`.
    pub fn config_file(&self) -> PathBuf {
        self.home().join(".aws/config")
    }

    /// `AWS_SHARED_CREDENTIALS_FILE`.
    pub fn credentials_file(&self) -> PathBuf {
        self.home().join(".aws/credentials")
    }

    /// The key written for `profile`.
    pub fn key(&self, profile: &str) -> &AccessKey {
        self.keys
            .get(profile)
            .unwrap_or_else(|| panic!("the test bed has no profile {profile}"))
    }

    /// Append raw text to the config file (role, process, MFA profiles…).
    pub fn append_config(&self, text: &str) -> Result<()> {
        append(&self.config_file(), text)
    }

    /// Append raw text to the credentials file.
    pub fn append_credentials(&self, text: &str) -> Result<()> {
        append(&self.credentials_file(), text)
    }

    /// Register a further secret (e.g. a key handed over in an environment variable) for
    /// [`TestBed::assert_no_secret`].
    pub fn add_secret(&self, secret: &str) {
        self.extra_secrets.lock().unwrap().push(secret.to_string());
    }

    /// Every secret the bed knows of: the profiles' secret keys and the registered ones.
    pub fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .keys
            .values()
            .map(|k| k.secret_access_key.clone())
            .collect();
        all.extend(self.extra_secrets.lock().unwrap().iter().cloned());
        all
    }

    /// Panic if `text` contains any secret of [`TestBed::secrets`].
    pub fn assert_no_secret(&self, text: &str) {
        for s in self.secrets() {
            assert!(
                !text.contains(&s),
                "a secret appeared in the output:\n{text}"
            );
        }
    }

    /// The environment a process needs to use this bed, ambient AWS settings excluded.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let home = self.home();
        vec![
            ("AWS_ENDPOINT_URL".into(), self.moto.endpoint()),
            (
                "AWS_CONFIG_FILE".into(),
                self.config_file().display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                self.credentials_file().display().to_string(),
            ),
            ("HOME".into(), home.display().to_string()),
            (
                "XDG_CACHE_HOME".into(),
                home.join(".cache").display().to_string(),
            ),
        ]
    }

    /// Point `cmd` at this bed: set [`TestBed::env_vars`] and remove every ambient `AWS_*`,
    /// `DEPLOYER_*` and `CI` variable so the developer's own credentials can never leak in.
    pub fn apply(&self, cmd: &mut Command) {
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("AWS_") || n.starts_with("AMAZON_") || n.starts_with("DEPLOYER_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env_remove("CI");
        for (k, v) in self.env_vars() {
            cmd.env(k, v);
        }
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(format!("\n{text}\n").as_bytes())?;
    Ok(())
}

/// Whether `program` is a path to a file or found on PATH.
fn is_runnable(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// The text of the first `<tag>` element.
fn xml_text(xml: &str, tag: &str) -> Result<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml
        .find(&open)
        .ok_or_else(|| anyhow!("no <{tag}> in moto's answer: {xml}"))?
        + open.len();
    let end = xml[start..]
        .find(&close)
        .ok_or_else(|| anyhow!("unterminated <{tag}>"))?
        + start;
    Ok(xml[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_finds_first_element() {
        let xml = "<a><AccessKeyId>AK</AccessKeyId><AccessKeyId>B</AccessKeyId></a>";
        assert_eq!(xml_text(xml, "AccessKeyId").unwrap(), "AK");
        assert!(xml_text(xml, "Secret").is_err());
    }
}
