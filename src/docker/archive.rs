//! Data in and out of containers: tar archives of a directory through the
//! engine's archive API, and commands run inside a container (argument vectors,
//! never shell strings) with their stdout streamed out or their stdin streamed in.

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::{DockerError, Engine};

/// How long unpacking an archive into a container may take.
const UNPACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How much of a failed command's stderr is kept for its error message.
const STDERR_TAIL: usize = 2048;

impl Engine {
    /// A tar of `path` in `container` (running or stopped), streamed as the
    /// engine sends it. Its entries are named `<basename of path>/…`.
    pub fn archive(
        &self,
        container: &str,
        path: &str,
    ) -> impl Stream<Item = Result<Bytes, DockerError>> + Send + use<> {
        let options = DownloadFromContainerOptions { path: path.to_string() };
        let (engine, container, path) = (self.clone(), container.to_string(), path.to_string());
        self.docker.download_from_container(&container, Some(options)).map(move |chunk| {
            chunk.map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError { status_code: 404, message } => {
                    if message.contains("No such container") {
                        DockerError::NoSuchContainer(container.clone())
                    } else {
                        DockerError::Engine(format!("no path `{path}` in container `{container}`"))
                    }
                }
                other => engine.error(other),
            })
        })
    }

    /// Unpacks the tar `body` into the existing directory `dir` of `container`
    /// (running, stopped or never started). An entry replaces what is at its
    /// place when one is a directory and the other is not: that is how a
    /// restore removes a directory without any tool in the image.
    pub async fn extract(
        &self,
        container: &str,
        dir: &str,
        body: impl Stream<Item = Bytes> + Send + 'static,
    ) -> Result<(), DockerError> {
        let options = UploadToContainerOptions { path: dir.to_string(), ..Default::default() };
        // The engine answers once the whole archive is in: no request timeout
        // (a few GiB take longer than the usual 30 s).
        self.docker
            .clone()
            .with_timeout(UNPACK_TIMEOUT)
            .upload_to_container(container, Some(options), bollard::body_stream(body))
            .await
            .map_err(|e| self.error(e))
    }

    /// Runs `argv` in `container` and waits for it; fails, with the end of its
    /// stderr, unless it exits 0.
    pub async fn exec(&self, container: &str, argv: &[String]) -> Result<(), DockerError> {
        self.exec_env(container, argv, &[]).await
    }

    /// [`Engine::exec`] with `NAME=value` variables added to the command's
    /// environment (how a password reaches a client without its command line).
    pub async fn exec_env(
        &self,
        container: &str,
        argv: &[String],
        env: &[String],
    ) -> Result<(), DockerError> {
        let (id, mut output, _) = self.start_exec(container, argv, env, false, false).await?;
        let mut stderr = Vec::new();
        while let Some(item) = output.next().await {
            match item {
                Ok(bollard::container::LogOutput::StdErr { message })
                | Ok(bollard::container::LogOutput::StdOut { message }) => keep_tail(&mut stderr, &message),
                Ok(_) => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        self.exit_status(&id, &describe(container, argv), &stderr).await
    }

    /// The value of one variable of `container`'s configured environment.
    pub async fn container_env(&self, container: &str, name: &str) -> Result<Option<String>, DockerError> {
        match self.docker.inspect_container(container, None).await {
            Ok(c) => Ok(c
                .config
                .and_then(|c| c.env)
                .unwrap_or_default()
                .into_iter()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                Err(DockerError::NoSuchContainer(container.to_string()))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Runs `argv` in `container` (with `env`, `NAME=value`, added to its
    /// environment) and streams its stdout. The stream ends with an error,
    /// carrying the end of stderr, if the command exits other than 0.
    pub async fn exec_output(
        &self,
        container: &str,
        argv: &[String],
        env: &[String],
    ) -> Result<impl Stream<Item = Result<Bytes, DockerError>> + Send + use<>, DockerError> {
        let (id, output, _) = self.start_exec(container, argv, env, false, false).await?;
        let (tx, rx) = mpsc::channel::<Result<Bytes, DockerError>>(8);
        let engine = self.clone();
        let command = describe(container, argv);
        tokio::spawn(async move {
            let mut output = output;
            let mut stderr = Vec::new();
            while let Some(item) = output.next().await {
                match item {
                    Ok(bollard::container::LogOutput::StdOut { message }) => {
                        if tx.send(Ok(message)).await.is_err() {
                            return; // The reader went away (cancelled): stop reading.
                        }
                    }
                    Ok(bollard::container::LogOutput::StdErr { message }) => keep_tail(&mut stderr, &message),
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(Err(engine.error(e))).await;
                        return;
                    }
                }
            }
            if let Err(e) = engine.exit_status(&id, &command, &stderr).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
    }

    /// Runs `argv` in `container` (with `env` added to its environment) with
    /// `input` on its stdin, and waits for it.
    pub async fn exec_input(
        &self,
        container: &str,
        argv: &[String],
        env: &[String],
        input: impl Stream<Item = Result<Bytes, DockerError>> + Send,
    ) -> Result<(), DockerError> {
        let (id, mut output, stdin) = self.start_exec(container, argv, env, true, false).await?;
        let Some(mut stdin) = stdin else {
            return Err(DockerError::Engine("the engine gave no stdin to write to".into()));
        };
        // Read the output while writing, or a chatty command blocks on a full pipe.
        let drain = tokio::spawn(async move {
            let mut stderr = Vec::new();
            while let Some(item) = output.next().await {
                match item {
                    Ok(bollard::container::LogOutput::StdErr { message })
                    | Ok(bollard::container::LogOutput::StdOut { message }) => {
                        keep_tail(&mut stderr, &message)
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(stderr)
        });
        let mut input = Box::pin(input);
        let written: Result<(), DockerError> = async {
            while let Some(chunk) = input.next().await {
                stdin.write_all(&chunk?).await.map_err(|e| {
                    DockerError::Engine(format!(
                        "{} stopped reading its input: {e}",
                        describe(container, argv)
                    ))
                })?;
            }
            stdin.shutdown().await.map_err(|e| DockerError::Engine(e.to_string()))
        }
        .await;
        if let Err(e) = written {
            drain.abort();
            return Err(e);
        }
        let stderr = match drain.await {
            Ok(Ok(stderr)) => stderr,
            Ok(Err(e)) => return Err(self.error(e)),
            Err(e) => return Err(DockerError::Engine(e.to_string())),
        };
        self.exit_status(&id, &describe(container, argv), &stderr).await
    }

    /// Starts `argv` in `container`, its output attached (and its input, with
    /// `stdin`), on a TTY with `tty`.
    pub(super) async fn start_exec(
        &self,
        container: &str,
        argv: &[String],
        env: &[String],
        stdin: bool,
        tty: bool,
    ) -> Result<
        (
            String,
            std::pin::Pin<
                Box<dyn Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>> + Send>,
            >,
            Option<std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>>,
        ),
        DockerError,
    > {
        let options = CreateExecOptions {
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            cmd: Some(argv.to_vec()),
            env: (!env.is_empty()).then(|| env.to_vec()),
            ..Default::default()
        };
        let created = match self.docker.create_exec(container, options).await {
            Ok(c) => c,
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                return Err(DockerError::NoSuchContainer(container.to_string()));
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
                return Err(DockerError::NotRunning(container.to_string()));
            }
            Err(e) => return Err(self.error(e)),
        };
        let options = StartExecOptions { detach: false, tty, output_capacity: Some(1 << 20) };
        match self.docker.start_exec(&created.id, Some(options)).await.map_err(|e| self.error(e))? {
            StartExecResults::Attached { output, input } => Ok((created.id, output, stdin.then_some(input))),
            StartExecResults::Detached => Err(DockerError::Engine("the engine detached the command".into())),
        }
    }

    async fn exit_status(&self, exec_id: &str, command: &str, stderr: &[u8]) -> Result<(), DockerError> {
        let inspected = self.docker.inspect_exec(exec_id).await.map_err(|e| self.error(e))?;
        match inspected.exit_code {
            Some(0) => Ok(()),
            code => Err(DockerError::Command {
                command: command.to_string(),
                code: code.unwrap_or(-1),
                stderr: String::from_utf8_lossy(stderr).trim().to_string(),
            }),
        }
    }
}

/// `cmd arg …` in `container`, for messages.
fn describe(container: &str, argv: &[String]) -> String {
    format!("`{}` in {container}", argv.join(" "))
}

fn keep_tail(buffer: &mut Vec<u8>, more: &[u8]) {
    buffer.extend_from_slice(more);
    if buffer.len() > STDERR_TAIL {
        buffer.drain(..buffer.len() - STDERR_TAIL);
    }
}
