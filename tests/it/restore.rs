//! Restores where databases really keep their data: a named volume, a bind
//! mount, the container's own file system; running and stopped containers;
//! an image with every tool and one with almost none. Each time the real
//! `wharf` binary restores a snapshot into the real engine, the data must be
//! exactly the snapshot, and `--undo` must bring back exactly what was there.
//! Data is read back through the archive API (`docker cp`), which needs no
//! tool in the image and works on stopped containers.

use std::io::BufRead;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::backup::{bucket, stderr, wharf};
use crate::support::{Cleanup, docker, test_image, unique};

/// The image with almost no tools (`scripts/test-images.sh`).
const MINIMAL_IMAGE: &str = "wharf-test/minimal:latest";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Volume,
    Bind,
    OwnFs,
    /// `/srv/data` in a volume mounted at `/srv` (PGDATA in a subdirectory).
    InsideVolume,
}

impl Layout {
    fn dir(self) -> &'static str {
        if self == Layout::InsideVolume { "/srv/data" } else { "/data" }
    }
}

/// A directory `data` as a tar: every kind of thing a data directory holds,
/// owned by a database's user, with contents that differ with `seed`.
pub(crate) fn data_set(seed: u8, bytes: usize) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, body: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(999);
        h.set_gid(999);
        h.set_mtime(1_700_000_000 + seed as u64);
        h.set_size(body.len() as u64);
        match link {
            Some(target) => builder.append_link(&mut h, path, target).unwrap(),
            None => builder.append_data(&mut h, path, body).unwrap(),
        }
    };
    let mut blob = vec![0u8; bytes];
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed as u64;
    for b in blob.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    add("data", tar::EntryType::Directory, 0o750, b"", None);
    add("data/blob.bin", tar::EntryType::Regular, 0o640, &blob, None);
    add("data/nested", tar::EntryType::Directory, 0o700, b"", None);
    add("data/nested/deeper", tar::EntryType::Directory, 0o755, b"", None);
    add(
        "data/nested/deeper/note.txt",
        tar::EntryType::Regular,
        0o644,
        format!("seed {seed}\n").as_bytes(),
        None,
    );
    add("data/nested/private.key", tar::EntryType::Regular, 0o600, b"secret", None);
    add("data/empty", tar::EntryType::Directory, 0o755, b"", None);
    add(&format!("data/only-in-{seed}.txt"), tar::EntryType::Regular, 0o644, b"x", None);
    add("data/link", tar::EntryType::Symlink, 0o777, b"", Some("nested/deeper/note.txt"));
    add("data/dangling", tar::EntryType::Symlink, 0o777, b"", Some("/nowhere"));
    builder.into_inner().unwrap()
}

/// Puts the tar `data` into `/` of `container` (running, stopped or created).
fn put_data(container: &str, data: &[u8]) {
    put_data_in(container, "/", data)
}

fn put_data_in(container: &str, dir: &str, data: &[u8]) {
    let mut child = Command::new("docker")
        .args(["cp", "-", &format!("{container}:{dir}")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "docker cp into {container}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every entry of `/data` in `container` as the engine's archive has it: path,
/// type, mode, owner, size, mtime, link target and contents' SHA-256.
pub(crate) fn listing(container: &str) -> Vec<String> {
    listing_at(container, "/data")
}

fn listing_at(container: &str, dir: &str) -> Vec<String> {
    let out = Command::new("docker").args(["cp", &format!("{container}:{dir}"), "-"]).output().unwrap();
    assert!(out.status.success(), "docker cp from {container}: {}", String::from_utf8_lossy(&out.stderr));
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let mut rows: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            format!(
                "{} {:?} {:o} {}:{} {} {} {} {:x}",
                e.path().unwrap().display(),
                h.entry_type(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.size().unwrap(),
                h.mtime().unwrap(),
                e.link_name().unwrap().map(|l| l.display().to_string()).unwrap_or_default(),
                Sha256::digest(&body)
            )
        })
        .collect();
    rows.sort();
    rows
}

pub(crate) fn running(container: &str) -> bool {
    docker(&["inspect", "-f", "{{.State.Running}}", container]) == "true"
}

/// Helper containers of restores into `container` that are still there.
fn helpers_left(container: &str) -> String {
    let id = docker(&["inspect", "-f", "{{.Id}}", container]);
    docker(&["ps", "-a", "--filter", &format!("label=wharf.restore={id}"), "--format", "{{.Names}}"])
}

/// A container from `image` whose `/data` is laid out as `layout`, holding
/// `data`, running or not; a bind mount's host directory lives in `scratch`.
pub(crate) fn target(
    cleanup: &mut Cleanup,
    scratch: &Path,
    image: &str,
    layout: Layout,
    run: bool,
    data: &[u8],
) -> String {
    let name = unique("wharf-it-target");
    let mount = match layout {
        Layout::InsideVolume => {
            let volume = unique("wharf-it-vol");
            docker(&["volume", "create", &volume]);
            cleanup.volumes.push(volume.clone());
            Some(format!("{volume}:/srv"))
        }
        Layout::Volume => {
            let volume = unique("wharf-it-vol");
            docker(&["volume", "create", &volume]);
            cleanup.volumes.push(volume.clone());
            Some(format!("{volume}:/data"))
        }
        Layout::Bind => {
            let dir = scratch.join(&name);
            std::fs::create_dir(&dir).unwrap();
            Some(format!("{}:/data", dir.display()))
        }
        Layout::OwnFs => None,
    };
    let mut args = vec!["create", "--init", "--name", &name];
    if let Some(m) = &mount {
        args.extend(["-v", m]);
    }
    args.extend([image, "sleep", "3600"]);
    docker(&args);
    cleanup.containers.push(name.clone());
    put_data_in(&name, if layout == Layout::InsideVolume { "/srv" } else { "/" }, data);
    if run {
        docker(&["start", &name]);
    }
    name
}

/// A snapshot of `data` (taken from a container of the full image), its id.
pub(crate) async fn snapshot_of(
    cleanup: &mut Cleanup,
    scratch: &Path,
    home: &Path,
    bucket: &str,
    data: &[u8],
) -> String {
    let source = target(cleanup, scratch, test_image(), Layout::OwnFs, false, data);
    let out =
        // Snapshots of unrelated containers: each made head (a second one would
        // otherwise be off the line that the first started, and exit 3).
        wharf(&["backup", "--container", &source, "--path", "/data", "--bucket", bucket, "--json", "--force-head"], home);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    result["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_restore_is_exactly_the_snapshot_wherever_the_data_lives() {
    let mut cleanup = Cleanup::default();
    let scratch = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let bucket = bucket().await;
    let (old, new) = (data_set(1, 2 << 20), data_set(2, 3 << 20));
    let id = snapshot_of(&mut cleanup, scratch.path(), home.path(), &bucket, &new).await;
    let snapshot = listing(&target(&mut cleanup, scratch.path(), test_image(), Layout::OwnFs, false, &new));

    let mut failures = Vec::new();
    for image in [test_image(), MINIMAL_IMAGE] {
        for layout in [Layout::Volume, Layout::Bind, Layout::OwnFs, Layout::InsideVolume] {
            for run in [true, false] {
                let case = format!("{layout:?}, {}, {image}", if run { "running" } else { "stopped" });
                let container = target(&mut cleanup, scratch.path(), image, layout, run, &old);
                let dir = layout.dir();
                let before = listing_at(&container, dir);
                let restore =
                    ["restore", &id, "--container", &container, "--path", dir, "--bucket", &bucket, "--yes"];
                let out = wharf(&restore, home.path());
                if out.status.code() != Some(0) {
                    failures.push(format!("{case}: restore failed: {}", stderr(&out)));
                    continue;
                }
                let preview = stderr(&out);
                let wanted = match layout {
                    Layout::Volume => "(named volume",
                    Layout::Bind => "(bind mount of",
                    Layout::OwnFs => "(in the container's own file system)",
                    Layout::InsideVolume => "(inside named volume",
                };
                if !preview.contains(wanted) || preview.contains("is running: it is stopped first") != run {
                    failures
                        .push(format!("{case}: the confirmation does not say what it replaces: {preview}"));
                }
                let restored = listing_at(&container, dir);
                if restored != snapshot {
                    failures.push(format!("{case}: not the snapshot:\n{restored:#?}\nwanted\n{snapshot:#?}"));
                }
                if running(&container) != run {
                    failures.push(format!("{case}: running is {} after the restore", running(&container)));
                }
                let out = wharf(&["restore", "--undo", "--container", &container, "--yes"], home.path());
                if out.status.code() != Some(0) {
                    failures.push(format!("{case}: undo failed: {}", stderr(&out)));
                    continue;
                }
                if listing_at(&container, dir) != before {
                    failures.push(format!("{case}: undo did not bring back what was there"));
                }
                if running(&container) != run {
                    failures.push(format!("{case}: running is {} after the undo", running(&container)));
                }
                if !helpers_left(&container).is_empty() {
                    failures.push(format!("{case}: helper containers left: {}", helpers_left(&container)));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let journals = home.path().join("state/wharf/restores");
    let left: Vec<_> = std::fs::read_dir(&journals)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert!(left.is_empty(), "journals left: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn what_cannot_be_replaced_whole_is_refused_before_anything_is_touched() {
    let mut cleanup = Cleanup::default();
    let scratch = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let bucket = bucket().await;
    let (old, new) = (data_set(3, 64 << 10), data_set(4, 64 << 10));
    let id = snapshot_of(&mut cleanup, scratch.path(), home.path(), &bucket, &new).await;
    let restore = |container: &str| {
        wharf(&["restore", &id, "--container", container, "--bucket", &bucket, "--yes"], home.path())
    };

    // A volume mounted inside the directory: the restore could not replace it.
    let inner = unique("wharf-it-inner");
    cleanup.volumes.push(inner.clone());
    let nested = unique("wharf-it-nested");
    docker(&[
        "run",
        "-d",
        "--init",
        "--name",
        &nested,
        "-v",
        &format!("{inner}:/data/inner"),
        test_image(),
        "sleep",
        "3600",
    ]);
    cleanup.containers.push(nested.clone());
    put_data(&nested, &old);
    let before = listing(&nested);
    let out = restore(&nested);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was changed: /data/inner is a separate volume mounted inside /data"),
        "{}",
        stderr(&out)
    );
    assert_eq!(listing(&nested), before);
    assert!(running(&nested), "not even stopped");

    // A tmpfs holds nothing a restore could keep.
    let tmpfs = unique("wharf-it-tmpfs");
    docker(&["run", "-d", "--init", "--name", &tmpfs, "--tmpfs", "/data", test_image(), "sleep", "3600"]);
    cleanup.containers.push(tmpfs.clone());
    let out = restore(&tmpfs);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/data is a tmpfs mount"), "{}", stderr(&out));

    // A volume another running container uses would change under it.
    let shared = target(&mut cleanup, scratch.path(), test_image(), Layout::Volume, true, &old);
    let volume = docker(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", &shared]);
    let other = unique("wharf-it-other");
    docker(&[
        "run",
        "-d",
        "--init",
        "--name",
        &other,
        "-v",
        &format!("{volume}:/srv"),
        test_image(),
        "sleep",
        "3600",
    ]);
    cleanup.containers.push(other.clone());
    let before = listing(&shared);
    let out = restore(&shared);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("is also used by running container {other}: stop it first")),
        "{}",
        stderr(&out)
    );
    assert_eq!(listing(&shared), before);
    assert!(running(&shared));

    // A dump restore needs its server up.
    let stopped = target(&mut cleanup, scratch.path(), test_image(), Layout::OwnFs, false, &old);
    let config = format!(
        "[profiles.c]\nbucket = \"{bucket}\"\n[profiles.c.database]\ncontainer = \"{stopped}\"\npreset = \"custom\"\nbackup_command = [\"cat\", \"/data/blob.bin\"]\nrestore_command = [\"sh\", \"-c\", \"cat > /data/blob.bin\"]\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    docker(&["start", &stopped]);
    let out = wharf(&["backup", "--json", "--force-head"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dump: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    docker(&["stop", "-t", "1", &stopped]);
    let out = wharf(&["restore", dump["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not running, and a custom restore needs its database server"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(home.path().join("wharf.toml")).unwrap();
}

/// Restores of `to` into `container`, killed with SIGKILL at moments spread
/// over a measured restore; after each, the next run (alternately `wharf
/// doctor --fix` and the next restore) must leave exactly the old data or
/// exactly the new, the container running as before, and nothing behind.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_any_moment_of_a_restore_leaves_the_old_data_or_the_new() {
    let mut cleanup = Cleanup::default();
    let scratch = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let bucket = bucket().await;
    let sets = [data_set(5, 48 << 20), data_set(6, 40 << 20)];
    let ids = [
        snapshot_of(&mut cleanup, scratch.path(), home.path(), &bucket, &sets[0]).await,
        snapshot_of(&mut cleanup, scratch.path(), home.path(), &bucket, &sets[1]).await,
    ];
    let expected: Vec<Vec<String>> = sets
        .iter()
        .map(|s| listing(&target(&mut cleanup, scratch.path(), test_image(), Layout::OwnFs, false, s)))
        .collect();
    let container = target(&mut cleanup, scratch.path(), test_image(), Layout::Volume, true, &sets[0]);
    let restore_args = |id: &str| {
        vec![
            "restore".to_string(),
            id.into(),
            "--container".into(),
            container.clone(),
            "--bucket".into(),
            bucket.clone(),
            "--yes".into(),
        ]
    };

    // Once whole (from now on the snapshots come from the cache).
    for id in [&ids[1], &ids[0]] {
        let out = wharf(&restore_args(id).iter().map(String::as_str).collect::<Vec<_>>(), home.path());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(listing(&container), expected[0]);
    // Moments in every step: early on, while stopping, during the safety copy,
    // while the snapshot goes in, while the container starts.
    let ms = Duration::from_millis;
    let moments: [(Option<&str>, Duration); 10] = [
        (None, ms(150)),
        (Some("stopping"), ms(0)),
        (Some("keeping a safety copy"), ms(0)),
        (Some("keeping a safety copy"), ms(150)),
        (Some("keeping a safety copy"), ms(300)),
        (Some("restoring 2"), ms(0)),
        (Some("restoring 2"), ms(40)),
        (Some("restoring 2"), ms(80)),
        (Some("restoring 2"), ms(120)),
        (Some("starting"), ms(0)),
    ];
    let mut current = 0;

    let mut seen = Vec::new();
    let mut phases = std::collections::BTreeSet::new();
    for (k, (after, delay)) in moments.iter().copied().enumerate() {
        let next = 1 - current;
        let at = format!("{delay:?} after {}", after.unwrap_or("the start"));
        let stage = kill_during(home.path(), &restore_args(&ids[next]), after, delay);
        let phase = journal_phase(home.path());
        phases.insert(phase.clone());
        let now = listing(&container);
        assert!(
            phase != "none" || now == expected[current] || now == expected[next],
            "killed at {at:?} ({stage}) with no journal, and the data is neither the old nor the new"
        );

        // The next run settles it: doctor --fix, or the next restore itself.
        if k % 2 == 0 {
            let out = wharf(&["doctor", "--fix"], home.path());
            assert_eq!(
                out.status.code(),
                Some(0),
                "doctor after a kill at {at:?} ({stage}): {}",
                stderr(&out)
            );
            let now = listing(&container);
            assert!(
                now == expected[current] || now == expected[next],
                "killed at {at:?} ({stage}, journal: {phase}), then doctor --fix: neither the old data nor the new"
            );
            current = if now == expected[next] { next } else { current };
            seen.push(format!("{at:?} [{phase}] {stage} → {}", String::from_utf8_lossy(&out.stdout).trim()));
        } else {
            let out =
                wharf(&restore_args(&ids[next]).iter().map(String::as_str).collect::<Vec<_>>(), home.path());
            assert_eq!(
                out.status.code(),
                Some(0),
                "the restore after a kill at {at:?} ({stage}): {}",
                stderr(&out)
            );
            assert_eq!(listing(&container), expected[next], "the next restore finishes");
            current = next;
            seen.push(format!("{at:?} [{phase}] {stage} → {}", String::from_utf8_lossy(&out.stdout).trim()));
        }
        assert!(running(&container), "running again after a kill at {at:?} ({stage})");
        assert_eq!(helpers_left(&container), "", "after a kill at {at:?} ({stage})");
        let out = wharf(&["doctor"], home.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "nothing left behind: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The kills landed in the steps where something is at stake.
    let seen = seen.join("\n");
    for phase in ["saving", "replacing"] {
        assert!(phases.contains(phase), "no kill landed while {phase}:\n{seen}");
    }
    eprintln!("{seen}");

    // Cancelled (SIGINT) half-way through putting the snapshot in: put back.
    let next = 1 - current;
    let mut child = crate::support::wharf_against(&crate::support::aws_url(), home.path())
        .args(restore_args(&ids[next]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_pipe = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut stderr_pipe, &mut line).unwrap() > 0, "ended early: {said}");
        said.push_str(&line);
        if line.contains(&format!("restoring {}", ids[next])) {
            break;
        }
    }
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let mut rest = String::new();
    stderr_pipe.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{said}{rest}");
    assert_eq!(listing(&container), expected[current], "a cancelled restore puts back what was there");
    assert!(running(&container));

    // A second Ctrl-C stops at once, clean-up or not; the next run settles what is left.
    let mut child = crate::support::wharf_against(&crate::support::aws_url(), home.path())
        .args(restore_args(&ids[next]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains(&format!("restoring {}", ids[next])) {
            break;
        }
    }
    for _ in 0..2 {
        assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(50));
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("stopped before the clean-up finished"))
            || journal_phase(home.path()) == "none",
        "{rest:?}"
    );
    let out = wharf(&["doctor", "--fix"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let now = listing(&container);
    assert!(now == expected[current] || now == expected[next], "neither the old data nor the new");
    assert!(running(&container));
}

/// Runs `wharf` with `args` and kills it (SIGKILL) `delay` after it says a
/// line with `after` on stderr (or after the start); the last thing it said.
pub(crate) fn kill_during(home: &Path, args: &[String], after: Option<&str>, delay: Duration) -> String {
    let mut child = crate::support::wharf_against(&crate::support::aws_url(), home)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut last = String::new();
    if let Some(words) = after {
        for line in lines.by_ref() {
            last = line.unwrap();
            if last.contains(words) {
                break;
            }
        }
    }
    std::thread::sleep(delay);
    let _ = child.kill();
    for line in lines {
        last = line.unwrap_or_default();
    }
    child.wait().unwrap();
    last
}

/// The phase the restore journal in `home` records, or `none`.
pub(crate) fn journal_phase(home: &Path) -> String {
    let dir = home.join("state/wharf/restores");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .find_map(|e| {
            let journal: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            journal["phase"].as_str().map(str::to_string)
        })
        .unwrap_or_else(|| "none".into())
}

/// A PostgreSQL restore keeps the preset's own dump of what it replaces: a
/// dump that fails half-way leaves the database as it was, and `--undo`
/// brings back what a restore replaced.
#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_restore_keeps_a_safety_copy_and_a_failing_dump_changes_nothing() {
    use crate::backup::{object, postgres_app, postgres_profile, psql};
    let mut cleanup = Cleanup::default();
    let container = postgres_app(
        &mut cleanup,
        "CREATE TABLE notes (id int PRIMARY KEY, body text);
         INSERT INTO notes SELECT i, md5(i::text) FROM generate_series(1, 20000) AS i;
         CREATE TABLE later (id int PRIMARY KEY, body text);
         INSERT INTO later SELECT i, repeat(md5(i::text), 20) FROM generate_series(1, 20000) AS i;",
    );
    let fingerprint = "SELECT (SELECT count(*) || ':' || md5(string_agg(id || body, ',' ORDER BY id)) FROM notes) \
                       || '/' || (SELECT count(*) FROM later)";
    let a = psql(&container, "app", fingerprint);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wharf.toml"), postgres_profile(&bucket, &container)).unwrap();
    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let snapshot: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = snapshot["id"].as_str().unwrap().to_string();

    psql(&container, "app", "DELETE FROM notes WHERE id % 3 = 0; UPDATE notes SET body = 'b' WHERE id < 50");
    let b = psql(&container, "app", fingerprint);
    assert_ne!(a, b);

    // The confirmation says what is replaced, and how big it is now.
    let out = wharf(&["restore", &id], home.path());
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(
        said.contains(&format!("It replaces, in container `{container}`: the postgres database")),
        "{said}"
    );
    assert!(said.contains(" MB now.") || said.contains(" kB now."), "its size now: {said}");

    let out = wharf(&["restore", &id, "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(psql(&container, "app", fingerprint), a);
    let out = wharf(&["restore", "--undo", "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(psql(&container, "app", fingerprint), b, "--undo brings back what the restore replaced");

    // A snapshot whose dump breaks off half-way (its checksum is right: the
    // dump itself is bad): pg_restore fails, and the database stays as it was.
    let dump = crate::backup::stream(&bucket, &snapshot).await;
    let half = zstd::encode_all(&dump[..dump.len() * 2 / 3], 3).unwrap();
    let broken = format!("{}-broken", id);
    let s3 = crate::support::moto_clients().await.s3;
    let key = format!("{broken}/data.dump.zst");
    s3.put_object().bucket(&bucket).key(&key).body(half.clone().into()).send().await.unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&object(&bucket, &format!("{id}/manifest.json")).await).unwrap();
    manifest["id"] = broken.clone().into();
    // As one object (format 1), as `--full` writes it.
    manifest["format"] = 1.into();
    manifest.as_object_mut().unwrap().remove("chunks");
    manifest["key"] = key.into();
    manifest["stored_bytes"] = half.len().into();
    manifest["sha256"] = format!("{:x}", Sha256::digest(&half)).into();
    let body = serde_json::to_vec(&manifest).unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key(format!("{broken}/manifest.json"))
        .body(body.into())
        .send()
        .await
        .unwrap();

    let out = wharf(&["restore", &broken, "--yes"], home.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("pg_restore"), "pg_restore's own words: {said}");
    assert!(said.contains(&format!("{container} is as it was (its safety copy was put back)")), "{said}");
    assert_eq!(psql(&container, "app", fingerprint), b, "not a row changed");
    assert!(running(&container));
}
