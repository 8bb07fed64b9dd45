//! Shared helpers: the test image, state builders, key events, a socket proxy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use wharf::app::Keymap;
use wharf::app::{Action, AppState, Clock};
use wharf::config::Settings;
use wharf::docker::{ContainerInfo, EngineUpdate, ImageInfo};

/// The image `scripts/test-images.sh` builds from a busybox-static root file system.
pub const TEST_IMAGE: &str = "wharf-test/busybox:latest";

/// Makes sure the test image exists in the local engine (building it if needed).
pub fn test_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo_path("scripts/test-images.sh"))
            .status()
            .expect("run scripts/test-images.sh");
        assert!(status.success(), "scripts/test-images.sh failed");
    });
    TEST_IMAGE
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Runs `docker` and returns its trimmed stdout, failing the test on error.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("run docker");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes containers and images when dropped, whatever the test did.
#[derive(Default)]
pub struct Cleanup {
    pub containers: Vec<String>,
    pub images: Vec<String>,
    pub volumes: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
        for i in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
        for v in &self.volumes {
            let _ = Command::new("docker").args(["volume", "rm", "-f", v]).output();
        }
    }
}

pub fn key(c: char) -> Action {
    Action::Input(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(code: KeyCode) -> Action {
    Action::Input(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Action {
    Action::Input(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// A fixed moment: 2026-11-21T12:00:00Z.
pub const NOW: i64 = 1_795_262_400;

pub fn clock() -> Clock {
    Clock { wall: NOW, mono: Instant::now() }
}

pub fn state() -> AppState {
    state_with(Settings::default(), Keymap::defaults().expect("default keymap"))
}

/// A state started with `--read-only`, engine snapshot loaded.
pub fn read_only_state() -> AppState {
    let settings = Settings { read_only: true, ..Settings::default() };
    let mut s = state_with(settings, Keymap::defaults().expect("default keymap"));
    wharf::app::update(&mut s, Action::Engine(sample_engine()));
    s
}

pub fn state_with(settings: Settings, keymap: Keymap) -> AppState {
    let mut s = AppState::new(settings, keymap, clock());
    s.size = (120, 40);
    s
}

pub fn image(repository: &str, tag: &str, id: &str, size: u64, age_secs: i64) -> ImageInfo {
    ImageInfo {
        repository: repository.into(),
        tag: tag.into(),
        id: format!("sha256:{id}"),
        size,
        created: NOW - age_secs,
        digests: Vec::new(),
    }
}

pub fn container(name: &str, image: &str, state: &str, status: &str) -> ContainerInfo {
    ContainerInfo {
        id: format!("{name}-id"),
        name: name.into(),
        image: image.into(),
        image_id: format!("sha256:{image}-id"),
        state: state.into(),
        status: status.into(),
    }
}

/// The engine snapshot the pane tests use.
pub fn sample_engine() -> EngineUpdate {
    EngineUpdate::Snapshot {
        endpoint: "unix:///var/run/docker.sock".into(),
        api_version: "1.41".into(),
        images: vec![
            image(
                "app",
                "dev",
                "4f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d",
                187_300_000,
                300,
            ),
            image(
                "db",
                "baked",
                "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
                412_000_000,
                7_200,
            ),
            image(
                "wharf-test/busybox",
                "latest",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                1_982_256,
                86_400 * 3,
            ),
        ],
        containers: vec![
            container("db", "db:baked", "running", "Up 2 hours"),
            container("app", "app:dev", "exited", "Exited (0) 5 minutes ago"),
        ],
    }
}

/// Waits until `f` holds, polling, or fails after `within`.
pub fn eventually(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Unix socket that forwards to the real engine's socket while it runs: lets
/// a test make the engine "go away" and "come back" without touching the daemon.
pub struct EngineProxy {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl EngineProxy {
    pub fn start(path: &Path) -> EngineProxy {
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path).expect("bind proxy socket");
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut engine) = tokio::net::UnixStream::connect("/var/run/docker.sock").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
        });
        EngineProxy { path: path.to_path_buf(), task }
    }

    /// Stops forwarding: open connections are cut and the socket removed.
    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The moto server `scripts/test.sh` started.
pub fn moto_url() -> String {
    std::env::var("WHARF_TEST_MOTO_URL")
        .expect("WHARF_TEST_MOTO_URL is not set: run the tests through scripts/test.sh, which starts moto")
}

/// AWS as it really answers: the realism layer (`scripts/aws-realism.py`:
/// latency, ECS's and ECR's page sizes, ECS's token buckets) that
/// `scripts/test.sh` starts in front of moto. What wharf is tested against;
/// set-up goes to moto directly.
pub fn aws_url() -> String {
    std::env::var("WHARF_TEST_AWS_URL")
        .expect("WHARF_TEST_AWS_URL is not set: run the tests through scripts/test.sh, which starts the realism layer")
}

/// AWS clients through the realism layer, with moto's test credentials.
pub async fn realistic_clients() -> wharf::aws::AwsClients {
    clients_at(&aws_url()).await
}

/// A realism layer of a test's own, in front of moto, with `args` (say
/// `--bucket service_read=5/10`); stopped when dropped.
pub struct Realism {
    child: std::process::Child,
    pub url: String,
    /// Its stdout, kept open while it runs.
    _out: std::io::BufReader<std::process::ChildStdout>,
}

impl Realism {
    pub fn start(args: &[&str]) -> Realism {
        use std::io::BufRead;
        let mut child = Command::new("python3")
            .arg(repo_path("scripts/aws-realism.py"))
            .args(["--upstream", &moto_url()])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start scripts/aws-realism.py");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("its address");
        let url = first.trim().strip_prefix("listening on ").expect("listening on …").to_string();
        Realism { child, url, _out: out }
    }

    /// Calls, pages and throttled calls per action so far.
    pub fn stats(&self) -> serde_json::Value {
        stats_of(&self.url)
    }

    /// From now on the next `n` calls of `action` fail (0: none do).
    pub fn fail(&self, action: &str, n: u32) {
        let status = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "-X",
                "POST",
                "--data",
                &format!("{action}={n}"),
                &format!("{}/realism/fail", self.url),
            ])
            .status()
            .expect("curl");
        assert!(status.success(), "the realism layer took the failure");
    }
}

impl Drop for Realism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The realism layer at `url`: what it has counted.
pub fn stats_of(url: &str) -> serde_json::Value {
    let out = Command::new("curl").args(["-s", &format!("{url}/realism/stats")]).output().expect("curl");
    serde_json::from_slice(&out.stdout).expect("stats as JSON")
}

/// AWS clients for moto, with moto's test credentials.
pub async fn moto_clients() -> wharf::aws::AwsClients {
    wharf::aws::AwsClients::new(&moto_config().await)
}

/// The SDK's configuration for moto, with its test credentials, in eu-west-1.
pub async fn moto_config() -> aws_config::SdkConfig {
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(creds)
        .load()
        .await
}

/// Puts an image manifest into a moto ECR repository under `tag`, returning its digest.
pub async fn put_ecr_image(ecr: &aws_sdk_ecr::Client, repository: &str, tag: &str) -> String {
    let digest = |seed: &str| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        format!("sha256:{:064x}", h.finish())
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 1000, "digest": digest(&format!("{repository}{tag}c")) },
        "layers": [{ "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2000, "digest": digest(&format!("{repository}{tag}l")) }]
    });
    let out = ecr
        .put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_manifest(manifest.to_string())
        .image_manifest_media_type("application/vnd.docker.distribution.manifest.v2+json")
        .send()
        .await
        .expect("put_image");
    out.image().and_then(|i| i.image_id()).and_then(|id| id.image_digest()).expect("digest").to_string()
}

/// moto's ECR token decodes to `AWS:` and this password.
pub const MOTO_ECR_PASSWORD: &str = "123456789012-auth-token";

/// A real registry (Debian's `docker-registry`) on a free 127.0.0.1 port, with
/// htpasswd auth for the user and password moto's ECR token decodes to.
pub struct TestRegistry {
    pub host: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        TestRegistry::with_password(MOTO_ECR_PASSWORD)
    }

    /// A registry whose only user `AWS` has `password`.
    pub fn with_password(password: &str) -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let hash = bcrypt::hash(password, 5).unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("AWS:{hash}\n")).unwrap();
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\nhttp:\n  addr: 127.0.0.1:{port}\n\
             auth:\n  htpasswd:\n    realm: wharf-tests\n    path: {root}/htpasswd\n",
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry (scripts/test.sh installs it)");
        let host = format!("127.0.0.1:{port}");
        eventually(Duration::from_secs(10), "the registry to listen", || {
            std::net::TcpStream::connect(&host).is_ok()
        });
        TestRegistry { host, child, _dir: dir }
    }

    /// The digest the registry serves for `repository:tag`, read with a plain
    /// HTTP request (independent of wharf's own check).
    pub fn served_digest(&self, repository: &str, tag: &str) -> Option<String> {
        use base64::Engine as _;
        use std::io::{Read, Write};
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{MOTO_ECR_PASSWORD}"));
        let mut stream = std::net::TcpStream::connect(&self.host).unwrap();
        write!(
            stream,
            "HEAD /v2/{repository}/manifests/{tag} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\n\
             Accept: application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n",
            self.host
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.lines().find_map(|l| {
            l.to_lowercase().starts_with("docker-content-digest:").then(|| l[22..].trim().to_string())
        })
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A two-layer image (the busybox base and a layer of random bytes), built once
/// with the classic builder from the local test image.
pub fn two_layer_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    const NAME: &str = "wharf-test/two-layer:v1";
    BUILT.get_or_init(|| {
        test_image();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {TEST_IMAGE}\nRUN dd if=/dev/urandom of=/data/blob bs=1024 count=3072 2>/dev/null\n"
            ),
        )
        .unwrap();
        let status = Command::new("docker")
            .args(["build", "-q", "-t", NAME])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "docker build of the two-layer image failed");
    });
    NAME
}

/// AWS clients for the S3-compatible endpoint `url`, with moto's test credentials.
pub async fn clients_at(url: &str) -> wharf::aws::AwsClients {
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(creds)
        .load()
        .await;
    wharf::aws::AwsClients::new(&config)
}

/// A TCP proxy in front of a server (moto) that a test can take down for a
/// while: open connections are cut, new ones refused, then it forwards again.
pub struct TcpProxy {
    port: u16,
    state: std::sync::Arc<std::sync::Mutex<(Option<Instant>, tokio_util::sync::CancellationToken)>>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Forwards to `url`'s host and port.
    pub async fn start(url: &str) -> TcpProxy {
        let target = url.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state =
            std::sync::Arc::new(std::sync::Mutex::new((None, tokio_util::sync::CancellationToken::new())));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (down_until, cut) = shared.lock().unwrap().clone();
                if down_until.is_some_and(|t: Instant| Instant::now() < t) {
                    continue; // Dropped: the connection is refused.
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        TcpProxy { port, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts every open connection and refuses new ones for `duration`.
    pub fn down_for(&self, duration: Duration) {
        let mut state = self.state.lock().unwrap();
        state.0 = Some(Instant::now() + duration);
        state.1.cancel();
        state.1 = tokio_util::sync::CancellationToken::new();
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Two snapshots as the Snapshots pane lists them: a complete one in
/// ONEZONE_IA and, older, one without a manifest.
pub fn sample_snapshots() -> Vec<wharf::snapshots::Snapshot> {
    use wharf::aws::s3::Object;
    use wharf::snapshots::{Manifest, Snapshot, Source};
    let complete = "20261120T101500Z-db";
    let manifest = Manifest {
        format: 1,
        id: complete.into(),
        created: "2026-11-20T10:15:00Z".into(),
        source: Source {
            kind: "container".into(),
            name: "db".into(),
            image: "postgres:16".into(),
            image_id: "sha256:4f1c2a9b8e7d".into(),
            path: Some("/var/lib/data".into()),
        },
        preset: "path".into(),
        content: "tar".into(),
        compression: "zstd".into(),
        key: format!("app/{complete}/data.tar.zst"),
        raw_bytes: 1_200_000_000,
        stored_bytes: 310_000_000,
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        storage_class: "ONEZONE_IA".into(),
        wharf_version: "0.1.0".into(),
        host: None,
        parent: None,
        database: None,
        chunks: Vec::new(),
        new_bytes: None,
        new_chunks: None,
    };
    vec![
        Snapshot {
            id: complete.into(),
            data: Some(Object {
                key: format!("app/{complete}/data.tar.zst"),
                size: 310_000_000,
                storage_class: "ONEZONE_IA".into(),
                last_modified: Some(NOW - 86_400 * 6),
            }),
            manifest: Some(manifest),
            problem: None,
            head: false,
        },
        Snapshot {
            id: "20261119T090000Z-db".into(),
            data: Some(Object {
                key: "app/20261119T090000Z-db/data.tar.zst".into(),
                size: 150_000_000,
                storage_class: "STANDARD".into(),
                last_modified: Some(NOW - 86_400 * 7),
            }),
            manifest: None,
            problem: Some(wharf::snapshots::Problem::NoManifest),
            head: false,
        },
    ]
}

/// The real `wharf` binary against `endpoint` (moto) with moto's test
/// credentials, run in `home` with its own XDG directories; the caller adds
/// the command and runs it.
pub fn wharf_against(endpoint: &str, home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wharf"));
    command
        .args(["--endpoint-url", endpoint, "--region", "eu-west-1"])
        .current_dir(home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    command
}

/// An ECS client answered only by the recorded replies of `interceptor`.
pub fn mock_ecs(interceptor: aws_smithy_mocks::MockResponseInterceptor) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::Config::builder()
            .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
            .region(aws_sdk_ecs::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new("a", "b", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build(),
    )
}

/// The snapshots listing the event loop brings for the place `s` shows now.
pub fn snapshots_listed(
    s: &AppState,
    here: Option<&str>,
    result: Result<Vec<wharf::snapshots::Snapshot>, wharf::aws::AwsError>,
) -> Action {
    let (bucket, prefix) = wharf::app::shared::snapshot_place(s).expect("a bucket in the profile");
    Action::Loaded(wharf::app::Loaded::Snapshots {
        bucket,
        prefix,
        here: here.map(str::to_string),
        etag: None,
        result,
    })
}

/// The answer to `view`'s current request, handed over as the event loop does.
pub fn answer(
    s: &mut AppState,
    view: wharf::app::asked::View,
    loaded: wharf::app::Loaded,
) -> Vec<wharf::app::Effect> {
    let ticket = s.asked.ticket(s.connection, view);
    wharf::app::update(s, Action::Answer { ticket, loaded })
}
