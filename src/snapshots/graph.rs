//! The line of history drawn as `git log --graph` draws commits: one row per
//! snapshot, newest first, each in a lane; a snapshot's lane goes on down to
//! its parent. The first lane is the line itself (from head down through the
//! parents); a snapshot another machine backed up off the line — it
//! **diverged** — gets a lane of its own that joins the line at its parent.

use std::collections::{HashMap, HashSet};

use crate::model::snapshots::Snapshot;

/// Lanes drawn; a snapshot beyond them is drawn in the last one.
const MAX_LANES: usize = 6;

/// One snapshot's row of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphRow {
    /// The lanes' characters, two columns a lane (`●`, `│`, `─╯` …).
    pub art: String,
    /// On the line of history: head, or an ancestor of head.
    pub on_line: bool,
}

/// A snapshot as the graph sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node<'a> {
    pub id: &'a str,
    pub parent: Option<&'a str>,
    pub head: bool,
}

impl<'a> From<&'a Snapshot> for Node<'a> {
    fn from(s: &'a Snapshot) -> Node<'a> {
        Node { id: &s.id, parent: s.manifest.as_ref().and_then(|m| m.parent.as_deref()), head: s.head }
    }
}

/// The rows of a listing's graph by snapshot id; none when nothing in it
/// says where it stands (no head, no parents: an older wharf's snapshots).
pub fn rows_by_id(snapshots: &[Snapshot]) -> HashMap<String, GraphRow> {
    let nodes: Vec<Node> = snapshots.iter().map(Node::from).collect();
    if !nodes.iter().any(|n| n.head || n.parent.is_some()) {
        return HashMap::new();
    }
    snapshots.iter().map(|s| s.id.clone()).zip(graph(&nodes)).collect()
}

/// Where each snapshot of a listing stands, as the Snapshots pane and
/// `wharf snapshots` say it: head, here (what this machine's container
/// holds), off the line (complete, but neither head nor one of its ancestors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub head: bool,
    pub here: bool,
    pub off_line: bool,
}

/// Each snapshot's [`Standing`], in the listing's order.
pub fn standings(
    snapshots: &[Snapshot],
    rows: &HashMap<String, GraphRow>,
    here: Option<&str>,
) -> Vec<Standing> {
    let has_head = snapshots.iter().any(|s| s.head);
    snapshots
        .iter()
        .map(|s| Standing {
            head: s.head,
            here: here == Some(s.id.as_str()),
            off_line: has_head && s.is_complete() && rows.get(s.id.as_str()).is_some_and(|r| !r.on_line),
        })
        .collect()
}

impl Standing {
    /// `head · here`, `here · off line`, `off line` …; empty for none of them.
    pub fn words(&self) -> String {
        let mut words = Vec::new();
        if self.head {
            words.push("head");
        }
        if self.here {
            words.push("here");
        }
        if self.off_line {
            words.push("off line");
        }
        words.join(" · ")
    }
}

/// Newest first by the time their ids begin with; within one second, a
/// snapshot before its parent (two backups of one machine can share a
/// second, and their random ends say nothing of which came first).
pub fn newest_first(snapshots: &mut [Snapshot]) {
    let parents: HashMap<String, String> =
        snapshots.iter().filter_map(|s| Some((s.id.clone(), s.manifest.as_ref()?.parent.clone()?))).collect();
    let depth = |id: &str| {
        let (mut depth, mut at) = (0usize, id);
        while let Some(parent) = parents.get(at).filter(|_| depth <= parents.len()) {
            (depth, at) = (depth + 1, parent);
        }
        depth
    };
    let second = |id: &str| id.get(..16).unwrap_or(id).to_string();
    snapshots.sort_by_cached_key(|s| {
        (std::cmp::Reverse(second(&s.id)), std::cmp::Reverse(depth(&s.id)), std::cmp::Reverse(s.id.clone()))
    });
}

/// The graph of `snapshots` (newest first), a row each in the same order.
pub fn graph(snapshots: &[Node]) -> Vec<GraphRow> {
    let known: HashSet<&str> = snapshots.iter().map(|s| s.id).collect();
    let parent_of = |s: &Node| s.parent.filter(|p| known.contains(p)).map(str::to_string);
    // Each lane waits for the snapshot it goes down to. The first is kept for
    // head: tips above it (newer, off the line) take the lanes after it.
    let mut head_ahead = snapshots.iter().any(|s| s.head);
    let mut lanes: Vec<Option<String>> = vec![None];
    // The line: head and its ancestors, walked by parent whatever the order.
    let parents: HashMap<&str, &str> = snapshots.iter().filter_map(|s| Some((s.id, s.parent?))).collect();
    let mut line: HashSet<&str> = HashSet::new();
    let mut at = snapshots.iter().find(|s| s.head).map(|s| s.id);
    while let Some(id) = at.filter(|id| line.insert(id)) {
        at = parents.get(id).copied();
    }
    let mut rows = Vec::with_capacity(snapshots.len());
    for snapshot in snapshots {
        let waiting: Vec<usize> =
            (0..lanes.len()).filter(|&i| lanes[i].as_deref() == Some(snapshot.id)).collect();
        let column = if snapshot.head {
            head_ahead = false;
            0
        } else if let Some(&c) = waiting.first() {
            c
        } else {
            // A tip nothing above leads to: the first free lane.
            let from = usize::from(head_ahead);
            match (from..lanes.len()).find(|&i| lanes[i].is_none()) {
                Some(free) => free,
                None if lanes.len() < MAX_LANES => {
                    lanes.push(None);
                    lanes.len() - 1
                }
                None => MAX_LANES - 1,
            }
        };
        let on_line = line.contains(snapshot.id);
        let joining: Vec<usize> = waiting.iter().copied().filter(|&i| i != column).collect();
        rows.push(GraphRow { art: draw(&lanes, column, &joining), on_line });
        for &i in &joining {
            lanes[i] = None;
        }
        lanes[column] = parent_of(snapshot);
        while lanes.len() > 1 && lanes.last().is_some_and(Option::is_none) {
            lanes.pop();
        }
    }
    rows
}

/// `●` in `column`, `│` in the lanes that go on past it, `─╯` where a lane
/// joins it (another snapshot's parent is this one too).
fn draw(lanes: &[Option<String>], column: usize, joining: &[usize]) -> String {
    let last_join = joining.iter().copied().max();
    let width = lanes.len().max(column + 1);
    let mut art = String::new();
    for i in 0..width {
        let joins = joining.contains(&i);
        let glyph = if i == column {
            '●'
        } else if joins {
            '╯'
        } else if last_join.is_some_and(|j| i > column && i < j) {
            // A join passing over a lane that goes on.
            if lanes.get(i).is_some_and(Option::is_some) { '┼' } else { '─' }
        } else if lanes.get(i).is_some_and(Option::is_some) {
            '│'
        } else {
            ' '
        };
        art.push(glyph);
        let bridge = last_join.is_some_and(|j| i >= column && i < j);
        art.push(if bridge { '─' } else { ' ' });
    }
    art.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node<'a>(id: &'a str, parent: Option<&'a str>, head: bool) -> Node<'a> {
        Node { id, parent, head }
    }

    fn drawn(list: &[Node]) -> Vec<(String, bool)> {
        graph(list).into_iter().map(|r| (r.art, r.on_line)).collect()
    }

    #[test]
    fn a_straight_line_is_one_lane() {
        let list = [node("c", Some("b"), true), node("b", Some("a"), false), node("a", None, false)];
        assert_eq!(drawn(&list), [("●".into(), true), ("●".into(), true), ("●".into(), true)]);
    }

    #[test]
    fn a_diverged_backup_has_its_own_lane_and_joins_at_its_parent() {
        // home backed up d after c (head); the laptop backed up e after b, off the line.
        let list = [
            node("e", Some("b"), false),
            node("d", Some("c"), true),
            node("c", Some("b"), false),
            node("b", Some("a"), false),
            node("a", None, false),
        ];
        let rows = drawn(&list);
        let art: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(art, ["  ●", "● │", "● │", "●─╯", "●"]);
        let line: Vec<bool> = rows.iter().map(|(_, l)| *l).collect();
        assert_eq!(line, [false, true, true, true, true]);
    }

    #[test]
    fn two_tips_off_the_line_take_a_lane_each_and_join_where_they_left() {
        let list = [
            node("f", Some("a"), false),
            node("e", Some("b"), false),
            node("d", Some("b"), true),
            node("b", Some("a"), false),
            node("a", None, false),
        ];
        let art: Vec<String> = graph(&list).into_iter().map(|r| r.art).collect();
        assert_eq!(art, ["  ●", "  │ ●", "● │ │", "●─┼─╯", "●─╯"]);
    }

    #[test]
    fn without_head_the_newest_starts_the_first_lane_and_nothing_is_on_the_line() {
        let list = [node("b", Some("a"), false), node("a", None, false)];
        assert_eq!(drawn(&list), [("●".into(), false), ("●".into(), false)]);
    }

    #[test]
    fn the_line_is_head_and_its_ancestors_whatever_the_order() {
        // b and c were made in the same second: c, the child, listed below its parent.
        let list = [
            node("d", Some("c"), true),
            node("b", Some("a"), false),
            node("c", Some("b"), false),
            node("a", None, false),
        ];
        let line: Vec<bool> = graph(&list).into_iter().map(|r| r.on_line).collect();
        assert_eq!(line, [true, true, true, true]);
    }

    #[test]
    fn within_one_second_a_snapshot_comes_before_its_parent() {
        let snapshot = |id: &str, parent: Option<&str>| {
            let mut s = crate::snapshots::Snapshot {
                id: id.into(),
                data: None,
                manifest: None,
                problem: None,
                head: false,
            };
            if let Some(p) = parent {
                let text = format!(
                    r#"{{"format":1,"id":"{id}","created":"2026-12-06T04:00:00Z","source":{{"kind":"container","name":"db","image":"i","image_id":"sha256:1"}},"preset":"path","content":"tar","compression":"zstd","key":"k","raw_bytes":1,"stored_bytes":1,"sha256":"00","storage_class":"STANDARD","wharf_version":"0","parent":"{p}"}}"#
                );
                s.manifest = Some(serde_json::from_str(&text).unwrap());
            }
            s
        };
        let mut list = vec![
            snapshot("20261206T040000Z-db-laptop-aaaaa", Some("20261206T040000Z-db-laptop-zzzzz")),
            snapshot("20261206T040000Z-db-laptop-zzzzz", Some("20261206T035900Z-db-home-bbbbb")),
            snapshot("20261206T035900Z-db-home-bbbbb", None),
            snapshot("20261206T040001Z-db-home-ccccc", None),
        ];
        newest_first(&mut list);
        let ids: Vec<&str> = list.iter().map(|s| &s.id[17..]).collect();
        assert_eq!(ids, ["db-home-ccccc", "db-laptop-aaaaa", "db-laptop-zzzzz", "db-home-bbbbb"]);
    }

    #[test]
    fn a_parent_pruned_away_ends_the_lane() {
        let list = [node("c", Some("gone"), true), node("b", None, false)];
        assert_eq!(drawn(&list), [("●".into(), true), ("●".into(), false)]);
    }
}
