//! What the panes share, on the floor below them: opening a dialog, starting
//! a job, the checks before one, asking for what fills the AWS panes, what is
//! on screen, what a tail follows. Layers inside `app/` (checked by
//! `tests/it/layers.rs`), lowest first: the state and its vocabulary
//! (`state`, `overlay`, `effect`, `action`, `asked`, `watch`, `keymap`,
//! `standing`) and this file; the set-ups (`setup`), which any pane may
//! start; the panes (`ecs`, `images`, `jobs`, `logs`, `machine`, `registry`,
//! `snapshots`, `switch`, `charts`, `settings`), each using only what is
//! below it and never another pane; and at the top `update`, `keys` and
//! `refresh`, which hand each action, answer and tick to the pane it is for.

use super::effect::{Effect, LoadRequest};
use super::overlay::Overlay;
use super::state::{AppState, ImagesTab, JobState, JobView, Load, PaneId};
use super::watch::Watch;
use crate::aws::AwsStatus;
use crate::jobs::{JobId, JobSpec, Progress};
use crate::logs::TailTarget;
use crate::snapshots;

// Dialogs and jobs.

/// Opens a dialog that a background result brought: it never replaces (or is
/// answered by keys meant for) a dialog that is open; it waits its turn.
pub fn show_dialog(state: &mut AppState, dialog: Overlay) {
    if state.overlay.is_some() {
        state.waiting_dialogs.push_back(dialog);
    } else {
        // "working out …" has been answered.
        state.flash = None;
        state.overlay = Some(dialog);
    }
}

pub fn start_job(state: &mut AppState, spec: JobSpec, effects: &mut Vec<Effect>) {
    let id = add_job(state, &spec);
    effects.push(Effect::StartJob { id, spec });
}

/// Starts a job and says so in the status line until it ends.
pub fn start_job_saying(state: &mut AppState, spec: JobSpec, words: String, effects: &mut Vec<Effect>) {
    let id = add_job(state, &spec);
    effects.push(Effect::StartJob { id, spec });
    state.flash = Some(words.clone());
    state.flash_job = Some((id, words));
}

/// Lists a new job as queued and returns its id.
fn add_job(state: &mut AppState, spec: &JobSpec) -> JobId {
    state.jobs.next_id += 1;
    let id = state.jobs.next_id;
    // The cursor on the newest job (or none yet) follows to this one; moved up, it stays.
    let shown = state.jobs.visible().len();
    let following = state.jobs.cursor.selected + 1 >= shown;
    state.jobs.jobs.push(JobView {
        id,
        kind: spec.kind(),
        target: spec.target(),
        state: JobState::Queued,
        progress: Progress::stage("queued"),
        queued_at: state.clock.mono,
        started_at: None,
        finished_at: None,
        repository: match spec {
            JobSpec::Push(p) => Some(p.repository.clone()),
            _ => None,
        },
        logs: job_logs(spec),
        profile: state.settings.profile_name.clone(),
    });
    if following {
        state.jobs.cursor.selected = state.jobs.visible().len().saturating_sub(1);
    }
    id
}

// The checks before a job.

/// The checks every job started from the Images pane makes: the right tab is
/// shown (else it is shown, and the user picks), and wharf is not read-only.
pub fn ready_to_start(state: &mut AppState, job: &str, tab: ImagesTab, what: &str) -> bool {
    if state.focus != PaneId::Images || state.images.tab != tab {
        state.focus = PaneId::Images;
        state.images.tab = tab;
        state.flash = Some(format!("{job}: select {what}, then press the key again"));
        return false;
    }
    if state.settings.read_only {
        state.flash = Some(format!("read-only: {job} is disabled (started with --read-only)"));
        return false;
    }
    true
}

/// The checks before a snapshot job: AWS, a bucket, and not read-only.
pub fn ready_for_snapshots(state: &mut AppState, job: &str) -> Option<(String, String)> {
    if state.settings.read_only {
        state.flash = Some(format!("read-only: {job} is disabled (started with --read-only)"));
        return None;
    }
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        state.flash = Some(format!("{job} needs AWS credentials, and none were found"));
        return None;
    }
    let place = snapshot_place(state);
    if place.is_none() {
        state.flash = Some(format!("{job}: no bucket for snapshots; set bucket (and prefix) in wharf.toml"));
    }
    place
}

// What fills the AWS panes, asked for.

/// Lists the clusters, and opens the profile's cluster and service when set.
pub fn load_ecs(state: &mut AppState, effects: &mut Vec<Effect>) {
    state.ecs.clusters = Load::Loading;
    effects.push(Effect::Load(LoadRequest::Clusters));
    if let Some(cluster) = state.settings.profile.cluster.clone() {
        open_cluster(state, cluster.clone(), effects);
        if let Some(service) = state.settings.profile.service.clone() {
            open_service(state, cluster, service, effects);
        }
    }
}

pub fn open_cluster(state: &mut AppState, cluster: String, effects: &mut Vec<Effect>) {
    state.ecs.cluster = Some(cluster.clone());
    state.ecs.service = None;
    state.ecs.services = Load::Loading;
    state.ecs.services_complete = false;
    state.ecs.service_cursor = Default::default();
    state.ecs.metrics.clear();
    state.refresh.metrics = Default::default();
    effects.push(Effect::Load(LoadRequest::Services { cluster }));
}

pub fn open_service(state: &mut AppState, cluster: String, service: String, effects: &mut Vec<Effect>) {
    state.ecs.service = Some(service.clone());
    state.ecs.tasks = Load::Loading;
    state.ecs.task_cursor = Default::default();
    state.refresh.metrics.asked = None;
    effects.push(Effect::Load(LoadRequest::Tasks { cluster, service }));
}

/// Lists the repositories, and opens the profile's repository when it has one.
pub fn load_registry(state: &mut AppState, effects: &mut Vec<Effect>) {
    state.registry.repositories = Load::Loading;
    effects.push(Effect::Load(LoadRequest::Repositories));
    if let Some(repository) = state.settings.profile.repository.clone() {
        open_repository(state, repository, effects);
    }
}

pub fn open_repository(state: &mut AppState, repository: String, effects: &mut Vec<Effect>) {
    state.registry.open = Some(repository.clone());
    state.registry.images = Load::Loading;
    state.registry.image_cursor = Default::default();
    effects.push(Effect::Load(LoadRequest::Images { repository }));
}

/// Where snapshots live, when the profile says.
pub fn snapshot_place(state: &AppState) -> Option<(String, String)> {
    let profile = &state.settings.profile;
    Some((profile.bucket.clone()?, snapshots::normalise_prefix(profile.prefix.as_deref())))
}

pub fn load_snapshots(state: &mut AppState, effects: &mut Vec<Effect>) {
    let Some((bucket, prefix)) = snapshot_place(state) else {
        // No place to list: an answer from the place before is not this one's.
        state.asked.leave(super::asked::View::Snapshots);
        return;
    };
    state.snapshots.list = Load::Loading;
    let container = state.settings.profile.database.as_ref().and_then(|d| d.container.clone());
    effects.push(Effect::Load(LoadRequest::Snapshots { bucket, prefix, container }));
}

/// An answer put in place: new rows, or the error — in place of the rows
/// only when there are none to keep (a refresh that fails never blanks a pane).
pub fn settle<T>(shown: &mut Load<T>, watch: &mut Watch, now: i64, result: Result<T, String>) {
    match result {
        Ok(rows) => {
            *shown = Load::Loaded(rows);
            watch.answered(now, None);
        }
        Err(e) if matches!(shown, Load::Loaded(_)) => watch.answered(now, Some(e)),
        Err(e) => {
            *shown = Load::Failed(e);
            watch.waiting = false;
            watch.failed = None;
        }
    }
}

// What is on screen.

/// Whether `pane` is on screen for somebody to see.
pub fn looked_at(state: &AppState, pane: PaneId) -> bool {
    state.terminal_focused && (!state.zoomed || state.focus == pane)
}

/// How many rows of a list a pane shows: its height less borders and headings.
pub fn rows_on_screen(state: &AppState, pane: PaneId) -> u16 {
    let height = if state.zoomed && state.focus == pane {
        state.size.1.saturating_sub(6)
    } else {
        (state.size.1.saturating_sub(2) / 3).saturating_sub(4)
    };
    height.max(1)
}

/// The services' names in the rows the ECS pane shows now: the pane's
/// height around the cursor, as the table scrolls to keep it in view.
pub fn services_on_screen(state: &AppState) -> Vec<String> {
    let rows = usize::from(rows_on_screen(state, PaneId::Ecs));
    let visible = state.ecs.visible_services();
    let first = (state.ecs.service_cursor.selected + 1).saturating_sub(rows);
    visible.iter().skip(first).take(rows).map(|s| s.name.clone()).collect()
}

// What the Logs pane tails.

/// Each stream's newest lines a tail in the pane starts with: more than any
/// screen shows, one read per stream, never the history before them.
pub const FIRST_LINES: usize = 1_000;

pub fn service_target(cluster: String, service: String) -> TailTarget {
    TailTarget {
        cluster,
        service: Some(service),
        task: None,
        replacing: None,
        since: None,
        newest: FIRST_LINES,
        follow: true,
        live: true,
    }
}

/// The target a deploy job's `l` tails: the service's tasks that are not on
/// the revision it ran before.
fn deploy_target(cluster: &str, service: &str, from: &str) -> TailTarget {
    TailTarget {
        replacing: Some(from.to_string()),
        ..service_target(cluster.to_string(), service.to_string())
    }
}

/// What `l` tails for a job: a deploy's or rollback's new tasks.
fn job_logs(spec: &JobSpec) -> Option<TailTarget> {
    match spec {
        JobSpec::Deploy(d) => Some(deploy_target(&d.plan.cluster, &d.plan.service, &d.plan.from)),
        _ => None,
    }
}
