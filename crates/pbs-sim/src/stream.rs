//! The streamed `/snapshots` body: items are generated one by one into the caller's reused
//! buffer, so memory does not depend on the snapshot count. Also the faulty variants: cut in
//! the middle of the array, or endless.

use super::changes::{GroupChange, UNCHANGED};
use super::json;
use super::model::{self, Profile};
use std::collections::HashMap;

/// How the stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// All items, then `]}`.
    Complete,
    /// Half of the items, then half of the next one; `clean` ends the HTTP body properly.
    Cut { clean: bool },
    /// Items forever.
    Endless,
}

/// What `fill` left in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// More JSON follows.
    More,
    /// The JSON document is complete.
    Done,
    /// The JSON was cut; nothing follows.
    Cut { clean: bool },
}

/// A streamed (chunked) body: the two endpoints PBS serializes as it goes.
#[derive(Debug)]
pub(crate) enum Streamed {
    /// `/admin/datastore/{store}/snapshots`.
    Snapshots(SnapshotStream),
    /// `/nodes/{node}/tasks`.
    Tasks(crate::tasks::TaskStream),
}

impl Streamed {
    /// Appends JSON to `buf` until it holds at least `target` bytes or the document ends.
    pub(crate) fn fill(&mut self, buf: &mut Vec<u8>, target: usize) -> Step {
        match self {
            Streamed::Snapshots(s) => s.fill(buf, target),
            Streamed::Tasks(t) => t.fill(buf, target),
        }
    }

    /// Items written so far.
    pub(crate) fn items(&self) -> u64 {
        match self {
            Streamed::Snapshots(s) => s.items(),
            Streamed::Tasks(t) => t.items(),
        }
    }

    /// The whole body, 100 bytes at a time, and how it ended (for tests).
    #[cfg(test)]
    pub(crate) fn drain(mut self) -> (String, Step) {
        let mut buf = Vec::new();
        loop {
            let target = buf.len() + 100;
            match self.fill(&mut buf, target) {
                Step::More => continue,
                end => return (String::from_utf8(buf).unwrap(), end),
            }
        }
    }
}

/// Generator state of one `/snapshots` response.
#[derive(Debug)]
pub(crate) struct SnapshotStream {
    profile: Profile,
    d: usize,
    n: usize,
    type_filter: Option<&'static str>,
    id_filter: Option<String>,
    /// The namespace's changed groups, by group index.
    changes: HashMap<usize, GroupChange>,
    mode: Mode,
    /// Next group and snapshot to write.
    g: usize,
    s: usize,
    /// Times the endless stream wrapped around.
    lap: i64,
    emitted: u64,
    cut_after: u64,
    started: bool,
}

impl SnapshotStream {
    /// A stream of the snapshots of namespace `n` of datastore `d` after `changes` (its
    /// changed groups), optionally only of one backup type and/or id.
    pub(crate) fn new(
        profile: Profile,
        (d, n): (usize, usize),
        type_filter: Option<&'static str>,
        id_filter: Option<String>,
        changes: HashMap<usize, GroupChange>,
        mode: Mode,
    ) -> Self {
        let mut st = SnapshotStream {
            profile,
            d,
            n,
            type_filter,
            id_filter,
            changes,
            mode,
            g: 0,
            s: 0,
            lap: 0,
            emitted: 0,
            cut_after: 0,
            started: false,
        };
        if mode == Mode::Endless {
            st.type_filter = None;
            st.id_filter = None;
            st.changes.clear();
            st.profile.groups = st.profile.groups.max(1);
            st.profile.snapshots = st.profile.snapshots.max(1);
        }
        let items: usize = (0..profile.groups)
            .filter(|&g| st.matches(g))
            .map(|g| st.change(g).snapshots(&profile).len())
            .sum();
        st.cut_after = (items / 2) as u64;
        st
    }

    fn change(&self, g: usize) -> &GroupChange {
        self.changes.get(&g).unwrap_or(&UNCHANGED)
    }

    /// Snapshot items written so far (each one a manifest PBS would have read).
    pub(crate) fn items(&self) -> u64 {
        self.emitted
    }

    fn matches(&self, g: usize) -> bool {
        self.type_filter.is_none_or(|t| model::backup_type(g) == t)
            && self
                .id_filter
                .as_deref()
                .is_none_or(|id| model::backup_id(g) == id)
    }

    fn next_index(&mut self) -> Option<(usize, usize)> {
        loop {
            if self.g >= self.profile.groups {
                if self.mode != Mode::Endless {
                    return None;
                }
                self.g = 0;
                self.s = 0;
                self.lap += 1;
            }
            let range = self.change(self.g).snapshots(&self.profile);
            if self.s >= range.end || !self.matches(self.g) {
                self.g += 1;
                self.s = 0;
                continue;
            }
            let s = self.s.max(range.start);
            self.s = s + 1;
            return Some((self.g, s));
        }
    }

    /// Appends JSON to `buf` until it holds at least `target` bytes or the document ends.
    pub(crate) fn fill(&mut self, buf: &mut Vec<u8>, target: usize) -> Step {
        if !self.started {
            buf.extend_from_slice(b"{\"data\":[");
            self.started = true;
        }
        let cut = match self.mode {
            Mode::Cut { clean } => Some(clean),
            _ => None,
        };
        while buf.len() < target {
            let Some((g, s)) = self.next_index() else {
                if let Some(clean) = cut {
                    // Nothing to cut in the middle of: cut a made-up item.
                    buf.extend_from_slice(b"{\"backup-type\":\"vm\",\"backup-");
                    return Step::Cut { clean };
                }
                buf.extend_from_slice(b"]}");
                return Step::Done;
            };
            let start = buf.len();
            if self.emitted > 0 {
                buf.push(b',');
            }
            let shift = self.lap * self.profile.snapshots as i64 * model::DAY;
            let change = self.change(g);
            json::snapshot_item(buf, &self.profile, (self.d, self.n, g, s), shift, change);
            if let (Some(clean), true) = (cut, self.emitted == self.cut_after) {
                buf.truncate(start + (buf.len() - start) / 2);
                return Step::Cut { clean };
            }
            self.emitted += 1;
        }
        Step::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(st: SnapshotStream) -> (String, Step) {
        Streamed::Snapshots(st).drain()
    }

    #[test]
    fn complete_filtered_and_cut_streams() {
        let p = Profile::new(1, 1, 3, 4);
        let (all, end) = collect(SnapshotStream::new(
            p,
            (0, 0),
            None,
            None,
            HashMap::new(),
            Mode::Complete,
        ));
        assert_eq!(end, Step::Done);
        assert!(all.starts_with("{\"data\":[{\"backup-type\":\"vm\"") && all.ends_with("}]}"));
        assert_eq!(all.matches("\"backup-time\"").count(), 12);

        let (ct, _) = collect(SnapshotStream::new(
            p,
            (0, 0),
            Some("ct"),
            Some("101".into()),
            HashMap::new(),
            Mode::Complete,
        ));
        assert_eq!(ct.matches("\"backup-id\":\"101\"").count(), 4);
        assert_eq!(ct.matches("\"backup-time\"").count(), 4);

        let (cut, end) = collect(SnapshotStream::new(
            p,
            (0, 0),
            None,
            None,
            HashMap::new(),
            Mode::Cut { clean: true },
        ));
        assert_eq!(end, Step::Cut { clean: true });
        assert!(all.starts_with(&cut) && cut.len() < all.len());
        assert_eq!(cut.matches("\"protected\"").count(), 6);

        let empty = Profile::new(1, 1, 0, 0);
        let (e, end) = collect(SnapshotStream::new(
            empty,
            (0, 0),
            None,
            None,
            HashMap::new(),
            Mode::Complete,
        ));
        assert_eq!((e.as_str(), end), ("{\"data\":[]}", Step::Done));
        let mut endless =
            SnapshotStream::new(empty, (0, 0), None, None, HashMap::new(), Mode::Endless);
        let mut buf = Vec::new();
        assert_eq!(endless.fill(&mut buf, 100_000), Step::More);
    }
}
