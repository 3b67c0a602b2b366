//! CloudWatch GetMetricData for Lambda functions: invocations, errors, throttles, duration.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use crate::error::AwsError;

/// GetMetricData takes at most 500 queries per call; five per function.
const QUERIES_PER_CALL: usize = 500;

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
    /// Mean of the `Duration` averages (ms), when there were data points.
    pub duration_avg: Option<f64>,
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
    [
        ("inv", "Invocations", "Sum"),
        ("err", "Errors", "Sum"),
        ("thr", "Throttles", "Sum"),
        ("avg", "Duration", "Average"),
        ("p99", "Duration", "p99"),
    ]
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
    let mut out: Vec<FunctionMetrics> = functions
        .iter()
        .map(|f| FunctionMetrics {
            function: f.clone(),
            ..Default::default()
        })
        .collect();
    let all: Vec<MetricDataQuery> = functions
        .iter()
        .enumerate()
        .flat_map(|(i, f)| queries(i, f, period))
        .collect();
    for chunk in all.chunks(QUERIES_PER_CALL) {
        let mut token: Option<String> = None;
        loop {
            let resp = cw
                .get_metric_data()
                .set_metric_data_queries(Some(chunk.to_vec()))
                .start_time(DateTime::from_secs(start))
                .end_time(DateTime::from_secs(end))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| AwsError::call("CloudWatch GetMetricData", e))?;
            for r in resp.metric_data_results() {
                apply(&mut out, r.id().unwrap_or_default(), r.values());
            }
            match resp.next_token() {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// Folds the values of result `id` into its function's figures.
fn apply(out: &mut [FunctionMetrics], id: &str, values: &[f64]) {
    let Some((kind, index)) = id.split_once('_') else {
        return;
    };
    let Some(m) = index.parse::<usize>().ok().and_then(|i| out.get_mut(i)) else {
        return;
    };
    let sum: f64 = values.iter().sum();
    match kind {
        "inv" => m.invocations += sum,
        "err" => m.errors += sum,
        "thr" => m.throttles += sum,
        "avg" if !values.is_empty() => m.duration_avg = Some(sum / values.len() as f64),
        "p99" if !values.is_empty() => {
            m.duration_p99 = values.iter().copied().reduce(f64::max);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_fold_into_their_function() {
        let mut out = vec![FunctionMetrics::default(), FunctionMetrics::default()];
        apply(&mut out, "inv_1", &[2.0, 3.0]);
        apply(&mut out, "avg_1", &[10.0, 20.0]);
        apply(&mut out, "p99_1", &[15.0, 40.0]);
        apply(&mut out, "avg_0", &[]);
        apply(&mut out, "bogus", &[1.0]);
        assert_eq!(out[1].invocations, 5.0);
        assert_eq!(out[1].duration_avg, Some(15.0));
        assert_eq!(out[1].duration_p99, Some(40.0));
        assert_eq!(out[0].duration_avg, None);
        assert_eq!(queries(0, "f", 60).len(), 5);
    }
}
