//! `wharf export ID`: a snapshot as the plain file it holds, for tools that
//! know nothing of wharf — a directory's `.tar.zst` (`zstd -d | tar t`), a
//! dump as its client wrote it (`pg_restore`, `mysql`, SQL Server's
//! `RESTORE`). The snapshot is the cache's verified copy (fetched and
//! checked against its manifest's SHA-256 first when it is not there); the
//! file is written beside its name and linked into place when whole, so a
//! cut-short export leaves no file that looks finished, and an existing file
//! is never replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::restore::{RestoreError, cached};
use super::{Cancelled, JobContext, JobError, JobOutput, Progress};
use crate::aws::AwsClients;
use crate::config::{Dirs, Settings};
use crate::format;
use crate::snapshots::local::LocalSnapshot;
use crate::snapshots::{Manifest, cache};

/// Write snapshot `id` under `bucket`/`prefix` to a plain file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    pub id: String,
    pub bucket: String,
    pub prefix: String,
    /// Where to write it; `None`: `<id>.<what it is>` in the working directory.
    pub output: Option<PathBuf>,
    pub cache: PathBuf,
    pub state: PathBuf,
    pub cache_limit: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Fetch(#[from] RestoreError),
    #[error("{0} is there already; nothing was written (give another -o, or move it away)")]
    Exists(String),
    #[error("writing {0}: {1}")]
    Write(String, std::io::Error),
}

impl ExportJob {
    pub fn from_settings(
        settings: &Settings,
        id: String,
        (bucket, prefix): (String, String),
        output: Option<PathBuf>,
    ) -> ExportJob {
        let dirs = Dirs::new();
        ExportJob {
            id,
            bucket,
            prefix,
            output,
            cache: dirs.cache,
            state: dirs.state,
            cache_limit: settings.profile.cache_limit.unwrap_or(crate::config::DEFAULT_CACHE_LIMIT).0,
        }
    }

    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let exported = tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Cancelled.into()),
            e = self.export(&ctx, aws.as_ref()) => e,
        };
        let needed = super::restore::journal_snapshots(&self.state);
        cache::trim(&self.cache, self.cache_limit, &needed);
        Ok(exported?)
    }

    async fn export(&self, ctx: &JobContext, aws: Option<&AwsClients>) -> Result<JobOutput, ExportError> {
        let shown =
            self.output.as_ref().map_or_else(|| "the exported file".to_string(), |p| p.display().to_string());
        let place = (self.id.as_str(), self.bucket.as_str(), self.prefix.as_str());
        let fetched = cached(ctx, aws, &self.cache, place, &shown).await?;
        let manifest = &fetched.local.manifest;
        let output = self.output.clone().unwrap_or_else(|| PathBuf::from(plain_name(manifest)));
        if output.exists() {
            return Err(ExportError::Exists(output.display().to_string()));
        }
        ctx.progress(Progress::stage(format!("writing {}", output.display())));
        let (local, to) = (fetched.local.clone(), output.clone());
        let written = tokio::task::spawn_blocking(move || write_plain(&local, &to))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let bytes = match written {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ExportError::Exists(output.display().to_string()));
            }
            Err(e) => return Err(ExportError::Write(output.display().to_string(), e)),
        };
        Ok(JobOutput {
            attention: None,
            summary: format!(
                "{} written to {} ({}{})",
                manifest.id,
                output.display(),
                format::bytes(bytes),
                if fetched.from_cache { ", from the cache" } else { "" }
            ),
            copy: Some(output.display().to_string()),
            json: json!({
                "id": manifest.id,
                "file": output,
                "bytes": bytes,
                "content": manifest.content,
                "preset": manifest.preset,
                "database": manifest.database,
                "from_cache": fetched.from_cache,
            }),
        })
    }
}

/// `<id>.tar.zst` for a directory; a dump by what reads it: `pg_restore`'s
/// custom format `.dump`, SQL text `.sql`, SQL Server's `.bak`.
pub fn plain_name(manifest: &Manifest) -> String {
    let kind = match (manifest.content.as_str(), manifest.preset.as_str()) {
        ("tar", _) if manifest.compression == "none" => "tar",
        ("tar", _) => "tar.zst",
        (_, "postgres") if manifest.database.as_deref() == Some("*") => "sql",
        (_, "postgres") => "dump",
        (_, "mysql") => "sql",
        (_, "mssql") => "bak",
        _ => "dump",
    };
    format!("{}.{kind}", manifest.id)
}

/// The data file as the plain file it holds (a dump decompressed; a tar as it
/// is stored), through a part file linked into place. Returns its size.
fn write_plain(local: &LocalSnapshot, to: &Path) -> std::io::Result<u64> {
    let name = to.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    remove_dead_parts(to, &name);
    let part = to.with_file_name(format!(".{name}.part-{}", std::process::id()));
    let written = (|| {
        let mut out = std::fs::File::create(&part)?;
        let mut data = local.compressed()?;
        let tar = local.manifest.content == "tar";
        let bytes = if tar || local.manifest.compression == "none" {
            std::io::copy(&mut data, &mut out)?
        } else {
            std::io::copy(&mut zstd::Decoder::new(data)?, &mut out)?
        };
        out.flush()?;
        out.sync_all()?;
        Ok(bytes)
    })();
    // Linked into place, not renamed: a link never replaces a file that is
    // there (one that appeared meanwhile too); it fails with AlreadyExists.
    // A file system without links (a FAT stick) gets a rename after a look.
    let placed = written.and_then(|bytes| match std::fs::hard_link(&part, to) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists && !to.exists() => {
            std::fs::rename(&part, to).map(|()| bytes)
        }
        linked => linked.map(|()| bytes),
    });
    let _ = std::fs::remove_file(&part);
    placed
}

/// The part files an export of the same file left when it was killed (its
/// process is gone): they go before this one writes its own.
fn remove_dead_parts(to: &Path, name: &str) {
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{name}.part-");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = file.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if crate::files::process_gone(pid) {
            tracing::info!(file, "removing the part file of an export that was cut short");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
