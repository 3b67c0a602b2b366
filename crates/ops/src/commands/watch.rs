//! `watch --stage S [-f NAME]...`: watches the service directory and ships each saved change:
//! the functions whose zip changed go out the `deploy function` way, a change to the
//! configuration file runs a full `up`. The stage is opened (guard first) once; a credential
//! refresh into another account stops the watch (the session proves every refresh). A stage
//! that looks like production needs a confirmation.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::commands::deploy::{DeployOptions, DeployReport, deploy};
use crate::commands::deployments::{self, Target};
use crate::commands::function::{FunctionOptions, update};
use crate::commands::remove::Confirmation;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::package::{self, BuildTarget, HostAccess};
use crate::pipeline::stage::StageOptions;
use crate::pipeline::watcher::{Change, Watch};

/// Stage names that are production whatever their pins say.
const PROD_NAMES: [&str; 2] = ["prod", "production"];

/// How long the directory must be quiet before a change is shipped.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// What to watch.
pub struct WatchOptions<'a> {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// Only these functions (`-f`, repeatable); empty: every function.
    pub functions: Vec<String>,
    /// The go-ahead for a production stage.
    pub confirmation: Confirmation<'a>,
}

/// One shipped change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipped {
    /// `watching` (the watch started; `files` holds the directory), `functions` (code
    /// shipped), `up` (the configuration changed), `unchanged`.
    pub kind: &'static str,
    /// The functions whose code was shipped.
    pub functions: Vec<String>,
    /// The changed files.
    pub files: Vec<PathBuf>,
    /// From the first file event to the code being live, in milliseconds.
    pub millis: u64,
}

/// Watches until `stop` completes; `shipped` hears of every change. A failed build or
/// deploy is reported and the watch goes on; a guard refusal ends it.
pub async fn watch(
    options: &WatchOptions<'_>,
    observer: &dyn Observer,
    shipped: &mut dyn FnMut(&Shipped),
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let target = deployments::open(&options.stage, observer).await?;
    confirm(&target, options)?;
    for f in &options.functions {
        deployments::ensure_function(&target.service, f, &target.stage.source.file.path)?;
    }
    let dir = target.stage.source.file.dir.clone();
    let mut watch = Watch::start(&dir)?;
    // The first report says the watch is on (a test or a script waits for it).
    shipped(&Shipped {
        kind: "watching",
        functions: Vec::new(),
        files: vec![watch.dir().to_path_buf()],
        millis: 0,
    });
    tokio::pin!(stop);
    loop {
        let change = tokio::select! {
            () = &mut stop => return Ok(()),
            change = watch.next(DEBOUNCE) => change,
        };
        let Some(change) = change else {
            return Ok(());
        };
        match ship(&target, options, &change, observer).await {
            Ok(done) => shipped(&done),
            Err(e) if is_refusal(&e) => return Err(e),
            Err(e) => observer.warning(&format!("{e:#}")),
        }
        target.stage.ensure_proven()?;
    }
}

/// A guard refusal (a refresh into another account) ends the watch.
fn is_refusal(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<deployer_aws::GuardRefusal>())
}

/// Whether the stage is production: named `prod`/`production`, or on the account that the
/// account lock file records for such a stage.
fn is_production(target: &Target) -> bool {
    let name = target.name.to_ascii_lowercase();
    if PROD_NAMES.contains(&name.as_str()) {
        return true;
    }
    let account = target.stage.session.account();
    PROD_NAMES
        .iter()
        .filter_map(|p| target.stage.lock.recorded(p))
        .any(|r| r.account == account)
}

/// A production stage needs a go-ahead: `--yes`, or a yes on a terminal.
fn confirm(target: &Target, options: &WatchOptions<'_>) -> anyhow::Result<()> {
    if !is_production(target) {
        return Ok(());
    }
    let account = target.stage.session.account();
    let go = match &options.confirmation {
        Confirmation::Given => true,
        Confirmation::Ask(ask) => ask(&target.name, account)?,
        Confirmation::Unavailable => {
            return Err(OpError::error(
                OpErrorKind::Input,
                format!(
                    "stage {} (account {account}) is a production stage: watch would ship every \
                     saved file to it; pass --yes to watch it without a terminal",
                    target.name
                ),
            ));
        }
    };
    if go {
        Ok(())
    } else {
        Err(OpError::error(
            OpErrorKind::Declined,
            format!(
                "watch of stage {} not confirmed; nothing was shipped",
                target.name
            ),
        ))
    }
}

/// Ships one change: `up` when the configuration file changed, else the functions whose zip
/// differs from their deployed code.
async fn ship(
    target: &Target,
    options: &WatchOptions<'_>,
    change: &Change,
    observer: &dyn Observer,
) -> anyhow::Result<Shipped> {
    let config = &target.stage.source.file.path;
    let config_rel = config.strip_prefix(&target.stage.source.file.dir).ok();
    let files: Vec<PathBuf> = change.files.iter().cloned().collect();
    let shipped = |kind, functions| Shipped {
        kind,
        functions,
        files: files.clone(),
        millis: change.first.elapsed().as_millis() as u64,
    };
    if config_rel.is_some_and(|c| change.files.contains(c)) {
        let report = deploy(
            &DeployOptions {
                stage: again(&options.stage),
                force: false,
                package_dir: None,
                timeout: None,
                force_unlock: false,
                approve_broadening: false,
            },
            observer,
        )
        .await?;
        if let DeployReport::Failed(failed) = report {
            anyhow::bail!(
                "the deploy after the configuration change failed: {}",
                failed.error
            );
        }
        return Ok(shipped("up", Vec::new()));
    }
    let functions = ship_functions(target, options, observer).await?;
    let kind = if functions.is_empty() {
        "unchanged"
    } else {
        "functions"
    };
    Ok(shipped(kind, functions))
}

/// The stage options once more, for an `up` (an MFA code is not asked for again: pass
/// --mfa-code for a role profile with MFA).
fn again(stage: &StageOptions) -> StageOptions {
    let c = &stage.credentials;
    StageOptions {
        service: stage.service.clone(),
        credentials: deployer_aws::CredentialOptions {
            aws_profile: c.aws_profile.clone(),
            no_profile: c.no_profile,
            expect_account: c.expect_account.clone(),
            mfa_code: c.mfa_code.clone(),
            interactive_mfa: None,
        },
        accept_account: None,
    }
}

/// Packages (the build cache rebuilds only what changed) and updates every watched function
/// whose zip differs from its deployed code.
async fn ship_functions(
    target: &Target,
    options: &WatchOptions<'_>,
    observer: &dyn Observer,
) -> anyhow::Result<Vec<String>> {
    let now = SystemTime::now();
    let build = package::build(
        &target.stage.source,
        &BuildTarget {
            service: &options.stage.service,
            out_dir: None,
            now,
            plugins: None,
            host: HostAccess::deploy(&target.stage.session),
        },
        &mut target.stage.aws_answers(),
        observer,
    )?;
    let keys: Vec<String> = if options.functions.is_empty() {
        build.service.functions.keys().cloned().collect()
    } else {
        options.functions.clone()
    };
    let mut shipped = Vec::new();
    for key in keys {
        let function = FunctionOptions {
            stage: StageOptions::default(),
            function: key.clone(),
            update_config: false,
            force: false,
            out_dir: None,
            now,
            force_unlock: false,
        };
        let started = Instant::now();
        let done = target
            .stage
            .run(update(target, &build, &function, observer))
            .await?;
        if done.code_updated {
            observer.detail(&format!(
                "{key}: shipped in {} ms",
                started.elapsed().as_millis()
            ));
            shipped.push(key);
        }
    }
    Ok(shipped)
}
