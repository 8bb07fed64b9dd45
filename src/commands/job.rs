//! Runs one job from the command line through the same pool the dashboard uses:
//! progress on stderr, the result on stdout, Ctrl-C cancels (exit 130).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use tokio::sync::mpsc;

use super::{code, exit};
use crate::aws::AwsClients;
use crate::format;
use crate::jobs::{JobPool, JobResult, JobSpec, JobUpdate};

/// Without a terminal, progress within one step is printed at most this often.
const QUIET: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn run_job(spec: JobSpec, json: bool, aws: Option<AwsClients>) -> ExitCode {
    let (tx, mut rx) = mpsc::channel(64);
    let mut pool = JobPool::new(1, tx);
    let label = format!("{} {}", spec.kind().label(), spec.target());
    pool.submit(1, spec, aws);
    let tty = std::io::stderr().is_terminal();
    let mut last_step = String::new();
    let mut last_line = std::time::Instant::now();
    // One listener per signal for the whole run: an interrupt between two events must not be lost.
    // The first asks the job to stop and clean up (for at most CLEAN_UP_FOR); a second stops at once.
    let mut interrupts = Interrupts::new();
    let mut cleaning_up = false;
    let deadline = tokio::time::sleep(std::time::Duration::MAX / 4);
    tokio::pin!(deadline);
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            signal = interrupts.next() => {
                if cleaning_up {
                    eprintln!("{label}: stopped before the clean-up finished ({signal}); `wharf doctor` lists what is left");
                    return code(exit::CANCELLED);
                }
                pool.cancel(1);
                eprintln!("{label}: {signal}: cancelling and cleaning up… (Ctrl-C again to stop at once)");
                cleaning_up = true;
                deadline.as_mut().reset(tokio::time::Instant::now() + crate::dashboard::CLEAN_UP_FOR);
                continue;
            }
            _ = &mut deadline, if cleaning_up => {
                eprintln!("{label}: the clean-up did not finish within {}s; `wharf doctor` lists what is left", crate::dashboard::CLEAN_UP_FOR.as_secs());
                return code(exit::CANCELLED);
            }
        };
        let Some(event) = event else {
            eprintln!("error: the job ended without a result");
            return code(exit::FAILED);
        };
        match event.update {
            JobUpdate::Started => {}
            JobUpdate::Progress(p) => {
                let line = match p.total {
                    Some(total) if total > 0 => {
                        let (done, total) = (format::bytes(p.done), format::bytes(total));
                        format!("{label}: {} {done} / {total}", p.stage)
                    }
                    _ => format!("{label}: {}", p.stage),
                };
                // Not a terminal (a log, CI): a line when the step changes, else every few seconds.
                let step = p.stage.split(':').next().unwrap_or_default().to_string();
                if tty {
                    eprint!("\r\x1b[2K{line}");
                    let _ = std::io::stderr().flush();
                } else if step != last_step || last_line.elapsed() >= QUIET {
                    eprintln!("{line}");
                    last_line = std::time::Instant::now();
                }
                last_step = step;
            }
            JobUpdate::Finished(result) => {
                if tty {
                    eprint!("\r\x1b[2K");
                }
                return match result {
                    JobResult::Done(output) => {
                        if json {
                            println!("{}", output.json);
                        } else {
                            println!("{}", output.summary);
                        }
                        if let Some(attention) = output.attention {
                            eprintln!("{}", attention.message);
                            return code(attention.code);
                        }
                        code(exit::OK)
                    }
                    JobResult::Failed(chain) => {
                        eprintln!("error: {}", chain.join(": "));
                        code(exit::FAILED)
                    }
                    JobResult::Busy(message) => {
                        eprintln!("error: {message}");
                        code(exit::BUSY)
                    }
                    JobResult::Cancelled => {
                        eprintln!("{label}: cancelled");
                        code(exit::CANCELLED)
                    }
                };
            }
        }
    }
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP (a dropped SSH session), as one stream.
struct Interrupts {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn new() -> Interrupts {
        use tokio::signal::unix::{SignalKind, signal};
        Interrupts {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Waits for the next one and names it.
    async fn next(&mut self) -> &'static str {
        async fn on(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = on(&mut self.int) => "interrupted",
            _ = on(&mut self.term) => "terminated",
            _ = on(&mut self.hup) => "hung up",
        }
    }
}
