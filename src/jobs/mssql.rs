//! SQL Server (`preset = "mssql"`): `sqlcmd` in the container writes a BACKUP
//! to a file, which leaves (and comes back) through the engine's archive API;
//! RESTORE reads it. The password comes from the container's own
//! `MSSQL_SA_PASSWORD` (or `SA_PASSWORD`) and reaches `sqlcmd` in its
//! environment, never on a command line.

use crate::docker::{DockerError, Engine};

/// Where `sqlcmd` lives in Microsoft's images (2022, then 2019), and whether it
/// takes `-C` (trust the server's certificate).
const SQLCMD: [(&str, bool); 2] =
    [("/opt/mssql-tools18/bin/sqlcmd", true), ("/opt/mssql-tools/bin/sqlcmd", false)];

/// The backup file inside the container, named after the snapshot.
pub fn backup_file(id: &str) -> String {
    format!("/tmp/wharf-{id}.bak")
}

/// `[name]`, with `]` doubled.
fn quote_name(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// `N'text'`, with `'` doubled.
fn quote_text(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

pub async fn backup(
    engine: &Engine,
    container: &str,
    user: &str,
    database: &str,
    file: &str,
) -> Result<(), DockerError> {
    let sql = format!(
        "BACKUP DATABASE {} TO DISK = {} WITH FORMAT, INIT, COPY_ONLY",
        quote_name(database),
        quote_text(file)
    );
    run(engine, container, user, &sql).await
}

pub async fn restore(
    engine: &Engine,
    container: &str,
    user: &str,
    database: &str,
    file: &str,
) -> Result<(), DockerError> {
    let sql =
        format!("RESTORE DATABASE {} FROM DISK = {} WITH REPLACE", quote_name(database), quote_text(file));
    run(engine, container, user, &sql).await
}

/// The server answers a query.
pub async fn ready(engine: &Engine, container: &str, user: &str) -> Result<(), DockerError> {
    run(engine, container, user, "SELECT 1").await
}

pub async fn remove(engine: &Engine, container: &str, file: &str) {
    let argv = ["rm", "-f", "--", file].map(String::from);
    let _ = engine.exec(container, &argv).await;
}

async fn run(engine: &Engine, container: &str, user: &str, sql: &str) -> Result<(), DockerError> {
    let env = password(engine, container).await?;
    let mut last = None;
    for (path, trusts) in SQLCMD {
        let mut argv = sqlcmd(path, trusts, user);
        argv.extend(["-b".to_string(), "-Q".to_string(), sql.to_string()]);
        match engine.exec_env(container, &argv, &env).await {
            Err(e) if missing(&e) => last = Some(path),
            other => return other,
        }
    }
    Err(no_sqlcmd(container, last))
}

/// `sqlcmd` for a person at a terminal: its argument vector (connected to
/// `database`) and the environment that carries the password.
pub async fn client(
    engine: &Engine,
    container: &str,
    user: &str,
    database: &str,
) -> Result<(Vec<String>, Vec<String>), DockerError> {
    let env = password(engine, container).await?;
    let mut last = None;
    for (path, trusts) in SQLCMD {
        match engine.exec(container, &[path.to_string(), "-?".to_string()]).await {
            Err(e) if missing(&e) => last = Some(path),
            _ => {
                let mut argv = sqlcmd(path, trusts, user);
                argv.extend(["-d".to_string(), database.to_string()]);
                return Ok((argv, env));
            }
        }
    }
    Err(no_sqlcmd(container, last))
}

fn sqlcmd(path: &str, trusts: bool, user: &str) -> Vec<String> {
    let mut argv = vec![path.to_string(), "-S".into(), "localhost".into(), "-U".into(), user.into()];
    if trusts {
        argv.push("-C".into());
    }
    argv
}

/// `SQLCMDPASSWORD=…` from the container's own environment, if it has one.
async fn password(engine: &Engine, container: &str) -> Result<Vec<String>, DockerError> {
    let mut password = engine.container_env(container, "MSSQL_SA_PASSWORD").await?;
    if password.is_none() {
        password = engine.container_env(container, "SA_PASSWORD").await?;
    }
    Ok(password.map(|p| format!("SQLCMDPASSWORD={p}")).into_iter().collect())
}

/// The program is not there (126/127, or the runtime refusing to start it).
pub(crate) fn missing(e: &DockerError) -> bool {
    match e {
        DockerError::Command { code: 126 | 127, .. } => true,
        DockerError::Engine(message) => message.contains("no such file") || message.contains("not found"),
        _ => false,
    }
}

fn no_sqlcmd(container: &str, last: Option<&str>) -> DockerError {
    DockerError::Engine(format!(
        "no sqlcmd in container `{container}` (looked for {} and {})",
        SQLCMD[0].0,
        last.unwrap_or(SQLCMD[1].0)
    ))
}
