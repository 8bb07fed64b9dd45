//! Settings picked in the dashboard, written into `wharf.toml` with
//! `toml_edit`: only the keys picked change; comments, order and layout of the
//! rest of the file stay as the user left them.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use super::{Dirs, Preset, Settings};

/// The profile a first run's choices go into.
pub const FIRST_PROFILE: &str = "default";

/// One setting picked: its key under the profile (`bucket`,
/// `database.container` …) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub key: String,
    pub value: String,
}

impl Chosen {
    pub fn new(key: &str, value: impl Into<String>) -> Chosen {
        Chosen { key: key.to_string(), value: value.into() }
    }
}

/// Where choices are saved: the file in use and its profile, else the user's
/// `wharf.toml` in the config directory and profile [`FIRST_PROFILE`].
pub fn target(settings: &Settings, dirs: &Dirs) -> (PathBuf, String) {
    let file = settings.file.clone().unwrap_or_else(|| dirs.config.join("wharf.toml"));
    let profile = settings.profile_name.clone().unwrap_or_else(|| FIRST_PROFILE.to_string());
    (file, profile)
}

/// `text` (a `wharf.toml`, maybe empty) with `chosen` set in `profile`, and
/// that profile's lines as they will then read.
pub fn edit(text: &str, profile: &str, chosen: &[Chosen]) -> Result<(String, Vec<String>), String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("cannot read it as TOML: {e}"))?;
    let profiles = table_in(doc.as_table_mut(), "profiles", true)?;
    let first = profiles.is_empty();
    let section = table_in(profiles, profile, false)?;
    for choice in chosen {
        let (table, key) = match choice.key.split_once('.') {
            Some((inner, key)) => (table_in(section, inner, false)?, key),
            None => (&mut *section, choice.key.as_str()),
        };
        table[key] = value(choice.value.clone());
    }
    // A file that had no profile gets this one as its default.
    if first && !doc.contains_key("default_profile") {
        doc.insert("default_profile", value(profile));
        doc.sort_values_by(|a, _, b, _| (a.get() != "default_profile").cmp(&(b.get() != "default_profile")));
    }
    let mut only = DocumentMut::new();
    let mut holder = Table::new();
    holder.set_implicit(true);
    if let Some(item) = doc.get("profiles").and_then(|p| p.get(profile)) {
        holder.insert(profile, item.clone());
    }
    only.insert("profiles", Item::Table(holder));
    let lines = only.to_string().lines().map(str::to_string).filter(|l| !l.trim().is_empty()).collect();
    Ok((doc.to_string(), lines))
}

/// The table `key` of `parent`, made when missing (`implicit`: written only
/// through its sub-tables, as `[profiles.dev]` writes `profiles`).
fn table_in<'a>(parent: &'a mut Table, key: &str, implicit: bool) -> Result<&'a mut Table, String> {
    let item = parent.entry(key).or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(implicit);
        Item::Table(table)
    });
    item.as_table_mut().ok_or_else(|| format!("`{key}` in the file is not a table"))
}

/// A save worked out: the file's text now (`None`: there is no file yet),
/// its text after, and the profile's lines as they will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub before: Option<String>,
    pub after: String,
    pub lines: Vec<String>,
}

/// Reads `file` (if it is there) and works out `chosen` written into `profile`.
pub fn prepare(file: &Path, profile: &str, chosen: &[Chosen]) -> Result<Edited, String> {
    let before = match std::fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let (after, lines) = edit(before.as_deref().unwrap_or(""), profile, chosen)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Edited { before, after, lines })
}

/// Writes `after` to `file` in one step, unless the file no longer holds
/// `before`: what someone else wrote since is never overwritten. A relative
/// `./wharf.toml`, a `--config` path and a symbolic link are all written
/// where they are read from; the file keeps its mode and its directory is
/// left as it is ([`crate::files::replace_users_file`]).
pub fn commit(file: &Path, before: Option<&str>, after: &str) -> Result<(), String> {
    let now = std::fs::read_to_string(file).ok();
    if now.as_deref() != before {
        return Err(format!("{} changed since its lines were shown; nothing written", file.display()));
    }
    crate::files::replace_users_file(file, after.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// The preset a database container's image and environment suggest.
pub fn detect_preset(image: &str, env: &[String]) -> Preset {
    let name = image.to_lowercase();
    let has = |prefix: &str| env.iter().any(|kv| kv.starts_with(prefix));
    if name.contains("postgres") || has("POSTGRES_") || has("PGDATA=") {
        Preset::Postgres
    } else if name.contains("mysql") || name.contains("mariadb") || has("MYSQL_") || has("MARIADB_") {
        Preset::Mysql
    } else if name.contains("mssql") || name.contains("sqlserver") || has("MSSQL_SA_PASSWORD=") {
        Preset::Mssql
    } else {
        Preset::Path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_layout_and_other_profiles_stay_as_they_were() {
        let text = "# my settings\ndefault_profile = \"dev\"\n\n[profiles.dev]\nregion = \"eu-west-1\"  # Ireland\n\n[profiles.prod]\nprotected = true\n";
        let chosen = [Chosen::new("bucket", "snaps"), Chosen::new("database.container", "db")];
        let (new, lines) = edit(text, "dev", &chosen).unwrap();
        assert!(new.starts_with("# my settings\ndefault_profile = \"dev\"\n"), "{new}");
        assert!(new.contains("region = \"eu-west-1\"  # Ireland\nbucket = \"snaps\""), "{new}");
        assert!(new.contains("[profiles.dev.database]\ncontainer = \"db\""), "{new}");
        assert!(new.contains("[profiles.prod]\nprotected = true"), "{new}");
        let reread = crate::config::ConfigFile::parse(&new, "wharf.toml").unwrap();
        assert_eq!(reread.profiles["dev"].bucket.as_deref(), Some("snaps"));
        assert!(reread.profiles["prod"].protected);
        assert!(lines.contains(&"bucket = \"snaps\"".to_string()), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("prod")), "{lines:?}");
    }

    #[test]
    fn a_first_file_gets_its_profile_as_the_default() {
        let (new, _) = edit("", FIRST_PROFILE, &[Chosen::new("bucket", "snaps")]).unwrap();
        let reread = crate::config::ConfigFile::parse(&new, "wharf.toml").unwrap();
        assert_eq!(reread.default_profile.as_deref(), Some(FIRST_PROFILE));
        assert_eq!(reread.profiles[FIRST_PROFILE].bucket.as_deref(), Some("snaps"));
        assert!(new.starts_with("default_profile"), "{new}");
    }

    #[test]
    fn presets_are_told_by_image_and_environment() {
        let env = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(detect_preset("postgres:16", &[]), Preset::Postgres);
        assert_eq!(
            detect_preset("registry.example/team/db:1", &env(&["POSTGRES_PASSWORD=x"])),
            Preset::Postgres
        );
        assert_eq!(detect_preset("mariadb:11", &[]), Preset::Mysql);
        assert_eq!(detect_preset("app-db", &env(&["MARIADB_ROOT_PASSWORD=x"])), Preset::Mysql);
        assert_eq!(detect_preset("mcr.microsoft.com/mssql/server:2022-latest", &[]), Preset::Mssql);
        assert_eq!(detect_preset("busybox", &env(&["PATH=/bin"])), Preset::Path);
    }
}
