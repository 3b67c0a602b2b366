//! Counting AWS requests: an SDK interceptor that records every HTTP attempt (service,
//! operation, start and end), so commands and benchmarks can report how many AWS calls they
//! made and how many of them had to run one after another.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;

/// One HTTP attempt sent to AWS.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    /// Service name as the SDK knows it (`s3`, `cloudformation`, `sts`, ...).
    pub service: String,
    /// Operation name (`PutObject`, `DescribeStacks`, ...).
    pub operation: String,
    /// Start, relative to the counter's creation.
    #[serde(skip)]
    pub start: Duration,
    /// End (response received or attempt failed), relative to the counter's creation.
    #[serde(skip)]
    pub end: Option<Duration>,
}

/// Shared, cloneable request counter. Attach it to every SDK client with
/// [`CallCounter::interceptor`]; clones share the same records.
#[derive(Clone)]
pub struct CallCounter {
    origin: Instant,
    records: Arc<Mutex<Vec<CallRecord>>>,
}

impl Default for CallCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CallCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallCounter")
            .field("calls", &self.count())
            .finish()
    }
}

/// Summary of the calls recorded so far.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CallSummary {
    /// Number of HTTP attempts (retries count).
    pub total: usize,
    /// Length of the longest chain of calls that ran one after another (the sequential round
    /// trips on the critical path; calls that overlapped count once).
    pub sequential: usize,
    /// `Service.Operation` → count, in first-seen order.
    pub by_operation: Vec<(String, usize)>,
}

impl CallCounter {
    /// A counter with no calls recorded.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            records: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The interceptor to add to an SDK client config (`.interceptor(counter.interceptor())`).
    pub fn interceptor(&self) -> CallInterceptor {
        CallInterceptor {
            counter: self.clone(),
        }
    }

    /// Records a call made outside the SDK clients, on the session's behalf (an AWS call of a
    /// plugin run by the plugin host, with credentials the session handed over).
    pub fn record(&self, service: &str, operation: &str) {
        let now = self.origin.elapsed();
        self.lock().push(CallRecord {
            service: service.to_string(),
            operation: operation.to_string(),
            start: now,
            end: Some(now),
        });
    }

    /// Number of HTTP attempts so far.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Copy of every record so far.
    pub fn records(&self) -> Vec<CallRecord> {
        self.lock().clone()
    }

    /// Totals, the sequential chain length and per-operation counts.
    pub fn summary(&self) -> CallSummary {
        let records = self.records();
        let mut by_operation: Vec<(String, usize)> = Vec::new();
        for r in &records {
            let key = format!("{}.{}", r.service, r.operation);
            match by_operation.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => by_operation.push((key, 1)),
            }
        }
        CallSummary {
            total: records.len(),
            sequential: sequential_rounds(&records),
            by_operation,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CallRecord>> {
        // A poisoned lock only means another thread panicked while pushing a record; the data
        // is still a valid list.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Longest chain of non-overlapping calls (greedy by end time gives the maximum).
fn sequential_rounds(records: &[CallRecord]) -> usize {
    let mut spans: Vec<(Duration, Duration)> = records
        .iter()
        .map(|r| (r.start, r.end.unwrap_or(r.start)))
        .collect();
    spans.sort_by_key(|s| s.1);
    let mut rounds = 0;
    let mut last_end: Option<Duration> = None;
    for (start, end) in spans {
        if last_end.is_none_or(|e| start >= e) {
            rounds += 1;
            last_end = Some(end);
        }
    }
    rounds
}

/// Index of this attempt's record, carried from "before transmit" to "after attempt".
#[derive(Debug, Clone, Copy)]
struct AttemptIndex(usize);

impl Storable for AttemptIndex {
    type Storer = StoreReplace<Self>;
}

/// The SDK interceptor behind [`CallCounter`].
#[derive(Debug, Clone)]
pub struct CallInterceptor {
    counter: CallCounter,
}

impl Intercept for CallInterceptor {
    fn name(&self) -> &'static str {
        "deployer-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let mut records = self.counter.lock();
        records.push(CallRecord {
            service,
            operation,
            start: self.counter.origin.elapsed(),
            end: None,
        });
        let index = records.len() - 1;
        drop(records);
        cfg.interceptor_state().store_put(AttemptIndex(index));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(AttemptIndex(i)) = cfg.load::<AttemptIndex>().copied() {
            let now = self.counter.origin.elapsed();
            if let Some(r) = self.counter.lock().get_mut(i) {
                r.end.get_or_insert(now);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(start: u64, end: u64) -> CallRecord {
        CallRecord {
            service: "s".into(),
            operation: "o".into(),
            start: Duration::from_millis(start),
            end: Some(Duration::from_millis(end)),
        }
    }

    #[test]
    fn overlapping_calls_count_as_one_round() {
        // STS, then DescribeStacks, then three HeadObjects in parallel.
        let records = [
            rec(0, 10),
            rec(10, 20),
            rec(21, 30),
            rec(22, 31),
            rec(21, 29),
        ];
        assert_eq!(sequential_rounds(&records), 3);
    }

    #[test]
    fn strictly_sequential_calls_each_count() {
        let records = [rec(0, 5), rec(6, 9), rec(10, 12), rec(13, 20)];
        assert_eq!(sequential_rounds(&records), 4);
        assert_eq!(sequential_rounds(&[]), 0);
    }
}
