//! `update`: the only place state changes. Input becomes an [`Action`]; the
//! result is the new state plus [`Effect`]s for the event loop to carry out.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;
use super::state::{
    AppState, Confirm, Confirmed, EngineView, ImagesTab, JobState, JobView, Load, Overlay, PaneId, Prompt,
    PromptPurpose,
};
use crate::aws::ecs::{Plan, ServiceInfo, TaskInfo};
use crate::aws::{AwsError, AwsStatus, RegistryImage, Repository};
use crate::config::{Key, Section};
use crate::docker::{EngineUpdate, parse_reference};
use crate::jobs::backup::BackupRequest;
use crate::jobs::restore::SnapshotSource;
use crate::jobs::{
    BackupJob, BakeJob, DeployJob, JobEvent, JobId, JobKind, JobResult, JobSpec, JobUpdate, Progress,
    PruneJob, PushJob, RecoverJob, RemoteBackupJob, RestoreJob,
};
use crate::logs::TailTarget;
use crate::snapshots::prune::{self, Retention};
use crate::snapshots::{self, Snapshot};

/// Work the event loop starts on behalf of `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    StartJob {
        id: JobId,
        spec: JobSpec,
    },
    CancelJob(JobId),
    Load(LoadRequest),
    /// Put text on the clipboard of the terminal (OSC 52: works over SSH and in tmux).
    Copy(String),
    /// Start tail number `id` (ending the one before).
    Tail {
        id: u64,
        target: TailTarget,
    },
    /// Ask tail `id` for up to `lines` more lines per stream from before its oldest.
    TailOlder {
        id: u64,
        lines: usize,
    },
    /// Write the Logs pane's lines to a new file.
    SaveLogs {
        path: PathBuf,
        text: String,
        lines: usize,
    },
}

/// Something to fetch in the background for a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadRequest {
    Repositories,
    Images {
        repository: String,
    },
    Snapshots {
        bucket: String,
        prefix: String,
    },
    Clusters,
    Services {
        cluster: String,
    },
    Tasks {
        cluster: String,
        service: String,
    },
    /// Work out a deploy of `image` (`repository@sha256:…`) to the service.
    DeployPlan {
        cluster: String,
        service: String,
        container: Option<String>,
        image: String,
    },
    RollbackPlan {
        cluster: String,
        service: String,
    },
    /// Work out what a restore would replace, for its confirmation.
    RestorePreview(Box<RestoreJob>),
}

/// The answer to a [`LoadRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Repositories(Result<Vec<Repository>, AwsError>),
    Images {
        repository: String,
        result: Result<Vec<RegistryImage>, AwsError>,
    },
    Snapshots(Result<Vec<Snapshot>, AwsError>),
    Clusters(Result<Vec<String>, AwsError>),
    Services {
        cluster: String,
        result: Result<Vec<ServiceInfo>, AwsError>,
    },
    /// The services described so far; the whole list follows as `Services`.
    ServicesSoFar {
        cluster: String,
        services: Vec<ServiceInfo>,
    },
    Tasks {
        cluster: String,
        service: String,
        result: Result<Vec<TaskInfo>, AwsError>,
    },
    /// A deploy or rollback worked out, to be confirmed.
    Plan(Result<Plan, AwsError>),
    /// The Logs pane's lines were saved: what to tell the user.
    LogsSaved(Result<String, String>),
    /// What earlier runs left behind, found at start: how many restores were
    /// cut short, and the other leftovers in words.
    Leftovers {
        restores: usize,
        others: Vec<String>,
    },
    /// What a restore would replace (the confirmation's lines), or why it cannot be done.
    RestorePreview {
        job: Box<RestoreJob>,
        result: Result<Vec<String>, String>,
    },
}

/// How long a dialog ignores keys after it appears: a key typed for what was
/// there before (`y` is also "copy" in Jobs) must not answer it.
pub const DIALOG_GUARD: std::time::Duration = std::time::Duration::from_millis(300);

/// Rows a page key moves.
const PAGE: usize = 10;

/// Applies `action` to `state` and returns the effects to carry out.
pub fn update(state: &mut AppState, action: Action) -> Vec<Effect> {
    let mut effects = Vec::new();
    let before = state.overlay.as_ref().map(std::mem::discriminant);
    match action {
        Action::Input(key) => handle_key(state, key, &mut effects),
        Action::Paste(text) => {
            let line = text.lines().next().unwrap_or_default().to_string();
            if let Some(field) = text_field(state) {
                field.push_str(&line);
                after_filter_edit(state);
            }
        }
        Action::Resize(width, height) => state.size = (width, height),
        Action::Focus(focused) => state.terminal_focused = focused,
        Action::Tick => {}
        Action::Throttled(count) => {
            if count > state.throttled.0 {
                state.throttled = (count, Some(state.clock.mono));
            }
        }
        Action::Engine(update) => apply_engine(state, update),
        Action::Job(event) => apply_job(state, event, &mut effects),
        Action::Aws(status) => {
            let ready = matches!(status, AwsStatus::Ready { .. });
            state.aws = status;
            if ready {
                load_registry(state, &mut effects);
                load_snapshots(state, &mut effects);
                load_ecs(state, &mut effects);
            }
        }
        Action::Loaded(loaded) => apply_loaded(state, loaded, &mut effects),
        Action::Tail(id, event) => super::logs::apply_tail(state, id, event),
        Action::Terminate => state.quit = true,
        action => perform(state, action, &mut effects),
    }
    let after = state.overlay.as_ref().map(std::mem::discriminant);
    if after.is_some() && after != before {
        state.overlay_since = Some(state.clock.mono);
    }
    // A dialog that came in the background waited for the one before to close.
    if state.overlay.is_none()
        && let Some(next) = state.waiting_dialogs.pop_front()
    {
        state.overlay = Some(next);
        state.overlay_since = Some(state.clock.mono);
    }
    effects
}

/// Opens a dialog that a background result brought: it never replaces (or is
/// answered by keys meant for) a dialog that is open; it waits its turn.
fn show_dialog(state: &mut AppState, dialog: Overlay) {
    if state.overlay.is_some() {
        state.waiting_dialogs.push_back(dialog);
    } else {
        // "working out …" has been answered.
        state.flash = None;
        state.overlay = Some(dialog);
    }
}

/// Whether the open dialog is still too new to take an answer.
fn dialog_too_new(state: &AppState) -> bool {
    let answers = match &state.overlay {
        Some(Overlay::Confirm(_) | Overlay::ConfirmQuit) => true,
        Some(Overlay::Prompt(p)) => matches!(p.purpose, PromptPurpose::TypeToConfirm { .. }),
        _ => false,
    };
    answers
        && state.overlay_since.is_some_and(|t| state.clock.mono.saturating_duration_since(t) < DIALOG_GUARD)
}

fn handle_key(state: &mut AppState, event: KeyEvent, effects: &mut Vec<Effect>) {
    if event.kind == KeyEventKind::Release || dialog_too_new(state) {
        return;
    }
    state.flash = None;
    let key = Key::from_event(event);
    tracing::debug!(?event, %key, "key");
    match state.overlay.clone() {
        Some(Overlay::Help { scroll }) => {
            let action = state.keymap.action_for(&[Section::List, Section::Global], key);
            state.overlay = match action {
                Some(Action::Down) => Some(Overlay::Help { scroll: scroll.saturating_add(1) }),
                Some(Action::Up) => Some(Overlay::Help { scroll: scroll.saturating_sub(1) }),
                Some(Action::PageDown) => Some(Overlay::Help { scroll: scroll.saturating_add(PAGE as u16) }),
                Some(Action::PageUp) => Some(Overlay::Help { scroll: scroll.saturating_sub(PAGE as u16) }),
                Some(Action::Help | Action::Back | Action::Quit) => None,
                _ => Some(Overlay::Help { scroll }),
            };
            return;
        }
        Some(Overlay::ConfirmQuit) => {
            state.overlay = None;
            if matches!(event.code, KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter) {
                state.quit = true;
            }
            return;
        }
        Some(Overlay::Confirm(confirm)) => {
            state.overlay = None;
            if matches!(event.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                confirmed(state, confirm.on_yes, effects);
            } else {
                state.flash = Some(format!("{}: cancelled, nothing changed", confirm.title));
            }
            return;
        }
        Some(Overlay::Prompt(prompt)) => {
            match edit(event) {
                Edit::Submit => submit_prompt(state, prompt, effects),
                Edit::Cancel => state.overlay = None,
                Edit::Complete => {
                    if let Some(Overlay::Prompt(p)) = &mut state.overlay {
                        p.complete();
                        p.error = None;
                    }
                }
                other => {
                    if let Some(Overlay::Prompt(p)) = &mut state.overlay {
                        other.apply(&mut p.text);
                        p.error = None;
                    }
                }
            }
            return;
        }
        None => {}
    }
    if state.filtering {
        let logs = state.focus == PaneId::Logs;
        match edit(event) {
            Edit::Submit => {
                state.filtering = false;
                if logs {
                    super::logs::search(state);
                }
            }
            Edit::Cancel => {
                state.filtering = false;
                if let Some(c) = state.focused_cursor_mut() {
                    c.filter.clear();
                }
                if logs {
                    super::logs::search(state);
                }
            }
            other => {
                if let Some(c) = state.focused_cursor_mut() {
                    other.apply(&mut c.filter);
                }
            }
        }
        after_filter_edit(state);
        return;
    }
    if let Some(action) = state.keymap.action_for(&state.key_sections(), key) {
        perform(state, action, effects);
    }
}

/// What a key does to a text field.
enum Edit {
    Insert(char),
    DeleteBack,
    Clear,
    Submit,
    Cancel,
    /// Put the next choice from a live list in the field.
    Complete,
    Ignore,
}

impl Edit {
    fn apply(self, text: &mut String) {
        match self {
            Edit::Insert(c) => text.push(c),
            Edit::DeleteBack => {
                text.pop();
            }
            Edit::Clear => text.clear(),
            Edit::Submit | Edit::Cancel | Edit::Complete | Edit::Ignore => {}
        }
    }
}

fn edit(event: KeyEvent) -> Edit {
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    match event.code {
        KeyCode::Enter => Edit::Submit,
        KeyCode::Esc => Edit::Cancel,
        KeyCode::Char('c') if ctrl => Edit::Cancel,
        KeyCode::Char('u') if ctrl => Edit::Clear,
        KeyCode::Backspace => Edit::DeleteBack,
        KeyCode::Tab => Edit::Complete,
        KeyCode::Char(c) if !ctrl => Edit::Insert(c),
        _ => Edit::Ignore,
    }
}

/// The text field that has the keys, if any.
fn text_field(state: &mut AppState) -> Option<&mut String> {
    if matches!(state.overlay, Some(Overlay::Prompt(_))) {
        return match &mut state.overlay {
            Some(Overlay::Prompt(p)) => Some(&mut p.text),
            _ => None,
        };
    }
    if state.filtering { state.focused_cursor_mut().map(|c| &mut c.filter) } else { None }
}

fn after_filter_edit(state: &mut AppState) {
    if state.filtering
        && let Some(c) = state.focused_cursor_mut()
    {
        c.selected = 0;
    }
}

fn perform(state: &mut AppState, action: Action, effects: &mut Vec<Effect>) {
    if let Some(pane) = action.focus_target() {
        state.focus = pane;
        return;
    }
    if state.focus == PaneId::Logs && super::logs::perform(state, &action, effects) {
        return;
    }
    match action {
        Action::Quit => {
            if state.jobs.active_count() > 0 {
                state.overlay = Some(Overlay::ConfirmQuit);
            } else {
                state.quit = true;
            }
        }
        Action::Help => state.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::Zoom => state.zoomed = !state.zoomed,
        Action::NextPane => state.focus = state.focus.next(),
        Action::PrevPane => state.focus = state.focus.prev(),
        Action::Down => move_cursor(state, |s, len| (s + 1).min(len.saturating_sub(1))),
        Action::Up => move_cursor(state, |s, _| s.saturating_sub(1)),
        Action::PageDown => move_cursor(state, |s, len| (s + PAGE).min(len.saturating_sub(1))),
        Action::PageUp => move_cursor(state, |s, _| s.saturating_sub(PAGE)),
        Action::Top => move_cursor(state, |_, _| 0),
        Action::Bottom => move_cursor(state, |_, len| len.saturating_sub(1)),
        Action::Filter => {
            if state.focused_cursor().is_some() {
                state.filtering = true;
            } else {
                state.flash = Some(format!("{} has no list to filter yet", state.focus.title()));
            }
        }
        Action::Back => {
            let filtered = state.focused_cursor().is_some_and(|c| !c.filter.is_empty());
            if filtered {
                if let Some(c) = state.focused_cursor_mut() {
                    c.filter.clear();
                    c.selected = 0;
                }
            } else if state.focus == PaneId::Registry {
                state.registry.open = None;
            } else if state.focus == PaneId::Snapshots {
                state.snapshots.open = None;
            } else if state.focus == PaneId::Ecs {
                if state.ecs.service.is_some() {
                    state.ecs.service = None;
                } else {
                    state.ecs.cluster = None;
                }
            }
        }
        Action::Open if state.focus == PaneId::Ecs => match (&state.ecs.cluster, &state.ecs.service) {
            (None, _) => {
                let selected = state
                    .ecs
                    .visible_clusters()
                    .get(state.ecs.cluster_cursor.selected)
                    .map(|c| c.to_string());
                if let Some(cluster) = selected {
                    open_cluster(state, cluster, effects);
                }
            }
            (Some(cluster), None) => {
                let cluster = cluster.clone();
                let selected = state
                    .ecs
                    .visible_services()
                    .get(state.ecs.service_cursor.selected)
                    .map(|s| s.name.clone());
                if let Some(service) = selected {
                    open_service(state, cluster, service, effects);
                }
            }
            (Some(_), Some(_)) => {}
        },
        Action::Open if state.focus == PaneId::Snapshots => {
            state.snapshots.open = state.snapshots.selected().map(|s| s.id.clone());
        }
        Action::Open if state.focus == PaneId::Registry && state.registry.open.is_none() => {
            if let Some(name) = state.registry.selected_repository().map(|r| r.name.clone()) {
                open_repository(state, name, effects);
            }
        }
        Action::SwitchTab if state.focus == PaneId::Images => {
            state.images.tab = match state.images.tab {
                ImagesTab::Images => ImagesTab::Containers,
                ImagesTab::Containers => ImagesTab::Images,
            };
        }
        Action::Bake => start_bake(state),
        Action::Cancel => cancel_selected_job(state, effects),
        Action::Copy => {
            let selected = state.jobs.visible().get(state.jobs.cursor.selected).map(|j| j.state.clone());
            match selected {
                Some(JobState::Done(_, Some(text))) => {
                    state.flash = Some(format!("copied {text}"));
                    effects.push(Effect::Copy(text));
                }
                _ => state.flash = Some("nothing to copy: select a finished push or bake".into()),
            }
        }
        Action::Push => start_push(state),
        Action::Backup => start_backup(state, effects),
        Action::Restore => start_restore(state, effects),
        Action::UndoRestore => start_undo(state, effects),
        Action::Prune => start_prune(state),
        Action::Deploy => start_deploy(state, effects),
        Action::Rollback => start_rollback(state, effects),
        Action::TailLogs => super::logs::start_tail(state, effects),
        _ => {}
    }
}

fn move_cursor(state: &mut AppState, to: impl Fn(usize, usize) -> usize) {
    let len = state.focused_len();
    if let Some(c) = state.focused_cursor_mut() {
        c.selected = to(c.selected, len);
    }
}

/// The checks every job started from the Images pane makes: the right tab is
/// shown (else it is shown, and the user picks), and wharf is not read-only.
fn ready_to_start(state: &mut AppState, job: &str, tab: ImagesTab, what: &str) -> bool {
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

fn start_bake(state: &mut AppState) {
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

fn start_push(state: &mut AppState) {
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

fn submit_prompt(state: &mut AppState, prompt: Prompt, effects: &mut Vec<Effect>) {
    match prompt.purpose {
        PromptPurpose::PushTarget { image } => {
            let (repository, tag) = match parse_reference(prompt.text.trim()) {
                Ok(target) => target,
                Err(e) => {
                    if let Some(Overlay::Prompt(p)) = &mut state.overlay {
                        p.error = Some(e.to_string());
                    }
                    return;
                }
            };
            let job = PushJob {
                image,
                repository,
                tag,
                registry: state.settings.profile.registry.clone(),
                docker_host: state.settings.docker_host.clone(),
                create_repository: false,
            };
            // ECR's list is there and the repository is not in it: offer to create it.
            let missing = match &state.registry.repositories {
                Load::Loaded(list) => !list.iter().any(|r| r.name == job.repository),
                _ => false,
            };
            state.overlay = if missing {
                Some(Overlay::Confirm(Confirm {
                    title: "Create repository".into(),
                    lines: vec![
                        format!("ECR has no repository `{}`.", job.repository),
                        format!("Create it, then push {} as :{}?", job.image, job.tag),
                    ],
                    on_yes: Confirmed::CreateRepositoryAndPush(job),
                }))
            } else {
                start_job(state, JobSpec::Push(job), effects);
                None
            };
        }
        PromptPurpose::TypeToConfirm { expected, on_yes } => {
            if prompt.text.trim() != expected {
                if let Some(Overlay::Prompt(p)) = &mut state.overlay {
                    p.error = Some(format!("type `{expected}` exactly to go ahead, or esc to cancel"));
                }
                return;
            }
            state.overlay = None;
            confirmed(state, *on_yes, effects);
        }
        PromptPurpose::SaveLogs => match super::logs::save(state, &prompt.text, effects) {
            Ok(()) => state.overlay = None,
            Err(e) => {
                if let Some(Overlay::Prompt(p)) = &mut state.overlay {
                    p.error = Some(e);
                }
            }
        },
        PromptPurpose::BakeTag { container } => {
            let reference = prompt.text.trim().to_string();
            if let Err(e) = parse_reference(&reference) {
                if let Some(Overlay::Prompt(p)) = &mut state.overlay {
                    p.error = Some(e.to_string());
                }
                return;
            }
            state.overlay = None;
            let spec = JobSpec::Bake(BakeJob {
                container,
                reference,
                docker_host: state.settings.docker_host.clone(),
            });
            start_job(state, spec, effects);
        }
    }
}

/// The user said yes.
fn confirmed(state: &mut AppState, on_yes: Confirmed, effects: &mut Vec<Effect>) {
    match on_yes {
        Confirmed::CreateRepositoryAndPush(job) => {
            start_job(state, JobSpec::Push(PushJob { create_repository: true, ..job }), effects);
        }
        Confirmed::Restore(job) => start_job(state, JobSpec::Restore(job), effects),
        Confirmed::Prune(job) => start_job(state, JobSpec::Prune(job), effects),
        Confirmed::Deploy(job) => start_job(state, JobSpec::Deploy(*job), effects),
    }
}

/// Lists the clusters, and opens the profile's cluster and service when set.
fn load_ecs(state: &mut AppState, effects: &mut Vec<Effect>) {
    state.ecs.clusters = Load::Loading;
    effects.push(Effect::Load(LoadRequest::Clusters));
    if let Some(cluster) = state.settings.profile.cluster.clone() {
        open_cluster(state, cluster.clone(), effects);
        if let Some(service) = state.settings.profile.service.clone() {
            open_service(state, cluster, service, effects);
        }
    }
}

fn open_cluster(state: &mut AppState, cluster: String, effects: &mut Vec<Effect>) {
    state.ecs.cluster = Some(cluster.clone());
    state.ecs.service = None;
    state.ecs.services = Load::Loading;
    state.ecs.services_complete = false;
    state.ecs.service_cursor = Default::default();
    effects.push(Effect::Load(LoadRequest::Services { cluster }));
}

fn open_service(state: &mut AppState, cluster: String, service: String, effects: &mut Vec<Effect>) {
    state.ecs.service = Some(service.clone());
    state.ecs.tasks = Load::Loading;
    state.ecs.task_cursor = Default::default();
    effects.push(Effect::Load(LoadRequest::Tasks { cluster, service }));
}

/// Where snapshots live, when the profile says.
fn snapshot_place(state: &AppState) -> Option<(String, String)> {
    let profile = &state.settings.profile;
    Some((profile.bucket.clone()?, snapshots::normalise_prefix(profile.prefix.as_deref())))
}

fn load_snapshots(state: &mut AppState, effects: &mut Vec<Effect>) {
    if let Some((bucket, prefix)) = snapshot_place(state) {
        state.snapshots.list = Load::Loading;
        effects.push(Effect::Load(LoadRequest::Snapshots { bucket, prefix }));
    }
}

/// The checks before a snapshot job: AWS, a bucket, and not read-only.
fn ready_for_snapshots(state: &mut AppState, job: &str) -> Option<(String, String)> {
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

fn start_backup(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.focus == PaneId::Ecs {
        start_remote_backup(state, effects);
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
            state.flash = Some(format!("backing up {} (see Jobs)", job.container));
            start_job(state, JobSpec::Backup(job), effects);
        }
        Err(message) => state.flash = Some(format!("backup: {message}")),
    }
}

/// `b` in the ECS pane: a one-off task of the opened (or selected) service runs
/// the profile's `remote_backup_command`.
fn start_remote_backup(state: &mut AppState, effects: &mut Vec<Effect>) {
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
            state.flash = Some(format!("starting a backup task of {} (see Jobs)", job.service));
            start_job(state, JobSpec::RemoteBackup(job), effects);
        }
        Err(message) => state.flash = Some(format!("remote backup: {message}")),
    }
}

/// The cluster and service a deploy or rollback from the dashboard is for, after
/// the checks every change makes.
fn ready_to_change(state: &mut AppState, what: &str) -> Option<(String, String)> {
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
fn start_deploy(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.focus != PaneId::Registry || state.registry.open.is_none() {
        state.flash = Some("deploy: open a repository in the Registry pane and select an image".into());
        return;
    }
    let Some((cluster, service)) = ready_to_change(state, "deploy") else { return };
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
fn start_rollback(state: &mut AppState, effects: &mut Vec<Effect>) {
    let Some((cluster, service)) = ready_to_change(state, "rollback") else { return };
    state.flash = Some(format!("working out the rollback of {service}…"));
    effects.push(Effect::Load(LoadRequest::RollbackPlan { cluster, service }));
}

/// A worked-out deploy or rollback: its diff, and a yes (the service's name
/// typed on a protected profile) before anything changes.
fn ask_to_apply(state: &mut AppState, plan: Plan) {
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

/// Lines of a prune's confirmation before the rest are summed up.
const PRUNE_LINES: usize = 6;

fn start_prune(state: &mut AppState) {
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
    let doomed = prune::plan(list, retention, &prefix, state.clock.wall);
    if doomed.is_empty() {
        state.flash = Some(format!("prune: nothing to delete ({})", retention.describe()));
        return;
    }
    let bytes: u64 = doomed.iter().map(|d| d.bytes).sum();
    let mut lines = vec![
        format!(
            "Delete {} snapshot{} ({})?",
            doomed.len(),
            if doomed.len() == 1 { "" } else { "s" },
            crate::ui::format::bytes(bytes)
        ),
        format!("Retention: {}.", retention.describe()),
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

fn start_restore(state: &mut AppState, effects: &mut Vec<Effect>) {
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
fn start_undo(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.settings.read_only {
        state.flash = Some("read-only: undo is disabled (started with --read-only)".into());
        return;
    }
    preview_restore(state, SnapshotSource::Undo, effects);
}

/// Works out, in the background, what the restore would replace; the
/// confirmation follows with it.
fn preview_restore(state: &mut AppState, source: SnapshotSource, effects: &mut Vec<Effect>) {
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
fn ask_to_restore(state: &mut AppState, job: RestoreJob, lines: Vec<String>) {
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

fn start_job(state: &mut AppState, spec: JobSpec, effects: &mut Vec<Effect>) {
    let id = add_job(state, &spec);
    effects.push(Effect::StartJob { id, spec });
}

/// Lists a new job as queued and returns its id.
fn add_job(state: &mut AppState, spec: &JobSpec) -> JobId {
    state.jobs.next_id += 1;
    let id = state.jobs.next_id;
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
        logs: super::logs::job_logs(spec),
    });
    id
}

fn cancel_selected_job(state: &mut AppState, effects: &mut Vec<Effect>) {
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

fn apply_engine(state: &mut AppState, update: EngineUpdate) {
    let pane = &mut state.images;
    match update {
        EngineUpdate::Snapshot { endpoint, api_version, images, containers } => {
            let image_key = pane.selected_image().map(|i| i.reference());
            let container_key = pane.selected_container().map(|c| c.id.clone());
            pane.images = images;
            pane.containers = containers;
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

fn apply_job(state: &mut AppState, event: JobEvent, effects: &mut Vec<Effect>) {
    let now = state.clock.mono;
    let mut pushed = None;
    let mut backed_up = false;
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
            // A finished backup or prune, or a failed one: the list shows what is there now.
            backed_up = matches!(job.kind, JobKind::Backup | JobKind::RemoteBackup | JobKind::Prune);
            job.state = match result {
                JobResult::Done(output) => JobState::Done(output.summary, output.copy),
                JobResult::Failed(chain) => JobState::Failed(chain),
                JobResult::Cancelled => JobState::Cancelled,
            };
        }
    }
    if backed_up {
        load_snapshots(state, effects);
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
        open_repository(state, open, effects);
    }
}

/// Lists the repositories, and opens the profile's repository when it has one.
fn load_registry(state: &mut AppState, effects: &mut Vec<Effect>) {
    state.registry.repositories = Load::Loading;
    effects.push(Effect::Load(LoadRequest::Repositories));
    if let Some(repository) = state.settings.profile.repository.clone() {
        open_repository(state, repository, effects);
    }
}

fn open_repository(state: &mut AppState, repository: String, effects: &mut Vec<Effect>) {
    state.registry.open = Some(repository.clone());
    state.registry.images = Load::Loading;
    state.registry.image_cursor = Default::default();
    effects.push(Effect::Load(LoadRequest::Images { repository }));
}

fn apply_loaded(state: &mut AppState, loaded: Loaded, effects: &mut Vec<Effect>) {
    let registry = &mut state.registry;
    let ecs = &mut state.ecs;
    match loaded {
        Loaded::Clusters(result) => {
            ecs.clusters = result.map_or_else(|e| Load::Failed(e.to_string()), Load::Loaded);
            let len = ecs.visible_clusters().len();
            ecs.cluster_cursor.selected = ecs.cluster_cursor.selected.min(len.saturating_sub(1));
        }
        // Answers for a cluster or service the user has since left are dropped.
        Loaded::Services { cluster, result } if ecs.cluster.as_deref() == Some(cluster.as_str()) => {
            ecs.services_complete = true;
            ecs.services = match result {
                Ok(list) => Load::Loaded(list),
                Err(AwsError::NotFound(_)) => Load::Failed(format!("no ECS cluster `{cluster}` here")),
                Err(e) => Load::Failed(e.to_string()),
            };
            let len = ecs.visible_services().len();
            ecs.service_cursor.selected = ecs.service_cursor.selected.min(len.saturating_sub(1));
        }
        Loaded::Tasks { cluster, service, result }
            if ecs.cluster.as_deref() == Some(cluster.as_str())
                && ecs.service.as_deref() == Some(service.as_str()) =>
        {
            ecs.tasks = result.map_or_else(|e| Load::Failed(e.to_string()), Load::Loaded);
            let len = ecs.visible_tasks().len();
            ecs.task_cursor.selected = ecs.task_cursor.selected.min(len.saturating_sub(1));
        }
        Loaded::ServicesSoFar { cluster, services }
            if ecs.cluster.as_deref() == Some(cluster.as_str()) && !ecs.services_complete =>
        {
            ecs.services = Load::Loaded(services);
            let len = ecs.visible_services().len();
            ecs.service_cursor.selected = ecs.service_cursor.selected.min(len.saturating_sub(1));
        }
        Loaded::Services { .. } | Loaded::ServicesSoFar { .. } | Loaded::Tasks { .. } => {}
        Loaded::Plan(Ok(plan)) => ask_to_apply(state, plan),
        Loaded::Plan(Err(e)) => state.flash = Some(format!("cannot work out the change: {e}")),
        Loaded::LogsSaved(Ok(message) | Err(message)) => state.flash = Some(message),
        Loaded::RestorePreview { job, result: Ok(lines) } => ask_to_restore(state, *job, lines),
        Loaded::Leftovers { restores, others } => {
            let mut said = Vec::new();
            if restores > 0 {
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
                said.push(format!(
                    "{} leftovers of earlier runs: `wharf doctor --fix` settles them",
                    others.len()
                ));
            }
            state.flash = Some(said.join("; "));
        }
        Loaded::RestorePreview { job, result: Err(e) } => {
            state.flash = Some(format!("restore into {}: {e}", job.container));
        }
        Loaded::Snapshots(result) => {
            let pane = &mut state.snapshots;
            pane.list = match result {
                Ok(list) => Load::Loaded(list),
                Err(e) => Load::Failed(e.to_string()),
            };
            let len = pane.visible().len();
            pane.cursor.selected = pane.cursor.selected.min(len.saturating_sub(1));
            if pane.open.is_some() && pane.opened().is_none() {
                pane.open = None;
            }
        }
        Loaded::Repositories(result) => {
            registry.repositories = match result {
                Ok(list) => Load::Loaded(list),
                Err(e) => Load::Failed(e.to_string()),
            };
            let len = registry.visible_repositories().len();
            registry.repo_cursor.selected = registry.repo_cursor.selected.min(len.saturating_sub(1));
        }
        Loaded::Images { repository, result } => {
            // An answer for a repository the user has since left is dropped.
            if registry.open.as_deref() != Some(repository.as_str()) {
                return;
            }
            registry.images = match result {
                Ok(list) => Load::Loaded(list),
                Err(AwsError::NotFound(_)) => {
                    Load::Failed(format!("no repository `{repository}` in this registry"))
                }
                Err(e) => Load::Failed(e.to_string()),
            };
            let len = registry.visible_images().len();
            registry.image_cursor.selected = registry.image_cursor.selected.min(len.saturating_sub(1));
        }
    }
}
