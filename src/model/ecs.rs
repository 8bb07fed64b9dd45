//! ECS as wharf shows it: services, tasks and their containers, and the
//! one-off tasks of remote backups.

use super::logs::LogStream;

/// A one-off task that was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedTask {
    pub arn: String,
    /// The last part of the ARN, as the console shows it.
    pub id: String,
    /// The task definition, `family:revision`.
    pub task_definition: String,
    pub container: String,
    pub image: String,
    /// Where the container's `awslogs` output goes, if it has that configuration.
    pub logs: Option<LogStream>,
}

/// Where a task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED …
    pub last_status: String,
    pub stopped_reason: Option<String>,
    /// The chosen container's exit code, once it has one.
    pub exit_code: Option<i32>,
    /// Why the container stopped, in ECS's words.
    pub container_reason: Option<String>,
}

/// A service as the ECS pane lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceInfo {
    pub name: String,
    /// ACTIVE, DRAINING …; empty while the service is only listed, not yet described.
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// `family:revision` of the primary deployment (else the service's).
    pub task_definition: String,
    /// The primary deployment's rollout state (IN_PROGRESS, COMPLETED, FAILED).
    pub rollout: Option<String>,
    /// The latest service events, newest first.
    pub events: Vec<ServiceEvent>,
}

impl ServiceInfo {
    /// A service known by name only, until it is described.
    pub fn listed(name: &str) -> ServiceInfo {
        ServiceInfo {
            name: name.to_string(),
            status: String::new(),
            desired: 0,
            running: 0,
            pending: 0,
            task_definition: String::new(),
            rollout: None,
            events: Vec::new(),
        }
    }

    /// Whether more than its name is known.
    pub fn described(&self) -> bool {
        !self.status.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceEvent {
    /// Unix seconds.
    pub at: Option<i64>,
    pub message: String,
}

/// A task as the ECS pane lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskInfo {
    pub id: String,
    pub last_status: String,
    pub desired_status: String,
    pub health: Option<String>,
    /// Unix seconds.
    pub started_at: Option<i64>,
    pub stopped_reason: Option<String>,
    pub task_definition: String,
    pub containers: Vec<TaskContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskContainer {
    pub name: String,
    pub image: String,
    /// `sha256:…` when ECS knows it.
    pub digest: Option<String>,
    pub last_status: Option<String>,
    pub exit_code: Option<i32>,
}

impl TaskContainer {
    /// The 12 hex digits after `sha256:`.
    pub fn short_digest(&self) -> Option<&str> {
        self.digest.as_deref().map(crate::format::short_digest)
    }
}

/// What a local run of a service's container takes from its task definition:
/// the image it runs, its ports, its plain environment (never its secrets)
/// and its command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The container's name in the task definition.
    pub name: String,
    /// `family:revision` of the task definition it is in.
    pub definition: String,
    pub image: String,
    /// `(host port, container port, protocol)`; the host port is the container's when unset.
    pub ports: Vec<(u16, u16, String)>,
    /// `NAME=value`.
    pub environment: Vec<String>,
    pub entry_point: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
}

/// A service's database container as a backup task needs to know it: what it
/// runs and with which credentials (names only: the values stay where they
/// are), where it logs, how it is reached, and the task that runs it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDatabase {
    pub cluster: String,
    pub service: String,
    /// The service's task definition, `family:revision`.
    pub task_definition: String,
    pub container: String,
    pub image: String,
    /// Plain variables (`NAME`, value), as the task definition has them.
    pub environment: Vec<(String, String)>,
    /// Secrets (`NAME`, `valueFrom` ARN), as the task definition has them.
    pub secrets: Vec<(String, String)>,
    /// The port it listens on (its first port mapping), if it has one.
    pub port: Option<u16>,
    pub execution_role: Option<String>,
    /// Its `awslogs` group and region, if it logs there.
    pub log: Option<(String, String)>,
    /// The service's network: subnets, security groups, public IP.
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub public_ip: bool,
    /// A task of the service that runs now, and its private address.
    pub running: Option<(String, String)>,
}

/// One container of a backup task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupContainer {
    pub name: String,
    pub image: String,
    pub entry_point: Vec<String>,
    pub command: Vec<String>,
    /// Plain variables (`NAME`, value).
    pub environment: Vec<(String, String)>,
    /// Secrets (`NAME`, `valueFrom`): ECS puts their values in at the start.
    pub secrets: Vec<(String, String)>,
    pub essential: bool,
    /// The user it runs as, when not the image's own.
    pub user: Option<String>,
    /// It starts once this container exited 0.
    pub after_success_of: Option<String>,
    /// The task's shared volume and where this container sees it.
    pub mount: (String, String),
}

/// The one-off task a remote backup runs: a dump container and an upload
/// container sharing a volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupTask {
    pub family: String,
    pub containers: Vec<BackupContainer>,
    /// The shared volume's name.
    pub volume: String,
    pub execution_role: Option<String>,
    pub task_role: String,
    /// Where both containers log: the group and region (the service's).
    pub log: Option<(String, String)>,
    pub cpu: u32,
    pub memory: u32,
}
