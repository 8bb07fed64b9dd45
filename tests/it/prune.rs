//! What a prune plans: it deletes only what it understands, keeps the line
//! (head and its nearest ancestors) and each host's newest snapshot off it,
//! and says which rule keeps or deletes each snapshot.

use std::time::Duration;

use wharf::snapshots::prune::{Plan, Retention, plan};
use wharf::snapshots::{Problem, Snapshot};

/// 2026-11-22T08:00:00Z
const NOW: i64 = 1_795_334_400;

/// A complete snapshot made on `host` from `parent`, with the time its id says.
fn snap(id: &str, host: &str, parent: Option<&str>) -> Snapshot {
    let bare = Snapshot { id: id.into(), data: None, manifest: None, problem: None, head: false };
    let created = bare.created().expect("a time in the id");
    let mut s = crate::support::sample_snapshots().remove(0);
    s.id = id.into();
    if let Some(m) = &mut s.manifest {
        m.id = id.into();
        m.created = wharf::snapshots::rfc3339(created);
        m.host = Some(host.into());
        m.parent = parent.map(str::to_string);
        m.key = format!("app/{id}/data.tar.zst");
    }
    if let Some(d) = &mut s.data {
        d.key = format!("app/{id}/data.tar.zst");
        d.last_modified = Some(created);
    }
    s
}

/// A snapshot with `problem`, its data object written at the time in its id.
fn broken(id: &str, problem: Problem) -> Snapshot {
    let mut s = snap(id, "laptop", None);
    s.manifest = None;
    s.problem = Some(problem);
    s
}

fn deleted(p: &Plan) -> Vec<&str> {
    p.doomed.iter().map(|d| d.id.as_str()).collect()
}

fn reason_kept<'a>(p: &'a Plan, id: &str) -> &'a str {
    p.kept
        .iter()
        .find(|k| k.id == id)
        .map_or_else(|| panic!("{id} is not kept: {p:?}"), |k| k.reason.as_str())
}

#[test]
fn with_no_retention_only_old_incomplete_snapshots_of_wharfs_own_format_go() {
    let list = vec![
        broken("20261122T073000Z-db", Problem::NoManifest), // 30 minutes old: maybe still writing
        snap("20261121T000000Z-db", "laptop", None),
        broken("20261110T000000Z-db", Problem::NewerFormat(99)),
        broken("20261109T000000Z-db", Problem::NoManifest),
        broken("20261108T000000Z-db", Problem::Unreadable("expected value at line 1".into())),
        broken("20261107T000000Z-db", Problem::DataMissing("app/20261107T000000Z-db/data.tar.zst".into())),
    ];
    let p = plan(&list, Retention::default(), "app/", NOW);
    assert_eq!(deleted(&p), ["20261109T000000Z-db", "20261107T000000Z-db"]);
    assert_eq!(p.doomed[0].reason, "incomplete: no manifest (an interrupted backup)");
    assert_eq!(
        p.doomed[0].keys,
        ["app/20261109T000000Z-db/manifest.json", "app/20261109T000000Z-db/data.tar.zst"],
        "manifest first"
    );
    assert!(reason_kept(&p, "20261110T000000Z-db").starts_with("written by a newer wharf"), "{p:?}");
    assert!(reason_kept(&p, "20261110T000000Z-db").ends_with(": kept"));
    assert!(reason_kept(&p, "20261108T000000Z-db").starts_with("unreadable manifest"), "{p:?}");
    assert!(reason_kept(&p, "20261122T073000Z-db").contains("less than an hour old"), "{p:?}");
    assert_eq!(reason_kept(&p, "20261121T000000Z-db"), "no retention set");

    // Retention never reaches what is not understood, however old.
    let p = plan(&list, Retention { keep: Some(1), older_than: Some(Duration::from_secs(1)) }, "app/", NOW);
    assert!(!deleted(&p).contains(&"20261110T000000Z-db"), "{p:?}");
    assert!(!deleted(&p).contains(&"20261108T000000Z-db"), "{p:?}");
}

/// laptop and home share one line; each has a backup off it.
fn line() -> Vec<Snapshot> {
    let mut list = vec![
        snap("20261121T180000Z-db-home-aaaaa", "home", Some("20261118T090000Z-db-laptop-ccccc")), // diverged, newest
        snap("20261121T090000Z-db-laptop-hhhhh", "laptop", Some("20261120T180000Z-db-laptop-ppppp")), // head
        snap("20261120T180000Z-db-laptop-ppppp", "laptop", Some("20261119T180000Z-db-home-qqqqq")),
        snap("20261119T180000Z-db-home-qqqqq", "home", Some("20261118T090000Z-db-laptop-ccccc")),
        snap("20261118T180000Z-db-home-ddddd", "home", Some("20261118T090000Z-db-laptop-ccccc")), // off, older
        snap("20261118T120000Z-db-laptop-lllll", "laptop", Some("20261118T090000Z-db-laptop-ccccc")), // off
        snap("20261118T090000Z-db-laptop-ccccc", "laptop", None),
    ];
    list[1].head = true;
    list
}

#[test]
fn keep_counts_along_the_line_and_keeps_each_hosts_newest_snapshot_off_it() {
    let list = line();
    let p = plan(&list, Retention { keep: Some(2), older_than: None }, "app/", NOW);
    assert_eq!(
        deleted(&p),
        [
            "20261119T180000Z-db-home-qqqqq",
            "20261118T180000Z-db-home-ddddd",
            "20261118T090000Z-db-laptop-ccccc"
        ],
        "{p:?}"
    );
    assert_eq!(reason_kept(&p, "20261121T090000Z-db-laptop-hhhhh"), "head of the line");
    assert_eq!(reason_kept(&p, "20261120T180000Z-db-laptop-ppppp"), "on the line: head's parent");
    assert_eq!(reason_kept(&p, "20261121T180000Z-db-home-aaaaa"), "off the line: the newest of home");
    assert_eq!(reason_kept(&p, "20261118T120000Z-db-laptop-lllll"), "off the line: the newest of laptop");
    let why = |id: &str| p.doomed.iter().find(|d| d.id == id).map(|d| d.reason.clone()).unwrap();
    assert_eq!(
        why("20261119T180000Z-db-home-qqqqq"),
        "on the line 2 back from head, beyond what --keep 2 keeps"
    );
    assert_eq!(why("20261118T180000Z-db-home-ddddd"), "off the line, and home has a newer one off it");

    // --keep 4 reaches the root; --keep 1 (and 0) keeps head alone on the line.
    let p = plan(&list, Retention { keep: Some(4), older_than: None }, "app/", NOW);
    assert_eq!(deleted(&p), ["20261118T180000Z-db-home-ddddd"]);
    assert_eq!(reason_kept(&p, "20261118T090000Z-db-laptop-ccccc"), "on the line: 3 back from head");
    for keep in [0, 1] {
        let p = plan(&list, Retention { keep: Some(keep), older_than: None }, "app/", NOW);
        assert_eq!(deleted(&p).len(), 4, "--keep {keep}: {p:?}");
        assert!(!deleted(&p).contains(&"20261121T090000Z-db-laptop-hhhhh"));
    }
}

#[test]
fn older_than_deletes_only_what_keep_lets_go_and_head_never_goes() {
    let list = line();
    // Everything is at least 10 hours old: with keep 2, what keep 2 lets go.
    let both = Retention { keep: Some(2), older_than: Some(Duration::from_secs(3600)) };
    let p = plan(&list, both, "app/", NOW);
    assert_eq!(deleted(&p).len(), 3, "{p:?}");
    assert!(p.doomed.iter().all(|d| d.reason.ends_with("and older than 1h")), "{p:?}");
    // Three days: only what is older than that, keep or not.
    let three_days = Retention { keep: Some(2), older_than: Some(Duration::from_secs(3 * 86_400)) };
    let p = plan(&list, three_days, "app/", NOW);
    assert_eq!(deleted(&p), ["20261118T180000Z-db-home-ddddd", "20261118T090000Z-db-laptop-ccccc"]);
    assert_eq!(reason_kept(&p, "20261119T180000Z-db-home-qqqqq"), "not older than 3days");
    // No keep: age alone, but never head.
    let p = plan(&list, Retention { keep: None, older_than: Some(Duration::from_secs(1)) }, "app/", NOW);
    assert_eq!(deleted(&p).len(), 6);
    assert_eq!(reason_kept(&p, "20261121T090000Z-db-laptop-hhhhh"), "head of the line");
}

#[test]
fn with_no_head_keep_keeps_the_newest() {
    let mut list = line();
    list[1].head = false;
    let p = plan(&list, Retention { keep: Some(2), older_than: None }, "app/", NOW);
    assert_eq!(deleted(&p).len(), 5, "{p:?}");
    assert!(reason_kept(&p, "20261121T180000Z-db-home-aaaaa").starts_with("no head of the line yet"));
    assert!(reason_kept(&p, "20261121T090000Z-db-laptop-hhhhh").starts_with("no head of the line yet"));
}

#[tokio::test]
async fn keys_delete_objects_could_not_delete_are_each_reported() {
    use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
    use aws_sdk_s3::types::{DeletedObject, Error as KeyError};
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
    // S3 answers 200 whatever it could not delete; the errors are per key, in the answer.
    let delete = mock!(aws_sdk_s3::Client::delete_objects).then_output(|| {
        DeleteObjectsOutput::builder()
            .deleted(DeletedObject::builder().key("p/a/manifest.json").build())
            .errors(
                KeyError::builder()
                    .key("p/b/manifest.json")
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
            .build()
    });
    let interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny).with_rule(&delete);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .with_test_defaults()
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build(),
    );
    let keys = ["p/a/manifest.json".to_string(), "p/b/manifest.json".to_string()];
    let e = wharf::aws::s3::delete(&s3, "b", &keys).await.unwrap_err();
    assert_eq!(e.to_string(), "S3 did not delete 1 of 2 objects: p/b/manifest.json: Access Denied");
}
