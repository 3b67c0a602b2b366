//! Opening a stage for AWS work, the same way for every operation: load the service
//! configuration → resolve the stage's early settings → pick the credentials → prove the
//! account with STS → judge it with the guard → SDK clients with a call counter.

use deployer_aws::clients::AwsClients;
use deployer_aws::sources::{AwsVariable, resolve_all};
use deployer_aws::{AwsSession, CredentialError, CredentialOptions, RecordedAccount, StageTarget};
use deployer_config::{ExternalRequest, StageSettings};
use serde_json::Value;

use crate::calls::AwsCalls;
use crate::lockfile::LockFile;
use crate::observer::Observer;
use crate::pipeline::protect::{self, Shortcut};
use crate::pipeline::service::{self, ServiceOptions, Source};

/// Which stage to open and with which credentials.
#[derive(Debug, Default)]
pub struct StageOptions {
    /// The service and its options.
    pub service: ServiceOptions,
    /// `--aws-profile`, `--no-profile`, `--expect-account`, MFA code and prompt.
    pub credentials: CredentialOptions,
    /// `--accept-account ID`: the stage's account is now this one; the guard holds it to
    /// this account instead of the one in the account lock file, and re-records it there.
    pub accept_account: Option<String>,
}

/// Whether a refused account stops the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// Stop with a [`deployer_aws::GuardRefusal`] (every operation on the stage's resources).
    Enforce,
    /// Return the session with its verdict (`whoami` reports it).
    Report,
}

/// A stage opened for AWS work.
pub(crate) struct Stage {
    /// The configuration with its early settings.
    pub source: Source,
    /// The verified credentials.
    pub session: AwsSession,
    /// SDK clients with the call counter.
    pub clients: AwsClients,
    /// The account lock file next to the configuration.
    pub lock: LockFile,
    /// The account the lock file recorded for the stage when it was opened.
    pub recorded_before: Option<String>,
}

/// Opens the stage: configuration, credentials, one STS call, the guard (before any other
/// AWS call or local write).
pub(crate) async fn open(
    options: &StageOptions,
    guard: Guard,
    observer: &dyn Observer,
) -> anyhow::Result<Stage> {
    let source = service::load(&options.service, observer)?;
    open_source(source, options, guard, observer).await
}

/// [`open`] with the configuration already loaded.
pub(crate) async fn open_source(
    source: Source,
    options: &StageOptions,
    guard: Guard,
    observer: &dyn Observer,
) -> anyhow::Result<Stage> {
    if guard == Guard::Enforce {
        // A protected stage refuses these before the lock file is written or AWS is asked.
        protect::refuse_used(
            &source.stage,
            &[
                (options.accept_account.is_some(), Shortcut::AcceptAccount),
                (
                    !options.service.ignore_plugins.is_empty(),
                    Shortcut::IgnorePlugin,
                ),
            ],
        )?;
    }
    let mut lock = LockFile::read(LockFile::next_to(&source.file.path)?)?;
    let recorded_before = lock.recorded(&source.stage.stage).map(|r| r.account);
    let recorded = match &options.accept_account {
        Some(id) => Some(RecordedAccount {
            account: id.clone(),
            origin: "--accept-account".into(),
        }),
        None => lock.recorded(&source.stage.stage),
    };
    let session = deployer_aws::open(&target(&source.stage, recorded), &options.credentials)
        .await
        .map_err(credential_error)?;
    observer.detail(&format!(
        "stage {} in {}: credentials from {}, account {} ({})",
        session.stage,
        session.region,
        session.source,
        session.identity.account,
        session.identity.arn
    ));
    if guard == Guard::Enforce {
        session.ensure_allowed().map_err(credential_error)?;
        if let Some(id) = &options.accept_account {
            accept(&mut lock, &session.stage, id, observer)?;
        }
    }
    // The session's counter already holds the credential check's STS calls.
    let counter = session.counter().clone();
    let clients = AwsClients::new(session.sdk_config(), &counter);
    Ok(Stage {
        source,
        session,
        clients,
        lock,
        recorded_before,
    })
}

/// Re-records the stage's account (`--accept-account`) once STS proved the credentials are
/// for it.
fn accept(
    lock: &mut LockFile,
    stage: &str,
    account: &str,
    observer: &dyn Observer,
) -> anyhow::Result<()> {
    let previous = lock.record(stage, account)?;
    if previous.as_deref() != Some(account) {
        let was = previous.map_or_else(|| "nothing".to_string(), |p| format!("account {p}"));
        observer.warning(&format!(
            "stage {stage} is now recorded for account {account} in {} (was {was}); commit \
             the file",
            lock.path.display()
        ));
    }
    Ok(())
}

impl Stage {
    /// `Err` (the guard's refusal, exit 3) once a credential refresh during the run handed out
    /// another account's credentials: no request used them, and the run must stop.
    pub fn ensure_proven(&self) -> anyhow::Result<()> {
        match self.session.refresh_refusal() {
            Some(r) => Err(anyhow::Error::new(r.clone())),
            None => Ok(()),
        }
    }

    /// Awaits `fut`, the stage's AWS work. A credential refresh refused meanwhile decides the
    /// outcome, whatever `fut` made of the failed request (retried, ignored or reported).
    pub async fn run<T>(
        &self,
        fut: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let result = fut.await;
        self.ensure_proven()?;
        result
    }

    /// The AWS calls made so far.
    pub fn calls(&self) -> AwsCalls {
        AwsCalls::of(&self.clients.counter().summary())
    }

    /// After the first successful deploy of a stage nothing pins: records its account in the
    /// lock file, so later runs with another account are refused. Returns the file's path when
    /// it recorded.
    pub fn record_first_deploy(&mut self) -> anyhow::Result<Option<String>> {
        let pin = &self.session.pin;
        if pin.config_pins() || pin.recorded.is_some() {
            return Ok(None);
        }
        let account = self.session.account().to_string();
        self.lock.record(&self.session.stage, &account)?;
        Ok(Some(self.lock.path.display().to_string()))
    }

    /// The answer for AWS-backed variables (`aws:accountId`, `cf`, `ssm`, `s3`): each round of
    /// requests is answered in parallel with the stage's credentials.
    pub fn aws_answers(
        &self,
    ) -> impl FnMut(&[ExternalRequest]) -> Vec<Result<Option<Value>, String>> + '_ {
        move |requests: &[ExternalRequest]| {
            let parsed: Vec<Result<AwsVariable, String>> = requests
                .iter()
                .map(|r| AwsVariable::parse(&r.source, &r.params, r.address.as_deref()))
                .collect();
            let vars: Vec<AwsVariable> = parsed
                .iter()
                .filter_map(|p| p.as_ref().ok().cloned())
                .collect();
            let account = self.session.account();
            let mut answers = wait(resolve_all(&self.clients, account, &vars)).into_iter();
            parsed
                .into_iter()
                .map(|p| match p {
                    Ok(_) => answers.next().unwrap_or(Ok(None)),
                    Err(e) => Err(e),
                })
                .collect()
        }
    }
}

/// The stage opened only when the configuration asks for a value from AWS: `print` and
/// `package` need no credentials unless an AWS-backed variable is resolved.
pub(crate) struct OnDemand<'a> {
    options: &'a StageOptions,
    source: &'a Source,
    observer: &'a dyn Observer,
    stage: Option<Stage>,
    failure: Option<anyhow::Error>,
}

impl<'a> OnDemand<'a> {
    /// Nothing is opened yet.
    pub fn new(options: &'a StageOptions, source: &'a Source, observer: &'a dyn Observer) -> Self {
        Self {
            options,
            source,
            observer,
            stage: None,
            failure: None,
        }
    }

    /// Answers a round of AWS-backed variables, opening the stage (guard included) first.
    pub fn answer(&mut self, requests: &[ExternalRequest]) -> Vec<Result<Option<Value>, String>> {
        if self.stage.is_none() && self.failure.is_none() {
            let opened = wait(open_source(
                self.source.clone(),
                self.options,
                Guard::Enforce,
                self.observer,
            ));
            match opened {
                Ok(stage) => self.stage = Some(stage),
                Err(err) => self.failure = Some(why_credentials(err, requests)),
            }
        }
        match &self.stage {
            Some(stage) => (stage.aws_answers())(requests),
            // The failure itself is returned by `finish`; these only stop the resolution.
            None => requests
                .iter()
                .map(|r| Err(format!("{r}: the stage's credentials did not open")))
                .collect(),
        }
    }

    /// The stage's session for a plugin's AWS call, opening the stage (guard first) when
    /// nothing opened it yet.
    pub fn session(&mut self) -> Result<deployer_aws::AwsSession, String> {
        if self.stage.is_none() && self.failure.is_none() {
            match wait(open_source(
                self.source.clone(),
                self.options,
                Guard::Enforce,
                self.observer,
            )) {
                Ok(stage) => self.stage = Some(stage),
                Err(err) => {
                    let message = format!("{err:#}");
                    self.failure = Some(err);
                    return Err(message);
                }
            }
        }
        match &self.stage {
            Some(stage) => Ok(stage.session.clone()),
            None => Err("the stage's credentials did not open".to_string()),
        }
    }

    /// The outcome of a resolution that used [`Self::answer`]: a credential failure or guard
    /// refusal wins over the property errors it caused. Also returns the AWS calls made, when
    /// the stage was opened.
    pub fn finish<T>(self, result: anyhow::Result<T>) -> anyhow::Result<(T, Option<AwsCalls>)> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        if let Some(stage) = &self.stage {
            stage.ensure_proven()?;
        }
        Ok((result?, self.stage.as_ref().map(Stage::calls)))
    }
}

/// Awaits `fut` from the synchronous callback through which the variable engine
/// (`deployer-config`, pure and synchronous) asks for AWS-backed values in the middle of an
/// async operation. `block_in_place` lets the runtime move this worker's other tasks elsewhere
/// while the thread waits, so it needs the multi-thread runtime (`#[tokio::main]`'s default);
/// it panics on a current-thread runtime.
pub(crate) fn wait<F: std::future::Future>(fut: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(fut))
}

/// A credential failure of [`OnDemand`] says which variable needed the credentials (a guard
/// refusal keeps its own words).
fn why_credentials(err: anyhow::Error, requests: &[ExternalRequest]) -> anyhow::Error {
    match requests.first() {
        Some(first) if err.downcast_ref::<deployer_aws::GuardRefusal>().is_none() => {
            err.context(format!(
                "{first} needs the stage's AWS credentials, which could not be opened \
                 (`--offline` opens none)"
            ))
        }
        _ => err,
    }
}

/// The [`StageTarget`] of resolved settings.
fn target(settings: &StageSettings, recorded: Option<RecordedAccount>) -> StageTarget {
    StageTarget {
        stage: settings.stage.clone(),
        region: settings.region.clone(),
        profile: settings.profile.clone(),
        allowed_account_ids: settings.allowed_account_ids.clone(),
        forbidden_account_ids: settings.forbidden_account_ids.clone(),
        recorded_account: recorded,
    }
}

/// A credential error as an operation error; a guard refusal keeps its type so callers can
/// tell it apart.
fn credential_error(err: CredentialError) -> anyhow::Error {
    match err {
        CredentialError::Refused(refusal) => anyhow::Error::new(*refusal),
        other => anyhow::Error::new(other),
    }
}
