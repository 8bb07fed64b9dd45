//! The second machine from the dashboard: pull the selected registry image,
//! run the profile's database container from the selected local image, sync
//! this machine to the head of the loop (its plan shown first), and open a
//! shell or the SQL client to change the schema.

use super::effect::{Effect, LoadRequest, LocalLoad};
use super::overlay::{Confirm, Confirmed, Overlay, PickItem, PickPurpose, Picker};
use super::shared::{ready_for_snapshots, ready_to_start, show_dialog, start_job};
use super::state::{AppState, ImagesTab, PaneId};
use crate::aws::AwsStatus;
use crate::jobs::console::{ConsoleKind, ConsoleRequest};
use crate::jobs::pull::{PullJob, Wanted};
use crate::jobs::sync::{SyncJob, SyncPlan};
use crate::jobs::{JobSpec, RunJob};

/// `p` on an image of an opened repository: pulled by its digest, under its first tag.
pub(super) fn start_pull(state: &mut AppState, effects: &mut Vec<Effect>) {
    let Some(repository) = state.registry.open.clone().filter(|_| state.focus == PaneId::Registry) else {
        state.focus = PaneId::Registry;
        state.flash = Some("pull: open a repository and select an image, then press the key again".into());
        return;
    };
    if state.settings.read_only {
        state.flash = Some("read-only: pull is disabled (started with --read-only)".into());
        return;
    }
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        state.flash = Some("pull needs AWS credentials, and none were found".into());
        return;
    }
    let Some(image) = state.registry.visible_images().get(state.registry.image_cursor.selected).copied()
    else {
        state.flash = Some("pull: there is no image to pull".into());
        return;
    };
    let wanted = match image.tags.first() {
        Some(tag) => Wanted::Tag(tag.clone()),
        None => Wanted::Digest(image.digest.clone()),
    };
    let job = PullJob {
        repository,
        wanted,
        registry: state.settings.registry(),
        docker_host: state.settings.docker_host.clone(),
    };
    start_job(state, JobSpec::Pull(job), effects);
}

/// `r` on a local image: the profile's database container from it.
pub(super) fn start_run(state: &mut AppState, effects: &mut Vec<Effect>) {
    if !ready_to_start(state, "run", ImagesTab::Images, "an image") {
        return;
    }
    let Some(image) = state.images.selected_image() else {
        state.flash = Some("run: there is no image to run".into());
        return;
    };
    let image = if image.repository == "<none>" { image.id.clone() } else { image.reference() };
    // No database container named yet: its name is asked (and saved), then the run goes on.
    if state.settings.profile.database.as_ref().and_then(|d| d.container.as_ref()).is_none() {
        super::setup::start(state, super::overlay::Goal::Run(image), effects);
        return;
    }
    run_image(state, image, effects);
}

/// Starts the run of `image` as the profile's database container.
pub(super) fn run_image(state: &mut AppState, image: String, effects: &mut Vec<Effect>) {
    match RunJob::from_settings(&state.settings, image, None) {
        Ok(job) => start_job(state, JobSpec::Run(job), effects),
        Err(message) => state.flash = Some(format!("run: {message}")),
    }
}

/// `S`: what this machine lacks, worked out in the background; the plan
/// follows in a confirmation.
pub(super) fn start_sync(state: &mut AppState, effects: &mut Vec<Effect>) {
    sync_to(state, None, effects);
}

/// A sync to the service's image, or to `tag` of the profile's repository.
fn sync_to(state: &mut AppState, tag: Option<String>, effects: &mut Vec<Effect>) {
    let Some((bucket, prefix)) = ready_for_snapshots(state, "sync") else { return };
    let profile = &state.settings.profile;
    if tag.is_none() && (profile.cluster.is_none() || profile.service.is_none()) {
        // No service says which image: a tag of the profile's repository is asked for.
        let Some(repository) = profile.repository.clone() else {
            state.flash =
                Some("sync: which image? set repository (or cluster and service) in wharf.toml".into());
            return;
        };
        let title = format!("Image of {repository} to sync to");
        state.overlay =
            Some(Overlay::Pick(Picker { loading: true, ..Picker::new(&title, PickPurpose::SyncTag) }));
        effects.push(Effect::Load(LoadRequest::SyncTags { repository }));
        return;
    }
    match SyncJob::from_settings(&state.settings, tag, None, None, bucket, prefix) {
        Ok(job) => {
            state.flash = Some(format!("sync: looking at what {} lacks…", job.run.container));
            effects.push(Effect::Load(LoadRequest::SyncPlan(Box::new(job))));
        }
        Err(message) => state.flash = Some(format!("sync: {}", message.replace(", or give --tag", ""))),
    }
}

pub(super) fn sync_planned(state: &mut AppState, mut job: SyncJob, plan: SyncPlan) {
    if plan.steps.is_empty() {
        state.flash = Some(format!("{} is in sync: nothing to do", plan.container));
        return;
    }
    let lines = plan.lines();
    job.plan = Some(plan);
    show_dialog(
        state,
        Overlay::Confirm(Confirm { title: "Sync".into(), lines, on_yes: Confirmed::Sync(Box::new(job)) }),
    );
}

/// A shell in the selected container, or the SQL client in the profile's
/// database container: checked in the background, then the terminal is
/// handed over (`Effect::Attach`).
pub(super) fn open_console(state: &mut AppState, kind: ConsoleKind, effects: &mut Vec<Effect>) {
    let (what, container) = match kind {
        ConsoleKind::Shell => {
            if !ready_to_start(state, "shell", ImagesTab::Containers, "a running container") {
                return;
            }
            let Some(container) = state.images.selected_container() else {
                state.flash = Some("shell: there is no container".into());
                return;
            };
            if container.state != "running" {
                state.flash =
                    Some(format!("shell: {} is {}; start it first", container.name, container.state));
                return;
            }
            ("shell", Some(container.name.clone()))
        }
        ConsoleKind::Sql => {
            if state.settings.read_only {
                state.flash = Some("read-only: the SQL client is disabled (started with --read-only)".into());
                return;
            }
            ("sql", None)
        }
    };
    match ConsoleRequest::from_settings(&state.settings, container, kind) {
        Ok(request) => {
            state.flash = Some(format!("{what}: opening in {}…", request.container));
            effects.push(Effect::LoadLocal(LocalLoad::Console(request)));
        }
        Err(message) => {
            state.flash = Some(format!("{what}: {}", message.replace("give --container, or ", "")))
        }
    }
}

/// The repository's tags came: newest image first, its digest and age beside.
pub(super) fn sync_tags_listed(
    state: &mut AppState,
    result: Result<Vec<crate::model::registry::RegistryImage>, crate::aws::AwsError>,
) {
    let now = state.clock.wall;
    let Some(Overlay::Pick(picker)) = &mut state.overlay else { return };
    picker.loading = false;
    match result {
        Ok(images) => {
            picker.items = images
                .iter()
                .flat_map(|i| {
                    let age = i.pushed_at.map(|t| crate::format::age(t, now)).unwrap_or_default();
                    let detail = format!("{} · {age}", i.short_digest());
                    i.tags.iter().map(move |t| PickItem {
                        value: t.clone(),
                        label: t.clone(),
                        detail: detail.clone(),
                    })
                })
                .collect();
            if picker.items.is_empty() {
                picker.error =
                    Some("the repository has no tagged image: push one first (p in Images)".into());
            }
        }
        Err(e) => picker.error = Some(e.to_string()),
    }
}

/// A tag picked: the sync to it is worked out, as `S` with a service.
pub(super) fn sync_tag_picked(state: &mut AppState, tag: &str, effects: &mut Vec<Effect>) {
    sync_to(state, Some(tag.to_string()), effects);
}
