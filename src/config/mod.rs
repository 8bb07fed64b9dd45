//! `wharf.toml`: named profiles, looked up in the current directory, then the
//! user's config directory, or given with `--config`. Unknown keys are errors
//! that name the key, the file and the line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

pub mod save;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub default_profile: Option<String>,
    /// The screen's colours, for every profile.
    pub theme: Option<Theme>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One named profile; every key is optional, what is missing is picked in the
/// dashboard from live lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub aws_profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Push to this registry host instead of the one in the repository URI.
    pub registry: Option<String>,
    pub repository: Option<String>,
    pub cluster: Option<String>,
    pub service: Option<String>,
    /// The container in the task definition that deploy re-pins.
    pub container: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub storage_class: Option<StorageClass>,
    /// Retention for `wharf prune` and the pane's prune: keep this many newest snapshots…
    pub keep: Option<usize>,
    /// …and delete what is older than this (`30d`, `12h`, `2w`).
    pub older_than: Option<Age>,
    /// Deploy and restore need the service or container name typed to confirm.
    #[serde(default)]
    pub protected: bool,
    pub remote_backup_command: Option<Vec<String>>,
    /// The image of a remote backup's uploader container (the AWS CLI's, by default).
    pub uploader_image: Option<String>,
    /// Lines the Logs pane keeps; the oldest go first (default 100,000).
    #[serde(default, deserialize_with = "at_least_one")]
    pub log_lines: Option<usize>,
    /// How much wharf's cache directory may hold besides safety copies
    /// (`"500MiB"`, `"20GiB"`; default 10 GiB): least recently used goes first.
    pub cache_limit: Option<Size>,
    /// `chunked` (the default: content-defined chunks, each stored once) or
    /// `full` (the whole stream as one object, as wharf before 0.2 wrote).
    pub snapshot_format: Option<SnapshotFormat>,
    /// This profile's `wharf init`'s own id (saved by its first run): the
    /// tag `wharf:init:<id>` marks what it made and uses.
    pub init_id: Option<String>,
    /// Private subnets for the service `wharf init` makes (default: the
    /// default VPC's public subnets, with a public IP).
    pub subnets: Option<Vec<String>>,
    pub database: Option<Database>,
}

fn at_least_one<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    match usize::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom("must be at least 1")),
        n => Ok(Some(n)),
    }
}

/// The local database container that backups read and restores write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub container: Option<String>,
    pub preset: Option<Preset>,
    pub path: Option<String>,
    pub user: Option<String>,
    pub name: Option<String>,
    /// For `preset = "custom"`: the argument vector that writes the dump to stdout.
    pub backup_command: Option<Vec<String>>,
    /// For `preset = "custom"`: the argument vector that reads the dump on stdin.
    pub restore_command: Option<Vec<String>>,
}

/// How data leaves and enters a database container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    Path,
    Postgres,
    Mysql,
    Mssql,
    Custom,
}

/// How a backup stores its stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotFormat {
    /// Format 2: content-defined chunks under `PREFIX/chunks/`, each stored once.
    #[default]
    Chunked,
    /// Format 1: the whole stream, compressed, as one object.
    Full,
}

/// The S3 storage classes a snapshot can be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    Standard,
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    GlacierIr,
}

/// The screen's colours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// The terminal's own 16 colours, as its colour scheme draws them.
    #[default]
    Terminal,
    /// A fixed palette of 256-colour tones for a dark background.
    Dark,
    /// A fixed palette of 256-colour tones for a light background.
    Light,
}

/// A size written as people write it: `500MiB`, `20GiB`, `1.5 GB`, or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

/// The cache's bound when the profile sets none.
pub const DEFAULT_CACHE_LIMIT: Size = Size(10 << 30);

impl std::str::FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Size, String> {
        s.trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| Size(b.as_u64()))
            .map_err(|e| format!("invalid size `{s}`: {e} (write it like 500MiB or 20GiB)"))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        struct Written;
        impl serde::de::Visitor<'_> for Written {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size such as \"500MiB\" or \"20GiB\", or a number of bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Size, E> {
                Ok(Size(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Size, E> {
                u64::try_from(n).map(Size).map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Written)
    }
}

/// A span of time written as people write it: `30d`, `12h`, `2w`, `90m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age(pub std::time::Duration);

impl std::str::FromStr for Age {
    type Err = String;

    fn from_str(s: &str) -> Result<Age, String> {
        humantime::parse_duration(s.trim())
            .map(Age)
            .map_err(|e| format!("invalid age `{s}`: {e} (write it like 30d, 12h or 2w)"))
    }
}

impl<'de> Deserialize<'de> for Age {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Age, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl StorageClass {
    pub const ALL: [StorageClass; 5] = [
        StorageClass::Standard,
        StorageClass::StandardIa,
        StorageClass::OnezoneIa,
        StorageClass::IntelligentTiering,
        StorageClass::GlacierIr,
    ];

    /// The name S3 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::GlacierIr => "GLACIER_IR",
        }
    }
}

impl From<StorageClass> for crate::model::snapshots::S3Class {
    fn from(class: StorageClass) -> Self {
        crate::model::snapshots::S3Class::named(class.as_str())
    }
}

impl std::str::FromStr for StorageClass {
    type Err = String;

    fn from_str(s: &str) -> Result<StorageClass, String> {
        StorageClass::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<_> = StorageClass::ALL.iter().map(|c| c.as_str()).collect();
            format!("unknown storage class `{s}` (one of {})", names.join(", "))
        })
    }
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Path => "path",
            Preset::Postgres => "postgres",
            Preset::Mysql => "mysql",
            Preset::Mssql => "mssql",
            Preset::Custom => "custom",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Preset, String> {
        [Preset::Path, Preset::Postgres, Preset::Mysql, Preset::Mssql, Preset::Custom]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown preset `{s}` (one of path, postgres, mysql, mssql, custom)"))
    }
}

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {message}")]
    Parse { file: String, line: usize, column: usize, message: String },
    #[error("cannot read {file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("no profile `{name}` in {file} (profiles: {known})")]
    UnknownProfile { name: String, file: String, known: String },
    #[error("profile `{name}` was asked for, but there is no wharf.toml (looked in {looked})")]
    NoConfigForProfile { name: String, looked: String },
}

/// A registry host to push to and pull from instead of the one in the
/// repository's URI, and where it was set: the ECR token goes to it only when
/// the user vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOverride {
    pub host: String,
    /// Set when only a `wharf.toml` found in the working directory (a cloned
    /// repository's, say) names it.
    pub found_in: Option<PathBuf>,
}

/// A registry named only by a file in the working directory, which is
/// neither the repository's ECR registry nor this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "registry `{host}` comes from {file}, found in the working directory, and is neither the repository's \
     ECR registry ({ecr}) nor this machine: wharf does not hand it an ECR token. If you trust it, give \
     --registry {host}, set WHARF_REGISTRY, or set registry in your own $XDG_CONFIG_HOME/wharf/wharf.toml"
)]
pub struct UntrustedRegistry {
    pub host: String,
    pub file: String,
    pub ecr: String,
}

impl RegistryOverride {
    /// `host`, given by the user (the command line, the environment, their own file).
    pub fn given(host: &str) -> RegistryOverride {
        RegistryOverride { host: host.to_string(), found_in: None }
    }

    /// Whether the token may go to it whatever the repository's ECR host is.
    pub fn vouched(&self) -> bool {
        self.found_in.is_none() || crate::net::is_loopback(&self.host)
    }

    /// The host to hand the token to, for a repository whose URI names `ecr_host`.
    pub fn host_for(&self, ecr_host: &str) -> Result<String, UntrustedRegistry> {
        match &self.found_in {
            Some(file) if !self.vouched() && !self.host.eq_ignore_ascii_case(ecr_host) => {
                Err(UntrustedRegistry {
                    host: self.host.clone(),
                    file: file.display().to_string(),
                    ecr: ecr_host.to_string(),
                })
            }
            _ => Ok(self.host.clone()),
        }
    }
}

/// The registry host for a repository whose URI names `ecr_host`: the
/// override when there is one it may use, else ECR's own.
pub fn registry_host(
    registry: Option<&RegistryOverride>,
    ecr_host: &str,
) -> Result<String, UntrustedRegistry> {
    registry.map_or_else(|| Ok(ecr_host.to_string()), |r| r.host_for(ecr_host))
}

/// What the command line and environment say about configuration.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub profile: Option<String>,
    pub aws_profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub docker_host: Option<String>,
    pub registry: Option<String>,
    pub read_only: bool,
}

/// The configuration in force: the chosen profile with the command line laid over it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The file it came from, if any.
    pub file: Option<PathBuf>,
    /// The wharf profile's name (`None` when there is no profile at all).
    pub profile_name: Option<String>,
    pub profile: Profile,
    pub docker_host: Option<String>,
    pub read_only: bool,
    /// `NO_COLOR` is set (and not empty): the screen uses no colour, only
    /// bold, underline and reverse (no-color.org).
    pub no_color: bool,
    pub theme: Theme,
    /// The profile's keys the command line or the environment set over the file.
    pub from_command_line: Vec<String>,
    /// Set when the file was found in the working directory (not given with
    /// `--config`, not the user's own in the config directory).
    pub found_here: bool,
}

impl Settings {
    /// The profile's `registry`, with where it was set.
    pub fn registry(&self) -> Option<RegistryOverride> {
        let host = self.profile.registry.clone().filter(|r| !r.trim().is_empty())?;
        let vouched = !self.found_here || self.from_command_line.iter().any(|k| k == "registry");
        let found_in = (!vouched).then(|| self.file.clone().unwrap_or_else(|| PathBuf::from("wharf.toml")));
        Some(RegistryOverride { host, found_in })
    }
}

impl ConfigFile {
    /// Parses `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
            ConfigError::Parse {
                file: file.to_string(),
                line,
                column,
                message: e.message().trim().replacen("unknown field", "unknown key", 1).replacen(
                    "unknown variant",
                    "unknown value",
                    1,
                ),
            }
        })
    }
}

/// Where wharf keeps its files, following the XDG base directories.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub state: PathBuf,
    pub cache: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        match directories::ProjectDirs::from("", "", "wharf") {
            Some(d) => Dirs {
                config: d.config_dir().to_path_buf(),
                state: d.state_dir().unwrap_or_else(|| d.data_local_dir()).to_path_buf(),
                cache: d.cache_dir().to_path_buf(),
            },
            None => Dirs {
                config: PathBuf::from(".wharf"),
                state: PathBuf::from(".wharf"),
                cache: PathBuf::from(".wharf/cache"),
            },
        }
    }

    pub fn keymap(&self) -> PathBuf {
        self.config.join("keymap.toml")
    }
}

impl Default for Dirs {
    fn default() -> Self {
        Dirs::new()
    }
}

impl Settings {
    /// Finds and reads the configuration file and picks the profile.
    pub fn load(overrides: &Overrides, dirs: &Dirs) -> Result<Settings, ConfigError> {
        let candidates = match &overrides.config {
            Some(path) => vec![path.clone()],
            None => vec![PathBuf::from("wharf.toml"), dirs.config.join("wharf.toml")],
        };
        let found = candidates.iter().find(|p| overrides.config.is_some() || p.is_file());
        // The user's own file, reached from its own directory, is not one found in a working directory.
        let own = std::fs::canonicalize(&candidates[candidates.len() - 1]).ok();
        let found_here = overrides.config.is_none()
            && found.is_some_and(|p| *p == candidates[0] && std::fs::canonicalize(p).ok() != own);
        let (file, config) = match found {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { file: path.display().to_string(), source })?;
                (Some(path.clone()), ConfigFile::parse(&text, &path.display().to_string())?)
            }
            None => (None, ConfigFile::default()),
        };
        let mut settings = Settings::resolve(file, config, overrides, &candidates)?;
        settings.found_here = found_here;
        Ok(settings)
    }

    fn resolve(
        file: Option<PathBuf>,
        config: ConfigFile,
        overrides: &Overrides,
        looked: &[PathBuf],
    ) -> Result<Settings, ConfigError> {
        let theme = config.theme;
        let wanted = overrides.profile.clone().or(config.default_profile.clone());
        let (profile_name, mut profile) = match wanted {
            Some(name) => match (&file, config.profiles.get(&name)) {
                (_, Some(p)) => (Some(name), p.clone()),
                (None, None) => {
                    // A profile picked without any file is only an error when asked for explicitly.
                    if overrides.profile.is_some() {
                        return Err(ConfigError::NoConfigForProfile {
                            name,
                            looked: looked
                                .iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    }
                    (None, Profile::default())
                }
                (Some(path), None) => {
                    let known: Vec<_> = config.profiles.keys().cloned().collect();
                    return Err(ConfigError::UnknownProfile {
                        name,
                        file: path.display().to_string(),
                        known: if known.is_empty() { "none".into() } else { known.join(", ") },
                    });
                }
            },
            None if config.profiles.len() == 1 => {
                let (name, p) = config.profiles.iter().next().map(|(n, p)| (n.clone(), p.clone())).unzip();
                (name, p.unwrap_or_default())
            }
            None => (None, Profile::default()),
        };
        let mut from_command_line = Vec::new();
        for (key, value, set) in [
            ("aws_profile", &overrides.aws_profile, &mut profile.aws_profile),
            ("region", &overrides.region, &mut profile.region),
            ("endpoint_url", &overrides.endpoint_url, &mut profile.endpoint_url),
            ("registry", &overrides.registry, &mut profile.registry),
        ] {
            if value.is_some() {
                set.clone_from(value);
                from_command_line.push(key.to_string());
            }
        }
        Ok(Settings {
            file,
            profile_name,
            profile,
            docker_host: overrides.docker_host.clone(),
            read_only: overrides.read_only,
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            theme: theme.unwrap_or_default(),
            from_command_line,
            found_here: false,
        })
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
