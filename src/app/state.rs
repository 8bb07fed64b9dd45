//! `AppState`: plain data, changed only by [`crate::app::update`] and read by the panes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::keymap::{Keymap, Section};
pub use super::overlay::{
    Choices, Confirm, Confirmed, Goal, Overlay, PickItem, PickPurpose, Picker, Prompt, PromptPurpose,
    SavePlan, Setup,
};
use crate::aws::AwsStatus;
use crate::config::Settings;
use crate::jobs::{JobId, JobKind, Progress};
use crate::logs::{LogBuffer, TailMode, TailTarget};
use crate::model::ecs::{ServiceInfo, TaskInfo};
use crate::model::images::{ContainerInfo, ImageInfo};
use crate::model::registry::{RegistryImage, Repository};
use crate::snapshots::Snapshot;

/// The six panes, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaneId {
    Images,
    Registry,
    Ecs,
    Logs,
    Snapshots,
    Jobs,
}

impl PaneId {
    pub const ALL: [PaneId; 6] =
        [PaneId::Images, PaneId::Registry, PaneId::Ecs, PaneId::Logs, PaneId::Snapshots, PaneId::Jobs];

    pub fn title(self) -> &'static str {
        match self {
            PaneId::Images => "Images",
            PaneId::Registry => "Registry",
            PaneId::Ecs => "ECS",
            PaneId::Logs => "Logs",
            PaneId::Snapshots => "Snapshots",
            PaneId::Jobs => "Jobs",
        }
    }

    /// The keymap section of this pane's own actions.
    pub fn section(self) -> Section {
        match self {
            PaneId::Images => Section::Images,
            PaneId::Registry => Section::Registry,
            PaneId::Ecs => Section::Ecs,
            PaneId::Logs => Section::Logs,
            PaneId::Snapshots => Section::Snapshots,
            PaneId::Jobs => Section::Jobs,
        }
    }

    fn index(self) -> usize {
        PaneId::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn next(self) -> PaneId {
        PaneId::ALL[(self.index() + 1) % PaneId::ALL.len()]
    }

    pub fn prev(self) -> PaneId {
        PaneId::ALL[(self.index() + PaneId::ALL.len() - 1) % PaneId::ALL.len()]
    }
}

/// The time as of the last thing that happened; panes compute ages from it so
/// that drawing stays a pure function of state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Unix seconds, for ages of images and snapshots.
    pub wall: i64,
    /// For elapsed times of jobs.
    pub mono: Instant,
}

impl Clock {
    pub fn now() -> Clock {
        Clock { wall: crate::time::unix_now(), mono: Instant::now() }
    }
}

/// A selection in a list and the filter typed for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Index into the filtered list.
    pub selected: usize,
    pub filter: String,
}

impl Cursor {
    /// Whether `text` passes the filter (case-insensitive substring).
    pub fn matches(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }
}

/// What the Images pane knows about the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineView {
    Connecting { endpoint: String },
    Connected { endpoint: String, api_version: String },
    Unreachable { endpoint: String, error: String, retry_in: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagesTab {
    Images,
    Containers,
}

/// The Images pane: local images and containers.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagesPane {
    pub engine: EngineView,
    /// Whether at least one snapshot has arrived (so "no images" is true, not unknown).
    pub loaded: bool,
    pub images: Vec<ImageInfo>,
    pub containers: Vec<ContainerInfo>,
    pub tab: ImagesTab,
    pub image_cursor: Cursor,
    pub container_cursor: Cursor,
    /// The running containers' readings while the Containers tab shows them.
    pub stats: std::collections::HashMap<String, crate::model::metrics::History>,
    /// The container whose chart fills the tab (`enter`), by id.
    pub open: Option<String>,
}

impl ImagesPane {
    pub fn visible_images(&self) -> Vec<&ImageInfo> {
        self.images
            .iter()
            .filter(|i| self.image_cursor.matches(&format!("{} {}", i.reference(), i.short_id())))
            .collect()
    }

    pub fn visible_containers(&self) -> Vec<&ContainerInfo> {
        self.containers
            .iter()
            .filter(|c| self.container_cursor.matches(&format!("{} {} {}", c.name, c.image, c.state)))
            .collect()
    }

    pub fn selected_image(&self) -> Option<&ImageInfo> {
        self.visible_images().get(self.image_cursor.selected).copied()
    }

    pub fn selected_container(&self) -> Option<&ContainerInfo> {
        self.visible_containers().get(self.container_cursor.selected).copied()
    }
}

/// Something fetched in the background.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Load<T> {
    /// Not asked for (yet).
    #[default]
    Idle,
    Loading,
    Loaded(T),
    /// The error, in words for the pane.
    Failed(String),
}

impl<T> Load<T> {
    pub fn loaded(&self) -> Option<&T> {
        match self {
            Load::Loaded(t) => Some(t),
            _ => None,
        }
    }
}

/// The Registry pane: ECR repositories, and the images of the one opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryPane {
    pub repositories: Load<Vec<Repository>>,
    pub repo_cursor: Cursor,
    /// The repository whose images are shown.
    pub open: Option<String>,
    pub images: Load<Vec<RegistryImage>>,
    pub image_cursor: Cursor,
}

impl RegistryPane {
    pub fn visible_repositories(&self) -> Vec<&Repository> {
        let all = self.repositories.loaded().map(Vec::as_slice).unwrap_or_default();
        all.iter().filter(|r| self.repo_cursor.matches(&r.name)).collect()
    }

    pub fn visible_images(&self) -> Vec<&RegistryImage> {
        let all = self.images.loaded().map(Vec::as_slice).unwrap_or_default();
        all.iter()
            .filter(|i| self.image_cursor.matches(&format!("{} {}", i.tags.join(" "), i.digest)))
            .collect()
    }

    pub fn selected_repository(&self) -> Option<&Repository> {
        self.visible_repositories().get(self.repo_cursor.selected).copied()
    }
}

/// The ECS pane: clusters → services → tasks, one level shown at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EcsPane {
    pub clusters: Load<Vec<String>>,
    pub cluster_cursor: Cursor,
    /// The cluster whose services are shown.
    pub cluster: Option<String>,
    pub services: Load<Vec<ServiceInfo>>,
    /// False while more services are still being described.
    pub services_complete: bool,
    pub service_cursor: Cursor,
    /// The service whose tasks are shown.
    pub service: Option<String>,
    pub tasks: Load<Vec<TaskInfo>>,
    pub task_cursor: Cursor,
    /// The image digest the profile's service runs, from its tasks when they
    /// were last loaded.
    pub runs: Option<String>,
    /// The utilization of the services asked about in the cluster shown.
    pub metrics: std::collections::HashMap<String, crate::model::metrics::Utilization>,
}

impl EcsPane {
    pub fn visible_clusters(&self) -> Vec<&String> {
        let all = self.clusters.loaded().map(Vec::as_slice).unwrap_or_default();
        all.iter().filter(|c| self.cluster_cursor.matches(c)).collect()
    }

    pub fn visible_services(&self) -> Vec<&ServiceInfo> {
        let all = self.services.loaded().map(Vec::as_slice).unwrap_or_default();
        all.iter().filter(|s| self.service_cursor.matches(&s.name)).collect()
    }

    pub fn visible_tasks(&self) -> Vec<&TaskInfo> {
        let all = self.tasks.loaded().map(Vec::as_slice).unwrap_or_default();
        all.iter().filter(|t| self.task_cursor.matches(&format!("{} {}", t.id, t.last_status))).collect()
    }

    /// The opened service, once its cluster's services are loaded.
    pub fn opened_service(&self) -> Option<&ServiceInfo> {
        let name = self.service.as_deref()?;
        self.services.loaded()?.iter().find(|s| s.name == name)
    }

    fn cursor(&self) -> &Cursor {
        match (&self.cluster, &self.service) {
            (Some(_), Some(_)) => &self.task_cursor,
            (Some(_), None) => &self.service_cursor,
            _ => &self.cluster_cursor,
        }
    }

    fn cursor_mut(&mut self) -> &mut Cursor {
        match (&self.cluster, &self.service) {
            (Some(_), Some(_)) => &mut self.task_cursor,
            (Some(_), None) => &mut self.service_cursor,
            _ => &mut self.cluster_cursor,
        }
    }

    fn len(&self) -> usize {
        match (&self.cluster, &self.service) {
            (Some(_), Some(_)) => self.visible_tasks().len(),
            (Some(_), None) => self.visible_services().len(),
            _ => self.visible_clusters().len(),
        }
    }
}

/// How the Logs pane shows each line's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    Utc,
    Local,
    Off,
}

impl TimeMode {
    /// The next mode of the `timestamps` key.
    pub fn next(self) -> TimeMode {
        match self {
            TimeMode::Utc => TimeMode::Local,
            TimeMode::Local => TimeMode::Off,
            TimeMode::Off => TimeMode::Utc,
        }
    }
}

/// The Logs pane: the lines of the task or service being tailed.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsPane {
    /// What is tailed; `None` before the first `l`.
    pub target: Option<TailTarget>,
    /// The tail's number: lines of an earlier tail are dropped.
    pub tail: u64,
    pub buffer: LogBuffer,
    /// The streams read, in the order they came (their prefix colours).
    pub sources: Vec<Arc<str>>,
    pub mode: Option<TailMode>,
    /// Stick to the newest line.
    pub follow: bool,
    pub wrap: bool,
    pub time: TimeMode,
    /// The line at the bottom of the view while not following (a sequence number).
    pub bottom: u64,
    /// The search being typed (`filter`) — searched when it is entered.
    pub cursor: Cursor,
    /// The match the view was moved to.
    pub current: Option<u64>,
    /// The latest thing the tail said (a container without awslogs, throttling…).
    pub note: Option<String>,
    /// Why the tail stopped, if it failed.
    pub failed: Option<String>,
    /// Whether the tail has ended (without `follow`, or after failing).
    pub ended: bool,
    /// Older lines were asked for and have not come yet.
    pub loading_older: bool,
    /// The tail has lines from before the oldest held (false once every
    /// stream was read back to its start).
    pub older_exist: bool,
}

impl LogsPane {
    pub fn new(capacity: usize) -> LogsPane {
        LogsPane {
            target: None,
            tail: 0,
            buffer: LogBuffer::new(capacity),
            sources: Vec::new(),
            mode: None,
            follow: true,
            wrap: false,
            time: TimeMode::Utc,
            bottom: 0,
            cursor: Cursor::default(),
            current: None,
            note: None,
            failed: None,
            ended: false,
            loading_older: false,
            older_exist: true,
        }
    }

    /// The sequence number of the line at the bottom of the view.
    pub fn view_bottom(&self) -> Option<u64> {
        let last = self.buffer.last_seq()?;
        Some(if self.follow { last } else { self.bottom.clamp(self.buffer.first_seq(), last) })
    }

    /// Lines that arrived below the view while paused.
    pub fn below(&self) -> u64 {
        match (self.view_bottom(), self.buffer.last_seq()) {
            (Some(bottom), Some(last)) if !self.follow => last - bottom,
            _ => 0,
        }
    }
}

/// The Snapshots pane: what is under the profile's bucket and prefix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotsPane {
    pub list: Load<Vec<Snapshot>>,
    pub cursor: Cursor,
    /// The snapshot whose manifest is shown.
    pub open: Option<String>,
    /// The snapshot the profile's database container holds on this machine
    /// (last restored from or backed up as), read with the list.
    pub here: Option<String>,
    /// The line of history's graph, by snapshot id: worked out once when the
    /// list comes, not on every frame.
    pub line: std::collections::HashMap<String, crate::snapshots::graph::GraphRow>,
}

impl SnapshotsPane {
    pub fn visible(&self) -> Vec<&Snapshot> {
        let all = self.list.loaded().map(Vec::as_slice).unwrap_or_default();
        all.iter().filter(|s| self.cursor.matches(&s.id)).collect()
    }

    pub fn selected(&self) -> Option<&Snapshot> {
        self.visible().get(self.cursor.selected).copied()
    }

    pub fn opened(&self) -> Option<&Snapshot> {
        let id = self.open.as_deref()?;
        self.list.loaded()?.iter().find(|s| s.id == id)
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Queued,
    Running,
    /// Cancel was asked; the pool confirms with `Cancelled`.
    Cancelling,
    /// The summary line, and what the copy key copies.
    Done(String, Option<String>),
    /// Done, with something the user must look at (a backup off the line, a
    /// dump that holds no table): the summary and that message, whole.
    Attention {
        summary: String,
        message: String,
    },
    Failed(Vec<String>),
    Cancelled,
}

impl JobState {
    pub fn is_active(&self) -> bool {
        matches!(self, JobState::Queued | JobState::Running | JobState::Cancelling)
    }
}

/// One row of the Jobs pane.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub id: JobId,
    pub kind: JobKind,
    pub target: String,
    pub state: JobState,
    pub progress: Progress,
    pub queued_at: Instant,
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
    /// The ECR repository a push writes to (its list is reloaded when one lands).
    pub repository: Option<String>,
    /// What `l` tails for this job: a deploy's new tasks.
    pub logs: Option<TailTarget>,
    /// The wharf profile it was started under (it keeps it after a switch).
    pub profile: Option<String>,
}

impl JobView {
    /// Time spent running (not queued), up to now or to the end.
    pub fn elapsed(&self, now: Instant) -> Duration {
        match self.started_at {
            Some(start) => self.finished_at.unwrap_or(now).saturating_duration_since(start),
            None => Duration::ZERO,
        }
    }

    /// Bytes per second, when the job counts bytes.
    pub fn throughput(&self, now: Instant) -> Option<f64> {
        let secs = self.elapsed(now).as_secs_f64();
        (self.progress.bytes && secs > 0.0 && self.progress.done > 0)
            .then(|| self.progress.done as f64 / secs)
    }

    /// Time left at the current rate, when the total is known.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let rate = self.throughput(now)?;
        let left = self.progress.total?.saturating_sub(self.progress.done);
        (self.state == JobState::Running).then(|| Duration::from_secs_f64(left as f64 / rate))
    }
}

/// The Jobs pane: every job of the session, newest last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobsPane {
    pub jobs: Vec<JobView>,
    pub cursor: Cursor,
    pub next_id: JobId,
}

impl JobsPane {
    pub fn visible(&self) -> Vec<&JobView> {
        self.jobs
            .iter()
            .filter(|j| self.cursor.matches(&format!("{} {}", j.kind.label(), j.target)))
            .collect()
    }

    pub fn active_count(&self) -> usize {
        self.jobs.iter().filter(|j| j.state.is_active()).count()
    }
}

/// How long the status line says "throttled" after AWS last throttled a call.
pub const THROTTLE_SHOWN: std::time::Duration = std::time::Duration::from_secs(10);

/// Everything the dashboard shows.
#[derive(Debug, Clone)]
pub struct AppState {
    pub settings: Settings,
    pub keymap: Keymap,
    pub focus: PaneId,
    pub size: (u16, u16),
    pub clock: Clock,
    pub images: ImagesPane,
    pub registry: RegistryPane,
    pub ecs: EcsPane,
    pub snapshots: SnapshotsPane,
    pub logs: LogsPane,
    pub aws: AwsStatus,
    pub jobs: JobsPane,
    pub overlay: Option<Overlay>,
    /// The focused pane fills the screen.
    pub zoomed: bool,
    /// The focused pane's filter is being typed.
    pub filtering: bool,
    /// A message for the status line, until the next key.
    pub flash: Option<String>,
    /// A message about a job ("backing up db (see Jobs)"): it stays, keys or
    /// not, until the job ends, and then says how it ended.
    pub flash_job: Option<(JobId, String)>,
    pub quit: bool,
    /// When the open dialog appeared: it takes no answer in its first moments.
    pub overlay_since: Option<std::time::Instant>,
    /// Dialogs from background results, waiting for the open one to close.
    pub waiting_dialogs: std::collections::VecDeque<Overlay>,
    /// Quitting: the cancelled jobs are cleaning up.
    pub cleaning_up: bool,
    /// Attempts AWS has throttled so far, and when the count last grew.
    pub throttled: (u64, Option<std::time::Instant>),
    /// The terminal has the user's focus (as far as it tells: most do).
    pub terminal_focused: bool,
    /// Which AWS connection (profile, AWS profile, region) is in force: a
    /// switch moves it on, and an answer asked for under another is dropped.
    pub connection: u64,
    /// Each view's current AWS request: only its answer is applied.
    pub asked: super::asked::Asked,
    /// The AWS panes' refreshes while somebody looks.
    pub refresh: super::watch::Refresh,
}

impl AppState {
    pub fn new(settings: Settings, keymap: Keymap, clock: Clock) -> AppState {
        let endpoint = crate::docker::endpoint(settings.docker_host.as_deref());
        let log_lines = settings.profile.log_lines.unwrap_or(crate::logs::buffer::DEFAULT_CAPACITY);
        AppState {
            settings,
            keymap,
            focus: PaneId::Images,
            size: (0, 0),
            clock,
            images: ImagesPane {
                engine: EngineView::Connecting { endpoint },
                loaded: false,
                images: Vec::new(),
                containers: Vec::new(),
                tab: ImagesTab::Images,
                image_cursor: Cursor::default(),
                container_cursor: Cursor::default(),
                stats: Default::default(),
                open: None,
            },
            registry: RegistryPane::default(),
            ecs: EcsPane::default(),
            logs: LogsPane::new(log_lines),
            snapshots: SnapshotsPane::default(),
            aws: AwsStatus::Checking,
            jobs: JobsPane::default(),
            overlay: None,
            zoomed: false,
            filtering: false,
            flash: None,
            flash_job: None,
            quit: false,
            overlay_since: None,
            waiting_dialogs: Default::default(),
            cleaning_up: false,
            throttled: (0, None),
            terminal_focused: true,
            connection: 0,
            asked: Default::default(),
            refresh: Default::default(),
        }
    }

    /// Somebody can see the Logs pane: the terminal has the focus and the
    /// pane is on screen (not hidden behind another zoomed pane).
    pub fn logs_watched(&self) -> bool {
        self.terminal_focused && (!self.zoomed || self.focus == PaneId::Logs)
    }

    /// The cursor of the focused pane, if it is a list.
    pub fn focused_cursor(&self) -> Option<&Cursor> {
        match self.focus {
            PaneId::Images => Some(match self.images.tab {
                ImagesTab::Images => &self.images.image_cursor,
                ImagesTab::Containers => &self.images.container_cursor,
            }),
            PaneId::Registry => Some(match self.registry.open {
                Some(_) => &self.registry.image_cursor,
                None => &self.registry.repo_cursor,
            }),
            PaneId::Jobs => Some(&self.jobs.cursor),
            PaneId::Snapshots => Some(&self.snapshots.cursor),
            PaneId::Ecs => Some(self.ecs.cursor()),
            PaneId::Logs => Some(&self.logs.cursor),
        }
    }

    pub fn focused_cursor_mut(&mut self) -> Option<&mut Cursor> {
        match self.focus {
            PaneId::Images => Some(match self.images.tab {
                ImagesTab::Images => &mut self.images.image_cursor,
                ImagesTab::Containers => &mut self.images.container_cursor,
            }),
            PaneId::Registry => Some(match self.registry.open {
                Some(_) => &mut self.registry.image_cursor,
                None => &mut self.registry.repo_cursor,
            }),
            PaneId::Jobs => Some(&mut self.jobs.cursor),
            PaneId::Snapshots => Some(&mut self.snapshots.cursor),
            PaneId::Ecs => Some(self.ecs.cursor_mut()),
            PaneId::Logs => Some(&mut self.logs.cursor),
        }
    }

    /// How many rows the focused list shows.
    pub fn focused_len(&self) -> usize {
        match self.focus {
            PaneId::Images => match self.images.tab {
                ImagesTab::Images => self.images.visible_images().len(),
                ImagesTab::Containers => self.images.visible_containers().len(),
            },
            PaneId::Registry => match self.registry.open {
                Some(_) => self.registry.visible_images().len(),
                None => self.registry.visible_repositories().len(),
            },
            PaneId::Jobs => self.jobs.visible().len(),
            PaneId::Snapshots => self.snapshots.visible().len(),
            PaneId::Ecs => self.ecs.len(),
            _ => 0,
        }
    }

    /// The keymap sections consulted for a key, most specific first. Every
    /// pane is (or will be) a list, so [`Section::List`] always applies.
    pub fn key_sections(&self) -> [Section; 3] {
        [self.focus.section(), Section::List, Section::Global]
    }

    /// Whether anything moves on screen by itself (so the event loop ticks).
    /// Whether AWS throttled a call in the last few seconds (the status line says so).
    pub fn throttled_lately(&self) -> bool {
        self.throttled.1.is_some_and(|at| self.clock.mono.saturating_duration_since(at) < THROTTLE_SHOWN)
    }

    pub fn animating(&self) -> bool {
        self.jobs.active_count() > 0
    }
}
