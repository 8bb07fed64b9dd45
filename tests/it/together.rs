//! Many at once, as users really are: two machines backing up one container
//! in the same second, a prune on one machine while the other backs up, a
//! newer wharf's snapshots in the bucket, and a backup asked for while a
//! restore is replacing the data. The real binary, two XDG homes, the real
//! engine, moto behind the realism layer.

use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::backup::{bucket, data_container, object, stderr};
use crate::machines::Machine;
use crate::support::{Cleanup, docker, eventually, moto_clients, test_image, unique};

/// A machine backing up `container`'s `/data` into `bucket`/`prefix`.
fn machine(
    host: &'static str,
    container: &str,
    bucket: &str,
    prefix: &str,
    cleanup: &mut Cleanup,
) -> Machine {
    let profile = format!("bucket = \"{bucket}\"\nprefix = \"{prefix}\"\n");
    Machine::new(host, container.to_string(), &profile, "path = \"/data\"\n", cleanup)
}

/// Gives `machine` a lock directory of its own: a machine of its own, with its own engine.
fn own_machine(machine: &mut Machine) {
    let dir = machine.home.path().join("locks");
    machine.env.push(("WHARF_LOCK_DIR".into(), dir.display().to_string()));
}

fn spawn(machine: &Machine, args: &[&str]) -> Child {
    machine.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// The snapshot's manifest, and whether its data object is whole: its size
/// and SHA-256 (downloaded and hashed) as the manifest says.
async fn check_whole(bucket: &str, prefix: &str, id: &str) -> serde_json::Value {
    let manifest: serde_json::Value =
        serde_json::from_slice(&object(bucket, &format!("{prefix}/{id}/manifest.json")).await)
            .unwrap_or_else(|e| panic!("{id} has no readable manifest: {e}"));
    let (data, size) = match manifest["format"].as_u64() {
        // Chunked: every chunk there, each its name, and the stream they make the manifest's.
        Some(2) => {
            let mut whole = Vec::new();
            for chunk in manifest["chunks"].as_array().unwrap() {
                let name = chunk["sha256"].as_str().unwrap();
                let stored = object(bucket, &format!("{}{name}", manifest["key"].as_str().unwrap())).await;
                let plain = zstd::decode_all(&stored[..]).unwrap();
                assert_eq!(format!("{:x}", Sha256::digest(&plain)), name, "{id}: chunk {name}");
                whole.extend(plain);
            }
            (whole, manifest["raw_bytes"].as_u64().unwrap())
        }
        _ => (
            object(bucket, manifest["key"].as_str().unwrap()).await,
            manifest["stored_bytes"].as_u64().unwrap(),
        ),
    };
    assert_eq!(data.len() as u64, size, "{id}: size");
    assert_eq!(format!("{:x}", Sha256::digest(&data)), manifest["sha256"].as_str().unwrap(), "{id}: SHA-256");
    manifest
}

#[tokio::test(flavor = "multi_thread")]
async fn two_machines_backing_up_one_container_in_the_same_second_keep_every_snapshot_whole() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    // The same compose file on both, the same host name even: only the ids' random part tells them apart.
    let mut laptop = machine("twin", &container, &bucket, "line", &mut cleanup);
    let mut home = machine("twin", &container, &bucket, "line", &mut cleanup);
    own_machine(&mut laptop);
    own_machine(&mut home);
    let mut stored = Vec::new();
    let mut same_second = 0;
    for round in 0..5 {
        let runs = [spawn(&laptop, &["backup", "--json"]), spawn(&home, &["backup", "--json"])];
        let mut ids = Vec::new();
        for run in runs {
            let out = run.wait_with_output().unwrap();
            let code = out.status.code();
            assert!(matches!(code, Some(0 | 3)), "round {round}: exit {code:?}: {}", stderr(&out));
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            ids.push(json["id"].as_str().unwrap().to_string());
        }
        if ids[0][..16] == ids[1][..16] {
            same_second += 1;
        }
        stored.extend(ids);
    }
    let distinct: std::collections::BTreeSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), 10, "ten ids: {stored:?}");
    assert!(same_second > 0, "no round had both backups in the same second: {stored:?}");
    for id in &stored {
        check_whole(&bucket, "line", id).await;
    }
    let head: serde_json::Value = serde_json::from_slice(&object(&bucket, "line/HEAD.json").await).unwrap();
    let head = head["snapshot"].as_str().unwrap();
    assert!(stored.iter().any(|id| id == head), "head {head} is one of them");
    // The listing agrees: ten complete snapshots, nothing half there.
    let listed = laptop.json(&["snapshots"], 0);
    let complete = listed.as_array().unwrap().iter().filter(|s| s["complete"] == true).count();
    assert_eq!(complete, 10, "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_keeps_what_a_newer_wharf_wrote_and_what_it_cannot_read() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    let laptop = machine("laptop", &container, &bucket, "p", &mut cleanup);
    laptop.json(&["backup"], 0);
    let s3 = moto_clients().await.s3;
    let put =
        |key: &str, body: &[u8]| s3.put_object().bucket(&bucket).key(key).body(body.to_vec().into()).send();
    // Two days old, both: past any grace period.
    let newer = "20261101T000000Z-db-home-new99";
    put(&format!("p/{newer}/manifest.json"), br#"{"format": 99, "id": "x", "chunks": []}"#).await.unwrap();
    let garbled = "20261101T000000Z-db-home-bad00";
    put(&format!("p/{garbled}/manifest.json"), b"{\"format\": 1, \"id\":").await.unwrap();
    put(&format!("p/{garbled}/data.tar.zst"), b"data").await.unwrap();

    let out = laptop.wharf(&["prune", "--keep", "1", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains(&format!("keep {newer} (written by a newer wharf (manifest format 99)")), "{said}");
    assert!(said.contains(&format!("keep {garbled} (unreadable manifest: ")), "{said}");
    for key in [
        format!("p/{newer}/manifest.json"),
        format!("p/{garbled}/manifest.json"),
        format!("p/{garbled}/data.tar.zst"),
    ] {
        s3.head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} is gone: {e}"));
    }
    // The listing shows them, with what is wrong.
    let listed = laptop.json(&["snapshots"], 0);
    let problem = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .and_then(|s| s["problem"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(problem(newer).starts_with("written by a newer wharf"), "{listed}");
    assert!(problem(garbled).starts_with("unreadable manifest"), "{listed}");
    // Restoring or exporting one says the same, and changes nothing.
    for args in [vec!["restore", newer, "--yes"], vec!["export", newer, "-o", "newer.out"]] {
        let out = laptop.wharf(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let said = stderr(&out);
        assert!(
            said.contains(&format!(
                "snapshot {newer}: written by a newer wharf (manifest format 99); upgrade wharf"
            )),
            "{said}"
        );
    }
    let out = laptop.wharf(&["export", garbled, "-o", "garbled.out"]);
    assert!(stderr(&out).contains(&format!("snapshot {garbled}: unreadable manifest: ")), "{}", stderr(&out));
}

/// Open multipart uploads under `prefix`, each with how many parts it has.
async fn open_uploads(bucket: &str, prefix: &str) -> Vec<(String, usize)> {
    let s3 = moto_clients().await.s3;
    let out = s3.list_multipart_uploads().bucket(bucket).prefix(prefix).send().await.unwrap();
    let mut open = Vec::new();
    for u in out.uploads() {
        let (key, id) = (u.key().unwrap(), u.upload_id().unwrap());
        let parts = s3.list_parts().bucket(bucket).key(key).upload_id(id).send().await.unwrap();
        open.push((key.to_string(), parts.parts().len()));
    }
    open
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prune_on_either_machine_leaves_a_running_backup_alone_and_aborts_a_dead_one_of_its_own() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    // A dump that sends 12 MiB, then thinks for a while (a big database), then the rest.
    let slow = r#"preset = "custom"
backup_command = ["sh", "-c", "head -c 12582912 /dev/urandom; sleep 6; head -c 1048576 /dev/urandom"]
restore_command = ["sh", "-c", "cat > /dev/null"]
"#;
    // Multipart uploads are format 1's (chunked backups: `chunked::prunes_racing_backups…`).
    let profile = format!("bucket = \"{bucket}\"\nprefix = \"p\"\nsnapshot_format = \"full\"\n");
    let laptop = Machine::new("laptop", container.clone(), &profile, slow, &mut cleanup);
    let home = Machine::new("home", container.clone(), &profile, slow, &mut cleanup);

    let running = spawn(&laptop, &["backup", "--json"]);
    let started = Instant::now();
    let mut open = Vec::new();
    while open.iter().all(|(_, parts)| *parts == 0) {
        assert!(started.elapsed() < Duration::from_secs(30), "the backup never sent a part");
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = open_uploads(&bucket, "p/").await;
    }
    // Both machines prune while the laptop's backup is half-way: neither touches it.
    for pruner in [&home, &laptop] {
        let out = pruner.wharf(&["prune", "--yes", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["aborted_uploads"], serde_json::json!([]), "{} aborted it: {result}", pruner.host);
    }
    let out = running.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the backup went on: {}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = check_whole(&bucket, "p", result["id"].as_str().unwrap()).await;
    assert_eq!(manifest["raw_bytes"], 13 << 20);

    // A backup killed mid-upload: the other machine cannot tell it is dead (it is an
    // hour from a day old); this machine's records can, and its prune aborts it.
    let mut dead = spawn(&laptop, &["backup"]);
    let started = Instant::now();
    while open_uploads(&bucket, "p/").await.iter().all(|(_, parts)| *parts == 0) {
        assert!(started.elapsed() < Duration::from_secs(30), "the backup never sent a part");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dead.kill().unwrap();
    dead.wait().unwrap();
    let out = home.wharf(&["prune", "--yes", "--json"]);
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["aborted_uploads"], serde_json::json!([]), "{result}");
    let out = laptop.wharf(&["prune", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["aborted_uploads"].as_array().map(Vec::len), Some(1), "{result}");
    assert!(open_uploads(&bucket, "p/").await.is_empty());
}

/// Every file under `/data`, with its size and checksum.
fn listing(container: &str) -> String {
    docker(&["exec", container, "sh", "-c", "cd /data && find . -type f | sort | xargs md5sum"])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_asked_for_during_a_restore_waits_for_it_and_stores_whole_data() {
    let mut cleanup = Cleanup::default();
    // The data on a named volume, as databases keep it.
    let container = unique("wharf-it-vol");
    let volume = format!("{container}-data");
    docker(&[
        "run",
        "-d",
        "--stop-timeout",
        "1",
        "--name",
        &container,
        "-v",
        &format!("{volume}:/data"),
        test_image(),
        "sleep",
        "3600",
    ]);
    cleanup.containers.push(container.clone());
    cleanup.volumes.push(volume);
    let fill =
        "for i in 1 2 3 4 5 6; do dd if=/dev/urandom of=/data/part$i bs=1048576 count=16 2>/dev/null; done";
    docker(&["exec", &container, "sh", "-c", fill]);
    let bucket = bucket().await;
    let locks = tempfile::tempdir().unwrap();
    let mut laptop = machine("laptop", &container, &bucket, "p", &mut cleanup);
    let mut other = machine("laptop", &container, &bucket, "p", &mut cleanup);
    // One machine, two homes (two users, say): one lock directory.
    for m in [&mut laptop, &mut other] {
        m.env.push(("WHARF_LOCK_DIR".into(), locks.path().display().to_string()));
    }
    let old = listing(&container);
    let first = laptop.json(&["backup"], 0);
    let first = first["id"].as_str().unwrap().to_string();
    docker(&["exec", &container, "sh", "-c", "rm /data/part2 && echo new > /data/new"]);

    let restoring = spawn(&laptop, &["restore", &first, "--yes"]);
    let lock_says = || {
        std::fs::read_dir(locks.path())
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains("a restore into")))
    };
    eventually(Duration::from_secs(30), "the restore to take the container's lock", lock_says);

    let out = other.wharf(&["backup", "--no-wait"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&format!("{container} is busy: a restore into {container} is replacing its data")),
        "{said}"
    );
    assert!(said.contains("nothing was done"), "{said}");

    let waiting = spawn(&other, &["backup", "--json"]);
    let restored = restoring.wait_with_output().unwrap();
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    let out = waiting.wait_with_output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("waiting: a restore into {container} is replacing its data")),
        "{}",
        stderr(&out)
    );
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let second = second["id"].as_str().unwrap();
    let manifest = check_whole(&bucket, "p", second).await;
    assert!(manifest["raw_bytes"].as_u64().unwrap() > 96 << 20, "the whole directory: {manifest}");

    // What it stored is exactly the data the restore put back.
    assert_eq!(listing(&container), old);
    docker(&["exec", &container, "sh", "-c", "rm -r /data/* && echo scratch > /data/x"]);
    let out = laptop.wharf(&["restore", second, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(listing(&container), old, "the backup taken while the restore ran holds the restored data");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_whose_answer_was_lost_is_known_as_its_own_when_the_retry_meets_it() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    // The manifest and HEAD.json land, and their answers never come back: the
    // SDK retries, and S3 answers each retry 412, the key being there already.
    let layer = crate::support::Realism::start(&["--latency-ms", "5", "--lose", "s3:PUT=2"]);
    let laptop = machine("laptop", &container, &bucket, "p", &mut cleanup);
    // Full (format 1): its only whole-object PUTs are the manifest and HEAD.json (a
    // chunked backup's lock and chunks come first; the manifest is written the same way).
    let out = crate::backup::wharf_at(&layer.url, &["backup", "--full", "--json"], laptop.home.path());
    assert_eq!(layer.stats()["lost"]["s3:PUT"], 2, "{}", layer.stats());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["head"]["moved"], true, "{result}");
    let id = result["id"].as_str().unwrap();
    check_whole(&bucket, "p", id).await;
    let head: serde_json::Value = serde_json::from_slice(&object(&bucket, "p/HEAD.json").await).unwrap();
    assert_eq!(head["snapshot"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cache_stays_within_its_limit_and_keeps_what_a_job_uses() {
    let mut cleanup = Cleanup::default();
    let container = unique("wharf-it-cache");
    let volume = format!("{container}-data");
    docker(&[
        "run",
        "-d",
        "--stop-timeout",
        "1",
        "--name",
        &container,
        "-v",
        &format!("{volume}:/data"),
        test_image(),
        "sleep",
        "3600",
    ]);
    cleanup.containers.push(container.clone());
    cleanup.volumes.push(volume);
    let bucket = bucket().await;
    let laptop = machine("laptop", &container, &bucket, "p", &mut cleanup);
    let mut ids = Vec::new();
    let md5 = || docker(&["exec", &container, "md5sum", "/data/db"]);
    let mut sums = Vec::new();
    for _ in 0..4 {
        docker(&[
            "exec",
            &container,
            "sh",
            "-c",
            "dd if=/dev/urandom of=/data/db bs=1048576 count=15 2>/dev/null",
        ]);
        sums.push(md5());
        ids.push(laptop.json(&["backup"], 0)["id"].as_str().unwrap().to_string());
    }
    // The other machine, whose cache may hold 40 MiB.
    let profile = format!("bucket = \"{bucket}\"\nprefix = \"p\"\ncache_limit = \"40MiB\"\n");
    let home = Machine::new("home", container.clone(), &profile, "path = \"/data\"\n", &mut cleanup);
    let cache = home.home.path().join("cache/wharf");
    // Exports fetch each snapshot into the cache: the least recently used copies go first.
    let out_dir = tempfile::tempdir().unwrap();
    for (i, id) in ids.iter().enumerate() {
        let file = out_dir.path().join(format!("{i}.tar.zst"));
        let out = home.wharf(&["export", id, "-o", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let usage = wharf::snapshots::cache::usage(&cache);
        assert!(usage.bounded <= 40 << 20, "after export {}: {usage:?}", i + 1);
    }
    let copies = || -> Vec<String> {
        let mut kept: Vec<String> = std::fs::read_dir(cache.join("snapshots"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        kept.sort();
        kept
    };
    assert_eq!(copies(), ids[2..].to_vec(), "the least recently used went first");

    // A restore keeps a safety copy of what it replaces (ids[3]'s data) beside the limit.
    let out = home.wharf(&["restore", &ids[2], "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let usage = wharf::snapshots::cache::usage(&cache);
    assert!(usage.bounded <= 40 << 20 && usage.safety > 15 << 20, "{usage:?}");

    // The cache's chunk store holds the kept copies' chunks, the safety copies'
    // store the safety copy's (linked from it: nothing written twice), no others.
    let named = |dir: std::path::PathBuf| -> Vec<String> {
        let manifest = wharf::snapshots::local::LocalSnapshot::manifest_in(&dir).unwrap();
        manifest.chunks.into_iter().map(|c| c.sha256).collect()
    };
    let entries = |dir: std::path::PathBuf| std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path());
    let in_store = |store: &str| -> HashSet<String> {
        entries(cache.join(store))
            .filter(|p| p.is_dir())
            .flat_map(entries)
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect()
    };
    let safety: HashSet<String> = entries(cache.join("safety").join(&container)).flat_map(named).collect();
    assert!(!safety.is_empty(), "the safety copy is chunked");
    let wanted: HashSet<String> =
        copies().into_iter().flat_map(|id| named(cache.join("snapshots").join(id))).collect();
    assert_eq!(in_store("chunks"), wanted, "the chunks the copies name, each there, no others");
    assert_eq!(in_store("safety-chunks"), safety, "the chunks the safety copy names, no others");

    // A copy a job holds stays, however far over the limit; doctor says the sizes and trims the rest.
    std::fs::write(
        home.home.path().join("wharf.toml"),
        std::fs::read_to_string(home.home.path().join("wharf.toml")).unwrap().replace("40MiB", "1MiB"),
    )
    .unwrap();
    let held = wharf::snapshots::cache::hold(&cache, &ids[2]).unwrap();
    let out = home.wharf(&["doctor"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("in snapshot copies and manifests (limit 1.0 MB"), "{said}");
    assert!(said.contains("in safety copies (the newest 3 per container)"), "{said}");
    assert!(said.contains("over its limit: `wharf doctor --fix` trims it"), "{said}");
    let out = home.wharf(&["doctor", "--fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("trimmed the cache to its limit"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(copies(), ids[2..3].to_vec(), "the held copy stays, the other goes");
    drop(held);
    let out = home.wharf(&["doctor", "--fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(copies().is_empty(), "once let go, it goes too");
    assert!(in_store("chunks").is_empty(), "and every chunk with them");
    assert_eq!(in_store("safety-chunks"), safety, "the safety copy's stay whatever the limit");
    assert!(wharf::snapshots::cache::usage(&cache).bounded <= 1 << 20);
    // An undo puts back what the restore replaced, from the safety copies' store alone.
    let out = home.wharf(&["restore", "--undo", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(md5(), sums[3], "ids[3]'s data, as the restore found it");
}
