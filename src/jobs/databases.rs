//! The databases a PostgreSQL or MySQL server in a container holds, asked of
//! the server itself (its own client in the container): what a first run and
//! the settings panel offer as `database.name`, each with its size and how
//! many tables of the user's it has, the image's own database
//! (`POSTGRES_DB`, `MYSQL_DATABASE`) first. `*` names every database of the
//! server at once (`pg_dumpall`, `mysqldump --all-databases`).

use futures::StreamExt;

use super::{argv, mysql};
use crate::config::Preset;
use crate::docker::{ContainerDetail, DockerError, Engine};

/// `database.name` for every database of the server.
pub const ALL: &str = "*";

/// Whether `name` means every database of the server.
pub fn is_all(name: Option<&str>) -> bool {
    name == Some(ALL)
}

/// At most this many databases are looked into for their tables.
const LOOKED_INTO: usize = 30;

/// One database of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    pub name: String,
    pub bytes: Option<u64>,
    /// Tables of the user's (the server's own catalogues not counted).
    pub tables: Option<u64>,
    /// The image's environment names it (`POSTGRES_DB`, `MYSQL_DATABASE`).
    pub the_images: bool,
}

/// The user a preset's client logs in as: the profile's, else the one the
/// official image was given (`POSTGRES_USER`), else the server's superuser.
pub fn user_for(preset: Preset, user: Option<&str>, container: &ContainerDetail) -> String {
    if let Some(user) = user {
        return user.to_string();
    }
    match preset {
        Preset::Postgres => env_of(container, &["POSTGRES_USER"]).unwrap_or_else(|| "postgres".into()),
        _ => "root".into(),
    }
}

fn env_of(container: &ContainerDetail, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| {
            container.env.iter().find_map(|kv| kv.strip_prefix(&format!("{name}=")).filter(|v| !v.is_empty()))
        })
        .map(str::to_string)
}

/// The databases of the server in `container`, the image's own first, then
/// those with the user's tables (biggest first), then the rest.
pub async fn list(
    engine: &Engine,
    container: &ContainerDetail,
    preset: Preset,
    user: &str,
) -> Result<Vec<DatabaseInfo>, DockerError> {
    let mut found = match preset {
        Preset::Postgres => postgres(engine, &container.id, user).await?,
        Preset::Mysql => mariadb(engine, &container.id, user).await?,
        _ => Vec::new(),
    };
    let own = env_of(container, &["POSTGRES_DB", "MARIADB_DATABASE", "MYSQL_DATABASE"]);
    for d in &mut found {
        d.the_images = own.as_deref() == Some(d.name.as_str());
    }
    found.sort_by_key(|d| {
        (!d.the_images, d.tables.unwrap_or(0) == 0, std::cmp::Reverse(d.bytes.unwrap_or(0)), d.name.clone())
    });
    Ok(found)
}

/// How many tables of the user's `database` (every database, for [`ALL`]) holds.
pub async fn user_tables(
    engine: &Engine,
    container: &str,
    preset: Preset,
    user: &str,
    database: &str,
) -> Result<u64, DockerError> {
    match preset {
        Preset::Postgres if database == ALL => {
            let mut total = 0;
            for d in postgres(engine, container, user).await? {
                total += d.tables.unwrap_or(0);
            }
            Ok(total)
        }
        Preset::Postgres => postgres_tables(engine, container, user, database).await,
        Preset::Mysql => {
            let which = if database == ALL {
                "table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')".to_string()
            } else {
                format!("table_schema = '{}'", database.replace('\\', "\\\\").replace('\'', "''"))
            };
            let sql = format!("SELECT COUNT(*) FROM information_schema.tables WHERE {which}");
            let command = argv(&["mysql", "-u", user, "-N", "-B", "-e", &sql]);
            let env = mysql::password_env(engine, container, user).await?;
            Ok(output(engine, container, &command, &env).await?.trim().parse().unwrap_or(0))
        }
        _ => Ok(0),
    }
}

async fn postgres(engine: &Engine, container: &str, user: &str) -> Result<Vec<DatabaseInfo>, DockerError> {
    let sql = "SELECT datname, pg_database_size(datname) FROM pg_database \
               WHERE datallowconn AND NOT datistemplate ORDER BY datname";
    let command = argv(&["psql", "-U", user, "-d", "postgres", "-AtF", "\t", "-c", sql]);
    let text = output(engine, container, &command, &[]).await?;
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let (name, bytes) = line.split_once('\t').unwrap_or((line, ""));
        let tables =
            if i < LOOKED_INTO { postgres_tables(engine, container, user, name).await.ok() } else { None };
        found.push(DatabaseInfo {
            name: name.to_string(),
            bytes: bytes.trim().parse().ok(),
            tables,
            the_images: false,
        });
    }
    Ok(found)
}

async fn postgres_tables(
    engine: &Engine,
    container: &str,
    user: &str,
    database: &str,
) -> Result<u64, DockerError> {
    let sql = "SELECT count(*) FROM pg_catalog.pg_tables \
               WHERE schemaname NOT IN ('pg_catalog', 'information_schema')";
    let command = argv(&["psql", "-U", user, "-d", database, "-Atc", sql]);
    Ok(output(engine, container, &command, &[]).await?.trim().parse().unwrap_or(0))
}

async fn mariadb(engine: &Engine, container: &str, user: &str) -> Result<Vec<DatabaseInfo>, DockerError> {
    let sql = "SELECT s.schema_name, COALESCE(SUM(t.data_length + t.index_length), 0), COUNT(t.table_name) \
               FROM information_schema.schemata s \
               LEFT JOIN information_schema.tables t ON t.table_schema = s.schema_name \
               WHERE s.schema_name NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
               GROUP BY s.schema_name";
    let command = argv(&["mysql", "-u", user, "-N", "-B", "-e", sql]);
    let env = mysql::password_env(engine, container, user).await?;
    let text = output(engine, container, &command, &env).await?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.to_string();
            let bytes = fields.next().and_then(|b| b.trim().parse().ok());
            let tables = fields.next().and_then(|t| t.trim().parse().ok());
            Some(DatabaseInfo { name, bytes, tables, the_images: false })
        })
        .collect())
}

/// What `command` prints on stdout in `container`.
async fn output(
    engine: &Engine,
    container: &str,
    command: &[String],
    env: &[String],
) -> Result<String, DockerError> {
    let mut out = Box::pin(engine.exec_output(container, command, env).await?);
    let mut text = Vec::new();
    while let Some(chunk) = out.next().await {
        text.extend_from_slice(&chunk?);
    }
    Ok(String::from_utf8_lossy(&text).to_string())
}

/// The database a dump reads when the profile names none: for PostgreSQL the
/// one the image was made with (`POSTGRES_DB`, which defaults to the user's
/// name), for MySQL the image's (`MYSQL_DATABASE`), else every one; never
/// the server's own `mysql` catalogue.
pub fn database_for(
    preset: Preset,
    name: Option<&str>,
    user: &str,
    container: Option<&ContainerDetail>,
) -> String {
    if let Some(name) = name {
        return name.to_string();
    }
    let own = |names: &[&str]| container.and_then(|c| env_of(c, names));
    match preset {
        Preset::Postgres => own(&["POSTGRES_DB"]).unwrap_or_else(|| user.to_string()),
        Preset::Mysql => own(&["MARIADB_DATABASE", "MYSQL_DATABASE"]).unwrap_or_else(|| ALL.to_string()),
        _ => String::new(),
    }
}

/// `argv` as chunks want it: `pg_dump`'s custom format uncompressed (each
/// chunk is compressed on its own, as it is stored), so what did not change
/// makes the same chunks again.
pub fn for_chunks(mut argv: Vec<String>) -> Vec<String> {
    if argv.first().is_some_and(|a| a == "pg_dump") {
        argv.insert(2, "-Z0".into());
    }
    argv
}

/// The command that writes `database` (or every database) to stdout.
pub fn dump_command(preset: Preset, user: &str, database: &str) -> Vec<String> {
    match (preset, database == ALL) {
        (Preset::Postgres, false) => argv(&["pg_dump", "-Fc", "-U", user, "-d", database]),
        (Preset::Postgres, true) => argv(&["pg_dumpall", "--clean", "--if-exists", "-U", user]),
        (_, false) => argv(&["mysqldump", "--single-transaction", "--routines", "-u", user, database]),
        (_, true) => argv(&[
            "mysqldump",
            "--all-databases",
            "--single-transaction",
            "--routines",
            "--events",
            "-u",
            user,
        ]),
    }
}

/// The command that reads such a dump on stdin and puts it in place of what is there.
pub fn restore_command(preset: Preset, user: &str, database: &str) -> Vec<String> {
    match (preset, database == ALL) {
        // One transaction: a dump that fails half-way changes nothing.
        (Preset::Postgres, false) => argv(&[
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "-U",
            user,
            "-d",
            database,
        ]),
        // pg_dumpall's SQL drops and makes each database again; some statements
        // (the role psql runs as) fail by design, so it does not stop on errors.
        (Preset::Postgres, true) => argv(&["psql", "-q", "-U", user, "-d", "postgres", "-f", "-"]),
        (_, false) => argv(&["mysql", "-u", user, database]),
        (_, true) => argv(&["mysql", "-u", user]),
    }
}
