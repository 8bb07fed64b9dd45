//! Against the machine's real Docker Engine: listing, baking, the event-driven
//! refresh, and recovery when the engine goes away and comes back.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wharf::docker::{DockerError, Engine, EngineUpdate, watch_engine};
use wharf::jobs::{BakeJob, JobPool, JobResult, JobSpec, JobUpdate};

use crate::support::{Cleanup, EngineProxy, docker, test_image, unique};

#[tokio::test]
async fn lists_the_test_image_with_a_negotiated_api_version() {
    let image = test_image();
    let engine = Engine::connect(None).await.unwrap();
    let version: f64 = engine.api_version().parse().unwrap();
    assert!(version >= 1.24, "negotiated {version}");
    let images = engine.images().await.unwrap();
    let found = images.iter().find(|i| i.reference() == image).expect("test image listed");
    let expected_id = docker(&["image", "inspect", "--format", "{{.Id}}", image]);
    assert_eq!(found.id, expected_id);
    assert_eq!(found.short_id().len(), 12);
    assert!(found.size > 1_000_000, "busybox is about 2 MB, got {}", found.size);
}

#[tokio::test]
async fn lists_containers_in_every_state() {
    let image = test_image();
    let mut cleanup = Cleanup::default();
    let name = unique("wharf-it-list");
    docker(&["create", "--name", &name, image, "true"]);
    cleanup.containers.push(name.clone());
    let engine = Engine::connect(None).await.unwrap();
    let containers = engine.containers().await.unwrap();
    let c = containers.iter().find(|c| c.name == name).expect("created container listed");
    assert_eq!(c.state, "created");
    assert_eq!(c.image, image);
}

async fn run_bake(container: &str, reference: &str) -> JobResult {
    let (tx, mut rx) = mpsc::channel(16);
    let mut pool = JobPool::new(1, tx);
    let job = BakeJob { container: container.into(), reference: reference.into(), docker_host: None };
    pool.submit(1, JobSpec::Bake(job), None);
    loop {
        let event = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.unwrap().unwrap();
        if let JobUpdate::Finished(result) = event.update {
            return result;
        }
    }
}

#[tokio::test]
async fn bake_commits_a_container_into_a_new_image() {
    let image = test_image();
    let mut cleanup = Cleanup::default();
    let name = unique("wharf-it-bake");
    docker(&["run", "--name", &name, image, "sh", "-c", "echo restored > /data/marker"]);
    cleanup.containers.push(name.clone());
    let reference = format!("wharf-it/{name}:baked");
    cleanup.images.push(reference.clone());

    let JobResult::Done(output) = run_bake(&name, &reference).await else { panic!("bake failed") };
    let id = output.json["id"].as_str().unwrap().to_string();
    assert_eq!(docker(&["image", "inspect", "--format", "{{.Id}}", &reference]), id);
    // The new image holds what the container wrote.
    let check = unique("wharf-it-check");
    cleanup.containers.push(check.clone());
    assert_eq!(docker(&["run", "--name", &check, &reference, "cat", "/data/marker"]), "restored");
    let engine = Engine::connect(None).await.unwrap();
    assert!(engine.images().await.unwrap().iter().any(|i| i.reference() == reference));
}

#[tokio::test]
async fn bake_of_a_missing_container_fails_clearly() {
    let result = run_bake("wharf-no-such-container", "wharf-it/none:x").await;
    assert_eq!(result, JobResult::Failed(vec!["no such container `wharf-no-such-container`".into()]));
}

#[tokio::test]
async fn the_watcher_refreshes_on_engine_events() {
    let image = test_image();
    let mut cleanup = Cleanup::default();
    let (tx, mut rx) = mpsc::channel(8);
    let stop = CancellationToken::new();
    tokio::spawn(watch_engine(None, tx, stop.clone()));
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert!(matches!(first, EngineUpdate::Snapshot { .. }), "{first:?}");

    let tag = format!("wharf-it/{}:tagged", unique("watch"));
    cleanup.images.push(tag.clone());
    docker(&["tag", image, &tag]);
    // The watcher never polls: a new snapshot can only come from the tag event.
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(EngineUpdate::Snapshot { images, .. }) = rx.recv().await
                && images.iter().any(|i| i.reference() == tag)
            {
                return;
            }
        }
    })
    .await;
    stop.cancel();
    assert!(seen.is_ok(), "no snapshot with {tag} after the tag event");
}

#[tokio::test]
async fn the_watcher_reports_an_absent_engine_and_recovers_when_it_returns() {
    test_image();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let host = format!("unix://{}", socket.display());

    let (tx, mut rx) = mpsc::channel(8);
    let stop = CancellationToken::new();
    tokio::spawn(watch_engine(Some(host.clone()), tx, stop.clone()));
    let EngineUpdate::Unreachable { endpoint, error, .. } = recv(&mut rx).await else {
        panic!("expected unreachable")
    };
    assert_eq!(endpoint, host);
    assert!(error.contains(&socket.display().to_string()), "{error}");

    // The engine "comes back": the watcher connects on its own.
    let proxy = EngineProxy::start(&socket);
    loop {
        match recv(&mut rx).await {
            EngineUpdate::Snapshot { images, .. } => {
                assert!(images.iter().any(|i| i.reference() == crate::support::TEST_IMAGE));
                break;
            }
            EngineUpdate::Unreachable { .. } => continue,
        }
    }
    // And goes away again: the event stream breaks and the pane is told.
    proxy.stop();
    assert!(matches!(recv(&mut rx).await, EngineUpdate::Unreachable { .. }));
    stop.cancel();
}

async fn recv(rx: &mut mpsc::Receiver<EngineUpdate>) -> EngineUpdate {
    tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_bad_endpoint_is_named_in_the_error() {
    let err = Engine::connect(Some("ftp://nowhere")).await.unwrap_err();
    assert_eq!(
        err,
        DockerError::Unreachable {
            endpoint: "ftp://nowhere".into(),
            message: "unsupported scheme; use unix:///path/to/docker.sock or tcp://host:port".into()
        }
    );
}
