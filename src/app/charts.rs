//! What the charts draw from: the running containers the Containers tab
//! shows (their engine readings, followed only while somebody looks), and
//! the ECS services on screen (their CloudWatch utilization, asked every
//! minute while somebody looks).

use std::time::Duration;

use super::effect::{Effect, LoadRequest};
use super::shared::{looked_at, rows_on_screen};
use super::state::{AppState, ImagesTab, PaneId};
use crate::aws::AwsError;
use crate::model::metrics::{StatsSample, Utilization};

/// CloudWatch's `AWS/ECS` metrics come a point a minute.
pub const METRICS_EVERY: Duration = Duration::from_secs(60);

/// The containers whose readings are wanted now (ids): the running ones in
/// the rows on screen, or the one whose chart is open, while the Containers
/// tab is looked at.
pub fn containers_followed(state: &AppState) -> Vec<String> {
    let pane = &state.images;
    if pane.tab != ImagesTab::Containers || !looked_at(state, PaneId::Images) {
        return Vec::new();
    }
    if let Some(id) = &pane.open {
        return vec![id.clone()];
    }
    let rows = usize::from(rows_on_screen(state, PaneId::Images));
    let visible = pane.visible_containers();
    let first = (pane.container_cursor.selected + 1).saturating_sub(rows);
    visible.iter().skip(first).take(rows).filter(|c| c.state == "running").map(|c| c.id.clone()).collect()
}

/// A reading arrived; the readings of containers no longer there go.
pub(super) fn reading(state: &mut AppState, id: String, sample: StatsSample) {
    let pane = &mut state.images;
    if pane.containers.iter().any(|c| c.id == id) {
        pane.stats.entry(id).or_default().push(sample);
    }
    let containers = &pane.containers;
    pane.stats.retain(|id, _| containers.iter().any(|c| &c.id == id));
}

/// `enter` on a container: its chart fills the tab (`esc` goes back).
pub(super) fn open_container(state: &mut AppState) {
    match state.images.selected_container() {
        Some(c) if c.state == "running" || state.images.stats.contains_key(&c.id) => {
            state.images.open = Some(c.id.clone());
        }
        Some(c) => state.flash = Some(format!("{} is {}: it has no readings to chart", c.name, c.state)),
        None => {}
    }
}

/// The services whose utilization is due, asked for: the opened service,
/// or the services on screen.
pub(super) fn ask_metrics(state: &mut AppState, effects: &mut Vec<Effect>) {
    let Some(cluster) = state.ecs.cluster.clone() else { return };
    let services = match &state.ecs.service {
        Some(service) => vec![service.clone()],
        None if state.ecs.services_complete => super::shared::services_on_screen(state),
        None => return,
    };
    if services.is_empty() {
        return;
    }
    state.refresh.metrics.asked = Some(state.clock.mono);
    state.refresh.metrics.waiting = true;
    effects.push(Effect::Load(LoadRequest::Metrics { cluster, services }));
}

/// Whether a service on screen was never asked about (the list scrolled).
pub(super) fn metrics_missing(state: &AppState) -> bool {
    if state.ecs.service.is_some() || !state.ecs.services_complete {
        return false;
    }
    super::shared::services_on_screen(state).iter().any(|s| !state.ecs.metrics.contains_key(s))
}

/// Utilization came: kept for the cluster it was asked for. CloudWatch not
/// answering leaves what was there (the charts say nothing new).
pub(super) fn metrics_loaded(state: &mut AppState, result: Result<Vec<(String, Utilization)>, AwsError>) {
    let now = state.clock.wall;
    state.refresh.metrics.answered(now, result.as_ref().err().map(|e| e.to_string()));
    match result {
        Ok(found) => state.ecs.metrics.extend(found),
        Err(e) => tracing::warn!(error = %e, "CloudWatch metrics not read"),
    }
}
