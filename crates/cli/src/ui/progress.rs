//! The progress printer: stack, upload and cleanup events on stderr.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use deployer_ops::types::{Progress, Reporter, StackEvent};

use super::Output;

/// Renders progress events on stderr: one live line on a terminal, plain lines in CI or when
/// stderr is redirected; resource events only with `--verbose` or in plain mode.
pub struct ProgressPrinter {
    live: bool,
    verbose: bool,
    started: Instant,
    state: Mutex<LiveState>,
}

#[derive(Default)]
struct LiveState {
    uploaded: usize,
    to_upload: usize,
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

    /// A permanent line, or the live line's new text (on a terminal, unless `permanent`).
    fn line(&self, text: &str, permanent: bool) {
        if self.live && !permanent {
            let secs = self.started.elapsed().as_secs_f32();
            super::live::draw(&format!("[{secs:5.1}s] {text}"));
        } else {
            super::live::replace(text);
        }
    }

    /// Clear a live line before the final output.
    pub fn finish(&self) {
        super::live::clear();
    }

    fn uploading(&self, target: &str, files: usize, bytes: u64, skipped: usize) {
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.to_upload = files;
            s.uploaded = 0;
        }
        let skip = if skipped > 0 {
            format!(", {skipped} already there")
        } else {
            String::new()
        };
        self.line(
            &format!(
                "Uploading {files} file(s), {} KB, to {target}{skip}",
                bytes.div_ceil(1024)
            ),
            !self.live,
        )
    }

    fn uploaded(&self, key: &str) {
        let (n, total) = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.uploaded += 1;
            (s.uploaded, s.to_upload)
        };
        if self.live {
            self.line(&format!("Uploaded {n}/{total}"), false);
        } else if self.verbose {
            self.line(&format!("  uploaded {key}"), false);
        }
    }

    /// A resource event: a permanent line when verbose, in plain mode or on failure.
    fn event(&self, e: &StackEvent) {
        let failed = e.status.ends_with("FAILED");
        let text = format!("  {} - {} - {}", e.status, e.resource_type, e.logical_id);
        let text = match &e.reason {
            Some(r) if failed && !r.is_empty() => format!("{text}: {r}"),
            _ => text,
        };
        if self.verbose || !self.live || failed {
            self.line(&text, true);
        } else {
            self.line(text.trim_start(), false);
        }
    }
}

impl Reporter for ProgressPrinter {
    fn report(&self, event: Progress) {
        match event {
            Progress::StackBusy {
                stack,
                status,
                waited,
            } => self.line(
                &format!(
                    "Waiting for stack {stack} ({status}, {}s)",
                    waited.as_secs()
                ),
                false,
            ),
            Progress::StackRecreating { stack, status } => self.line(
                &format!(
                    "Stack {stack} is in {status} (it never finished creating and holds no \
                     resources): deleting it and creating it again"
                ),
                true,
            ),
            Progress::StackCreating { stack } => self.line(
                &format!("Creating stack {stack} (deployment bucket)"),
                false,
            ),
            Progress::ChangeCheck { unchanged, reason } => {
                if !unchanged {
                    self.line(&format!("Deploying: {reason}"), !self.live)
                }
            }
            Progress::Uploading {
                bucket,
                directory,
                files,
                bytes,
                skipped,
            } => self.uploading(&format!("s3://{bucket}/{directory}"), files, bytes, skipped),
            Progress::Uploaded { key, .. } => self.uploaded(&key),
            Progress::StackOperation { stack, operation } => {
                let doing = match operation {
                    "create" => "creating the stack",
                    "update" => "updating the stack with the service's resources",
                    "delete" => "deleting the stack",
                    _ => "creating a change set",
                };
                self.line(&format!("Stack {stack}: {doing}"), !self.live)
            }
            Progress::Event(e) => self.event(&e),
            Progress::Cleanup {
                directories,
                objects,
            } => self.line(
                &format!("Removed {directories} old deployment(s) ({objects} objects)"),
                !self.live,
            ),
            // The object counts (deleted, left) are in the result line of `remove`.
            Progress::Emptied { bucket, .. } => self.line(
                &format!("Deleted deployer's objects of the stage from s3://{bucket}"),
                !self.live,
            ),
            Progress::LockWait {
                stage,
                holder,
                since,
                waited,
            } => self.line(
                &format!(
                    "Waiting for the deploy of stage {stage} by {holder} since {since} ({}s)",
                    waited.as_secs()
                ),
                false,
            ),
            Progress::LockBroken { key, holder, since } => self.line(
                &format!("Removed the deploy lock {key} of {holder} (taken {since})"),
                true,
            ),
        }
    }
}
