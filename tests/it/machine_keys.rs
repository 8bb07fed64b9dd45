//! The second machine from the dashboard: `p` pulls the selected registry
//! image, `r` runs the profile's database container from a local image, `S`
//! works a sync out in the background and shows its plan before anything is
//! done.

use wharf::app::{Action, Confirmed, Effect, LoadRequest, Loaded, Overlay, update};
use wharf::jobs::JobSpec;
use wharf::jobs::pull::Wanted;
use wharf::jobs::sync::{Step, SyncPlan};

use crate::support::{key, sample_engine};
use crate::update::{a_moment_later, with_registry_image, with_snapshots};

#[test]
fn p_in_an_opened_repository_pulls_the_selected_image_by_its_tag() {
    let mut s = with_registry_image(false);
    let effects = update(&mut s, key('p'));
    let [Effect::StartJob { spec: JobSpec::Pull(job), .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!((job.repository.as_str(), &job.wanted), ("app", &Wanted::Tag("v3".into())));
    assert_eq!(s.jobs.jobs[0].target, "app:v3");

    // Elsewhere the key is not a pull: it says where to go.
    let mut s = with_registry_image(false);
    update(&mut s, key('1'));
    assert!(
        update(&mut s, key('p'))
            .iter()
            .all(|e| !matches!(e, Effect::StartJob { spec: JobSpec::Pull(_), .. }))
    );
}

#[test]
fn r_on_a_local_image_runs_the_profiles_database_container_from_it() {
    let mut s = with_snapshots(false);
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, key('1'));
    let effects = update(&mut s, key('r'));
    let [Effect::StartJob { spec: JobSpec::Run(job), .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(
        (job.image.as_str(), job.container.as_str(), job.path.as_str()),
        ("app:dev", "db", "/var/lib/data")
    );
    assert!(job.restore.is_none(), "a run from the key starts from the image's data");

    // Without a database container in the profile: nothing started, its name
    // is asked first (the rest of that is in setup.rs).
    let mut s = crate::support::state();
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, key('1'));
    assert!(update(&mut s, key('r')).is_empty());
    let Some(wharf::app::Overlay::Prompt(prompt)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert_eq!(prompt.title, "Name of the database container to create");
}

fn plan(steps: Vec<Step>) -> SyncPlan {
    SyncPlan {
        container: "db".into(),
        repository: "app".into(),
        image: "reg/app@sha256:abc".into(),
        digest: "sha256:abc".into(),
        image_from: "tag v3 of app".into(),
        snapshot: Some("20261120T101500Z-db".into()),
        snapshot_from: "head of the line, from laptop".into(),
        steps,
    }
}

#[test]
fn s_shows_the_sync_plan_and_starts_it_only_after_a_yes() {
    let mut s = with_snapshots(false);
    s.settings.profile.cluster = Some("dev".into());
    s.settings.profile.service = Some("app".into());
    let effects = update(&mut s, key('S'));
    let [Effect::Load(LoadRequest::SyncPlan(job))] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(s.overlay, None, "nothing is asked before the plan is known");
    let restore = Step::Restore { snapshot: "20261120T101500Z-db".into(), replacing: None };
    let shown = plan(vec![restore]);
    update(&mut s, Action::Loaded(Loaded::SyncPlan { job: job.clone(), result: Ok(shown.clone()) }));
    let Some(Overlay::Confirm(confirm)) = s.overlay.clone() else {
        panic!("no confirmation: {:?}", s.overlay)
    };
    assert_eq!(confirm.lines, shown.lines());
    assert!(
        confirm.lines.iter().any(|l| l.contains("restore 20261120T101500Z-db into db")),
        "{:?}",
        confirm.lines
    );
    a_moment_later(&mut s);
    let effects = update(&mut s, key('y'));
    let [Effect::StartJob { spec: JobSpec::Sync(started), .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(
        started.plan.as_ref(),
        Some(&shown),
        "the job carries the plan that was shown, to check it still holds"
    );
    let Confirmed::Sync(asked) = confirm.on_yes else { panic!() };
    assert_eq!(&asked, started);

    // In sync: said, nothing asked; a plan that could not be made: said.
    update(&mut s, Action::Loaded(Loaded::SyncPlan { job: job.clone(), result: Ok(plan(vec![])) }));
    assert_eq!((s.overlay.clone(), s.flash.as_deref()), (None, Some("db is in sync: nothing to do")));
    update(
        &mut s,
        Action::Loaded(Loaded::SyncPlan { job: job.clone(), result: Err("ECR: no repository".into()) }),
    );
    assert_eq!(s.flash.as_deref(), Some("sync: ECR: no repository"));
}

#[test]
fn s_without_a_service_asks_which_tag_of_the_repository() {
    use wharf::jobs::sync::ImageSource;
    use wharf::model::registry::RegistryImage;
    // Neither service nor repository: says which setting would do.
    let mut s = with_snapshots(false);
    assert!(update(&mut s, key('S')).is_empty());
    assert_eq!(
        s.flash.as_deref(),
        Some("sync: which image? set repository (or cluster and service) in wharf.toml")
    );
    // A repository: its tags are offered, newest image first, and the one picked is synced to.
    s.settings.profile.repository = Some("app".into());
    let effects = update(&mut s, key('S'));
    assert_eq!(effects, [Effect::Load(LoadRequest::SyncTags { repository: "app".into() })]);
    let Some(Overlay::Pick(picker)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert!(picker.loading && picker.title.contains("app"), "{picker:?}");
    let image = |tags: &[&str], digest: &str, pushed_at| RegistryImage {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        digest: digest.into(),
        pushed_at: Some(pushed_at),
        size: None,
    };
    let images = vec![image(&["v4", "latest"], "sha256:4444", 200), image(&["v3"], "sha256:3333", 100)];
    crate::support::answer(&mut s, wharf::app::asked::View::TagPicker, Loaded::SyncTags(Ok(images)));
    let Some(Overlay::Pick(picker)) = &s.overlay else { panic!("{:?}", s.overlay) };
    let offered: Vec<&str> = picker.items.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(offered, ["v4", "latest", "v3"]);
    a_moment_later(&mut s);
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Down));
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Down));
    let effects = update(&mut s, crate::support::code(crossterm::event::KeyCode::Enter));
    let [Effect::Load(LoadRequest::SyncPlan(job))] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(job.image, ImageSource::Tag { repository: "app".into(), tag: "v3".into() });
}
