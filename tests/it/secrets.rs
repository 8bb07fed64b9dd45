//! Files and secrets: wharf's directories and files are the user's alone,
//! registry credentials never cross a network in the clear, and values
//! filled into a remote backup's command line are checked first.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::backup::{bucket, stderr, wharf};
use crate::restore::{Layout, data_set, snapshot_of, target};
use crate::support::{Cleanup, moto_clients, test_image};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cache_the_state_and_what_is_in_them_are_the_users_alone() {
    let mut cleanup = Cleanup::default();
    let scratch = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let bucket = bucket().await;
    let id = snapshot_of(&mut cleanup, scratch.path(), home.path(), &bucket, &data_set(9, 64 << 10)).await;
    let container =
        target(&mut cleanup, scratch.path(), test_image(), Layout::Volume, false, &data_set(10, 1024));
    let out = wharf(&["restore", &id, "--container", &container, "--bucket", &bucket, "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (cache, state) = (home.path().join("cache/wharf"), home.path().join("state/wharf"));
    let safety =
        std::fs::read_dir(cache.join("safety").join(&container)).unwrap().next().unwrap().unwrap().path();
    let mut checked = vec![
        (cache.clone(), 0o700),
        (state.clone(), 0o700),
        (cache.join("snapshots").join(&id), 0o700),
        (cache.join("snapshots").join(&id).join("manifest.json"), 0o600),
        (cache.join("chunks"), 0o700),
        (safety.clone(), 0o700),
        (safety.join("manifest.json"), 0o600),
        (state.join("restores"), 0o700),
        (state.join("wharf.log"), 0o600),
    ];
    // The snapshot's and the safety copy's chunks, each in its fan directory of its store.
    checked.push((cache.join("safety-chunks"), 0o700));
    for store in ["chunks", "safety-chunks"] {
        for fan in std::fs::read_dir(cache.join(store)).unwrap().flatten().filter(|e| e.path().is_dir()) {
            checked.push((fan.path(), 0o700));
            for chunk in std::fs::read_dir(fan.path()).unwrap().flatten() {
                checked.push((chunk.path(), 0o600));
            }
        }
    }
    assert!(checked.len() >= 12, "chunks were looked at: {checked:?}");
    for lock in std::fs::read_dir(state.join("restores")).unwrap().flatten() {
        checked.push((lock.path(), 0o600));
    }
    let wrong: Vec<String> = checked
        .iter()
        .filter(|(path, wanted)| mode(path) != *wanted)
        .map(|(path, wanted)| format!("{} is {:o}, not {wanted:o}", path.display(), mode(path)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_or_a_pull_never_hands_registry_credentials_to_an_engine_over_plain_tcp() {
    use wharf::jobs::pull::{PullJob, Wanted};
    use wharf::jobs::{JobPool, JobResult, JobSpec, JobUpdate, PushJob};
    let hosts =
        [("tcp://192.0.2.10:2375", true), ("http://10.1.2.3:2375", true), ("tcp://127.0.0.1:9", false)];
    for ((host, refused), pull) in hosts.iter().flat_map(|h| [(h, false), (h, true)]) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let mut pool = JobPool::new(1, tx);
        let job = if pull {
            JobSpec::Pull(PullJob {
                repository: "nowhere".into(),
                wanted: Wanted::Tag("v1".into()),
                registry: None,
                docker_host: Some(host.to_string()),
            })
        } else {
            JobSpec::Push(PushJob {
                image: test_image().into(),
                repository: "nowhere".into(),
                tag: "v1".into(),
                registry: None,
                docker_host: Some(host.to_string()),
                create_repository: false,
            })
        };
        pool.submit(1, job, Some(moto_clients().await));
        let result = loop {
            if let JobUpdate::Finished(r) = rx.recv().await.unwrap().update {
                break r;
            }
        };
        let JobResult::Failed(chain) = result else { panic!("{host}: {result:?}") };
        let in_the_clear =
            chain[0].contains("is reached over plain TCP: wharf does not hand it the registry's credentials");
        assert_eq!(in_the_clear, *refused, "{host} (pull: {pull}): {chain:?}");
    }
}

#[test]
fn docker_tls_verify_without_its_keys_says_which_file_is_missing() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["images"])
        .current_dir(home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("DOCKER_HOST", "tcp://127.0.0.1:2376")
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", home.path().join("certs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!(
            "DOCKER_TLS_VERIFY is set, and {}/certs/key.pem is missing",
            home.path().display()
        )),
        "{said}"
    );
}

#[test]
fn values_filled_into_a_remote_backup_command_are_checked_first() {
    use wharf::config::StorageClass;
    use wharf::jobs::remote_backup::fill;
    let template =
        ["sh", "-c", "pg_dump | zstd | aws s3 cp - s3://{bucket}/{key} --storage-class {storage_class}"]
            .map(String::from);
    let good = fill(
        &template,
        "my-bucket",
        "team/app/20261129T000000Z-api/data.dump.zst",
        "20261129T000000Z-api",
        StorageClass::OnezoneIa,
    )
    .unwrap();
    assert_eq!(
        good[2],
        "pg_dump | zstd | aws s3 cp - s3://my-bucket/team/app/20261129T000000Z-api/data.dump.zst --storage-class ONEZONE_IA"
    );
    for (bucket, key) in
        [("my-bucket", "team app/x/data.dump.zst"), ("b", "p/$(reboot)/data.dump.zst"), ("b;rm", "k")]
    {
        let error = fill(&template, bucket, key, "id", StorageClass::Standard).unwrap_err().to_string();
        assert!(error.contains("which is not safe in remote_backup_command"), "{bucket} {key}: {error}");
        assert!(error.ends_with("nothing was started"), "{error}");
    }
}

/// A name this machine resolves to a loopback address that is not one by its
/// look (`localhost`, `127.…`): the machine's own host name, as /etc/hosts has it.
fn loopback_by_name() -> Option<String> {
    use std::net::ToSocketAddrs;
    let own = gethostname::gethostname().into_string().ok();
    own.into_iter().chain(["runsc".to_string(), "vm".to_string()]).find(|name| {
        !wharf::net::is_loopback(name)
            && (name.as_str(), 80).to_socket_addrs().is_ok_and(|mut a| a.all(|a| a.ip().is_loopback()))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_named_only_by_a_wharf_toml_in_the_working_directory_gets_no_token() {
    let repository = crate::support::unique("wharf-it-untrusted");
    moto_clients().await.ecr.create_repository().repository_name(&repository).send().await.unwrap();
    // A listener standing in for somebody's registry: it counts who comes, and shuts the door on them.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let came = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = came.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    let visitors = || came.load(std::sync::atomic::Ordering::SeqCst);
    let name = loopback_by_name().unwrap_or_else(|| "registry.invalid".into());
    let host = format!("{name}:{port}");

    // A cloned repository's wharf.toml names it.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("wharf.toml"),
        format!("[profiles.dev]\nrepository = \"{repository}\"\nregistry = \"{host}\"\n"),
    )
    .unwrap();
    let out = crate::support::wharf_against(&crate::support::aws_url(), project.path())
        .args(["push", test_image(), "--tag", "v1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&format!("registry `{host}` comes from wharf.toml, found in the working directory")),
        "{said}"
    );
    assert!(said.contains(&format!("give --registry {host}, set WHARF_REGISTRY")), "{said}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(visitors(), 0, "something connected to {host}");

    // The same name given by the user (--registry) is trusted: the push goes there (and finds no registry).
    let out = crate::support::wharf_against(&crate::support::aws_url(), project.path())
        .args(["--registry", &host, "push", test_image(), "--tag", "v1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("found in the working directory"), "{}", stderr(&out));
    if name != "registry.invalid" {
        assert!(visitors() > 0, "given by the user, {host} was tried");
    }
    let _ = Command::new("docker").args(["rmi", &format!("{host}/{repository}:v1")]).output();
}
