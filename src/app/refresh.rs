//! Panes that refresh while somebody looks: ECS's rows on screen every 5 s,
//! the snapshots' head every 15 s (a 304 when it did not move; the listing
//! read again when it did, or when what this machine holds changed), the
//! registry every 60 s. Nobody looking (the terminal unfocused, or another
//! pane filling the screen): nothing is asked; looking again asks at once.
//! `R` asks for the focused pane now. A refresh that fails keeps the rows and
//! says so in the pane's heading.

use std::time::Duration;

use super::effect::{Effect, LoadRequest};
use super::shared::{looked_at, services_on_screen};
use super::state::{AppState, Load, PaneId};
use crate::aws::AwsStatus;

pub const ECS_EVERY: Duration = Duration::from_secs(5);
/// The ECS refresh asks at most one `DescribeServices` (10 services) this
/// often: 30 calls a minute, 2.5 % of the account's 1,200 a minute for
/// service reads, however many rows a tall terminal shows.
pub const ECS_CALL_EVERY: Duration = Duration::from_secs(2);
pub const SNAPSHOTS_EVERY: Duration = Duration::from_secs(15);
pub const REGISTRY_EVERY: Duration = Duration::from_secs(60);
/// The list of clusters (one `ListClusters` page): clusters come and go rarely.
pub const CLUSTERS_EVERY: Duration = Duration::from_secs(60);
/// The listing is read again this often even when head did not move: a
/// backup that diverged from the line moves no head.
pub const LISTING_EVERY: Duration = Duration::from_secs(120);

/// The once-a-second tick: asks for what is due on the panes looked at.
pub(super) fn tick(state: &mut AppState, effects: &mut Vec<Effect>) {
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        return;
    }
    let looking = state.terminal_focused;
    if looking && !state.refresh.looking {
        // Looked at again: what is on screen is asked for at once.
        state.refresh.ecs.asked = None;
        state.refresh.snapshots.asked = None;
        state.refresh.registry.asked = None;
        state.refresh.metrics.asked = None;
    }
    state.refresh.looking = looking;
    let now = state.clock.mono;
    if looked_at(state, PaneId::Ecs) && state.refresh.ecs.due(now, ecs_every(state)) {
        ecs(state, effects);
    }
    let metrics = &state.refresh.metrics;
    let due = metrics.due(now, super::charts::METRICS_EVERY)
        || (!metrics.waiting && metrics.failed.is_none() && super::charts::metrics_missing(state));
    if looked_at(state, PaneId::Ecs) && due {
        super::charts::ask_metrics(state, effects);
    }
    if looked_at(state, PaneId::Snapshots) && state.refresh.snapshots.due(now, SNAPSHOTS_EVERY) {
        snapshots(state, effects);
    }
    if looked_at(state, PaneId::Registry) && state.refresh.registry.due(now, REGISTRY_EVERY) {
        registry(state, effects);
    }
}

/// `R`: the focused pane asks now.
pub(super) fn now(state: &mut AppState, effects: &mut Vec<Effect>) {
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        state.flash = Some("nothing to refresh: AWS is not connected".into());
        return;
    }
    let asked = match state.focus {
        PaneId::Ecs => {
            state.refresh.ecs.waiting = false;
            ecs(state, effects)
        }
        PaneId::Snapshots => {
            // Read whole, head moved or not.
            state.refresh.listed = None;
            state.refresh.snapshots.waiting = false;
            snapshots(state, effects)
        }
        PaneId::Registry => {
            state.refresh.registry.waiting = false;
            registry(state, effects)
        }
        PaneId::Images | PaneId::Jobs | PaneId::Logs => {
            state.flash = Some(format!("the {} pane follows by itself", state.focus.title()));
            false
        }
    };
    if asked {
        state.flash = Some(format!("refreshing {}…", state.focus.title()));
    }
}

/// How often the ECS rows are asked for: every 5 s, or less often when the
/// rows on screen take more than two or three calls.
pub fn ecs_every(state: &AppState) -> Duration {
    if state.ecs.cluster.is_none() {
        return CLUSTERS_EVERY;
    }
    if state.ecs.service.is_some() {
        return ECS_EVERY;
    }
    let calls = services_on_screen(state).len().div_ceil(10);
    ECS_EVERY.max(ECS_CALL_EVERY * u32::try_from(calls).unwrap_or(u32::MAX))
}

/// The ECS rows on screen: the opened service's tasks (and its own row), the
/// services on screen described again, or the clusters; the rows stay while it asks.
fn ecs(state: &mut AppState, effects: &mut Vec<Effect>) -> bool {
    let Some(cluster) = state.ecs.cluster.clone() else {
        state.refresh.ecs.asked = Some(state.clock.mono);
        state.refresh.ecs.waiting = true;
        effects.push(Effect::Load(LoadRequest::Clusters));
        return true;
    };
    let names: Vec<String> = match &state.ecs.service {
        Some(service) => vec![service.clone()],
        None if state.ecs.services_complete => services_on_screen(state),
        // Still being listed and described: that load is the refresh.
        None => return false,
    };
    state.refresh.ecs.asked = Some(state.clock.mono);
    state.refresh.ecs.waiting = true;
    if let Some(service) = state.ecs.service.clone() {
        effects.push(Effect::Load(LoadRequest::Tasks { cluster: cluster.clone(), service }));
    }
    if names.is_empty() {
        if state.ecs.service.is_none() {
            state.refresh.ecs.waiting = false;
        }
        return state.ecs.service.is_some();
    }
    effects.push(Effect::Load(LoadRequest::ServicesNamed { cluster, names }));
    true
}

/// The snapshots' head, asked only to differ from the one the listing was read with.
fn snapshots(state: &mut AppState, effects: &mut Vec<Effect>) -> bool {
    let Some((bucket, prefix)) = super::shared::snapshot_place(state) else { return false };
    if !matches!(state.snapshots.list, Load::Loaded(_) | Load::Failed(_)) {
        return false;
    }
    let now = state.clock.mono;
    let whole = state.refresh.listed.is_none_or(|t| now.saturating_duration_since(t) >= LISTING_EVERY);
    state.refresh.snapshots.asked = Some(now);
    state.refresh.snapshots.waiting = true;
    let container = state.settings.profile.database.as_ref().and_then(|d| d.container.clone());
    effects.push(Effect::Load(LoadRequest::SnapshotsIfMoved {
        bucket,
        prefix,
        container,
        etag: if whole { None } else { state.refresh.head_etag.clone() },
        here: state.snapshots.here.clone(),
        whole,
    }));
    true
}

/// The repositories, or the opened repository's images.
fn registry(state: &mut AppState, effects: &mut Vec<Effect>) -> bool {
    state.refresh.registry.asked = Some(state.clock.mono);
    state.refresh.registry.waiting = true;
    match state.registry.open.clone() {
        Some(repository) => effects.push(Effect::Load(LoadRequest::Images { repository })),
        None => effects.push(Effect::Load(LoadRequest::Repositories)),
    }
    true
}

/// The pane's heading note: paused while nobody looks, or the failed refresh
/// (the rows shown being from when they were last read).
pub fn note(state: &AppState, pane: PaneId) -> Option<String> {
    let watch = match pane {
        PaneId::Ecs => &state.refresh.ecs,
        PaneId::Snapshots => &state.refresh.snapshots,
        PaneId::Registry => &state.refresh.registry,
        _ => return None,
    };
    if let Some((error, good_at)) = &watch.failed {
        let from = good_at.as_ref().map_or(String::new(), |t| {
            format!(" · rows from {} ago", crate::format::age(*t, state.clock.wall))
        });
        // The age first: a narrow heading cuts the end, and the error can be long.
        return Some(format!("refresh failed{from}: {error}"));
    }
    (!state.terminal_focused && matches!(state.aws, AwsStatus::Ready { .. })).then(|| "paused".into())
}
