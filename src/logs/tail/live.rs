//! Following with CloudWatch Live Tail: one session over the tail's streams
//! until it ends, the service gets new tasks, nobody looks for a while, or the
//! receiver goes away. Its lines are remembered until a read of their stream
//! passes them, so the catch-up after the session shows none twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{TASKS_EVERY, TailControl, TailEvent, TailMode, TaskLogTail, short_id};
use crate::aws::AwsError;
use crate::aws::logs::{self, LiveTail, LiveUpdate};
use crate::logs::LogLine;

/// How long opening a Live Tail session may take before polling takes over.
const LIVE_START: Duration = Duration::from_secs(10);
/// Live Tail's own limits on one session.
const LIVE_MAX_GROUPS: usize = 10;
const LIVE_MAX_STREAMS: usize = 100;
/// Lines handed over by Live Tail and not yet matched by a catch-up read; past
/// this many the session is closed and the streams read up to date.
const LIVE_MAX_UNMATCHED: usize = 200_000;

/// Why a Live Tail session stopped.
pub(super) enum LiveEnd {
    /// The service has tasks the session does not cover.
    NewTasks,
    /// Live Tail can't be used here: poll from now on.
    Unavailable(String),
    /// The session ended; read up to date and open another.
    Ended(String),
    /// The receiver is gone: the tail is over.
    Closed,
    /// Nobody has looked at the lines for a while: poll until they do.
    Unwatched,
}

/// What came during a Live Tail session.
enum Got {
    Update(Result<Option<LiveUpdate>, AwsError>),
    Check,
    Older(usize),
    Watched(bool),
}

impl TaskLogTail<'_> {
    /// Follows the streams with a Live Tail session until it ends, the
    /// service gets new tasks, or the receiver goes away.
    pub(super) async fn live_session(&mut self) -> LiveEnd {
        let mut groups: Vec<&str> = self.sources.values().map(|s| s.stream.group.as_str()).collect();
        groups.sort_unstable();
        groups.dedup();
        if groups.len() > LIVE_MAX_GROUPS || self.sources.len() > LIVE_MAX_STREAMS {
            return LiveEnd::Unavailable(format!(
                "{} log groups and {} streams are more than one session follows",
                groups.len(),
                self.sources.len()
            ));
        }
        let mut arns = Vec::new();
        for group in groups {
            match logs::log_group_arn(self.logs, group).await {
                Ok(arn) => arns.push(arn),
                Err(e) => return LiveEnd::Unavailable(e.to_string()),
            }
        }
        let mut streams: Vec<String> = self.sources.values().map(|s| s.stream.stream.clone()).collect();
        streams.sort_unstable();
        streams.dedup();
        let labels: HashMap<String, Arc<str>> =
            self.sources.values().map(|s| (s.stream.stream.clone(), s.label.clone())).collect();
        let mut session =
            match tokio::time::timeout(LIVE_START, LiveTail::start(self.logs, arns, streams)).await {
                Ok(Ok(session)) => session,
                Ok(Err(e)) => return LiveEnd::Unavailable(e.to_string()),
                Err(_) => return LiveEnd::Unavailable("no answer from Live Tail in 10 s".into()),
            };
        let _ = self.tx.send(TailEvent::Mode(TailMode::Live)).await;
        let mut check = tokio::time::interval_at(Instant::now() + TASKS_EVERY, TASKS_EVERY);
        let by_service = self.target.task.is_none();
        loop {
            let got = {
                let TailControl { older, watched, unwatched_for } = &mut self.control;
                let watching = watched.has_changed().is_ok();
                let unwatched = self.unwatched_since.map(|since| since + *unwatched_for);
                tokio::select! {
                    update = session.next() => Got::Update(update),
                    _ = check.tick(), if by_service => Got::Check,
                    _ = self.tx.closed() => return LiveEnd::Closed,
                    n = async { older.as_mut()?.recv().await }, if older.is_some() => match n {
                        Some(n) => Got::Older(n),
                        None => {
                            *older = None;
                            continue;
                        }
                    },
                    changed = watched.changed(), if watching => {
                        Got::Watched(changed.is_err() || *watched.borrow_and_update())
                    }
                    _ = tokio::time::sleep_until(unwatched.unwrap_or_else(Instant::now)), if unwatched.is_some() => {
                        return LiveEnd::Unwatched;
                    }
                }
            };
            let update = match got {
                Got::Update(update) => update,
                Got::Check => {
                    if self.has_new_tasks().await {
                        return LiveEnd::NewTasks;
                    }
                    continue;
                }
                Got::Older(n) => {
                    if let Err(e) = self.read_older(n).await {
                        return LiveEnd::Ended(e.to_string());
                    }
                    continue;
                }
                Got::Watched(now) => {
                    self.saw(now);
                    continue;
                }
            };
            match update {
                Ok(Some(LiveUpdate::Events { events, sampled })) => {
                    let mut batch = Vec::with_capacity(events.len());
                    for (stream, event) in events {
                        let source =
                            labels.get(&stream).cloned().unwrap_or_else(|| Arc::from(stream.as_str()));
                        *self
                            .unmatched
                            .entry((stream, event.timestamp, event.message.clone()))
                            .or_default() += 1;
                        batch.push(LogLine { timestamp: event.timestamp, source, text: event.message });
                    }
                    batch.sort_by_key(|l| l.timestamp);
                    if !batch.is_empty() && self.tx.send(TailEvent::Lines(batch)).await.is_err() {
                        return LiveEnd::Closed;
                    }
                    if sampled {
                        // Live Tail drops lines above 500 a second; reading the
                        // streams finds them, so poll while it is this busy.
                        return LiveEnd::Unavailable(
                            "more than 500 lines a second: Live Tail samples".into(),
                        );
                    }
                    if self.unmatched.len() > LIVE_MAX_UNMATCHED {
                        return LiveEnd::Ended("many lines: reading the streams to stay exact".into());
                    }
                }
                Ok(Some(LiveUpdate::Nothing)) => {}
                Ok(None) => return LiveEnd::Ended("the session was closed by AWS".into()),
                Err(e) => return LiveEnd::Ended(e.to_string()),
            }
        }
    }

    pub(super) async fn has_new_tasks(&self) -> bool {
        match self.task_ids().await {
            Ok(ids) => ids.iter().any(|id| !self.tasks_seen.contains(&short_id(id))),
            Err(_) => false,
        }
    }
}
