//! The lines the Logs pane holds: a ring buffer of at most `capacity` lines that
//! counts what it had to drop, and a search over it whose matches are kept up
//! to date as lines come and go.

use std::collections::VecDeque;

pub use crate::model::logs::LogLine;
use aho_corasick::AhoCorasick;

/// The ring buffer's size when the profile does not set `log_lines`.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A line as it can be shown: colour, cursor and other escape sequences
/// taken out (parsed by `vte`, as a terminal would), tabs as spaces, other
/// control characters (C0, DEL and C1) as `?`, no line break at the end.
pub fn clean(text: String) -> String {
    let text =
        if text.ends_with(['\n', '\r']) { text.trim_end_matches(['\n', '\r']).to_string() } else { text };
    if !text.chars().any(char::is_control) {
        return text;
    }
    let mut shown = Shown(String::with_capacity(text.len()));
    vte::Parser::new().advance(&mut shown, text.as_bytes());
    shown.0
}

/// What a terminal would print of a line, and `?` for what it would obey.
struct Shown(String);

impl vte::Perform for Shown {
    fn print(&mut self, c: char) {
        self.0.push(if c.is_control() { '?' } else { c });
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\t' => self.0.push_str("    "),
            _ => self.0.push('?'),
        }
    }
}

/// Lines in arrival order. Each line has a sequence number that stays the
/// same while it is held, so a view or a match can point at it while older
/// lines are dropped from the front.
#[derive(Debug, Clone, PartialEq)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
    /// Sequence number of `lines[0]`.
    first: u64,
    dropped: u64,
    search: Option<Search>,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> LogBuffer {
        LogBuffer {
            lines: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            first: 0,
            dropped: 0,
            search: None,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines pushed out of the front to stay within the capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sequence number of the oldest line held.
    pub fn first_seq(&self) -> u64 {
        self.first
    }

    /// Sequence number the next line will get (one past the newest).
    pub fn end_seq(&self) -> u64 {
        self.first + self.lines.len() as u64
    }

    /// The newest line's sequence number, if any line is held.
    pub fn last_seq(&self) -> Option<u64> {
        self.end_seq().checked_sub(1).filter(|_| !self.is_empty())
    }

    pub fn get(&self, seq: u64) -> Option<&LogLine> {
        let index = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        self.lines.get(index)
    }

    /// Lines from `seq` on (the oldest held, if `seq` was dropped).
    pub fn iter_from(&self, seq: u64) -> impl Iterator<Item = (u64, &LogLine)> {
        let start = seq.max(self.first);
        let skip = usize::try_from(start - self.first).unwrap_or(usize::MAX);
        self.lines.iter().skip(skip).enumerate().map(move |(i, l)| (start + i as u64, l))
    }

    /// Appends a line, dropping the oldest when full.
    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.first += 1;
            self.dropped += 1;
            if let Some(search) = &mut self.search {
                while search.matches.front().is_some_and(|&m| m < self.first) {
                    search.matches.pop_front();
                }
            }
        }
        let seq = self.end_seq();
        if let Some(search) = &mut self.search
            && search.is_match(&line.text)
        {
            search.matches.push_back(seq);
        }
        self.lines.push_back(line);
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for line in lines {
            self.push(line);
        }
    }

    /// Puts `lines` (oldest first, all older than the lines held) in front of
    /// the lines held, as many of the newest of them as there is room for.
    /// The lines held keep their places relative to each other, but their
    /// sequence numbers move up by the number added, which is returned with
    /// whether every line fitted. Never drops a line held.
    pub fn prepend(&mut self, lines: Vec<LogLine>) -> (u64, bool) {
        let room = self.capacity - self.lines.len();
        let fits = lines.len() <= room;
        let skip = lines.len().saturating_sub(room);
        let added = (lines.len() - skip) as u64;
        for line in lines.into_iter().skip(skip).rev() {
            self.lines.push_front(line);
        }
        if added > 0
            && let Some(query) = self.search.as_ref().map(|s| s.query.clone())
        {
            self.search(&query);
        }
        (added, fits)
    }

    /// Searches every line held for `query` and keeps the matches current as
    /// lines arrive; an empty query ends the search. Smart case: a query with
    /// a capital letter matches case, one without ignores it.
    pub fn search(&mut self, query: &str) {
        if query.is_empty() {
            self.search = None;
            return;
        }
        let mut search = Search::new(query);
        search.matches = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| search.is_match(&l.text))
            .map(|(i, _)| self.first + i as u64)
            .collect();
        self.search = Some(search);
    }

    pub fn current_search(&self) -> Option<&Search> {
        self.search.as_ref()
    }

    /// The first match after `seq`, or before it when `forward` is false.
    pub fn next_match(&self, seq: u64, forward: bool) -> Option<u64> {
        let matches = &self.search.as_ref()?.matches;
        let at = matches.partition_point(|&m| m <= seq);
        if forward {
            matches.get(at).copied()
        } else {
            let before = matches.partition_point(|&m| m < seq);
            before.checked_sub(1).and_then(|i| matches.get(i).copied())
        }
    }
}

/// A search over the buffer: what was asked and which lines match.
#[derive(Debug, Clone)]
pub struct Search {
    pub query: String,
    /// None only if the query could not be compiled (it is one literal, so never in practice).
    finder: Option<AhoCorasick>,
    /// Sequence numbers of matching lines, oldest first.
    matches: VecDeque<u64>,
}

impl PartialEq for Search {
    fn eq(&self, other: &Search) -> bool {
        self.query == other.query && self.matches == other.matches
    }
}

impl Search {
    fn new(query: &str) -> Search {
        let ignore_case = !query.chars().any(char::is_uppercase);
        let finder = AhoCorasick::builder().ascii_case_insensitive(ignore_case).build([query]).ok();
        Search { query: query.to_string(), finder, matches: VecDeque::new() }
    }

    fn is_match(&self, text: &str) -> bool {
        self.finder.as_ref().is_some_and(|f| f.is_match(text))
    }

    /// Byte ranges of the query in `text`, for highlighting.
    pub fn ranges<'a>(&'a self, text: &'a str) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
        self.finder.iter().flat_map(move |f| f.find_iter(text).map(|m| m.range()))
    }

    pub fn count(&self) -> usize {
        self.matches.len()
    }

    /// Which match `seq` is, counting from 1, if it is one.
    pub fn position(&self, seq: u64) -> Option<usize> {
        self.matches.binary_search(&seq).ok().map(|i| i + 1)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn line(text: &str) -> LogLine {
        LogLine { timestamp: 0, source: Arc::from("t"), text: text.to_string() }
    }

    #[test]
    fn keeps_the_newest_lines_and_counts_the_dropped() {
        let mut b = LogBuffer::new(3);
        b.extend(["a", "b", "c", "d", "e"].map(line));
        let held: Vec<_> = b.iter_from(0).map(|(s, l)| (s, l.text.as_str())).collect();
        assert_eq!(held, [(2, "c"), (3, "d"), (4, "e")]);
        assert_eq!((b.dropped(), b.first_seq(), b.end_seq()), (2, 2, 5));
        assert_eq!(b.get(1), None);
        assert_eq!(b.get(4).map(|l| l.text.as_str()), Some("e"));
    }

    #[test]
    fn search_is_smart_case_and_follows_the_buffer() {
        let mut b = LogBuffer::new(4);
        b.extend(["GET /a", "error: x", "ERROR: y", "ok"].map(line));
        b.search("error");
        assert_eq!(b.current_search().map(Search::count), Some(2));
        b.search("ERROR");
        assert_eq!(b.current_search().map(Search::count), Some(1));
        b.search("error");
        // Two more lines: "GET /a" and "error: x" drop out, one new match comes in.
        b.extend(["another error", "fine"].map(line));
        let s = b.current_search().cloned();
        assert_eq!(s.as_ref().map(Search::count), Some(2));
        assert_eq!(s.as_ref().and_then(|s| s.position(2)), Some(1));
        assert_eq!(s.as_ref().and_then(|s| s.position(4)), Some(2));
        assert_eq!(b.next_match(2, true), Some(4));
        assert_eq!(b.next_match(4, true), None);
        assert_eq!(b.next_match(4, false), Some(2));
        assert_eq!(b.next_match(2, false), None);
        b.search("");
        assert!(b.current_search().is_none());
    }

    #[test]
    fn cleans_escape_sequences_and_control_characters() {
        assert_eq!(clean("\x1b[31mred\x1b[0m\tok\x07\r\n".into()), "red    ok?");
        assert_eq!(clean("plain".into()), "plain");
        // C1 controls (here CSI as one character) never reach the terminal.
        let c1 = clean("a\u{9b}31mb\u{85}c".into());
        assert!(!c1.chars().any(char::is_control), "{c1:?}");
        assert!(c1.starts_with('a') && c1.ends_with('c'), "{c1:?}");
        // An OSC (a window title, a hyperlink) is taken out whole.
        assert_eq!(clean("x\x1b]0;title\x07y".into()), "xy");
    }

    #[test]
    fn older_lines_go_in_front_as_far_as_there_is_room() {
        let mut b = LogBuffer::new(5);
        b.extend(["d", "e"].map(line));
        b.search("c");
        assert_eq!(b.prepend(["b", "c"].map(line).to_vec()), (2, true));
        let held: Vec<_> = b.iter_from(0).map(|(s, l)| (s, l.text.as_str())).collect();
        assert_eq!(held, [(0, "b"), (1, "c"), (2, "d"), (3, "e")]);
        assert_eq!(b.next_match(0, true), Some(1), "the search sees the lines put in front");
        // Room for one more: the newest of the older lines is kept, nothing held is dropped.
        assert_eq!(b.prepend(["x", "y", "a"].map(line).to_vec()), (1, false));
        let held: Vec<_> = b.iter_from(0).map(|(_, l)| l.text.as_str()).collect();
        assert_eq!(held, ["a", "b", "c", "d", "e"]);
        assert_eq!(b.dropped(), 0);
    }

    #[test]
    fn highlights_every_occurrence() {
        let mut b = LogBuffer::new(10);
        b.push(line("Err err ERR"));
        b.search("err");
        let s = b.current_search().cloned();
        let ranges: Vec<_> = s.iter().flat_map(|s| s.ranges("Err err ERR").collect::<Vec<_>>()).collect();
        assert_eq!(ranges, [0..3, 4..7, 8..11]);
    }
}
