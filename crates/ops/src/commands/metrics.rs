//! `metrics [-f NAME]`: invocations, errors, throttles and duration (average, p99) of the
//! stage's functions from CloudWatch GetMetricData, per function and in total.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::calls::AwsCalls;
use crate::commands::deployments;
use crate::commands::logs::parse_since;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::manifest::rfc3339;
use crate::pipeline::stage::StageOptions;

/// `--startTime` when none is given (v3's default: the last 24 hours).
pub const DEFAULT_WINDOW: &str = "1d";
/// At most this many periods per window (GetMetricData returns up to 100,800 points).
const MAX_PERIODS: u64 = 1440;

/// Which functions and window.
#[derive(Debug, Default)]
pub struct MetricsOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// One function's key; `None` for every function.
    pub function: Option<String>,
    /// `--startTime` (duration ago or date).
    pub start_time: Option<String>,
    /// `--endTime` (duration ago or date; default now).
    pub end_time: Option<String>,
}

/// The figures of one function, or the total.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Function key (`total` for the sum).
    pub function: String,
    /// Deployed name (empty for the total).
    pub name: String,
    /// Invocations.
    pub invocations: f64,
    /// Errors.
    pub errors: f64,
    /// Throttles.
    pub throttles: f64,
    /// Average duration in ms (every duration of the window counted once), when there were
    /// data points.
    pub duration_avg_ms: Option<f64>,
    /// How many durations the average is over: its weight in the total's average.
    #[serde(skip)]
    pub duration_samples: f64,
    /// p99 duration in ms, when there were data points: the highest p99 of the periods, an
    /// upper bound of the window's p99 (percentiles of periods cannot be merged exactly).
    pub duration_p99_ms: Option<f64>,
}

/// The result of `metrics`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Window start (RFC 3339).
    pub start_time: String,
    /// Window end (RFC 3339).
    pub end_time: String,
    /// Period of the data points in seconds.
    pub period_seconds: u64,
    /// Per function.
    pub functions: Vec<Figures>,
    /// All functions together.
    pub total: Figures,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

fn secs(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

/// A period (a multiple of 60 s) giving at most [`MAX_PERIODS`] points over `window`.
fn period_for(window: Duration) -> u64 {
    let per = window.as_secs().div_ceil(MAX_PERIODS).max(60);
    per.div_ceil(60) * 60
}

/// The sum of the figures; the average over every duration of every function (each
/// function's average weighted by its samples); the highest p99, for the same reason as a
/// function's own.
fn total(functions: &[Figures]) -> Figures {
    let mut t = Figures {
        function: "total".into(),
        ..Default::default()
    };
    let mut weighted = (0.0, 0.0);
    for f in functions {
        t.invocations += f.invocations;
        t.errors += f.errors;
        t.throttles += f.throttles;
        if let Some(avg) = f.duration_avg_ms {
            let w = f.duration_samples;
            weighted = (weighted.0 + avg * w, weighted.1 + w);
        }
        t.duration_p99_ms = match (t.duration_p99_ms, f.duration_p99_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    t.duration_avg_ms = (weighted.1 > 0.0).then(|| weighted.0 / weighted.1);
    t
}

/// Opens the stage (guard first) and reads the metrics.
pub async fn metrics(options: &MetricsOptions, observer: &dyn Observer) -> anyhow::Result<Metrics> {
    let now = SystemTime::now();
    let start = parse_since(
        "--startTime",
        options.start_time.as_deref().unwrap_or(DEFAULT_WINDOW),
        now,
    )?;
    let end = match &options.end_time {
        Some(t) => parse_since("--endTime", t, now)?,
        None => now,
    };
    let Ok(window) = end.duration_since(start) else {
        return Err(OpError::error(
            OpErrorKind::Input,
            "--startTime must be before --endTime",
        ));
    };
    let target = deployments::open(&options.stage, observer).await?;
    let keys: Vec<String> = match &options.function {
        Some(k) => {
            deployments::ensure_function(&target.service, k, &target.stage.source.file.path)?;
            vec![k.clone()]
        }
        None => target.service.functions.keys().cloned().collect(),
    };
    let names: Vec<String> = keys
        .iter()
        .map(|k| target.service.function_name(k, &target.name))
        .collect();
    let period = period_for(window);
    let figures = deployer_aws::metrics::lambda_metrics(
        &target.stage.clients.cloudwatch,
        &names,
        secs(start),
        secs(end),
        period as i32,
    )
    .await?;
    let functions: Vec<Figures> = keys
        .into_iter()
        .zip(figures)
        .map(|(key, m)| Figures {
            function: key,
            name: m.function,
            invocations: m.invocations,
            errors: m.errors,
            throttles: m.throttles,
            duration_avg_ms: m.duration_avg,
            duration_samples: m.duration_samples,
            duration_p99_ms: m.duration_p99,
        })
        .collect();
    Ok(Metrics {
        start_time: rfc3339(start),
        end_time: rfc3339(end),
        period_seconds: period,
        total: total(&functions),
        functions,
        aws_calls: target.stage.calls(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_minutes_and_bounded() {
        assert_eq!(period_for(Duration::from_secs(600)), 60);
        assert_eq!(period_for(Duration::from_secs(86_400)), 60);
        assert_eq!(period_for(Duration::from_secs(7 * 86_400)), 420);
    }

    #[test]
    fn totals_sum_and_weigh_by_samples() {
        let f = |inv: f64, avg: Option<f64>, samples: f64, p99: Option<f64>| Figures {
            invocations: inv,
            errors: 1.0,
            duration_avg_ms: avg,
            duration_samples: samples,
            duration_p99_ms: p99,
            ..Default::default()
        };
        // Each average weighs as many durations as it is over (its samples), whatever the
        // invocations: (10 × 3 + 30 × 7) / 10.
        let t = total(&[
            f(3.0, Some(10.0), 3.0, Some(20.0)),
            f(1.0, Some(30.0), 7.0, None),
        ]);
        assert_eq!(t.invocations, 4.0);
        assert_eq!(t.errors, 2.0);
        assert_eq!(t.duration_avg_ms, Some(24.0));
        assert_eq!(t.duration_p99_ms, Some(20.0));
        assert_eq!(total(&[]).duration_avg_ms, None);
    }
}
