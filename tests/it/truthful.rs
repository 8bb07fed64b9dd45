//! The dashboard says what is true where the user looks: a job's message in
//! the status line lasts as long as the job, then says how it ended; the
//! Jobs pane follows the newest job unless the cursor was moved; a job that
//! needs a look is not marked done.

use wharf::app::{Action, Effect, JobState, update};
use wharf::jobs::{Attention, JobEvent, JobId, JobOutput, JobResult, JobUpdate};

use crate::panes::{configured, render};
use crate::support::key;

fn backup_started(s: &mut wharf::app::AppState) -> JobId {
    let listed = crate::support::snapshots_listed(s, None, Ok(vec![]));
    update(s, listed);
    update(s, key('5'));
    let effects = update(s, key('b'));
    effects
        .iter()
        .find_map(|e| match e {
            Effect::StartJob { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("b starts a backup: {effects:?}"))
}

fn finished(id: JobId, attention: Option<&str>) -> Action {
    let output = JobOutput {
        summary: "stored 20261206T030000Z-db-laptop-k3f9q".into(),
        json: serde_json::Value::Null,
        copy: None,
        attention: attention.map(|m| Attention { code: 3, message: m.into() }),
    };
    Action::Job(JobEvent { id, update: JobUpdate::Finished(JobResult::Done(output)) })
}

#[test]
fn a_jobs_message_lasts_until_the_job_ends_and_then_says_how_it_ended() {
    let mut s = configured();
    let id = backup_started(&mut s);
    assert_eq!(s.flash.as_deref(), Some("backing up db (see Jobs)"));
    // Keys pressed meanwhile leave it: the backup is still running.
    update(&mut s, key('j'));
    update(&mut s, key('k'));
    assert_eq!(s.flash.as_deref(), Some("backing up db (see Jobs)"));
    update(&mut s, Action::Job(JobEvent { id, update: JobUpdate::Started }));
    update(&mut s, finished(id, None));
    let said = s.flash.clone().unwrap();
    assert!(said.ends_with("done ✓") && said.contains("db"), "{said}");
    // Now an ordinary message: the next key takes it away.
    update(&mut s, key('j'));
    assert_eq!(s.flash, None);
}

#[test]
fn a_backup_kept_off_the_line_is_marked_for_a_look_with_its_whole_message() {
    let mut s = configured();
    let id = backup_started(&mut s);
    let message = "db's data does not follow head 20261205T180000Z-db-home-aaaaa (made on home): \
                   this backup is kept off the line. To go on from head: S syncs this machine; \
                   to make this one head: wharf backup --force-head";
    update(&mut s, finished(id, Some(message)));
    assert!(matches!(s.jobs.jobs[0].state, JobState::Attention { .. }));
    assert!(s.flash.as_deref().is_some_and(|f| f.contains("needs a look")), "{:?}", s.flash);
    update(&mut s, key('6'));
    update(&mut s, key('z'));
    let terminal = render(&s, 120, 40);
    let buffer = terminal.backend().buffer();
    let rows: Vec<String> = (0..buffer.area.height)
        .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>())
        .collect();
    let screen = rows.join("\n");
    assert!(screen.contains("look"), "{screen}");
    assert!(!screen.contains('✓'), "not marked done:\n{screen}");
    // Its message whole, how to go on included, in the job's detail.
    let words: Vec<&str> =
        rows.iter().flat_map(|r| r.split_whitespace()).filter(|w| !"┃│┏┓┗┛".contains(*w)).collect();
    let flat = words.join(" ");
    assert!(
        flat.contains("S syncs this machine; to make this one head: wharf backup --force-head"),
        "{screen}"
    );
}

#[test]
fn the_jobs_pane_follows_the_newest_job_unless_the_cursor_was_moved() {
    let mut s = configured();
    let first = backup_started(&mut s);
    update(&mut s, finished(first, None));
    update(&mut s, key('5'));
    update(&mut s, key('b'));
    update(&mut s, key('b'));
    // Two jobs (a third b meets the running one): the cursor followed the new one.
    assert_eq!(s.jobs.jobs.len(), 2, "the second b waits for the first running backup");
    assert_eq!(s.jobs.cursor.selected, 1);
    // Moved up by the user: it stays where it was put.
    update(&mut s, key('6'));
    update(&mut s, key('k'));
    assert_eq!(s.jobs.cursor.selected, 0);
    let second = s.jobs.jobs[1].id;
    update(&mut s, finished(second, None));
    update(&mut s, key('5'));
    update(&mut s, key('b'));
    assert_eq!(s.jobs.jobs.len(), 3);
    assert_eq!(s.jobs.cursor.selected, 0, "the cursor the user moved stays");
}
