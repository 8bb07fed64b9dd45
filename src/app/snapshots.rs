//! The Snapshots pane: the snapshots under the profile's bucket and prefix,
//! and the jobs started from it (backup, remote backup, restore, undo, prune).

use super::effect::{Effect, LoadRequest};
use super::overlay::Goal;
use super::shared::{ready_for_snapshots, show_dialog};
use super::state::{AppState, Confirm, Confirmed, Overlay, PaneId, Prompt, PromptPurpose};
use crate::aws::{AwsError, AwsStatus};
use crate::jobs::backup::BackupRequest;
use crate::jobs::restore::SnapshotSource;
use crate::jobs::{BackupJob, JobSpec, PruneJob, RemoteBackupJob, RestoreJob};
use crate::model::snapshots::Snapshot;
use crate::snapshots;
use crate::snapshots::prune::{self, Retention};

pub(super) fn start_backup(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.focus == PaneId::Ecs {
        start_remote_backup(state, effects);
        return;
    }
    // What the profile lacks is picked from live lists, saved, and then the backup goes on.
    if super::setup::needed(state, Goal::Backup)
        && !state.settings.read_only
        && matches!(state.aws, AwsStatus::Ready { .. })
    {
        super::setup::start(state, Goal::Backup, effects);
        return;
    }
    let Some((bucket, prefix)) = ready_for_snapshots(state, "backup") else { return };
    match BackupJob::from_settings(&state.settings, BackupRequest::default(), bucket, prefix) {
        Ok(job)
            if state
                .jobs
                .jobs
                .iter()
                .any(|j| j.state.is_active() && j.target == JobSpec::Backup(job.clone()).target()) =>
        {
            state.flash = Some(format!("a backup of {} is already running (see Jobs)", job.container));
        }
        Ok(job) => {
            let words = format!("backing up {} (see Jobs)", job.container);
            super::shared::start_job_saying(state, JobSpec::Backup(job), words, effects);
        }
        Err(message) => state.flash = Some(format!("backup: {message}")),
    }
}

/// `b` in the ECS pane: a backup of the opened (or selected) service's
/// database, its plan shown first.
pub(super) fn start_remote_backup(state: &mut AppState, effects: &mut Vec<Effect>) {
    let Some((bucket, prefix)) = ready_for_snapshots(state, "remote backup") else { return };
    let ecs = &state.ecs;
    let selected = ecs.visible_services().get(ecs.service_cursor.selected).map(|s| s.name.clone());
    let (cluster, service) = match (&ecs.cluster, &ecs.service) {
        (Some(c), Some(s)) => (c.clone(), s.clone()),
        (Some(c), None) if selected.is_some() => (c.clone(), selected.unwrap_or_default()),
        _ => {
            state.flash = Some("remote backup: open a cluster and select a service first".into());
            return;
        }
    };
    match RemoteBackupJob::from_settings(&state.settings, Some(cluster), Some(service), None, bucket, prefix)
    {
        Ok(job) => {
            state.flash = Some(format!("remote backup: working out the task for {}…", job.service));
            effects.push(Effect::Load(LoadRequest::RemotePreview(Box::new(job))));
        }
        Err(message) => state.flash = Some(format!("remote backup: {message}")),
    }
}

/// Lines of a prune's confirmation before the rest are summed up.
pub(super) const PRUNE_LINES: usize = 6;

pub(super) fn start_prune(state: &mut AppState) {
    if state.focus != PaneId::Snapshots {
        state.focus = PaneId::Snapshots;
        state.flash = Some("prune: this is what is there; press the key again to see what would go".into());
        return;
    }
    let Some((bucket, prefix)) = ready_for_snapshots(state, "prune") else { return };
    let Some(list) = state.snapshots.list.loaded() else {
        state.flash = Some("prune: the list of snapshots has not loaded yet".into());
        return;
    };
    let profile = &state.settings.profile;
    let retention = Retention { keep: profile.keep, older_than: profile.older_than.map(|a| a.0) };
    let prune::Plan { doomed, kept } = prune::plan(list, retention, &prefix, state.clock.wall);
    if doomed.is_empty() {
        state.flash = Some(format!("prune: nothing to delete ({})", retention.describe()));
        return;
    }
    let bytes: u64 = doomed.iter().map(|d| d.bytes).sum();
    let chunks = if doomed.iter().any(|d| d.chunked) { ", and the chunks no kept snapshot uses" } else { "" };
    let mut lines = vec![
        format!(
            "Delete {} snapshot{} ({}{chunks})?",
            doomed.len(),
            if doomed.len() == 1 { "" } else { "s" },
            crate::format::bytes(bytes)
        ),
        format!("Retention: {}.", retention.describe()),
        format!("Kept: {} (`wharf prune --dry-run` says why for each).", kept.len()),
    ];
    for d in doomed.iter().take(PRUNE_LINES) {
        lines.push(format!("  {} — {}", d.id, d.reason));
    }
    if doomed.len() > PRUNE_LINES {
        lines.push(format!("  … and {} more", doomed.len() - PRUNE_LINES));
    }
    let early = doomed.iter().filter(|d| d.warning.is_some()).count();
    if early > 0 {
        let verb = if early == 1 { "is" } else { "are" };
        lines.push(format!("{early} of them {verb} billed for their minimum storage duration anyway."));
    }
    let job = PruneJob { bucket, prefix, doomed };
    state.overlay =
        Some(Overlay::Confirm(Confirm { title: "Prune".into(), lines, on_yes: Confirmed::Prune(job) }));
}

pub(super) fn start_restore(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.focus != PaneId::Snapshots {
        state.focus = PaneId::Snapshots;
        state.flash = Some("restore: select a snapshot, then press the key again".into());
        return;
    }
    let Some((bucket, prefix)) = ready_for_snapshots(state, "restore") else { return };
    let Some(snapshot) = state.snapshots.selected().cloned() else {
        state.flash = Some("restore: there is no snapshot to restore".into());
        return;
    };
    if let Some(problem) = &snapshot.problem {
        state.flash = Some(format!("{} cannot be restored: {problem}", snapshot.id));
        return;
    }
    let source = SnapshotSource::S3 { id: snapshot.id.clone(), bucket, prefix };
    preview_restore(state, source, effects);
}

/// `U` in Snapshots: put back what the last restore replaced.
pub(super) fn start_undo(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.settings.read_only {
        state.flash = Some("read-only: undo is disabled (started with --read-only)".into());
        return;
    }
    preview_restore(state, SnapshotSource::Undo, effects);
}

/// Works out, in the background, what the restore would replace; the
/// confirmation follows with it.
pub(super) fn preview_restore(state: &mut AppState, source: SnapshotSource, effects: &mut Vec<Effect>) {
    match RestoreJob::from_settings(&state.settings, source, None, None) {
        Ok(job) => {
            state.flash = Some(format!("restore: looking at what {} holds now…", job.container));
            effects.push(Effect::Load(LoadRequest::RestorePreview(Box::new(job))));
        }
        Err(message) => state.flash = Some(format!("restore: {message}")),
    }
}

/// The confirmation of a worked-out restore: what it replaces, with what
/// (the container's name typed on a protected profile).
pub(super) fn ask_to_restore(state: &mut AppState, job: RestoreJob, lines: Vec<String>) {
    if state.settings.profile.protected {
        let expected = job.container.clone();
        let mut prompt = Prompt::new(
            format!("Protected profile: type `{expected}` to restore"),
            String::new(),
            PromptPurpose::TypeToConfirm { expected, on_yes: Box::new(Confirmed::Restore(job)) },
        );
        prompt.note = lines;
        show_dialog(state, Overlay::Prompt(prompt));
    } else {
        let title = if job.source == SnapshotSource::Undo { "Undo the last restore" } else { "Restore" };
        show_dialog(
            state,
            Overlay::Confirm(Confirm { title: title.into(), lines, on_yes: Confirmed::Restore(job) }),
        );
    }
}

/// Head had not moved: the listing shown is current (or the check failed, and it is kept).
pub(super) fn snapshots_unmoved(state: &mut AppState, result: Result<(), AwsError>) {
    state.refresh.snapshots.answered(state.clock.wall, result.err().map(|e| e.to_string()));
}

pub(super) fn snapshots_loaded(
    state: &mut AppState,
    here: Option<String>,
    etag: Option<String>,
    result: Result<Vec<Snapshot>, AwsError>,
) {
    let pane = &mut state.snapshots;
    if result.is_ok() {
        pane.here = here;
        state.refresh.head_etag = etag;
        state.refresh.listed = Some(state.clock.mono);
    }
    let result = result.map_err(|e| e.to_string());
    super::shared::settle(&mut pane.list, &mut state.refresh.snapshots, state.clock.wall, result);
    pane.line = pane.list.loaded().map(|l| snapshots::graph::rows_by_id(l)).unwrap_or_default();
    let len = pane.visible().len();
    pane.cursor.selected = pane.cursor.selected.min(len.saturating_sub(1));
    if pane.open.is_some() && pane.opened().is_none() {
        pane.open = None;
    }
}
