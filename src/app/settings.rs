//! The set-up panel (`,`): every setting of the profile with its value and
//! where it came from; `enter` on one picks it again through the set-up's
//! own pickers, and "create what's missing" plans a `wharf init` for a yes.

use super::effect::{Effect, LoadRequest};
use super::overlay::{Confirm, Confirmed, PickItem, PickPurpose, Picker};
use super::overlay::{Goal, Setup};
use super::setup::next;
use super::state::{AppState, Overlay};
use crate::jobs::init::{InitJob, InitPlan, InitRequest};

/// The set-up panel: every setting of the profile, its value and where it
/// came from; `enter` on one that can be picked picks it again.
pub(super) fn panel(state: &mut AppState) {
    let s = &state.settings;
    let p = &s.profile;
    let database = p.database.clone().unwrap_or_default();
    let file = s
        .file
        .as_ref()
        .and_then(|f| f.file_name())
        .map_or("wharf.toml".into(), |f| f.to_string_lossy().to_string());
    let from = |key: &str, value: Option<String>| -> PickItem {
        let detail = match &value {
            None => "not set".to_string(),
            Some(_) if s.from_command_line.iter().any(|k| k == key) => {
                "command line or environment".to_string()
            }
            Some(_) if s.file.is_some() => file.clone(),
            Some(_) => "default".to_string(),
        };
        let label = format!("{key:<20}{}", value.unwrap_or_else(|| "–".into()));
        PickItem { value: key.to_string(), label, detail }
    };
    // A region the profile does not set is the AWS configuration's, and is in use all the same.
    let region = match (&p.region, state.aws.region()) {
        (None, Some(r)) => PickItem {
            value: "region".into(),
            label: format!("{:<20}{r}", "region"),
            detail: "AWS configuration (AWS_REGION, ~/.aws/config)".into(),
        },
        _ => from("region", p.region.clone()),
    };
    let items = vec![
        from("aws_profile", p.aws_profile.clone()),
        region,
        from("endpoint_url", p.endpoint_url.clone()),
        from("registry", p.registry.clone()),
        from("repository", p.repository.clone()),
        from("cluster", p.cluster.clone()),
        from("service", p.service.clone()),
        from("container", p.container.clone()),
        from("bucket", p.bucket.clone()),
        from("prefix", p.prefix.clone()),
        from("storage_class", p.storage_class.map(|c| c.as_str().to_string())),
        from("database.container", database.container.clone()),
        from("database.preset", database.preset.map(|p| p.as_str().to_string())),
        from("database.path", database.path.clone()),
        from("database.user", database.user.clone()),
        from("database.name", database.name.clone()),
        from("cache_limit", p.cache_limit.map(|l| crate::format::bytes(l.0))),
        PickItem {
            value: "init".into(),
            label: "create what's missing on AWS".into(),
            detail: "wharf init: repository, bucket, cluster, role, log group, service".into(),
        },
    ];
    let name = s.profile_name.as_deref().unwrap_or("none");
    let title = format!("Settings of profile {name} (enter picks one again)");
    state.overlay = Some(Overlay::Pick(Picker { items, ..Picker::new(&title, PickPurpose::Settings) }));
}

/// `enter` on a setting in the panel.
pub(super) fn pick_again(state: &mut AppState, key: &str, effects: &mut Vec<Effect>) {
    if key == "init" {
        plan_init(state, effects);
        return;
    }
    const PICKABLE: [&str; 7] = [
        "bucket",
        "prefix",
        "storage_class",
        "database.container",
        "database.path",
        "database.user",
        "database.name",
    ];
    if !PICKABLE.contains(&key) {
        state.flash =
            Some(format!("{key}: set it in wharf.toml (`@` switches the profile, AWS profile and region)"));
        return;
    }
    if state.settings.read_only {
        state.flash = Some("read-only: settings are not saved (started with --read-only)".into());
        return;
    }
    if key == "bucket" && !matches!(state.aws, crate::aws::AwsStatus::Ready { .. }) {
        state.flash = Some("picking a bucket needs AWS credentials, and none were found".into());
        return;
    }
    next(state, Setup::new(Goal::Again(key.to_string())), effects);
}

/// "create what's missing": the plan is worked out, then shown for a yes.
fn plan_init(state: &mut AppState, effects: &mut Vec<Effect>) {
    if state.settings.read_only {
        state.flash = Some("read-only: init is disabled (started with --read-only)".into());
        return;
    }
    if !matches!(state.aws, crate::aws::AwsStatus::Ready { .. }) {
        state.flash = Some("init needs AWS credentials, and none were found".into());
        return;
    }
    match InitRequest::from_settings(&state.settings) {
        Ok(request) => {
            state.flash = Some(format!("init: looking at what profile {} has on AWS…", request.profile));
            let save_to = crate::config::save::target(&state.settings, &crate::config::Dirs::new());
            let job = InitJob { request, profile: state.settings.profile.clone(), save_to, plan: None };
            effects.push(Effect::Load(LoadRequest::InitPlan(Box::new(job))));
        }
        Err(message) => state.flash = Some(format!("init: {message}")),
    }
}

/// The plan, for a yes (nothing missing: said, nothing asked).
pub(super) fn init_planned(state: &mut AppState, mut job: InitJob, plan: InitPlan) {
    if plan.steps.is_empty() {
        state.flash = Some(if plan.waits_for_image {
            "init: all there but the service, which waits for an image (push one)".to_string()
        } else {
            "init: nothing missing".to_string()
        });
        return;
    }
    let lines = plan.lines();
    job.plan = Some(plan);
    super::shared::show_dialog(
        state,
        Overlay::Confirm(Confirm {
            title: "Create on AWS".into(),
            lines,
            on_yes: Confirmed::Init(Box::new(job)),
        }),
    );
}
