//! CloudWatch GetMetricData for Lambda functions: invocations, errors, throttles, duration.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use crate::error::AwsError;

/// GetMetricData takes at most 500 queries per call.
const QUERIES_PER_CALL: usize = 500;

/// The queries asked for each function: `(id prefix, metric, statistic)`. The average
/// duration is not asked for as `Average`: averages of periods (or of pages) cannot be
/// combined without their weights, whereas `Sum` and `SampleCount` add up, and their quotient
/// is the exact mean over the window.
const KINDS: [(&str, &str, &str); 6] = [
    ("inv", "Invocations", "Sum"),
    ("err", "Errors", "Sum"),
    ("thr", "Throttles", "Sum"),
    ("dur", "Duration", "Sum"),
    ("cnt", "Duration", "SampleCount"),
    ("p99", "Duration", "p99"),
];

/// Functions per call: all the queries of a function go in the same call.
const FUNCTIONS_PER_CALL: usize = QUERIES_PER_CALL / KINDS.len();

/// The figures of one function over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionMetrics {
    /// Function name.
    pub function: String,
    /// Sum of `Invocations`.
    pub invocations: f64,
    /// Sum of `Errors`.
    pub errors: f64,
    /// Sum of `Throttles`.
    pub throttles: f64,
    /// Mean duration (ms) over the window: the `Duration` sum over its sample count, when
    /// there were samples.
    pub duration_avg: Option<f64>,
    /// How many durations the mean is taken over (`Duration`'s `SampleCount`): the weight
    /// with which it enters a mean over several functions.
    pub duration_samples: f64,
    /// Highest `Duration` p99 of the periods (ms), when there were data points.
    pub duration_p99: Option<f64>,
}

/// The queries of one function: `<kind>_<index>` ids.
fn queries(index: usize, function: &str, period: i32) -> Vec<MetricDataQuery> {
    let metric = |name: &str| {
        Metric::builder()
            .namespace("AWS/Lambda")
            .metric_name(name)
            .dimensions(
                Dimension::builder()
                    .name("FunctionName")
                    .value(function)
                    .build(),
            )
            .build()
    };
    KINDS
        .into_iter()
        .map(|(id, name, stat)| {
            MetricDataQuery::builder()
                .id(format!("{id}_{index}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric(name))
                        .period(period)
                        .stat(stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect()
}

/// The figures of `functions` between `start` and `end` (seconds since the epoch), one
/// period per `period` seconds.
pub async fn lambda_metrics(
    cw: &Client,
    functions: &[String],
    start: i64,
    end: i64,
    period: i32,
) -> Result<Vec<FunctionMetrics>, AwsError> {
    let mut tallies = vec![Tally::default(); functions.len()];
    for (n, chunk) in functions.chunks(FUNCTIONS_PER_CALL).enumerate() {
        let first = n * FUNCTIONS_PER_CALL;
        let asked: Vec<MetricDataQuery> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, f)| queries(first + i, f, period))
            .collect();
        let mut token: Option<String> = None;
        loop {
            let resp = cw
                .get_metric_data()
                .set_metric_data_queries(Some(asked.clone()))
                .start_time(DateTime::from_secs(start))
                .end_time(DateTime::from_secs(end))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| AwsError::call("CloudWatch GetMetricData", e))?;
            for r in resp.metric_data_results() {
                apply(&mut tallies, r.id().unwrap_or_default(), r.values());
            }
            match resp.next_token() {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(functions
        .iter()
        .zip(tallies)
        .map(|(f, t)| t.finish(f))
        .collect())
}

/// A function's figures while the pages arrive. A page may carry any part of a result's data
/// points (a result marked `PartialData` goes on in the next page), so everything kept here
/// combines across pages: sums add up, the p99 keeps the highest seen.
#[derive(Debug, Clone, Default)]
struct Tally {
    invocations: f64,
    errors: f64,
    throttles: f64,
    duration_sum: f64,
    samples: f64,
    /// The highest per-period p99. Percentiles of periods cannot be merged exactly, but the
    /// highest one bounds the window's p99 from above (at least 99% of every period's
    /// durations are at or below it, so 99% of all of them are): the figure never understates.
    p99: Option<f64>,
}

impl Tally {
    /// Adds the data points `values` of one result of kind `kind`.
    fn add(&mut self, kind: &str, values: &[f64]) {
        let sum: f64 = values.iter().sum();
        match kind {
            "inv" => self.invocations += sum,
            "err" => self.errors += sum,
            "thr" => self.throttles += sum,
            "dur" => self.duration_sum += sum,
            "cnt" => self.samples += sum,
            "p99" => {
                self.p99 = values.iter().copied().chain(self.p99).reduce(f64::max);
            }
            _ => {}
        }
    }

    fn finish(self, function: &str) -> FunctionMetrics {
        FunctionMetrics {
            function: function.to_string(),
            invocations: self.invocations,
            errors: self.errors,
            throttles: self.throttles,
            duration_avg: (self.samples > 0.0).then(|| self.duration_sum / self.samples),
            duration_samples: self.samples,
            duration_p99: self.p99,
        }
    }
}

/// Folds the values of result `id` (`<kind>_<index>`) into its function's tally.
fn apply(tallies: &mut [Tally], id: &str, values: &[f64]) {
    let Some((kind, index)) = id.split_once('_') else {
        return;
    };
    if let Some(t) = index.parse::<usize>().ok().and_then(|i| tallies.get_mut(i)) {
        t.add(kind, values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_fold_into_their_function_across_pages() {
        let mut t = vec![Tally::default(), Tally::default()];
        apply(&mut t, "inv_1", &[2.0, 3.0]);
        apply(&mut t, "dur_1", &[100.0, 300.0]);
        apply(&mut t, "cnt_1", &[2.0, 3.0]);
        apply(&mut t, "p99_1", &[15.0, 40.0]);
        // A later page with the rest of the data points.
        apply(&mut t, "inv_1", &[5.0]);
        apply(&mut t, "dur_1", &[400.0]);
        apply(&mut t, "cnt_1", &[5.0]);
        apply(&mut t, "p99_1", &[20.0]);
        apply(&mut t, "dur_0", &[]);
        apply(&mut t, "bogus", &[1.0]);
        apply(&mut t, "inv_9", &[1.0]);
        let [first, second] = [t[0].clone(), t[1].clone()].map(|t| t.finish("f"));
        assert_eq!(second.invocations, 10.0);
        assert_eq!(second.duration_avg, Some(80.0));
        assert_eq!(second.duration_samples, 10.0);
        assert_eq!(second.duration_p99, Some(40.0));
        assert_eq!(first.duration_avg, None);
        assert_eq!(first.duration_p99, None);
        assert_eq!(queries(0, "f", 60).len(), KINDS.len());
        assert_eq!(FUNCTIONS_PER_CALL * KINDS.len(), 498);
    }
}
