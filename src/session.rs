//! An interactive session in a container on this terminal, through the
//! engine's exec API (no `docker` CLI needed): what is typed goes to the
//! container's TTY byte for byte (Ctrl-C, arrows and all), what it shows comes
//! back as it is, and its size follows the terminal's, until the command ends.
//! The caller puts the terminal in raw mode (the dashboard already has it).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use futures::StreamExt;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWriteExt, stdout};
use tokio::signal::unix::{SignalKind, signal};

use crate::docker::{DockerError, Engine};
use crate::jobs::console::Console;

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The command exited with this code.
    Exited(i64),
    /// `stop` fired (a signal to wharf): the session was left, its command
    /// gets a hang-up when the engine closes its TTY.
    Left,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no terminal to hand over ({0}); run it in a terminal")]
    NoTerminal(std::io::Error),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("the terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `console` on this terminal until its command ends or `stop` fires.
pub async fn run(
    engine: &Engine,
    console: &Console,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Ended, SessionError> {
    let tty = open_terminal().map_err(SessionError::NoTerminal)?;
    let mut resized = signal(SignalKind::window_change())?;
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut attached = engine.attach(&console.container, &console.argv, &console.env, size).await?;
    let mut out = stdout();
    let mut buffer = [0u8; 4096];
    let mut reading = true;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            shown = attached.output.next() => match shown {
                Some(Ok(bytes)) => {
                    out.write_all(&bytes).await?;
                    out.flush().await?;
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            ready = tty.readable(), if reading => {
                let mut ready = ready?;
                match ready.try_io(|fd| fd.get_ref().read(&mut buffer)) {
                    // The terminal hung up: nothing more will be typed.
                    Ok(Ok(0)) => reading = false,
                    Ok(Ok(n)) => {
                        // The command may have just ended: its output's end says so.
                        if attached.input.write_all(&buffer[..n]).await.is_err() {
                            reading = false;
                        }
                    }
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_would_block) => {}
                }
            }
            Some(()) = resized.recv() => {
                if let Ok(size) = crossterm::terminal::size() {
                    let _ = engine.resize_tty(&attached.id, size).await;
                }
            }
            () = &mut stop => return Ok(Ended::Left),
        }
    }
    // The output ends a moment before the engine records the exit code.
    for _ in 0..40 {
        if let Some(code) = engine.exit_code(&attached.id).await? {
            return Ok(Ended::Exited(code));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Ok(Ended::Exited(-1))
}

/// Completes when wharf is told to stop (SIGTERM, SIGHUP, SIGINT); every
/// listener hears a signal, so the dashboard's own still see it afterwards.
pub async fn told_to_stop() {
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) =
        (signal(SignalKind::terminate()), signal(SignalKind::hangup()), signal(SignalKind::interrupt()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = int.recv() => {}
    }
}

/// The controlling terminal, opened on its own so that reading it without
/// blocking changes nothing for anyone else reading it (the dashboard's input).
fn open_terminal() -> std::io::Result<AsyncFd<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open("/dev/tty")?;
    // SAFETY: the AsyncFd owns `file` for its whole life, so the descriptor
    // stays open and names the same terminal until the AsyncFd is dropped.
    unsafe { AsyncFd::register_with_interest(file, Interest::READABLE) }.map_err(|e| e.into_parts().1)
}
