//! A first run that needs no file. When `b` finds the profile without a bucket
//! or a database container, wharf offers what is there to pick from instead
//! of refusing: S3's buckets (then the prefix), the storage classes with their
//! price, the local containers — the picked one's preset detected from its
//! image and environment, its mounts offered as the data's path. The profile's
//! lines are shown before they are written to `wharf.toml` (comments and
//! layout of a file already there kept), and the backup then goes on.

use super::effect::{Effect, LoadRequest};
use super::overlay::{Confirm, Confirmed, PickItem, PickPurpose, Picker, Prompt, PromptPurpose};
use super::state::{AppState, Overlay};
use crate::config::save::{Chosen, detect_preset};
use crate::config::{Preset, Profile, StorageClass};
use crate::docker::ContainerDetail;
use crate::snapshots::pricing;

/// The action a set-up goes on with once its choices are saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Backup,
}

/// The choices of one set-up so far, in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub goal: Goal,
    pub chosen: Vec<Chosen>,
}

/// What the dashboard writes once the user has seen it: the file's new text,
/// and the text it replaces (a file changed meanwhile is not overwritten).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavePlan {
    pub setup: Setup,
    pub file: std::path::PathBuf,
    pub before: Option<String>,
    pub after: String,
}

/// Whether `goal` lacks a setting a set-up can pick.
pub(super) fn needed(state: &AppState, goal: Goal) -> bool {
    match goal {
        Goal::Backup => {
            let profile = &state.settings.profile;
            let database = profile.database.clone().unwrap_or_default();
            profile.bucket.is_none() || database.container.is_none()
        }
    }
}

/// Starts picking what `goal` lacks.
pub(super) fn start(state: &mut AppState, goal: Goal, effects: &mut Vec<Effect>) {
    next(state, Setup { goal, chosen: Vec::new() }, effects);
}

/// Asks for the next missing setting, or shows what will be saved.
fn next(state: &mut AppState, setup: Setup, effects: &mut Vec<Effect>) {
    let mut profile = state.settings.profile.clone();
    apply(&mut profile, &setup.chosen);
    let database = profile.database.clone().unwrap_or_default();
    if profile.bucket.is_none() {
        let picker = Picker::new("Bucket for snapshots", PickPurpose::Bucket(setup));
        state.overlay = Some(Overlay::Pick(Picker { loading: true, ..picker }));
        effects.push(Effect::Load(LoadRequest::Buckets));
    } else if !chosen(&setup, "storage_class") && chosen(&setup, "bucket") && profile.storage_class.is_none()
    {
        state.overlay = Some(Overlay::Pick(storage_classes(setup)));
    } else if database.container.is_none() {
        state.overlay = Some(Overlay::Pick(containers(state, setup)));
    } else {
        state.flash = Some("working out the lines to save…".into());
        let (file, profile) = crate::config::save::target(&state.settings, &crate::config::Dirs::new());
        effects.push(Effect::Load(LoadRequest::SetupPreview { setup, file, profile }));
    }
}

fn chosen(setup: &Setup, key: &str) -> bool {
    setup.chosen.iter().any(|c| c.key == key)
}

/// The storage classes, each with its price and minimum storage duration.
fn storage_classes(setup: Setup) -> Picker {
    let items = StorageClass::ALL
        .into_iter()
        .map(|class| {
            let terms = pricing::terms(class.as_str());
            let minimum = match terms.minimum_days {
                0 => "no minimum".to_string(),
                days => format!("billed for at least {days} days"),
            };
            let detail = format!("${:.4}/GB-month · {minimum}", terms.per_gb_month);
            PickItem { value: class.as_str().into(), label: class.as_str().into(), detail }
        })
        .collect();
    Picker { items, ..Picker::new("Storage class for snapshots", PickPurpose::StorageClass(setup)) }
}

/// The local containers, running first.
fn containers(state: &AppState, setup: Setup) -> Picker {
    let mut list: Vec<_> = state.images.containers.iter().collect();
    list.sort_by_key(|c| c.state != "running");
    let items = list
        .into_iter()
        .map(|c| PickItem {
            value: c.name.clone(),
            label: c.name.clone(),
            detail: format!("{} · {}", c.image, c.state),
        })
        .collect();
    Picker { items, ..Picker::new("Database container to back up", PickPurpose::Container(setup)) }
}

/// The user picked `value` in `purpose`'s list.
pub(super) fn picked(state: &mut AppState, purpose: PickPurpose, value: String, effects: &mut Vec<Effect>) {
    state.overlay = None;
    match purpose {
        PickPurpose::Bucket(mut setup) => {
            setup.chosen.push(Chosen::new("bucket", value));
            let purpose = PromptPurpose::SetupPrefix(setup);
            let mut prompt =
                Prompt::new("Prefix for snapshots in the bucket".into(), "wharf/".into(), purpose);
            prompt.note =
                vec!["Every snapshot goes under this prefix; another profile can use another.".into()];
            state.overlay = Some(Overlay::Prompt(prompt));
        }
        PickPurpose::StorageClass(mut setup) => {
            setup.chosen.push(Chosen::new("storage_class", value));
            next(state, setup, effects);
        }
        PickPurpose::Container(mut setup) => {
            setup.chosen.push(Chosen::new("database.container", value.clone()));
            state.flash = Some(format!("looking at {value}…"));
            effects.push(Effect::Load(LoadRequest::ContainerDetail { container: value, setup }));
        }
        PickPurpose::DataPath(mut setup) => {
            setup.chosen.push(Chosen::new("database.path", value));
            next(state, setup, effects);
        }
        PickPurpose::Switch(choices) => super::switch::picked(state, *choices, &value, effects),
    }
}

/// The prefix was typed.
pub(super) fn prefix_typed(state: &mut AppState, mut setup: Setup, text: &str, effects: &mut Vec<Effect>) {
    let prefix = crate::snapshots::normalise_prefix(Some(text.trim()));
    state.overlay = None;
    setup.chosen.push(Chosen::new("prefix", prefix));
    next(state, setup, effects);
}

/// The picked container as the engine describes it: its preset, and for the
/// `path` preset where its data is.
pub(super) fn container_described(
    state: &mut AppState,
    mut setup: Setup,
    result: Result<ContainerDetail, String>,
    effects: &mut Vec<Effect>,
) {
    let detail = match result {
        Ok(detail) => detail,
        Err(e) => {
            state.flash = Some(format!("set-up: {e}; nothing saved"));
            return;
        }
    };
    let known = state.settings.profile.database.as_ref().and_then(|d| d.preset);
    let preset = known.unwrap_or_else(|| detect_preset(&detail.image, &detail.env));
    if known.is_none() {
        setup.chosen.push(Chosen::new("database.preset", preset.as_str()));
    }
    let has_path = state.settings.profile.database.as_ref().is_some_and(|d| d.path.is_some());
    if preset != Preset::Path || has_path {
        next(state, setup, effects);
        return;
    }
    let items: Vec<PickItem> = detail
        .mounts
        .iter()
        .filter(|m| m.kind == "volume" || m.kind == "bind")
        .map(|m| {
            let from = m.name.clone().unwrap_or_else(|| m.source.clone());
            PickItem {
                value: m.destination.clone(),
                label: m.destination.clone(),
                detail: format!("{} {from}", m.kind),
            }
        })
        .collect();
    if items.is_empty() {
        let purpose = PromptPurpose::SetupPath(setup);
        let mut prompt = Prompt::new(format!("Directory of {}'s data", detail.name), String::new(), purpose);
        prompt.note =
            vec![format!("{} mounts no volume: which directory in it holds the data?", detail.name)];
        state.overlay = Some(Overlay::Prompt(prompt));
    } else {
        let title = format!("Where {}'s data is (preset path: its image names no database)", detail.name);
        state.overlay =
            Some(Overlay::Pick(Picker { items, ..Picker::new(&title, PickPurpose::DataPath(setup)) }));
    }
}

/// The data's directory was typed (a container without mounts).
pub(super) fn path_typed(state: &mut AppState, mut setup: Setup, text: &str, effects: &mut Vec<Effect>) {
    let path = text.trim();
    if !path.starts_with('/') {
        if let Some(Overlay::Prompt(p)) = &mut state.overlay {
            p.error = Some("an absolute path in the container, like /data".into());
        }
        return;
    }
    state.overlay = None;
    setup.chosen.push(Chosen::new("database.path", path));
    next(state, setup, effects);
}

/// The lines to be written, for a yes.
pub(super) fn previewed(state: &mut AppState, plan: SavePlan, lines: Vec<String>) {
    state.flash = None;
    let mut text = vec![format!("These lines go into {}:", plan.file.display()), String::new()];
    text.extend(lines.into_iter().map(|l| format!("  {l}")));
    text.push(String::new());
    text.push(match plan.setup.goal {
        Goal::Backup => "Then the database container is backed up.".to_string(),
    });
    super::update::show_dialog(
        state,
        Overlay::Confirm(Confirm {
            title: "Save settings".into(),
            lines: text,
            on_yes: Confirmed::SaveSetup(Box::new(plan)),
        }),
    );
}

/// The file is written: the choices are in force, and the goal goes on.
pub(super) fn saved(state: &mut AppState, plan: SavePlan, effects: &mut Vec<Effect>) {
    apply(&mut state.settings.profile, &plan.setup.chosen);
    state.settings.file = Some(plan.file.clone());
    if state.settings.profile_name.is_none() {
        state.settings.profile_name = Some(crate::config::save::FIRST_PROFILE.to_string());
    }
    state.flash = Some(format!("saved to {}", plan.file.display()));
    match plan.setup.goal {
        Goal::Backup => {
            if chosen(&plan.setup, "bucket") {
                super::snapshots::load_snapshots(state, effects);
            }
            super::snapshots::start_backup(state, effects);
        }
    }
}

/// `chosen` laid over `profile`, as the file will then say.
pub fn apply(profile: &mut Profile, chosen: &[Chosen]) {
    for choice in chosen {
        let value = Some(choice.value.clone());
        match choice.key.as_str() {
            "bucket" => profile.bucket = value,
            "prefix" => profile.prefix = value,
            "storage_class" => profile.storage_class = choice.value.parse().ok(),
            key => {
                let database = profile.database.get_or_insert_with(Default::default);
                match key {
                    "database.container" => database.container = value,
                    "database.preset" => database.preset = choice.value.parse().ok(),
                    "database.path" => database.path = value,
                    _ => tracing::warn!(key, "a set-up picked a key it cannot apply"),
                }
            }
        }
    }
}
