//! The dashboard's background loads: AWS answers for the panes (each sent
//! back with the connection it was asked under), and what comes from this
//! machine (the engine, a file).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::app::asked::Ticket;
use crate::app::state::SavePlan;
use crate::app::{LoadRequest, Loaded, LocalLoad};
use crate::aws::{AwsClients, ecr};
use crate::jobs::console::{ConsoleKind, ConsoleRequest};

/// What earlier runs left behind (a restore cut short by `kill -9`, an upload
/// never aborted): restores are finished in Jobs, the rest named in the
/// status line. Only this machine is looked at, so the start stays fast.
pub(super) async fn look_for_leftovers(docker_host: Option<String>, tx: mpsc::Sender<Loaded>) {
    let dirs = crate::config::Dirs::new();
    let engine = crate::docker::Engine::connect(docker_host.as_deref()).await.ok();
    let look = crate::doctor::Look { dirs: &dirs, engine: engine.as_ref(), aws: None, place: None };
    let (found, _) = crate::doctor::find(&look).await;
    let restores = found.iter().filter(|l| matches!(l, crate::doctor::Leftover::Restore(_))).count();
    let others: Vec<String> = found
        .iter()
        .filter(|l| !matches!(l, crate::doctor::Leftover::Restore(_)))
        .map(crate::doctor::Leftover::describe)
        .collect();
    if restores > 0 || !others.is_empty() {
        let _ = tx.send(Loaded::Leftovers { restores, others }).await;
    }
}

/// Writes saved log lines to a file that must not exist yet.
pub(super) fn save_logs(path: &std::path::Path, text: &str, lines: usize) -> Result<String, String> {
    use std::io::Write;
    let shown = path.display();
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!("not saved: {shown} already exists (nothing was overwritten)")
            } else {
                format!("not saved: cannot create {shown}: {e}")
            }
        })?;
    match file.write_all(text.as_bytes()).and_then(|()| file.sync_all()) {
        Ok(()) => Ok(format!("saved {lines} lines to {shown}")),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(format!("not saved: writing {shown} failed: {e}"))
        }
    }
}

/// How often a long list being loaded is shown as far as it has got.
const SO_FAR_EVERY: Duration = Duration::from_millis(150);

/// Runs one background load for a pane.
pub(super) async fn load(
    clients: &AwsClients,
    request: LoadRequest,
    tx: &mpsc::Sender<(Ticket, Loaded)>,
    ticket: Ticket,
) -> Loaded {
    match request {
        LoadRequest::Repositories => Loaded::Repositories(ecr::repositories(&clients.ecr).await),
        LoadRequest::Images { repository } => {
            let result = ecr::images(&clients.ecr, &repository).await;
            Loaded::Images { repository, result }
        }
        LoadRequest::Clusters => Loaded::Clusters(crate::aws::ecs::clusters(&clients.ecs).await),
        LoadRequest::Services { cluster } => {
            // The first batches on screen at once, the rest as they come (a lost update is fine).
            let mut shown: Option<std::time::Instant> = None;
            let result = crate::aws::ecs::services_as_they_come(
                &clients.ecs,
                &clients.service_reads,
                &cluster,
                |so_far: &[crate::model::ecs::ServiceInfo]| {
                    if shown.is_none_or(|t| t.elapsed() >= SO_FAR_EVERY) {
                        shown = Some(std::time::Instant::now());
                        let services = so_far.to_vec();
                        let _ = tx
                            .try_send((ticket, Loaded::ServicesSoFar { cluster: cluster.clone(), services }));
                    }
                },
            )
            .await;
            Loaded::Services { cluster, result }
        }
        LoadRequest::ServicesNamed { cluster, names } => {
            let result =
                crate::aws::ecs::services_named(&clients.ecs, &clients.service_reads, &cluster, &names).await;
            Loaded::ServicesNamed { cluster, result }
        }
        LoadRequest::Tasks { cluster, service } => {
            let result = crate::aws::ecs::tasks(&clients.ecs, &cluster, Some(&service)).await;
            Loaded::Tasks { cluster, service, result }
        }
        LoadRequest::SyncTags { repository } => {
            Loaded::SyncTags(ecr::images(&clients.ecr, &repository).await)
        }
        LoadRequest::Metrics { cluster, services } => {
            let now = crate::time::unix_now();
            let result = crate::aws::metrics::utilization(&clients.metrics, &cluster, &services, now).await;
            Loaded::Metrics { cluster, result }
        }
        LoadRequest::DeployPlan { cluster, service, container, image } => Loaded::Plan(
            crate::aws::ecs::plan_deploy(&clients.ecs, &cluster, &service, container.as_deref(), &image)
                .await,
        ),
        LoadRequest::RollbackPlan { cluster, service } => {
            Loaded::Plan(crate::aws::ecs::plan_rollback(&clients.ecs, &cluster, &service).await)
        }
        LoadRequest::Snapshots { bucket, prefix, container } => {
            let dirs = crate::config::Dirs::new();
            let here =
                container.and_then(|c| crate::snapshots::line::parent_of(&dirs.state, &bucket, &prefix, &c));
            // Head's ETag before the listing: a head that moves in between is seen moved next time.
            let head = format!("{prefix}{}", crate::snapshots::line::HEAD);
            let etag = crate::aws::s3::etag(&clients.s3, &bucket, &head, None).await.ok().flatten();
            let result = crate::snapshots::list(&clients.s3, &bucket, &prefix, Some(&dirs.cache)).await;
            Loaded::Snapshots { bucket, prefix, here, etag, result }
        }
        LoadRequest::SnapshotsIfMoved { bucket, prefix, container, etag, here, whole } => {
            let dirs = crate::config::Dirs::new();
            let here_now =
                container.and_then(|c| crate::snapshots::line::parent_of(&dirs.state, &bucket, &prefix, &c));
            let head = format!("{prefix}{}", crate::snapshots::line::HEAD);
            match crate::aws::s3::etag(&clients.s3, &bucket, &head, etag.as_deref()).await {
                Ok(now) if !whole && now == etag && here_now == here => {
                    Loaded::SnapshotsUnmoved { bucket, prefix, result: Ok(()) }
                }
                Ok(now) => {
                    let result =
                        crate::snapshots::list(&clients.s3, &bucket, &prefix, Some(&dirs.cache)).await;
                    Loaded::Snapshots { bucket, prefix, here: here_now, etag: now, result }
                }
                Err(e) => Loaded::SnapshotsUnmoved { bucket, prefix, result: Err(e) },
            }
        }
        LoadRequest::RestorePreview(job) => {
            let result = job.preview(Some(clients), crate::time::unix_now()).await;
            Loaded::RestorePreview { job, result: result.map_err(|e| crate::error::chain(&e).join(": ")) }
        }
        LoadRequest::SyncPlan(job) => {
            let result = job.plan(&crate::jobs::JobContext::quiet(), clients).await;
            Loaded::SyncPlan { job, result: result.map_err(|e| crate::error::chain(&e).join(": ")) }
        }
        LoadRequest::Buckets => Loaded::Buckets(crate::aws::s3::buckets(&clients.s3).await),
        LoadRequest::ServiceNames { cluster } => Loaded::ServiceNames(
            crate::aws::ecs::service_names(&clients.ecs, &clients.service_reads, &cluster).await,
        ),
        LoadRequest::CreateBucket { name, tag, settings, setup } => {
            let result = crate::jobs::init::create_bucket(&settings, &name, &tag).await;
            Loaded::BucketCreated { setup, name, result: result.map_err(|e| e.to_string()) }
        }
        LoadRequest::RemotePreview(mut job) => {
            let result = job.preview(clients).await.map_err(|e| e.to_string());
            Loaded::RemotePreview { job, result }
        }
        LoadRequest::InitPlan(job) => {
            let result = job.plan().await;
            Loaded::InitPlan { job, result }
        }
    }
}

/// A load from this machine: the engine (`docker_host`) or a file.
pub(super) async fn load_here(request: LocalLoad, docker_host: Option<String>) -> Loaded {
    match request {
        LocalLoad::Console(request) => console_prepared(&request).await,
        LocalLoad::ContainerDetail { container, setup } => {
            let result = match crate::docker::Engine::connect(docker_host.as_deref()).await {
                Ok(engine) => engine.container(&container).await,
                Err(e) => Err(e),
            };
            Loaded::ContainerDetail { setup, result: result.map_err(|e| e.to_string()) }
        }
        LocalLoad::Databases { container, preset, user, setup } => {
            let listed = async {
                let engine = crate::docker::Engine::connect(docker_host.as_deref()).await?;
                let detail = engine.container(&container).await?;
                let user = crate::jobs::databases::user_for(preset, user.as_deref(), &detail);
                crate::jobs::databases::list(&engine, &detail, preset, &user).await
            };
            Loaded::Databases { setup, result: listed.await.map_err(|e| e.to_string()) }
        }
        LocalLoad::SwitchChoices { file } => {
            Loaded::SwitchChoices(crate::app::switch::read_choices(file.as_deref()).await)
        }
        LocalLoad::SetupPreview { setup, file, profile } => {
            let edited = tokio::task::spawn_blocking(move || {
                let edited = crate::config::save::prepare(&file, &profile, &setup.chosen);
                edited.map(|e| (SavePlan { setup, file, before: e.before, after: e.after }, e.lines))
            })
            .await;
            Loaded::SetupPreview { result: edited.unwrap_or_else(|e| Err(e.to_string())) }
        }
    }
}

/// A console checked against its container, or why it cannot be opened.
async fn console_prepared(request: &ConsoleRequest) -> Loaded {
    let what = match request.kind {
        ConsoleKind::Shell => "shell",
        ConsoleKind::Sql => "sql",
    };
    Loaded::Console(
        request.prepare().await.map_err(|e| format!("{what}: {}", crate::error::chain(&e).join(": "))),
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saved_logs_are_readable_by_the_user_alone_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.log");
        assert_eq!(super::save_logs(&path, "a\nb\n", 2), Ok(format!("saved 2 lines to {}", path.display())));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = super::save_logs(&path, "c\n", 1).unwrap_err();
        assert!(again.contains("already exists (nothing was overwritten)"), "{again}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    }
}
