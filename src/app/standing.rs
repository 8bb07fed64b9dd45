//! Where this machine stands in the loop, at a glance, from what the panes
//! already hold (nothing is loaded for it): the image the profile's ECS
//! service runs and the tags ECR's repository points at, marked on local
//! images; and whether the database container runs that image and holds the
//! head of the line of snapshots.

use super::state::AppState;
use crate::model::ecs::TaskInfo;
use crate::model::images::ImageInfo;

/// The digest the profile's service runs, from its tasks (the container named
/// `container`, or the task's only one), once they are loaded.
pub(super) fn service_digest(tasks: &[TaskInfo], container: Option<&str>) -> Option<String> {
    let running = tasks.iter().filter(|t| t.last_status == "RUNNING");
    running
        .filter_map(|t| match container {
            Some(name) => t.containers.iter().find(|c| c.name == name),
            None if t.containers.len() == 1 => t.containers.first(),
            None => None,
        })
        .find_map(|c| c.digest.clone())
}

/// What marks a local image: `ECS` when the profile's service runs it, and
/// the tags of the profile's repository that point at it.
pub fn image_marks(state: &AppState, image: &ImageInfo) -> Vec<String> {
    let mut marks = Vec::new();
    if state.ecs.runs.as_ref().is_some_and(|d| image.digests.contains(d)) {
        marks.push("ECS".to_string());
    }
    let profile = &state.settings.profile;
    if profile.repository.is_some() && state.registry.open == profile.repository {
        let tagged = state.registry.images.loaded().into_iter().flatten();
        for pushed in tagged.filter(|r| image.digests.contains(&r.digest)) {
            marks.extend(pushed.tags.iter().map(|t| format!("ECR:{t}")));
        }
    }
    marks
}

/// The status line's words on this machine against the loop, and whether
/// they say it is in sync; `None` while too little is known to say.
pub fn summary(state: &AppState) -> Option<(String, bool)> {
    let name = state.settings.profile.database.as_ref()?.container.as_deref()?;
    let head = state.snapshots.list.loaded().and_then(|l| l.iter().find(|s| s.head));
    let runs = state.ecs.runs.as_deref();
    if head.is_none() && runs.is_none() {
        return None;
    }
    if !state.images.loaded {
        return None;
    }
    // `S` takes the image from the service; without one, data is taken by a restore.
    let profile = &state.settings.profile;
    let how =
        if profile.cluster.is_some() && profile.service.is_some() { "S syncs" } else { "r on head restores" };
    let Some(container) = state.images.containers.iter().find(|c| c.name == name) else {
        return Some((format!("no {name} on this machine ({how})"), false));
    };
    let mut behind = Vec::new();
    if let Some(digest) = runs {
        let local = state.images.images.iter().find(|i| i.id == container.image_id);
        if !local.is_some_and(|i| i.digests.iter().any(|d| d == digest)) {
            behind.push("image".to_string());
        }
    }
    if let Some(head) = head {
        match state.snapshots.here.as_deref() {
            Some(here) if here == head.id => {}
            Some(here) => {
                let on_line = state.snapshots.line.get(here).is_some_and(|row| row.on_line);
                behind.push(if on_line { "data".to_string() } else { "data (off the line)".to_string() });
            }
            None => behind.push("data".to_string()),
        }
    }
    if behind.is_empty() {
        Some(("in sync".to_string(), true))
    } else {
        Some((format!("behind: {} ({how})", behind.join(", ")), false))
    }
}
