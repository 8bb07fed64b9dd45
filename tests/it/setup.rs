//! A first run that needs no file: `b` with nothing configured picks the
//! bucket, prefix, storage class and database container from live lists,
//! shows the lines it will write, saves them to `wharf.toml` (an existing
//! file's comments kept), and the backup goes on. Through `update` with the
//! answers the event loop would bring, and in a pseudo-terminal against moto
//! and the real engine.

use crossterm::event::KeyCode;
use wharf::app::state::{SavePlan, Setup};
use wharf::app::{Action, AppState, Effect, LoadRequest, Loaded, LocalLoad, Overlay, PickPurpose, update};
use wharf::aws::AwsStatus;
use wharf::config::save::{self, Chosen};
use wharf::docker::{ContainerDetail, MountInfo};
use wharf::jobs::JobSpec;

use crate::e2e::{Session, assert_restored};
use crate::support::{Cleanup, code, key, sample_engine, state};

fn typed(s: &mut AppState, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| update(s, key(c))).collect()
}

fn picker_title(s: &AppState) -> String {
    match &s.overlay {
        Some(Overlay::Pick(p)) => p.title.clone(),
        other => panic!("no list to pick from: {other:?}"),
    }
}

/// What the event loop does between "these lines go into FILE" and the
/// action going on: the lines worked out on `file`, a yes, the file written.
/// Returns the confirmation's lines and the effects of the save.
fn save_with_a_yes(
    s: &mut AppState,
    setup: &Setup,
    profile: &str,
    file: &std::path::Path,
) -> (Vec<String>, Vec<Effect>) {
    let edited = save::prepare(file, profile, &setup.chosen).unwrap();
    let plan = SavePlan {
        setup: setup.clone(),
        file: file.to_path_buf(),
        before: edited.before,
        after: edited.after,
    };
    update(s, Action::Loaded(Loaded::SetupPreview { result: Ok((plan, edited.lines)) }));
    let Some(Overlay::Confirm(confirm)) = &s.overlay else { panic!("{:?}", s.overlay) };
    let lines = confirm.lines.clone();
    s.clock.mono += wharf::app::DIALOG_GUARD;
    let effects = update(s, key('y'));
    let [Effect::SaveSettings(plan)] = &effects[..] else { panic!("{effects:?}") };
    save::commit(&plan.file, plan.before.as_deref(), &plan.after).unwrap();
    let effects = update(s, Action::Loaded(Loaded::SettingsSaved { plan: plan.clone(), result: Ok(()) }));
    (lines, effects)
}

#[test]
fn b_with_nothing_configured_picks_each_missing_setting_saves_them_and_backs_up() {
    let mut s = state();
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, Action::Aws(AwsStatus::Ready { region: Some("eu-west-1".into()), endpoint: None }));
    update(&mut s, key('5'));

    // The buckets are asked for; the list fills in when they come.
    let effects = update(&mut s, key('b'));
    assert!(effects.contains(&Effect::Load(LoadRequest::Buckets)), "{effects:?}");
    assert_eq!(picker_title(&s), "Bucket for snapshots (or type a new name)");
    let buckets = vec!["logs".to_string(), "team-snapshots".to_string(), "web".to_string()];
    update(&mut s, Action::Loaded(Loaded::Buckets(Ok(buckets))));
    typed(&mut s, "snap");
    update(&mut s, code(KeyCode::Enter));

    // The prefix, with one offered.
    let Some(Overlay::Prompt(prompt)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert_eq!(prompt.text, "wharf/");
    update(&mut s, code(KeyCode::Backspace));
    typed(&mut s, "/app");
    update(&mut s, code(KeyCode::Enter));

    // The storage classes, priced; the second is picked.
    let Some(Overlay::Pick(picker)) = &s.overlay else { panic!("{:?}", s.overlay) };
    let ia = picker.items.iter().find(|i| i.value == "STANDARD_IA").expect("STANDARD_IA offered");
    assert_eq!(ia.detail, "$0.0125/GB-month · billed for at least 30 days");
    update(&mut s, code(KeyCode::Down));
    update(&mut s, code(KeyCode::Enter));

    // The local containers, running first; `db` is picked and described.
    assert_eq!(picker_title(&s), "Database container to back up");
    let Some(Overlay::Pick(picker)) = &s.overlay else { unreachable!() };
    assert_eq!(picker.items.first().map(|i| i.value.as_str()), Some("db"));
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::ContainerDetail { container, setup })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(container, "db");
    let mount = |destination: &str, kind: &str| MountInfo {
        kind: kind.into(),
        name: Some("db-data".into()),
        source: "/var/lib/docker/volumes/db-data/_data".into(),
        destination: destination.into(),
    };
    let detail = ContainerDetail {
        id: "db-id".into(),
        name: "db".into(),
        running: true,
        exit_code: 0,
        image: "db:baked".into(),
        image_id: "sha256:9a8b".into(),
        mounts: vec![mount("/srv/data", "volume"), mount("/tmp", "tmpfs"), mount("/srv/conf", "bind")],
        stop_timeout: 10,
        env: vec!["PATH=/bin".into()],
    };
    update(&mut s, Action::Loaded(Loaded::ContainerDetail { setup: setup.clone(), result: Ok(detail) }));

    // Nothing in its image names a database: the `path` preset, its volume and bind mount offered (not tmpfs).
    let Some(Overlay::Pick(picker)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert!(matches!(picker.purpose, PickPurpose::DataPath(_)));
    assert_eq!(picker.items.iter().map(|i| i.value.as_str()).collect::<Vec<_>>(), ["/srv/data", "/srv/conf"]);
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::SetupPreview { setup, file, profile })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(profile, "default");
    assert!(
        file.ends_with("wharf/wharf.toml"),
        "no file yet: the user's config directory ({})",
        file.display()
    );
    let expected = [
        Chosen::new("bucket", "team-snapshots"),
        Chosen::new("prefix", "wharf/app/"),
        Chosen::new("storage_class", "STANDARD_IA"),
        Chosen::new("database.container", "db"),
        Chosen::new("database.preset", "path"),
        Chosen::new("database.path", "/srv/data"),
    ];
    assert_eq!(setup.chosen, expected);

    // What the file will say, worked out on a real file, and a yes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wharf.toml");
    let (lines, effects) = save_with_a_yes(&mut s, setup, profile, &file);
    assert!(lines.iter().any(|l| l.contains("bucket = \"team-snapshots\"")), "{lines:?}");

    // In force at once: the list is read from the new place and the backup starts.
    let backup = effects.iter().find_map(|e| match e {
        Effect::StartJob { spec: JobSpec::Backup(job), .. } => Some(job),
        _ => None,
    });
    let job = backup.unwrap_or_else(|| panic!("{effects:?}"));
    assert_eq!((job.bucket.as_str(), job.prefix.as_str()), ("team-snapshots", "wharf/app/"));
    assert_eq!((job.container.as_str(), job.path.as_deref()), ("db", Some("/srv/data")));
    assert!(effects.iter().any(|e| matches!(e, Effect::Load(LoadRequest::Snapshots { .. }))));
    let reread =
        wharf::config::ConfigFile::parse(&std::fs::read_to_string(&file).unwrap(), "wharf.toml").unwrap();
    let profile = &reread.profiles["default"];
    assert_eq!(profile.bucket.as_deref(), Some("team-snapshots"));
    assert_eq!(profile.database.as_ref().and_then(|d| d.path.as_deref()), Some("/srv/data"));
    assert_eq!(s.settings.file.as_deref(), Some(file.as_path()));
}

#[test]
fn esc_anywhere_in_a_set_up_saves_nothing_and_read_only_never_starts_one() {
    let mut s = state();
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    update(&mut s, key('5'));
    update(&mut s, key('b'));
    update(&mut s, Action::Loaded(Loaded::Buckets(Ok(vec!["a".into()]))));
    typed(&mut s, "zz");
    update(&mut s, code(KeyCode::Esc));
    assert!(matches!(s.overlay, Some(Overlay::Pick(_))), "the first esc clears the filter");
    let effects = update(&mut s, code(KeyCode::Esc));
    assert!(s.overlay.is_none() && effects.is_empty(), "{effects:?}");
    assert_eq!(
        s.flash.as_deref(),
        Some("Bucket for snapshots (or type a new name): cancelled, nothing saved")
    );

    let mut s = crate::support::read_only_state();
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    update(&mut s, key('5'));
    let effects = update(&mut s, key('b'));
    assert!(effects.is_empty() && s.overlay.is_none(), "{effects:?}");
    assert!(s.flash.as_deref().is_some_and(|f| f.contains("read-only")), "{:?}", s.flash);
}

#[test]
fn a_save_keeps_the_files_comments_and_never_overwrites_what_changed_since() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wharf.toml");
    let text = "# the team's settings\n[profiles.dev]\nregion = \"eu-west-1\" # Ireland\n";
    std::fs::write(&file, text).unwrap();
    let edited = save::prepare(&file, "dev", &[Chosen::new("bucket", "snaps")]).unwrap();
    assert_eq!(edited.before.as_deref(), Some(text));
    save::commit(&file, edited.before.as_deref(), &edited.after).unwrap();
    let now = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        now,
        "# the team's settings\n[profiles.dev]\nregion = \"eu-west-1\" # Ireland\nbucket = \"snaps\"\n"
    );

    // Someone edits the file between the preview and the yes: nothing is written.
    let edited = save::prepare(&file, "dev", &[Chosen::new("prefix", "app/")]).unwrap();
    std::fs::write(&file, format!("{now}# added by hand\n")).unwrap();
    let refused = save::commit(&file, edited.before.as_deref(), &edited.after).unwrap_err();
    assert!(refused.contains("changed since its lines were shown"), "{refused}");
    assert!(std::fs::read_to_string(&file).unwrap().ends_with("# added by hand\n"));
}

/// The whole first run as a new user does it: no file, `b`, a bucket and the
/// PostgreSQL container picked (its preset detected), the database whose
/// tables are the user's (`app`, not `postgres`) picked from the server's
/// list, a yes, a snapshot that restores those tables.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_with_no_file_gets_a_first_snapshot_by_picking() {
    let mut cleanup = Cleanup::default();
    let container = crate::backup::postgres_container(&mut cleanup);
    let psql = crate::backup::psql;
    psql(&container, "postgres", "CREATE DATABASE app");
    psql(
        &container,
        "app",
        "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT i, md5(i::text) FROM generate_series(1, 5000) AS i",
    );
    let fingerprint = "SELECT count(*) || ':' || md5(string_agg(id || body, ',' ORDER BY id)) FROM notes";
    let rows = psql(&container, "app", fingerprint);
    let url = crate::support::moto_url();
    let clients = crate::support::moto_clients().await;
    let bucket = crate::backup::bucket().await;
    let env: Vec<(&str, &str)> = vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL", &url),
    ];
    let mut session = Session::start_with(120, 40, &env, None);
    session.wait_for("b picks one from S3");
    session.send(b"5b");
    session.wait_for("Bucket for snapshots");
    session.send(bucket.as_bytes());
    session.wait_for(&format!("{bucket} "));
    session.send(b"\r");
    session.wait_for("Prefix for snapshots");
    session.send(b"\r");
    session.wait_for("Storage class for snapshots");
    session.send(b"\r");
    session.wait_for("Database container to back up");
    session.send(container.as_bytes());
    session.send(b"\r");
    session.wait_for(&format!("Database in {container} to back up"));
    session.wait_for("every database");
    let offered = session.contents();
    let app =
        offered.lines().find(|l| l.contains("│app ")).unwrap_or_else(|| panic!("app is offered:\n{offered}"));
    assert!(app.contains("1 table"), "with its table counted: {app}");
    let first = offered.lines().position(|l| l.contains("│app ")).unwrap();
    let postgres = offered.lines().position(|l| l.contains("│postgres ") && l.contains("no tables of yours"));
    assert!(postgres.is_some_and(|p| p > first), "the database with the user's tables first:\n{offered}");
    session.send(b"app");
    session.send(b"\r");
    // The endpoint came in the environment: offered for saving, or the next run goes elsewhere.
    session.wait_for("This run was given settings on the command line or in the environment");
    session.wait_for(&format!("endpoint_url = {url}"));
    session.send(b"\r");
    session.wait_for("Save settings");
    let shown = session.contents();
    assert!(shown.contains("preset = \"postgres\""), "the preset is detected from the image:\n{shown}");
    std::thread::sleep(std::time::Duration::from_millis(400));
    session.send(b"y");
    session.wait_for("head · here");

    let file = session.home.path().join("config/wharf/wharf.toml");
    let written = std::fs::read_to_string(&file).unwrap();
    let expected = format!(
        "default_profile = \"default\"\n\n[profiles.default]\nbucket = \"{bucket}\"\nprefix = \"wharf/\"\nstorage_class = \"STANDARD\"\nendpoint_url = \"{url}\"\n\n[profiles.default.database]\ncontainer = \"{container}\"\npreset = \"postgres\"\nname = \"app\"\n"
    );
    assert_eq!(written, expected, "exactly the choices made");
    let listed = clients.s3.list_objects_v2().bucket(&bucket).prefix("wharf/").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.iter().any(|k| k.ends_with("/manifest.json")), "a complete snapshot: {keys:?}");
    assert!(keys.iter().any(|k| k.contains("/chunks/")), "{keys:?}");
    // The snapshot holds the user's rows: gone from the database, they come back.
    psql(&container, "app", "DELETE FROM notes WHERE id % 2 = 0");
    let head: serde_json::Value =
        serde_json::from_slice(&crate::backup::object(&bucket, "wharf/HEAD.json").await).unwrap();
    let id = head["snapshot"].as_str().unwrap();
    let out = crate::support::wharf_against(&url, session.home.path())
        .args(["restore", id, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(psql(&container, "app", fingerprint), rows, "every row of app as it was");
    session.send(b"q");
    let (status, transcript, screen) = session.finish();
    assert_eq!(status, 0, "{transcript}");
    assert_restored(&transcript, &screen);
}

#[test]
fn the_settings_panel_says_where_each_came_from_and_picks_one_again() {
    let text = "[profiles.dev]\nbucket = \"snaps\"\nstorage_class = \"STANDARD\"\n[profiles.dev.database]\ncontainer = \"db\"\npath = \"/data\"\n";
    let file = wharf::config::ConfigFile::parse(text, "wharf.toml").unwrap();
    let mut profile = file.profiles["dev"].clone();
    profile.region = Some("eu-west-1".into());
    let settings = wharf::config::Settings {
        file: Some("/home/me/.config/wharf/wharf.toml".into()),
        profile_name: Some("dev".into()),
        profile,
        from_command_line: vec!["region".into()],
        ..wharf::config::Settings::default()
    };
    let mut s = crate::support::state_with(settings, wharf::app::Keymap::defaults().unwrap());
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    update(&mut s, key(','));
    let Some(Overlay::Pick(panel)) = &s.overlay else { panic!("{:?}", s.overlay) };
    let row = |key: &str| panel.items.iter().find(|i| i.value == key).unwrap().clone();
    assert_eq!(row("region").detail, "command line or environment");
    assert_eq!(row("bucket").detail, "wharf.toml");
    assert!(row("bucket").label.ends_with("snaps"));
    assert_eq!(row("repository").detail, "not set");

    // What only the file sets is said so.
    typed(&mut s, "cluster");
    update(&mut s, code(KeyCode::Enter));
    assert!(
        s.flash.as_deref().is_some_and(|f| f.starts_with("cluster: set it in wharf.toml")),
        "{:?}",
        s.flash
    );

    // The storage class, picked again: only it is saved.
    update(&mut s, key(','));
    typed(&mut s, "storage");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(picker_title(&s), "Storage class for snapshots");
    typed(&mut s, "GLACIER");
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::SetupPreview { setup, .. })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(setup.chosen, [Chosen::new("storage_class", "GLACIER_IR")]);

    // A region the profile does not set is still in use: the AWS configuration's, said so.
    s.overlay = None;
    s.settings.profile.region = None;
    update(&mut s, Action::Aws(AwsStatus::Ready { region: Some("eu-central-1".into()), endpoint: None }));
    update(&mut s, key(','));
    let Some(Overlay::Pick(panel)) = &s.overlay else { panic!("{:?}", s.overlay) };
    let region = panel.items.iter().find(|i| i.value == "region").unwrap();
    assert!(region.label.ends_with("eu-central-1"), "{region:?}");
    assert_eq!(region.detail, "AWS configuration (AWS_REGION, ~/.aws/config)");
}

/// `d` with no service in the profile: the cluster and the service are picked
/// (the service names listed live), saved, and the deploy goes on to its plan.
#[test]
fn d_without_a_service_picks_the_cluster_and_service_saves_them_and_plans_the_deploy() {
    let mut s = crate::update::with_registry_image(false);
    s.settings.profile.cluster = None;
    s.settings.profile.service = None;
    update(&mut s, Action::Loaded(Loaded::Clusters(Ok(vec!["dev".into(), "prod".into()]))));
    update(&mut s, key('2'));
    update(&mut s, key('d'));
    assert_eq!(picker_title(&s), "ECS cluster to deploy to");
    typed(&mut s, "prod");
    let effects = update(&mut s, code(KeyCode::Enter));
    assert_eq!(effects, [Effect::Load(LoadRequest::ServiceNames { cluster: "prod".into() })]);
    assert_eq!(picker_title(&s), "Service in prod to deploy to");
    update(&mut s, Action::Loaded(Loaded::ServiceNames(Ok(vec!["api".into(), "db".into()]))));
    typed(&mut s, "db");
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::SetupPreview { setup, profile, .. })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(setup.chosen, [Chosen::new("cluster", "prod"), Chosen::new("service", "db")]);

    let dir = tempfile::tempdir().unwrap();
    let (_, effects) = save_with_a_yes(&mut s, setup, profile, &dir.path().join("wharf.toml"));
    assert!(
        effects.contains(&Effect::Load(LoadRequest::DeployPlan {
            cluster: "prod".into(),
            service: "db".into(),
            container: None,
            image: "123.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:abc".into(),
        })),
        "{effects:?}"
    );
}

/// `r` with no database container named: the name is asked (one offered from
/// the image), the preset told from the image's name, the data's directory
/// asked when nothing tells it; saved, and the run goes on.
#[test]
fn r_without_a_database_container_asks_its_name_saves_it_and_runs() {
    let mut s = state();
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, key('1'));
    typed(&mut s, "/db:baked");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, key('r'));
    let Some(Overlay::Prompt(prompt)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert_eq!(
        (prompt.title.as_str(), prompt.text.as_str()),
        ("Name of the database container to create", "db")
    );
    typed(&mut s, "!");
    update(&mut s, code(KeyCode::Enter));
    let Some(Overlay::Prompt(prompt)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert!(prompt.error.as_deref().is_some_and(|e| e.starts_with("letters, digits")), "{prompt:?}");
    update(&mut s, code(KeyCode::Backspace));
    typed(&mut s, "-local");
    update(&mut s, code(KeyCode::Enter));
    let Some(Overlay::Prompt(prompt)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert_eq!((prompt.title.as_str(), prompt.text.as_str()), ("Directory of the database's data", "/data"));
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::SetupPreview { setup, profile, .. })] = &effects[..] else {
        panic!("{effects:?}")
    };
    let expected = [
        Chosen::new("database.container", "db-local"),
        Chosen::new("database.preset", "path"),
        Chosen::new("database.path", "/data"),
    ];
    assert_eq!(setup.chosen, expected);

    let dir = tempfile::tempdir().unwrap();
    let (_, effects) = save_with_a_yes(&mut s, setup, profile, &dir.path().join("wharf.toml"));
    let run = effects.iter().find_map(|e| match e {
        Effect::StartJob { spec: JobSpec::Run(job), .. } => Some(job),
        _ => None,
    });
    let job = run.unwrap_or_else(|| panic!("{effects:?}"));
    assert_eq!(
        (job.image.as_str(), job.container.as_str(), job.path.as_str()),
        ("db:baked", "db-local", "/data")
    );
}

#[test]
fn the_settings_panel_picks_the_database_and_its_user_again() {
    let text = "[profiles.dev]\nbucket = \"snaps\"\n[profiles.dev.database]\ncontainer = \"pg\"\npreset = \"postgres\"\nname = \"postgres\"\n";
    let file = wharf::config::ConfigFile::parse(text, "wharf.toml").unwrap();
    let settings = wharf::config::Settings {
        file: Some("/home/me/.config/wharf/wharf.toml".into()),
        profile_name: Some("dev".into()),
        profile: file.profiles["dev"].clone(),
        ..wharf::config::Settings::default()
    };
    let mut s = crate::support::state_with(settings, wharf::app::Keymap::defaults().unwrap());
    update(&mut s, key(','));
    let Some(Overlay::Pick(panel)) = &s.overlay else { panic!("{:?}", s.overlay) };
    let row = |key: &str| panel.items.iter().find(|i| i.value == key).unwrap().clone();
    assert!(row("database.name").label.ends_with("postgres"), "{:?}", row("database.name"));
    assert_eq!(row("database.user").detail, "not set");
    assert!(row("cache_limit").label.ends_with('–'));

    // The database, picked again from what the server has.
    typed(&mut s, "database.name");
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::Databases { container, preset, user, setup })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!((container.as_str(), *preset, user), ("pg", wharf::config::Preset::Postgres, &None));
    assert_eq!(picker_title(&s), "Database in pg to back up");
    let found =
        |name: &str, bytes: u64, tables: u64, the_images: bool| wharf::jobs::databases::DatabaseInfo {
            name: name.into(),
            bytes: Some(bytes),
            tables: Some(tables),
            the_images,
        };
    // A late answer (an earlier set-up's request) is dropped; this one's fills the list.
    let asked = s.asked.ticket(s.connection, wharf::app::asked::View::DatabasePicker);
    let mut other = setup.clone();
    other.chosen.push(Chosen::new("bucket", "elsewhere"));
    let late = Loaded::Databases { setup: other, result: Ok(vec![found("x", 1, 1, false)]) };
    update(&mut s, Action::Answer { ticket: wharf::app::asked::Ticket { number: 0, ..asked }, loaded: late });
    let Some(Overlay::Pick(picker)) = &s.overlay else { panic!() };
    assert!(picker.loading && picker.items.is_empty());
    let listed = vec![found("shop", 9_000_000, 4, true), found("postgres", 7_000_000, 0, false)];
    let loaded = Loaded::Databases { setup: setup.clone(), result: Ok(listed) };
    update(&mut s, Action::Answer { ticket: asked, loaded });
    let Some(Overlay::Pick(picker)) = &s.overlay else { panic!() };
    let rows: Vec<(&str, &str)> =
        picker.items.iter().map(|i| (i.value.as_str(), i.detail.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("shop", "9.0 MB · 4 tables · the image's own"),
            ("postgres", "7.0 MB · no tables of yours"),
            ("*", "the whole server: pg_dumpall")
        ]
    );
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::SetupPreview { setup, .. })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(setup.chosen, [Chosen::new("database.name", "shop")]);

    // The user, typed.
    s.overlay = None;
    update(&mut s, key(','));
    typed(&mut s, "database.user");
    update(&mut s, code(KeyCode::Enter));
    typed(&mut s, "app");
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::LoadLocal(LocalLoad::SetupPreview { setup, .. })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(setup.chosen, [Chosen::new("database.user", "app")]);
}

/// A new user whose account has no bucket for wharf yet: `b`, a new name
/// typed into the bucket list, the bucket made with init's settings, and a
/// first snapshot in it.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_creates_the_bucket_from_the_list_and_gets_a_first_snapshot() {
    let mut cleanup = Cleanup::default();
    let container = crate::support::unique("wharf-it-firstbucket");
    let volume = format!("{container}-data");
    crate::support::docker(&[
        "run",
        "-d",
        "--name",
        &container,
        "-v",
        &format!("{volume}:/data"),
        crate::support::test_image(),
        "sleep",
        "3600",
    ]);
    cleanup.containers.push(container.clone());
    cleanup.volumes.push(volume);
    crate::support::docker(&["exec", &container, "sh", "-c", "echo first > /data/note"]);
    let bucket = crate::support::unique("wharf-it-new").to_lowercase();
    let url = crate::support::moto_url();
    let env: Vec<(&str, &str)> = vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL", &url),
    ];
    let mut session = Session::start_with(120, 40, &env, None);
    session.wait_for("b picks one from S3");
    session.send(b"5b");
    session.wait_for("Bucket for snapshots (or type a new name)");
    session.send(bucket.as_bytes());
    session.wait_for(&format!("create bucket {bucket}"));
    session.send(b"\r");
    session.wait_for("Prefix for snapshots");
    session.send(b"\r");
    session.wait_for("Storage class for snapshots");
    session.send(b"\r");
    session.wait_for("Database container to back up");
    session.send(container.as_bytes());
    session.send(b"\r");
    session.wait_for("Where");
    session.send(b"\r");
    session.wait_for("This run was given settings");
    session.send(b"\r");
    session.wait_for("Save settings");
    std::thread::sleep(std::time::Duration::from_millis(400));
    session.send(b"y");
    session.wait_for("head · here");

    let s3 = crate::support::moto_clients().await.s3;
    let block = s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
    assert_eq!(block.public_access_block_configuration().and_then(|b| b.block_public_acls()), Some(true));
    assert!(s3.get_bucket_encryption().bucket(&bucket).send().await.is_ok(), "encrypted by default");
    let tags = s3.get_bucket_tagging().bucket(&bucket).send().await.unwrap();
    let written = std::fs::read_to_string(session.home.path().join("config/wharf/wharf.toml")).unwrap();
    let id =
        written.lines().find_map(|l| l.strip_prefix("init_id = ")).map(|v| v.trim_matches('"').to_string());
    let id = id.unwrap_or_else(|| panic!("the bucket's init id is saved:\n{written}"));
    assert!(tags.tag_set().iter().any(|t| t.key() == format!("wharf:init:{id}")), "{:?}", tags.tag_set());
    assert!(written.contains(&format!("bucket = \"{bucket}\"")), "{written}");
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert!(
        listed.contents().iter().any(|o| o.key().is_some_and(|k| k.ends_with("/manifest.json"))),
        "a snapshot"
    );
    session.send(b"q");
    let (status, transcript, screen) = session.finish();
    assert_eq!(status, 0, "{transcript}");
    assert_restored(&transcript, &screen);
}

/// The settings panel saves into `./wharf.toml`, the file it read, as a user
/// in a project directory has it (a relative path: its directory is "").
#[test]
fn the_settings_panel_saves_into_the_wharf_toml_of_the_working_directory() {
    use std::os::unix::fs::PermissionsExt;
    let config = "[profiles.dev]\nbucket = \"snaps\"\nprefix = \"old/\"\n";
    let mut session = Session::start_with(120, 40, &[], Some(config));
    let file = session.home.path().join("wharf.toml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let dir_mode = std::fs::metadata(session.home.path()).unwrap().permissions().mode() & 0o777;
    session.wait_for("Snapshots");
    session.send(b",");
    session.wait_for("Settings of profile dev");
    session.send(b"prefix\r");
    session.wait_for("Prefix for snapshots in the bucket");
    session.send(b"new/\r");
    session.wait_for("Save settings");
    std::thread::sleep(std::time::Duration::from_millis(400));
    session.send(b"y");
    session.wait_for("saved to wharf.toml");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("prefix = \"new/\""), "{written}");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644, "its mode kept");
    assert_eq!(std::fs::metadata(session.home.path()).unwrap().permissions().mode() & 0o777, dir_mode);
    session.send(b"q");
    let (status, transcript, _) = session.finish();
    assert_eq!(status, 0, "{transcript}");
}
