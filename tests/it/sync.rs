//! The second machine: pull from ECR by digest (moto's ECR for the token, a
//! real registry for the layers), run the database container from an image
//! on a named volume, and `wharf sync` — from nothing to the head of the
//! line, then nothing to do, then a new image under the same data. Two
//! machines are two XDG homes with their own `WHARF_HOST` and container
//! names on the one engine; data is compared through the engine's archive API.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::sync::mpsc;
use wharf::jobs::pull::{PullJob, Wanted};
use wharf::jobs::{JobPool, JobResult, JobSpec, JobUpdate};

use crate::backup::{bucket, object, postgres_container, psql, stderr};
use crate::machines::Machine;
use crate::restore::listing;
use crate::support::{
    Cleanup, TestRegistry, aws_url, docker, moto_clients, test_image, unique, wharf_against,
};

/// A new image on top of `base`, with a layer of `mib` MiB of random bytes in
/// `/data/blob-<name>` and `sleep` as its command: an image no registry has seen.
fn build_image(base: &str, mib: u32, cleanup: &mut Cleanup) -> String {
    let name = format!("{}:v1", unique("wharf-it-sync-img"));
    let dir = tempfile::tempdir().unwrap();
    let layer = name.replace([':', '/'], "-");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {base}\nRUN mkdir -p /data && dd if=/dev/urandom of=/data/blob-{layer} bs=1M count={mib} 2>/dev/null\n\
             CMD [\"sleep\", \"3600\"]\n"
        ),
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", &name])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "docker build: {}", String::from_utf8_lossy(&out.stderr));
    cleanup.images.push(name.clone());
    name
}

async fn create_repository(name: &str) {
    moto_clients().await.ecr.create_repository().repository_name(name).send().await.unwrap();
}

/// Where the loop's machines meet: a real registry, an ECR repository in
/// moto for its token, and a bucket (its prefix `line`).
struct Place {
    registry: TestRegistry,
    repository: String,
    bucket: String,
}

impl Place {
    async fn new(name: &str) -> Place {
        let registry = TestRegistry::start();
        let repository = unique(name);
        create_repository(&repository).await;
        Place { registry, repository, bucket: bucket().await }
    }

    /// The local name of the repository's images, as the engine names pulled ones.
    fn pushed_name(&self) -> String {
        format!("{}/{}", self.registry.host, self.repository)
    }

    /// A machine whose database container, `container` (not necessarily
    /// there yet), is described further by `database`.
    fn machine_with(
        &self,
        host: &'static str,
        container: String,
        database: &str,
        cleanup: &mut Cleanup,
    ) -> Machine {
        let profile = format!(
            "repository = \"{}\"\nregistry = \"{}\"\nbucket = \"{}\"\nprefix = \"line\"\n",
            self.repository, self.registry.host, self.bucket
        );
        Machine::new(host, container, &profile, database, cleanup)
    }

    /// A machine whose database container keeps its data in `/data`.
    fn machine(&self, host: &'static str, cleanup: &mut Cleanup) -> Machine {
        self.machine_with(host, unique(&format!("wharf-it-{host}")), "path = \"/data\"\n", cleanup)
    }
}

fn steps(json: &serde_json::Value, key: &str) -> Vec<String> {
    json[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        .iter()
        .map(|s| s["step"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn image_exists(reference: &str) -> bool {
    Command::new("docker").args(["image", "inspect", reference]).output().unwrap().status.success()
}

/// What the container's `/data` is mounted from: `volume NAME`, `bind …`.
fn data_mount(container: &str) -> String {
    data_mount_at(container, "/data")
}

fn data_mount_at(container: &str, path: &str) -> String {
    let format = format!(
        "{{{{range .Mounts}}}}{{{{if eq .Destination \"{path}\"}}}}{{{{.Type}}}} {{{{.Name}}}}{{{{end}}}}{{{{end}}}}"
    );
    docker(&["inspect", "-f", &format, container])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_second_machine_syncs_from_nothing_to_head_and_a_new_image_keeps_its_data() {
    let mut cleanup = Cleanup::default();
    let place = Place::new("wharf-it-sync").await;
    let bucket = &place.bucket;
    let laptop = place.machine("laptop", &mut cleanup);
    let home = place.machine("home", &mut cleanup);
    let image = build_image(test_image(), 2, &mut cleanup);
    let pushed_name = place.pushed_name();
    cleanup.images.push(format!("{pushed_name}:v1"));
    cleanup.images.push(format!("{pushed_name}:v2"));

    // The laptop runs its database from the image, works, pushes and backs up.
    let ran = laptop.json(&["run", &image], 0);
    assert_eq!(ran["volume"], format!("{}-data", laptop.container).as_str());
    assert_eq!(data_mount(&laptop.container), format!("volume {}-data", laptop.container));
    laptop.write("laptop-day");
    let pushed = laptop.json(&["push", &image, "--tag", "v1"], 0);
    let digest = pushed["digest"].as_str().unwrap().to_string();
    let first = laptop.json(&["backup"], 0);
    let s1 = first["id"].as_str().unwrap().to_string();

    // The home machine has neither the image nor a container.
    let by_digest = format!("{pushed_name}@{digest}");
    docker(&["rmi", "-f", &format!("{pushed_name}:v1"), &by_digest]);
    assert!(!image_exists(&by_digest), "the engine still names {by_digest}");
    let dry = home.json(&["sync", "--tag", "v1", "--dry-run"], 0);
    assert_eq!(steps(&dry, "would_do"), ["pull", "run"], "{dry}");
    assert!(!image_exists(&by_digest), "a dry run pulled");
    let synced = home.json(&["sync", "--tag", "v1"], 0);
    assert_eq!(steps(&synced, "done"), ["pull", "run"], "{synced}");
    assert_eq!(synced["snapshot"], s1.as_str());
    assert!(image_exists(&by_digest), "the image was not pulled by its digest");
    assert_eq!(data_mount(&home.container), format!("volume {}-data", home.container));
    assert_eq!(listing(&home.container), listing(&laptop.container), "home's data is the laptop's snapshot");
    assert_eq!(home.note(), "laptop-day");

    // Again: nothing to do, nothing changed.
    let id_before = docker(&["inspect", "-f", "{{.Id}}", &home.container]);
    let again = home.json(&["sync", "--tag", "v1"], 0);
    assert_eq!(again["in_sync_before"], true, "{again}");
    assert_eq!(steps(&again, "done"), Vec::<String>::new());
    assert_eq!(
        docker(&["inspect", "-f", "{{.Id}}", &home.container]),
        id_before,
        "the container was touched"
    );

    // Home works and backs up: head moves to it, its manifest names its parent and host.
    home.write("home-evening");
    let second = home.json(&["backup"], 0);
    let s2 = second["id"].as_str().unwrap().to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&object(bucket, &format!("line/{s2}/manifest.json")).await).unwrap();
    assert_eq!((manifest["parent"].as_str(), manifest["host"].as_str()), (Some(s1.as_str()), Some("home")));

    // The laptop next morning: its data is behind. Without --yes nothing is replaced.
    let plan = laptop.json(&["sync", "--tag", "v1", "--dry-run"], 0);
    assert_eq!(steps(&plan, "would_do"), ["restore"], "same image, older data: {plan}");
    let refused = laptop.wharf(&["sync", "--tag", "v1"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(&format!("restore {s2} into {}", laptop.container)),
        "{}",
        stderr(&refused)
    );
    assert_eq!(laptop.note(), "laptop-day", "refused, and still replaced");
    let caught_up = laptop.json(&["sync", "--tag", "v1", "--yes"], 0);
    assert_eq!(steps(&caught_up, "done"), ["restore"]);
    assert_eq!(laptop.note(), "home-evening");
    assert_eq!(listing(&laptop.container), listing(&home.container));

    // A new image: home is recreated on it, keeping its volume and its data.
    let v2 = build_image(&image, 1, &mut cleanup);
    home.json(&["push", &v2, "--tag", "v2"], 0);
    let before = listing(&home.container);
    let moved = home.json(&["sync", "--tag", "v2", "--yes"], 0);
    assert_eq!(steps(&moved, "done"), ["recreate"], "{moved}");
    let v2_id = docker(&["image", "inspect", "-f", "{{.Id}}", &v2]);
    assert_eq!(docker(&["inspect", "-f", "{{.Image}}", &home.container]), v2_id);
    assert_eq!(data_mount(&home.container), format!("volume {}-data", home.container));
    assert_eq!(listing(&home.container), before, "the data went with the container");
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &home.container]), "true");
    let leftovers =
        docker(&["ps", "-a", "--filter", &format!("name={}-wharf-replaced", home.container), "-q"]);
    assert_eq!(leftovers, "", "the replaced container is left behind");
}

/// A pull job of `repository:v1` from the test registry, run in a pool; every event.
fn pull_job(repository: &str, registry: &TestRegistry) -> JobSpec {
    JobSpec::Pull(PullJob {
        repository: repository.into(),
        wanted: Wanted::Tag("v1".into()),
        registry: Some(wharf::config::RegistryOverride::given(&registry.host)),
        docker_host: None,
    })
}

/// Pushes a fresh image of `mib` MiB as `repository:v1`, then removes every
/// local name of it: this engine must pull it back.
fn pushed_and_gone(
    repository: &str,
    mib: u32,
    registry: &TestRegistry,
    home: &Path,
    cleanup: &mut Cleanup,
) -> String {
    let image = build_image(test_image(), mib, cleanup);
    let out = wharf_against(&aws_url(), home)
        .args(["--registry", &registry.host, "push", &image, "--repo", repository, "--tag", "v1", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let digest = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    docker(&["rmi", "-f", &image, &format!("{}/{repository}:v1", registry.host)]);
    assert!(!image_exists(&format!("{}/{repository}@{digest}", registry.host)));
    digest
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_shows_each_layer_checks_the_digest_and_a_cancelled_one_leaves_no_tag() {
    let mut cleanup = Cleanup::default();
    let registry = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    let repository = unique("wharf-it-pull");
    create_repository(&repository).await;
    let local = format!("{}/{repository}:v1", registry.host);
    cleanup.images.push(local.clone());
    let digest = pushed_and_gone(&repository, 8, &registry, home.path(), &mut cleanup);

    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    pool.submit(1, pull_job(&repository, &registry), Some(moto_clients().await));
    let mut layers = std::collections::BTreeSet::new();
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.unwrap().unwrap();
        match event.update {
            JobUpdate::Progress(p) => {
                layers
                    .extend(p.detail.iter().filter_map(|l| l.split_whitespace().next()).map(str::to_string));
                if let Some(total) = p.total {
                    assert!(p.done <= total, "done {} > total {total}", p.done);
                }
            }
            JobUpdate::Finished(result) => break result,
            JobUpdate::Started => {}
        }
    };
    let JobResult::Done(output) = result else { panic!("pull failed: {result:?}") };
    assert_eq!(output.json["digest"], digest.as_str());
    assert_eq!(output.json["image"], local.as_str());
    assert!(layers.len() >= 2, "progress named layers {layers:?}");
    let digests = docker(&["image", "inspect", "-f", "{{json .RepoDigests}}", &local]);
    assert!(digests.contains(&format!("{}/{repository}@{digest}", registry.host)), "{digests}");

    // Cut short as soon as the first bytes move: no new name for a half-pulled image.
    let repository = unique("wharf-it-pull");
    create_repository(&repository).await;
    let local = format!("{}/{repository}:v1", registry.host);
    cleanup.images.push(local.clone());
    pushed_and_gone(&repository, 96, &registry, home.path(), &mut cleanup);
    pool.submit(2, pull_job(&repository, &registry), Some(moto_clients().await));
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.unwrap().unwrap();
        match event.update {
            JobUpdate::Progress(p) if p.stage.starts_with("pulling") => pool.cancel(2),
            JobUpdate::Finished(result) => break result,
            _ => {}
        }
    };
    assert_eq!(result, JobResult::Cancelled);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!image_exists(&local), "a cancelled pull left {local}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_fills_a_new_volume_with_the_head_snapshot_before_an_image_with_almost_no_tools_starts() {
    let mut cleanup = Cleanup::default();
    let bucket = bucket().await;
    let profile = format!("bucket = \"{bucket}\"\nprefix = \"line\"\n");
    let data = "path = \"/data\"\n";
    let laptop =
        Machine::new("laptop", crate::backup::data_container(&mut cleanup), &profile, data, &mut cleanup);
    let first = laptop.json(&["backup"], 0);

    // sh, sleep, cat, ls, rm and tar only: the run and its restore need none of them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM wharf-test/minimal:latest\nCMD [\"sleep\", \"3600\"]\n",
    )
    .unwrap();
    let image = format!("{}:v1", unique("wharf-it-minimal-run"));
    cleanup.images.push(image.clone());
    crate::support::test_image();
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &image])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output();
    assert!(built.unwrap().status.success());

    let home = Machine::new("home", unique("wharf-it-minimal"), &profile, data, &mut cleanup);
    let ran = home.json(&["run", &image, "--snapshot", "head"], 0);
    assert_eq!(ran["snapshot"], first["id"], "{ran}");
    assert_eq!(data_mount(&home.container), format!("volume {}-data", home.container));
    assert_eq!(listing(&home.container), listing(&laptop.container), "the volume holds the snapshot");
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &home.container]), "true");
    // The container's data is now the snapshot's: a backup from here moves head on.
    let second = home.json(&["backup"], 0);
    let manifest: serde_json::Value = serde_json::from_slice(
        &object(&bucket, &format!("line/{}/manifest.json", second["id"].as_str().unwrap())).await,
    )
    .unwrap();
    assert_eq!(manifest["parent"], first["id"]);
}

#[test]
fn run_refuses_a_missing_image_and_an_existing_container_and_leaves_nothing() {
    let mut cleanup = Cleanup::default();
    let home = tempfile::tempdir().unwrap();
    let container = unique("wharf-it-run");
    cleanup.containers.push(container.clone());
    cleanup.volumes.push(format!("{container}-data"));
    std::fs::write(
        home.path().join("wharf.toml"),
        format!("[profiles.dev.database]\ncontainer = \"{container}\"\npath = \"/data\"\n"),
    )
    .unwrap();
    let wharf = |args: &[&str]| wharf_against(&aws_url(), home.path()).args(args).output().unwrap();

    let out = wharf(&["run", "wharf-test/no-such-image:v9"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no local image `wharf-test/no-such-image:v9`: `wharf pull` it first"),
        "{}",
        stderr(&out)
    );
    let volumes = docker(&["volume", "ls", "-q", "--filter", &format!("name={container}-data")]);
    assert_eq!(volumes, "", "a failed run left its volume");

    // An image whose command ends at once: said, and nothing of the run is left.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\nCMD [\"sh\", \"-c\", \"exit 3\"]\n", test_image()),
    )
    .unwrap();
    let ends = format!("{}:v1", unique("wharf-it-ends"));
    cleanup.images.push(ends.clone());
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &ends])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output();
    assert!(built.unwrap().status.success());
    let out = wharf(&["run", &ends]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{container} stopped as soon as it started (exit code 3)")),
        "{}",
        stderr(&out)
    );
    let left = docker(&["ps", "-a", "-q", "--filter", &format!("name=^{container}$")]);
    assert_eq!(left, "", "the stopped container is left");
    let volumes = docker(&["volume", "ls", "-q", "--filter", &format!("name={container}-data")]);
    assert_eq!(volumes, "", "its volume is left");

    docker(&["create", "--name", &container, test_image(), "sleep", "1"]);
    let out = wharf(&["run", test_image()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("a container `{container}` exists already")), "{}", stderr(&out));

    // Without database.path (and no preset that knows it): said, nothing made.
    std::fs::write(
        home.path().join("wharf.toml"),
        format!("[profiles.dev.database]\ncontainer = \"x{container}\"\n"),
    )
    .unwrap();
    let out = wharf(&["run", test_image()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("set database.path in wharf.toml"), "{}", stderr(&out));
}

/// What a table holds, in one line: its rows counted, summed and hashed.
fn rows(container: &str) -> String {
    psql(container, "app", "SELECT count(*), sum(id), md5(string_agg(note, ',' ORDER BY id)) FROM t")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_postgres_loop_brings_every_row_to_the_second_machine() {
    let mut cleanup = Cleanup::default();
    let place = Place::new("wharf-it-sync-pg").await;
    let database = "preset = \"postgres\"\nuser = \"postgres\"\nname = \"app\"\n";
    let laptop = place.machine_with("laptop", postgres_container(&mut cleanup), database, &mut cleanup);
    let home = place.machine_with("home", unique("wharf-it-home-pg"), database, &mut cleanup);
    psql(&laptop.container, "postgres", "CREATE DATABASE app");
    psql(
        &laptop.container,
        "app",
        "CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 5000) g",
    );
    let pushed_name = place.pushed_name();
    cleanup.images.push(format!("{pushed_name}:v1"));
    let pushed = laptop.json(&["push", "wharf-test/postgres:15", "--tag", "v1"], 0);
    let by_digest = format!("{pushed_name}@{}", pushed["digest"].as_str().unwrap());
    let first = laptop.json(&["backup"], 0);
    docker(&["rmi", "-f", &format!("{pushed_name}:v1"), &by_digest]);

    let synced = home.json(&["sync", "--tag", "v1"], 0);
    assert_eq!(steps(&synced, "done"), ["pull", "run"], "{synced}");
    assert_eq!(synced["snapshot"], first["id"]);
    assert_eq!(
        data_mount_at(&home.container, "/var/lib/postgresql/data"),
        format!("volume {}-data", home.container),
        "the database lives on a named volume"
    );
    assert_eq!(rows(&home.container), rows(&laptop.container));
    assert!(rows(&home.container).starts_with("5000|"), "{}", rows(&home.container));
    let again = home.json(&["sync", "--tag", "v1"], 0);
    assert_eq!(again["in_sync_before"], true, "{again}");

    // The evening's change goes back up and the laptop takes it the next morning.
    psql(&home.container, "app", "UPDATE t SET note = 'evening' WHERE id <= 10");
    home.json(&["backup"], 0);
    let caught_up = laptop.json(&["sync", "--tag", "v1", "--yes"], 0);
    assert_eq!(steps(&caught_up, "done"), ["restore"], "the same image, older data: {caught_up}");
    assert_eq!(rows(&laptop.container), rows(&home.container));

    // A new image: "synced" only once the server answers, so the database is there to use at once.
    let dir = tempfile::tempdir().unwrap();
    // A server that takes a while to come up, as one replaying its log after a crash does.
    let dockerfile = "FROM wharf-test/postgres:15\nCMD [\"sh\", \"-c\", \"sleep 3; exec /start\"]\n";
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let v2 = format!("{}:v2", unique("wharf-it-pg-next"));
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &v2])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    cleanup.images.push(v2.clone());
    cleanup.images.push(format!("{pushed_name}:v2"));
    home.json(&["push", &v2, "--tag", "v2"], 0);
    let moved = home.json(&["sync", "--tag", "v2", "--yes"], 0);
    assert_eq!(steps(&moved, "done"), ["recreate"], "{moved}");
    let now = Command::new("docker")
        .args([
            "exec",
            &home.container,
            "psql",
            "-U",
            "postgres",
            "-d",
            "app",
            "-Atc",
            "SELECT count(*) FROM t",
        ])
        .output()
        .unwrap();
    assert!(now.status.success(), "right after sync: {}", String::from_utf8_lossy(&now.stderr));
    assert_eq!(String::from_utf8_lossy(&now.stdout).trim(), "5000");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreate_keeps_a_stopped_containers_bind_mount_finishes_when_cut_short_and_refuses_its_own_file_system()
 {
    let mut cleanup = Cleanup::default();
    let place = Place::new("wharf-it-recreate").await; // no head: the data stays as it is
    let v1 = build_image(test_image(), 1, &mut cleanup);
    let v2 = build_image(&v1, 1, &mut cleanup);
    let pushed_name = place.pushed_name();
    cleanup.images.push(format!("{pushed_name}:v2"));
    let home = place.machine_with("home", unique("wharf-it-bind"), "path = \"/data\"\n", &mut cleanup);
    home.json(&["push", &v2, "--tag", "v2"], 0);

    // A stopped container on v1 with its data bound from a directory of this machine.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note"), "bound").unwrap();
    let bind = format!("{}:/data", dir.path().display());
    docker(&["create", "--name", &home.container, "-v", &bind, &v1]);
    let synced = home.json(&["sync", "--tag", "v2", "--yes"], 0);
    assert_eq!(steps(&synced, "done"), ["recreate"], "{synced}");
    assert_eq!(
        docker(&["inspect", "-f", "{{.Image}}", &home.container]),
        docker(&["image", "inspect", "-f", "{{.Id}}", &v2])
    );
    let source = "{{range .Mounts}}{{.Type}} {{.Source}}{{end}}";
    assert_eq!(docker(&["inspect", "-f", source, &home.container]), format!("bind {}", dir.path().display()));
    assert_eq!(home.note(), "bound");
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &home.container]), "true");

    // Cut short after the old one was put aside: it is named back.
    let aside = format!("{}-wharf-replaced", home.container);
    cleanup.containers.push(aside.clone());
    docker(&["stop", "-t", "0", &home.container]);
    docker(&["rename", &home.container, &aside]);
    let put_back = home.json(&["sync", "--tag", "v2"], 0);
    assert_eq!(steps(&put_back, "done"), ["put_back"], "{put_back}");
    assert_eq!(home.note(), "bound");
    assert!(!container_exists(&aside), "{aside} is still there");

    // Cut short after the new one was made: the old one, holding nothing else, goes.
    docker(&["create", "--name", &aside, "-v", &bind, &v1]);
    let tidied = home.json(&["sync", "--tag", "v2"], 0);
    assert_eq!(steps(&tidied, "done"), ["remove_aside"], "{tidied}");
    assert!(!container_exists(&aside));
    // …but not when it mounts other data: both are left for the user to look at.
    docker(&["create", "--name", &aside, &v1]);
    let out = home.wharf(&["sync", "--tag", "v2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("was left aside by a recreate cut short"), "{}", stderr(&out));
    assert!(container_exists(&aside));

    // Data in the container's own file system is never recreated away.
    let own = place.machine_with("own", unique("wharf-it-own"), "path = \"/data\"\n", &mut cleanup);
    docker(&["create", "--name", &own.container, &v1]);
    let out = own.wharf(&["sync", "--tag", "v2", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{} keeps /data in its own file system", own.container)),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.Config.Image}}", &own.container]),
        v1,
        "the container was touched"
    );
}

fn container_exists(name: &str) -> bool {
    Command::new("docker").args(["container", "inspect", name]).output().unwrap().status.success()
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_takes_the_image_the_service_runs_with_its_ports_and_plain_environment_never_its_secrets() {
    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, PortMapping, Secret};
    let mut cleanup = Cleanup::default();
    let place = Place::new("wharf-it-service").await;
    let image = build_image(test_image(), 1, &mut cleanup);
    cleanup.images.push(format!("{}:v1", place.pushed_name()));
    let laptop = place.machine("laptop", &mut cleanup);
    let digest = laptop.json(&["push", &image, "--tag", "v1"], 0)["digest"].as_str().unwrap().to_string();

    // The service runs that image pinned to its digest, under ECR's own host name.
    let clients = moto_clients().await;
    let repository =
        clients.ecr.describe_repositories().repository_names(&place.repository).send().await.unwrap();
    let uri = repository.repositories()[0].repository_uri().unwrap().to_string();
    let (cluster, service, container) = (unique("wharf-it-cluster"), unique("db"), unique("wharf-it-svc"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    clients.ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let definition = ContainerDefinition::builder()
        .name(&container)
        .image(format!("{uri}@{digest}"))
        .memory(256)
        .port_mappings(PortMapping::builder().container_port(port.into()).host_port(port.into()).build())
        .environment(KeyValuePair::builder().name("NOTE").value("from-ecs").build())
        .secrets(
            Secret::builder()
                .name("SECRET")
                .value_from("arn:aws:ssm:eu-west-1:123456789012:parameter/db")
                .build()
                .unwrap(),
        )
        .command("sleep")
        .command("7200")
        .build();
    let registered = clients
        .ecs
        .register_task_definition()
        .family(&service)
        .container_definitions(definition)
        .send()
        .await
        .unwrap();
    let arn = registered.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    clients
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(arn)
        .desired_count(0)
        .send()
        .await
        .unwrap();

    let profile = format!(
        "repository = \"{}\"\nregistry = \"{}\"\nbucket = \"{}\"\nprefix = \"line\"\ncluster = \"{cluster}\"\nservice = \"{service}\"\n",
        place.repository, place.registry.host, place.bucket
    );
    let home = Machine::new("home", container.clone(), &profile, "path = \"/data\"\n", &mut cleanup);
    let synced = home.json(&["sync"], 0);
    assert_eq!(synced["image"], format!("{}@{digest}", place.pushed_name()).as_str(), "{synced}");
    assert_eq!(steps(&synced, "done"), ["run"], "the image is here already: {synced}");
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &container]);
    assert!(env.contains("\"NOTE=from-ecs\""), "{env}");
    assert!(!env.contains("SECRET"), "a secret reached the container: {env}");
    assert_eq!(docker(&["inspect", "-f", "{{json .Config.Cmd}}", &container]), r#"["sleep","7200"]"#);
    assert_eq!(docker(&["port", &container, &format!("{port}/tcp")]), format!("127.0.0.1:{port}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreate_keeps_what_the_container_was_made_with_and_takes_away_the_image_it_no_longer_runs() {
    let mut cleanup = Cleanup::default();
    let place = Place::new("wharf-it-keeps").await;
    let v1 = build_image(test_image(), 1, &mut cleanup);
    let v2 = build_image(&v1, 1, &mut cleanup);
    let pushed_name = place.pushed_name();
    cleanup.images.push(format!("{pushed_name}:v1"));
    cleanup.images.push(format!("{pushed_name}:v2"));
    let home = place.machine_with("home", unique("wharf-it-keeps"), "path = \"/data\"\n", &mut cleanup);
    home.json(&["push", &v1, "--tag", "v1"], 0);
    home.json(&["push", &v2, "--tag", "v2"], 0);
    for tag in ["v1", "v2"] {
        docker(&["rmi", "-f", &format!("{pushed_name}:{tag}")]);
    }
    // Gone from here: v1 comes back by `wharf pull`, tagged; v2 is not here.
    let pulled = home.json(&["pull", &format!("{}:v1", place.repository)], 0);
    assert_eq!(pulled["image"], format!("{pushed_name}:v1").as_str(), "{pulled}");
    assert!(!image_exists(&format!("{pushed_name}:v2")));

    // The user's own container on it: a network, a restart policy, a label, a variable,
    // a published port, and a second volume besides the data's.
    let network = unique("wharf-it-net");
    docker(&["network", "create", &network]);
    let extra = format!("{}-extra", home.container);
    cleanup.volumes.push(extra.clone());
    docker(&[
        "run",
        "-d",
        "--stop-timeout",
        "1",
        "--name",
        &home.container,
        "--network",
        &network,
        "--network-alias",
        "db.internal",
        "--restart",
        "unless-stopped",
        "--label",
        "team=data",
        "-e",
        "NOTE=kept",
        "-p",
        "127.0.0.1::8080",
        "-v",
        &format!("{}-data:/data", home.container),
        "-v",
        &format!("{extra}:/extra"),
        &format!("{pushed_name}:v1"),
    ]);
    docker(&["network", "connect", "bridge", &home.container]);
    docker(&["exec", &home.container, "sh", "-c", "echo mine > /data/note && echo also > /extra/file"]);

    let synced = home.json(&["sync", "--tag", "v2", "--yes"], 0);
    assert_eq!(steps(&synced, "done"), ["pull", "recreate"], "{synced}");
    let inspect = |format: &str| docker(&["inspect", "-f", format, &home.container]);
    assert_eq!(
        inspect("{{.Config.Image}}"),
        format!("{pushed_name}@{}", synced["image"].as_str().unwrap().rsplit('@').next().unwrap())
    );
    assert!(image_exists(&format!("{pushed_name}:v2")), "the pulled image is tagged as wharf pull tags it");
    assert_eq!(inspect("{{.HostConfig.RestartPolicy.Name}}"), "unless-stopped");
    assert_eq!(inspect("{{index .Config.Labels \"team\"}}"), "data");
    assert!(inspect("{{json .Config.Env}}").contains("\"NOTE=kept\""));
    let networks = inspect("{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}");
    assert!(networks.contains(&network) && networks.contains("bridge"), "{networks}");
    let aliases = inspect(&format!("{{{{json (index .NetworkSettings.Networks \"{network}\").Aliases}}}}"));
    assert!(aliases.contains("db.internal"), "{aliases}");
    assert!(
        docker(&["port", &home.container, "8080/tcp"]).starts_with("127.0.0.1:"),
        "the port is published"
    );
    assert_eq!(home.note(), "mine");
    assert_eq!(docker(&["exec", &home.container, "cat", "/extra/file"]), "also", "the other volume too");
    assert_eq!(inspect("{{.State.Running}}"), "true");
    // The image it ran before, which wharf pulled and nothing uses now, is gone.
    assert!(!image_exists(&format!("{pushed_name}:v1")), "v1 is left behind");
    docker(&["rm", "-f", &home.container]);
    docker(&["network", "rm", &network]);
}
