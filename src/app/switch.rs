//! Switching without restarting: a list of the file's wharf profiles, the
//! AWS profiles of `~/.aws/config`, and the regions. Picking one changes the
//! settings in force, empties what the AWS panes showed, and connects again;
//! they reload when the new connection is there. Jobs already running keep
//! the profile and clients they started with (the Jobs pane names it).

use std::collections::BTreeMap;

use super::effect::{Effect, LocalLoad};
use super::overlay::{Choices, PickItem, PickPurpose, Picker};
use super::state::{AppState, Overlay};
use crate::aws::AwsStatus;

/// Reads what can be switched to: `file`'s profiles and the AWS profiles.
pub async fn read_choices(file: Option<&std::path::Path>) -> Result<Choices, String> {
    let profiles = match file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            crate::config::ConfigFile::parse(&text, &path.display().to_string())
                .map_err(|e| e.to_string())?
                .profiles
        }
        None => BTreeMap::new(),
    };
    Ok(Choices { profiles, aws_profiles: crate::aws::profile_names().await })
}

/// The key: the list opens at once and fills in when the files are read.
pub(super) fn open(state: &mut AppState, effects: &mut Vec<Effect>) {
    let picker = Picker::new("Switch profile, AWS profile or region", PickPurpose::Switch(Box::default()));
    state.overlay = Some(Overlay::Pick(Picker { loading: true, ..picker }));
    effects.push(Effect::LoadLocal(LocalLoad::SwitchChoices { file: state.settings.file.clone() }));
}

/// The files were read: the list, the current choices marked.
pub(super) fn choices_read(state: &mut AppState, result: Result<Choices, String>) {
    let Some(Overlay::Pick(picker)) = &mut state.overlay else { return };
    picker.loading = false;
    let choices = match result {
        Ok(choices) => choices,
        Err(e) => {
            picker.error = Some(e);
            return;
        }
    };
    let settings = &state.settings;
    let current = |yes: bool| if yes { "in use" } else { "" };
    let mut items: Vec<PickItem> = choices
        .profiles
        .iter()
        .map(|(name, p)| PickItem {
            value: format!("wharf:{name}"),
            label: format!("profile {name}"),
            detail: [
                current(settings.profile_name.as_deref() == Some(name)).to_string(),
                p.region.clone().unwrap_or_default(),
                if p.protected { "protected".into() } else { String::new() },
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
        })
        .collect();
    items.extend(choices.aws_profiles.iter().map(|name| PickItem {
        value: format!("aws:{name}"),
        label: format!("AWS profile {name}"),
        detail: current(settings.profile.aws_profile.as_deref() == Some(name)).into(),
    }));
    let region = settings.profile.region.as_deref().or(state.aws.region());
    items.extend(crate::aws::REGIONS.iter().map(|r| PickItem {
        value: format!("region:{r}"),
        label: format!("region {r}"),
        detail: current(region == Some(*r)).into(),
    }));
    picker.items = items;
    picker.purpose = PickPurpose::Switch(Box::new(choices));
}

/// One was picked: the settings change and AWS is connected again.
pub(super) fn picked(state: &mut AppState, choices: Choices, value: &str, effects: &mut Vec<Effect>) {
    let said = match value.split_once(':') {
        Some(("wharf", name)) => {
            let Some(profile) = choices.profiles.get(name) else { return };
            state.settings.profile = profile.clone();
            state.settings.profile_name = Some(name.to_string());
            format!("profile {name}")
        }
        Some(("aws", name)) => {
            state.settings.profile.aws_profile = Some(name.to_string());
            format!("AWS profile {name}")
        }
        Some(("region", region)) => {
            state.settings.profile.region = Some(region.to_string());
            format!("region {region}")
        }
        _ => return,
    };
    // What the AWS panes showed was the old account's or region's.
    state.registry = Default::default();
    state.ecs = Default::default();
    state.snapshots = Default::default();
    state.refresh = Default::default();
    state.aws = AwsStatus::Checking;
    // Answers asked for before (a plan, a list) are not this connection's.
    state.connection += 1;
    state.waiting_dialogs.clear();
    state.flash = Some(format!("switched to {said}: connecting…"));
    effects.push(Effect::Connect(Box::new(state.settings.profile.clone())));
}
