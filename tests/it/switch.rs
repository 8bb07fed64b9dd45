//! Switching the wharf profile, the AWS profile or the region without
//! restarting: the list, the settings in force, the AWS panes emptied and
//! loaded again from the new place, jobs keeping the profile they began under.

use std::collections::BTreeMap;

use crossterm::event::KeyCode;
use wharf::app::asked::{Ticket, View};
use wharf::app::state::Choices;
use wharf::app::{Action, Effect, Keymap, LoadRequest, Loaded, LocalLoad, Overlay, update};
use wharf::aws::AwsStatus;
use wharf::config::{ConfigFile, Settings};

use crate::panes::render;
use crate::support::{code, key, sample_engine, sample_snapshots, state_with};

const FILE: &str = "default_profile = \"dev\"\n[profiles.dev]\nbucket = \"dev-snaps\"\n[profiles.dev.database]\ncontainer = \"db\"\npath = \"/data\"\n[profiles.ops]\nregion = \"us-east-1\"\nprotected = true\nbucket = \"ops-snaps\"\nprefix = \"db/\"\n";

fn choices() -> Choices {
    let file = ConfigFile::parse(FILE, "wharf.toml").unwrap();
    Choices { profiles: file.profiles, aws_profiles: vec!["default".into(), "sandbox".into()] }
}

#[test]
fn picking_another_profile_empties_the_aws_panes_connects_again_and_reloads_them() {
    let file = ConfigFile::parse(FILE, "wharf.toml").unwrap();
    let settings = Settings {
        file: Some("wharf.toml".into()),
        profile_name: Some("dev".into()),
        profile: file.profiles["dev"].clone(),
        ..Settings::default()
    };
    let mut s = state_with(settings, Keymap::defaults().unwrap());
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, Action::Aws(AwsStatus::Ready { region: Some("eu-west-1".into()), endpoint: None }));
    let listed = crate::support::snapshots_listed(&s, None, Ok(sample_snapshots()));
    update(&mut s, listed);
    // A backup runs under dev.
    update(&mut s, key('5'));
    let started = update(&mut s, key('b'));
    assert!(started.iter().any(|e| matches!(e, Effect::StartJob { .. })), "{started:?}");
    let old_images = s.asked.ticket(s.connection, wharf::app::asked::View::RegistryImages);
    let old_snapshots = s.asked.ticket(s.connection, wharf::app::asked::View::Snapshots);

    let effects = update(&mut s, key('@'));
    assert_eq!(effects, [Effect::LoadLocal(LocalLoad::SwitchChoices { file: Some("wharf.toml".into()) })]);
    update(&mut s, Action::Loaded(Loaded::SwitchChoices(Ok(choices()))));
    let Some(Overlay::Pick(picker)) = &s.overlay else { panic!("{:?}", s.overlay) };
    let labels: Vec<&str> = picker.items.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(&labels[..4], ["profile dev", "profile ops", "AWS profile default", "AWS profile sandbox"]);
    assert!(labels.contains(&"region eu-west-1"), "{labels:?}");
    assert_eq!(picker.items[0].detail, "in use");
    assert_eq!(picker.items[1].detail, "us-east-1 · protected");

    for c in "profile ops".chars() {
        update(&mut s, key(c));
    }
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::Connect(profile)] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(profile.bucket.as_deref(), Some("ops-snaps"));
    assert_eq!(s.settings.profile_name.as_deref(), Some("ops"));
    assert_eq!(s.aws, AwsStatus::Checking);
    assert!(s.snapshots.list.loaded().is_none(), "the old bucket's snapshots are gone");
    let screen = format!("{}", render(&s, 120, 40).backend());
    assert!(screen.contains("profile ops (protected)"), "{screen}");
    assert!(screen.contains("switched to profile ops: connecting…"), "{screen}");

    // The new connection: every AWS pane loads from the new profile's places.
    let effects =
        update(&mut s, Action::Aws(AwsStatus::Ready { region: Some("us-east-1".into()), endpoint: None }));
    let snapshots = effects.iter().find_map(|e| match e {
        Effect::Load(LoadRequest::Snapshots { bucket, prefix, .. }) => {
            Some((bucket.as_str(), prefix.as_str()))
        }
        _ => None,
    });
    assert_eq!(snapshots, Some(("ops-snaps", "db/")), "{effects:?}");
    assert!(effects.contains(&Effect::Load(LoadRequest::Repositories)), "{effects:?}");
    assert_eq!(s.flash.as_deref(), Some("switched to profile ops: connected"));
    // The backup begun under dev says so.
    update(&mut s, key('6'));
    let screen = format!("{}", render(&s, 120, 40).backend());
    assert!(screen.contains("[dev] "), "{screen}");

    // A registry answer asked for before the switch is dropped.
    let late = Loaded::Images { repository: "app".into(), result: Ok(Vec::new()) };
    update(&mut s, Action::Answer { ticket: old_images, loaded: late });
    assert!(s.registry.images.loaded().is_none());
    // So is the old bucket's listing, however late it comes.
    let late = Loaded::Snapshots {
        bucket: "dev-snaps".into(),
        prefix: String::new(),
        here: None,
        etag: None,
        result: Ok(sample_snapshots()),
    };
    update(&mut s, Action::Answer { ticket: old_snapshots, loaded: late });
    assert!(s.snapshots.list.loaded().is_none(), "dev's snapshots never show under ops");
    let listed = crate::support::snapshots_listed(&s, None, Ok(sample_snapshots()));
    update(&mut s, listed);
    assert_eq!(s.snapshots.list.loaded().map(Vec::len), Some(2), "ops's own listing does");
}

#[test]
fn a_region_or_an_aws_profile_changes_only_that() {
    let mut s = state_with(Settings::default(), Keymap::defaults().unwrap());
    update(&mut s, key('@'));
    update(
        &mut s,
        Action::Loaded(Loaded::SwitchChoices(Ok(Choices { profiles: BTreeMap::new(), ..choices() }))),
    );
    for c in "sandbox".chars() {
        update(&mut s, key(c));
    }
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::Connect(p)] if p.aws_profile.as_deref() == Some("sandbox")));
    update(&mut s, key('@'));
    update(&mut s, Action::Loaded(Loaded::SwitchChoices(Ok(choices()))));
    for c in "ap-south-1".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.settings.profile.region.as_deref(), Some("ap-south-1"));
    assert_eq!(s.settings.profile.aws_profile.as_deref(), Some("sandbox"), "the AWS profile stays");
    assert_eq!(s.settings.profile_name, None);
}

#[tokio::test]
async fn aws_profiles_are_read_from_the_shared_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&config, "[default]\nregion = eu-west-1\n[profile dev-sso]\nsso_session = corp\n[sso-session corp]\nsso_region = eu-west-1\n").unwrap();
    std::fs::write(&credentials, "[default]\naws_access_key_id = x\n[ci]\naws_access_key_id = y\n").unwrap();
    assert_eq!(wharf::aws::profile_names_in(&config, &credentials).await, ["ci", "default", "dev-sso"]);
    assert!(
        wharf::aws::profile_names_in(&dir.path().join("none"), &dir.path().join("none")).await.is_empty()
    );
}

#[test]
fn an_sso_profile_without_a_session_says_exactly_what_to_run() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        "[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\nregion = eu-west-1\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--aws-profile", "corp", "tags"])
        .current_dir(home.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run `aws sso login --profile corp`"), "{stderr}");
}

/// Switches `s` to profile `ops` through the `@` list, as a user does.
fn switch_to_ops(s: &mut wharf::app::AppState) {
    update(s, key('@'));
    update(s, Action::Loaded(Loaded::SwitchChoices(Ok(choices()))));
    for c in "profile ops".chars() {
        update(s, key(c));
    }
    let effects = update(s, code(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::Connect(_)]), "{effects:?}");
}

#[test]
fn a_plan_or_a_list_asked_for_before_a_switch_never_lands_after_it() {
    let file = ConfigFile::parse(FILE, "wharf.toml").unwrap();
    let settings = Settings {
        file: Some("wharf.toml".into()),
        profile_name: Some("dev".into()),
        profile: file.profiles["dev"].clone(),
        ..Settings::default()
    };
    let mut s = state_with(settings, Keymap::defaults().unwrap());
    update(&mut s, Action::Aws(AwsStatus::Ready { region: Some("eu-west-1".into()), endpoint: None }));
    let before = s.connection;
    let plan = wharf::aws::ecs::Plan::existing(
        "dev",
        "app",
        "app:8",
        "app:9",
        vec!["container app: image repo/app@sha256:old → repo/app@sha256:new".into()],
        "arn:aws:ecs:eu-west-1:123:task-definition/app:9",
    );
    // Under dev, an answer lands as ever.
    s.asked.ask(View::DeployPlan);
    let asked = s.asked.ticket(before, View::DeployPlan);
    update(&mut s, Action::Answer { ticket: asked, loaded: Loaded::Plan(Ok(plan.clone())) });
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))), "{:?}", s.overlay);
    s.overlay = None;

    // Asked for under dev, answered after the switch to ops: dropped, and said.
    switch_to_ops(&mut s);
    assert_ne!(s.connection, before);
    update(&mut s, Action::Answer { ticket: asked, loaded: Loaded::Plan(Ok(plan.clone())) });
    assert!(s.overlay.is_none(), "a deploy plan of dev's shown under ops: {:?}", s.overlay);
    assert_eq!(s.flash.as_deref(), Some("dropped the deploy plan asked for before the switch: ask again"));
    let late = Loaded::Clusters(Ok(vec!["devs-cluster".into()]));
    let ticket = Ticket { connection: before, ..s.asked.ticket(before, View::Clusters) };
    update(&mut s, Action::Answer { ticket, loaded: late });
    assert!(s.ecs.clusters.loaded().is_none(), "dev's clusters in ops' pane: {:?}", s.ecs.clusters);
    // Ops' own answer lands.
    let own = Loaded::Clusters(Ok(vec!["ops-cluster".into()]));
    crate::support::answer(&mut s, View::Clusters, own);
    assert_eq!(s.ecs.clusters.loaded().map(|c| c.len()), Some(1));
}
