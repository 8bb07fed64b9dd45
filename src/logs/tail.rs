//! `TaskLogTail`: reads the CloudWatch logs of one ECS task, or of a service's
//! tasks, and hands them on in batches. Each container's stream is found from
//! its `awslogs` configuration and read forward with tokens, so no line is
//! shown twice and none is skipped. When following, it opens a Live Tail
//! session where the endpoint has one and polls where it does not (about once
//! a second while lines arrive, backing off to 5 s when idle or throttled).
//! A service's tasks are looked at again every 10 s, so a deployment's new
//! tasks are picked up. The CLI and the Logs pane both read from here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::buffer::LogLine;
use crate::aws::logs::{self, LiveTail, LiveUpdate, LogStream};
use crate::aws::{AwsError, ecs};

/// Poll intervals: quick while lines arrive, up to the slow one when idle.
const QUICK: Duration = Duration::from_secs(1);
const SLOW: Duration = Duration::from_secs(5);
/// How often a service's task list is read again (new deployments).
const TASKS_EVERY: Duration = Duration::from_secs(10);
/// How long opening a Live Tail session may take before polling takes over.
const LIVE_START: Duration = Duration::from_secs(10);
/// Live Tail's own limits on one session.
const LIVE_MAX_GROUPS: usize = 10;
const LIVE_MAX_STREAMS: usize = 100;
/// Lines handed over by Live Tail and not yet matched by a catch-up read; past
/// this many the session is closed and the streams read up to date.
const LIVE_MAX_UNMATCHED: usize = 200_000;
/// How long a line from Live Tail is waited for in a catch-up read.
const UNMATCHED_FOR_MS: i64 = 10 * 60 * 1000;
/// Sessions that end sooner than this, this many times in a row, mean Live Tail doesn't work here.
const LIVE_SHORT: Duration = Duration::from_secs(30);
const LIVE_SHORT_TIMES: u32 = 3;

/// What to tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailTarget {
    pub cluster: String,
    /// The service whose tasks are read (ignored when `task` is given).
    pub service: Option<String>,
    pub task: Option<String>,
    /// Only tasks that do not run this task definition (`family:revision`):
    /// the new tasks of a deploy (or rollback) away from it.
    pub replacing: Option<String>,
    /// Lines from this time on (ms since the epoch). When None, each stream's
    /// `newest` lines first, read from its end (from its start when `newest` is 0).
    pub since: Option<i64>,
    /// How many of each stream's newest lines to start with, when there is no `since`.
    pub newest: usize,
    /// Keep reading after the lines there are now.
    pub follow: bool,
    /// Try CloudWatch Live Tail while following.
    pub live: bool,
}

impl TailTarget {
    /// A few words for the pane's title: `service app` or `task 4f2a91c0`.
    pub fn describe(&self) -> String {
        match (&self.task, &self.service) {
            (Some(task), _) => format!("task {}", short_id(task)),
            (None, Some(service)) if self.replacing.is_some() => format!("service {service}, new tasks"),
            (None, Some(service)) => format!("service {service}"),
            (None, None) => format!("cluster {}", self.cluster),
        }
    }
}

/// How lines are arriving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailMode {
    Polling,
    Live,
}

/// What a tail hands over.
#[derive(Debug, Clone, PartialEq)]
pub enum TailEvent {
    /// A stream is now read, under this label.
    Source(Arc<str>),
    /// New lines, in time order within the batch.
    Lines(Vec<LogLine>),
    /// Something the user should know that does not stop the tail.
    Note(String),
    Mode(TailMode),
    /// The tail is over: with the error that ended it, if one did. Sent by
    /// whoever runs [`tail`], once it has returned.
    Ended(Option<String>),
}

/// The first 8 characters of a task id (or of its ARN's last part).
pub fn short_id(task: &str) -> String {
    task.rsplit('/').next().unwrap_or(task).chars().take(8).collect()
}

/// One stream being read: whose it is, and where reading got to.
struct Source {
    label: Arc<str>,
    stream: LogStream,
    token: Option<String>,
    /// Read from its end already (or from `since`/its head): from now on, forward.
    started: bool,
}

/// Why a Live Tail session stopped.
enum LiveEnd {
    /// The service has tasks the session does not cover.
    NewTasks,
    /// Live Tail can't be used here: poll from now on.
    Unavailable(String),
    /// The session ended; read up to date and open another.
    Ended(String),
    /// The receiver is gone: the tail is over.
    Closed,
}

/// Reads until the logs end (without `follow`) or the receiver goes away.
/// Fails on what the user must fix: no such task or cluster, no access.
pub async fn tail(
    ecs: &aws_sdk_ecs::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    target: TailTarget,
    tx: mpsc::Sender<TailEvent>,
) -> Result<(), AwsError> {
    let mut tail = TaskLogTail {
        ecs,
        logs,
        target,
        tx,
        sources: BTreeMap::new(),
        tasks_seen: Vec::new(),
        unmatched: HashMap::new(),
    };
    tail.run().await
}

struct TaskLogTail<'a> {
    ecs: &'a aws_sdk_ecs::Client,
    logs: &'a aws_sdk_cloudwatchlogs::Client,
    target: TailTarget,
    tx: mpsc::Sender<TailEvent>,
    /// By `task/container`.
    sources: BTreeMap<String, Source>,
    /// Tasks already looked at (with or without a stream).
    tasks_seen: Vec<String>,
    /// Lines Live Tail handed over, by (stream, time, text), with how many
    /// times each; a catch-up read skips them instead of showing them again.
    unmatched: HashMap<(String, i64, String), u32>,
}

impl TaskLogTail<'_> {
    async fn run(&mut self) -> Result<(), AwsError> {
        let strict = self.target.task.is_some();
        self.add_tasks(strict).await?;
        if self.sources.is_empty() && !self.target.follow {
            return Ok(());
        }
        let mut wait = QUICK;
        let mut live = self.target.live && self.target.follow;
        let mut short_sessions = 0;
        let mut last_tasks = Instant::now();
        if self.target.follow {
            let _ = self.tx.send(TailEvent::Mode(TailMode::Polling)).await;
        }
        loop {
            let (count, throttled) = self.catch_up().await?;
            if self.tx.is_closed() || !self.target.follow {
                return Ok(());
            }
            if live && !self.sources.is_empty() {
                let started = Instant::now();
                let end = self.live_session().await;
                short_sessions = if matches!(end, LiveEnd::Ended(_)) && started.elapsed() < LIVE_SHORT {
                    short_sessions + 1
                } else {
                    0
                };
                let end = match end {
                    LiveEnd::Ended(why) if short_sessions >= LIVE_SHORT_TIMES => {
                        LiveEnd::Unavailable(format!("{why}, {short_sessions} times in a row"))
                    }
                    end => end,
                };
                match end {
                    LiveEnd::Closed => return Ok(()),
                    LiveEnd::NewTasks => {
                        self.add_tasks(false).await?;
                        last_tasks = Instant::now();
                    }
                    LiveEnd::Ended(why) => {
                        self.note(format!("Live Tail stopped ({why}); reading up to date")).await;
                        let _ = self.tx.send(TailEvent::Mode(TailMode::Polling)).await;
                    }
                    LiveEnd::Unavailable(why) => {
                        live = false;
                        self.note(format!("polling: Live Tail is not available here ({why})")).await;
                        let _ = self.tx.send(TailEvent::Mode(TailMode::Polling)).await;
                    }
                }
                continue;
            }
            wait = if throttled {
                self.note("throttled by CloudWatch Logs: reading less often".into()).await;
                SLOW
            } else if count == 0 {
                (wait * 2).min(SLOW)
            } else {
                QUICK
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.tx.closed() => return Ok(()),
            }
            if self.target.task.is_none() && last_tasks.elapsed() >= TASKS_EVERY {
                last_tasks = Instant::now();
                self.add_tasks(false).await?;
            }
        }
    }

    async fn note(&self, text: String) {
        let _ = self.tx.send(TailEvent::Note(text)).await;
    }

    /// The ids of the tasks to read now.
    async fn task_ids(&self) -> Result<Vec<String>, AwsError> {
        if let Some(task) = &self.target.task {
            return Ok(vec![task.clone()]);
        }
        let tasks = ecs::tasks(self.ecs, &self.target.cluster, self.target.service.as_deref()).await?;
        let old = self.target.replacing.as_deref();
        Ok(tasks.into_iter().filter(|t| old.is_none_or(|d| t.task_definition != d)).map(|t| t.id).collect())
    }

    /// Starts reading the streams of tasks not looked at yet. With `strict`, a
    /// task that can't be described is an error; otherwise it is a note.
    async fn add_tasks(&mut self, strict: bool) -> Result<bool, AwsError> {
        let ids = match self.task_ids().await {
            Ok(ids) => ids,
            Err(e) if !strict && !self.tasks_seen.is_empty() => {
                self.note(format!("cannot list the tasks: {e}")).await;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        if ids.is_empty() && self.tasks_seen.is_empty() {
            let what = self.target.describe();
            let more = if self.target.follow { "; waiting for some to start" } else { "" };
            self.note(format!("{what} has no tasks{more}")).await;
        }
        let mut added = false;
        let new: Vec<String> = ids.into_iter().filter(|t| !self.tasks_seen.contains(&short_id(t))).collect();
        // Each task's streams, all asked for at once.
        let found = futures::future::join_all(
            new.iter().map(|t| ecs::log_streams(self.ecs, &self.target.cluster, t)),
        )
        .await;
        for (task, streams) in new.into_iter().zip(found) {
            let short = short_id(&task);
            let streams = match streams {
                Ok(s) => s,
                Err(e) if !strict => {
                    self.note(format!("skipping task {short}: {e}")).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.tasks_seen.push(short.clone());
            let several = streams.len() > 1;
            for (container, stream) in streams {
                let label: Arc<str> =
                    if several { format!("{short} {container}") } else { short.clone() }.into();
                match stream {
                    Some(stream) => {
                        let _ = self.tx.send(TailEvent::Source(label.clone())).await;
                        self.sources.insert(
                            format!("{short}/{container}"),
                            Source { label, stream, token: None, started: false },
                        );
                        added = true;
                    }
                    None => {
                        let text = format!(
                            "{label}: container `{container}` has no awslogs log configuration, so its output is not in CloudWatch"
                        );
                        self.note(text).await;
                    }
                }
            }
        }
        Ok(added)
    }

    /// Reads every stream to its end and hands the new lines over, in time
    /// order. Returns how many, and whether CloudWatch throttled.
    async fn catch_up(&mut self) -> Result<(usize, bool), AwsError> {
        let mut batch: Vec<LogLine> = Vec::new();
        let mut throttled = false;
        let start = self.target.since;
        let newest = if start.is_none() { self.target.newest } else { 0 };
        // Streams read for the first time: their newest lines, from their ends,
        // all at once (never the history before them).
        let first: Vec<(String, LogStream)> = self
            .sources
            .iter()
            .filter(|(_, s)| !s.started && newest > 0)
            .map(|(key, s)| (key.clone(), s.stream.clone()))
            .collect();
        let reads = first.iter().map(|(_, stream)| logs::newest(self.logs, stream, newest));
        let answers = futures::future::join_all(reads).await;
        for ((key, stream), answer) in first.into_iter().zip(answers) {
            let Some(source) = self.sources.get_mut(&key) else { continue };
            match answer {
                Ok((events, forward)) => {
                    source.token = forward;
                    source.started = source.token.is_some();
                    batch.extend(events.into_iter().map(|e| LogLine {
                        timestamp: e.timestamp,
                        source: source.label.clone(),
                        text: e.message,
                    }));
                }
                Err(AwsError::Throttled(_)) => throttled = true,
                Err(e @ (AwsError::AccessDenied(_) | AwsError::Expired(_) | AwsError::NoCredentials(_))) => {
                    return Err(e);
                }
                Err(e) => {
                    let text = format!("reading {}: {e}", stream.stream);
                    let _ = self.tx.send(TailEvent::Note(text)).await;
                }
            }
        }
        for source in self.sources.values_mut() {
            if !source.started && newest > 0 {
                continue; // Its end could not be read yet: tried again next time.
            }
            source.started = true;
            // Pages come while the token moves.
            loop {
                match logs::events(self.logs, &source.stream, start, source.token.clone()).await {
                    Ok((events, next)) => {
                        let moved = next != source.token;
                        source.token = next;
                        let empty = events.is_empty();
                        for e in events {
                            let key = (source.stream.stream.clone(), e.timestamp, e.message);
                            if let Some(n) = self.unmatched.get_mut(&key) {
                                *n -= 1;
                                if *n == 0 {
                                    self.unmatched.remove(&key);
                                }
                                continue;
                            }
                            let (_, timestamp, text) = key;
                            batch.push(LogLine { timestamp, source: source.label.clone(), text });
                        }
                        if empty || !moved {
                            break;
                        }
                    }
                    Err(AwsError::Throttled(_)) => {
                        throttled = true;
                        break;
                    }
                    Err(
                        e @ (AwsError::AccessDenied(_) | AwsError::Expired(_) | AwsError::NoCredentials(_)),
                    ) => {
                        return Err(e);
                    }
                    Err(e) => {
                        let text = format!("reading {}: {e}", source.stream.stream);
                        let _ = self.tx.send(TailEvent::Note(text)).await;
                        break;
                    }
                }
            }
        }
        // Lines Live Tail handed over long ago that were never read back will
        // not come any more (a stream that ended early, say): forget them.
        let cutoff = crate::time::unix_now().saturating_mul(1000) - UNMATCHED_FOR_MS;
        self.unmatched.retain(|key, _| key.1 >= cutoff);
        // Several streams: one time line. The sort is stable, so one stream's
        // lines keep their order when their times are equal.
        batch.sort_by_key(|l| l.timestamp);
        let count = batch.len();
        if count > 0 {
            let _ = self.tx.send(TailEvent::Lines(batch)).await;
        }
        Ok((count, throttled))
    }

    /// Follows the streams with a Live Tail session until it ends, the
    /// service gets new tasks, or the receiver goes away.
    async fn live_session(&mut self) -> LiveEnd {
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
            let update = tokio::select! {
                update = session.next() => update,
                _ = check.tick(), if by_service => {
                    if self.has_new_tasks().await {
                        return LiveEnd::NewTasks;
                    }
                    continue;
                }
                _ = self.tx.closed() => return LiveEnd::Closed,
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

    async fn has_new_tasks(&self) -> bool {
        match self.task_ids().await {
            Ok(ids) => ids.iter().any(|id| !self.tasks_seen.contains(&short_id(id))),
            Err(_) => false,
        }
    }
}
