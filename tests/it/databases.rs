//! The database the user actually has: MariaDB with a root password as the
//! official image is given one, PostgreSQL whose tables are in a database
//! other than `postgres`, and every database of a server at once.

use std::process::Command;
use std::time::Duration;

use crate::backup::{bucket, stderr, wharf};
use crate::support::{Cleanup, docker, eventually, unique};

fn mariadb_image() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(crate::support::repo_path("scripts/test-image-mariadb.sh"))
            .status()
            .unwrap();
        assert!(status.success(), "scripts/test-image-mariadb.sh failed");
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_with_a_root_password_backs_up_restores_and_undoes() {
    mariadb_image();
    let mut cleanup = Cleanup::default();
    let container = unique("wharf-it-mariapw");
    let password = "s3cret-Pw";
    docker(&[
        "run",
        "-d",
        "--name",
        &container,
        "-e",
        &format!("MARIADB_ROOT_PASSWORD={password}"),
        "-e",
        "MARIADB_DATABASE=app",
        "wharf-test/mariadb:10",
    ]);
    cleanup.containers.push(container.clone());
    let sql = |statement: &str| {
        docker(&[
            "exec",
            "-e",
            &format!("MYSQL_PWD={password}"),
            &container,
            "mariadb",
            "-u",
            "root",
            "-N",
            "-B",
            "-e",
            statement,
        ])
    };
    eventually(Duration::from_secs(90), "MariaDB to take the root password", || {
        Command::new("docker")
            .args([
                "exec",
                "-e",
                &format!("MYSQL_PWD={password}"),
                &container,
                "mariadb",
                "-u",
                "root",
                "-e",
                "SELECT 1",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let without = Command::new("docker")
        .args(["exec", &container, "mariadb", "-u", "root", "-e", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!without.status.success(), "root needs its password here");
    sql("CREATE TABLE app.notes (id INT PRIMARY KEY, body TEXT)");
    sql("INSERT INTO app.notes SELECT seq, MD5(seq) FROM app.seq_1_to_3000");
    let fingerprint = "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, body ORDER BY id))) FROM app.notes";
    let before = sql(fingerprint);
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.m]\nbucket = \"{bucket}\"\n[profiles.m.database]\ncontainer = \"{container}\"\npreset = \"mysql\"\nuser = \"root\"\nname = \"app\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();

    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    sql("DELETE FROM app.notes WHERE id % 2 = 0");
    let changed = sql(fingerprint);
    assert_ne!(changed, before);
    let out = wharf(&["restore", result["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sql(fingerprint), before, "every row as it was");
    let out = wharf(&["restore", "--undo", "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sql(fingerprint), changed, "the safety copy, taken with the password, put back");

    // The password never went on a command line: the engine's record of execs shows none.
    let inspect = docker(&["inspect", &container]);
    assert!(!inspect.contains(&format!("-p{password}")), "the password is on a command line");
}
