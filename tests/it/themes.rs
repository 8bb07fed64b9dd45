//! Colours: the terminal's own 16 by default, a fixed 256-colour palette for
//! a dark or a light background with `theme`, and a protected profile's name
//! standing out in the status line (in words too, for NO_COLOR).

use ratatui::style::Color;
use wharf::app::{Action, Keymap, update};
use wharf::config::{ConfigFile, Profile, Settings, Theme};

use crate::panes::render;
use crate::support::{key, sample_engine, state_with};

fn colours_on_screen(theme: Theme) -> Vec<Color> {
    let settings = Settings { theme, ..Settings::default() };
    let mut s = state_with(settings, Keymap::defaults().unwrap());
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, key('?'));
    let terminal = render(&s, 120, 40);
    let mut colours: Vec<Color> =
        terminal.backend().buffer().content().iter().flat_map(|c| [c.fg, c.bg]).collect();
    colours.sort_by_key(|c| format!("{c:?}"));
    colours.dedup();
    colours
}

#[test]
fn a_theme_is_one_palette_all_over_the_screen() {
    let named = [Color::Cyan, Color::DarkGray, Color::Yellow, Color::Green, Color::Red, Color::Magenta];
    let terminal = colours_on_screen(Theme::Terminal);
    assert!(terminal.contains(&Color::Cyan) && terminal.contains(&Color::DarkGray), "{terminal:?}");
    assert!(!terminal.iter().any(|c| matches!(c, Color::Indexed(_) | Color::Rgb(..))), "{terminal:?}");
    for theme in [Theme::Dark, Theme::Light] {
        let colours = colours_on_screen(theme);
        assert!(!colours.iter().any(|c| named.contains(c)), "{theme:?} left a named colour: {colours:?}");
        assert!(colours.iter().any(|c| matches!(c, Color::Indexed(_))), "{theme:?}: {colours:?}");
    }
    assert_ne!(colours_on_screen(Theme::Dark), colours_on_screen(Theme::Light));
}

#[test]
fn theme_is_read_from_the_file_and_a_wrong_one_is_named() {
    let file = ConfigFile::parse("theme = \"light\"\n[profiles.dev]\n", "wharf.toml").unwrap();
    assert_eq!(file.theme, Some(Theme::Light));
    let error = ConfigFile::parse("\ntheme = \"pink\"\n", "wharf.toml").unwrap_err().to_string();
    assert_eq!(error, "wharf.toml:2:9: unknown value `pink`, expected one of `terminal`, `dark`, `light`");
}

#[test]
fn a_protected_profile_stands_out_in_the_status_line() {
    let settings = Settings {
        profile_name: Some("prod".into()),
        profile: Profile { protected: true, ..Profile::default() },
        ..Settings::default()
    };
    let mut s = state_with(settings, Keymap::defaults().unwrap());
    update(&mut s, Action::Engine(sample_engine()));
    let terminal = render(&s, 120, 40);
    let buffer = terminal.backend().buffer();
    let status = (0..120).map(|x| buffer[(x, 38)].symbol().to_string()).collect::<String>();
    assert!(status.contains("profile prod (protected)"), "{status}");
    let at = status.find("prod (protected)").unwrap() as u16;
    assert_eq!(buffer[(at, 38)].fg, Color::Red, "{status}");
}
