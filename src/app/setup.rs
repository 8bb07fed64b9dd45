//! A first run that needs no file. When `b` finds the profile without a bucket
//! or a database container, wharf offers what is there to pick from instead
//! of refusing: S3's buckets (then the prefix), the storage classes with their
//! price, the local containers — the picked one's preset detected from its
//! image and environment, its mounts offered as the data's path. The profile's
//! lines are shown before they are written to `wharf.toml` (comments and
//! layout of a file already there kept), and the backup then goes on. For a
//! PostgreSQL or MySQL server, its databases are listed (with their sizes
//! and tables) and the one whose data matters is picked. The set-up panel
//! (`settings.rs`) picks any of these again.

use super::effect::{Effect, LoadRequest, LocalLoad};
use super::overlay::{
    CREATE, Confirm, Confirmed, Creates, Goal, PickItem, PickPurpose, Picker, Prompt, PromptPurpose,
    SavePlan, Setup,
};
use super::state::{AppState, Overlay};
use crate::config::save::{Chosen, detect_preset};
use crate::config::{Preset, Profile, StorageClass};
use crate::docker::ContainerDetail;
use crate::snapshots::pricing;

/// The profile's keys a run may be given on the command line or in the
/// environment, which a first run's file would otherwise lack.
const GIVEN: [&str; 4] = ["endpoint_url", "region", "aws_profile", "registry"];

/// Whether `goal` lacks a setting a set-up can pick.
pub(super) fn needed(state: &AppState, goal: Goal) -> bool {
    match goal {
        Goal::Again(_) => true,
        Goal::Deploy(_) => {
            let p = &state.settings.profile;
            p.cluster.is_none() || p.service.is_none()
        }
        Goal::Run(_) => state.settings.profile.database.as_ref().and_then(|d| d.container.as_ref()).is_none(),
        Goal::Backup => {
            let profile = &state.settings.profile;
            let database = profile.database.clone().unwrap_or_default();
            profile.bucket.is_none() || database.container.is_none()
        }
    }
}

/// Starts picking what `goal` lacks.
pub(super) fn start(state: &mut AppState, goal: Goal, effects: &mut Vec<Effect>) {
    next(state, Setup::new(goal), effects);
}

/// Asks for the next missing setting, or shows what will be saved.
pub(super) fn next(state: &mut AppState, setup: Setup, effects: &mut Vec<Effect>) {
    let mut profile = state.settings.profile.clone();
    // Picked again from the panel: asked as if it were not set, once.
    let again = match &setup.goal {
        Goal::Again(key) if !chosen(&setup, key) => Some(key.clone()),
        _ => None,
    };
    if let Some(key) = &again {
        forget(&mut profile, key);
    }
    apply(&mut profile, &setup.chosen);
    let database = profile.database.clone().unwrap_or_default();
    // Picked again from the panel: that setting (and, for the container, its database) and nothing more.
    if let Goal::Again(key) = &setup.goal
        && again.is_none()
    {
        if key == "database.container" && asks_database(&setup, &database) {
            pick_database(state, setup, database, effects);
        } else {
            preview(state, setup, effects);
        }
        return;
    }
    if again.as_deref() == Some("prefix") {
        let purpose = PromptPurpose::SetupPrefix(setup);
        let prompt = Prompt::new("Prefix for snapshots in the bucket".into(), String::new(), purpose);
        state.overlay = Some(Overlay::Prompt(prompt));
    } else if again.as_deref() == Some("database.path") {
        let purpose = PromptPurpose::SetupPath(setup);
        let prompt = Prompt::new("Directory of the database's data".into(), String::new(), purpose);
        state.overlay = Some(Overlay::Prompt(prompt));
    } else if again.as_deref() == Some("storage_class") {
        state.overlay = Some(Overlay::Pick(storage_classes(setup)));
    } else if again.as_deref() == Some("database.name") {
        pick_database(state, setup, database, effects);
    } else if again.as_deref() == Some("database.container") {
        state.overlay = Some(Overlay::Pick(containers(state, setup)));
    } else if again.as_deref() == Some("database.user") {
        let purpose = PromptPurpose::SetupUser(setup);
        let mut prompt = Prompt::new("User the database's client logs in as".into(), String::new(), purpose);
        prompt.note = vec!["Empty: the image's own (POSTGRES_USER), else postgres or root.".into()];
        state.overlay = Some(Overlay::Prompt(prompt));
    } else if let Goal::Run(image) = &setup.goal {
        if database.container.is_none() {
            let name = container_name_for(image);
            let purpose = PromptPurpose::SetupContainerName(setup);
            let mut prompt = Prompt::new("Name of the database container to create".into(), name, purpose);
            prompt.note =
                vec!["It is saved as database.container; its data goes on the volume NAME-data.".into()];
            state.overlay = Some(Overlay::Prompt(prompt));
        } else if database.preset.unwrap_or(Preset::Path) == Preset::Path && database.path.is_none() {
            // Nothing in the image's name tells where the data is: asked.
            let purpose = PromptPurpose::SetupPath(setup);
            let mut prompt = Prompt::new("Directory of the database's data".into(), "/data".into(), purpose);
            prompt.note = vec!["It goes on a named volume, kept when the container is recreated.".into()];
            state.overlay = Some(Overlay::Prompt(prompt));
        } else {
            preview(state, setup, effects);
        }
    } else if matches!(setup.goal, Goal::Deploy(_)) && profile.cluster.is_none() {
        let clusters = state.ecs.clusters.loaded().cloned().unwrap_or_default();
        let items = clusters
            .into_iter()
            .map(|c| PickItem { value: c.clone(), label: c, detail: String::new() })
            .collect();
        state.overlay = Some(Overlay::Pick(Picker {
            items,
            ..Picker::new("ECS cluster to deploy to", PickPurpose::Cluster(setup))
        }));
    } else if matches!(setup.goal, Goal::Deploy(_)) && profile.service.is_none() {
        let cluster = profile.cluster.clone().unwrap_or_default();
        let title = format!("Service in {cluster} to deploy to");
        state.overlay =
            Some(Overlay::Pick(Picker { loading: true, ..Picker::new(&title, PickPurpose::Service(setup)) }));
        effects.push(Effect::Load(LoadRequest::ServiceNames { cluster }));
    } else if matches!(setup.goal, Goal::Deploy(_)) {
        preview(state, setup, effects);
    } else if profile.bucket.is_none() {
        let picker = Picker::new("Bucket for snapshots (or type a new name)", PickPurpose::Bucket(setup));
        state.overlay =
            Some(Overlay::Pick(Picker { loading: true, creates: Some(Creates::Bucket), ..picker }));
        effects.push(Effect::Load(LoadRequest::Buckets));
    } else if !chosen(&setup, "storage_class")
        && chosen(&setup, "bucket")
        && profile.storage_class.is_none()
        && setup.goal == Goal::Backup
    {
        state.overlay = Some(Overlay::Pick(storage_classes(setup)));
    } else if database.container.is_none() {
        state.overlay = Some(Overlay::Pick(containers(state, setup)));
    } else if asks_database(&setup, &database) {
        pick_database(state, setup, database, effects);
    } else {
        preview(state, setup, effects);
    }
}

/// The server's databases, asked for, to pick from.
fn pick_database(
    state: &mut AppState,
    setup: Setup,
    database: crate::config::Database,
    effects: &mut Vec<Effect>,
) {
    let container = database.container.clone().unwrap_or_default();
    let preset = database.preset.unwrap_or(Preset::Path);
    let title = format!("Database in {container} to back up");
    let purpose = PickPurpose::Database(setup.clone());
    state.overlay = Some(Overlay::Pick(Picker { loading: true, ..Picker::new(&title, purpose) }));
    effects.push(Effect::LoadLocal(LocalLoad::Databases { container, preset, user: database.user, setup }));
}

/// Whether the set-up goes on to pick the database: a PostgreSQL or MySQL
/// server's, not named yet, for a backup (or picked again).
fn asks_database(setup: &Setup, database: &crate::config::Database) -> bool {
    let server = matches!(database.preset, Some(Preset::Postgres | Preset::Mysql));
    let for_backup = match &setup.goal {
        Goal::Backup => true,
        Goal::Again(key) => key == "database.name" || key == "database.container",
        _ => false,
    };
    server && for_backup && database.name.is_none() && !chosen(setup, "database.name")
}

/// The server's databases came: listed, the image's own first; with every
/// database at once offered last.
pub(super) fn databases_listed(
    state: &mut AppState,
    setup: Setup,
    result: Result<Vec<crate::jobs::databases::DatabaseInfo>, String>,
) {
    let mut profile = state.settings.profile.clone();
    apply(&mut profile, &setup.chosen);
    let Some(Overlay::Pick(picker)) = &mut state.overlay else { return };
    picker.loading = false;
    if state.flash.as_deref().is_some_and(|f| f.starts_with("looking at ")) {
        state.flash = None;
    }
    let found = match result {
        Ok(found) => found,
        Err(e) => {
            picker.error = Some(format!("cannot list its databases: {e}"));
            return;
        }
    };
    let mut items: Vec<PickItem> = found
        .into_iter()
        .map(|d| {
            let mut detail = vec![d.bytes.map_or("size unknown".into(), crate::format::bytes)];
            detail.push(match d.tables {
                Some(0) => "no tables of yours".into(),
                Some(1) => "1 table".into(),
                Some(n) => format!("{n} tables"),
                None => "tables not counted".into(),
            });
            if d.the_images {
                detail.push("the image's own".into());
            }
            PickItem { value: d.name.clone(), label: d.name, detail: detail.join(" · ") }
        })
        .collect();
    let whole = match profile.database.and_then(|d| d.preset) {
        Some(Preset::Mysql) => "mysqldump --all-databases",
        _ => "pg_dumpall",
    };
    items.push(PickItem {
        value: crate::jobs::databases::ALL.into(),
        label: "every database".into(),
        detail: format!("the whole server: {whole}"),
    });
    picker.items = items;
}

/// The user was typed (empty: the image's own).
pub(super) fn user_typed(state: &mut AppState, mut setup: Setup, text: &str, effects: &mut Vec<Effect>) {
    state.overlay = None;
    let user = text.trim();
    if user.is_empty() {
        state.flash = Some("database.user: nothing typed, nothing changed".into());
        return;
    }
    setup.chosen.push(Chosen::new("database.user", user));
    next(state, setup, effects);
}

/// A container name offered for `image`: its repository's last part.
fn container_name_for(image: &str) -> String {
    let repository = image.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')).map_or(image, |(r, _)| r);
    let last = repository.rsplit('/').next().unwrap_or(repository);
    let name: String =
        last.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' }).collect();
    if name.starts_with(|c: char| c.is_ascii_alphanumeric()) { name } else { "db".into() }
}

/// The container's name was typed: the preset is told from the image's name
/// (the profile's is kept when it has one).
pub(super) fn container_named(state: &mut AppState, mut setup: Setup, text: &str, effects: &mut Vec<Effect>) {
    let name = text.trim();
    let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid {
        if let Some(Overlay::Prompt(p)) = &mut state.overlay {
            p.error = Some("letters, digits, `_`, `.` and `-`, starting with a letter or digit".into());
        }
        return;
    }
    state.overlay = None;
    setup.chosen.push(Chosen::new("database.container", name));
    let known = state.settings.profile.database.as_ref().and_then(|d| d.preset);
    if let (None, Goal::Run(image)) = (known, &setup.goal) {
        setup.chosen.push(Chosen::new("database.preset", detect_preset(image, &[]).as_str()));
    }
    next(state, setup, effects);
}

/// Everything is picked: the settings this run was given on the command line
/// or in the environment are offered too (a first run against an endpoint
/// must not save a profile that goes elsewhere next time), then the lines to
/// save are worked out, for a yes.
fn preview(state: &mut AppState, mut setup: Setup, effects: &mut Vec<Effect>) {
    let given = given_settings(&state.settings);
    if !setup.offered_given && !given.is_empty() && !matches!(setup.goal, Goal::Again(_)) {
        setup.offered_given = true;
        let words = given.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ");
        let items = vec![
            PickItem { value: "save".into(), label: "save them too".into(), detail: words.clone() },
            PickItem {
                value: "leave".into(),
                label: "only what was picked".into(),
                detail: "give them again next time (flags or environment)".into(),
            },
        ];
        let title = "This run was given settings on the command line or in the environment";
        state.overlay =
            Some(Overlay::Pick(Picker { items, ..Picker::new(title, PickPurpose::Given(setup)) }));
        return;
    }
    show_lines(state, setup, effects);
}

/// The profile's settings this run was given on the command line or in the environment.
fn given_settings(s: &crate::config::Settings) -> Vec<(String, String)> {
    let p = &s.profile;
    GIVEN
        .iter()
        .filter(|key| s.from_command_line.iter().any(|k| k == *key))
        .filter_map(|key| {
            let value = match *key {
                "endpoint_url" => p.endpoint_url.clone(),
                "region" => p.region.clone(),
                "aws_profile" => p.aws_profile.clone(),
                _ => p.registry.clone(),
            }?;
            Some((key.to_string(), value))
        })
        .collect()
}

/// The settings given on the command line are saved too (`save`), or not.
pub(super) fn given_answered(
    state: &mut AppState,
    mut setup: Setup,
    answer: &str,
    effects: &mut Vec<Effect>,
) {
    if answer == "save" {
        setup.chosen.extend(given_settings(&state.settings).into_iter().map(|(k, v)| Chosen::new(&k, v)));
    }
    show_lines(state, setup, effects);
}

fn show_lines(state: &mut AppState, setup: Setup, effects: &mut Vec<Effect>) {
    state.flash = Some("working out the lines to save…".into());
    let (file, profile) = crate::config::save::target(&state.settings, &crate::config::Dirs::new());
    effects.push(Effect::LoadLocal(LocalLoad::SetupPreview { setup, file, profile }));
}

/// The service names of the cluster picked, for the list.
pub(super) fn services_listed(state: &mut AppState, result: Result<Vec<String>, crate::aws::AwsError>) {
    let Some(Overlay::Pick(picker)) = &mut state.overlay else { return };
    picker.loading = false;
    match result {
        Ok(names) => {
            picker.items = names
                .into_iter()
                .map(|n| PickItem { value: n.clone(), label: n, detail: String::new() })
                .collect();
        }
        Err(e) => picker.error = Some(e.to_string()),
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
            let terms = pricing::terms(&class.into());
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
        PickPurpose::Bucket(mut setup) if value.starts_with(CREATE) => {
            // Made with init's settings and tagged as this profile's init's, whose id is saved with the rest.
            let name = value.trim_start_matches(CREATE).to_string();
            let init_id = match state.settings.profile.init_id.clone() {
                Some(id) => id,
                None => {
                    let id = crate::snapshots::random_word(8);
                    setup.chosen.push(Chosen::new("init_id", &id));
                    id
                }
            };
            let profile = state
                .settings
                .profile_name
                .clone()
                .unwrap_or_else(|| crate::config::save::FIRST_PROFILE.into());
            let tag = crate::aws::init::InitTag::new(&init_id, &profile);
            state.flash = Some(format!("creating bucket {name}…"));
            let settings = Box::new(state.settings.profile.clone());
            effects.push(Effect::Load(LoadRequest::CreateBucket { name, tag, settings, setup }));
        }
        PickPurpose::Bucket(mut setup) => {
            setup.chosen.push(Chosen::new("bucket", value));
            ask_prefix(state, setup);
        }
        PickPurpose::StorageClass(mut setup) => {
            setup.chosen.push(Chosen::new("storage_class", value));
            next(state, setup, effects);
        }
        PickPurpose::Container(mut setup) => {
            setup.chosen.push(Chosen::new("database.container", value.clone()));
            state.flash = Some(format!("looking at {value}…"));
            effects.push(Effect::LoadLocal(LocalLoad::ContainerDetail { container: value, setup }));
        }
        PickPurpose::DataPath(mut setup) => {
            setup.chosen.push(Chosen::new("database.path", value));
            next(state, setup, effects);
        }
        // The lists that are not a set-up's are answered where they were opened.
        PickPurpose::Switch(_) | PickPurpose::Settings | PickPurpose::SyncTag => {}
        PickPurpose::Cluster(mut setup) => {
            setup.chosen.push(Chosen::new("cluster", value));
            next(state, setup, effects);
        }
        PickPurpose::Service(mut setup) => {
            setup.chosen.push(Chosen::new("service", value));
            next(state, setup, effects);
        }
        PickPurpose::Database(mut setup) => {
            setup.chosen.push(Chosen::new("database.name", value));
            next(state, setup, effects);
        }
        PickPurpose::Given(setup) => given_answered(state, setup, &value, effects),
    }
}

/// The bucket a set-up asked for was made (or why not): picked, and on to the prefix.
pub(super) fn bucket_created(
    state: &mut AppState,
    mut setup: Setup,
    name: String,
    result: Result<(), String>,
) {
    if let Err(e) = result {
        state.flash = Some(format!("cannot create bucket {name}: {e}; nothing saved"));
        return;
    }
    state.flash = Some(format!("created bucket {name}"));
    setup.chosen.push(Chosen::new("bucket", name));
    ask_prefix(state, setup);
}

fn ask_prefix(state: &mut AppState, setup: Setup) {
    let purpose = PromptPurpose::SetupPrefix(setup);
    let mut prompt = Prompt::new("Prefix for snapshots in the bucket".into(), "wharf/".into(), purpose);
    prompt.note = vec!["Every snapshot goes under this prefix; another profile can use another.".into()];
    state.overlay = Some(Overlay::Prompt(prompt));
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
    // A container picked again gets its preset and path worked out again too.
    let fresh = setup.goal == Goal::Again("database.container".into());
    let known = state.settings.profile.database.as_ref().and_then(|d| d.preset).filter(|_| !fresh);
    let preset = known.unwrap_or_else(|| detect_preset(&detail.image, &detail.env));
    if known.is_none() {
        setup.chosen.push(Chosen::new("database.preset", preset.as_str()));
    }
    // The official image's superuser, when it was given another name: backups log in as it.
    let has_user = !fresh && state.settings.profile.database.as_ref().is_some_and(|d| d.user.is_some());
    let own_user =
        detail.env.iter().find_map(|kv| kv.strip_prefix("POSTGRES_USER=")).filter(|u| !u.is_empty());
    if let (Preset::Postgres, false, Some(user)) = (preset, has_user, own_user) {
        setup.chosen.push(Chosen::new("database.user", user));
    }
    let has_path = !fresh && state.settings.profile.database.as_ref().is_some_and(|d| d.path.is_some());
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
    text.push(match &plan.setup.goal {
        Goal::Backup => "Then the database container is backed up.".to_string(),
        Goal::Again(_) => "The AWS panes then load from what is saved.".to_string(),
        Goal::Deploy(_) => "Then the deploy is worked out and shown, for a yes.".to_string(),
        Goal::Run(image) => format!("Then the container is created from {image} and started."),
    });
    super::shared::show_dialog(
        state,
        Overlay::Confirm(Confirm {
            title: "Save settings".into(),
            lines: text,
            on_yes: Confirmed::SaveSetup(Box::new(plan)),
        }),
    );
}

/// The file is written: the choices are in force.
pub(super) fn saved(state: &mut AppState, plan: SavePlan, effects: &mut Vec<Effect>) {
    apply(&mut state.settings.profile, &plan.setup.chosen);
    state.settings.file = Some(plan.file.clone());
    if state.settings.profile_name.is_none() {
        state.settings.profile_name = Some(crate::config::save::FIRST_PROFILE.to_string());
    }
    state.flash = Some(format!("saved to {}", plan.file.display()));
    if chosen(&plan.setup, "bucket") || chosen(&plan.setup, "prefix") {
        super::shared::load_snapshots(state, effects);
    }
    // A backup or a run goes on in its pane (`update` hands it over); a deploy is worked out here.
    match &plan.setup.goal {
        Goal::Deploy(image) => {
            // The ECS pane opens at the profile's service, as at the start.
            super::shared::load_ecs(state, effects);
            let p = &state.settings.profile;
            if let (Some(cluster), Some(service)) = (p.cluster.clone(), p.service.clone()) {
                state.flash = Some(format!("saved; working out the deploy to {service}…"));
                effects.push(Effect::Load(LoadRequest::DeployPlan {
                    cluster,
                    service,
                    container: p.container.clone(),
                    image: image.clone(),
                }));
            }
        }
        Goal::Backup | Goal::Run(_) | Goal::Again(_) => {}
    }
}

/// `key` taken out of `profile`, to be asked for again.
fn forget(profile: &mut Profile, key: &str) {
    let database = profile.database.get_or_insert_with(Default::default);
    match key {
        "bucket" => profile.bucket = None,
        "prefix" => profile.prefix = None,
        "storage_class" => profile.storage_class = None,
        "database.container" => {
            database.container = None;
            database.preset = None;
            database.path = None;
            database.name = None;
            database.user = None;
        }
        "database.path" => database.path = None,
        "database.name" => database.name = None,
        "database.user" => database.user = None,
        _ => {}
    }
}

/// `chosen` laid over `profile`, as the file will then say.
pub fn apply(profile: &mut Profile, chosen: &[Chosen]) {
    for choice in chosen {
        let value = Some(choice.value.clone());
        match choice.key.as_str() {
            "cluster" => profile.cluster = value,
            "service" => profile.service = value,
            "bucket" => profile.bucket = value,
            "prefix" => profile.prefix = value,
            "repository" => profile.repository = value,
            "endpoint_url" => profile.endpoint_url = value,
            "region" => profile.region = value,
            "aws_profile" => profile.aws_profile = value,
            "registry" => profile.registry = value,
            "init_id" => profile.init_id = value,
            "storage_class" => profile.storage_class = choice.value.parse().ok(),
            key => {
                let database = profile.database.get_or_insert_with(Default::default);
                match key {
                    "database.container" => database.container = value,
                    "database.preset" => database.preset = choice.value.parse().ok(),
                    "database.path" => database.path = value,
                    "database.user" => database.user = value,
                    "database.name" => database.name = value,
                    _ => tracing::warn!(key, "a set-up picked a key it cannot apply"),
                }
            }
        }
    }
}
