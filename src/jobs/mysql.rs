//! MySQL and MariaDB: the password their clients need, from the container's
//! own environment as the official images are given it
//! (`MYSQL_ROOT_PASSWORD`, `MARIADB_ROOT_PASSWORD`, and `MYSQL_USER` /
//! `MYSQL_PASSWORD` for another user). It reaches `mysqldump`, `mysql` and
//! `mariadb` as `MYSQL_PWD` in the exec's environment, never on a command
//! line, where `ps` and the engine's logs would show it.

use crate::config::Preset;
use crate::docker::{DockerError, Engine};

/// `MYSQL_PWD=…` for `user` in `container`, if its environment has the password.
pub async fn password_env(engine: &Engine, container: &str, user: &str) -> Result<Vec<String>, DockerError> {
    let names: &[&str] = if user == "root" {
        &["MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"]
    } else {
        let own = [
            engine.container_env(container, "MARIADB_USER").await?,
            engine.container_env(container, "MYSQL_USER").await?,
        ];
        if !own.iter().flatten().any(|u| u == user) {
            return Ok(Vec::new());
        }
        &["MARIADB_PASSWORD", "MYSQL_PASSWORD"]
    };
    for name in names {
        if let Some(password) = engine.container_env(container, name).await?.filter(|p| !p.is_empty()) {
            return Ok(vec![format!("MYSQL_PWD={password}")]);
        }
    }
    Ok(Vec::new())
}

/// The user a mysql command line logs in as (`-u USER`), else `root`.
pub fn user_of(argv: &[String]) -> &str {
    argv.iter().position(|a| a == "-u").and_then(|i| argv.get(i + 1)).map_or("root", String::as_str)
}

/// The environment a preset's client needs in `container`: `MYSQL_PWD` for
/// the `mysql` preset's commands (`argv` names the user), nothing for the others.
pub async fn client_env(
    engine: &Engine,
    container: &str,
    preset: Preset,
    argv: &[String],
) -> Result<Vec<String>, DockerError> {
    match preset {
        Preset::Mysql => password_env(engine, container, user_of(argv)).await,
        _ => Ok(Vec::new()),
    }
}
