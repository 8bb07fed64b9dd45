//! Key bindings: the default `keymap.toml` (embedded) with the user's file merged
//! over it, section by section. A bad user file is an error naming file, line and
//! column; wharf never falls back to the defaults silently.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;

use super::Action;
use crate::config::line_column;

/// The default keymap, shipped at the top of the repository.
pub const DEFAULT_KEYMAP: &str = include_str!("../../keymap.toml");

/// Where a binding applies. A pane's own section is consulted first, then
/// [`Section::List`] for list panes, then [`Section::Global`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Global,
    List,
    Images,
    Registry,
    Ecs,
    Logs,
    Snapshots,
    Jobs,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Global,
        Section::List,
        Section::Images,
        Section::Registry,
        Section::Ecs,
        Section::Logs,
        Section::Snapshots,
        Section::Jobs,
    ];

    /// The table name in `keymap.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Section::Global => "global",
            Section::List => "list",
            Section::Images => "images",
            Section::Registry => "registry",
            Section::Ecs => "ecs",
            Section::Logs => "logs",
            Section::Snapshots => "snapshots",
            Section::Jobs => "jobs",
        }
    }

    fn from_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One key with its modifiers, normalised so that a typed `G` and the binding
/// `"G"` compare equal (the case of a character already says shift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> Key {
        let mut modifiers = modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if matches!(code, KeyCode::Char(_) | KeyCode::BackTab) {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        Key { code, modifiers }
    }

    pub fn from_event(event: KeyEvent) -> Key {
        Key::new(event.code, event.modifiers)
    }

    /// Parses the keymap syntax: `q`, `G`, `enter`, `ctrl-c`, `shift-tab`, `alt-x`.
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut rest = text;
        let mut modifiers = KeyModifiers::NONE;
        loop {
            let (prefix, flag) = if rest.len() > 5 && rest.starts_with("ctrl-") {
                ("ctrl-", KeyModifiers::CONTROL)
            } else if rest.len() > 4 && rest.starts_with("alt-") {
                ("alt-", KeyModifiers::ALT)
            } else if rest.len() > 6 && rest.starts_with("shift-") {
                ("shift-", KeyModifiers::SHIFT)
            } else {
                break;
            };
            modifiers |= flag;
            rest = &rest[prefix.len()..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if modifiers.contains(KeyModifiers::SHIFT) {
                    return Err(format!(
                        "bad key `{text}`: write the character itself instead of shift (for example \"G\")"
                    ));
                }
                KeyCode::Char(c)
            }
            _ => match rest {
                "enter" => KeyCode::Enter,
                "esc" => KeyCode::Esc,
                "tab" if modifiers.contains(KeyModifiers::SHIFT) => {
                    modifiers.remove(KeyModifiers::SHIFT);
                    KeyCode::BackTab
                }
                "tab" => KeyCode::Tab,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" => KeyCode::Insert,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "space" => KeyCode::Char(' '),
                f if f.starts_with('f') && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) => {
                    KeyCode::F(f[1..].parse().unwrap_or(1))
                }
                _ => {
                    return Err(format!(
                        "bad key `{text}`: expected a character, a named key (enter, esc, tab, \
                         backspace, delete, insert, home, end, pgup, pgdn, up, down, left, right, \
                         space, f1…f12) or one of those after ctrl-, alt- or shift-"
                    ));
                }
            },
        };
        Ok(Key::new(code, modifiers))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A keymap file that could not be used, with where in it the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct KeymapError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// An action and the keys that trigger it, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub action: Action,
    pub keys: Vec<Key>,
}

/// The loaded key bindings, per section.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    sections: BTreeMap<Section, Vec<Binding>>,
}

type RawKeymap = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>>;

impl Keymap {
    /// The embedded defaults.
    pub fn defaults() -> Result<Keymap, KeymapError> {
        Keymap::parse(DEFAULT_KEYMAP, "keymap.toml (built in)")
    }

    /// The defaults with the file at `user` merged over them, when it exists.
    pub fn load(user: Option<&Path>) -> Result<Keymap, KeymapError> {
        let mut keymap = Keymap::defaults()?;
        if let Some(path) = user {
            match std::fs::read_to_string(path) {
                Ok(text) => keymap.merge(Keymap::parse(&text, &path.display().to_string())?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(KeymapError {
                        file: path.display().to_string(),
                        line: 1,
                        column: 1,
                        message: format!("cannot read the keymap: {e}"),
                    });
                }
            }
        }
        Ok(keymap)
    }

    /// Parses one keymap file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Keymap, KeymapError> {
        let error = |offset: usize, message: String| {
            let (line, column) = line_column(text, offset);
            KeymapError { file: file.to_string(), line, column, message }
        };
        let raw: RawKeymap = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            error(offset, e.message().trim().to_string())
        })?;

        let mut sections = BTreeMap::new();
        for (section_name, entries) in raw {
            let section = Section::from_name(section_name.get_ref()).ok_or_else(|| {
                let names: Vec<_> = Section::ALL.iter().map(|s| format!("[{}]", s.name())).collect();
                error(
                    section_name.span().start,
                    format!(
                        "unknown section [{}], expected one of {}",
                        section_name.get_ref(),
                        names.join(", ")
                    ),
                )
            })?;
            // Check entries in file order so a duplicate is reported where it is repeated.
            let mut entries: Vec<_> = entries.into_iter().collect();
            entries.sort_by_key(|(name, _)| name.span().start);
            let mut seen: Vec<(Key, String)> = Vec::new();
            let mut bindings = Vec::new();
            for (action_name, keys) in entries {
                let action = Action::deserialize(action_name.get_ref().as_str().into_deserializer())
                    .map_err(|e: serde::de::value::Error| {
                        let message = e.to_string().replacen("unknown variant", "unknown action", 1);
                        error(action_name.span().start, format!("in [{}]: {message}", section.name()))
                    })?;
                let mut parsed = Vec::new();
                for key_text in keys.get_ref() {
                    let key = Key::parse(key_text.get_ref()).map_err(|m| error(key_text.span().start, m))?;
                    if let Some((_, other)) = seen.iter().find(|(k, _)| *k == key) {
                        return Err(error(
                            key_text.span().start,
                            format!(
                                "key `{key}` is bound twice in [{}]: to `{other}` and to `{}`",
                                section.name(),
                                action_name.get_ref()
                            ),
                        ));
                    }
                    seen.push((key, action_name.get_ref().clone()));
                    parsed.push(key);
                }
                bindings.push(Binding { action, keys: parsed });
            }
            sections.insert(section, bindings);
        }
        Ok(Keymap { sections })
    }

    /// Lays `user` over `self`: an action the user names gets exactly the user's
    /// keys, and a key the user takes is removed from whatever default had it.
    pub fn merge(&mut self, user: Keymap) {
        for (section, user_bindings) in user.sections {
            let bindings = self.sections.entry(section).or_default();
            for user_binding in user_bindings {
                for binding in bindings.iter_mut() {
                    binding.keys.retain(|k| !user_binding.keys.contains(k));
                }
                match bindings.iter_mut().find(|b| b.action == user_binding.action) {
                    Some(existing) => existing.keys = user_binding.keys,
                    None => bindings.push(user_binding),
                }
            }
        }
    }

    /// The action bound to `key`, looking through `sections` in order.
    pub fn action_for(&self, sections: &[Section], key: Key) -> Option<Action> {
        sections.iter().find_map(|section| {
            self.sections.get(section)?.iter().find(|b| b.keys.contains(&key)).map(|b| b.action.clone())
        })
    }

    /// The bindings of one section, in file order (actions with no key left out).
    pub fn bindings(&self, section: Section) -> impl Iterator<Item = &Binding> {
        self.sections.get(&section).into_iter().flatten().filter(|b| !b.keys.is_empty())
    }

    /// The keys of `action` in `section`, written as in the keymap, joined by `/`.
    pub fn keys_label(&self, section: Section, action: &Action) -> Option<String> {
        self.bindings(section)
            .find(|b| &b.action == action)
            .map(|b| b.keys.iter().map(Key::to_string).collect::<Vec<_>>().join("/"))
    }
}
