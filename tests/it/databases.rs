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

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_of_a_database_without_the_users_tables_says_so() {
    let mut cleanup = Cleanup::default();
    let container = crate::backup::postgres_container(&mut cleanup);
    crate::backup::psql(&container, "postgres", "CREATE DATABASE app");
    crate::backup::psql(&container, "app", "CREATE TABLE notes (id int)");
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    // The profile names no database: PostgreSQL's default, `postgres`, holds none of the user's tables.
    let config = format!(
        "[profiles.pg]\nbucket = \"{bucket}\"\n[profiles.pg.database]\ncontainer = \"{container}\"\npreset = \"postgres\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), &config).unwrap();
    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "a warning, not a failure: {}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("warning: database postgres in"), "{said}");
    assert!(said.contains("holds no table of yours"), "{said}");
    assert!(said.contains("pick it with `,` (database.name)"), "{said}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["holds_no_table"], true, "{result}");
    assert_eq!(result["database"], "postgres");

    // Named, the database with the table: no warning.
    std::fs::write(home.path().join("wharf.toml"), format!("{config}name = \"app\"\n")).unwrap();
    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("holds no table"), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((result["holds_no_table"].as_bool(), result["database"].as_str()), (Some(false), Some("app")));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_database_of_a_postgresql_server_at_once_round_trips() {
    let mut cleanup = Cleanup::default();
    let container = crate::backup::postgres_container(&mut cleanup);
    let psql = crate::backup::psql;
    for db in ["app", "shop"] {
        psql(&container, "postgres", &format!("CREATE DATABASE {db}"));
        psql(
            &container,
            db,
            "CREATE TABLE items (id int PRIMARY KEY, body text); INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 2000) i",
        );
    }
    let fingerprint = "SELECT count(*) || ':' || md5(string_agg(id || body, ',' ORDER BY id)) FROM items";
    let before = [psql(&container, "app", fingerprint), psql(&container, "shop", fingerprint)];
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.pg]\nbucket = \"{bucket}\"\n[profiles.pg.database]\ncontainer = \"{container}\"\npreset = \"postgres\"\nname = \"*\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["database"], "*");
    let dump = crate::backup::stream(&bucket, &result).await;
    assert!(
        String::from_utf8_lossy(&dump[..2000]).contains("PostgreSQL database cluster dump"),
        "pg_dumpall's SQL"
    );

    psql(&container, "app", "DELETE FROM items WHERE id > 10");
    psql(&container, "shop", "DROP TABLE items");
    psql(&container, "postgres", "CREATE DATABASE scratch");
    let out = wharf(&["restore", result["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!([psql(&container, "app", fingerprint), psql(&container, "shop", fingerprint)], before);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_database_of_a_mariadb_server_at_once_round_trips() {
    mariadb_image();
    let mut cleanup = Cleanup::default();
    let container = unique("wharf-it-mariaall");
    docker(&["run", "-d", "--name", &container, "wharf-test/mariadb:10"]);
    cleanup.containers.push(container.clone());
    let sql =
        |statement: &str| docker(&["exec", &container, "mariadb", "-u", "root", "-N", "-B", "-e", statement]);
    eventually(Duration::from_secs(90), "MariaDB to accept connections", || {
        Command::new("docker")
            .args(["exec", &container, "mariadb", "-u", "root", "-e", "SELECT 1"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    for db in ["app", "shop"] {
        sql(&format!("CREATE DATABASE {db}"));
        sql(&format!("CREATE TABLE {db}.items (id INT PRIMARY KEY, body TEXT)"));
        sql(&format!("INSERT INTO {db}.items SELECT seq, MD5(seq) FROM {db}.seq_1_to_1000"));
    }
    let fingerprint = |db: &str| {
        sql(&format!("SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, body ORDER BY id))) FROM {db}.items"))
    };
    let before = [fingerprint("app"), fingerprint("shop")];
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.m]\nbucket = \"{bucket}\"\n[profiles.m.database]\ncontainer = \"{container}\"\npreset = \"mysql\"\nname = \"*\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    sql("DELETE FROM app.items WHERE id > 10");
    sql("DROP DATABASE shop");
    let out = wharf(&["restore", result["id"].as_str().unwrap(), "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!([fingerprint("app"), fingerprint("shop")], before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_databases_are_listed_with_the_images_own_first_and_its_user() {
    use wharf::config::Preset;
    use wharf::jobs::databases;
    let mut cleanup = Cleanup::default();
    crate::backup::postgres_container(&mut Cleanup::default()); // builds the image
    let container = unique("wharf-it-pgenv");
    docker(&[
        "run",
        "-d",
        "--name",
        &container,
        "-e",
        "POSTGRES_USER=app",
        "-e",
        "POSTGRES_DB=shop",
        "wharf-test/postgres:15",
    ]);
    cleanup.containers.push(container.clone());
    eventually(Duration::from_secs(60), "PostgreSQL to accept connections", || {
        Command::new("docker")
            .args(["exec", &container, "psql", "-U", "app", "-d", "shop", "-c", "SELECT 1"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let psql =
        |db: &str, sql: &str| docker(&["exec", &container, "psql", "-U", "app", "-d", db, "-Atc", sql]);
    psql("postgres", "CREATE DATABASE big");
    psql(
        "big",
        "CREATE TABLE t (x text); INSERT INTO t SELECT repeat('x', 1000) FROM generate_series(1, 20000)",
    );
    psql("shop", "CREATE TABLE orders (id int)");

    let engine = wharf::docker::Engine::connect(None).await.unwrap();
    let detail = engine.container(&container).await.unwrap();
    let user = databases::user_for(Preset::Postgres, None, &detail);
    assert_eq!(user, "app", "the image's POSTGRES_USER");
    let listed = databases::list(&engine, &detail, Preset::Postgres, &user).await.unwrap();
    let names: Vec<(&str, Option<u64>, bool)> =
        listed.iter().map(|d| (d.name.as_str(), d.tables, d.the_images)).collect();
    assert_eq!(
        names,
        [("shop", Some(1), true), ("big", Some(1), false), ("postgres", Some(0), false)],
        "the image's own, then those with tables by size, then the rest: {listed:?}"
    );
    assert!(listed[1].bytes.unwrap() > listed[0].bytes.unwrap());

    // With nothing in the profile, a backup dumps the image's database as its user.
    let bucket = bucket().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.pg]\nbucket = \"{bucket}\"\n[profiles.pg.database]\ncontainer = \"{container}\"\npreset = \"postgres\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    let out = wharf(&["backup", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (result["database"].as_str(), result["holds_no_table"].as_bool()),
        (Some("shop"), Some(false))
    );
}
