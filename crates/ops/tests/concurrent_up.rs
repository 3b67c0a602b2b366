//! Two operations on two stages run side by side on one runtime: `up` of dev and prod joined,
//! each landing in its own account, each one's progress naming its own stack.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use deployer_ops::types::{CliOptions, Progress, Reporter};
use deployer_ops::{
    Action, DeployOptions, DeployReport, Deployed, Observer, ServiceOptions, StageOptions,
};
use deployer_testbed::{DEV_ACCOUNT, PROD_ACCOUNT, TestBed};

/// Records every progress event; warnings and details are not under test.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Progress>>,
}

impl Reporter for Recorder {
    fn report(&self, event: Progress) {
        self.events.lock().unwrap().push(event);
    }
}

impl Observer for Recorder {
    fn warning(&self, _text: &str) {}
    fn detail(&self, _text: &str) {}
    fn announce(
        &self,
        _action: Action,
        _service: &str,
        _session: &deployer_ops::types::AwsSession,
    ) {
    }
}

/// The multi-account seed service copied to `name` under the bed, each stage pinned to its
/// account (`tests/e2e/support.rs` does the same for the binary).
fn seed_service(bed: &TestBed<'_>, name: &str) -> PathBuf {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/multi-account/service");
    let dir = bed.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap().replacen(
        "service: service-name",
        &format!("service: {name}"),
        1,
    );
    let pinned = text
        .replacen(
            "custom:\n",
            "custom:\n  accounts:\n    prod: '111111111111'\n    dev: '222222222222'\n",
            1,
        )
        .replacen(
            "  region: us-east-1\n",
            "  region: us-east-1\n  allowedAccountIds:\n    - ${self:custom.accounts.${sls:stage}}\n",
            1,
        );
    std::fs::write(&yml, pinned).unwrap();
    dir
}

fn up_options(dir: &Path, stage: &str) -> DeployOptions {
    DeployOptions {
        stage: StageOptions {
            service: ServiceOptions {
                cwd: dir.to_path_buf(),
                cli: CliOptions {
                    stage: Some(stage.to_string()),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

fn deployed(report: anyhow::Result<DeployReport>) -> Box<Deployed> {
    match report.expect("the deploy ran") {
        DeployReport::Done(done) => done,
        DeployReport::Failed(failed) => panic!("the deploy failed: {}", failed.error),
    }
}

/// Whether the account of `profile` holds `stack`, asked with that profile's keys directly.
async fn stack_exists(bed: &TestBed<'_>, profile: &str, stack: &str) -> bool {
    let key = bed.key(profile);
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(deployer_aws::clients::https_client())
        .region("us-east-1")
        .endpoint_url(bed.moto().endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            key.access_key_id.clone(),
            key.secret_access_key.clone(),
            None,
            None,
            "test",
        ))
        .load()
        .await;
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    cfn.describe_stacks().stack_name(stack).send().await.is_ok()
}

/// The stacks named by the recorded events.
fn stacks_of(recorder: &Recorder) -> Vec<String> {
    let events = recorder.events.lock().unwrap();
    let mut stacks: Vec<String> = events.iter().map(|e| e.scope().stack.clone()).collect();
    stacks.dedup();
    stacks
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stages_deploy_side_by_side_each_into_its_own_account() {
    let bed = TestBed::standard();
    let ambient: Vec<_> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_string_lossy();
            k.starts_with("AWS_") || k.starts_with("DEPLOYER_")
        })
        .collect();
    // SAFETY: the only test of this binary, and nothing has started reading the environment:
    // the process gets what the binary would get from the bed.
    unsafe {
        for k in ambient {
            std::env::remove_var(k);
        }
        for (k, v) in bed.env_vars() {
            std::env::set_var(k, v);
        }
    }
    let name = format!("side-by-side-{}", std::process::id());
    let dev_dir = seed_service(&bed, &format!("{name}-dev"));
    let prod_dir = seed_service(&bed, &format!("{name}-prod"));
    let (dev_options, prod_options) = (up_options(&dev_dir, "dev"), up_options(&prod_dir, "prod"));
    let (dev_seen, prod_seen) = (Recorder::default(), Recorder::default());

    let (dev, prod) = tokio::join!(
        deployer_ops::deploy(&dev_options, &dev_seen),
        deployer_ops::deploy(&prod_options, &prod_seen),
    );
    let (dev, prod) = (deployed(dev), deployed(prod));

    assert_eq!(dev.account, DEV_ACCOUNT);
    assert_eq!(prod.account, PROD_ACCOUNT);
    assert_ne!(dev.stack, prod.stack);
    assert!(stack_exists(&bed, "devAccount", &dev.stack).await);
    assert!(stack_exists(&bed, "default", &prod.stack).await);
    assert!(
        !stack_exists(&bed, "default", &dev.stack).await,
        "dev is not in prod's account"
    );
    assert!(
        !stack_exists(&bed, "devAccount", &prod.stack).await,
        "prod is not in dev's account"
    );
    assert_eq!(stacks_of(&dev_seen), vec![dev.stack.clone()]);
    assert_eq!(stacks_of(&prod_seen), vec![prod.stack.clone()]);
}
