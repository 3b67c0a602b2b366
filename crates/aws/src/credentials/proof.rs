//! Every credential set the session hands to a request is proven to belong to the stage's
//! account. The first set is proven by the session's own GetCallerIdentity; each later one
//! (a refresh after expiry: `credential_process`, SSO, a role, web identity, instance metadata)
//! gets its own GetCallerIdentity, with the new set, before any request may use it. A refresh
//! into another account is refused: that refusal is sticky (every later request fails with it,
//! so nothing falls back to an unproven set) and is kept for the operation to report.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_types::SdkConfig;

use super::guard::{Broken, Evidence, GuardRefusal, Subject};
use crate::calls::CallCounter;

/// What a refreshed set is proven against: the account the session proved, and what is needed
/// to ask STS about a new set. Its `Debug` leaves out `base`: that configuration holds the
/// session's provider, which holds this proof (a derived `Debug` would recurse forever).
struct Proof {
    account: String,
    subject: Subject,
    base: SdkConfig,
    counter: CallCounter,
}

/// The shared state of one session's credential proofs.
#[derive(Debug, Default)]
pub(crate) struct ProofState {
    /// The set resolved and proven when the session opened, handed out first.
    first: Mutex<Option<Credentials>>,
    /// The sets proven so far (key id, secret, token): a set seen again needs no new proof.
    proven: Mutex<Vec<Key>>,
    /// The sets handed out before the session's own GetCallerIdentity answered (that call
    /// proves them).
    unproven_before: Mutex<Vec<Key>>,
    /// Set once the session's GetCallerIdentity answered.
    proof: OnceLock<Proof>,
    /// The first refresh refused: every later request fails with it.
    refusal: OnceLock<GuardRefusal>,
    /// How many refreshed sets were proven with their own GetCallerIdentity.
    reproofs: Mutex<u32>,
}

/// The parts of a credential set that decide whose it is (never printed: see `Debug`).
#[derive(Clone, PartialEq, Eq)]
struct Key {
    id: String,
    secret: String,
    token: Option<String>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(** redacted **)")
    }
}

impl Key {
    fn of(c: &Credentials) -> Self {
        Key {
            id: c.access_key_id().to_string(),
            secret: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        }
    }
}

/// First credentials are handed out again only while they stay valid this long: a set about
/// to expire is refreshed (and proven) instead.
const FIRST_MARGIN: Duration = Duration::from_secs(60);

impl ProofState {
    /// State whose first hand-out is `first` (already resolved by the session).
    pub(crate) fn new(first: Credentials) -> Arc<Self> {
        Arc::new(ProofState {
            first: Mutex::new(Some(first)),
            ..Default::default()
        })
    }

    /// The session's GetCallerIdentity proved `account`: from now on every new set must be
    /// of it. `base` is the session's SDK configuration (region, endpoints, time limits).
    pub(crate) fn proven(
        &self,
        account: &str,
        subject: Subject,
        base: &SdkConfig,
        counter: &CallCounter,
    ) {
        let before = std::mem::take(&mut *lock(&self.unproven_before));
        lock(&self.proven).extend(before);
        let _ = self.proof.set(Proof {
            account: account.to_string(),
            subject,
            base: base.clone(),
            counter: counter.clone(),
        });
    }

    /// The refusal of a refresh into another account, once one happened.
    pub(crate) fn refusal(&self) -> Option<&GuardRefusal> {
        self.refusal.get()
    }

    /// How many refreshed sets were proven with a GetCallerIdentity of their own.
    pub(crate) fn reproofs(&self) -> u32 {
        *lock(&self.reproofs)
    }

    fn take_first(&self) -> Option<Credentials> {
        lock(&self.first).take().filter(|c| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + FIRST_MARGIN)
        })
    }

    fn is_proven(&self, key: &Key) -> bool {
        lock(&self.proven).contains(key)
    }

    /// Proves `creds` (unless already proven): `Err` when STS cannot say whose they are or
    /// says another account's.
    async fn prove(&self, creds: &Credentials) -> Result<(), CredentialsError> {
        let key = Key::of(creds);
        let Some(proof) = self.proof.get() else {
            // The session's own GetCallerIdentity is about to prove this very set.
            lock(&self.unproven_before).push(key);
            return Ok(());
        };
        if self.is_proven(&key) {
            return Ok(());
        }
        *lock(&self.reproofs) += 1;
        let (account, arn) = proof.ask(creds).await?;
        if account != proof.account {
            let refusal = proof.refusal(&account, &arn);
            let _ = self.refusal.set(refusal);
            return Err(self.refused());
        }
        lock(&self.proven).push(key);
        Ok(())
    }

    fn refused(&self) -> CredentialsError {
        // Unboxed, so that `AwsError::call` finds it in the SDK error's source chain.
        match self.refusal.get().cloned() {
            Some(r) => CredentialsError::provider_error(r),
            None => CredentialsError::unhandled("refused credentials"),
        }
    }
}

impl Proof {
    /// One GetCallerIdentity signed with `creds` alone (not the session's provider, and no
    /// cache), counted with the session's calls.
    async fn ask(&self, creds: &Credentials) -> Result<(String, String), CredentialsError> {
        let conf = aws_sdk_sts::config::Builder::from(&self.base)
            .credentials_provider(SharedCredentialsProvider::new(creds.clone()))
            .identity_cache(IdentityCache::no_cache())
            .interceptor(self.counter.interceptor())
            .build();
        let out = aws_sdk_sts::Client::from_conf(conf)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "refreshed credentials of {} could not be proven with STS \
                     GetCallerIdentity, so no request uses them: {}",
                    self.subject.source,
                    super::error::error_chain(&e)
                ))
            })?;
        match out.account().filter(|a| super::guard::is_account_id(a)) {
            Some(account) => Ok((account.to_string(), out.arn().unwrap_or_default().into())),
            None => Err(CredentialsError::provider_error(format!(
                "STS GetCallerIdentity answered for the refreshed credentials of {} without an \
                 account id, so no request uses them",
                self.subject.source
            ))),
        }
    }

    fn refusal(&self, account: &str, arn: &str) -> GuardRefusal {
        GuardRefusal {
            stage: self.subject.stage.clone(),
            account: account.to_string(),
            source: self.subject.source.clone(),
            broken: Broken::Refreshed {
                proven: self.account.clone(),
            },
            evidence: Evidence::Caller {
                arn: arn.to_string(),
            },
            stage_env: self.subject.stage_env.clone(),
        }
    }
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proof")
            .field("account", &self.account)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The session's credentials provider: the first set, then the source's refreshes, each proven
/// before it is handed out.
#[derive(Debug)]
pub(crate) struct Proving {
    /// The source's own provider (asked again after expiry).
    pub inner: SharedCredentialsProvider,
    /// Shared with the session.
    pub state: Arc<ProofState>,
}

impl Proving {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        if self.state.refusal().is_some() {
            return Err(self.state.refused());
        }
        let creds = match self.state.take_first() {
            Some(first) => first,
            None => self.inner.provide_credentials().await?,
        };
        self.state.prove(&creds).await?;
        Ok(creds)
    }
}

impl ProvideCredentials for Proving {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.provide())
    }
}

#[cfg(test)]
mod tests {
    //! The proofs against a scripted STS (the SDK's test HTTP client): GetCallerIdentity
    //! answers with the account the signing key belongs to.

    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_config::BehaviorVersion;
    use aws_config::retry::RetryConfig;
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use aws_smithy_types::body::SdkBody;
    use aws_types::region::Region;

    use super::*;

    const PROD: &str = "111111111111";
    const DEV: &str = "222222222222";

    /// An STS that knows `AKIAPROD…` keys as prod's and `AKIADEV…` keys as dev's, and fails
    /// with a 500 for any other key; counts its requests in `asked`.
    fn sts(asked: Arc<AtomicUsize>) -> SdkConfig {
        let http = infallible_client_fn(move |req| {
            asked.fetch_add(1, Ordering::SeqCst);
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let account = if auth.contains("Credential=AKIAPROD") {
                PROD
            } else if auth.contains("Credential=AKIADEV") {
                DEV
            } else {
                return http::Response::builder()
                    .status(500)
                    .body(SdkBody::from("<ErrorResponse/>"))
                    .unwrap();
            };
            let body = format!(
                "<GetCallerIdentityResponse><GetCallerIdentityResult>\
                 <Arn>arn:aws:iam::{account}:user/ci</Arn><UserId>AIDA</UserId>\
                 <Account>{account}</Account></GetCallerIdentityResult>\
                 </GetCallerIdentityResponse>"
            );
            http::Response::builder()
                .status(200)
                .body(SdkBody::from(body))
                .unwrap()
        });
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("https://sts.test")
            .retry_config(RetryConfig::disabled())
            .http_client(http)
            .build()
    }

    fn creds(id: &str, expires_in: u64) -> Credentials {
        Credentials::new(
            id,
            format!("secret-{id}"),
            None,
            Some(SystemTime::now() + Duration::from_secs(expires_in)),
            "test",
        )
    }

    /// A source that hands out `answers` in turn and counts how often it was asked.
    #[derive(Debug)]
    struct Source {
        answers: Mutex<VecDeque<Credentials>>,
        asked: Arc<AtomicUsize>,
    }

    impl ProvideCredentials for Source {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let next = lock(&self.answers).pop_front();
            future::ProvideCredentials::ready(
                next.ok_or_else(|| CredentialsError::not_loaded("no more answers")),
            )
        }
    }

    struct Fixture {
        proving: Proving,
        sts_calls: Arc<AtomicUsize>,
        source_calls: Arc<AtomicUsize>,
    }

    /// The session opened with `first`: handed out to the session's own GetCallerIdentity,
    /// which proved it prod's. The source refreshes with `later`.
    async fn opened(first: Credentials, later: Vec<Credentials>) -> Fixture {
        let sts_calls = Arc::new(AtomicUsize::new(0));
        let source_calls = Arc::new(AtomicUsize::new(0));
        let state = ProofState::new(first);
        let proving = Proving {
            inner: SharedCredentialsProvider::new(Source {
                answers: Mutex::new(later.into()),
                asked: source_calls.clone(),
            }),
            state: state.clone(),
        };
        proving.provide().await.expect("the first set");
        let subject = Subject {
            stage: "prod".into(),
            source: "profile \"switch\"".into(),
            stage_env: "AWS_PROD".into(),
        };
        state.proven(PROD, subject, &sts(sts_calls.clone()), &CallCounter::new());
        Fixture {
            proving,
            sts_calls,
            source_calls,
        }
    }

    fn refusal_of(err: &CredentialsError) -> Option<GuardRefusal> {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = next {
            if let Some(r) = e.downcast_ref::<GuardRefusal>() {
                return Some(r.clone());
            }
            next = e.source();
        }
        None
    }

    #[tokio::test]
    async fn the_set_the_session_proved_needs_no_new_proof() {
        let f = opened(creds("AKIAPROD1", 3600), vec![creds("AKIAPROD1", 3600)]).await;
        let c = f.proving.provide().await.unwrap();
        assert_eq!(c.access_key_id(), "AKIAPROD1");
        assert_eq!(f.sts_calls.load(Ordering::SeqCst), 0);
        assert_eq!(f.source_calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refresh_in_the_same_account_is_proven_once() {
        let f = opened(
            creds("AKIAPROD1", 3600),
            vec![creds("AKIAPROD2", 5), creds("AKIAPROD2", 5)],
        )
        .await;
        assert_eq!(
            f.proving.provide().await.unwrap().access_key_id(),
            "AKIAPROD2"
        );
        assert_eq!(
            f.proving.provide().await.unwrap().access_key_id(),
            "AKIAPROD2"
        );
        assert_eq!(
            f.sts_calls.load(Ordering::SeqCst),
            1,
            "the same set is proven once"
        );
        assert_eq!(f.proving.state.reproofs(), 1);
    }

    #[tokio::test]
    async fn a_refresh_into_another_account_is_refused_and_stays_refused() {
        let f = opened(
            creds("AKIAPROD1", 3600),
            vec![creds("AKIADEV1", 5), creds("AKIAPROD3", 5)],
        )
        .await;
        let err = f.proving.provide().await.unwrap_err();
        let refusal = refusal_of(&err).expect("the guard's refusal in the error's chain");
        assert_eq!(refusal.account, DEV);
        assert_eq!(
            refusal.broken,
            Broken::Refreshed {
                proven: PROD.into()
            }
        );
        let text = refusal.to_string();
        assert!(text.contains(PROD) && text.contains(DEV), "{text}");
        // Never back to a set of the proven account: the refusal is final.
        assert!(refusal_of(&f.proving.provide().await.unwrap_err()).is_some());
        assert_eq!(f.source_calls.load(Ordering::SeqCst), 1);
        assert!(f.proving.state.refusal().is_some());
    }

    #[tokio::test]
    async fn a_set_sts_cannot_prove_is_never_handed_out() {
        let f = opened(creds("AKIAPROD1", 3600), vec![creds("AKIAOTHER", 5)]).await;
        let err = f.proving.provide().await.unwrap_err();
        assert!(refusal_of(&err).is_none());
        assert!(
            super::super::error::error_chain(&err).contains("could not be proven"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_first_set_about_to_expire_is_not_handed_out_again() {
        // Valid for 30 s only: the session's own call gets a fresh set from the source.
        let f = opened(creds("AKIAPROD1", 30), vec![creds("AKIAPROD2", 3600)]).await;
        assert_eq!(f.source_calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            f.sts_calls.load(Ordering::SeqCst),
            0,
            "the session's call proves it"
        );
    }

    #[test]
    fn debug_of_the_provider_ends() {
        // As in a session: the proof's configuration holds the provider, which holds the proof.
        let state = ProofState::new(creds("AKIAPROD1", 3600));
        let proving = || Proving {
            inner: SharedCredentialsProvider::new(creds("AKIAPROD1", 3600)),
            state: state.clone(),
        };
        let base = sts(Arc::new(AtomicUsize::new(0)))
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(proving()))
            .build();
        let subject = Subject {
            stage: "prod".into(),
            source: "profile \"switch\"".into(),
            stage_env: "AWS_PROD".into(),
        };
        state.proven(PROD, subject, &base, &CallCounter::new());
        let text = format!("{:?}", proving());
        assert!(text.contains(PROD), "{text}");
    }

    #[test]
    fn keys_never_print_their_secret() {
        let k = Key::of(&creds("AKIAPROD1", 5));
        assert!(!format!("{k:?}").contains("secret"));
    }
}
