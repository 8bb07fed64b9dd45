//! AWS at real scale, through a realism layer of the test's own (so that its
//! calls can be counted): snapshot manifests read once and kept, ECR images in
//! pages of 1,000, every item seen exactly once across pages.

use futures::StreamExt;

use crate::backup::{bucket, stderr, wharf_at};
use crate::support::{Realism, moto_clients, unique};

fn calls(stats: &serde_json::Value, action: &str) -> u64 {
    stats["calls"][action].as_u64().unwrap_or(0)
}

/// `wharf snapshots --json` of `bucket`/p through the layer at `url`.
fn snapshots_at(url: &str, bucket: &str, home: &std::path::Path) -> Vec<serde_json::Value> {
    let out = wharf_at(url, &["snapshots", "--bucket", bucket, "--prefix", "p", "--json"], home);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_manifests_are_read_once_and_kept() {
    let bucket = bucket().await;
    let s3 = moto_clients().await.s3;
    let ids: Vec<String> = (0..60).map(|i| format!("20261130T0{:05}Z-db", i)).collect();
    put_snapshots(&s3, &bucket, &ids).await;
    let layer = Realism::start(&["--latency-ms", "10"]);
    let home = tempfile::tempdir().unwrap();
    let list = || {
        snapshots_at(&layer.url, &bucket, home.path())
            .iter()
            .map(|s| (s["id"].as_str().unwrap().to_string(), s["complete"] == true))
            .collect::<Vec<_>>()
    };
    let first = list();
    assert_eq!(first.len(), 60);
    assert!(first.iter().all(|(_, complete)| *complete));
    // Each manifest read once, and HEAD.json once a listing.
    assert_eq!(calls(&layer.stats(), "s3:GET"), 60 + 1, "each manifest read once");

    let second = list();
    assert_eq!(second, first);
    assert_eq!(calls(&layer.stats(), "s3:GET"), 61 + 1, "then from the cache: no manifest read again");

    // A snapshot deleted, another made again under the same id: each seen as it is now.
    s3.delete_object().bucket(&bucket).key(format!("p/{}/manifest.json", ids[0])).send().await.unwrap();
    s3.delete_object().bucket(&bucket).key(format!("p/{}/data.tar.zst", ids[0])).send().await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = serde_json::json!({ "format": 99 });
    s3.put_object()
        .bucket(&bucket)
        .key(format!("p/{}/manifest.json", ids[1]))
        .body(serde_json::to_vec(&again).unwrap().into())
        .send()
        .await
        .unwrap();
    let third = list();
    assert_eq!(third.len(), 59);
    assert!(!third.iter().any(|(id, _)| id == &ids[0]));
    assert!(
        third.iter().any(|(id, complete)| id == &ids[1] && !complete),
        "the rewritten manifest is read again"
    );
    assert_eq!(calls(&layer.stats(), "s3:GET"), 62 + 1 + 1, "the rewritten manifest, and HEAD.json");
    let kept =
        std::fs::read_dir(home.path().join("cache/wharf/manifests")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::read_dir(kept).unwrap().count(), 59, "what was deleted is forgotten");
}

/// Puts whole snapshots (a data object and a manifest each) under `p/`.
async fn put_snapshots(s3: &aws_sdk_s3::Client, bucket: &str, ids: &[String]) {
    let puts = ids.iter().map(|id| async move {
        let key = format!("p/{id}/data.tar.zst");
        s3.put_object().bucket(bucket).key(&key).body(vec![7u8; 10].into()).send().await.unwrap();
        let manifest = serde_json::json!({
            "format": 1, "id": id, "created": "2026-11-30T00:00:00Z",
            "source": { "kind": "container", "name": "db", "image": "db:1", "image_id": "sha256:00" },
            "preset": "path", "content": "tar", "compression": "zstd", "key": key,
            "raw_bytes": 10, "stored_bytes": 10, "sha256": "00", "storage_class": "STANDARD", "wharf_version": "0"
        });
        let body = serde_json::to_vec(&manifest).unwrap();
        s3.put_object().bucket(bucket).key(format!("p/{id}/manifest.json")).body(body.into()).send().await.unwrap();
    });
    futures::stream::iter(puts).buffer_unordered(16).collect::<Vec<()>>().await;
}

/// A listing seen before is read as ranges side by side (split where the ids
/// of the last listing say), and still finds every snapshot exactly once:
/// new ones inside a range (which then takes two pages), and none of those
/// deleted.
#[tokio::test(flavor = "multi_thread")]
async fn a_listing_seen_before_is_read_in_ranges_side_by_side_each_snapshot_once() {
    let bucket = bucket().await;
    let s3 = moto_clients().await.s3;
    let id = |i: usize| format!("20261130T{:06}Z-db", i * 10);
    let ids: Vec<String> = (0..600).map(id).collect();
    put_snapshots(&s3, &bucket, &ids).await;
    let layer = Realism::start(&["--latency-ms", "50"]);
    let home = tempfile::tempdir().unwrap();
    let list = || {
        let mut ids: Vec<String> = snapshots_at(&layer.url, &bucket, home.path())
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(list(), ids);
    let stats = layer.stats();
    assert_eq!((calls(&stats, "s3:GET:list"), stats["most_at_once"]["s3:GET:list"].as_u64()), (2, Some(1)));

    // 200 more inside the first range (split at the 450th id), one deleted from the second.
    let more: Vec<String> = (0..200).map(|i| format!("20261130T{:06}Z-db", i * 10 + 5)).collect();
    put_snapshots(&s3, &bucket, &more).await;
    for file in ["manifest.json", "data.tar.zst"] {
        s3.delete_object().bucket(&bucket).key(format!("p/{}/{file}", ids[500])).send().await.unwrap();
    }
    let mut now: Vec<String> = ids.iter().chain(&more).filter(|i| **i != ids[500]).cloned().collect();
    now.sort();
    assert_eq!(list(), now, "each snapshot once, the deleted one gone");
    let stats = layer.stats();
    assert_eq!(stats["most_at_once"]["s3:GET:list"].as_u64(), Some(2), "two ranges at once: {stats}");
    assert_eq!(calls(&stats, "s3:GET:list"), 2 + 3, "the first range now takes two pages: {stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ecr_images_come_in_pages_of_a_thousand_each_exactly_once() {
    let ecr = moto_clients().await.ecr;
    let repository = unique("wharf-it-many");
    ecr.create_repository().repository_name(&repository).send().await.unwrap();
    for i in 0..1100 {
        crate::support::put_ecr_image(&ecr, &repository, &format!("v{i}")).await;
    }
    let layer = Realism::start(&["--latency-ms", "10"]);
    let home = tempfile::tempdir().unwrap();
    let out = wharf_at(&layer.url, &["tags", &repository, "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let images: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut digests: Vec<&str> =
        images.as_array().unwrap().iter().map(|i| i["digest"].as_str().unwrap()).collect();
    assert_eq!(digests.len(), 1100);
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), 1100, "each exactly once");
    let stats = layer.stats();
    assert_eq!(stats["pages"]["AmazonEC2ContainerRegistry_V20150921.DescribeImages"], 2, "{stats}");
}

/// A home line: the layer carries a backup's upload at its upload speed and a
/// restore's download at its download speed, and counts the bytes each way.
#[tokio::test(flavor = "multi_thread")]
async fn a_home_line_carries_backups_and_restores_at_its_speed_and_counts_the_bytes() {
    let mut cleanup = crate::support::Cleanup::default();
    let container = crate::backup::data_container(&mut cleanup);
    crate::backup::fill(&container, 4);
    let bucket = bucket().await;
    let layer = Realism::start(&["--latency-ms", "5", "--up-mbit", "16", "--down-mbit", "64"]);
    let config = format!(
        "[profiles.t]\nbucket = \"{bucket}\"\n[profiles.t.database]\ncontainer = \"{container}\"\npath = \"/data\"\n"
    );
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wharf.toml"), &config).unwrap();
    let started = std::time::Instant::now();
    let out = wharf_at(&layer.url, &["backup", "--json"], home.path());
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let backup: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stored = backup["stored_bytes"].as_u64().unwrap();
    let up = layer.stats()["bytes"]["up"].as_u64().unwrap();
    assert!(up >= stored && stored > 6_000_000, "{up} bytes up for {stored} stored");
    let line = stored as f64 * 8.0 / 16e6;
    assert!(took.as_secs_f64() >= line, "{took:?} for {stored} bytes at 16 Mbit/s ({line:.1} s)");

    // Another machine restores it: the download at 64 Mbit/s.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("wharf.toml"), &config).unwrap();
    let id = backup["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let out = wharf_at(&layer.url, &["restore", id, "--yes"], other.path());
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let down = layer.stats()["bytes"]["down"].as_u64().unwrap();
    assert!(down >= stored, "{down} bytes down");
    assert!(took.as_secs_f64() >= stored as f64 * 8.0 / 64e6, "{took:?}");
    eprintln!("{stored} bytes: up at 16 Mbit/s in the backup, down at 64 Mbit/s in {took:?}");
}
