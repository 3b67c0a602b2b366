//! Running services in waves, at most `--max-concurrency` at once: a failed service stops
//! the services that depend on it (skipped), the others finish.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

/// How one service's part of a compose run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Deployed (changes applied).
    Deployed,
    /// Nothing changed: skipped as a single service's `up` skips.
    Unchanged,
    /// Removed.
    Removed,
    /// Read or computed (diff, info, package, print, whoami, verify, deploy list).
    Done,
    /// Failed.
    Failed,
    /// Not run: a service it depends on (or, for `remove`, one depending on it) failed.
    Skipped,
}

impl Status {
    /// Failed or skipped for a failure.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Skipped)
    }
}

/// One service's result in a compose run.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unit {
    /// The service's key in the compose file.
    pub service: String,
    /// How it ended.
    pub status: Status,
    /// Its stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// The account it acted on, when its stage was opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Wall time of its part, in milliseconds.
    pub millis: u64,
    /// What failed (or why it was skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The single-service command's result, as that command prints it with `--json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The failure, kept for the error kind.
    #[serde(skip)]
    pub cause: Option<anyhow::Error>,
}

impl Unit {
    /// A finished unit from its result.
    pub fn done(service: &str, status: Status, result: &impl Serialize) -> Self {
        let result = serde_json::to_value(result).ok();
        let field = |k: &str| {
            result
                .as_ref()
                .and_then(|r| r.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Self {
            service: service.to_string(),
            status,
            stack: field("stack").or_else(|| field("stackName")),
            account: field("account"),
            millis: 0,
            error: None,
            result,
            cause: None,
        }
    }

    /// A service's command that ended: its result, or what failed.
    pub fn finished(service: &str, result: anyhow::Result<impl Serialize>) -> Self {
        match result {
            Ok(r) => Self::done(service, Status::Done, &r),
            Err(e) => Self::failed(service, e),
        }
    }

    /// A failed unit.
    pub fn failed(service: &str, err: anyhow::Error) -> Self {
        Self {
            service: service.to_string(),
            status: Status::Failed,
            stack: None,
            account: None,
            millis: 0,
            error: Some(format!("{err:#}")),
            result: None,
            cause: Some(err),
        }
    }

    fn skipped(service: &str, why: String) -> Self {
        Self {
            service: service.to_string(),
            status: Status::Skipped,
            stack: None,
            account: None,
            millis: 0,
            error: Some(why),
            result: None,
            cause: None,
        }
    }
}

type Job<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Runs `jobs` with at most `max` at once (in this task: the operations share the caller's
/// observer), returning their outputs in the order of `jobs`.
pub(crate) async fn bounded<'a, T>(jobs: Vec<Job<'a, T>>, max: usize) -> Vec<T> {
    let max = max.max(1);
    let total = jobs.len();
    let mut waiting: std::collections::VecDeque<(usize, Job<'a, T>)> =
        jobs.into_iter().enumerate().collect();
    let mut running: Vec<(usize, Job<'a, T>)> = Vec::new();
    let mut out: Vec<Option<T>> = (0..total).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        loop {
            while running.len() < max {
                match waiting.pop_front() {
                    Some(job) => running.push(job),
                    None => break,
                }
            }
            let mut finished = false;
            let mut i = 0;
            while i < running.len() {
                if let Poll::Ready(value) = running[i].1.as_mut().poll(cx) {
                    let (index, _) = running.swap_remove(i);
                    out[index] = Some(value);
                    finished = true;
                } else {
                    i += 1;
                }
            }
            if running.is_empty() && waiting.is_empty() {
                return Poll::Ready(());
            }
            if !finished {
                return Poll::Pending;
            }
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Runs `job` for each service of `waves`, wave after wave, `max` at once. When a service
/// fails, the services `blocked(failed)` names are skipped.
pub(crate) async fn waves<'a, F>(
    waves: &[Vec<String>],
    max: usize,
    blocked: &dyn Fn(&str) -> Vec<String>,
    job: F,
) -> Vec<Unit>
where
    F: Fn(String) -> Job<'a, Unit>,
{
    let mut skipped: IndexMap<String, String> = IndexMap::new();
    let mut units = Vec::new();
    for wave in waves {
        let mut jobs: Vec<Job<'a, Unit>> = Vec::new();
        for name in wave {
            if let Some(why) = skipped.get(name) {
                units.push(Unit::skipped(name, why.clone()));
            } else {
                jobs.push(timed(job(name.clone())));
            }
        }
        for unit in bounded(jobs, max).await {
            if unit.status == Status::Failed {
                for other in blocked(&unit.service) {
                    let why = format!("not run: {} failed", unit.service);
                    skipped.entry(other).or_insert(why);
                }
            }
            units.push(unit);
        }
    }
    units
}

/// `fut` with its wall time recorded in the unit.
pub(crate) fn timed<'a>(fut: Job<'a, Unit>) -> Job<'a, Unit> {
    Box::pin(async move {
        let started = Instant::now();
        let mut unit = fut.await;
        unit.millis = started.elapsed().as_millis() as u64;
        unit
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[tokio::test]
    async fn bounded_runs_at_most_max_at_once_and_keeps_order() {
        let running = RefCell::new((0usize, 0usize));
        let jobs: Vec<Job<'_, usize>> = (0..6usize)
            .map(|i| {
                let running = &running;
                Box::pin(async move {
                    {
                        let mut r = running.borrow_mut();
                        r.0 += 1;
                        r.1 = r.1.max(r.0);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    running.borrow_mut().0 -= 1;
                    i
                }) as Job<'_, usize>
            })
            .collect();
        let out = bounded(jobs, 2).await;
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(running.borrow().1, 2);
    }

    #[tokio::test]
    async fn a_failure_skips_what_it_blocks_and_others_finish() {
        let w = vec![
            vec!["p".to_string(), "free".into()],
            vec!["c".into(), "other".into()],
        ];
        let blocked = |s: &str| {
            if s == "p" {
                vec!["c".to_string()]
            } else {
                vec![]
            }
        };
        let units = waves(&w, 4, &blocked, |name| {
            Box::pin(async move {
                if name == "p" {
                    Unit::failed(&name, anyhow::anyhow!("boom"))
                } else {
                    Unit::done(&name, Status::Done, &serde_json::json!({}))
                }
            })
        })
        .await;
        let status: Vec<(String, Status)> = units
            .iter()
            .map(|u| (u.service.clone(), u.status))
            .collect();
        assert_eq!(
            status,
            vec![
                ("p".into(), Status::Failed),
                ("free".into(), Status::Done),
                ("c".into(), Status::Skipped),
                ("other".into(), Status::Done),
            ]
        );
    }
}
