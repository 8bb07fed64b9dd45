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
        (cache.join("snapshots").join(&id).join("data.tar.zst"), 0o600),
        (cache.join("snapshots").join(&id).join("manifest.json"), 0o600),
        (safety.clone(), 0o700),
        (safety.join("data.tar.zst"), 0o600),
        (safety.join("manifest.json"), 0o600),
        (state.join("restores"), 0o700),
        (state.join("wharf.log"), 0o600),
    ];
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
