//! `wharf export`: any snapshot as the plain file it holds, read by tools
//! that know nothing of wharf (`tar`, `pg_restore`), written whole or not at
//! all, never over a file that is there, and refused when the bucket's copy
//! does not match its manifest.

use std::process::Command;

use crate::backup::{bucket, data_container, postgres_app, postgres_profile, stderr, wharf};
use crate::support::{Cleanup, docker, moto_clients};

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn md5(path: &std::path::Path) -> String {
    let out = Command::new("md5sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_snapshot_is_a_tar_zst_that_tar_reads_and_nothing_is_overwritten() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.t]\nbucket = \"{bucket}\"\n[profiles.t.database]\ncontainer = \"{container}\"\npath = \"/data\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    let id = json(&wharf(&["backup", "--json"], home.path()))["id"].as_str().unwrap().to_string();

    // With no -o: `<id>.tar.zst` in the working directory (the chunks the backup kept here, one after another).
    let exported = json(&wharf(&["export", &id, "--json"], home.path()));
    let file = home.path().join(format!("{id}.tar.zst"));
    assert_eq!(exported["file"], format!("{id}.tar.zst"));
    assert!(file.is_file());
    // What tar makes of it is what the container holds (the directory by its name, as `docker cp` gives it).
    let out_dir = home.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let tar =
        Command::new("tar").arg("--zstd").arg("-xf").arg(&file).arg("-C").arg(&out_dir).output().unwrap();
    assert!(tar.status.success(), "{}", String::from_utf8_lossy(&tar.stderr));
    let inside = docker(&["exec", &container, "md5sum", "/data/blob.bin"]);
    assert_eq!(md5(&out_dir.join("data/blob.bin")), inside.split_whitespace().next().unwrap());
    assert_eq!(std::fs::read_to_string(out_dir.join("data/nested/deeper/note.txt")).unwrap(), "hello\n");
    assert_eq!(
        std::fs::read_link(out_dir.join("data/link-to-note")).unwrap().to_str(),
        Some("nested/deeper/note.txt")
    );

    // Again to the same file: refused before anything is fetched, the file as it was.
    let before = md5(&file);
    let out = wharf(&["export", &id, "-o", file.to_str().unwrap()], home.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is there already"), "{}", stderr(&out));
    assert_eq!(md5(&file), before);
    // Elsewhere: from the cache now; what an export killed on the way left there goes.
    let again = home.path().join("again.tar.zst");
    let dead = home.path().join(".again.tar.zst.part-4194303");
    std::fs::write(&dead, b"half an export").unwrap();
    let exported = json(&wharf(&["export", &id, "-o", again.to_str().unwrap(), "--json"], home.path()));
    assert_eq!(exported["from_cache"], true);
    assert_eq!(md5(&again), before);
    assert!(!dead.exists(), "the part file of a killed export is gone");

    // The bucket's copy changed behind wharf's back, on a machine without the cached copy:
    // refused, and no file (whole or part) is left.
    // (A chunk of it: a chunk's bytes that are not its name.)
    let s3 = moto_clients().await.s3;
    let key = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let key =
        key.contents().iter().filter_map(|o| o.key()).find(|k| k.starts_with("chunks/")).unwrap().to_string();
    let body = crate::backup::object(&bucket, &key).await;
    let plain = zstd::decode_all(&body[..]).unwrap();
    let mut bad = plain.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0xff;
    let bad = zstd::encode_all(&bad[..], 3).unwrap();
    s3.put_object().bucket(&bucket).key(&key).body(bad.into()).send().await.unwrap();
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(home.path().join("wharf.toml"), other.path().join("wharf.toml")).unwrap();
    let out = wharf(&["export", &id, "-o", "bad.tar.zst"], other.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is refused"), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(other.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(!left.iter().any(|n| n.to_string_lossy().contains("bad.tar.zst")), "nothing written: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_snapshot_is_a_dump_pg_restore_reads() {
    let mut cleanup = Cleanup::default();
    let container = postgres_app(
        &mut cleanup,
        "CREATE TABLE orders (id int primary key, item text); INSERT INTO orders VALUES (1, 'anchor')",
    );
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wharf.toml"), postgres_profile(&bucket, &container)).unwrap();
    let id = json(&wharf(&["backup", "--json"], home.path()))["id"].as_str().unwrap().to_string();
    let exported = json(&wharf(&["export", &id, "--json"], home.path()));
    assert_eq!(exported["file"], format!("{id}.dump"), "pg_dump's custom format");
    let list = Command::new("pg_restore")
        .arg("--list")
        .arg(home.path().join(format!("{id}.dump")))
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("TABLE public orders"), "{listed}");
    assert!(listed.contains("TABLE DATA public orders"), "{listed}");
}
