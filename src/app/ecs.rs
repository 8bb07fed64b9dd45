//! The ECS pane: clusters → services → tasks, and the changes made from it
//! (deploy, rollback).

use super::asked::View;
use super::effect::{Effect, LoadRequest};
use super::shared::{open_cluster, open_service, settle, show_dialog};
use super::state::{AppState, Confirm, Confirmed, Load, Overlay, PaneId, Prompt, PromptPurpose};
use crate::aws::ecs::Plan;
use crate::aws::{AwsError, AwsStatus};
use crate::jobs::DeployJob;
use crate::model::ecs::{ServiceInfo, TaskInfo};

/// `enter`: opens the selected cluster, or the selected service.
pub(super) fn open_selected(state: &mut AppState, effects: &mut Vec<Effect>) {
    match (&state.ecs.cluster, &state.ecs.service) {
        (None, _) => {
            let selected =
                state.ecs.visible_clusters().get(state.ecs.cluster_cursor.selected).map(|c| c.to_string());
            if let Some(cluster) = selected {
                open_cluster(state, cluster, effects);
            }
        }
        (Some(cluster), None) => {
            let cluster = cluster.clone();
            let selected =
                state.ecs.visible_services().get(state.ecs.service_cursor.selected).map(|s| s.name.clone());
            if let Some(service) = selected {
                open_service(state, cluster, service, effects);
            }
        }
        (Some(_), Some(_)) => {}
    }
}

/// `esc`: from a service back to its cluster, from a cluster to the list.
pub(super) fn back(state: &mut AppState) {
    // An answer still on its way is for a view the user has left; the
    // refresh it was, if it was one, is not awaited any more, and a failed
    // one is not this view's to say.
    if state.ecs.service.is_some() {
        state.ecs.service = None;
        state.asked.leave(View::Tasks);
    } else {
        state.ecs.cluster = None;
        state.asked.leave(View::Services);
        state.refresh.metrics.waiting = false;
    }
    (state.refresh.ecs.waiting, state.refresh.ecs.failed) = (false, None);
}

pub(super) fn clusters_loaded(state: &mut AppState, result: Result<Vec<String>, AwsError>) {
    let ecs = &mut state.ecs;
    let result = result.map_err(|e| e.to_string());
    if ecs.cluster.is_none() {
        // The list on screen, asked again: a refresh that fails keeps it.
        settle(&mut ecs.clusters, &mut state.refresh.ecs, state.clock.wall, result);
    } else {
        ecs.clusters = result.map_or_else(Load::Failed, Load::Loaded);
    }
    let len = ecs.visible_clusters().len();
    ecs.cluster_cursor.selected = ecs.cluster_cursor.selected.min(len.saturating_sub(1));
}

/// A cluster's services, whole.
pub(super) fn services_loaded(
    state: &mut AppState,
    cluster: String,
    result: Result<Vec<ServiceInfo>, AwsError>,
) {
    let ecs = &mut state.ecs;
    ecs.services_complete = true;
    let result = result.map_err(|e| match e {
        AwsError::NotFound(_) => format!("no ECS cluster `{cluster}` here"),
        e => e.to_string(),
    });
    settle(&mut ecs.services, &mut state.refresh.ecs, state.clock.wall, result);
    let len = ecs.visible_services().len();
    ecs.service_cursor.selected = ecs.service_cursor.selected.min(len.saturating_sub(1));
}

/// Services on screen described again: each replaces its row (one deleted
/// since stays until the list is read whole).
pub(super) fn services_named(state: &mut AppState, result: Result<Vec<ServiceInfo>, AwsError>) {
    let ecs = &mut state.ecs;
    let watch = &mut state.refresh.ecs;
    let fresh = match result {
        Ok(fresh) => fresh,
        Err(e) => return watch.answered(state.clock.wall, Some(e.to_string())),
    };
    // With a service open, its tasks' answer settles the refresh.
    if ecs.service.is_none() {
        watch.answered(state.clock.wall, None);
    }
    let Load::Loaded(rows) = &mut ecs.services else { return };
    for service in fresh {
        if let Some(row) = rows.iter_mut().find(|r| r.name == service.name) {
            *row = service;
        }
    }
}

/// The services listed and described so far, while the whole list is not in.
pub(super) fn services_so_far(state: &mut AppState, services: Vec<ServiceInfo>) {
    let ecs = &mut state.ecs;
    if ecs.services_complete {
        return;
    }
    ecs.services = Load::Loaded(services);
    let len = ecs.visible_services().len();
    ecs.service_cursor.selected = ecs.service_cursor.selected.min(len.saturating_sub(1));
}

/// A service's tasks.
pub(super) fn tasks_loaded(state: &mut AppState, result: Result<Vec<TaskInfo>, AwsError>) {
    let ecs = &mut state.ecs;
    let result = result.map_err(|e| e.to_string());
    settle(&mut ecs.tasks, &mut state.refresh.ecs, state.clock.wall, result);
    let profile = &state.settings.profile;
    if ecs.cluster.is_some()
        && (&ecs.cluster, &ecs.service) == (&profile.cluster, &profile.service)
        && let Some(tasks) = ecs.tasks.loaded()
    {
        let database = profile.database.as_ref().and_then(|d| d.container.as_deref());
        let container = profile.container.as_deref().or(database);
        ecs.runs = super::standing::service_digest(tasks, container);
    }
    let len = ecs.visible_tasks().len();
    ecs.task_cursor.selected = ecs.task_cursor.selected.min(len.saturating_sub(1));
}

/// The cluster and service a deploy or rollback from the dashboard is for, after
/// the checks every change makes.
pub(super) fn ready_to_change(state: &mut AppState, what: &str) -> Option<(String, String)> {
    if state.settings.read_only {
        state.flash = Some(format!("read-only: {what} is disabled (started with --read-only)"));
        return None;
    }
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        state.flash = Some(format!("{what} needs AWS credentials, and none were found"));
        return None;
    }
    let ecs = &state.ecs;
    let selected = ecs.visible_services().get(ecs.service_cursor.selected).map(|s| s.name.clone());
    let place = match (state.focus, &ecs.cluster, &ecs.service) {
        (PaneId::Ecs, Some(c), Some(s)) => Some((c.clone(), s.clone())),
        (PaneId::Ecs, Some(c), None) => selected.map(|s| (c.clone(), s)),
        _ => {
            let p = &state.settings.profile;
            p.cluster.clone().zip(p.service.clone())
        }
    };
    if place.is_none() {
        state.flash =
            Some(format!("{what}: set cluster and service in wharf.toml, or pick a service in the ECS pane"));
    }
    place
}

/// `d` on a Registry image: work out the digest-pinned deploy, then ask.
pub(super) fn start_deploy(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.focus != PaneId::Registry || state.registry.open.is_none() {
        state.flash = Some("deploy: open a repository in the Registry pane and select an image".into());
        return;
    }
    let registry = &state.registry;
    let Some(image) = registry.visible_images().get(registry.image_cursor.selected).map(|i| i.digest.clone())
    else {
        state.flash = Some("deploy: there is no image to deploy".into());
        return;
    };
    let open = registry.open.clone().unwrap_or_default();
    let uri =
        registry.repositories.loaded().and_then(|l| l.iter().find(|r| r.name == open)).map(|r| r.uri.clone());
    let Some(uri) = uri else {
        state.flash = Some("deploy: ECR's repository list has not loaded yet".into());
        return;
    };
    // No service known: it is picked (and saved) instead, and the deploy goes on.
    let p = &state.settings.profile;
    let unknown = state.focus != PaneId::Ecs && (p.cluster.is_none() || p.service.is_none());
    if unknown && !state.settings.read_only && matches!(state.aws, AwsStatus::Ready { .. }) {
        super::setup::start(state, super::overlay::Goal::Deploy(format!("{uri}@{image}")), effects);
        return;
    }
    let Some((cluster, service)) = ready_to_change(state, "deploy") else { return };
    state.flash = Some(format!("working out the deploy to {service}…"));
    let container = state.settings.profile.container.clone();
    effects.push(Effect::Load(LoadRequest::DeployPlan {
        cluster,
        service,
        container,
        image: format!("{uri}@{image}"),
    }));
}

/// `u` on a service: work out the rollback, then ask.
pub(super) fn start_rollback(state: &mut AppState, effects: &mut Vec<Effect>) {
    let Some((cluster, service)) = ready_to_change(state, "rollback") else { return };
    state.flash = Some(format!("working out the rollback of {service}…"));
    effects.push(Effect::Load(LoadRequest::RollbackPlan { cluster, service }));
}

/// A worked-out deploy or rollback: its diff, and a yes (the service's name
/// typed on a protected profile) before anything changes.
pub(super) fn ask_to_apply(state: &mut AppState, plan: Plan) {
    if plan.changes.is_empty() && plan.to.ends_with("(new)") {
        state.flash = Some(format!("{} already runs that image: nothing to deploy", plan.service));
        return;
    }
    let lines: Vec<String> = plan.diff().lines().map(str::to_string).collect();
    let service = plan.service.clone();
    let job = DeployJob {
        plan,
        wait: true,
        timeout: crate::jobs::deploy::DEFAULT_TIMEOUT,
        poll: std::time::Duration::from_secs(3),
    };
    let on_yes = Confirmed::Deploy(Box::new(job));
    if state.settings.profile.protected {
        let mut prompt = Prompt::new(
            format!("Protected profile: type `{service}` to change it"),
            String::new(),
            PromptPurpose::TypeToConfirm { expected: service, on_yes: Box::new(on_yes) },
        );
        prompt.note = lines;
        show_dialog(state, Overlay::Prompt(prompt));
    } else {
        show_dialog(state, Overlay::Confirm(Confirm { title: "Change the service".into(), lines, on_yes }));
    }
}
