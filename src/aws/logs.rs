//! CloudWatch Logs: the events of one stream, read forward.

use super::error::{AwsError, from_sdk};

/// A CloudWatch Logs stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub group: String,
    pub stream: String,
}

/// New lines of a log stream after `token` (a forward token), and the token
/// to ask with next. A stream that does not exist yet has no lines.
pub async fn log_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stream: &LogStream,
    token: Option<String>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let (events, next) = events(logs, stream, None, token).await?;
    Ok((events.into_iter().map(|e| e.message).collect(), next))
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// Events of `stream` from `start` (ms) on, or after `token`; and the forward
/// token to ask with next. At the end of the stream AWS hands back the same
/// token, and later events arrive on it.
pub async fn events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stream: &LogStream,
    start: Option<i64>,
    token: Option<String>,
) -> Result<(Vec<Event>, Option<String>), AwsError> {
    let out = logs
        .get_log_events()
        .log_group_name(&stream.group)
        .log_stream_name(&stream.stream)
        .start_from_head(true)
        .set_start_time(if token.is_none() { start } else { None })
        .set_next_token(token.clone())
        .send()
        .await
        .map_err(from_sdk);
    match out {
        Ok(out) => {
            let events = out
                .events()
                .iter()
                .map(|e| Event {
                    timestamp: e.timestamp().unwrap_or(0),
                    message: e.message().unwrap_or_default().to_string(),
                })
                .collect();
            Ok((events, out.next_forward_token().map(str::to_string).or(token)))
        }
        // A stream that does not exist yet (a task still starting) has no events.
        Err(AwsError::NotFound(_)) => Ok((Vec::new(), token)),
        Err(e) => Err(e),
    }
}
