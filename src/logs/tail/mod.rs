//! `TaskLogTail`: reads the CloudWatch logs of one ECS task, or of a service's
//! tasks, and hands them on in batches. Each container's stream is found from
//! its `awslogs` configuration and read forward with tokens, so no line is
//! shown twice and none is skipped. When following, it opens a Live Tail
//! session where the endpoint has one and polls where it does not (about once
//! a second while lines arrive, backing off to 5 s when idle or throttled).
//! A service's tasks are looked at again every 10 s, so a deployment's new
//! tasks are picked up. The CLI and the Logs pane both read from here.
//!
//! A tail starts at the end: each stream's newest lines are read backwards
//! from its end, and older ones only when asked ([`TailControl::older`]: the
//! pane scrolled past its top). Reading up to date after a Live Tail session
//! hands the lines over a page per stream at a time, so memory stays bounded
//! however far behind it was. Live Tail is billed by the minute: a session
//! stops when nobody has looked at the lines for [`TailControl::unwatched_for`]
//! (polling slowly meanwhile) and opens again when somebody does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

mod live;

use live::LiveEnd;

use crate::aws::logs;
use crate::aws::{AwsError, EcsClient, LogsClient, ecs};
use crate::model::logs::{LogLine, LogStream};

/// Poll intervals: quick while lines arrive, up to the slow one when idle.
const QUICK: Duration = Duration::from_secs(1);
const SLOW: Duration = Duration::from_secs(5);
/// How often a service's task list is read again (new deployments).
const TASKS_EVERY: Duration = Duration::from_secs(10);
/// How long a Live Tail session goes on with nobody looking at the lines.
pub const UNWATCHED_FOR: Duration = Duration::from_secs(10 * 60);
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

/// What the one showing the lines tells a tail while it runs.
pub struct TailControl {
    /// Each message asks for up to this many lines per stream from before the
    /// oldest handed over ([`TailEvent::Older`] answers).
    pub older: Option<mpsc::Receiver<usize>>,
    /// Whether somebody is looking at the lines.
    pub watched: watch::Receiver<bool>,
    /// How long Live Tail goes on while nobody is.
    pub unwatched_for: Duration,
}

impl TailControl {
    /// Always watched, never asked for older lines (`wharf logs`).
    pub fn none() -> TailControl {
        TailControl { older: None, watched: watch::channel(true).1, unwatched_for: UNWATCHED_FOR }
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
    /// Lines from before the oldest handed over so far (an answer to
    /// [`TailControl::older`]), in time order; `more` is false once every
    /// stream has been read back to its start.
    Older {
        lines: Vec<LogLine>,
        more: bool,
    },
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
    /// Where reading older lines goes on from; `None` at the stream's start
    /// (or when it was read from its head).
    back: Option<String>,
    /// The newest line's time read forward (ms).
    newest: i64,
}

/// What ended a wait between reads.
enum Wake {
    Time,
    Closed,
    Older(usize),
    Watched(bool),
}

/// Reads until the logs end (without `follow`) or the receiver goes away.
/// Fails on what the user must fix: no such task or cluster, no access.
pub async fn tail(
    ecs: &EcsClient,
    logs: &LogsClient,
    target: TailTarget,
    tx: mpsc::Sender<TailEvent>,
) -> Result<(), AwsError> {
    tail_with(ecs, logs, target, tx, TailControl::none()).await
}

/// [`tail`], told by `control` when to read older lines and whether anybody looks.
pub async fn tail_with(
    ecs: &EcsClient,
    logs: &LogsClient,
    target: TailTarget,
    tx: mpsc::Sender<TailEvent>,
    control: TailControl,
) -> Result<(), AwsError> {
    let unwatched_since = (!*control.watched.borrow()).then(Instant::now);
    let mut tail = TaskLogTail {
        ecs,
        logs,
        target,
        tx,
        control,
        unwatched_since,
        sources: BTreeMap::new(),
        tasks_seen: Vec::new(),
        unmatched: HashMap::new(),
    };
    tail.run().await
}

struct TaskLogTail<'a> {
    ecs: &'a EcsClient,
    logs: &'a LogsClient,
    target: TailTarget,
    tx: mpsc::Sender<TailEvent>,
    control: TailControl,
    /// Since when nobody has looked at the lines.
    unwatched_since: Option<Instant>,
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
        // Live Tail stopped because nobody looked: polling until somebody does.
        let mut paused = false;
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
            if live && !paused && !self.sources.is_empty() {
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
                    LiveEnd::Unwatched => {
                        paused = true;
                        let minutes = self.control.unwatched_for.as_secs() / 60;
                        self.note(format!(
                            "Live Tail paused: nobody looked at the logs for {minutes} min (it is billed by the minute); polling until somebody does"
                        ))
                        .await;
                        let _ = self.tx.send(TailEvent::Mode(TailMode::Polling)).await;
                    }
                }
                continue;
            }
            wait = if throttled {
                self.note("throttled by CloudWatch Logs: reading less often".into()).await;
                SLOW
            } else if count == 0 || paused {
                (wait * 2).min(SLOW)
            } else {
                QUICK
            };
            let until = Instant::now() + wait;
            loop {
                match self.wait(until).await {
                    Wake::Time => break,
                    Wake::Closed => return Ok(()),
                    Wake::Older(n) => self.read_older(n).await?,
                    Wake::Watched(watched) => {
                        self.saw(watched);
                        if watched && paused {
                            paused = false;
                            self.note("somebody is looking again: back to Live Tail".into()).await;
                            break;
                        }
                    }
                }
            }
            if self.target.task.is_none() && last_tasks.elapsed() >= TASKS_EVERY {
                last_tasks = Instant::now();
                self.add_tasks(false).await?;
            }
        }
    }

    /// Notes whether somebody looks at the lines now.
    fn saw(&mut self, watched: bool) {
        if watched {
            self.unwatched_since = None;
        } else if self.unwatched_since.is_none() {
            self.unwatched_since = Some(Instant::now());
        }
    }

    /// Waits until `until`, the receiver goes away, or the control says something.
    async fn wait(&mut self, until: Instant) -> Wake {
        let TailControl { older, watched, .. } = &mut self.control;
        let watching = watched.has_changed().is_ok();
        tokio::select! {
            _ = tokio::time::sleep_until(until) => Wake::Time,
            _ = self.tx.closed() => Wake::Closed,
            n = async { older.as_mut()?.recv().await }, if older.is_some() => match n {
                Some(n) => Wake::Older(n),
                None => {
                    *older = None;
                    Wake::Watched(*watched.borrow())
                }
            },
            changed = watched.changed(), if watching => match changed {
                Ok(()) => Wake::Watched(*watched.borrow_and_update()),
                Err(_) => Wake::Watched(true),
            },
        }
    }

    /// Reads up to `n` lines per stream from before the oldest handed over, and
    /// hands them over as [`TailEvent::Older`].
    async fn read_older(&mut self, n: usize) -> Result<(), AwsError> {
        let wanted: Vec<(String, LogStream, String)> = self
            .sources
            .iter()
            .filter_map(|(key, s)| Some((key.clone(), s.stream.clone(), s.back.clone()?)))
            .collect();
        let reads = wanted.iter().map(|(_, stream, back)| logs::older(self.logs, stream, back.clone(), n));
        let answers = futures::future::join_all(reads).await;
        let mut lines = Vec::new();
        for ((key, stream, _), answer) in wanted.into_iter().zip(answers) {
            let Some(source) = self.sources.get_mut(&key) else { continue };
            match answer {
                Ok(read) => {
                    source.back = read.backward;
                    lines.extend(read.events.into_iter().map(|e| LogLine {
                        timestamp: e.timestamp,
                        source: source.label.clone(),
                        text: e.message,
                    }));
                }
                Err(e @ (AwsError::AccessDenied(_) | AwsError::Expired(_) | AwsError::NoCredentials(_))) => {
                    return Err(e);
                }
                Err(e) => self.note(format!("reading older lines of {}: {e}", stream.stream)).await,
            }
        }
        lines.sort_by_key(|l| l.timestamp);
        let more = self.sources.values().any(|s| s.back.is_some());
        let _ = self.tx.send(TailEvent::Older { lines, more }).await;
        Ok(())
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
                            Source {
                                label,
                                stream,
                                token: None,
                                started: false,
                                back: None,
                                newest: i64::MIN,
                            },
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

    /// Reads every stream to its end and hands the new lines over: a page of
    /// each stream at a time, merged in time order (so memory is bounded by a
    /// page a stream however far behind the tail was). Returns how many lines,
    /// and whether CloudWatch throttled.
    async fn catch_up(&mut self) -> Result<(usize, bool), AwsError> {
        let mut count = 0;
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
        let mut batch: Vec<LogLine> = Vec::new();
        for ((key, stream), answer) in first.into_iter().zip(answers) {
            let Some(source) = self.sources.get_mut(&key) else { continue };
            match answer {
                Ok(read) => {
                    source.token = read.forward;
                    source.back = read.backward;
                    source.started = source.token.is_some();
                    source.newest = read.events.last().map_or(source.newest, |e| e.timestamp);
                    batch.extend(read.events.into_iter().map(|e| LogLine {
                        timestamp: e.timestamp,
                        source: source.label.clone(),
                        text: e.message,
                    }));
                }
                Err(AwsError::Throttled(_)) => throttled = true,
                Err(e @ (AwsError::AccessDenied(_) | AwsError::Expired(_) | AwsError::NoCredentials(_))) => {
                    return Err(e);
                }
                Err(e) => self.note(format!("reading {}: {e}", stream.stream)).await,
            }
        }
        count += self.hand_over(batch).await;
        // Then forward, a page of every stream not at its end yet per round.
        let mut reading: Vec<String> = self
            .sources
            .iter_mut()
            .filter(|(_, s)| s.started || newest == 0)
            .map(|(key, s)| {
                s.started = true;
                key.clone()
            })
            .collect();
        while !reading.is_empty() && !self.tx.is_closed() {
            let asks: Vec<(LogStream, Option<String>)> = reading
                .iter()
                .filter_map(|key| self.sources.get(key))
                .map(|s| (s.stream.clone(), s.token.clone()))
                .collect();
            let reads =
                asks.iter().map(|(stream, token)| logs::events(self.logs, stream, start, token.clone()));
            let answers = futures::future::join_all(reads).await;
            let mut batch = Vec::new();
            let mut still = Vec::new();
            for (key, answer) in reading.into_iter().zip(answers) {
                let Some(source) = self.sources.get_mut(&key) else { continue };
                match answer {
                    Ok((events, next)) => {
                        let moved = next != source.token;
                        source.token = next;
                        let at_end = events.is_empty() || !moved;
                        for e in events {
                            source.newest = source.newest.max(e.timestamp);
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
                        if at_end {
                            // Read to its end: a line Live Tail handed over that is
                            // older than what was read will not come any more.
                            let (stream, newest) = (&source.stream.stream, source.newest);
                            self.unmatched.retain(|k, _| k.0 != *stream || k.1 >= newest);
                        } else {
                            still.push(key);
                        }
                    }
                    Err(AwsError::Throttled(_)) => throttled = true,
                    Err(
                        e @ (AwsError::AccessDenied(_) | AwsError::Expired(_) | AwsError::NoCredentials(_)),
                    ) => {
                        return Err(e);
                    }
                    Err(e) => {
                        let text = format!("reading {}: {e}", source.stream.stream);
                        let _ = self.tx.send(TailEvent::Note(text)).await;
                    }
                }
            }
            count += self.hand_over(batch).await;
            reading = still;
        }
        Ok((count, throttled))
    }

    /// Hands `batch` over in time order. Several streams: one time line; the
    /// sort is stable, so one stream's lines keep their order when their
    /// times are equal.
    async fn hand_over(&self, mut batch: Vec<LogLine>) -> usize {
        batch.sort_by_key(|l| l.timestamp);
        let count = batch.len();
        if count > 0 {
            let _ = self.tx.send(TailEvent::Lines(batch)).await;
        }
        count
    }
}
