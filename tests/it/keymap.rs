//! The keymap: defaults, key syntax, merging a user's file, and exact errors.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use wharf::app::Action;
use wharf::app::{Key, Keymap, Section};

use crate::support::repo_path;

fn err(fixture: &str) -> String {
    let path = std::path::PathBuf::from(format!("tests/fixtures/keymap/{fixture}"));
    Keymap::load(Some(&path)).unwrap_err().to_string()
}

fn k(text: &str) -> Key {
    Key::parse(text).unwrap()
}

const LIST: &[Section] = &[Section::Images, Section::List, Section::Global];

#[test]
fn the_shipped_keymap_holds_the_documented_defaults() {
    let km = Keymap::defaults().unwrap();
    let global = [Section::Global];
    for (key, action) in [
        ("q", Action::Quit),
        ("ctrl-c", Action::Quit),
        ("?", Action::Help),
        ("tab", Action::NextPane),
        ("shift-tab", Action::PrevPane),
        ("1", Action::FocusImages),
        ("6", Action::FocusJobs),
        ("S", Action::Sync),
    ] {
        assert_eq!(km.action_for(&global, k(key)), Some(action), "{key}");
    }
    for (key, action) in [
        ("j", Action::Down),
        ("down", Action::Down),
        ("k", Action::Up),
        ("pgdn", Action::PageDown),
        ("g", Action::Top),
        ("G", Action::Bottom),
        ("/", Action::Filter),
        ("enter", Action::Open),
        ("esc", Action::Back),
        ("p", Action::Push),
        ("B", Action::Bake),
    ] {
        assert_eq!(km.action_for(LIST, k(key)), Some(action), "{key}");
    }
    let at = |s: Section, key: &str| km.action_for(&[s], k(key));
    assert_eq!(at(Section::Registry, "d"), Some(Action::Deploy));
    assert_eq!(at(Section::Ecs, "u"), Some(Action::Rollback));
    assert_eq!(at(Section::Ecs, "l"), Some(Action::TailLogs));
    assert_eq!(at(Section::Snapshots, "b"), Some(Action::Backup));
    assert_eq!(at(Section::Snapshots, "r"), Some(Action::Restore));
    assert_eq!(at(Section::Jobs, "x"), Some(Action::Cancel));
    for (key, action) in
        [("f", Action::Follow), ("w", Action::Wrap), ("t", Action::Timestamps), ("s", Action::Save)]
    {
        assert_eq!(at(Section::Logs, key), Some(action));
    }
    assert_eq!(at(Section::Registry, "p"), Some(Action::Pull));
    assert_eq!(at(Section::Images, "r"), Some(Action::Run));
    // A pane's own binding does not leak into another pane.
    assert_eq!(at(Section::Ecs, "p"), None);
    assert_eq!(at(Section::Ecs, "r"), None);
}

#[test]
fn typed_keys_match_bindings_whatever_shift_says() {
    let shifted_g = Key::from_event(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT));
    assert_eq!(shifted_g, k("G"));
    let backtab = Key::from_event(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(backtab, k("shift-tab"));
    assert_eq!(k("ctrl-c").to_string(), "ctrl-c");
    assert_eq!(k("space"), Key::new(KeyCode::Char(' '), KeyModifiers::NONE));
    assert_eq!(k("f5").to_string(), "f5");
    assert_eq!(k("alt-x").to_string(), "alt-x");
    assert_eq!(k("-").to_string(), "-");
    assert_eq!(k("ctrl--").to_string(), "ctrl--");
    assert!(Key::parse("shift-g").unwrap_err().contains("write the character itself"));
    assert!(Key::parse("f13").is_err());
    assert!(Key::parse("").is_err());
}

#[test]
fn a_users_file_is_merged_over_the_defaults_per_section() {
    let km = Keymap::load(Some(&repo_path("tests/fixtures/keymap/custom.toml"))).unwrap();
    // Replaced: the user's keys only.
    assert_eq!(km.action_for(LIST, k("n")), Some(Action::Down));
    assert_eq!(km.action_for(LIST, k("j")), None);
    assert_eq!(km.action_for(LIST, k("P")), Some(Action::Push));
    assert_eq!(km.action_for(LIST, k("p")), None);
    assert_eq!(km.action_for(LIST, k("ctrl-b")), Some(Action::Bake));
    // Untouched actions and sections keep their defaults.
    assert_eq!(km.action_for(LIST, k("G")), Some(Action::Bottom));
    assert_eq!(km.action_for(&[Section::Jobs], k("x")), Some(Action::Cancel));
    assert_eq!(km.keys_label(Section::Images, &Action::Push).as_deref(), Some("P"));
}

#[test]
fn a_user_key_taken_from_another_action_leaves_it() {
    let mut km = Keymap::defaults().unwrap();
    km.merge(Keymap::parse("[list]\nbottom = [\"j\"]\n", "user.toml").unwrap());
    assert_eq!(km.action_for(&[Section::List], k("j")), Some(Action::Bottom));
    assert_eq!(km.action_for(&[Section::List], k("down")), Some(Action::Down));
}

#[test]
fn a_missing_user_file_means_the_defaults() {
    let km = Keymap::load(Some(std::path::Path::new("/nonexistent/keymap.toml"))).unwrap();
    assert_eq!(km, Keymap::defaults().unwrap());
}

#[test]
fn unknown_action_is_an_error_with_file_line_and_column() {
    assert_eq!(
        err("unknown_action.toml"),
        "tests/fixtures/keymap/unknown_action.toml:3:1: in [images]: unknown action `pussh`, expected one of \
         `quit`, `help`, `zoom`, `next_pane`, `prev_pane`, `focus_images`, `focus_registry`, `focus_ecs`, `focus_logs`, \
         `focus_snapshots`, `focus_jobs`, `down`, `up`, `page_down`, `page_up`, `top`, `bottom`, `filter`, `open`, \
         `back`, `switch_tab`, `push`, `deploy`, `rollback`, `tail_logs`, `backup`, `restore`, `undo_restore`, `prune`, `bake`, `cancel`, `copy`, \
         `follow`, `wrap`, `timestamps`, `save`, `search_next`, `search_prev`, `pull`, `run`, `sync`, `shell`, `sql`, `switch`, `settings`, `refresh`"
    );
}

#[test]
fn bad_key_syntax_is_an_error_with_file_line_and_column() {
    assert_eq!(
        err("bad_key.toml"),
        "tests/fixtures/keymap/bad_key.toml:2:14: bad key `ctrl-`: expected a character, a named key (enter, esc, \
         tab, backspace, delete, insert, home, end, pgup, pgdn, up, down, left, right, space, f1…f12) or one of \
         those after ctrl-, alt- or shift-"
    );
}

#[test]
fn a_key_bound_twice_in_a_section_is_an_error_where_it_repeats() {
    assert_eq!(
        err("duplicate_key.toml"),
        "tests/fixtures/keymap/duplicate_key.toml:3:12: key `j` is bound twice in [list]: to `down` and to `up`"
    );
}

#[test]
fn unknown_sections_and_wrong_types_are_errors() {
    assert_eq!(
        err("unknown_section.toml"),
        "tests/fixtures/keymap/unknown_section.toml:1:2: unknown section [imagess], expected one of [global], \
         [list], [images], [registry], [ecs], [logs], [snapshots], [jobs]"
    );
    assert_eq!(
        err("not_a_list.toml"),
        "tests/fixtures/keymap/not_a_list.toml:2:8: invalid type: string \"q\", expected a sequence"
    );
}
