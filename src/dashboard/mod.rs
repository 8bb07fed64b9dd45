//! The event loop: terminal input, engine updates, job events and AWS status
//! arrive on their own channels; everything waiting is drained, applied with
//! [`update`], and the screen drawn once. Nothing arrives, nothing is drawn.

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::Keymap;
use crate::app::{Action, AppState, Clock, Effect, LoadRequest, Loaded, update};
use crate::aws::AwsClients;
use crate::config::Settings;
use crate::docker::watch_engine;
use crate::jobs::JobPool;
use crate::jobs::console::Console;
use crate::logs::{TailEvent, TailTarget};
use crate::session::Ended;
use crate::ui::{self, terminal::TerminalGuard};

mod load;
use load::{load, load_here, look_for_leftovers, save_logs};

/// How often credentials are looked for again while there are none.
const RETRY_CREDENTIALS: Duration = Duration::from_secs(20);
/// How often a running job's elapsed time and rate are redrawn.
const TICK: Duration = Duration::from_millis(250);
/// How long quitting waits for cancelled jobs to clean up (abort uploads, put
/// back what a restore replaced) before it leaves them; a second interrupt
/// leaves at once.
pub const CLEAN_UP_FOR: Duration = Duration::from_secs(30);

/// Opens the dashboard and runs it until the user quits or a signal arrives.
/// Returns the exit status: 0, or 128 + the signal's number.
pub async fn run(settings: Settings, keymap: Keymap) -> Result<u8> {
    let mut guard = TerminalGuard::enter().wrap_err("cannot set up the terminal")?;
    let mut state = AppState::new(settings, keymap, Clock::now());
    let size = guard.terminal.size()?;
    state.size = (size.width, size.height);
    // The first frame goes out before anything slow is even started.
    guard.draw(|f| ui::draw(f, &state))?;

    let stop = CancellationToken::new();
    let (engine_tx, mut engine_rx) = mpsc::channel(8);
    tokio::spawn(watch_engine(state.settings.docker_host.clone(), engine_tx, stop.child_token()));
    // Connections to AWS carry a number: after a switch, an earlier one that
    // answers late is dropped.
    let (aws_tx, mut aws_rx) = mpsc::channel(4);
    let mut connection = 0u64;
    connect(aws_tx.clone(), connection, state.settings.profile.clone());
    let mut aws: Option<AwsClients> = None;
    let (load_tx, mut load_rx) = mpsc::channel(16);
    // AWS answers come with the connection they were asked under (`AppState::connection`).
    let (answer_tx, mut answer_rx) = mpsc::channel::<(u64, Loaded)>(16);
    let (job_tx, mut job_rx) = mpsc::channel(256);
    let (tail_tx, mut tail_rx) = mpsc::channel(64);
    let mut tail: Option<RunningTail> = None;
    // The running containers the Containers tab shows, followed for their charts.
    let (stats_tx, mut stats_rx) = mpsc::channel(64);
    let mut followers = crate::docker::stats::Followers::default();
    let mut pool = JobPool::new(JobPool::DEFAULT_LIMIT, job_tx);
    tokio::spawn(look_for_leftovers(state.settings.docker_host.clone(), load_tx.clone()));

    let mut input = Input::start(&stop);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(TICK);
    // Without credentials (an SSO session expired), they are looked for again
    // now and then: after `aws sso login` the panes fill by themselves.
    let mut retry =
        tokio::time::interval_at(tokio::time::Instant::now() + RETRY_CREDENTIALS, RETRY_CREDENTIALS);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Once a second the panes looked at ask for what is due (`app::refresh`).
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let mut actions = Vec::new();
    let mut status = 0;
    // An error on the dashboard's own path ends it, after the same clean-up as a quit.
    let mut failure = None;
    while !state.quit {
        tokio::select! {
            event = input.rx.recv() => match event {
                Some(Ok(event)) => actions.extend(translate(event)),
                Some(Err(e)) => {
                    failure = Some(color_eyre::eyre::Report::new(e).wrap_err("cannot read the terminal"));
                    break;
                }
                // The terminal is gone: nothing more can be shown or typed.
                None => actions.push(Action::Terminate),
            },
            Some(u) = engine_rx.recv() => actions.push(Action::Engine(u)),
            Some(e) = job_rx.recv() => actions.push(Action::Job(e)),
            Some((number, status, clients)) = aws_rx.recv() => {
                if number == connection {
                    aws = clients;
                    actions.push(Action::Aws(status));
                }
            }
            Some(loaded) = load_rx.recv() => actions.push(Action::Loaded(loaded)),
            Some((connection, loaded)) = answer_rx.recv() => actions.push(Action::Answer { connection, loaded }),
            Some((id, event)) = tail_rx.recv() => actions.push(Action::Tail(id, event)),
            Some((id, sample)) = stats_rx.recv() => actions.push(Action::Stats(id, sample)),
            _ = tick.tick(), if state.animating() => actions.push(Action::Tick),
            _ = refresh.tick() => actions.push(Action::RefreshTick),
            _ = retry.tick(), if matches!(state.aws, crate::aws::AwsStatus::NoCredentials { .. }) => {
                connection += 1;
                connect(aws_tx.clone(), connection, state.settings.profile.clone());
            }
            _ = sigterm.recv() => (status, actions) = (128 + 15, vec![Action::Terminate]),
            _ = sighup.recv() => (status, actions) = (128 + 1, vec![Action::Terminate]),
            _ = sigint.recv() => (status, actions) = (128 + 2, vec![Action::Terminate]),
        }
        // Take everything else that is already waiting, then draw once.
        while let Ok(Ok(event)) = input.rx.try_recv() {
            actions.extend(translate(event));
        }
        while let Ok(u) = engine_rx.try_recv() {
            actions.push(Action::Engine(u));
        }
        while let Ok(e) = job_rx.try_recv() {
            actions.push(Action::Job(e));
        }
        while let Ok(loaded) = load_rx.try_recv() {
            actions.push(Action::Loaded(loaded));
        }
        while let Ok((connection, loaded)) = answer_rx.try_recv() {
            actions.push(Action::Answer { connection, loaded });
        }
        while let Ok((id, event)) = tail_rx.try_recv() {
            actions.push(Action::Tail(id, event));
        }
        while let Ok((id, sample)) = stats_rx.try_recv() {
            actions.push(Action::Stats(id, sample));
        }
        // What the SDK retried, for the status line (read where something happened anyway).
        let throttled = crate::aws::pace::throttled();
        if throttled > state.throttled.0 {
            actions.push(Action::Throttled(throttled));
        }
        if actions.is_empty() {
            continue;
        }
        // A refresh tick alone changes nothing on screen: no frame is drawn for it.
        let unseen = actions.iter().all(|a| matches!(a, Action::RefreshTick));
        state.clock = Clock::now();
        for action in actions.drain(..) {
            for effect in update(&mut state, action) {
                match effect {
                    Effect::StartJob { id, spec } => pool.submit(id, spec, aws.clone()),
                    Effect::CancelJob(id) => pool.cancel(id),
                    // Running jobs keep the clients they were given.
                    Effect::Connect(profile) => {
                        connection += 1;
                        aws = None;
                        connect(aws_tx.clone(), connection, *profile);
                    }
                    Effect::Copy(text) => {
                        use base64::Engine as _;
                        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                        let _ = crossterm::execute!(
                            std::io::stdout(),
                            crossterm::style::Print(format!("\x1b]52;c;{encoded}\x07"))
                        );
                    }
                    Effect::Tail { id, target } => {
                        if let Some(old) = tail.take() {
                            old.cancel.cancel();
                        }
                        if let Some(clients) = aws.clone() {
                            let cancel = stop.child_token();
                            let (older, older_rx) = mpsc::channel(4);
                            let (watched, watched_rx) = tokio::sync::watch::channel(state.logs_watched());
                            let control = crate::logs::TailControl {
                                older: Some(older_rx),
                                watched: watched_rx,
                                unwatched_for: crate::logs::tail::UNWATCHED_FOR,
                            };
                            let run = run_tail(clients, id, target, control, tail_tx.clone(), cancel.clone());
                            tokio::spawn(run);
                            tail = Some(RunningTail { id, cancel, older, watched });
                        }
                    }
                    Effect::TailOlder { id, lines } => {
                        if let Some(t) = tail.as_ref().filter(|t| t.id == id) {
                            let _ = t.older.try_send(lines);
                        }
                    }
                    Effect::SaveLogs { path, text, lines } => {
                        let tx = load_tx.clone();
                        tokio::task::spawn_blocking(move || {
                            let _ = tx.blocking_send(Loaded::LogsSaved(save_logs(&path, &text, lines)));
                        });
                    }
                    Effect::Attach(console) => {
                        let words = hand_over(&mut guard, &mut input, &stop, &console, &state.settings).await;
                        if let Ok(size) = guard.terminal.size() {
                            update(&mut state, Action::Resize(size.width, size.height));
                        }
                        update(&mut state, Action::ConsoleEnded(words));
                    }
                    // The engine or a file, not AWS.
                    Effect::LoadLocal(request) => {
                        let (tx, docker_host) = (load_tx.clone(), state.settings.docker_host.clone());
                        tokio::spawn(async move {
                            let _ = tx.send(load_here(request, docker_host).await).await;
                        });
                    }
                    Effect::SaveSettings(plan) => {
                        let tx = load_tx.clone();
                        tokio::task::spawn_blocking(move || {
                            let result =
                                crate::config::save::commit(&plan.file, plan.before.as_deref(), &plan.after);
                            let _ = tx.blocking_send(Loaded::SettingsSaved { plan, result });
                        });
                    }
                    // A restore's preview needs no AWS for a cached snapshot or an undo.
                    Effect::Load(LoadRequest::RestorePreview(job)) => {
                        let (tx, clients, now) = (answer_tx.clone(), aws.clone(), state.clock.wall);
                        let connection = state.connection;
                        tokio::spawn(async move {
                            let result = job.preview(clients.as_ref(), now).await;
                            let result = result.map_err(|e| crate::error::chain(&e).join(": "));
                            let _ = tx.send((connection, Loaded::RestorePreview { job, result })).await;
                        });
                    }
                    Effect::Load(request) => {
                        if let Some(clients) = aws.clone() {
                            let (tx, connection) = (answer_tx.clone(), state.connection);
                            tokio::spawn(async move {
                                let loaded = load(&clients, request, &tx, connection).await;
                                let _ = tx.send((connection, loaded)).await;
                            });
                        }
                    }
                }
            }
        }
        let followed = crate::app::charts::containers_followed(&state);
        followers.follow_only(&followed, state.settings.docker_host.as_deref(), &stats_tx, &stop);
        if let Some(t) = &tail {
            let now = state.logs_watched();
            t.watched.send_if_modified(|was| std::mem::replace(was, now) != now);
        }
        if !state.quit
            && !unseen
            && let Err(e) = guard.draw(|f| ui::draw(f, &state))
        {
            failure = Some(color_eyre::eyre::Report::new(e).wrap_err("cannot draw on the terminal"));
            break;
        }
    }
    let signals = Signals { sigterm, sighup, sigint };
    clean_up(&mut guard, &mut state, &mut pool, &mut job_rx, &mut input.rx, signals).await;
    stop.cancel();
    pool.shutdown(Duration::from_millis(100)).await;
    drop(guard);
    match failure {
        Some(e) => Err(e),
        None => Ok(status),
    }
}

struct Signals {
    sigterm: Signal,
    sighup: Signal,
    sigint: Signal,
}

/// Connects to AWS with `profile`'s settings in the background; the answer
/// comes back with `number`.
fn connect(
    tx: mpsc::Sender<(u64, crate::aws::AwsStatus, Option<AwsClients>)>,
    number: u64,
    profile: crate::config::Profile,
) {
    tokio::spawn(async move {
        let (status, clients) = crate::aws::connect(&profile).await;
        let _ = tx.send((number, status, clients)).await;
    });
}

/// Cancels the running jobs and waits, with "cleaning up…" on screen, until
/// each has cleaned up after itself, for at most [`CLEAN_UP_FOR`]; Ctrl-C, `q`
/// or another signal leaves at once (`wharf doctor` finds what is left).
async fn clean_up(
    guard: &mut TerminalGuard,
    state: &mut AppState,
    pool: &mut JobPool,
    job_rx: &mut mpsc::Receiver<crate::jobs::JobEvent>,
    input: &mut mpsc::Receiver<std::io::Result<Event>>,
    mut signals: Signals,
) {
    if state.jobs.active_count() == 0 {
        return;
    }
    pool.cancel_all();
    state.cleaning_up = true;
    let deadline = tokio::time::sleep(CLEAN_UP_FOR);
    tokio::pin!(deadline);
    let mut terminal = true;
    while state.jobs.active_count() > 0 {
        state.clock = Clock::now();
        if terminal {
            // A terminal that is gone (a dropped SSH session) does not stop the clean-up.
            terminal = guard.draw(|f| ui::draw(f, state)).is_ok();
        }
        tokio::select! {
            Some(event) = job_rx.recv() => {
                update(state, Action::Job(event));
            }
            event = input.recv(), if terminal => match event {
                Some(Ok(Event::Key(key))) if forces(&key) => break,
                Some(Ok(_)) => {}
                _ => terminal = false,
            },
            _ = signals.sigterm.recv() => break,
            _ = signals.sighup.recv() => break,
            _ = signals.sigint.recv() => break,
            _ = &mut deadline => {
                tracing::warn!("jobs did not finish cleaning up within {CLEAN_UP_FOR:?}; `wharf doctor` lists what is left");
                break;
            }
            _ = tokio::time::sleep(TICK) => {}
        }
    }
    state.cleaning_up = false;
}

/// Ctrl-C or `q` while cleaning up: leave now.
fn forces(key: &crossterm::event::KeyEvent) -> bool {
    use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
    key.kind != KeyEventKind::Release
        && (key.code == KeyCode::Char('q')
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)))
}

/// The log tail running for the Logs pane, and what the dashboard tells it.
struct RunningTail {
    id: u64,
    cancel: CancellationToken,
    older: mpsc::Sender<usize>,
    watched: tokio::sync::watch::Sender<bool>,
}

/// Runs one log tail until it ends or is cancelled, handing its events on
/// with its number, and then how it ended.
async fn run_tail(
    clients: AwsClients,
    id: u64,
    target: TailTarget,
    control: crate::logs::TailControl,
    out: mpsc::Sender<(u64, TailEvent)>,
    cancel: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel(64);
    let reader = crate::logs::tail::tail_with(&clients.ecs, &clients.logs, target, tx, control);
    tokio::pin!(reader);
    let ended = loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            Some(event) = rx.recv() => {
                if out.send((id, event)).await.is_err() {
                    return;
                }
            }
            result = &mut reader => break result,
        }
    };
    // What was handed over before the end still goes first.
    while let Ok(event) = rx.try_recv() {
        let _ = out.send((id, event)).await;
    }
    let _ = out.send((id, TailEvent::Ended(ended.err().map(|e| e.to_string())))).await;
}

/// Hands the terminal to `console` until its command ends: the dashboard stops
/// reading keys and leaves the alternate screen (raw mode stays, so every key,
/// Ctrl-C too, goes to the container), then takes the screen back, redraws all
/// of it and reads keys again. Jobs go on meanwhile. Returns how it ended, in words.
async fn hand_over(
    guard: &mut TerminalGuard,
    input: &mut Input,
    stop: &CancellationToken,
    console: &Console,
    settings: &Settings,
) -> String {
    input.stop().await;
    let program = console.program().to_string();
    let container = console.container.clone();
    let _ = crate::ui::terminal::step_aside();
    print!("wharf: {program} in {container}; the dashboard comes back when it ends\r\n");
    let ended = match crate::docker::Engine::connect(settings.docker_host.as_deref()).await {
        Ok(engine) => crate::session::run(&engine, console, crate::session::told_to_stop()).await,
        Err(e) => Err(e.into()),
    };
    let _ = crate::ui::terminal::take_back();
    let _ = guard.clear();
    *input = Input::start(stop);
    match ended {
        Ok(Ended::Exited(0)) => format!("{program} in {container} ended"),
        Ok(Ended::Exited(code)) => format!("{program} in {container} ended with exit code {code}"),
        Ok(Ended::Left) => format!("left {program} in {container}: wharf was told to stop"),
        Err(e) => format!("{program} in {container}: {}", crate::error::chain(&e).join(": ")),
    }
}

/// The terminal's keys, read in a task that can be stopped while a console
/// has the terminal and started again after.
struct Input {
    rx: mpsc::Receiver<std::io::Result<Event>>,
    stop: CancellationToken,
}

impl Input {
    fn start(parent: &CancellationToken) -> Input {
        let stop = parent.child_token();
        Input { rx: terminal_input(stop.clone()), stop }
    }

    /// Stops reading and waits until the reader has let go of the terminal;
    /// what was typed and not yet handled is dropped.
    async fn stop(&mut self) {
        self.stop.cancel();
        while self.rx.recv().await.is_some() {}
        // crossterm's own reader thread leaves once woken: give it a moment.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Terminal input through a bounded channel like every other source, so that
/// whatever is waiting can be drained without awaiting.
fn terminal_input(stop: CancellationToken) -> mpsc::Receiver<std::io::Result<Event>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut stream = EventStream::new();
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                event = stream.next() => event,
            };
            let Some(event) = event else { return };
            let failed = event.is_err();
            if tx.send(event).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}

fn translate(event: Event) -> Option<Action> {
    match event {
        Event::Key(key) => Some(Action::Input(key)),
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        Event::FocusGained => Some(Action::Focus(true)),
        Event::FocusLost => Some(Action::Focus(false)),
        _ => None,
    }
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
