//! The progress printer: stack, upload and cleanup events on stderr, one live line per running
//! operation (keyed by the service and stack each event names).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use deployer_ops::types::{Progress, Reporter, StackEvent};

use super::Output;

/// Renders progress events on stderr: one live line per operation on a terminal, plain lines in
/// CI or when stderr is redirected; resource events only with `--verbose` or in plain mode.
/// Once a second operation has reported, each line starts with its stack.
pub struct ProgressPrinter {
    live: bool,
    verbose: bool,
    started: Instant,
    state: Mutex<LiveState>,
}

#[derive(Default)]
struct LiveState {
    /// Upload counts of each operation, by its label.
    uploads: HashMap<String, Uploads>,
    /// True once events of two operations have arrived.
    several: bool,
    /// The label of the first operation that reported.
    first: Option<String>,
}

#[derive(Default)]
struct Uploads {
    uploaded: usize,
    to_upload: usize,
}

/// One operation's line: its label (the stack, or the service when the operation touches no
/// stack), and whether to show it (more than one operation has reported).
struct Op {
    label: String,
    shown: bool,
}

impl Op {
    fn text(&self, text: &str) -> String {
        if self.shown {
            format!("{}: {}", self.label, text.trim_start())
        } else {
            text.to_string()
        }
    }
}

impl ProgressPrinter {
    /// A printer for this output.
    pub fn new(out: &Output) -> Self {
        Self {
            live: out.stderr_tty && !out.ci && std::io::stderr().is_terminal(),
            verbose: out.verbose,
            started: Instant::now(),
            state: Mutex::new(LiveState::default()),
        }
    }

    /// The operation an event with this label belongs to, noting whether several reported.
    fn op(&self, label: &str) -> Op {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &s.first {
            None => s.first = Some(label.to_string()),
            Some(first) if first != label => s.several = true,
            Some(_) => {}
        }
        Op {
            label: label.to_string(),
            shown: s.several,
        }
    }

    /// A permanent line, or the operation's live line's new text (on a terminal, unless
    /// `permanent`).
    fn line(&self, op: &Op, text: &str, permanent: bool) {
        let text = op.text(text);
        if self.live && !permanent {
            let secs = self.started.elapsed().as_secs_f32();
            super::live::draw(&op.label, &format!("[{secs:5.1}s] {text}"));
        } else {
            super::live::replace(&op.label, &text);
        }
    }

    /// Clear a live line before the final output.
    pub fn finish(&self) {
        super::live::clear();
    }

    fn uploading(&self, op: &Op, target: &str, files: usize, bytes: u64, skipped: usize) {
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let u = s.uploads.entry(op.label.clone()).or_default();
            u.to_upload = files;
            u.uploaded = 0;
        }
        let skip = if skipped > 0 {
            format!(", {skipped} already there")
        } else {
            String::new()
        };
        self.line(
            op,
            &format!(
                "Uploading {files} file(s), {} KB, to {target}{skip}",
                bytes.div_ceil(1024)
            ),
            !self.live,
        )
    }

    fn uploaded(&self, op: &Op, key: &str) {
        let (n, total) = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let u = s.uploads.entry(op.label.clone()).or_default();
            u.uploaded += 1;
            (u.uploaded, u.to_upload)
        };
        if self.live {
            self.line(op, &format!("Uploaded {n}/{total}"), false);
        } else if self.verbose {
            self.line(op, &format!("  uploaded {key}"), false);
        }
    }

    /// A resource event: a permanent line when verbose, in plain mode or on failure.
    fn event(&self, op: &Op, e: &StackEvent) {
        let failed = e.status.ends_with("FAILED");
        let text = format!("  {} - {} - {}", e.status, e.resource_type, e.logical_id);
        let text = match &e.reason {
            Some(r) if failed && !r.is_empty() => format!("{text}: {r}"),
            _ => text,
        };
        if self.verbose || !self.live || failed {
            self.line(op, &text, true);
        } else {
            self.line(op, text.trim_start(), false);
        }
    }
}

impl Reporter for ProgressPrinter {
    fn report(&self, event: Progress) {
        let scope = event.scope();
        // deploy function names no stack: its service stands for it.
        let label = if scope.stack.is_empty() {
            &scope.service
        } else {
            &scope.stack
        };
        let op = self.op(label);
        let stack = &scope.stack;
        match &event {
            Progress::StackBusy { status, waited, .. } => self.line(
                &op,
                &format!(
                    "Waiting for stack {stack} ({status}, {}s)",
                    waited.as_secs()
                ),
                false,
            ),
            Progress::StackRecreating { status, .. } => self.line(
                &op,
                &format!(
                    "Stack {stack} is in {status} (it never finished creating and holds no \
                     resources): deleting it and creating it again"
                ),
                true,
            ),
            Progress::StackCreating { .. } => self.line(
                &op,
                &format!("Creating stack {stack} (deployment bucket)"),
                false,
            ),
            Progress::ChangeCheck {
                unchanged, reason, ..
            } => {
                if !unchanged {
                    self.line(&op, &format!("Deploying: {reason}"), !self.live)
                }
            }
            Progress::Uploading {
                bucket,
                directory,
                files,
                bytes,
                skipped,
                ..
            } => self.uploading(
                &op,
                &format!("s3://{bucket}/{directory}"),
                *files,
                *bytes,
                *skipped,
            ),
            Progress::Uploaded { key, .. } => self.uploaded(&op, key),
            Progress::StackOperation { operation, .. } => {
                let doing = match *operation {
                    "create" => "creating the stack",
                    "update" => "updating the stack with the service's resources",
                    "delete" => "deleting the stack",
                    _ => "creating a change set",
                };
                self.line(&op, &format!("Stack {stack}: {doing}"), !self.live)
            }
            Progress::Event { event: e, .. } => self.event(&op, e),
            Progress::Cleanup {
                directories,
                objects,
                ..
            } => self.line(
                &op,
                &format!("Removed {directories} old deployment(s) ({objects} objects)"),
                !self.live,
            ),
            // The object counts (deleted, left) are in the result line of `remove`.
            Progress::Emptied { bucket, .. } => self.line(
                &op,
                &format!("Deleted deployer's objects of the stage from s3://{bucket}"),
                !self.live,
            ),
            Progress::LockWait {
                stage,
                holder,
                since,
                waited,
                ..
            } => self.line(
                &op,
                &format!(
                    "Waiting for the deploy of stage {stage} by {holder} since {since} ({}s)",
                    waited.as_secs()
                ),
                false,
            ),
            Progress::LockBroken {
                key, holder, since, ..
            } => self.line(
                &op,
                &format!("Removed the deploy lock {key} of {holder} (taken {since})"),
                true,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer() -> ProgressPrinter {
        ProgressPrinter {
            live: false,
            verbose: false,
            started: Instant::now(),
            state: Mutex::new(LiveState::default()),
        }
    }

    #[test]
    fn lines_name_their_stack_once_a_second_operation_reports() {
        let p = printer();
        assert_eq!(p.op("a-dev").text("Uploaded 1/2"), "Uploaded 1/2");
        assert_eq!(p.op("a-dev").text("Uploaded 2/2"), "Uploaded 2/2");
        assert_eq!(p.op("b-dev").text("  Uploaded 1/1"), "b-dev: Uploaded 1/1");
        assert_eq!(p.op("a-dev").text("Stack a-dev"), "a-dev: Stack a-dev");
    }

    #[test]
    fn upload_counts_are_kept_per_operation() {
        let p = printer();
        let (a, b) = (p.op("a-dev"), p.op("b-dev"));
        p.uploading(&a, "s3://x/a", 2, 10, 0);
        p.uploading(&b, "s3://x/b", 1, 10, 0);
        p.uploaded(&a, "k1");
        p.uploaded(&b, "k2");
        p.uploaded(&a, "k3");
        let s = p.state.lock().unwrap();
        assert_eq!(
            (s.uploads["a-dev"].uploaded, s.uploads["a-dev"].to_upload),
            (2, 2)
        );
        assert_eq!(
            (s.uploads["b-dev"].uploaded, s.uploads["b-dev"].to_upload),
            (1, 1)
        );
    }
}
