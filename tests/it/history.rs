//! One line of history across two machines: two XDG homes with their own
//! `WHARF_HOST`, two containers on the one engine, one bucket and prefix in
//! moto (behind the realism layer). Head moves only from its own line, by S3
//! conditional writes; a backup off the line is kept, said and exits 3; two
//! backups racing for head: exactly one moves it.

use crate::backup::{bucket, data_container, object, stderr};
use crate::machines::Machine;
use crate::support::Cleanup;

/// A machine whose container (a running busybox) keeps its data in `/data`,
/// backing up into the line under `bucket`.
fn machine(host: &'static str, bucket: &str, cleanup: &mut Cleanup) -> Machine {
    let profile = format!("bucket = \"{bucket}\"\nprefix = \"line\"\n");
    Machine::new(host, data_container(cleanup), &profile, "path = \"/data\"\n", cleanup)
}

/// Backs up; the exit status, what `--json` said, and stderr.
fn backup(machine: &Machine, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut args = vec!["backup", "--json"];
    args.extend_from_slice(extra);
    let out = machine.wharf(&args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json, stderr(&out))
}

fn restore(machine: &Machine, id: &str) {
    let out = machine.wharf(&["restore", id, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

async fn head(bucket: &str) -> serde_json::Value {
    serde_json::from_slice(&object(bucket, "line/HEAD.json").await).unwrap()
}

async fn manifest(bucket: &str, id: &str) -> serde_json::Value {
    serde_json::from_slice(&object(bucket, &format!("line/{id}/manifest.json")).await).unwrap()
}

fn id(json: &serde_json::Value) -> String {
    json["id"].as_str().unwrap_or_else(|| panic!("no id in {json}")).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_machines_keep_one_line_and_a_backup_off_it_diverges_without_losing_anything() {
    let mut cleanup = Cleanup::default();
    let bucket = bucket().await;
    let laptop = machine("laptop", &bucket, &mut cleanup);
    let home = machine("home", &bucket, &mut cleanup);

    // The laptop starts the line, then goes on along it.
    let (status, first, err) = backup(&laptop, &[]);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(first["head"]["moved"], true);
    laptop.write("laptop-day");
    let (status, second, err) = backup(&laptop, &[]);
    assert_eq!(status, Some(0), "{err}");
    let (s1, s2) = (id(&first), id(&second));
    let m2 = manifest(&bucket, &s2).await;
    assert_eq!((m2["parent"].as_str(), m2["host"].as_str()), (Some(s1.as_str()), Some("laptop")));
    assert_eq!(head(&bucket).await["snapshot"], s2.as_str());

    // The home machine takes head, changes it, and backs up: head moves to it.
    restore(&home, &s2);
    home.write("home-evening");
    let (status, third, err) = backup(&home, &[]);
    assert_eq!(status, Some(0), "{err}");
    let s3 = id(&third);
    let m3 = manifest(&bucket, &s3).await;
    assert_eq!((m3["parent"].as_str(), m3["host"].as_str()), (Some(s2.as_str()), Some("home")));
    let h = head(&bucket).await;
    assert_eq!((h["snapshot"].as_str(), h["host"].as_str()), (Some(s3.as_str()), Some("home")));

    // The laptop backs up without taking head first: kept, diverged, exit 3, head unchanged.
    laptop.write("laptop-next-day");
    let (status, fourth, err) = backup(&laptop, &[]);
    assert_eq!(status, Some(3), "{err}");
    assert_eq!(fourth["head"]["diverged"], true);
    assert!(err.contains(&format!("head of the line is {s3} from home")), "{err}");
    assert!(err.contains(&format!("wharf restore {s3}")), "says how to go on: {err}");
    let s4 = id(&fourth);
    assert_eq!(
        manifest(&bucket, &s4).await["parent"],
        s2.as_str(),
        "its snapshot is kept, on its own branch"
    );
    assert_eq!(head(&bucket).await["snapshot"], s3.as_str());

    // --force-head makes the laptop's data head.
    let (status, fifth, err) = backup(&laptop, &["--force-head"]);
    assert_eq!(status, Some(0), "{err}");
    let s5 = id(&fifth);
    assert_eq!(head(&bucket).await["snapshot"], s5.as_str());

    // Both on head, both back up at once: exactly one moves it, the other diverges.
    restore(&home, &s5);
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| backup(&laptop, &[]));
        let b = scope.spawn(|| backup(&home, &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [Some(0), Some(3)], "one moves head, one diverges: {} / {}", a.2, b.2);
    let winner = if a.0 == Some(0) { id(&a.1) } else { id(&b.1) };
    assert_eq!(head(&bucket).await["snapshot"], winner.as_str());
    let list = laptop.wharf(&["snapshots", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(7), "every snapshot is kept: {listed}");
    let heads: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["head"] == true)
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(heads, [winner.as_str()], "the listing marks head");
    // Where each stands, as the pane says it: host, head, here (what the laptop holds), off line.
    let entry = |id: &str| listed.as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone();
    // s4 became the line when --force-head built on it; home's s3 and the race's loser are off it.
    assert_eq!(
        (entry(&s4)["host"].as_str(), entry(&s4)["off_line"].as_bool()),
        (Some("laptop"), Some(false))
    );
    assert_eq!((entry(&s3)["host"].as_str(), entry(&s3)["off_line"].as_bool()), (Some("home"), Some(true)));
    // `a` is the laptop's backup of the race, won or not: what the laptop holds now.
    let laptops = id(&a.1);
    assert_eq!(entry(&laptops)["here"], true, "{listed}");
    let text = String::from_utf8(laptop.wharf(&["snapshots"]).stdout).unwrap();
    let row = |id: &str| text.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_string();
    assert!(text.lines().next().is_some_and(|h| h.contains("HOST") && h.contains("STATE")), "{text}");
    assert!(row(&winner).contains(" head"), "{text}");
    assert!(row(&s4).contains(" laptop ") && row(&s4).ends_with(" ok"), "{text}");
    assert!(row(&s3).contains(" home ") && row(&s3).ends_with("off line"), "{text}");
    let loser = if a.0 == Some(0) { id(&b.1) } else { id(&a.1) };
    assert!(row(&loser).ends_with("off line"), "{text}");
    assert!(row(&laptops).contains("here"), "{text}");

    // Pruning to one keeps the line's head, and each machine's newest snapshot off the
    // line (diverged work somebody may still want): s3 of home and the race's loser.
    // The dry run says the same, so what is shown is what is done.
    let loser = if a.0 == Some(0) { id(&b.1) } else { id(&a.1) };
    let loser_host = if a.0 == Some(0) { "home" } else { "laptop" };
    let mut kept = vec![winner.clone(), loser.clone()];
    if loser_host == "laptop" {
        kept.push(s3.clone()); // home's only snapshot off the line
    }
    kept.sort();
    let dry = laptop.wharf(&["prune", "--keep", "0", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let would: Vec<&str> =
        plan["would_delete"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(would.len(), 7 - kept.len(), "{plan}");
    assert!(!would.contains(&winner.as_str()) && !would.contains(&loser.as_str()), "{plan}");
    let reasons: Vec<&str> =
        plan["keep"].as_array().unwrap().iter().filter_map(|k| k["reason"].as_str()).collect();
    assert!(reasons.contains(&"head of the line"), "{plan}");
    assert!(reasons.contains(&format!("off the line: the newest of {loser_host}").as_str()), "{plan}");
    let out = laptop.wharf(&["prune", "--keep", "0", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = laptop.wharf(&["snapshots", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let mut left: Vec<String> =
        listed.as_array().unwrap().iter().filter_map(|s| s["id"].as_str().map(str::to_string)).collect();
    left.sort();
    assert_eq!(left, kept, "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_id_that_is_not_wharfs_shape_never_becomes_a_path() {
    let mut cleanup = Cleanup::default();
    let bucket = bucket().await;
    let laptop = machine("laptop", &bucket, &mut cleanup);
    for bad in ["../../outside", "20261205T180000Z-db/../..", "..", "db"] {
        let out = laptop.wharf(&["restore", bad, "--yes"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("`{bad}` is not a snapshot id")), "{}", stderr(&out));
    }
    // An id from the bucket (a HEAD.json somebody else wrote) is checked the same way.
    let s3 = crate::support::moto_clients().await.s3;
    let head = br#"{"snapshot": "../../../escaped", "host": "elsewhere", "at": "2026-12-01T00:00:00Z"}"#;
    s3.put_object().bucket(&bucket).key("line/HEAD.json").body(head.to_vec().into()).send().await.unwrap();
    let out = laptop.wharf(&[
        "run",
        "wharf-test/busybox:latest",
        "--container",
        "never-made",
        "--snapshot",
        "head",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("`../../../escaped` is not a snapshot id"), "{}", stderr(&out));
    let cache = laptop.home.path().join("cache");
    let escaped = walk(&cache).into_iter().chain(walk(laptop.home.path())).any(|p| p.ends_with("escaped"));
    assert!(!escaped, "nothing was made of it");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_cut_short_on_another_engine_is_kept_for_that_engine() {
    use wharf::jobs::restore::journal::{EngineRef, Journal};
    use wharf::jobs::restore::replace::{Method, Replacement};
    let home = tempfile::tempdir().unwrap();
    let replacement = Replacement {
        container: "db".into(),
        container_id: "0123456789ab".into(),
        image_id: "sha256:00".into(),
        was_running: false,
        method: Method::Path { path: "/data".into(), mount: None, inside: None },
        owner: String::new(),
    };
    let elsewhere = EngineRef { id: "ANOTHER:ENGINE".into(), endpoint: "tcp://home.lan:2376".into() };
    let journal = Journal::new(
        replacement,
        "20261201T000000Z-db-home-aaaaa",
        std::path::Path::new("/nowhere"),
        elsewhere,
    );
    let dir = home.path().join("state/wharf/restores");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("0123456789ab.json");
    std::fs::write(&file, serde_json::to_vec(&journal).unwrap()).unwrap();

    let out = crate::backup::wharf(&["doctor", "--fix"], home.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("a restore into db was cut short on the engine at tcp://home.lan:2376, not this one"),
        "{said}"
    );
    assert!(said.contains("run wharf with --docker-host tcp://home.lan:2376 to finish it"), "{said}");
    let kept: Journal = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(kept, journal, "the journal is kept as it was");
}
