//! The event loop: terminal input, engine updates, job events and AWS status
//! arrive on their own channels; everything waiting is drained, applied with
//! [`update`], and the screen drawn once. Nothing arrives, nothing is drawn.

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use futures::{FutureExt, StreamExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::{Action, AppState, Clock, Effect, update};
use crate::config::{Keymap, Settings};
use crate::docker::watch_engine;
use crate::jobs::JobPool;
use crate::ui::{self, terminal::TerminalGuard};

/// How often a running job's elapsed time and rate are redrawn.
const TICK: Duration = Duration::from_millis(250);
/// How long quitting waits for cancelled jobs to wind down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Opens the dashboard and runs it until the user quits or a signal arrives.
pub async fn run(settings: Settings, keymap: Keymap) -> Result<()> {
    let mut guard = TerminalGuard::enter().wrap_err("cannot set up the terminal")?;
    let mut state = AppState::new(settings, keymap, Clock::now());
    let size = guard.terminal.size()?;
    state.size = (size.width, size.height);
    // The first frame goes out before anything slow is even started.
    guard.terminal.draw(|f| ui::draw(f, &state))?;

    let stop = CancellationToken::new();
    let (engine_tx, mut engine_rx) = mpsc::channel(8);
    tokio::spawn(watch_engine(state.settings.docker_host.clone(), engine_tx, stop.child_token()));
    let (aws_tx, mut aws_rx) = mpsc::channel(1);
    let profile = state.settings.profile.clone();
    tokio::spawn(async move {
        let _ = aws_tx.send(crate::aws::probe(&profile).await).await;
    });
    let (job_tx, mut job_rx) = mpsc::channel(256);
    let mut pool = JobPool::new(JobPool::DEFAULT_LIMIT, job_tx);

    let mut input = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let mut actions = Vec::new();
    while !state.quit {
        tokio::select! {
            event = input.next() => match event {
                Some(Ok(event)) => actions.extend(translate(event)),
                Some(Err(e)) => return Err(e).wrap_err("cannot read the terminal"),
                // The terminal is gone: nothing more can be shown or typed.
                None => actions.push(Action::Terminate),
            },
            Some(u) = engine_rx.recv() => actions.push(Action::Engine(u)),
            Some(e) = job_rx.recv() => actions.push(Action::Job(e)),
            Some(s) = aws_rx.recv() => actions.push(Action::Aws(s)),
            _ = tick.tick(), if state.animating() => actions.push(Action::Tick),
            _ = sigterm.recv() => actions.push(Action::Terminate),
            _ = sighup.recv() => actions.push(Action::Terminate),
            _ = sigint.recv() => actions.push(Action::Terminate),
        }
        // Take everything else that is already waiting, then draw once.
        while let Some(Some(Ok(event))) = input.next().now_or_never() {
            actions.extend(translate(event));
        }
        while let Ok(u) = engine_rx.try_recv() {
            actions.push(Action::Engine(u));
        }
        while let Ok(e) = job_rx.try_recv() {
            actions.push(Action::Job(e));
        }
        if actions.is_empty() {
            continue;
        }
        state.clock = Clock::now();
        for action in actions.drain(..) {
            for effect in update(&mut state, action) {
                match effect {
                    Effect::StartJob { id, spec } => pool.submit(id, spec),
                    Effect::CancelJob(id) => pool.cancel(id),
                }
            }
        }
        if !state.quit {
            guard.terminal.draw(|f| ui::draw(f, &state))?;
        }
    }
    stop.cancel();
    pool.shutdown(SHUTDOWN_GRACE).await;
    drop(guard);
    Ok(())
}

fn translate(event: Event) -> Option<Action> {
    match event {
        Event::Key(key) => Some(Action::Input(key)),
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        _ => None,
    }
}
