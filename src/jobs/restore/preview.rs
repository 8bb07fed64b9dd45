//! What a restore would replace and with what, said before it is asked for:
//! the snapshot (its size, age, machine and source), what it replaces in the
//! container and how big that is now, and what its storage class costs to read.

use futures::StreamExt;

use super::replace::{Method, Replacement};
use super::{RestoreError, RestoreJob, SnapshotSource, fetch::manifest_and_object};
use crate::aws::AwsClients;
use crate::config::Preset;
use crate::docker::{ContainerDetail, Engine};
use crate::format;
use crate::jobs::mysql;
use crate::snapshots::local::{self, LocalSnapshot};
use crate::snapshots::{self, Manifest, pricing};

/// How long the confirmation may spend measuring what is there now.
const MEASURE_FOR: std::time::Duration = std::time::Duration::from_secs(5);

impl RestoreJob {
    /// What the restore would replace and with what, for the confirmation;
    /// refuses as the restore itself would, touching nothing.
    pub async fn preview(&self, aws: Option<&AwsClients>, now: i64) -> Result<Vec<String>, RestoreError> {
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let container = engine.container(&self.container).await?;
        let (manifest, stored_class) = match &self.source {
            SnapshotSource::Undo => {
                let newest = local::safety_copies(&self.cache, &container.name).into_iter().next();
                let local = newest.ok_or_else(|| RestoreError::NothingToUndo(container.name.clone()))?;
                (local.manifest, None)
            }
            SnapshotSource::S3 { id, bucket, prefix } => {
                match LocalSnapshot::open(&local::cached_dir(&self.cache, id)?) {
                    Some(local) => (local.manifest, None),
                    None => {
                        let aws = aws.ok_or_else(|| RestoreError::NoAws(id.clone()))?;
                        let (manifest, _, object) = manifest_and_object(aws, id, bucket, prefix).await?;
                        (manifest, Some((object.storage_class, object.size)))
                    }
                }
            }
        };
        let replacement =
            Replacement::plan(&engine, &container, &manifest, self.path.as_deref(), &self.settings).await?;
        let now_size = measure(&engine, &container, &replacement).await;
        let mut lines = vec![
            format!(
                "{} {}: {} of data, made {} ago{} from {}{}.",
                if self.source == SnapshotSource::Undo { "Safety copy" } else { "Snapshot" },
                manifest.id,
                format::bytes(manifest.raw_bytes),
                age(&manifest, now),
                manifest.host.as_ref().map(|h| format!(" on {h}")).unwrap_or_default(),
                manifest.source.name,
                manifest.source.path.as_ref().map(|p| format!(":{p}")).unwrap_or_default(),
            ),
            format!(
                "It replaces, in container `{}`: {}, {}.",
                replacement.container,
                replacement.what(),
                now_size
            ),
        ];
        if let (Some(path), Some(from)) = (&self.path, &manifest.source.path)
            && path.trim_end_matches('/') != from.trim_end_matches('/')
        {
            lines.push(format!(
                    "Note: the snapshot was taken of {from}, and the profile's database.path is {path}: it goes into {path}."
                ));
        }
        if replacement.was_running {
            lines.push(format!(
                "`{}` is running: it is stopped first and started again after.",
                replacement.container
            ));
        }
        lines.push(format!(
            "What is there now is kept as a safety copy first (`wharf restore --undo` puts it back); {}",
            if self.source == SnapshotSource::Undo {
                "the copy is checked before anything is touched."
            } else {
                "the snapshot is checked against its SHA-256 before anything is touched."
            }
        ));
        if let Some((class, size)) = stored_class {
            lines.extend(pricing::restore_warning(&class, size));
        }
        Ok(lines)
    }
}

fn age(manifest: &Manifest, now: i64) -> String {
    let snapshot = snapshots::Snapshot {
        id: manifest.id.clone(),
        data: None,
        manifest: Some(manifest.clone()),
        problem: None,
        head: false,
    };
    snapshot.created().map_or_else(|| "some time".into(), |t| format::age(t, now))
}

/// What is there now, in a few words: `812 MB now`.
async fn measure(engine: &Engine, container: &ContainerDetail, r: &Replacement) -> String {
    let measured = tokio::time::timeout(MEASURE_FOR, size_now(engine, container, r)).await;
    match measured {
        Ok(Some(bytes)) => format!("{} now", format::bytes(bytes)),
        Ok(None) => "its size unknown".into(),
        Err(_) => "more than can be measured in 5 s".into(),
    }
}

async fn size_now(engine: &Engine, container: &ContainerDetail, r: &Replacement) -> Option<u64> {
    let output = |argv: Vec<String>| async move {
        let env = mysql::client_env(engine, &container.id, r.preset(), &argv).await.ok()?;
        let mut out = Box::pin(engine.exec_output(&container.id, &argv, &env).await.ok()?);
        let mut text = Vec::new();
        while let Some(chunk) = out.next().await {
            text.extend_from_slice(&chunk.ok()?);
        }
        String::from_utf8_lossy(&text).split_whitespace().next()?.parse::<u64>().ok()
    };
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match &r.method {
        Method::Path { path, .. } => {
            if container.running
                && let Some(kib) = output(argv(&["du", "-sk", path])).await
            {
                return Some(kib * 1024);
            }
            // No `du`, or stopped: count the bytes of its archive.
            let mut archive = Box::pin(engine.archive(&container.id, path));
            let mut total = 0u64;
            while let Some(chunk) = archive.next().await {
                total += chunk.ok()?.len() as u64;
            }
            Some(total)
        }
        Method::Dump { preset, dump, database: Some(database), .. }
            if *preset == Preset::Postgres && database != "*" =>
        {
            let user = dump.get(dump.iter().position(|a| a == "-U")? + 1)?.clone();
            let sql = "SELECT pg_database_size(current_database())";
            output(argv(&["psql", "-U", &user, "-d", database, "-Atc", sql])).await
        }
        Method::Dump { preset, dump, database: Some(database), .. }
            if *preset == Preset::Mysql && database != "*" =>
        {
            let user = mysql::user_of(dump).to_string();
            let sql = "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables \
                       WHERE table_schema = DATABASE()";
            output(argv(&["mysql", "-u", &user, "-N", "-B", "-e", sql, database])).await
        }
        _ => None,
    }
}
