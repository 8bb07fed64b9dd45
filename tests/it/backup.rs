//! Snapshots against real parts: a busybox container the test fills with
//! binary files, nested and empty directories, symlinks and restrictive modes;
//! moto's S3 for the bucket; the real `wharf` binary for backup and restore.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use wharf::config::{Preset, StorageClass};
use wharf::jobs::{BackupJob, JobPool, JobResult, JobSpec, JobUpdate};

use crate::support::{Cleanup, TcpProxy, docker, moto_clients, moto_url, test_image, unique};

/// A running busybox container whose `/data` holds every kind of thing a
/// directory can hold.
pub(crate) fn data_container(cleanup: &mut Cleanup) -> String {
    let name = unique("wharf-it-db");
    docker(&["run", "-d", "--name", &name, test_image(), "sleep", "3600"]);
    cleanup.containers.push(name.clone());
    let script = "set -e
        mkdir -p /data/nested/deeper /data/empty
        dd if=/dev/urandom of=/data/blob.bin bs=1024 count=3000 2>/dev/null
        printf 'hello\\n' > /data/nested/deeper/note.txt
        printf 'secret' > /data/nested/private.key && chmod 600 /data/nested/private.key
        chmod 700 /data/nested/deeper
        ln -s nested/deeper/note.txt /data/link-to-note
        ln -s /nowhere /data/dangling
        touch -d '2024-01-02 03:04:05' /data/nested/deeper/note.txt";
    docker(&["exec", &name, "sh", "-c", script]);
    name
}

/// Every entry under `/data`: path, type and mode, size, mtime, link target, and
/// the contents' checksum; sorted.
fn listing(container: &str) -> String {
    let script = "cd /data && find . | sort | while read -r f; do
        printf '%s %s ' \"$f\" \"$(stat -c '%F %a %s %Y' \"$f\")\"
        if [ -L \"$f\" ]; then readlink \"$f\"; elif [ -f \"$f\" ]; then md5sum < \"$f\"; else echo; fi
    done";
    docker(&["exec", container, "sh", "-c", script])
}

pub(crate) async fn bucket() -> String {
    let name = unique("wharf-it-snap");
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    let s3 = moto_clients().await.s3;
    s3.create_bucket().bucket(&name).create_bucket_configuration(location).send().await.unwrap();
    name
}

pub(crate) fn wharf(args: &[&str], home: &Path) -> Output {
    wharf_at(&crate::support::aws_url(), args, home)
}

pub(crate) fn wharf_at(endpoint: &str, args: &[&str], home: &Path) -> Output {
    crate::support::wharf_against(endpoint, home).args(args).env("AWS_MAX_ATTEMPTS", "2").output().unwrap()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

pub(crate) async fn object(bucket: &str, key: &str) -> Vec<u8> {
    let s3 = moto_clients().await.s3;
    let out = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// The stream a backup's `--json` result stored, uncompressed: its data
/// object (format 1), or its chunks one after another (format 2).
pub(crate) async fn stream(bucket: &str, result: &serde_json::Value) -> Vec<u8> {
    let key = result["key"].as_str().unwrap();
    if result["format"] != 2 {
        return zstd::decode_all(&object(bucket, key).await[..]).unwrap();
    }
    let manifest_key = key.replace("chunks/", &format!("{}/manifest.json", result["id"].as_str().unwrap()));
    let manifest: serde_json::Value = serde_json::from_slice(&object(bucket, &manifest_key).await).unwrap();
    let mut whole = Vec::new();
    for chunk in manifest["chunks"].as_array().unwrap() {
        let stored = object(bucket, &format!("{key}{}", chunk["sha256"].as_str().unwrap())).await;
        whole.extend(zstd::decode_all(&stored[..]).unwrap());
    }
    whole
}

/// Format 1, as `--full` (and wharf before chunks) writes it: one object.
#[tokio::test(flavor = "multi_thread")]
async fn backup_and_restore_a_directory_round_trip() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let before = listing(&container);

    let out = wharf(
        &[
            "backup",
            "--container",
            &container,
            "--path",
            "/data",
            "--storage-class",
            "ONEZONE_IA",
            "--bucket",
            &bucket,
            "--prefix",
            "team/app",
            "--full",
            "--json",
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = result["id"].as_str().unwrap().to_string();
    let key = result["key"].as_str().unwrap().to_string();
    assert_eq!(key, format!("team/app/{id}/data.tar.zst"));
    assert!(wharf::snapshots::check_id(&id).is_ok(), "{id}");
    assert!(id.contains(&format!("-{container}-{}-", wharf::snapshots::host_name())), "{id}");
    assert_eq!(result["storage_class"], "ONEZONE_IA");

    // What S3 holds: the class asked for, and the SHA-256 the manifest records.
    let s3 = moto_clients().await.s3;
    let head = s3.head_object().bucket(&bucket).key(&key).send().await.unwrap();
    assert_eq!(head.storage_class().map(|c| c.as_str()), Some("ONEZONE_IA"));
    let stored = object(&bucket, &key).await;
    let manifest: serde_json::Value =
        serde_json::from_slice(&object(&bucket, &format!("team/app/{id}/manifest.json")).await).unwrap();
    assert_eq!(manifest["sha256"], format!("{:x}", Sha256::digest(&stored)));
    assert_eq!(manifest["stored_bytes"], stored.len() as u64);
    assert_eq!(manifest["sha256"], result["sha256"]);
    assert_eq!(manifest["source"]["name"], container.as_str());
    assert_eq!(manifest["source"]["path"], "/data");
    assert_eq!(manifest["preset"], "path");
    let raw = zstd::decode_all(&stored[..]).unwrap();
    assert_eq!(manifest["raw_bytes"], raw.len() as u64);
    assert!(raw.len() > 3_000_000, "the tar holds the 3 MB blob");

    // Change everything, then restore: exactly what was backed up comes back.
    docker(&[
        "exec",
        &container,
        "sh",
        "-c",
        "rm /data/blob.bin && echo new > /data/added && echo changed > /data/nested/deeper/note.txt && rmdir /data/empty",
    ]);
    assert_ne!(listing(&container), before);
    let out = wharf(
        &["restore", &id, "--container", &container, "--bucket", &bucket, "--prefix", "team/app"],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2), "restore asks first");
    assert!(stderr(&out).contains("add --yes to go ahead"), "{}", stderr(&out));
    let out = wharf(
        &[
            "restore",
            &id,
            "--container",
            &container,
            "--yes",
            "--json",
            "--bucket",
            &bucket,
            "--prefix",
            "team/app",
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(listing(&container), before, "byte-identical, modes, mtimes and links as they were");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["from_cache"], false);
    assert!(home.path().join(format!("cache/wharf/snapshots/{id}/data.tar.zst")).exists());

    // Listed as complete, with its class.
    let out = wharf(&["snapshots", "--bucket", &bucket, "--prefix", "team/app", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["complete"], true);
    assert_eq!(list[0]["storage_class"], "ONEZONE_IA");

    // With the network gone, the verified copy in the cache restores on its own.
    docker(&["exec", &container, "sh", "-c", "rm -rf /data/nested"]);
    let out = wharf_at(
        "http://127.0.0.1:9",
        &[
            "restore",
            &id,
            "--container",
            &container,
            "--yes",
            "--json",
            "--bucket",
            &bucket,
            "--prefix",
            "team/app",
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["from_cache"], true);
    assert_eq!(listing(&container), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_snapshot_is_refused_and_the_container_is_untouched() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let out = wharf(
        &["backup", "--container", &container, "--path", "/data", "--bucket", &bucket, "--full", "--json"],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, key) = (result["id"].as_str().unwrap(), result["key"].as_str().unwrap());

    // One byte changes in S3 (format 1; a chunk's: `chunked::a_chunk_damaged_in_the_bucket…`).
    let mut stored = object(&bucket, key).await;
    let middle = stored.len() / 2;
    stored[middle] ^= 0x01;
    let actual = format!("{:x}", Sha256::digest(&stored));
    let s3 = moto_clients().await.s3;
    s3.put_object().bucket(&bucket).key(key).body(stored.into()).send().await.unwrap();

    docker(&["exec", &container, "sh", "-c", "echo after-the-backup > /data/added"]);
    let before = listing(&container);
    let out = wharf(&["restore", id, "--container", &container, "--yes", "--bucket", &bucket], home.path());
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains(&format!(
            "expected {} bytes with SHA-256 {}",
            result["stored_bytes"],
            result["sha256"].as_str().unwrap()
        )),
        "{message}"
    );
    assert!(message.contains(&format!("with SHA-256 {actual}")), "{message}");
    assert!(message.contains("the cached copy is deleted"), "{message}");
    assert_eq!(listing(&container), before, "the container is untouched");
    let root = docker(&["exec", &container, "ls", "-a", "/"]);
    assert!(!root.contains(".wharf-restore"), "the staging copy is gone: {root}");
    let cached = home.path().join(format!("cache/wharf/snapshots/{id}"));
    let left: Vec<_> =
        std::fs::read_dir(&cached).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "nothing of it stays in the cache: {left:?}");
}

fn big_backup(container: &str, bucket: &str, prefix: &str) -> BackupJob {
    BackupJob {
        container: container.into(),
        preset: Preset::Path,
        path: Some("/data".into()),
        user: None,
        database: None,
        command: None,
        bucket: bucket.into(),
        prefix: prefix.into(),
        storage_class: StorageClass::Standard,
        docker_host: None,
        force_head: false,
        wait: wharf::jobs::lock::Wait::Yes,
        // The cut-short tests below are of the multipart upload (format 1).
        format: wharf::config::SnapshotFormat::Full,
        cache_limit: wharf::config::DEFAULT_CACHE_LIMIT.0,
    }
}

/// Nothing under the prefix: no objects, no open multipart uploads.
pub(crate) async fn nothing_left(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) {
    let objects = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
    let keys: Vec<_> = objects.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.is_empty(), "left behind: {keys:?}");
    let uploads = s3.list_multipart_uploads().bucket(bucket).prefix(prefix).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "open multipart uploads: {:?}", uploads.uploads());
}

/// Waits for a backup's progress to show bytes stored in S3.
async fn until_parts_are_stored(rx: &mut mpsc::Receiver<wharf::jobs::JobEvent>) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.unwrap().unwrap();
        match event.update {
            JobUpdate::Progress(p) if p.stage.contains("stored") && !p.stage.contains("stored 0 B") => return,
            JobUpdate::Finished(result) => panic!("the backup ended early: {result:?}"),
            _ => {}
        }
    }
}

async fn result_of(rx: &mut mpsc::Receiver<wharf::jobs::JobEvent>, within: Duration) -> JobResult {
    loop {
        let event = tokio::time::timeout(within, rx.recv()).await.unwrap().unwrap();
        if let JobUpdate::Finished(result) = event.update {
            return result;
        }
    }
}

pub(crate) fn fill(container: &str, mib: u32) {
    docker(&[
        "exec",
        container,
        "sh",
        "-c",
        &format!("dd if=/dev/urandom of=/data/big bs=1048576 count={mib} 2>/dev/null"),
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_backup_leaves_nothing_behind() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    fill(&container, 96);
    let bucket = bucket().await;
    let clients = crate::support::realistic_clients().await;

    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    pool.submit(1, JobSpec::Backup(big_backup(&container, &bucket, "cancel/")), Some(clients.clone()));
    until_parts_are_stored(&mut rx).await;
    let open = clients.s3.list_multipart_uploads().bucket(&bucket).prefix("cancel/").send().await.unwrap();
    assert_eq!(open.uploads().len(), 1, "half-way, the upload is open");
    pool.cancel(1);
    assert_eq!(result_of(&mut rx, Duration::from_secs(30)).await, JobResult::Cancelled);
    nothing_left(&clients.s3, &bucket, "cancel/").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_going_away_mid_upload_fails_the_backup_and_leaves_nothing_behind() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    fill(&container, 96);
    let bucket = bucket().await;
    let proxy = TcpProxy::start(&moto_url()).await;
    let clients = crate::support::clients_at(&proxy.url()).await;

    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    pool.submit(1, JobSpec::Backup(big_backup(&container, &bucket, "outage/")), Some(clients));
    until_parts_are_stored(&mut rx).await;
    // S3 is gone for longer than the SDK retries, then comes back.
    proxy.down_for(Duration::from_secs(8));
    let result = result_of(&mut rx, Duration::from_secs(90)).await;
    let JobResult::Failed(chain) = result else { panic!("the backup did not fail: {result:?}") };
    assert!(chain[0].starts_with("S3: cannot reach the AWS endpoint"), "{chain:?}");
    nothing_left(&moto_clients().await.s3, &bucket, "outage/").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_part_uploads_are_retried_and_a_part_that_keeps_failing_fails_the_backup_cleanly() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    fill(&container, 20); // about 3 parts
    let bucket = bucket().await;
    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);

    // S3 answers 500 to the first two UploadPart calls: the SDK asks again.
    let layer = crate::support::Realism::start(&["--latency-ms", "5", "--fail", "s3:PUT:part=2"]);
    let clients = crate::support::clients_at(&layer.url).await;
    pool.submit(1, JobSpec::Backup(big_backup(&container, &bucket, "flaky/")), Some(clients));
    let result = result_of(&mut rx, Duration::from_secs(120)).await;
    assert!(matches!(result, JobResult::Done(_)), "{result:?}");
    let stats = layer.stats();
    assert_eq!(stats["failed"]["s3:PUT:part"], 2, "{stats}");
    let parts = stats["calls"]["s3:PUT:part"].as_u64().unwrap_or(0);
    assert!(parts >= 5, "3 parts and 2 retries at least: {stats}");
    let s3 = moto_clients().await.s3;
    let listed = wharf::snapshots::list(&s3, &bucket, "flaky/", None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].problem, None, "a whole snapshot: {:?}", listed[0]);

    // Every UploadPart fails: the backup fails with S3's words, nothing is left.
    let layer = crate::support::Realism::start(&["--latency-ms", "5", "--fail", "s3:PUT:part=100000"]);
    let clients = crate::support::clients_at(&layer.url).await;
    pool.submit(2, JobSpec::Backup(big_backup(&container, &bucket, "broken/")), Some(clients));
    let result = result_of(&mut rx, Duration::from_secs(120)).await;
    let JobResult::Failed(chain) = result else { panic!("the backup did not fail: {result:?}") };
    assert!(
        chain.join(": ").contains("InternalError") || chain.join(": ").contains("internal error"),
        "{chain:?}"
    );
    nothing_left(&s3, &bucket, "broken/").await;
}

#[tokio::test]
async fn a_ranged_read_whose_body_breaks_off_is_asked_for_again() {
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::primitives::ByteStream;
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
    // Recorded replies: S3 cannot be made to drop a connection half-way through
    // a body on cue. The first answer's body breaks off after 4 of its 8 bytes.
    let broken = || {
        let frames: Vec<Result<http_body::Frame<bytes::Bytes>, std::io::Error>> = vec![
            Ok(http_body::Frame::data(bytes::Bytes::from_static(b"0123"))),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer")),
        ];
        let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
        GetObjectOutput::builder().body(ByteStream::from_body_1_x(body)).build()
    };
    let whole = || GetObjectOutput::builder().body(ByteStream::from_static(b"01234567")).build();
    let get = mock!(aws_sdk_s3::Client::get_object).sequence().output(broken).output(whole).build();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .with_test_defaults()
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .http_client(create_mock_http_client())
            .interceptor(MockResponseInterceptor::new().rule_mode(RuleMode::Sequential).with_rule(&get))
            .build(),
    );
    let bytes = wharf::aws::s3::get_range(&s3, "b", "k", 0, 7).await.unwrap();
    assert_eq!(&bytes[..], b"01234567");
    assert_eq!(get.num_calls(), 2, "asked for again once");
}

#[tokio::test(flavor = "multi_thread")]
async fn wharf_prune_deletes_whole_snapshots_after_a_dry_run_and_a_yes() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let place = ["--bucket", bucket.as_str(), "--prefix", "p"];
    let mut ids = Vec::new();
    for _ in 0..3 {
        let out = wharf(
            &[&["backup", "--container", &container, "--path", "/data/nested", "--json"], &place[..]]
                .concat(),
            home.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(result["id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        ids.iter().collect::<std::collections::BTreeSet<_>>().len(),
        3,
        "three ids, even within one second: {ids:?}"
    );
    // An interrupted backup of long ago: data and no manifest.
    let s3 = moto_clients().await.s3;
    s3.put_object()
        .bucket(&bucket)
        .key("p/20250101T000000Z-old/data.tar.zst")
        .body(vec![1u8; 10].into())
        .send()
        .await
        .unwrap();

    let out = wharf(&[&["prune", "--keep", "1", "--dry-run", "--json"], &place[..]].concat(), home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut expected: Vec<&str> = vec![ids[1].as_str(), ids[0].as_str(), "20250101T000000Z-old"];
    expected.sort_by(|a, b| b.cmp(a));
    let mut would: Vec<&str> =
        dry["would_delete"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    would.sort_by(|a, b| b.cmp(a));
    assert_eq!(would, expected);
    let count = |out: &Output| {
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().len()
    };
    let listed = wharf(&[&["snapshots", "--json"], &place[..]].concat(), home.path());
    assert_eq!(count(&listed), 4, "a dry run deletes nothing");

    let out = wharf(&[&["prune", "--keep", "1"], &place[..]].concat(), home.path());
    assert_eq!(out.status.code(), Some(2), "no --yes: nothing happens");
    assert_eq!(count(&wharf(&[&["snapshots", "--json"], &place[..]].concat(), home.path())), 4);

    let out = wharf(&[&["prune", "--keep", "1", "--yes", "--json"], &place[..]].concat(), home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = wharf(&[&["snapshots", "--json"], &place[..]].concat(), home.path());
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], ids[2].as_str(), "the newest stays");
    let objects = s3.list_objects_v2().bucket(&bucket).prefix("p/").send().await.unwrap();
    let keys: Vec<&str> = objects.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 3, "its data and manifest, and HEAD.json naming it: {keys:?}");
    assert!(keys.contains(&"p/HEAD.json"), "{keys:?}");

    let out = wharf(&["--read-only", "prune", "--keep", "0", "--yes", "--bucket", &bucket], home.path());
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn prune_aborts_only_wharfs_own_uploads_a_day_old_and_a_day_without_a_part() {
    use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
    use aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput;
    use aws_sdk_s3::operation::list_parts::ListPartsOutput;
    use aws_sdk_s3::types::MultipartUpload;
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let upload = |key: &str, id: &str, age: i64| {
        MultipartUpload::builder()
            .key(key)
            .upload_id(id)
            .initiated(aws_sdk_s3::primitives::DateTime::from_secs(now - age))
            .build()
    };
    let (stale, fresh, foreign, alive) = (
        upload("p/20261101T000000Z-db/data.tar.zst", "stale", 2 * 86_400),
        upload("p/20261126T000000Z-db/data.tar.zst", "fresh", 3600),
        upload("p/someone-else.bin", "foreign", 9 * 86_400),
        // Another machine's backup of a big database: started two days ago, a part ten minutes ago.
        upload("p/20261103T000000Z-db-home-abcde/data.tar.zst", "alive", 2 * 86_400),
    );
    let list = mock!(aws_sdk_s3::Client::list_multipart_uploads).then_output(move || {
        ListMultipartUploadsOutput::builder()
            .uploads(stale.clone())
            .uploads(fresh.clone())
            .uploads(foreign.clone())
            .uploads(alive.clone())
            .is_truncated(false)
            .build()
    });
    let part = move |age: i64| {
        aws_sdk_s3::types::Part::builder()
            .part_number(1)
            .last_modified(aws_sdk_s3::primitives::DateTime::from_secs(now - age))
            .build()
    };
    let stale_parts = mock!(aws_sdk_s3::Client::list_parts)
        .match_requests(|r| r.upload_id() == Some("stale"))
        .then_output(move || ListPartsOutput::builder().parts(part(2 * 86_400 - 60)).build());
    let alive_parts = mock!(aws_sdk_s3::Client::list_parts)
        .match_requests(|r| r.upload_id() == Some("alive"))
        .then_output(move || ListPartsOutput::builder().parts(part(86_400 + 5)).parts(part(600)).build());
    let abort = mock!(aws_sdk_s3::Client::abort_multipart_upload)
        .match_requests(|r| r.upload_id() == Some("stale"))
        .then_output(|| AbortMultipartUploadOutput::builder().build());
    // Freeing chunks: the prune lock taken and given back, over a bucket holding no snapshot and no chunk.
    let lock = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.key() == Some("p/locks/prune.json"))
        .then_output(|| aws_sdk_s3::operation::put_object::PutObjectOutput::builder().build());
    let unlock = mock!(aws_sdk_s3::Client::delete_object)
        .match_requests(|r| r.key() == Some("p/locks/prune.json"))
        .then_output(|| aws_sdk_s3::operation::delete_object::DeleteObjectOutput::builder().build());
    let empty = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build());
    let no_head = mock!(aws_sdk_s3::Client::get_object).then_error(|| {
        aws_sdk_s3::operation::get_object::GetObjectError::NoSuchKey(
            aws_sdk_s3::types::error::NoSuchKey::builder().build(),
        )
    });
    let interceptor = MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .with_rule(&list)
        .with_rule(&stale_parts)
        .with_rule(&alive_parts)
        .with_rule(&abort)
        .with_rule(&lock)
        .with_rule(&unlock)
        .with_rule(&empty)
        .with_rule(&no_head);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .with_test_defaults()
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build(),
    );
    let mut clients = moto_clients().await;
    clients.s3 = s3;

    let (tx, mut rx) = mpsc::channel(64);
    let mut pool = JobPool::new(1, tx);
    let job = wharf::jobs::PruneJob { bucket: "b".into(), prefix: "p/".into(), doomed: vec![] };
    pool.submit(1, JobSpec::Prune(job), Some(clients));
    let JobResult::Done(output) = result_of(&mut rx, Duration::from_secs(10)).await else {
        panic!("prune failed")
    };
    assert_eq!(output.json["aborted_uploads"], serde_json::json!(["p/20261101T000000Z-db/data.tar.zst"]));
    assert_eq!(abort.num_calls(), 1, "the fresh, the foreign and the one still sending parts are left alone");
    assert_eq!(alive_parts.num_calls(), 1, "its parts were looked at");
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_commands_stream_a_dump_out_and_back_in_and_failures_leave_nothing() {
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        r#"default_profile = "t"
[profiles.t]
bucket = "{bucket}"
prefix = "dumps"
storage_class = "STANDARD_IA"
[profiles.t.database]
container = "{container}"
preset = "custom"
backup_command = ["cat", "/data/blob.bin"]
restore_command = ["sh", "-c", "cat > /data/restored.bin"]
"#
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();

    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["format"], 2, "chunks, by default: {result}");
    assert_eq!(result["storage_class"], "STANDARD_IA", "the profile's class");
    assert_eq!(result["raw_bytes"], 3000 * 1024, "exactly the command's stdout");

    let out = wharf(&["restore", result["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sums = docker(&["exec", &container, "md5sum", "/data/blob.bin", "/data/restored.bin"]);
    let sums: Vec<&str> = sums.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(sums[0], sums[1], "the dump went in on stdin byte for byte");

    // A command that fails: its stderr is in the message, and S3 holds nothing new.
    let before =
        moto_clients().await.s3.list_objects_v2().bucket(&bucket).send().await.unwrap().contents().len();
    let out = wharf(&["backup", "--preset", "path", "--path", "/nope"], home.path());
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.trim_end().ends_with(&format!("no path `/nope` in container `{container}`")),
        "{message}"
    );
    std::fs::write(
        home.path().join("wharf.toml"),
        std::fs::read_to_string(home.path().join("wharf.toml"))
            .unwrap()
            .replace("/data/blob.bin\"]", "/data/missing\"]"),
    )
    .unwrap();
    let out = wharf(&["backup"], home.path());
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains(&format!(
            "`cat /data/missing` in {container} exited with 1: cat: can't open '/data/missing'"
        )),
        "{message}"
    );
    let s3 = moto_clients().await.s3;
    assert_eq!(s3.list_objects_v2().bucket(&bucket).send().await.unwrap().contents().len(), before);
    let uploads = s3.list_multipart_uploads().bucket(&bucket).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_or_a_dropped_session_stops_wharf_backup_with_status_130_and_leaves_nothing() {
    use std::io::BufRead;
    let mut cleanup = Cleanup::default();
    let container = data_container(&mut cleanup);
    fill(&container, 96);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    // SIGINT is Ctrl-C; SIGHUP is what a dropped SSH session sends.
    for signal in ["INT", "HUP"] {
        let prefix = format!("sig{signal}");
        let mut child = crate::support::wharf_against(&crate::support::aws_url(), home.path())
            .args([
                "backup",
                "--container",
                &container,
                "--path",
                "/data",
                "--bucket",
                &bucket,
                "--prefix",
                &prefix,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("backing up: read") {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "wharf ended before backing up: {seen}");
            seen.push_str(&line);
        }
        assert!(
            Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(130), "SIG{signal}: {seen}{rest}");
        assert!(rest.contains("cancelling and cleaning up"), "SIG{signal}: {rest}");
        assert!(output.stdout.is_empty());
        // No manifest, no lock, no open upload. Chunks sent before the signal may
        // stay: another machine's backup may count on one already, so only a prune
        // (under the bucket's locks) frees them.
        let s3 = moto_clients().await.s3;
        let objects = s3.list_objects_v2().bucket(&bucket).prefix(format!("{prefix}/")).send().await.unwrap();
        let chunks = format!("{prefix}/chunks/");
        let keys: Vec<_> =
            objects.contents().iter().filter_map(|o| o.key()).filter(|k| !k.starts_with(&chunks)).collect();
        assert!(keys.is_empty(), "SIG{signal} left behind: {keys:?}");
        let uploads = s3.list_multipart_uploads().bucket(&bucket).send().await.unwrap();
        assert!(uploads.uploads().is_empty(), "open multipart uploads: {:?}", uploads.uploads());
    }
    let records = home.path().join("state/wharf/uploads");
    let left: Vec<_> = std::fs::read_dir(&records).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "no record of an open upload is left: {left:?}");
}

/// A running PostgreSQL 15 (`scripts/test-image-postgres.sh` builds the image
/// from Debian's packages), ready for connections.
pub(crate) fn postgres_container(cleanup: &mut Cleanup) -> String {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(crate::support::repo_path("scripts/test-image-postgres.sh"))
            .status()
            .unwrap();
        assert!(status.success(), "scripts/test-image-postgres.sh failed");
    });
    let name = unique("wharf-it-pg");
    docker(&["run", "-d", "--name", &name, "wharf-test/postgres:15"]);
    cleanup.containers.push(name.clone());
    crate::support::eventually(Duration::from_secs(60), "PostgreSQL to accept connections", || {
        Command::new("docker")
            .args(["exec", &name, "pg_isready", "-q", "-h", "/var/run/postgresql"])
            .status()
            .is_ok_and(|s| s.success())
    });
    name
}

/// A running PostgreSQL whose database `app` holds what `sql` makes.
pub(crate) fn postgres_app(cleanup: &mut Cleanup, sql: &str) -> String {
    let container = postgres_container(cleanup);
    psql(&container, "postgres", "CREATE DATABASE app");
    psql(&container, "app", sql);
    container
}

/// A `wharf.toml` whose one profile backs up and restores database `app` of
/// the PostgreSQL `container` into `bucket`.
pub(crate) fn postgres_profile(bucket: &str, container: &str) -> String {
    format!(
        "[profiles.pg]\nbucket = \"{bucket}\"\n[profiles.pg.database]\ncontainer = \"{container}\"\npreset = \"postgres\"\nuser = \"postgres\"\nname = \"app\"\n"
    )
}

pub(crate) fn psql(container: &str, database: &str, sql: &str) -> String {
    docker(&[
        "exec",
        container,
        "psql",
        "-U",
        "postgres",
        "-d",
        database,
        "-v",
        "ON_ERROR_STOP=1",
        "-At",
        "-c",
        sql,
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_postgres_preset_round_trips_a_real_database() {
    let mut cleanup = Cleanup::default();
    let container = postgres_app(
        &mut cleanup,
        "CREATE TABLE notes (id int PRIMARY KEY, body text, blob bytea);
         INSERT INTO notes SELECT i, md5(i::text), decode(md5(i::text) || md5((i * 7)::text), 'hex')
           FROM generate_series(1, 20000) AS i;",
    );
    let fingerprint = "SELECT count(*) || ':' || md5(string_agg(id || body || encode(blob, 'hex'), ',' ORDER BY id)) FROM notes";
    let before = psql(&container, "app", fingerprint);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wharf.toml"), postgres_profile(&bucket, &container)).unwrap();

    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dump = stream(&bucket, &result).await;
    assert!(dump.starts_with(b"PGDMP"), "a pg_dump custom-format archive");

    psql(
        &container,
        "app",
        "DELETE FROM notes WHERE id % 3 = 0; UPDATE notes SET body = 'changed' WHERE id < 100",
    );
    assert_ne!(psql(&container, "app", fingerprint), before);
    let out = wharf(&["restore", result["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(psql(&container, "app", fingerprint), before, "every row as it was");
}

/// Stands in for SQL Server's `sqlcmd` in a busybox container: checks that the
/// password came in its environment, and BACKUPs / RESTOREs `/var/db/app.mdf`
/// to and from the file the query names. (No SQL Server can be built here.)
const FAKE_SQLCMD: &str = r#"#!/bin/sh
[ -n "$SQLCMDPASSWORD" ] && [ "$SQLCMDPASSWORD" = "$MSSQL_SA_PASSWORD" ] || { echo "Login failed for user 'sa'." >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in -Q) shift; query="$1" ;; -P) echo "the password must not be on the command line" >&2; exit 1 ;; esac
  shift
done
file=$(echo "$query" | sed -n "s/.*DISK = N'\([^']*\)'.*/\1/p")
case "$query" in
  "BACKUP DATABASE [app] "*) cp /var/db/app.mdf "$file" ;;
  "RESTORE DATABASE [app] "*) cp "$file" /var/db/app.mdf ;;
  *) echo "unexpected query: $query" >&2; exit 1 ;;
esac
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_mssql_preset_moves_a_backup_file_out_and_back_with_the_password_in_the_environment() {
    let mut cleanup = Cleanup::default();
    let name = unique("wharf-it-mssql");
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-e",
        "MSSQL_SA_PASSWORD=S3cret!x",
        test_image(),
        "sleep",
        "3600",
    ]);
    cleanup.containers.push(name.clone());
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("sqlcmd"), FAKE_SQLCMD).unwrap();
    docker(&["exec", &name, "mkdir", "-p", "/opt/mssql-tools18/bin", "/var/db"]);
    docker(&[
        "cp",
        &format!("{}/sqlcmd", scratch.path().display()),
        &format!("{name}:/opt/mssql-tools18/bin/sqlcmd"),
    ]);
    docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "chmod 755 /opt/mssql-tools18/bin/sqlcmd && dd if=/dev/urandom of=/var/db/app.mdf bs=1024 count=2048 2>/dev/null",
    ]);
    let sum = || docker(&["exec", &name, "md5sum", "/var/db/app.mdf"]);
    let before = sum();
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.sql]\nbucket = \"{bucket}\"\n[profiles.sql.database]\ncontainer = \"{name}\"\npreset = \"mssql\"\nuser = \"sa\"\nname = \"app\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();

    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["format"], 2, "chunks, by default: {result}");
    let leftovers = || docker(&["exec", &name, "sh", "-c", "ls /tmp | grep -c wharf- || true"]);
    assert_eq!(leftovers(), "0", "the backup file is removed from the container");

    docker(&["exec", &name, "sh", "-c", "echo damaged > /var/db/app.mdf"]);
    let out = wharf(&["restore", result["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sum(), before, "RESTORE read the very file BACKUP wrote");
    assert_eq!(leftovers(), "0");

    // Without the container's password, sqlcmd's own words come back.
    docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "sed -i 's/MSSQL_SA_PASSWORD\" ]/NO_SUCH_VARIABLE\" ]/' /opt/mssql-tools18/bin/sqlcmd",
    ]);
    let out = wharf(&["backup"], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exited with 1: Login failed for user 'sa'."), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mysql_preset_round_trips_a_real_mariadb_database() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(crate::support::repo_path("scripts/test-image-mariadb.sh"))
            .status()
            .unwrap();
        assert!(status.success(), "scripts/test-image-mariadb.sh failed");
    });
    let mut cleanup = Cleanup::default();
    let container = unique("wharf-it-maria");
    docker(&["run", "-d", "--name", &container, "wharf-test/mariadb:10"]);
    cleanup.containers.push(container.clone());
    let sql =
        |statement: &str| docker(&["exec", &container, "mariadb", "-u", "root", "-N", "-B", "-e", statement]);
    crate::support::eventually(Duration::from_secs(60), "MariaDB to accept connections", || {
        Command::new("docker")
            .args(["exec", &container, "mariadb", "-u", "root", "-e", "SELECT 1"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    sql("CREATE DATABASE app");
    sql("CREATE TABLE app.notes (id INT PRIMARY KEY, body TEXT)");
    sql("INSERT INTO app.notes SELECT seq, MD5(seq) FROM app.seq_1_to_5000");
    let fingerprint = "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, body ORDER BY id))) FROM app.notes";
    let before = sql(fingerprint);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.m]\nbucket = \"{bucket}\"\n[profiles.m.database]\ncontainer = \"{container}\"\npreset = \"mysql\"\nuser = \"root\"\nname = \"app\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();

    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    sql("DELETE FROM app.notes WHERE id % 2 = 0");
    let changed = sql(fingerprint);
    assert_ne!(changed, before);
    let out = wharf(&["restore", result["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sql(fingerprint), before, "every row as it was");

    // What the restore replaced was kept: --undo puts it back.
    let out = wharf(&["restore", "--undo", "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("It replaces, in container"), "{}", stderr(&out));
    assert_eq!(sql(fingerprint), changed, "the database as it was before the restore");
}
