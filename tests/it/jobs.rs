//! The job pool: queueing beyond the limit, prompt cancellation, error chains,
//! and progress that never blocks a job.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wharf::jobs::{JobError, JobEvent, JobOutput, JobPool, JobResult, JobUpdate, Progress};

fn output(text: &str) -> JobOutput {
    JobOutput { attention: None, summary: text.into(), json: serde_json::json!({ "text": text }), copy: None }
}

async fn finished(rx: &mut mpsc::Receiver<JobEvent>, id: u64) -> (JobResult, Vec<JobUpdate>) {
    let mut seen = Vec::new();
    loop {
        let event =
            tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("job event").expect("open");
        if event.id != id {
            continue;
        }
        if let JobUpdate::Finished(result) = event.update {
            return (result, seen);
        }
        seen.push(event.update);
    }
}

#[tokio::test]
async fn jobs_beyond_the_limit_wait_their_turn() {
    let (tx, mut rx) = mpsc::channel(64);
    let mut pool = JobPool::new(1, tx);
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    pool.submit_with(1, |_| async move {
        let _ = release_rx.await;
        Ok(output("first"))
    });
    pool.submit_with(2, |_| async { Ok(output("second")) });
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
    assert_eq!(first, JobEvent { id: 1, update: JobUpdate::Started });
    // Job 2 must not start while job 1 holds the only slot.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv()).await.is_err(),
        "job 2 started early"
    );
    release_tx.send(()).unwrap();
    let mut order = Vec::new();
    while order.len() < 3 {
        let e = rx.recv().await.unwrap();
        order.push((e.id, matches!(e.update, JobUpdate::Started)));
    }
    assert_eq!(order, [(1, false), (2, true), (2, false)]);
}

#[tokio::test]
async fn cancel_stops_a_running_job_within_a_second() {
    let (tx, mut rx) = mpsc::channel(64);
    let mut pool = JobPool::new(2, tx);
    pool.submit_with(7, |_| async {
        tokio::time::sleep(Duration::from_secs(600)).await;
        Ok(output("never"))
    });
    assert_eq!(rx.recv().await.unwrap().update, JobUpdate::Started);
    let asked = Instant::now();
    pool.cancel(7);
    let (result, _) = finished(&mut rx, 7).await;
    assert_eq!(result, JobResult::Cancelled);
    assert!(asked.elapsed() < Duration::from_secs(1), "took {:?}", asked.elapsed());
}

#[tokio::test]
async fn a_queued_job_cancelled_never_starts() {
    let (tx, mut rx) = mpsc::channel(64);
    let mut pool = JobPool::new(1, tx);
    pool.submit_with(1, |_| async {
        tokio::time::sleep(Duration::from_secs(600)).await;
        Ok(output("busy"))
    });
    pool.submit_with(2, |_| async { Ok(output("should not run")) });
    pool.cancel(2);
    let (result, seen) = finished(&mut rx, 2).await;
    assert_eq!(result, JobResult::Cancelled);
    assert!(seen.is_empty(), "job 2 reported {seen:?}");
    pool.shutdown(Duration::from_secs(1)).await;
}

#[derive(Debug, thiserror::Error)]
#[error("push failed")]
struct Outer(#[source] std::io::Error);

#[tokio::test]
async fn a_failed_job_reports_its_error_chain() {
    let (tx, mut rx) = mpsc::channel(64);
    let mut pool = JobPool::new(1, tx);
    pool.submit_with(3, |_| async {
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        Err::<JobOutput, JobError>(Box::new(Outer(cause)))
    });
    let (result, _) = finished(&mut rx, 3).await;
    assert_eq!(result, JobResult::Failed(vec!["push failed".into(), "connection refused".into()]));
}

#[tokio::test]
async fn progress_never_blocks_and_the_result_always_arrives() {
    // A tiny channel that nobody reads until the job is done.
    let (tx, mut rx) = mpsc::channel(2);
    let mut pool = JobPool::new(1, tx);
    pool.submit_with(4, |ctx| async move {
        for i in 0..10_000 {
            ctx.progress(Progress {
                stage: "copying".into(),
                done: i,
                total: Some(10_000),
                bytes: true,
                detail: vec![],
            });
        }
        Ok(output("done"))
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (result, seen) = finished(&mut rx, 4).await;
    assert_eq!(result, JobResult::Done(output("done")));
    assert!(
        seen.len() <= 3,
        "progress should have been dropped when the channel was full, got {}",
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_panics_ends_as_failed_with_the_panics_message_and_the_pool_goes_on() {
    let (tx, mut rx) = mpsc::channel(64);
    let mut pool = JobPool::new(1, tx);
    pool.submit_with(1, |_| async {
        tokio::task::yield_now().await;
        if std::env::var_os("WHARF_NEVER_SET").is_none() {
            panic!("boom at {}", 42);
        }
        Ok(output("never"))
    });
    // Job 2 is queued only once job 1 holds the one slot, so it can only run
    // after the panic has given the slot back.
    let started =
        tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("job event").expect("open");
    assert_eq!(started, JobEvent { id: 1, update: JobUpdate::Started });
    pool.submit_cleaning_up(2, |_| async { Ok(output("after")) });
    let (first, _) = finished(&mut rx, 1).await;
    assert_eq!(first, JobResult::Failed(vec!["the job panicked: boom at 42".into()]));
    let (second, _) = finished(&mut rx, 2).await;
    assert_eq!(second, JobResult::Done(output("after")), "the slot the panic held is free again");
}
