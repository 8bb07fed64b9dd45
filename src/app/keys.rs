//! Keys: what a key does in a dialog, a prompt or a filter being typed, and
//! otherwise which action the keymap binds it to; a prompt's answer and a
//! dialog's yes.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;
use super::effect::Effect;
use super::keymap::{Key, Section};
use super::shared::start_job;
use super::state::{
    AppState, Confirm, Confirmed, Load, Overlay, PaneId, PickPurpose, Picker, Prompt, PromptPurpose,
};
use super::update::{PAGE, dialog_too_new, perform};
use crate::docker::parse_reference;
use crate::jobs::{BakeJob, JobSpec, PushJob};

pub(super) fn handle_key(state: &mut AppState, event: KeyEvent, effects: &mut Vec<Effect>) {
    if event.kind == KeyEventKind::Release || dialog_too_new(state) {
        return;
    }
    super::jobs::key_pressed(state);
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
        Some(Overlay::Pick(picker)) => {
            pick_key(state, picker, event, effects);
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

/// A key in a list to pick from: arrows move, typing filters, `enter`
/// picks, `esc` clears the filter and then cancels.
fn pick_key(state: &mut AppState, mut picker: Picker, event: KeyEvent, effects: &mut Vec<Effect>) {
    let len = picker.visible().len();
    let step = |s: usize, by: isize| s.saturating_add_signed(by).min(len.saturating_sub(1));
    match event.code {
        KeyCode::Down => picker.cursor.selected = step(picker.cursor.selected, 1),
        KeyCode::Up => picker.cursor.selected = step(picker.cursor.selected, -1),
        KeyCode::PageDown => picker.cursor.selected = step(picker.cursor.selected, PAGE as isize),
        KeyCode::PageUp => picker.cursor.selected = step(picker.cursor.selected, -(PAGE as isize)),
        _ => match edit(event) {
            Edit::Submit => {
                let Some(item) = picker.visible().get(picker.cursor.selected).map(|i| i.value.clone()) else {
                    return;
                };
                state.overlay = None;
                match picker.purpose {
                    PickPurpose::Switch(choices) => super::switch::picked(state, *choices, &item, effects),
                    PickPurpose::Settings => super::settings::pick_again(state, &item, effects),
                    PickPurpose::SyncTag => super::machine::sync_tag_picked(state, &item, effects),
                    purpose => super::setup::picked(state, purpose, item, effects),
                }
                return;
            }
            Edit::Cancel if !picker.cursor.filter.is_empty() => {
                picker.cursor.filter.clear();
                picker.cursor.selected = 0;
            }
            Edit::Cancel => {
                state.overlay = None;
                state.flash = Some(format!("{}: cancelled, nothing saved", picker.title));
                return;
            }
            other => {
                other.apply(&mut picker.cursor.filter);
                picker.cursor.selected = 0;
            }
        },
    }
    state.overlay = Some(Overlay::Pick(picker));
}

/// What a key does to a text field.
pub(super) enum Edit {
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

pub(super) fn edit(event: KeyEvent) -> Edit {
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
pub(super) fn text_field(state: &mut AppState) -> Option<&mut String> {
    if matches!(state.overlay, Some(Overlay::Prompt(_))) {
        return match &mut state.overlay {
            Some(Overlay::Prompt(p)) => Some(&mut p.text),
            _ => None,
        };
    }
    if state.filtering { state.focused_cursor_mut().map(|c| &mut c.filter) } else { None }
}

pub(super) fn after_filter_edit(state: &mut AppState) {
    if state.filtering
        && let Some(c) = state.focused_cursor_mut()
    {
        c.selected = 0;
    }
}

pub(super) fn submit_prompt(state: &mut AppState, prompt: Prompt, effects: &mut Vec<Effect>) {
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
                registry: state.settings.registry(),
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
        PromptPurpose::SetupPrefix(setup) => super::setup::prefix_typed(state, setup, &prompt.text, effects),
        PromptPurpose::SetupPath(setup) => super::setup::path_typed(state, setup, &prompt.text, effects),
        PromptPurpose::SetupUser(setup) => super::setup::user_typed(state, setup, &prompt.text, effects),
        PromptPurpose::SetupContainerName(setup) => {
            super::setup::container_named(state, setup, &prompt.text, effects)
        }
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
pub(super) fn confirmed(state: &mut AppState, on_yes: Confirmed, effects: &mut Vec<Effect>) {
    match on_yes {
        Confirmed::CreateRepositoryAndPush(job) => {
            start_job(state, JobSpec::Push(PushJob { create_repository: true, ..job }), effects);
        }
        Confirmed::Restore(job) => start_job(state, JobSpec::Restore(job), effects),
        Confirmed::Prune(job) => start_job(state, JobSpec::Prune(job), effects),
        Confirmed::Deploy(job) => start_job(state, JobSpec::Deploy(*job), effects),
        Confirmed::Sync(job) => start_job(state, JobSpec::Sync(job), effects),
        Confirmed::SaveSetup(plan) => effects.push(Effect::SaveSettings(plan)),
        Confirmed::RemoteBackup(job) => start_job(state, JobSpec::RemoteBackup(*job), effects),
        Confirmed::Init(job) => {
            // The job saves a new init's id into the file; the profile in force has it from now on.
            if job.request.new_id {
                state.settings.profile.init_id = Some(job.request.init_id.clone());
            }
            start_job(state, JobSpec::Init(job), effects)
        }
    }
}
