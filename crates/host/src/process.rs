//! The host process: started once per command, driven line by line.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::protocol::{Done, FromHost, RunOutcome, Schema, reply};
use crate::{Callbacks, HOST_JS, HostError};

/// How the host is started.
#[derive(Debug, Clone)]
pub struct HostStart {
    /// The `node` program (found on PATH by [`find_node`] when `None`).
    pub node: Option<PathBuf>,
    /// The service directory: the host's working directory and where plugins resolve from.
    pub service_dir: PathBuf,
    /// The `init` message's fields (service, plugins, stage, region, options…).
    pub init: Value,
    /// Variables set in the host's environment.
    pub env: Vec<(String, String)>,
    /// Variables removed from it.
    pub env_remove: Vec<String>,
    /// The longest silence allowed while a command runs.
    pub silence: Duration,
    /// The plugins it runs (for the error when Node is missing).
    pub plugins: Vec<String>,
}

/// A running host.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<Vec<String>>>,
    hooked: BTreeSet<String>,
    schema: Schema,
    silence: Duration,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("pid", &self.child.id())
            .field("hooked", &self.hooked)
            .finish()
    }
}

/// The last stderr lines kept for an error message.
const STDERR_LINES: usize = 20;

impl Host {
    /// Starts `node` with the host script, loads the plugins (constructors and `asyncInit`
    /// run now) and learns which events they hook into.
    pub fn start(start: HostStart, callbacks: &mut dyn Callbacks) -> Result<Host, HostError> {
        let node = match start.node.clone() {
            Some(node) => node,
            None => find_node().ok_or_else(|| HostError::NodeMissing {
                plugins: start.plugins.join(", "),
                first: start.plugins.first().cloned().unwrap_or_default(),
            })?,
        };
        let mut command = Command::new(&node);
        command
            .arg("-e")
            .arg(HOST_JS)
            .current_dir(&start.service_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in &start.env_remove {
            command.env_remove(key);
        }
        command.envs(start.env.iter().map(|(k, v)| (k, v)));
        let mut child = command.spawn().map_err(|source| HostError::Spawn {
            node: node.display().to_string(),
            source,
        })?;
        let stdin = child.stdin.take();
        let lines = read_lines(child.stdout.take().expect("stdout is piped"));
        let stderr = keep_tail(child.stderr.take().expect("stderr is piped"));
        let mut host = Host {
            child,
            stdin,
            lines,
            stderr,
            hooked: BTreeSet::new(),
            schema: Schema::default(),
            silence: start.silence,
        };
        let mut init = start.init;
        init["op"] = json!("init");
        let done = host.command(&init, "loading the plugins", callbacks)?;
        host.hooked = done.hooks.into_iter().collect();
        host.schema = done.schema;
        Ok(host)
    }

    /// What the plugins declared in the v3 schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Whether any plugin hooks into one of `events`.
    pub fn hooks_any(&self, events: &[&str]) -> bool {
        events.iter().any(|e| self.hooked.contains(*e))
    }

    /// Runs the hooks of `events` in order. `template`, when given, is the plugins'
    /// `compiledCloudFormationTemplate` and comes back as they left it; `want_service` brings
    /// the service configuration back too. `context` updates what `provider` answers
    /// (bucket, artifact directory). Nothing is sent when no plugin hooks into `events`.
    pub fn run(
        &mut self,
        events: &[&str],
        template: Option<&Value>,
        want_service: bool,
        context: Option<Value>,
        callbacks: &mut dyn Callbacks,
    ) -> Result<RunOutcome, HostError> {
        if !self.hooks_any(events) {
            return Ok(RunOutcome::default());
        }
        let mut message = json!({"op": "run", "events": events, "wantService": want_service});
        if let Some(template) = template {
            message["template"] = template.clone();
        }
        if let Some(context) = context {
            message["context"] = context;
        }
        let doing = format!("running the hooks of {}", events.join(", "));
        let done = self.command(&message, &doing, callbacks)?;
        Ok(RunOutcome {
            service: done.service,
            template: done.template,
            sections: done.sections,
        })
    }

    /// Sends one command and answers the host's questions until it is done.
    fn command(
        &mut self,
        message: &Value,
        doing: &str,
        callbacks: &mut dyn Callbacks,
    ) -> Result<Done, HostError> {
        self.send(message, doing)?;
        loop {
            match self.next(doing)? {
                FromHost::Log {
                    level,
                    plugin,
                    text,
                } => callbacks.log(&level, plugin.as_deref(), &text),
                FromHost::Done(done) => return Ok(done),
                FromHost::Failed(failed) => {
                    return Err(HostError::HookFailed {
                        plugin: failed.plugin.unwrap_or_else(|| "(host)".into()),
                        hook: failed.hook.unwrap_or_else(|| "load".into()),
                        message: failed.message,
                        code: failed.code,
                        stack: failed.stack,
                    });
                }
                question => {
                    let question = question.question().expect("the rest are questions");
                    let answer = callbacks.answer(&question);
                    self.send(&reply(answer), doing)?;
                }
            }
        }
    }

    fn send(&mut self, message: &Value, doing: &str) -> Result<(), HostError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.crashed(doing));
        };
        let mut line = serde_json::to_vec(message).expect("JSON values serialize");
        line.push(b'\n');
        match stdin.write_all(&line).and_then(|()| stdin.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(self.crashed(doing)),
            Err(source) => Err(HostError::Pipe {
                doing: doing.to_string(),
                source,
            }),
        }
    }

    fn next(&mut self, doing: &str) -> Result<FromHost, HostError> {
        let line = match self.lines.recv_timeout(self.silence) {
            Ok(Ok(line)) => line,
            Ok(Err(source)) => {
                return Err(HostError::Pipe {
                    doing: doing.to_string(),
                    source,
                });
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                return Err(HostError::Stalled {
                    doing: doing.to_string(),
                    seconds: self.silence.as_secs(),
                });
            }
            Err(RecvTimeoutError::Disconnected) => return Err(self.crashed(doing)),
        };
        serde_json::from_str(&line).map_err(|e| HostError::Crashed {
            doing: doing.to_string(),
            stderr: format!("it wrote a line deployer cannot read ({e}): {line:.200}"),
        })
    }

    fn crashed(&mut self, doing: &str) -> HostError {
        // Let the stderr reader catch the last lines of a dying process.
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(20));
        let tail = self.stderr.lock().map(|t| t.join("\n")).unwrap_or_default();
        HostError::Crashed {
            doing: doing.to_string(),
            stderr: tail,
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Closing stdin ends the host's read loop; a host stuck in a hook is killed.
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: impl Read + Send + 'static) -> Receiver<std::io::Result<String>> {
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let end = line.is_err();
            if sender.send(line).is_err() || end {
                return;
            }
        }
    });
    receiver
}

fn keep_tail(stderr: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let tail = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&tail);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut t) = kept.lock() {
                if t.len() == STDERR_LINES {
                    t.remove(0);
                }
                t.push(line);
            }
        }
    });
    tail
}

/// `node` on PATH.
pub fn find_node() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// `node --version` of the `node` on PATH, if there is one.
pub fn node_version() -> Option<String> {
    let node = find_node()?;
    let out = Command::new(node).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
