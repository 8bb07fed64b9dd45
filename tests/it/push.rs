//! Push against real parts: moto's ECR for the repository and the token, a real
//! registry (Debian's docker-registry with htpasswd auth for that token) for the
//! layers, and the machine's engine doing the push.

use std::process::Command;
use std::time::Duration;

use tokio::sync::mpsc;
use wharf::jobs::{JobPool, JobResult, JobSpec, JobUpdate, PushJob};

use crate::support::{Cleanup, MOTO_ECR_PASSWORD, TestRegistry, moto_clients, two_layer_image, unique};

/// A push of `image` to `repository` as `v1`, through the test registry.
fn push_job(image: &str, repository: &str, registry: &TestRegistry, create_repository: bool) -> PushJob {
    PushJob {
        image: image.into(),
        repository: repository.into(),
        tag: "v1".into(),
        registry: Some(wharf::config::RegistryOverride::given(&registry.host)),
        docker_host: None,
        create_repository,
    }
}

async fn create_repository(name: &str) {
    let clients = moto_clients().await;
    clients.ecr.create_repository().repository_name(name).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn push_reports_the_digest_the_registry_serves_with_progress_per_layer() {
    let image = two_layer_image();
    let registry = TestRegistry::start();
    let repository = unique("wharf-it-push");
    create_repository(&repository).await;
    let _cleanup = Cleanup {
        images: vec![format!("{}/{repository}:v1", registry.host)],
        containers: vec![],
        volumes: vec![],
    };

    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    let job = push_job(image, &repository, &registry, false);
    pool.submit(1, JobSpec::Push(job), Some(moto_clients().await));
    let mut layers_seen = std::collections::BTreeSet::new();
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.unwrap().unwrap();
        match event.update {
            JobUpdate::Progress(p) => {
                for line in &p.detail {
                    layers_seen.insert(line.split_whitespace().next().unwrap_or_default().to_string());
                }
                if let Some(total) = p.total {
                    assert!(p.done <= total, "done {} > total {total}", p.done);
                }
            }
            JobUpdate::Finished(result) => break result,
            JobUpdate::Started => {}
        }
    };
    let JobResult::Done(output) = result else { panic!("push failed: {result:?}") };
    let digest = output.json["digest"].as_str().unwrap().to_string();
    assert_eq!(registry.served_digest(&repository, "v1").as_deref(), Some(digest.as_str()));
    assert_eq!(output.json["repository"], repository.as_str());
    assert_eq!(output.json["tag"], "v1");
    assert!(output.json["image_uri"].as_str().unwrap().ends_with(&format!("/{repository}@{digest}")));
    assert!(layers_seen.len() >= 2, "progress named layers {layers_seen:?}");
    assert!(!output.json.to_string().contains(MOTO_ECR_PASSWORD));
    assert!(!output.summary.contains(MOTO_ECR_PASSWORD));
}

fn wharf(args: &[&str], registry: &str, home: &std::path::Path) -> std::process::Output {
    let mut command = crate::support::wharf_against(&crate::support::aws_url(), home);
    command.args(["--registry", registry]).args(args).env("WHARF_LOG", "debug").output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn wharf_push_prints_json_and_never_the_token() {
    let image = two_layer_image();
    let registry = TestRegistry::start();
    let repository = unique("wharf-it-cli-push");
    create_repository(&repository).await;
    let _cleanup = Cleanup {
        images: vec![format!("{}/{repository}:release", registry.host)],
        containers: vec![],
        volumes: vec![],
    };
    let home = tempfile::tempdir().unwrap();

    let out = wharf(
        &["push", image, "--repo", &repository, "--tag", "release", "--json"],
        &registry.host,
        home.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["tag"], "release");
    assert_eq!(registry.served_digest(&repository, "release").as_deref(), json["digest"].as_str());
    let log = std::fs::read_to_string(home.path().join("state/wharf/wharf.log")).unwrap();
    for (what, text) in
        [("stdout", String::from_utf8_lossy(&out.stdout).to_string()), ("stderr", stderr), ("log", log)]
    {
        assert!(!text.contains(MOTO_ECR_PASSWORD), "the token is in the {what}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn push_failures_say_which_and_what_to_do() {
    let image = two_layer_image();
    let home = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start();

    let out = wharf(&["push", image, "--repo", "wharf-no-such-repo"], &registry.host, home.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().last(), Some("error: no ECR repository `wharf-no-such-repo`; create it first"));

    let repository = unique("wharf-it-fail");
    create_repository(&repository).await;
    let _cleanup =
        Cleanup { images: vec![format!("127.0.0.1:9/{repository}:v1")], containers: vec![], volumes: vec![] };
    let out = wharf(&["push", "wharf-test/none:x", "--repo", &repository], &registry.host, home.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last(),
        Some("error: no local image `wharf-test/none:x`")
    );

    // A registry that is not there: nothing is reported as pushed.
    let out = wharf(&["push", image, "--repo", &repository, "--json"], "127.0.0.1:9", home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let last = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: cannot reach the registry: "), "{last}");

    // A registry that does not take the token.
    let strict = TestRegistry::with_password("another-password");
    let _cleanup = Cleanup {
        images: vec![format!("{}/{repository}:v1", strict.host)],
        containers: vec![],
        volumes: vec![],
    };
    let out = wharf(&["push", image, "--repo", &repository, "--json"], &strict.host, home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let last = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: the registry refused the push: "), "{last}");
    assert!(last.ends_with("(check the ECR permissions of these credentials)"), "{last}");

    let out = wharf(&["push", image], &registry.host, home.path());
    assert_eq!(out.status.code(), Some(2));
}

/// An image with a 64 MiB layer of random bytes: long enough to push that it
/// can be cancelled half-way.
fn big_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    const NAME: &str = "wharf-test/big:v1";
    BUILT.get_or_init(|| {
        two_layer_image();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM wharf-test/two-layer:v1\nRUN dd if=/dev/urandom of=/data/big bs=1048576 count=64 2>/dev/null\n",
        )
        .unwrap();
        let status = Command::new("docker")
            .args(["build", "-q", "-t", NAME])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "docker build of the big image failed");
    });
    NAME
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_push_half_way_stops_it_and_nothing_is_pushed() {
    let image = big_image();
    let registry = TestRegistry::start();
    let repository = unique("wharf-it-cancel");
    create_repository(&repository).await;
    let _cleanup = Cleanup {
        images: vec![format!("{}/{repository}:v1", registry.host)],
        containers: vec![],
        volumes: vec![],
    };

    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    let job = push_job(image, &repository, &registry, false);
    pool.submit(1, JobSpec::Push(job), Some(moto_clients().await));
    // Wait until bytes are on their way, then cancel.
    loop {
        let event = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.unwrap().unwrap();
        match event.update {
            JobUpdate::Progress(p) if p.bytes && p.done > 0 && p.total.is_some_and(|t| p.done < t) => break,
            JobUpdate::Finished(result) => panic!("the push ended before it could be cancelled: {result:?}"),
            _ => {}
        }
    }
    let asked = std::time::Instant::now();
    pool.cancel(1);
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        if let JobUpdate::Finished(result) = event.update {
            break result;
        }
    };
    assert_eq!(result, JobResult::Cancelled);
    assert!(asked.elapsed() < Duration::from_secs(1), "cancelled after {:?}", asked.elapsed());

    // Had the engine gone on, 64 MiB would be up by now; the tag must not be there.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(registry.served_digest(&repository, "v1"), None, "the engine finished the push anyway");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_told_to_create_the_repository_creates_it_in_ecr() {
    let image = two_layer_image();
    let registry = TestRegistry::start();
    let repository = unique("wharf-it-create");
    let _cleanup = Cleanup {
        images: vec![format!("{}/{repository}:v1", registry.host)],
        containers: vec![],
        volumes: vec![],
    };

    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    let job = push_job(image, &repository, &registry, true);
    let clients = moto_clients().await;
    pool.submit(1, JobSpec::Push(job), Some(clients.clone()));
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.unwrap().unwrap();
        if let JobUpdate::Finished(result) = event.update {
            break result;
        }
    };
    let JobResult::Done(output) = result else { panic!("push failed: {result:?}") };
    assert_eq!(registry.served_digest(&repository, "v1").as_deref(), output.json["digest"].as_str());
    let created = wharf::aws::ecr::repository(&clients.ecr, &repository).await.unwrap();
    assert_eq!(created.name, repository, "ECR now has the repository");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_wharf_push_with_status_130() {
    use std::io::BufRead;
    let image = big_image();
    let registry = TestRegistry::start();
    let repository = unique("wharf-it-sigint");
    create_repository(&repository).await;
    let _cleanup = Cleanup {
        images: vec![format!("{}/{repository}:v1", registry.host)],
        containers: vec![],
        volumes: vec![],
    };
    let home = tempfile::tempdir().unwrap();

    let mut child = crate::support::wharf_against(&crate::support::aws_url(), home.path())
        .args(["--registry", &registry.host, "push", image, "--repo", &repository, "--tag", "v1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // The layers are on their way once a line says so.
    while !seen.contains("pushing:") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "wharf ended before pushing: {seen}");
        seen.push_str(&line);
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{seen}{rest}");
    assert!(output.stdout.is_empty(), "nothing is reported as pushed");
    assert!(rest.trim_end().ends_with("cancelled"), "{rest}");
    assert_eq!(registry.served_digest(&repository, "v1"), None);
}
