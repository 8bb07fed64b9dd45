//! The Jobs pane: jobs listed as they are started, their progress and ends,
//! and what a finished one changes elsewhere (a push refreshes the Registry
//! pane, a backup or prune the Snapshots pane).

use super::effect::{Effect, LoadRequest};
use super::shared::start_job;
use super::state::{AppState, JobState, JobView, Load};
use crate::jobs::{JobEvent, JobId, JobKind, JobResult, JobSpec, JobUpdate, Progress, RecoverJob};

/// A key was pressed: the status line's message goes, unless it is about a
/// job still running.
pub(super) fn key_pressed(state: &mut AppState) {
    let running = |id: JobId| state.jobs.jobs.iter().any(|j| j.id == id && j.state.is_active());
    state.flash = match &state.flash_job {
        Some((id, words)) if running(*id) => Some(words.clone()),
        _ => None,
    };
}

pub(super) fn cancel_selected_job(state: &mut AppState, effects: &mut Vec<Effect>) {
    let Some(id) = state.jobs.visible().get(state.jobs.cursor.selected).map(|j| j.id) else {
        state.flash = Some("no job selected".into());
        return;
    };
    if let Some(job) = state.jobs.jobs.iter_mut().find(|j| j.id == id) {
        if matches!(job.state, JobState::Queued | JobState::Running) {
            job.state = JobState::Cancelling;
            effects.push(Effect::CancelJob(id));
        } else if !job.state.is_active() {
            state.flash = Some(format!("job {id} has already finished"));
        }
    }
}

pub(super) fn apply_job(state: &mut AppState, event: JobEvent, effects: &mut Vec<Effect>) {
    let now = state.clock.mono;
    let mut pushed = None;
    let mut backed_up = false;
    let mut initialised = false;
    let Some(job) = state.jobs.jobs.iter_mut().find(|j| j.id == event.id) else {
        return;
    };
    match event.update {
        JobUpdate::Started => {
            if job.state == JobState::Queued {
                job.state = JobState::Running;
            }
            job.started_at = Some(now);
            job.progress = Progress::stage("started");
        }
        JobUpdate::Progress(progress) => job.progress = progress,
        JobUpdate::Finished(result) => {
            job.finished_at = Some(now);
            if job.kind == JobKind::Push && matches!(result, JobResult::Done(_)) {
                pushed = job.repository.clone();
            }
            // Whatever of it was made: the Registry, ECS and Snapshots panes show it.
            initialised = job.kind == JobKind::Init;
            // A finished backup or prune, or a failed one: the list shows what is there now;
            // after a restore, run or sync, where this machine's data is in the line.
            backed_up = matches!(
                job.kind,
                JobKind::Backup
                    | JobKind::RemoteBackup
                    | JobKind::Prune
                    | JobKind::Restore
                    | JobKind::Run
                    | JobKind::Sync
            );
            let said = state.flash_job.as_ref().is_some_and(|(id, _)| *id == job.id);
            job.state = match result {
                JobResult::Done(output) => match output.attention {
                    Some(attention) => {
                        JobState::Attention { summary: output.summary, message: attention.message }
                    }
                    None => JobState::Done(output.summary, output.copy),
                },
                JobResult::Failed(chain) => JobState::Failed(chain),
                JobResult::Busy(message) => JobState::Failed(vec![message]),
                JobResult::Cancelled => JobState::Cancelled,
            };
            if said {
                // What the status line said stops being true: it says how the job ended.
                let (_, words) = state.flash_job.take().unwrap_or_default();
                if state.flash.as_deref() == Some(words.as_str()) {
                    state.flash = Some(ended_words(job));
                }
            }
        }
    }
    if backed_up || initialised {
        super::shared::load_snapshots(state, effects);
    }
    if initialised {
        state.registry.repositories = Load::Loading;
        effects.push(Effect::Load(LoadRequest::Repositories));
        super::shared::load_ecs(state, effects);
    }
    // What ECR holds has changed: show it.
    let Some(repository) = pushed else { return };
    let known = match &state.registry.repositories {
        Load::Loaded(list) => list.iter().any(|r| r.name == repository),
        _ => true,
    };
    if !known {
        state.registry.repositories = Load::Loading;
        effects.push(Effect::Load(LoadRequest::Repositories));
    }
    if let Some(open) = state.registry.open.clone() {
        super::shared::open_repository(state, open, effects);
    }
}

/// `y`: the selected finished job's result (an image reference) to the clipboard.
pub(super) fn copy_result(state: &mut AppState, effects: &mut Vec<Effect>) {
    let selected = state.jobs.visible().get(state.jobs.cursor.selected).map(|j| j.state.clone());
    match selected {
        Some(JobState::Done(_, Some(text))) => {
            state.flash = Some(format!("copied {text}"));
            effects.push(Effect::Copy(text));
        }
        _ => state.flash = Some("nothing to copy: select a finished push or bake".into()),
    }
}

/// What earlier runs left behind, found at start: restores cut short are
/// finished by a job; the rest is named.
pub(super) fn leftovers(
    state: &mut AppState,
    restores: usize,
    others: Vec<String>,
    effects: &mut Vec<Effect>,
) {
    let mut said = Vec::new();
    if restores > 0 && state.settings.read_only {
        // Finishing one stops containers and rewrites data: not under --read-only.
        said.push(format!(
            "{restores} restore{} cut short and pending (read-only: nothing is touched); \
             `wharf doctor --fix` or wharf without --read-only finishes {}",
            if restores == 1 { " was" } else { "s were" },
            if restores == 1 { "it" } else { "them" }
        ));
    } else if restores > 0 {
        let job = RecoverJob {
            state: crate::config::Dirs::new().state,
            docker_host: state.settings.docker_host.clone(),
        };
        start_job(state, JobSpec::Recover(job), effects);
        said.push(format!(
            "{restores} restore{} cut short: finishing (see Jobs)",
            if restores == 1 { " was" } else { "s were" }
        ));
    }
    if !others.is_empty() {
        tracing::info!(?others, "leftovers of earlier runs");
        said.push(format!("{} leftovers of earlier runs: `wharf doctor --fix` settles them", others.len()));
    }
    state.flash = Some(said.join("; "));
}

/// How a job ended, for the status line.
fn ended_words(job: &JobView) -> String {
    let what = format!("{} {}", job.kind.label(), job.target);
    match &job.state {
        JobState::Done(..) => format!("{what}: done ✓"),
        JobState::Attention { .. } => format!("{what}: done, and needs a look (see Jobs)"),
        JobState::Failed(_) => format!("{what}: failed (see Jobs)"),
        JobState::Cancelled => format!("{what}: cancelled"),
        _ => what,
    }
}
