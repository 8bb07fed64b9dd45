//! The Registry pane: ECR's repositories and an opened repository's images.

use super::asked::View;
use super::effect::Effect;
use super::shared::open_repository;
use super::state::AppState;
use crate::aws::AwsError;
use crate::model::registry::{RegistryImage, Repository};

/// `esc`: back to the repositories; the images' answer, if it is still on its
/// way, is for a view the user has left.
pub(super) fn close(state: &mut AppState) {
    state.registry.open = None;
    state.asked.leave(View::RegistryImages);
    (state.refresh.registry.waiting, state.refresh.registry.failed) = (false, None);
}

/// `enter` on a repository: its images.
pub(super) fn open_selected(state: &mut AppState, effects: &mut Vec<Effect>) {
    if let Some(name) = state.registry.selected_repository().map(|r| r.name.clone()) {
        open_repository(state, name, effects);
    }
}

pub(super) fn repositories_loaded(state: &mut AppState, result: Result<Vec<Repository>, AwsError>) {
    let registry = &mut state.registry;
    let result = result.map_err(|e| e.to_string());
    super::shared::settle(&mut registry.repositories, &mut state.refresh.registry, state.clock.wall, result);
    let len = registry.visible_repositories().len();
    registry.repo_cursor.selected = registry.repo_cursor.selected.min(len.saturating_sub(1));
}

pub(super) fn images_loaded(
    state: &mut AppState,
    repository: String,
    result: Result<Vec<RegistryImage>, AwsError>,
) {
    let registry = &mut state.registry;
    let result = result.map_err(|e| match e {
        AwsError::NotFound(_) => format!("no repository `{repository}` in this registry"),
        e => e.to_string(),
    });
    super::shared::settle(&mut registry.images, &mut state.refresh.registry, state.clock.wall, result);
    let len = registry.visible_images().len();
    registry.image_cursor.selected = registry.image_cursor.selected.min(len.saturating_sub(1));
}
