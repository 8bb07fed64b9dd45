//! Snapshots in S3: the layout (`PREFIX/ID/data.<kind>.zst`, then
//! `PREFIX/ID/manifest.json`, written last), the manifest, listing, and what
//! each storage class costs and demands.

pub mod graph;
pub mod line;
pub mod local;
pub mod pricing;
pub mod prune;

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::aws::AwsError;
use crate::aws::s3::{self, Object};
pub use crate::model::snapshots::{Manifest, Snapshot, Source};

/// The manifest format this build writes and reads.
pub const FORMAT: u32 = 1;

/// `prefix` as keys are built from it: empty, or ending in one `/`.
pub fn normalise_prefix(prefix: Option<&str>) -> String {
    let trimmed = prefix.unwrap_or_default().trim_matches('/');
    if trimmed.is_empty() { String::new() } else { format!("{trimmed}/") }
}

/// `<UTC yyyymmddThhmmssZ>-<source>`, the source cut down to letters, digits, `-`, `_` and `.`.
pub fn new_id(now: i64, source: &str) -> String {
    let stamp = rfc3339(now).replace(['-', ':'], "");
    let source: String = source
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect();
    format!("{stamp}-{}", source.trim_matches('-'))
}

/// Unix seconds as `2026-11-26T17:42:27Z`.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

pub fn data_key(prefix: &str, id: &str, content: &str) -> String {
    format!("{prefix}{id}/data.{content}.zst")
}

pub fn manifest_key(prefix: &str, id: &str) -> String {
    format!("{prefix}{id}/manifest.json")
}

/// A new snapshot id and its data key, with `-2`, `-3` … added to the source
/// when a snapshot of it was made in the same second.
pub async fn free_id(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    prefix: &str,
    now: i64,
    source: &str,
    content: &str,
) -> Result<(String, String), AwsError> {
    let taken = |r: Result<Object, AwsError>| match r {
        Ok(_) => Ok(true),
        Err(AwsError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    };
    let mut n = 1;
    loop {
        let source = if n == 1 { source.to_string() } else { format!("{source}-{n}") };
        let id = new_id(now, &source);
        let key = data_key(prefix, &id, content);
        let manifest = s3::head(s3_client, bucket, &manifest_key(prefix, &id)).await;
        if !taken(manifest)? && !taken(s3::head(s3_client, bucket, &key).await)? {
            return Ok((id, key));
        }
        n += 1;
    }
}

/// This machine's name in manifests and journals: `WHARF_HOST`, else the host name.
pub fn host_name() -> String {
    std::env::var("WHARF_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| gethostname::gethostname().into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Manifest reads in flight at once: S3 answers thousands a second, and each
/// costs a round trip.
const MANIFEST_READS: usize = 64;

/// Every snapshot under `prefix`, newest first, each with its manifest read.
/// Manifests never change once written, so with a `cache` (wharf's cache
/// directory) each is read from S3 once and kept there
/// (`manifests/<bucket and prefix>/<id>.json`, with the object's time, so that
/// a snapshot deleted and made again under the same id is read again).
pub async fn list(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    prefix: &str,
    cache: Option<&std::path::Path>,
) -> Result<Vec<Snapshot>, AwsError> {
    // id → (data object, the manifest object's time if there is one)
    let mut by_id: BTreeMap<String, (Option<Object>, Option<Option<i64>>)> = BTreeMap::new();
    let kept = cache.map(|c| ManifestCache::new(c, bucket, prefix));
    // The ids seen last time say where to split the listing into ranges read side by side.
    let splits = kept.as_ref().map(|k| k.splits(prefix)).unwrap_or_default();
    // Which one is head of the line (`HEAD.json`, no snapshot of its own), read beside the listing.
    let (objects, head) = tokio::join!(
        s3::list_split(s3_client, bucket, prefix, &splits),
        line::head(s3_client, bucket, prefix)
    );
    for object in objects? {
        let Some((id, file)) = object.key.strip_prefix(prefix).and_then(|rest| rest.split_once('/')) else {
            continue;
        };
        let entry = by_id.entry(id.to_string()).or_default();
        if file == "manifest.json" {
            entry.1 = Some(object.last_modified);
        } else if file.starts_with("data.") && file.ends_with(".zst") {
            entry.0 = Some(object.clone());
        }
    }
    let reads = by_id.iter().map(|(id, (data, manifest))| {
        let kept = kept.as_ref();
        async move {
            let mut snapshot =
                Snapshot { id: id.clone(), data: data.clone(), manifest: None, problem: None, head: false };
            let Some(written) = manifest else {
                snapshot.problem = Some("incomplete: no manifest (an interrupted backup)".into());
                return Ok(snapshot);
            };
            let cached = kept.as_ref().and_then(|k| k.get(id, *written));
            let bytes = match cached {
                Some(bytes) => bytes,
                None => {
                    let bytes = s3::get(s3_client, bucket, &manifest_key(prefix, id)).await?.to_vec();
                    if let Some(k) = &kept {
                        k.put(id, *written, &bytes);
                    }
                    bytes
                }
            };
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) if m.format > FORMAT => {
                    snapshot.problem =
                        Some(format!("manifest format {} is newer than this wharf reads", m.format));
                }
                Ok(m) if snapshot.data.as_ref().is_none_or(|d| d.key != m.key) => {
                    snapshot.problem = Some(format!("its data object {} is missing", m.key));
                    snapshot.manifest = Some(m);
                }
                Ok(m) => snapshot.manifest = Some(m),
                Err(e) => snapshot.problem = Some(format!("unreadable manifest: {e}")),
            }
            Ok::<_, AwsError>(snapshot)
        }
    });
    // Boxed and collected: a lazy iterator of these futures trips the compiler's Send check in spawned loads.
    let reads: Vec<_> = reads.map(futures::FutureExt::boxed).collect();
    let mut snapshots: Vec<Snapshot> = futures::stream::iter(reads)
        .buffer_unordered(MANIFEST_READS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    if let Some(k) = &kept {
        k.forget_all_but(&by_id);
    }
    // One unreadable HEAD.json must not hide every snapshot: the list is shown without a head.
    let head = head.unwrap_or_else(|e| {
        tracing::warn!(bucket, prefix, error = %e, "cannot read the head of the line");
        None
    });
    if let Some((head, _)) = head {
        for s in &mut snapshots {
            s.head = s.id == head.snapshot;
        }
    }
    snapshots.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(snapshots)
}

/// Snapshots per range of a split listing: 900 objects, under S3's page of 1,000.
const SPLIT_EVERY: usize = 450;

/// Manifests read before, for one bucket and prefix.
#[derive(Debug)]
struct ManifestCache {
    dir: std::path::PathBuf,
    /// The ids kept when the listing began (one read of the directory), sorted.
    kept: Vec<String>,
}

/// What is kept of a manifest: its text, and when its object was written.
#[derive(Serialize, Deserialize)]
struct KeptManifest {
    written: Option<i64>,
    text: String,
}

impl ManifestCache {
    fn new(cache: &std::path::Path, bucket: &str, prefix: &str) -> ManifestCache {
        let place = crate::records::name_for(&format!("{bucket}/{prefix}"));
        let dir = cache.join("manifests").join(place);
        if let Err(e) = crate::files::private_dir(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot keep manifests in the cache");
        }
        let mut kept: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .collect();
        kept.sort_unstable();
        ManifestCache { dir, kept }
    }

    /// The manifest of `id`, if it was kept from an object written at `written`.
    fn get(&self, id: &str, written: Option<i64>) -> Option<Vec<u8>> {
        let kept: KeptManifest =
            serde_json::from_slice(&std::fs::read(self.dir.join(format!("{id}.json"))).ok()?).ok()?;
        (kept.written == written).then(|| kept.text.into_bytes())
    }

    fn put(&self, id: &str, written: Option<i64>, bytes: &[u8]) {
        let kept = KeptManifest { written, text: String::from_utf8_lossy(bytes).to_string() };
        let stored = serde_json::to_vec(&kept)
            .map_err(std::io::Error::other)
            .and_then(|text| crate::files::write_cached(&self.dir.join(format!("{id}.json")), &text));
        if let Err(e) = stored {
            tracing::warn!(id, error = %e, "cannot keep the manifest in the cache");
        }
    }

    /// Keys to split a listing of `prefix` at: every [`SPLIT_EVERY`]th id
    /// kept (one snapshot is two objects, so each range is about one page).
    fn splits(&self, prefix: &str) -> Vec<String> {
        self.kept.iter().skip(SPLIT_EVERY).step_by(SPLIT_EVERY).map(|id| format!("{prefix}{id}")).collect()
    }

    /// Drops what was kept of snapshots that are gone.
    fn forget_all_but(&self, ids: &BTreeMap<String, impl Sized>) {
        for gone in self.kept.iter().filter(|id| !ids.contains_key(*id)) {
            let _ = std::fs::remove_file(self.dir.join(format!("{gone}.json")));
        }
    }
}
