//! The host with the real `node`: local plugins written here, loaded and run through the v3
//! plugin API, their questions answered by the test.

use std::path::Path;
use std::time::Duration;

use deployer_host::{Callbacks, Host, HostError, HostStart, Question};
use serde_json::{Value, json};

#[derive(Default)]
struct Answers {
    logs: Vec<(String, Option<String>, String)>,
    questions: Vec<Question>,
}

impl Callbacks for Answers {
    fn log(&mut self, level: &str, plugin: Option<&str>, text: &str) {
        self.logs
            .push((level.into(), plugin.map(str::to_string), text.into()));
    }

    fn answer(&mut self, question: &Question) -> Result<Value, String> {
        self.questions.push(question.clone());
        match question {
            Question::Naming { function, args, .. } if function == "getLambdaLogicalId" => Ok(
                json!(format!("{}LambdaFunction", args[0].as_str().unwrap())),
            ),
            Question::Naming { function, .. } if function == "getServiceEndpointRegex" => {
                Ok(json!({"$regex": "^(ServiceEndpoint|HttpApiUrl)", "flags": ""}))
            }
            Question::Naming { function, .. } => Err(format!("no naming.{function}")),
            Question::Account { .. } => {
                Ok(json!({"accountId": "123456789012", "partition": "aws"}))
            }
            Question::Bucket { .. } => Ok(json!("the-bucket")),
            Question::Credentials { .. } => Err("no credentials in this test".into()),
        }
    }
}

fn start(dir: &Path, plugins: &[&str], answers: &mut Answers) -> Result<Host, HostError> {
    let entries: Vec<Value> = plugins
        .iter()
        .map(|p| json!({"name": p, "request": p, "base": dir}))
        .collect();
    let init = json!({
        "servicePath": dir, "stage": "dev", "region": "eu-west-1",
        "frameworkVersion": "3.40.0", "instanceId": "1700000000000",
        "deploymentPrefix": "serverless", "artifactDirectoryName": "serverless/s/dev/x",
        "commands": ["package"], "options": {"stage": "dev"}, "plugins": entries,
        "service": {"service": "s", "provider": {"name": "aws"},
                    "functions": {"hello": {"handler": "h.main"}}},
    });
    Host::start(
        HostStart {
            node: None,
            service_dir: dir.to_path_buf(),
            init,
            env: Vec::new(),
            env_remove: Vec::new(),
            silence: Duration::from_secs(3),
            plugins: plugins.iter().map(|p| p.to_string()).collect(),
        },
        answers,
    )
}

fn plugin(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(format!("{name}.js")), body).unwrap();
}

const ADDS_TOPIC: &str = r#"
class AddsTopic {
  constructor(serverless, options, { log }) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      'package:compileEvents': () => this.compile(),
      'before:package:initialize': () => { serverless.service.custom.touched = true; },
    };
  }
  async compile() {
    const provider = this.serverless.getProvider('aws');
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const id = provider.naming.getLambdaLogicalId('hello');
    template.Resources.Topic = { Type: 'AWS::SNS::Topic', Properties: { Tags: [{ Key: 'fn', Value: id }] } };
    console.log('from console.log');
    this.log.notice('stage', provider.getStage(), 'account', await provider.getAccountId());
    this.serverless.cli.log('functions: ' + this.serverless.service.getAllFunctions().join(','));
    if (!provider.naming.getServiceEndpointRegex().test('HttpApiUrl')) throw new Error('regex lost');
  }
}
module.exports = AddsTopic;
"#;

#[test]
fn a_local_plugin_changes_the_template_and_the_service() {
    let dir = tempfile::tempdir().unwrap();
    plugin(dir.path(), "adds-topic", ADDS_TOPIC);
    let mut answers = Answers::default();
    let mut host = start(dir.path(), &["./adds-topic"], &mut answers).unwrap();
    assert!(host.hooks_any(&["package:compileEvents"]));
    assert!(!host.hooks_any(&["after:deploy:deploy"]));

    let config = host
        .run(
            &["before:package:initialize"],
            None,
            true,
            None,
            &mut answers,
        )
        .unwrap();
    let service = config.service.unwrap();
    assert_eq!(service["custom"]["touched"], json!(true));
    // What v3 computes by itself does not come back as configuration.
    assert_eq!(service["functions"]["hello"], json!({"handler": "h.main"}));

    let template = json!({"Resources": {}, "Outputs": {}});
    let out = host
        .run(
            &["package:compileEvents"],
            Some(&template),
            false,
            None,
            &mut answers,
        )
        .unwrap();
    let template = out.template.unwrap();
    assert_eq!(
        template["Resources"]["Topic"]["Properties"]["Tags"][0]["Value"],
        "helloLambdaFunction"
    );
    let texts: Vec<&str> = answers.logs.iter().map(|l| l.2.as_str()).collect();
    assert!(texts.contains(&"from console.log"), "{texts:?}");
    assert!(
        texts.contains(&"stage dev account 123456789012"),
        "{texts:?}"
    );
    assert!(texts.contains(&"functions: hello"), "{texts:?}");
    assert!(
        answers
            .logs
            .iter()
            .all(|l| l.1.as_deref() == Some("./adds-topic"))
    );
}

#[test]
fn events_nobody_hooks_into_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    plugin(dir.path(), "adds-topic", ADDS_TOPIC);
    let mut answers = Answers::default();
    let mut host = start(dir.path(), &["./adds-topic"], &mut answers).unwrap();
    let out = host
        .run(&["after:deploy:deploy"], None, true, None, &mut answers)
        .unwrap();
    assert!(out.service.is_none());
}

#[test]
fn a_hook_that_throws_names_the_plugin_and_the_hook() {
    let dir = tempfile::tempdir().unwrap();
    plugin(
        dir.path(),
        "thrower",
        "module.exports = class { constructor(sls) { this.hooks = { 'package:compileEvents': () => { throw new sls.classes.Error('custom.thing is missing'); } }; } };",
    );
    let mut answers = Answers::default();
    let mut host = start(dir.path(), &["./thrower"], &mut answers).unwrap();
    let err = host
        .run(
            &["package:compileEvents"],
            Some(&json!({})),
            false,
            None,
            &mut answers,
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "plugin ./thrower failed in hook package:compileEvents: custom.thing is missing"
        ),
        "{text}"
    );
    assert!(text.contains("--ignore-plugin ./thrower"), "{text}");
}

#[test]
fn an_unknown_naming_function_is_the_plugins_error() {
    let dir = tempfile::tempdir().unwrap();
    plugin(
        dir.path(),
        "namer",
        "module.exports = class { constructor(sls) { this.hooks = { 'package:compileEvents': () => sls.getProvider('aws').naming.getSomethingNew('x') }; } };",
    );
    let mut answers = Answers::default();
    let mut host = start(dir.path(), &["./namer"], &mut answers).unwrap();
    let err = host
        .run(&["package:compileEvents"], None, false, None, &mut answers)
        .unwrap_err();
    assert!(
        err.to_string().contains("no naming.getSomethingNew"),
        "{err}"
    );
}

#[test]
fn a_plugin_that_is_not_installed_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut answers = Answers::default();
    let err = start(dir.path(), &["serverless-not-there"], &mut answers).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("serverless-not-there failed to load"),
        "{text}"
    );
    assert!(
        text.contains("npm install --save-dev serverless-not-there"),
        "{text}"
    );
}

#[test]
fn a_hook_that_never_ends_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    plugin(
        dir.path(),
        "hangs",
        "module.exports = class { constructor() { this.hooks = { 'package:compileEvents': () => new Promise(() => setInterval(() => {}, 1000)) }; } };",
    );
    let mut answers = Answers::default();
    let mut host = start(dir.path(), &["./hangs"], &mut answers).unwrap();
    let err = host
        .run(&["package:compileEvents"], None, false, None, &mut answers)
        .unwrap_err();
    assert!(matches!(err, HostError::Stalled { .. }), "{err}");
}

#[test]
fn a_host_that_dies_is_reported_with_its_last_words() {
    let dir = tempfile::tempdir().unwrap();
    plugin(
        dir.path(),
        "exits",
        "module.exports = class { constructor() { this.hooks = { 'package:compileEvents': () => { process.stderr.constructor.prototype; require('fs').writeSync(2, 'fatal: gone\\n'); process.exit(9); } }; } };",
    );
    let mut answers = Answers::default();
    let mut host = start(dir.path(), &["./exits"], &mut answers).unwrap();
    let err = host
        .run(&["package:compileEvents"], None, false, None, &mut answers)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("stopped unexpectedly"), "{text}");
    assert!(text.contains("fatal: gone"), "{text}");
}

#[test]
fn a_missing_node_program_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Host::start(
        HostStart {
            node: Some(dir.path().join("no-node-here")),
            service_dir: dir.path().to_path_buf(),
            init: json!({}),
            env: Vec::new(),
            env_remove: Vec::new(),
            silence: Duration::from_secs(1),
            plugins: vec!["p".into()],
        },
        &mut Answers::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot start the plugin host"),
        "{err}"
    );
}
