//! Snapshots in S3: the layout (`PREFIX/ID/data.<kind>.zst`, then
//! `PREFIX/ID/manifest.json`, written last), the manifest, listing, and what
//! each storage class costs and demands.

pub mod cache;
pub mod chunks;
pub mod graph;
pub mod line;
pub mod local;
pub mod locks;
pub mod pricing;
pub mod prune;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::aws::AwsError;
use crate::aws::s3::{self, Object};
pub use crate::model::snapshots::{Manifest, Problem, Snapshot, Source};

/// The newest manifest format this build writes and reads: 2, chunks
/// (`PREFIX/chunks/<sha256>`); 1, the whole stream as one object
/// (`PREFIX/ID/data.<kind>.zst`), still read and written with `--full`.
pub const FORMAT: u32 = 2;
/// The format of a snapshot stored as one object (a full backup, a remote
/// backup; a safety copy an older wharf kept on this machine).
pub const WHOLE: u32 = 1;

/// `prefix` as keys are built from it: empty, or ending in one `/`.
pub fn normalise_prefix(prefix: Option<&str>) -> String {
    let trimmed = prefix.unwrap_or_default().trim_matches('/');
    if trimmed.is_empty() { String::new() } else { format!("{trimmed}/") }
}

/// A new snapshot id: `<UTC yyyymmddThhmmssZ>-<source>-<host>-<random>`, for
/// example `20261205T180000Z-db-laptop-k3f9q`. It sorts by time, says what it
/// is of and where it was made, and the random part keeps two machines (or
/// two processes) that back up the same container in the same second apart.
/// Names are cut down to letters, digits, `-`, `_` and `.`.
pub fn new_id(now: i64, source: &str, host: &str) -> String {
    let stamp = rfc3339(now).replace(['-', ':'], "");
    format!("{stamp}-{}-{}-{}", id_word(source), id_word(host), random_word(5))
}

fn id_word(text: &str) -> String {
    let word: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .take(40)
        .collect();
    let word = word.trim_matches(|c| matches!(c, '-' | '.')).replace("..", "-");
    if word.is_empty() { "x".into() } else { word }
}

/// `n` lowercase letters and digits (32 of them: no `i`, `l`, `o`, `u`)
/// from the system's random source: five make 33 million.
pub fn random_word(n: usize) -> String {
    const LETTERS: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = vec![0u8; n];
    if getrandom::fill(&mut bytes).is_err() {
        // No system randomness: the clock's nanoseconds and the process id still part two writers.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        let mixed = nanos ^ (u64::from(std::process::id()) << 30);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (mixed >> ((i * 5) % 60)) as u8;
        }
    }
    bytes.iter().map(|b| LETTERS[usize::from(b % 32)] as char).collect()
}

/// Why a text is not a snapshot id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a snapshot id (they look like 20261205T180000Z-db-laptop-k3f9q: see `wharf snapshots`)"
)]
pub struct BadId(pub String);

/// Checks that `id` has the shape of wharf's ids (the UTC time, then
/// letters, digits, `-`, `_` and `.`; no `/`, no `..`) before anything is
/// named after it on this machine or in the bucket.
pub fn check_id(id: &str) -> Result<(), BadId> {
    let bad = || BadId(id.chars().take(80).collect());
    let (stamp, rest) = (id.get(..16).ok_or_else(bad)?, id.get(16..).unwrap_or_default());
    let stamp_ok = stamp.bytes().enumerate().all(|(i, b)| match i {
        8 => b == b'T',
        15 => b == b'Z',
        _ => b.is_ascii_digit(),
    });
    let rest_ok = rest.len() <= 200
        && (rest.is_empty() || rest.starts_with('-'))
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !rest.contains("..");
    if stamp_ok && rest_ok { Ok(()) } else { Err(bad()) }
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

pub fn chunks_prefix(prefix: &str) -> String {
    format!("{prefix}chunks/")
}

pub fn chunk_key(prefix: &str, sha256: &str) -> String {
    format!("{prefix}chunks/{sha256}")
}

/// The chunks under `prefix` and their stored sizes.
pub async fn bucket_chunks(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    prefix: &str,
) -> Result<HashMap<String, u64>, AwsError> {
    let under = chunks_prefix(prefix);
    let objects = s3::list(s3_client, bucket, &under).await?;
    Ok(objects.into_iter().filter_map(|o| Some((o.key.strip_prefix(&under)?.to_string(), o.size))).collect())
}

/// The chunk names a set of manifests use.
pub fn used_by<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> HashSet<String> {
    manifests.into_iter().flat_map(|m| m.chunks.iter().map(|c| c.sha256.clone())).collect()
}

pub fn manifest_key(prefix: &str, id: &str) -> String {
    format!("{prefix}{id}/manifest.json")
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
    // Ids begin with a digit: the listing stops before `chunks/` and `locks/`,
    // which may hold thousands of keys.
    let through = format!("{prefix}:");
    let (objects, head) = tokio::join!(
        s3::list_split(s3_client, bucket, prefix, &splits, Some(&through)),
        line::head(s3_client, bucket, prefix)
    );
    for object in objects? {
        let Some((id, file)) = object.key.strip_prefix(prefix).and_then(|rest| rest.split_once('/')) else {
            continue;
        };
        // Only wharf's own layout: anything else under the prefix is not a snapshot.
        if check_id(id).is_err() {
            continue;
        }
        let entry = by_id.entry(id.to_string()).or_default();
        if file == "manifest.json" {
            entry.1 = Some(object.last_modified);
        } else if file.starts_with("data.") {
            entry.0 = Some(object.clone());
        }
    }
    let reads = by_id.iter().map(|(id, (data, manifest))| {
        let kept = kept.as_ref();
        async move {
            let mut snapshot =
                Snapshot { id: id.clone(), data: data.clone(), manifest: None, problem: None, head: false };
            let Some(written) = manifest else {
                snapshot.problem = Some(Problem::NoManifest);
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
            match read_manifest(&bytes) {
                Ok(m) if !m.is_chunked() && snapshot.data.as_ref().is_none_or(|d| d.key != m.key) => {
                    snapshot.problem = Some(Problem::DataMissing(m.key.clone()));
                    snapshot.manifest = Some(m);
                }
                Ok(m) => snapshot.manifest = Some(m),
                Err(problem) => snapshot.problem = Some(problem),
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
    graph::newest_first(&mut snapshots);
    Ok(snapshots)
}

/// A manifest's text as this wharf reads it. The format is looked at first,
/// alone, so that a newer wharf's manifest (which may lack fields this one
/// knows, or have others) is told apart from one that is damaged.
pub fn read_manifest(bytes: &[u8]) -> Result<Manifest, Problem> {
    #[derive(Deserialize)]
    struct FormatOnly {
        format: Option<u32>,
    }
    match serde_json::from_slice::<FormatOnly>(bytes) {
        Ok(FormatOnly { format: Some(n) }) if n > FORMAT => return Err(Problem::NewerFormat(n)),
        Ok(_) => {}
        Err(e) => return Err(Problem::Unreadable(e.to_string())),
    }
    serde_json::from_slice::<Manifest>(bytes).map_err(|e| Problem::Unreadable(e.to_string()))
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
