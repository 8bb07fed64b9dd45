//! The vocabulary of the dashboard: every key binding names an [`Action`], and
//! everything else that changes state (engine snapshots, job events, resizes)
//! arrives as an internal, non-bindable variant.

use serde::Deserialize;

use crate::app::effect::Loaded;
use crate::app::state::PaneId;
use crate::aws::AwsStatus;
use crate::docker::EngineUpdate;
use crate::jobs::JobEvent;
use crate::logs::TailEvent;

/// Something that changes [`crate::app::AppState`]. Bindable actions are named in
/// `keymap.toml` in `snake_case`; the variants marked `#[serde(skip)]` come from
/// the event loop, never from a key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Zoom,
    NextPane,
    PrevPane,
    FocusImages,
    FocusRegistry,
    FocusEcs,
    FocusLogs,
    FocusSnapshots,
    FocusJobs,
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Filter,
    Open,
    Back,
    SwitchTab,
    Push,
    Deploy,
    Rollback,
    TailLogs,
    Backup,
    Restore,
    UndoRestore,
    Prune,
    Bake,
    Cancel,
    Copy,
    Follow,
    Wrap,
    Timestamps,
    Save,
    SearchNext,
    SearchPrev,
    Pull,
    Run,
    Sync,
    Shell,
    Sql,
    Switch,
    Settings,
    Refresh,

    /// A key that no binding claims, while a text field (filter, prompt) has focus.
    #[serde(skip)]
    Input(crossterm::event::KeyEvent),
    /// Text pasted into the terminal (bracketed paste).
    #[serde(skip)]
    Paste(String),
    #[serde(skip)]
    Resize(u16, u16),
    /// The terminal gained (true) or lost the user's focus.
    #[serde(skip)]
    Focus(bool),
    /// Time passed while something animates (a running job's elapsed time).
    #[serde(skip)]
    Tick,
    /// A second passed: the panes looked at ask for what is due.
    #[serde(skip)]
    RefreshTick,
    #[serde(skip)]
    Engine(EngineUpdate),
    /// A reading of a running container the Containers tab shows, by id.
    #[serde(skip)]
    Stats(String, crate::model::metrics::StatsSample),
    #[serde(skip)]
    Job(JobEvent),
    #[serde(skip)]
    Aws(AwsStatus),
    /// Something from the log tail with this number.
    #[serde(skip)]
    Tail(u64, TailEvent),
    /// A background load finished.
    #[serde(skip)]
    Loaded(Loaded),
    /// An AWS load finished that was asked with `ticket` (see
    /// [`crate::app::asked`]); dropped unless it was asked under the AWS
    /// connection in force and is still its view's current request.
    #[serde(skip)]
    Answer {
        ticket: crate::app::asked::Ticket,
        loaded: Loaded,
    },
    /// AWS has throttled this many attempts since wharf started.
    #[serde(skip)]
    Throttled(u64),
    /// The terminal is back from a shell or SQL client: how it ended, in words.
    #[serde(skip)]
    ConsoleEnded(String),
    /// A signal (SIGTERM, SIGHUP, SIGINT from outside) asks wharf to stop now.
    #[serde(skip)]
    Terminate,
}

impl Action {
    /// A few words for help and key hints.
    pub fn description(&self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Zoom => "zoom pane",
            Action::NextPane => "next pane",
            Action::PrevPane => "previous pane",
            Action::FocusImages => "Images pane",
            Action::FocusRegistry => "Registry pane",
            Action::FocusEcs => "ECS pane",
            Action::FocusLogs => "Logs pane",
            Action::FocusSnapshots => "Snapshots pane",
            Action::FocusJobs => "Jobs pane",
            Action::Down => "down",
            Action::Up => "up",
            Action::PageDown => "page down",
            Action::PageUp => "page up",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Filter => "filter",
            Action::Open => "open",
            Action::Back => "back",
            Action::SwitchTab => "switch tab",
            Action::Push => "push image",
            Action::Deploy => "deploy tag",
            Action::Rollback => "roll back",
            Action::TailLogs => "tail logs",
            Action::Backup => "back up",
            Action::Restore => "restore",
            Action::UndoRestore => "undo restore",
            Action::Prune => "prune",
            Action::Bake => "bake container",
            Action::Cancel => "cancel job",
            Action::Copy => "copy result",
            Action::Follow => "follow",
            Action::Wrap => "wrap",
            Action::Timestamps => "timestamps",
            Action::Save => "save to file",
            Action::SearchNext => "next match",
            Action::SearchPrev => "previous match",
            Action::Pull => "pull image",
            Action::Run => "run as database",
            Action::Sync => "sync to head",
            Action::Shell => "shell",
            Action::Sql => "SQL client",
            Action::Switch => "switch profile/region",
            Action::Settings => "settings",
            Action::Refresh => "refresh the pane now",
            _ => "",
        }
    }

    /// The pane a `focus_*` action jumps to.
    pub fn focus_target(&self) -> Option<PaneId> {
        Some(match self {
            Action::FocusImages => PaneId::Images,
            Action::FocusRegistry => PaneId::Registry,
            Action::FocusEcs => PaneId::Ecs,
            Action::FocusLogs => PaneId::Logs,
            Action::FocusSnapshots => PaneId::Snapshots,
            Action::FocusJobs => PaneId::Jobs,
            _ => return None,
        })
    }
}
