//! A command run interactively in a container: a TTY the engine allocates,
//! its input and output handed through as bytes, its size kept to the
//! terminal's, and how it ended.

use std::pin::Pin;

use bollard::exec::ResizeExecOptions;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use super::{DockerError, Engine};

/// A command attached to a TTY in a container.
pub struct Attached {
    /// The engine's id for the command (to resize it and to ask how it ended).
    pub id: String,
    /// What the TTY shows, as the engine sends it; it ends when the command does.
    pub output: Pin<Box<dyn Stream<Item = Result<Bytes, DockerError>> + Send>>,
    /// What is typed.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl Engine {
    /// Starts `argv` in the running `container` on a new TTY of `size`
    /// (columns, rows), with `env` (`NAME=value`) added to its environment.
    pub async fn attach(
        &self,
        container: &str,
        argv: &[String],
        env: &[String],
        size: (u16, u16),
    ) -> Result<Attached, DockerError> {
        let (id, output, input) = self.start_exec(container, argv, env, true, true).await?;
        let input =
            input.ok_or_else(|| DockerError::Engine("the engine gave no input to write to".into()))?;
        // The TTY starts at the engine's default size: set it before anything is drawn on it.
        let _ = self.resize_tty(&id, size).await;
        let engine = self.clone();
        let output = output.map(move |item| item.map(|o| o.into_bytes()).map_err(|e| engine.error(e)));
        Ok(Attached { id, output: Box::pin(output), input })
    }

    /// Sets the TTY of command `id` to `size` (columns, rows).
    pub async fn resize_tty(&self, id: &str, (width, height): (u16, u16)) -> Result<(), DockerError> {
        let options = ResizeExecOptions { width: width.max(1), height: height.max(1) };
        self.docker.resize_exec(id, options).await.map_err(|e| self.error(e))
    }

    /// How command `id` ended: its exit code, `None` while it still runs.
    pub async fn exit_code(&self, id: &str) -> Result<Option<i64>, DockerError> {
        let inspected = self.docker.inspect_exec(id).await.map_err(|e| self.error(e))?;
        Ok(if inspected.running == Some(true) { None } else { inspected.exit_code })
    }
}
