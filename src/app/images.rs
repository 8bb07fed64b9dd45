//! The Images pane: the engine's images and containers as they change, and
//! the jobs started from them (push, bake).

use super::shared::ready_to_start;
use super::state::{AppState, EngineView, ImagesTab, Load, Overlay, Prompt, PromptPurpose};
use crate::aws::AwsStatus;
use crate::docker::EngineUpdate;

pub(super) fn start_bake(state: &mut AppState) {
    if !ready_to_start(state, "bake", ImagesTab::Containers, "a container") {
        return;
    }
    let Some(container) = state.images.selected_container() else {
        state.flash = Some("bake: there is no container to bake".into());
        return;
    };
    let name = container.name.clone();
    state.overlay = Some(Overlay::Prompt(Prompt::new(
        format!("Bake {name} into image"),
        format!("{}:baked", name.to_lowercase()),
        PromptPurpose::BakeTag { container: name },
    )));
}

pub(super) fn start_push(state: &mut AppState) {
    if !ready_to_start(state, "push", ImagesTab::Images, "an image") {
        return;
    }
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        state.flash = Some("push needs AWS credentials, and none were found".into());
        return;
    }
    let Some(image) = state.images.selected_image() else {
        state.flash = Some("push: there is no image to push".into());
        return;
    };
    let source = if image.repository == "<none>" { image.id.clone() } else { image.reference() };
    let repository = state.settings.profile.repository.clone().unwrap_or_else(|| {
        // Without a configured repository, offer the image's own name (its last path part).
        image.repository.rsplit('/').next().unwrap_or(&image.repository).to_string()
    });
    let tag = if image.tag == "<none>" { "latest".to_string() } else { image.tag.clone() };
    let mut prompt = Prompt::new(
        format!("Push {source} to ECR repository:tag"),
        format!("{repository}:{tag}"),
        PromptPurpose::PushTarget { image: source },
    );
    if let Load::Loaded(list) = &state.registry.repositories {
        prompt.choices = list.iter().map(|r| r.name.clone()).collect();
    }
    state.overlay = Some(Overlay::Prompt(prompt));
}

pub(super) fn apply_engine(state: &mut AppState, update: EngineUpdate) {
    let pane = &mut state.images;
    match update {
        EngineUpdate::Snapshot { endpoint, api_version, images, containers } => {
            let image_key = pane.selected_image().map(|i| i.reference());
            let container_key = pane.selected_container().map(|c| c.id.clone());
            pane.images = images;
            pane.containers = containers;
            if pane.open.as_ref().is_some_and(|id| !pane.containers.iter().any(|c| &c.id == id)) {
                pane.open = None;
            }
            pane.loaded = true;
            pane.engine = EngineView::Connected { endpoint, api_version };
            // Keep the selection on the same item when the list changes under it.
            let visible = pane.visible_images();
            pane.image_cursor.selected = image_key
                .and_then(|k| visible.iter().position(|i| i.reference() == k))
                .unwrap_or(pane.image_cursor.selected)
                .min(visible.len().saturating_sub(1));
            let visible = pane.visible_containers();
            pane.container_cursor.selected = container_key
                .and_then(|k| visible.iter().position(|c| c.id == k))
                .unwrap_or(pane.container_cursor.selected)
                .min(visible.len().saturating_sub(1));
        }
        EngineUpdate::Unreachable { endpoint, error, retry_in } => {
            pane.engine = EngineView::Unreachable { endpoint, error, retry_in };
        }
    }
}
