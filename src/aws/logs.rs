//! CloudWatch Logs: the events of one stream, read forward.

use super::error::{AwsError, from_sdk};
pub use crate::model::logs::LogStream;

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

impl From<&aws_sdk_cloudwatchlogs::types::OutputLogEvent> for Event {
    fn from(e: &aws_sdk_cloudwatchlogs::types::OutputLogEvent) -> Event {
        Event { timestamp: e.timestamp().unwrap_or(0), message: e.message().unwrap_or_default().to_string() }
    }
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
            let events = out.events().iter().map(Event::from).collect();
            Ok((events, out.next_forward_token().map(str::to_string).or(token)))
        }
        // A stream that does not exist yet (a task still starting) has no events.
        Err(AwsError::NotFound(_)) => Ok((Vec::new(), token)),
        Err(e) => Err(e),
    }
}

/// The most events one `GetLogEvents` page holds.
const PAGE: usize = 10_000;

/// What a read backwards from a stream's end (or from a backward token) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backwards {
    /// Oldest first.
    pub events: Vec<Event>,
    /// The token to follow the stream on with, from its end (read from its end only).
    pub forward: Option<String>,
    /// The token to read further back with; `None` at the stream's start.
    pub backward: Option<String>,
}

/// The newest `n` events of `stream`, oldest first: read backwards from its
/// end a page at a time (never the history before them), with the tokens to
/// follow it on and to read further back. A stream that does not exist yet
/// has none.
pub async fn newest(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stream: &LogStream,
    n: usize,
) -> Result<Backwards, AwsError> {
    backwards(logs, stream, None, n).await
}

/// The `n` events before `token` (a [`Backwards::backward`] token), oldest first.
pub async fn older(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stream: &LogStream,
    token: String,
    n: usize,
) -> Result<Backwards, AwsError> {
    let mut read = backwards(logs, stream, Some(token), n).await?;
    read.forward = None;
    Ok(read)
}

async fn backwards(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stream: &LogStream,
    from: Option<String>,
    n: usize,
) -> Result<Backwards, AwsError> {
    let mut pages: Vec<Vec<Event>> = Vec::new();
    let mut count = 0;
    let mut forward = None;
    let mut backward = from;
    let mut at_start = false;
    while count < n {
        let limit = i32::try_from((n - count).min(PAGE)).unwrap_or(i32::MAX);
        let out = logs
            .get_log_events()
            .log_group_name(&stream.group)
            .log_stream_name(&stream.stream)
            .start_from_head(false)
            .limit(limit)
            .set_next_token(backward.clone())
            .send()
            .await
            .map_err(from_sdk);
        let out = match out {
            Ok(out) => out,
            Err(AwsError::NotFound(_)) => return Ok(Backwards::default()),
            Err(e) => return Err(e),
        };
        if pages.is_empty() {
            forward = out.next_forward_token().map(str::to_string);
        }
        let page: Vec<Event> = out.events().iter().map(Event::from).collect();
        let next = out.next_backward_token().map(str::to_string);
        // At the start AWS hands back an empty page, or the same token again.
        at_start = page.is_empty() || next.is_none() || next == backward;
        count += page.len();
        pages.push(page);
        backward = next;
        if at_start {
            break;
        }
    }
    let mut events: Vec<Event> = pages.into_iter().rev().flatten().collect();
    let extra = events.len().saturating_sub(n);
    events.drain(..extra);
    Ok(Backwards { events, forward, backward: if at_start { None } else { backward } })
}

/// The ARN of a log group, as Live Tail wants it (without the trailing `:*`).
pub async fn log_group_arn(logs: &aws_sdk_cloudwatchlogs::Client, group: &str) -> Result<String, AwsError> {
    let out = logs.describe_log_groups().log_group_name_prefix(group).send().await.map_err(from_sdk)?;
    let found = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
        .ok_or_else(|| AwsError::NotFound(format!("no log group `{group}`")))?;
    let arn = found.log_group_arn().or(found.arn()).unwrap_or_default();
    Ok(arn.strip_suffix(":*").unwrap_or(arn).to_string())
}

/// What a Live Tail session hands over.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveUpdate {
    /// New events, with the stream each came from.
    Events { events: Vec<(String, Event)>, sampled: bool },
    /// The session was opened (or an update with nothing in it).
    Nothing,
}

/// A Live Tail session of some streams of some log groups.
pub struct LiveTail {
    stream: aws_sdk_cloudwatchlogs::primitives::event_stream::EventReceiver<
        aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream,
        aws_sdk_cloudwatchlogs::types::error::StartLiveTailResponseStreamError,
    >,
}

impl LiveTail {
    /// Opens a session (`group_arns`: at most 10; `streams`: at most 100).
    pub async fn start(
        logs: &aws_sdk_cloudwatchlogs::Client,
        group_arns: Vec<String>,
        streams: Vec<String>,
    ) -> Result<LiveTail, AwsError> {
        // Not retried: where Live Tail can't be reached, polling takes over at once.
        let once = aws_sdk_cloudwatchlogs::config::Builder::default()
            .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled());
        let out = logs
            .start_live_tail()
            .set_log_group_identifiers(Some(group_arns))
            .set_log_stream_names(Some(streams))
            .customize()
            .config_override(once)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(LiveTail { stream: out.response_stream })
    }

    /// The next update; `None` when AWS closed the session.
    pub async fn next(&mut self) -> Result<Option<LiveUpdate>, AwsError> {
        use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream as S;
        let update = self.stream.recv().await.map_err(|e| AwsError::Service(crate::error::one_line(&e)))?;
        Ok(update.map(|u| match u {
            S::SessionUpdate(u) => {
                let sampled = u.session_metadata().is_some_and(|m| m.sampled());
                let events = u
                    .session_results()
                    .iter()
                    .map(|e| {
                        let stream = e.log_stream_name().unwrap_or_default().to_string();
                        let event = Event {
                            timestamp: e.timestamp().unwrap_or(0),
                            message: e.message().unwrap_or_default().to_string(),
                        };
                        (stream, event)
                    })
                    .collect();
                LiveUpdate::Events { events, sampled }
            }
            _ => LiveUpdate::Nothing,
        }))
    }
}
