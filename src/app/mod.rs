//! The dashboard's state and the one function that changes it. Its files
//! are layered (see `shared.rs`): the state and what the panes share, the
//! set-ups, the panes (none uses another), and `update`/`keys`/`refresh` on top.

pub mod action;
pub mod asked;
pub mod charts;
mod ecs;
pub mod effect;
mod images;
mod jobs;
pub mod keymap;
mod keys;
pub mod logs;
mod machine;
mod overlay;
pub mod refresh;
mod registry;
mod settings;
pub mod setup;
pub mod shared;
pub mod snapshots;
pub mod standing;
pub mod state;
pub mod switch;
pub mod update;
pub mod watch;

pub use action::Action;
pub use effect::{Effect, LoadRequest, Loaded, LocalLoad};
pub use keymap::{Key, Keymap, KeymapError, Section};
pub use state::{
    AppState, Clock, Confirm, Confirmed, Cursor, EcsPane, EngineView, ImagesTab, JobState, JobView, Load,
    LogsPane, Overlay, PaneId, PickItem, PickPurpose, Picker, Prompt, PromptPurpose, RegistryPane,
    SnapshotsPane, THROTTLE_SHOWN, TimeMode,
};
pub use update::{DIALOG_GUARD, update};
