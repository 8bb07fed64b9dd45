//! The dashboard's state and the one function that changes it.

pub mod action;
pub mod state;
pub mod update;

pub use action::Action;
pub use state::{
    AppState, Clock, Confirm, Confirmed, Cursor, EcsPane, EngineView, ImagesTab, JobState, JobView, Load,
    Overlay, PaneId, Prompt, PromptPurpose, RegistryPane, SnapshotsPane,
};
pub use update::{Effect, LoadRequest, Loaded, update};
