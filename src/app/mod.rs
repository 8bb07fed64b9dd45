//! The dashboard's state and the one function that changes it.

pub mod action;
pub mod logs;
pub mod state;
pub mod update;

pub use action::Action;
pub use state::{
    AppState, Clock, Confirm, Confirmed, Cursor, EcsPane, EngineView, ImagesTab, JobState, JobView, Load,
    LogsPane, Overlay, PaneId, Prompt, PromptPurpose, RegistryPane, SnapshotsPane, THROTTLE_SHOWN, TimeMode,
};
pub use update::{DIALOG_GUARD, Effect, LoadRequest, Loaded, update};
