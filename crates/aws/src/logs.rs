//! CloudWatch Logs: the events of a function's log group in a time window.

/// The CloudWatch Logs client type.
pub use aws_sdk_cloudwatchlogs::Client;

use crate::error::AwsError;

/// Pages read per window at most (10,000 events at the default page size): a bound on a
/// window with a huge amount of log.
pub const MAX_PAGES: usize = 10;

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The log stream.
    pub stream: String,
    /// The message, as written.
    pub message: String,
    /// The event id (to skip events already seen while following).
    pub id: String,
}

/// `/aws/lambda/<function name>`.
pub fn group_name(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// FilterLogEvents of `group` from `start_ms` (inclusive) to `end_ms`, with `pattern`, all
/// pages up to [`MAX_PAGES`], sorted by time. A log group that does not exist yet (a function
/// never invoked) has no events.
pub async fn filter_events(
    logs: &Client,
    group: &str,
    start_ms: i64,
    end_ms: Option<i64>,
    pattern: Option<&str>,
) -> Result<Vec<LogEvent>, AwsError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let sent = logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_end_time(end_ms)
            .set_filter_pattern(pattern.map(str::to_string))
            .set_next_token(token.clone())
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                let err = AwsError::call(format!("Logs FilterLogEvents on {group}"), e);
                if err.code() == Some("ResourceNotFoundException") {
                    return Ok(Vec::new());
                }
                return Err(err);
            }
        };
        events.extend(out.events().iter().map(|e| LogEvent {
            timestamp: e.timestamp().unwrap_or_default(),
            stream: e.log_stream_name().unwrap_or_default().to_string(),
            message: e.message().unwrap_or_default().to_string(),
            id: e.event_id().unwrap_or_default().to_string(),
        }));
        // An unchanged token means the end too (some emulators repeat it).
        match out.next_token() {
            Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_log_group_names() {
        assert_eq!(group_name("svc-dev-hello"), "/aws/lambda/svc-dev-hello");
    }
}
