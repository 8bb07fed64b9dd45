//! Keeps the Images pane current: one snapshot after connecting, then a new one
//! after each burst of engine events. When the engine is unreachable it says so
//! and retries with backoff until it comes back.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{ContainerInfo, DockerError, Engine, ImageInfo};

/// What the engine watcher reports to the event loop.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineUpdate {
    /// Everything the Images pane shows, read after a change.
    Snapshot { endpoint: String, api_version: String, images: Vec<ImageInfo>, containers: Vec<ContainerInfo> },
    /// The engine could not be reached; the next try is in `retry_in`.
    Unreachable { endpoint: String, error: String, retry_in: Duration },
}

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// Events come in bursts (a `docker run` is create, attach, start …): wait this
/// long after the first before reading the lists again.
const SETTLE: Duration = Duration::from_millis(100);

/// Runs until `cancel` fires, sending an update whenever the engine's images or
/// containers change, or the engine goes away.
pub async fn watch_engine(host: Option<String>, tx: mpsc::Sender<EngineUpdate>, cancel: CancellationToken) {
    let mut retry = FIRST_RETRY;
    loop {
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            r = follow(host.as_deref(), &tx, &mut retry) => r,
        };
        let Err(error) = outcome else { return };
        tracing::warn!(%error, retry_in = ?retry, "Docker engine unreachable");
        let update = EngineUpdate::Unreachable {
            endpoint: super::endpoint(host.as_deref()),
            error: error.detail(),
            retry_in: retry,
        };
        if tx.send(update).await.is_err() {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// Connects, then sends snapshots until the engine goes away (an error) or the
/// receiver does (`Ok`).
async fn follow(
    host: Option<&str>,
    tx: &mpsc::Sender<EngineUpdate>,
    retry: &mut Duration,
) -> Result<(), DockerError> {
    let engine = Engine::connect(host).await?;
    // Ask for events from before the first listing, so that no change falls
    // between the two (a repeat only costs one more listing).
    let since = crate::time::unix_now() - 1;
    let mut changes = Box::pin(engine.changes(since));
    if !send_snapshot(&engine, tx).await? {
        return Ok(());
    }
    *retry = FIRST_RETRY;
    loop {
        match changes.next().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => {
                return Err(DockerError::Unreachable {
                    endpoint: engine.endpoint().to_string(),
                    message: "the engine closed its event stream".into(),
                });
            }
        }
        tokio::time::sleep(SETTLE).await;
        while let Some(Some(event)) = changes.next().now_or_never() {
            event?;
        }
        if !send_snapshot(&engine, tx).await? {
            return Ok(());
        }
    }
}

async fn send_snapshot(engine: &Engine, tx: &mpsc::Sender<EngineUpdate>) -> Result<bool, DockerError> {
    let (images, containers) = tokio::try_join!(engine.images(), engine.containers())?;
    let update = EngineUpdate::Snapshot {
        endpoint: engine.endpoint().to_string(),
        api_version: engine.api_version(),
        images,
        containers,
    };
    Ok(tx.send(update).await.is_ok())
}
