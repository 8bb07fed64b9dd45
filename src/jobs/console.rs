//! What an interactive session in a container runs: a shell (bash where the
//! image has it, else sh), or the profile's preset's SQL client (`psql`,
//! `mariadb`/`mysql`, `sqlcmd`) logged in as the backups are. Worked out, and
//! checked against the running container, before the terminal is handed over,
//! so that what is missing is said where the user is looking.

use super::argv;
use crate::config::{Preset, Settings};
use crate::docker::{DockerError, Engine};

/// A shell or the SQL client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleKind {
    Shell,
    Sql,
}

/// Which console to open, and in which container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleRequest {
    pub container: String,
    pub kind: ConsoleKind,
    pub preset: Preset,
    pub user: Option<String>,
    pub database: Option<String>,
    pub docker_host: Option<String>,
}

/// What is run, ready to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    pub container: String,
    pub argv: Vec<String>,
    /// `NAME=value` added to the command's environment (passwords go here,
    /// never on its command line).
    pub env: Vec<String>,
}

impl Console {
    /// The program, for messages (`psql`, `bash`).
    pub fn program(&self) -> &str {
        let first = self.argv.first().map(String::as_str).unwrap_or("");
        first.rsplit('/').next().unwrap_or(first)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("container `{0}` has no shell (looked for bash and sh)")]
    NoShell(String),
    #[error("no {wanted} in container `{container}`")]
    NoClient { wanted: String, container: String },
}

impl ConsoleRequest {
    /// A console in `container` (a shell), or in the profile's database
    /// container (the SQL client, or a shell when no container is named).
    pub fn from_settings(
        settings: &Settings,
        container: Option<String>,
        kind: ConsoleKind,
    ) -> Result<ConsoleRequest, String> {
        let database = settings.profile.database.clone().unwrap_or_default();
        let container = container
            .or(database.container)
            .ok_or("no container: give --container, or set database.container in wharf.toml")?;
        let preset = database.preset.unwrap_or(Preset::Path);
        if kind == ConsoleKind::Sql && matches!(preset, Preset::Path | Preset::Custom) {
            return Err(format!(
                "the SQL client needs a database preset (postgres, mysql or mssql) in wharf.toml; this profile's is `{}` (a shell opens in any container)",
                preset.as_str()
            ));
        }
        Ok(ConsoleRequest {
            container,
            kind,
            preset,
            user: database.user,
            database: database.name,
            docker_host: settings.docker_host.clone(),
        })
    }

    /// Checks the container runs and holds the program, and works out its
    /// command line.
    pub async fn prepare(&self) -> Result<Console, ConsoleError> {
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let detail = engine.container(&self.container).await?;
        if !detail.running {
            return Err(DockerError::NotRunning(self.container.clone()).into());
        }
        let container = detail.name;
        let (argv, env) = match self.kind {
            ConsoleKind::Shell => (shell(&engine, &container).await?, Vec::new()),
            ConsoleKind::Sql => self.sql_client(&engine, &container).await?,
        };
        Ok(Console { container, argv, env })
    }

    async fn sql_client(
        &self,
        engine: &Engine,
        container: &str,
    ) -> Result<(Vec<String>, Vec<String>), ConsoleError> {
        let user = self.user.clone();
        match self.preset {
            Preset::Postgres => {
                let user = user.unwrap_or_else(|| "postgres".into());
                // Every database (`*`): psql opens the server's own, where \l lists them.
                let database = match self.database.as_deref() {
                    Some(super::databases::ALL) => "postgres".to_string(),
                    other => other.map_or_else(|| user.clone(), str::to_string),
                };
                let psql = first_present(engine, container, &["psql"], &["--version"]).await?;
                let psql = psql.ok_or_else(|| no_client("psql", container))?;
                Ok((argv(&[&psql, "-U", &user, "-d", &database]), Vec::new()))
            }
            Preset::Mysql => {
                let user = user.unwrap_or_else(|| "root".into());
                let client = first_present(engine, container, &["mariadb", "mysql"], &["--version"]).await?;
                let client = client.ok_or_else(|| no_client("mariadb or mysql", container))?;
                let mut command = argv(&[&client, "-u", &user]);
                command.extend(self.database.clone().filter(|d| d != super::databases::ALL));
                Ok((command, super::mysql::password_env(engine, container, &user).await?))
            }
            Preset::Mssql => {
                let user = user.unwrap_or_else(|| "sa".into());
                let database = self.database.clone().unwrap_or_else(|| "master".into());
                Ok(super::mssql::client(engine, container, &user, &database).await?)
            }
            // Refused by `from_settings`.
            Preset::Path | Preset::Custom => Err(no_client("an SQL client for this preset", container)),
        }
    }
}

/// bash when the image has it, else sh.
async fn shell(engine: &Engine, container: &str) -> Result<Vec<String>, ConsoleError> {
    let found = first_present(engine, container, &["bash", "sh"], &["-c", "exit 0"]).await?;
    found.map(|shell| vec![shell]).ok_or_else(|| ConsoleError::NoShell(container.to_string()))
}

/// The first of `programs` that `container` can start (run with `probe`).
async fn first_present(
    engine: &Engine,
    container: &str,
    programs: &[&str],
    probe: &[&str],
) -> Result<Option<String>, DockerError> {
    for program in programs {
        let mut command = vec![program.to_string()];
        command.extend(probe.iter().map(|a| a.to_string()));
        match engine.exec(container, &command).await {
            Err(e) if super::mssql::missing(&e) => continue,
            Err(
                e @ (DockerError::NoSuchContainer(_)
                | DockerError::NotRunning(_)
                | DockerError::Unreachable { .. }),
            ) => {
                return Err(e);
            }
            // It started: whatever it answered, it is there.
            _ => return Ok(Some(program.to_string())),
        }
    }
    Ok(None)
}

fn no_client(wanted: &str, container: &str) -> ConsoleError {
    ConsoleError::NoClient { wanted: wanted.to_string(), container: container.to_string() }
}
