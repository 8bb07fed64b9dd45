//! The command line: `wharf` opens the dashboard; each job is also a subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Age, Overrides, Preset, StorageClass};

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "One terminal dashboard for the container loop: local images → ECR → ECS → logs → S3 snapshots",
    after_help = "Exit status: 0 ok, 1 failed, 2 usage or configuration error, 130 cancelled."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file [default: ./wharf.toml, else $XDG_CONFIG_HOME/wharf/wharf.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The wharf profile to use [default: the file's default_profile]
    #[arg(long, global = true, env = "WHARF_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS profile (from ~/.aws/config), over the wharf profile's aws_profile
    #[arg(long, global = true, value_name = "NAME")]
    pub aws_profile: Option<String>,
    /// The AWS region, over the wharf profile's region
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (an emulator, a local S3 server)
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The Docker Engine: unix:///path/docker.sock or tcp://host:port
    #[arg(long, global = true, env = "DOCKER_HOST", value_name = "URL")]
    pub docker_host: Option<String>,
    /// Change nothing: jobs that write (bake, push, deploy, restore, prune …) are refused
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Push to this registry host instead of the one in the repository URI
    #[arg(long, global = true, env = "WHARF_REGISTRY", value_name = "HOST[:PORT]")]
    pub registry: Option<String>,
    /// Write the log here [default: $XDG_STATE_HOME/wharf/wharf.log]
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// List local images (and, with --containers, containers)
    Images {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// List containers instead of images
        #[arg(long)]
        containers: bool,
    },
    /// List ECR repositories, or the images (tags) of one repository
    Tags {
        /// The repository [default: the profile's repository; without one, list repositories]
        repository: Option<String>,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// List ECS clusters, a cluster's services, or a service's tasks and latest events
    Tasks {
        /// The cluster [default: the profile's cluster; without one, list clusters]
        #[arg(long, value_name = "C")]
        cluster: Option<String>,
        /// The service [default: the profile's service; without one, list the cluster's services]
        #[arg(long, value_name = "S")]
        service: Option<String>,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Point an ECS service at a digest-pinned image: a new task definition revision
    Deploy {
        #[command(flatten)]
        at: ServiceArgs,
        /// A tag of the profile's ECR repository, resolved to its digest
        #[arg(long, value_name = "T", conflicts_with = "image", required_unless_present = "image")]
        tag: Option<String>,
        /// The image to run, REPOSITORY@sha256:…
        #[arg(long, value_name = "URI@DIGEST")]
        image: Option<String>,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Print (and --follow) the CloudWatch logs of a task or of a service's tasks
    Logs {
        /// A task id (or ARN)
        #[arg(long, value_name = "ID", conflicts_with = "service")]
        task: Option<String>,
        /// A service: all its tasks, merged in time order [default: the profile's service]
        #[arg(long, value_name = "S")]
        service: Option<String>,
        /// The ECS cluster [default: the profile's cluster]
        #[arg(long, value_name = "C")]
        cluster: Option<String>,
        /// Keep reading new lines (Ctrl-C ends)
        #[arg(long, short)]
        follow: bool,
        /// Only lines newer than this, e.g. 10m, 2h
        #[arg(long, value_name = "AGE")]
        since: Option<Age>,
    },
    /// Point an ECS service back at what it ran before
    Rollback {
        #[command(flatten)]
        at: ServiceArgs,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Push a local image to an ECR repository and confirm its digest with the registry
    Push {
        /// The local image, REPOSITORY[:TAG] or id
        image: String,
        /// The ECR repository [default: the profile's repository]
        #[arg(long, value_name = "R")]
        repo: Option<String>,
        /// The tag to push as [default: the image's own tag]
        #[arg(long, value_name = "T")]
        tag: Option<String>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Pull an image from the profile's ECR registry by digest, checked against the registry's
    Pull {
        /// REPO:TAG or REPO@sha256:… (REPO: an ECR repository; `:TAG` alone: the profile's repository)
        #[arg(value_name = "REPO:TAG|REPO@DIGEST")]
        reference: String,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Create and start the profile's database container from an image, its data on a named volume
    Run {
        /// The local image, NAME[:TAG], NAME@sha256:… or id
        image: String,
        /// The container to create [default: the profile's database.container]
        #[arg(long, value_name = "NAME")]
        container: Option<String>,
        /// Fill it with this snapshot first (`head`: the head of the line)
        #[arg(long, value_name = "ID|head")]
        snapshot: Option<String>,
        /// If another operation holds the container (a restore, a backup, a sync), exit 4 at once instead of waiting
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        place: SnapshotPlace,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Bring this machine to the head of the loop: the service's image, the head snapshot, one step
    Sync {
        /// A tag of the profile's repository instead of what the profile's service runs
        #[arg(long, value_name = "T")]
        tag: Option<String>,
        /// This snapshot instead of the head of the line
        #[arg(long, value_name = "ID")]
        snapshot: Option<String>,
        /// The container [default: the profile's database.container]
        #[arg(long, value_name = "NAME")]
        container: Option<String>,
        /// Print the plan, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Go ahead without asking (a recreate or a restore replaces what is there)
        #[arg(long)]
        yes: bool,
        /// If another operation holds the container (a restore, a backup, a sync), exit 4 at once instead of waiting
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        place: SnapshotPlace,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// A shell in a running container, or the database preset's SQL client (psql, mariadb, sqlcmd)
    Shell {
        /// The container [default: the profile's database.container]
        #[arg(long, value_name = "NAME")]
        container: Option<String>,
        /// The preset's SQL client instead of a shell, logged in as backups are
        #[arg(long)]
        sql: bool,
    },
    /// Create on AWS what the profile's loop needs and lacks: repository, bucket, cluster, role, log group, service
    Init {
        /// Print what would be created, create nothing
        #[arg(long)]
        dry_run: bool,
        /// Go ahead without asking
        #[arg(long)]
        yes: bool,
        /// Remove what init created for this profile instead (asks; the repository and bucket only with --include-data)
        #[arg(long)]
        destroy: bool,
        /// Open the database's port to ADDRESS only (the service's group lets nothing in otherwise) [default: this machine's address, asked of checkip.amazonaws.com]
        #[arg(long, value_name = "ADDRESS", num_args = 0..=1, default_missing_value = "", conflicts_with = "destroy")]
        public: Option<String>,
        /// With --destroy: the ECR repository and the S3 bucket too, with every image and snapshot in them
        #[arg(long, requires = "destroy")]
        include_data: bool,
        /// The ECR repository [default: the profile's; asked on a terminal]
        #[arg(long, value_name = "NAME")]
        repository: Option<String>,
        /// The S3 bucket for snapshots [default: the profile's; asked on a terminal]
        #[arg(long, value_name = "NAME")]
        bucket: Option<String>,
        /// The ECS cluster [default: the profile's]
        #[arg(long, value_name = "NAME")]
        cluster: Option<String>,
        /// The ECS service [default: the profile's]
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// With --destroy on a protected profile: the profile's name, typed
        #[arg(long, value_name = "PROFILE", requires = "destroy")]
        confirm: Option<String>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Commit a container to a new image, ready to push
    Bake {
        /// The container to commit (name or id)
        #[arg(long, value_name = "NAME")]
        container: String,
        /// The new image's reference, REPOSITORY:TAG
        #[arg(long, value_name = "REPO:TAG")]
        tag: String,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Back a container's data up to a new snapshot in S3
    Backup {
        /// The container [default: the profile's database.container]
        #[arg(long, value_name = "NAME")]
        container: Option<String>,
        /// How data leaves it: path, postgres, mysql, mssql, custom [default: the profile's, else path]
        #[arg(long, value_name = "P")]
        preset: Option<Preset>,
        /// For the path preset: the directory to back up [default: the profile's database.path]
        #[arg(long, value_name = "DIR")]
        path: Option<String>,
        /// STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR [default: the profile's, else STANDARD]
        #[arg(long, value_name = "CLASS")]
        storage_class: Option<StorageClass>,
        /// Make this snapshot head of the line even if another machine's snapshot is head
        #[arg(long, conflicts_with = "remote")]
        force_head: bool,
        /// Store the whole stream as one object (format 1), not as chunks shared with other snapshots
        #[arg(long, conflicts_with = "remote")]
        full: bool,
        /// If another operation holds the container (a restore, a backup, a sync), exit 4 at once instead of waiting
        #[arg(long, conflicts_with = "remote")]
        no_wait: bool,
        /// Back up a database that runs in ECS: a one-off task of the service runs remote_backup_command
        #[arg(long, conflicts_with_all = ["container", "preset", "path"])]
        remote: bool,
        /// With --remote: the ECS cluster [default: the profile's cluster]
        #[arg(long, value_name = "C", requires = "remote")]
        cluster: Option<String>,
        /// With --remote: the ECS service [default: the profile's service]
        #[arg(long, value_name = "S", requires = "remote")]
        service: Option<String>,
        /// With --remote: how long the task may take, e.g. 30m, 2h
        #[arg(long, value_name = "AGE", requires = "remote")]
        timeout: Option<Age>,
        #[command(flatten)]
        place: SnapshotPlace,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Restore a snapshot into a container, once its SHA-256 checks out; what
    /// is replaced is kept as a safety copy (`--undo` puts it back)
    Restore {
        /// The snapshot's id (see `wharf snapshots`)
        #[arg(required_unless_present = "undo", conflicts_with = "undo")]
        snapshot: Option<String>,
        /// Put back what the last restore into the container replaced (its newest safety copy)
        #[arg(long)]
        undo: bool,
        /// The container [default: the profile's database.container]
        #[arg(long, value_name = "NAME")]
        container: Option<String>,
        /// For directory snapshots: the directory to replace [default: the profile's database.path, else the snapshot's own]
        #[arg(long, value_name = "DIR")]
        path: Option<String>,
        /// Go ahead without asking: the container's data is replaced
        #[arg(long)]
        yes: bool,
        /// If another operation holds the container (a restore, a backup, a sync), exit 4 at once instead of waiting
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        place: SnapshotPlace,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Write a snapshot as the plain file it holds (a directory's .tar.zst, a
    /// dump as its client wrote it), for tools that know nothing of wharf
    Export {
        /// The snapshot's id (see `wharf snapshots`)
        snapshot: String,
        /// The file to write [default: <id>.tar.zst, or <id>.dump/.sql/.bak for a dump, here]; never replaced
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        place: SnapshotPlace,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Delete old and incomplete snapshots (manifest first) and abort stale uploads
    Prune {
        /// Keep this many newest complete snapshots [default: the profile's keep]
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// Delete complete snapshots older than this, e.g. 30d, 12h, 2w [default: the profile's older_than]
        #[arg(long, value_name = "AGE")]
        older_than: Option<Age>,
        /// Say what would go, delete nothing
        #[arg(long)]
        dry_run: bool,
        /// Go ahead without asking
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        place: SnapshotPlace,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Find what wharf left behind when a process died mid-job (a restore cut short,
    /// an open upload, a helper container, an interrupted download), and settle it
    Doctor {
        /// Finish or put back cut-short restores, abort the uploads, remove the rest
        #[arg(long)]
        fix: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List the snapshots under the profile's bucket and prefix
    Snapshots {
        #[command(flatten)]
        place: SnapshotPlace,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
}

/// Which service, over the profile's `cluster` and `service`.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// The ECS service [default: the profile's service]
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// The ECS cluster [default: the profile's cluster]
    #[arg(long, value_name = "C")]
    pub cluster: Option<String>,
}

/// How a deploy or rollback is carried out.
#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Watch the rollout; exit 1 if it fails or times out
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, e.g. 15m
    #[arg(long, value_name = "AGE", requires = "wait")]
    pub timeout: Option<Age>,
    /// Print what would change, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Go ahead without asking
    #[arg(long)]
    pub yes: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// Where snapshots live, over the profile's `bucket` and `prefix`.
#[derive(Debug, Clone, Args)]
pub struct SnapshotPlace {
    /// The S3 bucket [default: the profile's bucket]
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// The key prefix [default: the profile's prefix]
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config: self.config.clone(),
            profile: self.profile.clone(),
            aws_profile: self.aws_profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            docker_host: self.docker_host.clone(),
            registry: self.registry.clone(),
            read_only: self.read_only,
        }
    }
}
