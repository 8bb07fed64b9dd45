//! Snapshots: the manifest (the format written beside each snapshot's data),
//! a snapshot as listed, and the stored object it points at.

use serde::{Deserialize, Serialize};

/// What a snapshot holds and how to check it; written after the data, so a
/// snapshot without one is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub source: Source,
    /// `path`, `postgres`, `mysql`, `mssql`, `custom`.
    pub preset: String,
    /// `tar` (a directory) or `dump` (a command's output).
    pub content: String,
    pub compression: String,
    /// The key of the data object (format 2: the prefix its chunks are under).
    pub key: String,
    pub raw_bytes: u64,
    /// Format 2: the chunks' compressed bytes, each counted as often as the stream holds it.
    pub stored_bytes: u64,
    /// Format 1: of the stored (compressed) object; format 2: of the whole
    /// stream, uncompressed. Hex.
    pub sha256: String,
    pub storage_class: S3Class,
    pub wharf_version: String,
    /// The machine that made it (`WHARF_HOST`, else the host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The snapshot the container's data was last restored from or backed
    /// up as, when this one was made (the line of history across machines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// For the dump presets: the database dumped (`*`: every database of the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Format 2: the stream's chunks in order, each stored once under
    /// `PREFIX/chunks/<sha256>` (zstd), whatever snapshots share it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ChunkRef>,
    /// Format 2: what this backup uploaded (the chunks the bucket lacked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_bytes: Option<u64>,
    /// Format 2: how many chunks it uploaded (a PUT request each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_chunks: Option<u64>,
}

impl Manifest {
    /// Whether the data is chunks (format 2), not one object.
    pub fn is_chunked(&self) -> bool {
        self.format >= 2
    }

    /// The size and SHA-256 a copy's data is checked against: the stored
    /// object's (format 1), the whole uncompressed stream's (format 2).
    pub fn checked_as(&self) -> (u64, &str) {
        if self.is_chunked() { (self.raw_bytes, &self.sha256) } else { (self.stored_bytes, &self.sha256) }
    }
}

/// One chunk of a format-2 snapshot's stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Of the chunk's uncompressed bytes, hex: its name.
    pub sha256: String,
    /// Uncompressed.
    pub size: u64,
    /// As stored (zstd).
    pub stored: u64,
}

/// Where the data came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `container` (local) or `ecs_task`.
    pub kind: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    /// For `path`: the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// One snapshot as listed: complete when its manifest is there and readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub data: Option<Object>,
    pub manifest: Option<Manifest>,
    /// Why it cannot be restored, when it cannot.
    pub problem: Option<Problem>,
    /// `HEAD.json` names it: the newest snapshot of the line of history.
    pub head: bool,
}

impl Snapshot {
    pub fn is_complete(&self) -> bool {
        self.manifest.is_some() && self.problem.is_none()
    }

    /// The creation time (Unix seconds): the manifest's, else the one in the
    /// id, else the data object's.
    pub fn created(&self) -> Option<i64> {
        let parse = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp());
        self.manifest
            .as_ref()
            .and_then(|m| parse(&m.created))
            .or_else(|| id_time(&self.id).and_then(|t| parse(&t)))
            .or_else(|| self.data.as_ref().and_then(|d| d.last_modified))
    }

    /// What the snapshot stores of its own: its data object, or (chunked)
    /// the chunks its backup sent (the others it shares with older snapshots).
    pub fn stored_bytes(&self) -> Option<u64> {
        match self.manifest.as_ref().filter(|m| m.is_chunked()) {
            Some(m) => m.new_bytes,
            None => self.data.as_ref().map(|d| d.size),
        }
    }

    /// The data object's class as S3 listed it, else the manifest's.
    pub fn storage_class(&self) -> &S3Class {
        static STANDARD: S3Class = S3Class::Standard;
        self.data
            .as_ref()
            .map(|d| &d.storage_class)
            .or(self.manifest.as_ref().map(|m| &m.storage_class))
            .unwrap_or(&STANDARD)
    }
}

/// Why a listed snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Its data is there and its manifest is not: a backup that was cut
    /// short, or one about to write its manifest.
    NoManifest,
    /// Its manifest is of a format this wharf does not know (a newer wharf wrote it).
    NewerFormat(u32),
    /// Its manifest does not parse.
    Unreadable(String),
    /// Its manifest names a data object that is not there.
    DataMissing(String),
}

impl Problem {
    /// Whether wharf understands what is there well enough to delete it: a
    /// newer format or a manifest it cannot read may be somebody's good snapshot.
    pub fn understood(&self) -> bool {
        matches!(self, Problem::NoManifest | Problem::DataMissing(_))
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NoManifest => write!(f, "incomplete: no manifest (an interrupted backup)"),
            Problem::NewerFormat(n) => {
                write!(f, "written by a newer wharf (manifest format {n}); upgrade wharf to read it")
            }
            Problem::Unreadable(e) => write!(f, "unreadable manifest: {e}"),
            Problem::DataMissing(key) => write!(f, "its data object {key} is missing"),
        }
    }
}

/// An object's S3 storage class. The classes whose terms wharf knows are
/// variants; any other (one S3 adds later, `LOCAL` for a safety copy's
/// manifest on this machine) is kept by its name. Written as S3 names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum S3Class {
    #[default]
    Standard,
    IntelligentTiering,
    StandardIa,
    OnezoneIa,
    GlacierIr,
    Glacier,
    DeepArchive,
    Other(String),
}

impl S3Class {
    /// The class S3 calls `name`.
    pub fn named(name: &str) -> S3Class {
        match name {
            "STANDARD" => S3Class::Standard,
            "INTELLIGENT_TIERING" => S3Class::IntelligentTiering,
            "STANDARD_IA" => S3Class::StandardIa,
            "ONEZONE_IA" => S3Class::OnezoneIa,
            "GLACIER_IR" => S3Class::GlacierIr,
            "GLACIER" => S3Class::Glacier,
            "DEEP_ARCHIVE" => S3Class::DeepArchive,
            other => S3Class::Other(other.to_string()),
        }
    }

    /// The name S3 uses.
    pub fn as_str(&self) -> &str {
        match self {
            S3Class::Standard => "STANDARD",
            S3Class::IntelligentTiering => "INTELLIGENT_TIERING",
            S3Class::StandardIa => "STANDARD_IA",
            S3Class::OnezoneIa => "ONEZONE_IA",
            S3Class::GlacierIr => "GLACIER_IR",
            S3Class::Glacier => "GLACIER",
            S3Class::DeepArchive => "DEEP_ARCHIVE",
            S3Class::Other(name) => name,
        }
    }

    /// The class in a narrow column: `ONEZONE_IA` → `1Z-IA`.
    pub fn short(&self) -> &str {
        match self {
            S3Class::Standard => "STD",
            S3Class::IntelligentTiering => "INT-TIER",
            S3Class::StandardIa => "STD-IA",
            S3Class::OnezoneIa => "1Z-IA",
            S3Class::GlacierIr => "GLACIER-IR",
            S3Class::Glacier => "GLACIER",
            S3Class::DeepArchive => "DEEP-ARCH",
            S3Class::Other(name) => name,
        }
    }
}

impl From<String> for S3Class {
    fn from(name: String) -> S3Class {
        S3Class::named(&name)
    }
}

impl From<&str> for S3Class {
    fn from(name: &str) -> S3Class {
        S3Class::named(name)
    }
}

impl From<S3Class> for String {
    fn from(class: S3Class) -> String {
        class.as_str().to_string()
    }
}

impl std::fmt::Display for S3Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
    /// As S3 reports it; `STANDARD` when it says nothing.
    pub storage_class: S3Class,
    /// Unix seconds.
    pub last_modified: Option<i64>,
}

/// `20261126T175427Z-db` → `2026-11-26T17:54:27Z`.
fn id_time(id: &str) -> Option<String> {
    let stamp = id.get(..16)?;
    let digits = |r: std::ops::Range<usize>| stamp.get(r).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    let (y, mo, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (h, mi, s) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    (stamp.as_bytes()[8] == b'T' && stamp.as_bytes()[15] == b'Z')
        .then(|| format!("{y}-{mo}-{d}T{h}:{mi}:{s}Z"))
}
