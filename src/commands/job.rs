//! Runs one job from the command line through the same pool the dashboard uses:
//! progress on stderr, the result on stdout, Ctrl-C cancels (exit 130).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use tokio::sync::mpsc;

use super::{code, exit};
use crate::aws::AwsClients;
use crate::jobs::{JobPool, JobResult, JobSpec, JobUpdate};
use crate::ui::format;

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
    let mut interrupted = false;
    // One listener for the whole run: a Ctrl-C between two events must not be lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                pool.cancel(1);
                continue;
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
                        code(exit::OK)
                    }
                    JobResult::Failed(chain) => {
                        eprintln!("error: {}", chain.join(": "));
                        code(exit::FAILED)
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
