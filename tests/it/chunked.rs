//! Chunked snapshots (format 2) where users have them: a named volume of
//! incompressible files, backed up and restored through the realism layer
//! counting the bytes each way; a chunk damaged in the bucket; prunes racing
//! backups from two homes; a backup killed on the way.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::backup::{bucket, stderr, wharf_at};
use crate::support::{Cleanup, Realism, docker, test_image, unique, wharf_against};

/// A container whose `/data` is a named volume holding `files` × `mib` MiB of random bytes.
fn volume_container(cleanup: &mut Cleanup, files: u32, mib: u32) -> String {
    let name = unique("wharf-it-chunk");
    let volume = format!("{name}-vol");
    docker(&["volume", "create", &volume]);
    cleanup.volumes.push(volume.clone());
    docker(&["run", "-d", "--name", &name, "-v", &format!("{volume}:/data"), test_image(), "sleep", "3600"]);
    cleanup.containers.push(name.clone());
    let fill = format!(
        "for i in $(seq 1 {files}); do dd if=/dev/urandom of=/data/f$i bs=1048576 count={mib} 2>/dev/null; done"
    );
    docker(&["exec", &name, "sh", "-c", &fill]);
    name
}

/// Every file under `/data` with its size and MD5, sorted.
fn sums(container: &str) -> String {
    docker(&[
        "exec",
        container,
        "sh",
        "-c",
        "cd /data && find . -type f | sort | xargs md5sum && du -a . | sort",
    ])
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn home_with(bucket: &str, container: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.t]\nbucket = \"{bucket}\"\nprefix = \"p\"\n[profiles.t.database]\ncontainer = \"{container}\"\npath = \"/data\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    home
}

fn bytes(layer: &Realism, way: &str) -> u64 {
    layer.stats()["bytes"][way].as_u64().unwrap()
}

fn reset(layer: &Realism) {
    let status = std::process::Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-X", "POST", &format!("{}/realism/reset", layer.url)])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_change_sends_a_small_backup_and_a_machine_holding_the_last_fetches_only_the_change() {
    let mut cleanup = Cleanup::default();
    // 256 MiB of incompressible files in a named volume.
    let laptop_db = volume_container(&mut cleanup, 8, 32);
    let bucket = bucket().await;
    let layer = Realism::start(&["--latency-ms", "5"]);
    let laptop = home_with(&bucket, &laptop_db);

    let first = json(&wharf_at(&layer.url, &["backup", "--json"], laptop.path()));
    let first_up = bytes(&layer, "up");
    assert_eq!(first["format"], 2, "{first}");
    assert!(first_up >= 256 << 20, "the first backup sends everything: {first_up}");
    let before = sums(&laptop_db);

    // 164 KiB written in the middle of one file.
    docker(&[
        "exec",
        &laptop_db,
        "sh",
        "-c",
        "dd if=/dev/urandom of=/data/f4 bs=1024 count=164 seek=12000 conv=notrunc 2>/dev/null",
    ]);
    let after = sums(&laptop_db);
    assert_ne!(before, after);
    reset(&layer);
    let second = json(&wharf_at(&layer.url, &["backup", "--json"], laptop.path()));
    let second_up = bytes(&layer, "up");
    eprintln!("first backup sent {first_up} bytes, the second {second_up} ({second})");
    assert!(
        (second_up as f64) <= 0.05 * first_up as f64,
        "the second backup sends at most 5 % of the first: {second_up} of {first_up}"
    );
    assert!(second["new_chunks"].as_u64().unwrap() <= 4, "{second}");

    // The listing and its cost count each chunk once.
    let listed = json(&wharf_at(&layer.url, &["snapshots", "--json"], laptop.path()));
    let newest = &listed[0];
    assert_eq!(newest["id"], second["id"]);
    assert_eq!(newest["stored_bytes"], second["new_bytes"], "what it stores of its own: {newest}");
    assert!(newest["shared_bytes"].as_u64().unwrap() > 250 << 20, "{newest}");
    let text = wharf_at(&layer.url, &["snapshots"], laptop.path());
    let said = String::from_utf8_lossy(&text.stdout).to_string();
    let cost = said.lines().find(|l| l.starts_with("storage:")).unwrap_or_else(|| panic!("{said}"));
    // Two snapshots of 256 MiB sharing all but a few chunks are billed once: 268.x MB, not 537.
    let standard = cost.split("STANDARD ").nth(1).and_then(|t| t.split(' ').next()).unwrap();
    let mb: f64 = standard.parse().unwrap();
    assert!((268.0..280.0).contains(&mb) && cost.contains(" MB $"), "{cost}");
    let puts = second["new_chunks"].as_u64().unwrap() + 1;
    assert!(cost.contains(&format!("the last backup made {puts} PUT requests")), "{cost}");

    // An empty machine restores the first exactly.
    let home_db = volume_container(&mut cleanup, 1, 1);
    let home = home_with(&bucket, &home_db);
    reset(&layer);
    let id1 = first["id"].as_str().unwrap();
    let out = wharf_at(&layer.url, &["restore", id1, "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sums(&home_db), before, "the first snapshot, exactly");
    let first_down = bytes(&layer, "down");
    assert!(first_down >= 256 << 20, "everything came down: {first_down}");

    // The machine holding the first restores the second exactly, fetching only what changed.
    reset(&layer);
    let id2 = second["id"].as_str().unwrap();
    let out = wharf_at(&layer.url, &["restore", id2, "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sums(&home_db), after, "the second snapshot, exactly");
    let second_down = bytes(&layer, "down");
    eprintln!("restores downloaded {first_down} bytes, then {second_down}");
    assert!(
        (second_down as f64) <= 0.05 * (256u64 << 20) as f64,
        "the next restore downloads at most 5 %: {second_down}"
    );

    // And a third machine, empty, restores the second exactly.
    let third_db = volume_container(&mut cleanup, 1, 1);
    let third = home_with(&bucket, &third_db);
    let out = wharf_at(&layer.url, &["restore", id2, "--yes"], third.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sums(&third_db), after);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunk_damaged_in_the_bucket_is_refused_and_the_container_is_untouched() {
    let mut cleanup = Cleanup::default();
    let db = volume_container(&mut cleanup, 2, 2);
    let bucket = bucket().await;
    let laptop = home_with(&bucket, &db);
    let backup = json(&crate::backup::wharf(&["backup", "--json"], laptop.path()));
    assert!(backup["chunks"].as_u64().unwrap() >= 4, "{backup}");

    // One chunk's bytes change in the bucket (still a zstd frame, of other bytes).
    let s3 = crate::support::moto_clients().await.s3;
    let listed = s3.list_objects_v2().bucket(&bucket).prefix("p/chunks/").send().await.unwrap();
    let key = listed.contents()[1].key().unwrap().to_string();
    let mut plain = zstd::decode_all(&crate::backup::object(&bucket, &key).await[..]).unwrap();
    plain[1000] ^= 0x40;
    let bad = zstd::encode_all(&plain[..], 3).unwrap();
    s3.put_object().bucket(&bucket).key(&key).body(bad.into()).send().await.unwrap();

    // Another machine's container, with data of its own: a restore is refused, nothing touched.
    let other_db = volume_container(&mut cleanup, 1, 1);
    let before = sums(&other_db);
    let other = home_with(&bucket, &other_db);
    let id = backup["id"].as_str().unwrap();
    let out = crate::backup::wharf(&["restore", id, "--yes"], other.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    let name = key.rsplit('/').next().unwrap();
    assert!(said.contains(&format!("chunk {name}")) && said.contains("is refused"), "{said}");
    assert!(said.contains(&format!("{other_db} is untouched")), "{said}");
    assert_eq!(sums(&other_db), before, "the container as it was");
    let kept = other.path().join("cache/wharf/chunks").join(&name[..2]).join(name);
    assert!(!kept.exists(), "the damaged chunk is not kept");

    // The machine that made it holds the good chunk: it restores from its own store.
    let out = crate::backup::wharf(&["restore", id, "--yes"], laptop.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// One machine's home, running wharf against `url` with its own host name.
struct Home {
    dir: tempfile::TempDir,
    host: &'static str,
}

impl Home {
    fn new(host: &'static str, bucket: &str, container: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[profiles.t]\nbucket = \"{bucket}\"\nprefix = \"p\"\n[profiles.t.database]\ncontainer = \"{container}\"\n\
             preset = \"custom\"\n\
             backup_command = [\"sh\", \"-c\", \"cat /data/f1; sleep 1.5; cat /data/note\"]\n\
             restore_command = [\"sh\", \"-c\", \"cat > /dev/null\"]\n"
        );
        std::fs::write(dir.path().join("wharf.toml"), config).unwrap();
        Home { dir, host }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = wharf_against(&crate::support::aws_url(), self.dir.path());
        command.args(args).env("WHARF_HOST", self.host).env("AWS_MAX_ATTEMPTS", "3");
        command
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }
}

/// Fetches every snapshot `home` lists on an empty machine, whole (its chunks
/// each checked, then the stream's SHA-256); returns the listing.
fn every_listed_snapshot_is_whole(home: &Home, bucket: &str, container: &str) -> Vec<serde_json::Value> {
    let listed = json(&home.command(&["snapshots", "--json"]).output().unwrap());
    let listed = listed.as_array().unwrap().clone();
    let empty = Home::new("empty", bucket, container);
    for snapshot in &listed {
        assert_eq!(snapshot["complete"], true, "{snapshot}");
        let id = snapshot["id"].as_str().unwrap();
        let to = empty.dir.path().join(format!("{id}.dump"));
        let out = empty.command(&["export", id, "-o", to.to_str().unwrap()]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{id} cannot be fetched whole: {}", stderr(&out));
    }
    listed
}

#[tokio::test(flavor = "multi_thread")]
async fn prunes_racing_backups_from_two_homes_leave_every_listed_snapshot_whole() {
    let mut cleanup = Cleanup::default();
    let bucket = bucket().await;
    let dbs = [volume_container(&mut cleanup, 1, 2), volume_container(&mut cleanup, 1, 2)];
    let homes = [Home::new("laptop", &bucket, &dbs[0]), Home::new("home", &bucket, &dbs[1])];
    let pruner = Home::new("pruner", &bucket, &dbs[0]);
    let mut freed_during = 0;
    let mut backed_up = Vec::new();
    for round in 0..5u32 {
        for (db, _) in dbs.iter().zip(&homes) {
            docker(&["exec", db, "sh", "-c", &format!("echo round {round} > /data/note")]);
        }
        // Both homes back up; their streams pause 1.5 s after the big file, when the
        // chunks they count on are known and not yet named by any manifest. A prune
        // deleting everything but head runs into that, at a different moment each
        // round: before the backups start, as they list, in their pause, as they end.
        let prune_first = round == 0;
        let prune = || pruner.spawn(&["prune", "--older-than", "1s", "--yes", "--json"]);
        let early = prune_first.then(prune);
        if prune_first {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        // (Two containers on one line diverge: each backup takes head, to exit 0.)
        let runs: Vec<Child> = homes.iter().map(|h| h.spawn(&["backup", "--force-head", "--json"])).collect();
        let late = match round {
            0 => None,
            _ => {
                tokio::time::sleep(Duration::from_millis([0, 100, 700, 1200, 1900][round as usize])).await;
                Some(prune())
            }
        };
        for run in early.into_iter().chain(late) {
            let pruned = json(&run.wait_with_output().unwrap());
            if pruned["chunks_kept_because"].is_null() {
                freed_during += pruned["freed_chunks"].as_u64().unwrap();
            }
        }
        for run in runs {
            let out = run.wait_with_output().unwrap();
            let result = json(&out);
            backed_up.push(result["id"].as_str().unwrap().to_string());
        }
        // Before the next round's prune takes them: every snapshot listed is whole.
        every_listed_snapshot_is_whole(&pruner, &bucket, &dbs[0]);
    }
    eprintln!("chunks freed by prunes that ran beside backups: {freed_during}");

    // A prune with nothing running frees what no snapshot uses.
    let settled = json(&pruner.command(&["prune", "--json", "--yes"]).output().unwrap());
    assert!(settled["chunks_kept_because"].is_null(), "{settled}");

    let listed = every_listed_snapshot_is_whole(&pruner, &bucket, &dbs[0]);
    assert!(!listed.is_empty(), "head at least: {listed:?}");
    let newest = &backed_up[backed_up.len() - 2..];
    assert!(listed.iter().any(|s| s["id"] == newest[0].as_str() || s["id"] == newest[1].as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_a_chunked_backup_leaves_nothing_listed_and_doctor_and_prune_settle_the_rest() {
    let mut cleanup = Cleanup::default();
    let bucket = bucket().await;
    let db = volume_container(&mut cleanup, 1, 4);
    let laptop = Home::new("laptop", &bucket, &db);
    docker(&["exec", &db, "sh", "-c", "echo first > /data/note"]);
    let s3 = crate::support::moto_clients().await.s3;
    let keys = |prefix: &'static str| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            let listed = s3.list_objects_v2().bucket(&bucket).prefix(prefix).send().await.unwrap();
            listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
        }
    };
    for wait in [Duration::from_millis(200), Duration::from_millis(900), Duration::from_millis(1400)] {
        let mut run = laptop.spawn(&["backup"]);
        let started = Instant::now();
        // Killed once its lock is there, at a different moment each time.
        while keys("p/locks/").await.is_empty() {
            assert!(started.elapsed() < Duration::from_secs(20), "the backup never took its lock");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(wait).await;
        run.kill().unwrap();
        run.wait().unwrap();
        let listed = json(&laptop.command(&["snapshots", "--json"]).output().unwrap());
        assert!(listed.as_array().unwrap().iter().all(|s| s["complete"] == false), "{listed}");
    }
    assert!(!keys("p/locks/").await.is_empty(), "the killed backups' locks are left");

    // A prune meanwhile frees nothing: the locks are fresh and may be a running backup's.
    let pruned = json(&laptop.command(&["prune", "--yes", "--json"]).output().unwrap());
    assert!(pruned["chunks_kept_because"].as_str().unwrap().contains("backup on laptop"), "{pruned}");

    let doctor = laptop.command(&["doctor"]).output().unwrap();
    let said = String::from_utf8_lossy(&doctor.stdout).to_string() + &stderr(&doctor);
    assert!(said.contains("lock ") && said.contains("is gone"), "{said}");
    let fixed = laptop.command(&["doctor", "--fix"]).output().unwrap();
    assert_eq!(fixed.status.code(), Some(0), "{}", stderr(&fixed));
    assert!(keys("p/locks/").await.is_empty(), "doctor --fix deleted the dead locks");
    let pruned = json(&laptop.command(&["prune", "--yes", "--json"]).output().unwrap());
    assert!(pruned["chunks_kept_because"].is_null(), "{pruned}");
    assert!(keys("p/chunks/").await.is_empty(), "the chunks no snapshot names are freed: {pruned}");

    // And the next backup is whole.
    let out = laptop.command(&["backup", "--json"]).output().unwrap();
    let backup = json(&out);
    let to = laptop.dir.path().join("x.dump");
    let out = laptop
        .command(&["export", backup["id"].as_str().unwrap(), "-o", to.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&to).unwrap().len(), (4 << 20) + 6, "the file and the note");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restores_safety_copy_writes_only_what_the_store_lacks_and_outlives_the_cache_limit() {
    let mut cleanup = Cleanup::default();
    // 64 MiB of incompressible files in a named volume, backed up: the store holds its chunks.
    let db = volume_container(&mut cleanup, 8, 8);
    let bucket = bucket().await;
    let laptop = home_with(&bucket, &db);
    let wharf = |args: &[&str]| crate::backup::wharf(args, laptop.path());
    let snapshot = json(&wharf(&["backup", "--json"]));
    let id = snapshot["id"].as_str().unwrap();
    let backed_up = sums(&db);
    // 164 KiB changed since.
    docker(&[
        "exec",
        &db,
        "sh",
        "-c",
        "dd if=/dev/urandom of=/data/f4 bs=1024 count=164 seek=3000 conv=notrunc 2>/dev/null",
    ]);
    let changed = sums(&db);
    let cache = laptop.path().join("cache/wharf");
    // What the cache takes on disk: each file once, however many links it has.
    let store_size = || {
        use std::os::unix::fs::MetadataExt;
        let mut seen = std::collections::HashSet::new();
        let mut bytes = 0;
        let mut dirs = vec![cache.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    dirs.push(entry.path());
                } else if seen.insert(meta.ino()) {
                    bytes += meta.len();
                }
            }
        }
        bytes
    };
    let before = store_size();

    // The restore's safety copy of what changed writes only the chunks around the change.
    let restored = json(&wharf(&["restore", id, "--yes", "--json"]));
    assert_eq!(sums(&db), backed_up, "the snapshot, exactly");
    let written = restored["safety_copy_written_bytes"].as_u64().unwrap();
    let grown = store_size() - before;
    eprintln!("the safety copy wrote {written} bytes; the cache grew by {grown} on disk");
    // The change and the chunks around it, at most (of 64 MiB).
    let around = (164 << 10) + 3 * wharf::snapshots::chunks::MAX_SIZE as u64;
    assert!(written > 0 && written <= around, "{restored}");
    // (Its manifest, the journal's leftovers and lock files are a few kB.)
    assert!(grown <= around + (64 << 10), "the cache grew by {grown} on disk");
    let notes = restored["notes"][0].as_str().unwrap();
    assert!(notes.contains("written, the rest was in this machine's chunk store"), "{notes}");
    let safety = std::path::PathBuf::from(restored["safety_copy"].as_str().unwrap());
    let manifest = wharf::snapshots::local::LocalSnapshot::manifest_in(&safety).unwrap();
    assert_eq!(manifest.format, 2);
    assert!(manifest.raw_bytes > 64 << 20, "the whole of what was replaced: {}", manifest.raw_bytes);

    // Undo puts back what changed, exactly; its own safety copy (of the snapshot's data) writes nothing new.
    let undone = json(&wharf(&["restore", "--undo", "--yes", "--json"]));
    assert_eq!(sums(&db), changed, "what the restore replaced, exactly");
    assert!(undone["safety_copy_written_bytes"].as_u64().unwrap() <= around, "{undone}");

    // A new file, backed up: its copy's chunks are no safety copy's.
    docker(&["exec", &db, "sh", "-c", "head -c 8388608 /dev/urandom > /data/new"]);
    // (After an undo the data is of no known place in the line: it is made head on purpose.)
    let second = json(&wharf(&["backup", "--force-head", "--json"]));
    let id2 = second["id"].as_str().unwrap();

    // With a cache limit of 1 MiB both snapshot copies go, with their chunks; no
    // chunk a safety copy names goes.
    let config = laptop.path().join("wharf.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("prefix = \"p\"\n", "prefix = \"p\"\ncache_limit = \"1MiB\"\n"))
        .unwrap();
    let out = wharf(&["doctor", "--fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!cache.join("snapshots").join(id2).exists(), "the second snapshot's copy is trimmed");
    assert!(!cache.join("snapshots").join(id).exists(), "and the first");
    let usage = wharf::snapshots::cache::usage(&cache);
    assert!(usage.bounded <= 1 << 20 && usage.safety > 64 << 20, "{usage:?}");
    let safety_chunks = wharf::snapshots::local::safety_chunks(&cache);
    let store = wharf::snapshots::store::Store::safety(&cache);
    assert!(safety_chunks.iter().all(|c| store.has(c)), "every chunk a safety copy names is there");
    let out = wharf(&["restore", "--undo", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sums(&db), backed_up, "the newest safety copy (the snapshot's data), exactly");
}
