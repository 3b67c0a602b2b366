//! `logs -f NAME`: the CloudWatch Logs of `/aws/lambda/<function name>` since `--startTime`
//! (default 10 minutes), with `--filter`; `--tail` keeps polling for new events.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use deployer_aws::logs::{self, LogEvent};
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::commands::deployments;
use crate::errors::{OpError, OpErrorKind};
use crate::observer::Observer;
use crate::pipeline::manifest::rfc3339;
use crate::pipeline::stage::StageOptions;

/// `--startTime` when none is given (v3's default).
pub const DEFAULT_SINCE: &str = "10m";
/// The longest pause between two polls of `--tail` when nothing new arrives.
pub const MAX_TAIL_INTERVAL: Duration = Duration::from_secs(10);

/// Which logs.
#[derive(Debug, Default)]
pub struct LogsOptions {
    /// The stage and its credentials.
    pub stage: StageOptions,
    /// The function's key in `functions:`.
    pub function: String,
    /// `--startTime`: `30s`, `10m`, `2h`, `1d`, or an ISO 8601 date or time.
    pub start_time: Option<String>,
    /// `--filter` (a CloudWatch Logs filter pattern).
    pub filter: Option<String>,
    /// `--tail`: keep following.
    pub tail: bool,
    /// `--interval` in milliseconds between polls while following (default 1000).
    pub interval: Option<u64>,
}

/// One line of log.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// RFC 3339 time.
    pub time: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Log stream.
    pub stream: String,
    /// The message.
    pub message: String,
}

/// The result of `logs` without `--tail`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Logs {
    /// The function's key.
    pub function: String,
    /// Its deployed name.
    pub name: String,
    /// The log group.
    pub log_group: String,
    /// The start of the window (RFC 3339).
    pub start_time: String,
    /// The events, oldest first.
    pub events: Vec<LogLine>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

/// `10m`, `2h`, `1d`, `30s`, or an RFC 3339 time or a `YYYY-MM-DD` date (UTC), given as the
/// option `flag` (named in the error). A time before 1970 (a huge duration) is refused: the
/// window is sent as milliseconds since the epoch.
pub fn parse_since(flag: &str, text: &str, now: SystemTime) -> anyhow::Result<SystemTime> {
    let t = text.trim();
    let bad = || {
        OpError::error(
            OpErrorKind::Input,
            format!(
                "{flag} {t:?} is neither a duration (30s, 10m, 2h, 1d) nor a date \
                 (2026-11-27 or 2026-11-27T13:53:12Z)"
            ),
        )
    };
    let at = match t.chars().last().filter(|c| "smhd".contains(*c)) {
        Some(unit) => {
            let n: u64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
            let unit_secs = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => 86_400,
            };
            // Checked: `100000000d` would overflow or leave the calendar.
            n.checked_mul(unit_secs)
                .and_then(|secs| now.checked_sub(Duration::from_secs(secs)))
        }
        None => Some(parse_date(t).ok_or_else(bad)?),
    };
    match at {
        Some(at) if at >= SystemTime::UNIX_EPOCH => Ok(at),
        _ => Err(OpError::error(
            OpErrorKind::Input,
            format!("{flag} {t:?} lies before 1970-01-01; give a shorter duration or a later date"),
        )),
    }
}

/// An RFC 3339 time or a `YYYY-MM-DD` date (midnight UTC).
fn parse_date(t: &str) -> Option<SystemTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = time::OffsetDateTime::parse(t, &Rfc3339) {
        return Some(at.into());
    }
    let date =
        time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().into())
}

fn millis(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

fn line(e: &LogEvent) -> LogLine {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(e.timestamp.max(0) as u64);
    LogLine {
        time: rfc3339(at),
        timestamp: e.timestamp,
        stream: e.stream.clone(),
        message: e.message.clone(),
    }
}

/// Opens the stage (guard first) and reads the window; each batch of lines goes to `sink` as it
/// arrives. With `tail` it never returns but on an error (the process ends on Ctrl-C).
pub async fn logs(
    options: &LogsOptions,
    observer: &dyn Observer,
    sink: &mut dyn FnMut(&[LogLine]),
) -> anyhow::Result<Logs> {
    let now = SystemTime::now();
    let since = parse_since(
        "--startTime",
        options.start_time.as_deref().unwrap_or(DEFAULT_SINCE),
        now,
    )?;
    let target = deployments::open(&options.stage, observer).await?;
    let key = &options.function;
    deployments::ensure_function(&target.service, key, &target.stage.source.file.path)?;
    let name = target.service.function_name(key, &target.name);
    let group = logs::group_name(&name);
    let client = &target.stage.clients.logs;
    let filter = options.filter.as_deref();
    let events = logs::filter_events(client, &group, millis(since), None, filter).await?;
    let lines: Vec<LogLine> = events.iter().map(line).collect();
    sink(&lines);
    if options.tail {
        let interval = Duration::from_millis(options.interval.unwrap_or(1000).max(100));
        follow(client, &group, filter, events, interval, sink).await?;
    }
    Ok(Logs {
        function: key.clone(),
        name,
        log_group: group,
        start_time: rfc3339(since),
        events: lines,
        aws_calls: target.stage.calls(),
    })
}

/// Polls for events newer than the last seen; the pause doubles up to
/// [`MAX_TAIL_INTERVAL`] while nothing arrives and drops back to `interval` when something does.
async fn follow(
    client: &logs::Client,
    group: &str,
    filter: Option<&str>,
    seen: Vec<LogEvent>,
    interval: Duration,
    sink: &mut dyn FnMut(&[LogLine]),
) -> anyhow::Result<()> {
    let mut from = seen
        .last()
        .map_or_else(|| millis(SystemTime::now()), |e| e.timestamp);
    let mut ids: HashSet<String> = seen.into_iter().map(|e| e.id).collect();
    let mut pause = interval;
    loop {
        tokio::time::sleep(pause).await;
        let fresh: Vec<LogEvent> = logs::filter_events(client, group, from, None, filter)
            .await?
            .into_iter()
            .filter(|e| !ids.contains(&e.id))
            .collect();
        if fresh.is_empty() {
            pause = pause.saturating_mul(2).min(MAX_TAIL_INTERVAL.max(interval));
            continue;
        }
        pause = interval;
        from = fresh.iter().map(|e| e.timestamp).max().unwrap_or(from);
        sink(&fresh.iter().map(line).collect::<Vec<_>>());
        // Only events at the newest millisecond can come again; forget the older ids.
        ids.clear();
        ids.extend(
            fresh
                .into_iter()
                .filter(|e| e.timestamp == from)
                .map(|e| e.id),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_durations_or_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ago = |s: &str| {
            now.duration_since(parse_since("--startTime", s, now).unwrap())
                .unwrap()
        };
        assert_eq!(ago("10m"), Duration::from_secs(600));
        assert_eq!(ago("2h"), Duration::from_secs(7200));
        assert_eq!(ago("1d"), Duration::from_secs(86_400));
        assert_eq!(ago("30s"), Duration::from_secs(30));
        let at = parse_since("--startTime", "1970-01-02T00:00:00Z", now).unwrap();
        assert_eq!(millis(at), 86_400_000);
        let date = parse_since("--startTime", "1970-01-03", now).unwrap();
        assert_eq!(millis(date), 172_800_000);
        for bad in ["soon", "5x", "", "-5m", "m"] {
            let err = parse_since("--endTime", bad, now).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("--endTime {bad:?} is neither")),
                "{err}"
            );
        }
    }

    #[test]
    fn huge_durations_are_refused_not_overflowed() {
        let now = SystemTime::now();
        for huge in [
            "100000000d",
            "9223372036854775807s",
            "18446744073709551615h",
            "1969-12-31",
        ] {
            let err = parse_since("--startTime", huge, now).unwrap_err();
            let op = err.downcast_ref::<OpError>().unwrap();
            assert_eq!(op.kind, OpErrorKind::Input);
            assert!(op.message.contains("lies before 1970-01-01"), "{op:?}");
            assert!(op.message.starts_with("--startTime"), "{op:?}");
        }
        let err = parse_since("--startTime", "18446744073709551616s", now).unwrap_err();
        assert!(err.to_string().contains("is neither a duration"), "{err}");
    }
}
