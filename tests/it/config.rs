//! `wharf.toml`: lookup, profiles, overrides, and the exact text of its errors.

use wharf::config::{Dirs, Overrides, Preset, Settings, StorageClass};

use crate::support::repo_path;

fn dirs(tmp: &std::path::Path) -> Dirs {
    Dirs { config: tmp.join("config"), state: tmp.join("state"), cache: tmp.join("cache") }
}

fn load(fixture: &str, overrides: Overrides) -> Result<Settings, String> {
    let tmp = tempfile::tempdir().unwrap();
    let overrides =
        Overrides { config: Some(format!("tests/fixtures/config/{fixture}").into()), ..overrides };
    Settings::load(&overrides, &dirs(tmp.path())).map_err(|e| e.to_string())
}

#[test]
fn full_profile_is_read() {
    let s = load("full.toml", Overrides::default()).unwrap();
    assert_eq!(s.profile_name.as_deref(), Some("dev"));
    let p = &s.profile;
    assert_eq!(p.aws_profile.as_deref(), Some("dev"));
    assert_eq!(p.registry.as_deref(), Some("127.0.0.1:5000"));
    assert_eq!(p.storage_class, Some(StorageClass::OnezoneIa));
    assert_eq!(p.remote_backup_command.as_ref().map(Vec::len), Some(3));
    let db = p.database.as_ref().unwrap();
    assert_eq!(db.preset, Some(Preset::Path));
    assert_eq!(db.path.as_deref(), Some("/var/lib/data"));
    assert!(!p.protected);
}

#[test]
fn profile_flag_picks_another_profile_and_flags_override_it() {
    let overrides = Overrides {
        profile: Some("prod".into()),
        region: Some("ap-southeast-2".into()),
        endpoint_url: Some("http://127.0.0.1:5555".into()),
        aws_profile: Some("ops".into()),
        ..Overrides::default()
    };
    let s = load("full.toml", overrides).unwrap();
    assert_eq!(s.profile_name.as_deref(), Some("prod"));
    assert!(s.profile.protected);
    assert_eq!(s.profile.region.as_deref(), Some("ap-southeast-2"));
    assert_eq!(s.profile.endpoint_url.as_deref(), Some("http://127.0.0.1:5555"));
    assert_eq!(s.profile.aws_profile.as_deref(), Some("ops"));
}

#[test]
fn unknown_key_names_key_file_and_line() {
    assert_eq!(
        load("unknown_key.toml", Overrides::default()).unwrap_err(),
        "tests/fixtures/config/unknown_key.toml:5:1: unknown key `clustr`, expected one of `aws_profile`, \
         `region`, `endpoint_url`, `registry`, `repository`, `cluster`, `service`, `container`, `bucket`, \
         `prefix`, `storage_class`, `keep`, `older_than`, `protected`, `remote_backup_command`, `uploader_image`, `log_lines`, \
         `cache_limit`, `snapshot_format`, `init_id`, `subnets`, `database`"
    );
    assert_eq!(
        load("unknown_top_key.toml", Overrides::default()).unwrap_err(),
        "tests/fixtures/config/unknown_top_key.toml:2:1: unknown key `colours`, expected one of `default_profile`, `theme`, `profiles`"
    );
}

#[test]
fn bad_values_name_the_allowed_ones() {
    assert_eq!(
        load("bad_preset.toml", Overrides::default()).unwrap_err(),
        "tests/fixtures/config/bad_preset.toml:3:10: unknown value `oracle`, expected one of `path`, `postgres`, \
         `mysql`, `mssql`, `custom`"
    );
    assert_eq!(
        load("bad_storage_class.toml", Overrides::default()).unwrap_err(),
        "tests/fixtures/config/bad_storage_class.toml:3:17: unknown value `GLACIER_DEEP`, expected one of \
         `STANDARD`, `STANDARD_IA`, `ONEZONE_IA`, `INTELLIGENT_TIERING`, `GLACIER_IR`"
    );
}

#[test]
fn a_logs_pane_that_keeps_no_lines_is_refused() {
    assert_eq!(
        load("bad_log_lines.toml", Overrides::default()).unwrap_err(),
        "tests/fixtures/config/bad_log_lines.toml:3:13: must be at least 1"
    );
}

#[test]
fn a_cache_limit_is_a_size() {
    let message = load("bad_cache_limit.toml", Overrides::default()).unwrap_err();
    assert!(
        message.starts_with("tests/fixtures/config/bad_cache_limit.toml:3:15: invalid size `lots`: "),
        "{message}"
    );
    assert!(message.ends_with("(write it like 500MiB or 20GiB)"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wharf.toml");
    for (written, bytes) in [("\"500MiB\"", 500 << 20), ("\"20GiB\"", 20 << 30), ("1000000", 1_000_000)] {
        std::fs::write(&file, format!("[profiles.dev]\ncache_limit = {written}\n")).unwrap();
        let overrides = Overrides { config: Some(file.clone()), ..Overrides::default() };
        let settings = Settings::load(&overrides, &dirs(dir.path())).unwrap();
        assert_eq!(settings.profile.cache_limit, Some(wharf::config::Size(bytes)), "{written}");
    }
}

#[test]
fn syntax_error_points_at_it() {
    assert_eq!(
        load("syntax.toml", Overrides::default()).unwrap_err(),
        "tests/fixtures/config/syntax.toml:2:20: invalid basic string, expected `\"`"
    );
}

#[test]
fn missing_profile_lists_the_known_ones() {
    assert_eq!(
        load("unknown_profile.toml", Overrides::default()).unwrap_err(),
        "no profile `prod` in tests/fixtures/config/unknown_profile.toml (profiles: dev)"
    );
    assert_eq!(
        load("full.toml", Overrides { profile: Some("staging".into()), ..Overrides::default() }).unwrap_err(),
        "no profile `staging` in tests/fixtures/config/full.toml (profiles: dev, prod)"
    );
}

#[test]
fn lookup_prefers_current_directory_then_config_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    // No file anywhere: an empty profile, and it is not an error.
    let s = Settings::load(&Overrides::default(), &d).unwrap();
    assert_eq!(s.file, None);
    assert_eq!(s.profile_name, None);
    // Asking for a profile with no file is.
    let err =
        Settings::load(&Overrides { profile: Some("dev".into()), ..Overrides::default() }, &d).unwrap_err();
    assert!(err.to_string().starts_with("profile `dev` was asked for, but there is no wharf.toml"), "{err}");
    // A file in the config directory is found.
    std::fs::create_dir_all(&d.config).unwrap();
    std::fs::copy(repo_path("tests/fixtures/config/full.toml"), d.config.join("wharf.toml")).unwrap();
    let s = Settings::load(&Overrides::default(), &d).unwrap();
    assert_eq!(s.file, Some(d.config.join("wharf.toml")));
    assert_eq!(s.profile.cluster.as_deref(), Some("dev"));
    // A registry in the user's own file is theirs to vouch for.
    let registry = s.registry().expect("full.toml names a registry");
    assert_eq!(registry.found_in, None);
    assert_eq!(registry.host_for("123456789012.dkr.ecr.eu-west-1.amazonaws.com"), Ok(registry.host.clone()));
}

#[test]
fn a_registry_found_only_in_the_working_directory_is_not_vouched_for() {
    use wharf::config::RegistryOverride;
    let from_here = |host: &str| RegistryOverride { host: host.into(), found_in: Some("wharf.toml".into()) };
    let ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    let e = from_here("registry.example.com").host_for(ecr).unwrap_err();
    assert_eq!(e.file, "wharf.toml");
    // ECR's own host, or this machine by its look, are fine from anywhere.
    assert_eq!(from_here(ecr).host_for(ecr).as_deref(), Ok(ecr));
    assert_eq!(from_here("127.0.0.1:5000").host_for(ecr).as_deref(), Ok("127.0.0.1:5000"));
    assert_eq!(from_here("localhost:5000").host_for(ecr).as_deref(), Ok("localhost:5000"));
}

#[test]
fn a_missing_config_file_given_by_flag_is_an_error() {
    let err = load("does_not_exist.toml", Overrides::default()).unwrap_err();
    assert!(err.starts_with("cannot read tests/fixtures/config/does_not_exist.toml: "), "{err}");
}

/// Sends one S3 call to a listener on `localhost` and returns the request head it got.
async fn first_s3_request(endpoint: Option<String>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = endpoint.unwrap_or(format!("http://localhost:{port}"));
    let sdk = wharf::aws::load_config(&wharf::config::Profile {
        endpoint_url: Some(url),
        region: Some("eu-west-1".into()),
        ..Default::default()
    })
    .await;
    let creds = aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test");
    let conf = wharf::aws::s3_config(&sdk).to_builder().credentials_provider(creds).build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0; 4096];
        let n = socket.read(&mut buf).await.unwrap();
        let _ = socket.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n").await;
        String::from_utf8_lossy(&buf[..n]).to_string()
    });
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.list_objects_v2().bucket("snapshots").send(),
    )
    .await;
    tokio::time::timeout(std::time::Duration::from_secs(5), server).await.unwrap().unwrap()
}

#[tokio::test]
async fn s3_uses_path_style_addressing_with_an_endpoint() {
    let head = first_s3_request(None).await;
    let request_line = head.lines().next().unwrap_or_default();
    assert!(
        request_line.starts_with("GET /snapshots?") || request_line.starts_with("GET /snapshots/?"),
        "{head}"
    );
    let host = head.lines().find(|l| l.to_lowercase().starts_with("host:")).unwrap_or_default();
    assert!(!host.contains("snapshots."), "virtual-hosted style used: {host}");
}

#[test]
fn the_shipped_example_configuration_parses() {
    let text = std::fs::read_to_string(repo_path("assets/wharf.example.toml")).unwrap();
    let file = wharf::config::ConfigFile::parse(&text, "assets/wharf.example.toml").unwrap();
    assert_eq!(file.default_profile.as_deref(), Some("dev"));
    assert!(file.profiles["prod"].protected);
    assert_eq!(file.profiles["dev"].database.as_ref().and_then(|d| d.preset), Some(Preset::Postgres));
}
