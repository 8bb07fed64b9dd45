//! `update`: the only place state changes. Input becomes an [`Action`]; the
//! result is the new state plus [`Effect`]s for the event loop to carry out.
//! This file dispatches: keys go to [`super::keys`], each pane's actions and
//! answers to its own file (`images`, `registry`, `ecs`, `logs`, `snapshots`,
//! `jobs`, and `machine` for pull, run and sync).

use super::action::Action;
use super::effect::{Effect, Loaded};
use super::keys::{after_filter_edit, handle_key, text_field};
use super::shared::show_dialog;
use super::state::{AppState, Goal, ImagesTab, Overlay, PaneId, PromptPurpose};
use super::{ecs, images, jobs, machine, registry, shared, snapshots};
use crate::aws::AwsStatus;
use crate::jobs::console::ConsoleKind;

/// How long a dialog ignores keys after it appears: a key typed for what was
/// there before (`y` is also "copy" in Jobs) must not answer it.
pub const DIALOG_GUARD: std::time::Duration = std::time::Duration::from_millis(300);

/// Rows a page key moves.
pub(super) const PAGE: usize = 10;

/// Applies `action` to `state` and returns the effects to carry out.
pub fn update(state: &mut AppState, action: Action) -> Vec<Effect> {
    let mut effects = Vec::new();
    let before = state.overlay.as_ref().map(std::mem::discriminant);
    let awaiting = awaited_by_overlay(state);
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
        Action::RefreshTick => super::refresh::tick(state, &mut effects),
        Action::Throttled(count) => {
            if count > state.throttled.0 {
                state.throttled = (count, Some(state.clock.mono));
            }
        }
        Action::Engine(update) => images::apply_engine(state, update),
        Action::Stats(id, sample) => super::charts::reading(state, id, sample),
        Action::Job(event) => jobs::apply_job(state, event, &mut effects),
        Action::Aws(status) => {
            let ready = matches!(status, AwsStatus::Ready { .. });
            // The switch's "connecting…" is answered.
            if let Some(flash) = state.flash.as_mut().filter(|f| f.ends_with(": connecting…")) {
                let said = if ready { "connected" } else { "no usable AWS credentials (see the AWS panes)" };
                *flash = flash.replace("connecting…", said);
            }
            state.aws = status;
            if ready {
                shared::load_registry(state, &mut effects);
                shared::load_snapshots(state, &mut effects);
                shared::load_ecs(state, &mut effects);
            }
        }
        Action::Loaded(loaded) => apply_loaded(state, loaded, &mut effects),
        Action::Answer { ticket, loaded } if ticket.connection == state.connection => {
            if state.asked.is_current(&ticket) {
                apply_loaded(state, loaded, &mut effects)
            } else {
                // A newer request for the same view was made since: its answer is the one to show.
                tracing::debug!(view = ?ticket.view, "dropped an answer a newer request overtook");
            }
        }
        Action::Answer { loaded, .. } => {
            // Asked for under the profile, AWS profile or region before a switch: not this one's.
            tracing::info!("dropped an answer from before a switch");
            if let Some(what) = awaited(&loaded) {
                state.flash = Some(format!("dropped the {what} asked for before the switch: ask again"));
            }
        }
        Action::Tail(id, event) => super::logs::apply_tail(state, id, event),
        Action::ConsoleEnded(words) => state.flash = Some(words),
        Action::Terminate => state.quit = true,
        action => perform(state, action, &mut effects),
    }
    // A list closed (or answered) before its answer came: that answer is late.
    if let Some(view) = awaiting.filter(|v| awaited_by_overlay(state) != Some(*v)) {
        state.asked.leave(view);
    }
    // Every request asked for here makes the earlier ones of its view late.
    for effect in &effects {
        match effect {
            Effect::Load(request) => state.asked.ask(request.view()),
            Effect::LoadLocal(request) => state.asked.ask(request.view()),
            _ => {}
        }
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

fn awaited_by_overlay(state: &AppState) -> Option<super::asked::View> {
    match &state.overlay {
        Some(Overlay::Pick(picker)) => picker.awaits(),
        _ => None,
    }
}

/// Whether the open dialog is still too new to take an answer.
pub(super) fn dialog_too_new(state: &AppState) -> bool {
    let answers = match &state.overlay {
        Some(Overlay::Confirm(_) | Overlay::ConfirmQuit) => true,
        Some(Overlay::Prompt(p)) => matches!(p.purpose, PromptPurpose::TypeToConfirm { .. }),
        _ => false,
    };
    answers
        && state.overlay_since.is_some_and(|t| state.clock.mono.saturating_duration_since(t) < DIALOG_GUARD)
}

pub(super) fn perform(state: &mut AppState, action: Action, effects: &mut Vec<Effect>) {
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
        // A container's chart closes first: the filter that found it stays.
        Action::Back if state.focus == PaneId::Images && state.images.open.is_some() => {
            state.images.open = None
        }
        Action::Back => {
            let filtered = state.focused_cursor().is_some_and(|c| !c.filter.is_empty());
            if filtered {
                if let Some(c) = state.focused_cursor_mut() {
                    c.filter.clear();
                    c.selected = 0;
                }
            } else if state.focus == PaneId::Registry {
                registry::close(state);
            } else if state.focus == PaneId::Snapshots {
                state.snapshots.open = None;
            } else if state.focus == PaneId::Ecs {
                ecs::back(state);
            }
        }
        Action::Open if state.focus == PaneId::Ecs => ecs::open_selected(state, effects),
        Action::Open if state.focus == PaneId::Images && state.images.tab == ImagesTab::Containers => {
            super::charts::open_container(state)
        }
        Action::Open if state.focus == PaneId::Snapshots => {
            state.snapshots.open = state.snapshots.selected().map(|s| s.id.clone());
        }
        Action::Open if state.focus == PaneId::Registry && state.registry.open.is_none() => {
            registry::open_selected(state, effects);
        }
        Action::SwitchTab if state.focus == PaneId::Images => {
            state.images.tab = match state.images.tab {
                ImagesTab::Images => ImagesTab::Containers,
                ImagesTab::Containers => ImagesTab::Images,
            };
        }
        Action::Bake => images::start_bake(state),
        Action::Cancel => jobs::cancel_selected_job(state, effects),
        Action::Copy => jobs::copy_result(state, effects),
        Action::Push => images::start_push(state),
        Action::Backup => snapshots::start_backup(state, effects),
        Action::Restore => snapshots::start_restore(state, effects),
        Action::UndoRestore => snapshots::start_undo(state, effects),
        Action::Prune => snapshots::start_prune(state),
        Action::Deploy => ecs::start_deploy(state, effects),
        Action::Rollback => ecs::start_rollback(state, effects),
        Action::TailLogs => super::logs::start_tail(state, effects),
        Action::Pull => machine::start_pull(state, effects),
        Action::Run => machine::start_run(state, effects),
        Action::Sync => machine::start_sync(state, effects),
        Action::Switch => super::switch::open(state, effects),
        Action::Settings => super::settings::panel(state),
        Action::Refresh => super::refresh::now(state, effects),
        Action::Shell => machine::open_console(state, ConsoleKind::Shell, effects),
        Action::Sql => machine::open_console(state, ConsoleKind::Sql, effects),
        _ => {}
    }
}

fn move_cursor(state: &mut AppState, to: impl Fn(usize, usize) -> usize) {
    let len = state.focused_len();
    if let Some(c) = state.focused_cursor_mut() {
        c.selected = to(c.selected, len);
    }
}

fn apply_loaded(state: &mut AppState, loaded: Loaded, effects: &mut Vec<Effect>) {
    match loaded {
        Loaded::Clusters(result) => ecs::clusters_loaded(state, result),
        Loaded::Services { cluster, result } => ecs::services_loaded(state, cluster, result),
        Loaded::ServicesSoFar { services, .. } => ecs::services_so_far(state, services),
        Loaded::Tasks { result, .. } => ecs::tasks_loaded(state, result),
        Loaded::Plan(Ok(plan)) => ecs::ask_to_apply(state, plan),
        Loaded::Plan(Err(e)) => state.flash = Some(format!("cannot work out the change: {e}")),
        Loaded::LogsSaved(Ok(message) | Err(message)) => state.flash = Some(message),
        Loaded::RestorePreview { job, result: Ok(lines) } => snapshots::ask_to_restore(state, *job, lines),
        Loaded::RestorePreview { job, result: Err(e) } => {
            state.flash = Some(format!("restore into {}: {e}", job.container));
        }
        Loaded::SyncPlan { job, result: Ok(plan) } => machine::sync_planned(state, *job, plan),
        Loaded::SyncPlan { result: Err(e), .. } => state.flash = Some(format!("sync: {e}")),
        Loaded::Console(Ok(console)) => effects.push(Effect::Attach(console)),
        Loaded::Buckets(result) => {
            if let Some(Overlay::Pick(picker)) = &mut state.overlay {
                picker.loading = false;
                match result {
                    Ok(names) => {
                        picker.items = names
                            .into_iter()
                            .map(|n| super::overlay::PickItem {
                                value: n.clone(),
                                label: n,
                                detail: String::new(),
                            })
                            .collect();
                    }
                    Err(e) => picker.error = Some(e.to_string()),
                }
            }
        }
        Loaded::SwitchChoices(result) => super::switch::choices_read(state, result),
        Loaded::ServiceNames(result) => super::setup::services_listed(state, result),
        Loaded::InitPlan { job, result: Ok(plan) } => super::settings::init_planned(state, *job, plan),
        Loaded::InitPlan { result: Err(e), .. } => state.flash = Some(format!("init: {e}")),
        Loaded::ContainerDetail { setup, result } => {
            super::setup::container_described(state, setup, result, effects)
        }
        Loaded::Databases { setup, result } => super::setup::databases_listed(state, setup, result),
        Loaded::RemotePreview { job, result: Ok(lines) } => {
            let title = format!("Back up {} from ECS", job.service);
            let on_yes = super::overlay::Confirmed::RemoteBackup(job);
            show_dialog(state, Overlay::Confirm(super::overlay::Confirm { title, lines, on_yes }));
        }
        Loaded::RemotePreview { result: Err(e), .. } => state.flash = Some(format!("remote backup: {e}")),
        Loaded::BucketCreated { setup, name, result } => {
            super::setup::bucket_created(state, setup, name, result)
        }
        Loaded::SetupPreview { result: Ok((plan, lines)) } => super::setup::previewed(state, plan, lines),
        Loaded::SetupPreview { result: Err(e) } => state.flash = Some(format!("set-up: {e}; nothing saved")),
        Loaded::SettingsSaved { plan, result: Ok(()) } => {
            let goal = plan.setup.goal.clone();
            super::setup::saved(state, *plan, effects);
            // The goal the set-up was for goes on in its pane.
            match goal {
                Goal::Backup => snapshots::start_backup(state, effects),
                Goal::Run(image) => machine::run_image(state, image, effects),
                Goal::Deploy(_) | Goal::Again(_) => {}
            }
        }
        Loaded::SettingsSaved { result: Err(e), .. } => state.flash = Some(format!("not saved: {e}")),
        Loaded::Console(Err(e)) => state.flash = Some(e),
        Loaded::Leftovers { restores, others } => jobs::leftovers(state, restores, others, effects),
        Loaded::Snapshots { here, etag, result, .. } => {
            snapshots::snapshots_loaded(state, here, etag, result)
        }
        Loaded::SnapshotsUnmoved { result, .. } => snapshots::snapshots_unmoved(state, result),
        Loaded::ServicesNamed { result, .. } => ecs::services_named(state, result),
        Loaded::Metrics { result, .. } => super::charts::metrics_loaded(state, result),
        Loaded::SyncTags(result) => machine::sync_tags_listed(state, result),
        Loaded::Repositories(result) => registry::repositories_loaded(state, result),
        Loaded::Images { repository, result } => registry::images_loaded(state, repository, result),
    }
}

/// What an answer the user was waiting on is, in words (lists that fill a
/// pane are dropped without a word).
fn awaited(loaded: &Loaded) -> Option<&'static str> {
    match loaded {
        Loaded::Plan(_) => Some("deploy plan"),
        Loaded::SyncPlan { .. } => Some("sync plan"),
        Loaded::InitPlan { .. } => Some("init plan"),
        Loaded::RemotePreview { .. } => Some("remote backup's plan"),
        Loaded::RestorePreview { .. } => Some("restore's preview"),
        Loaded::Buckets(_) | Loaded::ServiceNames(_) => Some("list"),
        Loaded::BucketCreated { .. } => Some("new bucket"),
        _ => None,
    }
}
