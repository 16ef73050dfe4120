//! Changes to the simulated PBS between scrapes: a new backup, a prune, a verify, a protected
//! snapshot, a changed comment, a removed group. [`crate::model`] stays the unchanged content;
//! a [`GroupChange`] per changed group is the overlay that `/groups`, `/snapshots` and the task
//! list follow, as PBS's would. Tests compute expected values with the same functions.
//!
//! Snapshot indices keep their meaning: the profile's snapshots are `0..p.snapshots`, a new
//! backup is the next index (one day after the previous newest), a prune removes the oldest.

use crate::model::{self, Profile, VerifyState};
use crate::tasks::Task;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// One change to one backup group (see [`SimHandle::change`](crate::SimHandle::change)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new finished backup, one day after the group's newest (not verified yet).
    NewBackup,
    /// A prune keeping the newest `keep` snapshots (protected ones are removed too: the
    /// simulator's simplification).
    Prune {
        /// Snapshots kept.
        keep: usize,
    },
    /// A verify of the group's oldest and newest finished snapshots with this outcome, which
    /// leaves a finished `verify_group` task in the task list.
    Verify(VerifyState),
    /// Protects the group's newest finished snapshot.
    Protect,
    /// Sets the comment of the group's newest finished snapshot.
    Comment(String),
    /// Removes the group and its snapshots.
    Remove,
}

/// What changed in one group, over the profile's content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupChange {
    /// The group is gone.
    pub removed: bool,
    /// New backups after the profile's snapshots.
    pub added: usize,
    /// Oldest snapshots removed by prunes.
    pub pruned: usize,
    /// Verification states set by verifies (`None`: not verified).
    pub verification: BTreeMap<usize, Option<VerifyState>>,
    /// Snapshots protected since.
    pub protected: BTreeMap<usize, bool>,
    /// Comments changed since.
    pub comment: BTreeMap<usize, String>,
}

/// The unchanged group.
pub static UNCHANGED: GroupChange = GroupChange {
    removed: false,
    added: 0,
    pruned: 0,
    verification: BTreeMap::new(),
    protected: BTreeMap::new(),
    comment: BTreeMap::new(),
};

impl GroupChange {
    /// Indices of the group's snapshots, oldest first.
    pub fn snapshots(&self, p: &Profile) -> Range<usize> {
        if self.removed {
            return 0..0;
        }
        let end = p.snapshots + self.added;
        self.pruned.min(end)..end
    }

    /// `backup-count` of the group.
    pub fn backup_count(&self, p: &Profile) -> u64 {
        self.snapshots(p).len() as u64
    }

    /// Index of the newest finished snapshot, if any.
    pub fn newest_finished(&self, p: &Profile, g: usize) -> Option<usize> {
        self.snapshots(p)
            .rev()
            .find(|&s| !model::is_running(p, g, s))
    }

    /// `last-backup` of the group (0 when it has no finished snapshot).
    pub fn last_backup(&self, p: &Profile, d: usize, n: usize, g: usize) -> i64 {
        self.newest_finished(p, g)
            .map_or(0, |s| model::backup_time(p, d, n, g, s))
    }

    /// Verification state of snapshot `s`: a new backup is not verified until a verify says so.
    pub fn verification(&self, p: &Profile, g: usize, s: usize) -> Option<VerifyState> {
        match self.verification.get(&s) {
            Some(v) => *v,
            None if s >= p.snapshots => None,
            None => model::verification(p, g, s),
        }
    }

    /// Whether snapshot `s` is protected.
    pub fn protected(&self, g: usize, s: usize) -> bool {
        self.protected
            .get(&s)
            .copied()
            .unwrap_or_else(|| model::snapshot_protected(g, s))
    }

    /// The comment of snapshot `s`.
    pub fn comment(&self, p: &Profile, g: usize, s: usize) -> Option<String> {
        match self.comment.get(&s) {
            Some(c) => Some(c.clone()),
            None => model::snapshot_comment(p, g, s),
        }
    }
}

/// Every change made so far, and the tasks they left behind.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    groups: HashMap<(usize, usize, usize), GroupChange>,
    /// Finished tasks the changes left, oldest first.
    pub tasks: Vec<Task>,
}

impl Changes {
    /// The change of group `g` of namespace `n` of datastore `d`.
    pub fn group(&self, d: usize, n: usize, g: usize) -> &GroupChange {
        self.groups.get(&(d, n, g)).unwrap_or(&UNCHANGED)
    }

    /// The changed groups of one namespace, by group index.
    pub fn namespace(&self, d: usize, n: usize) -> HashMap<usize, GroupChange> {
        self.groups
            .iter()
            .filter(|((gd, gn, _), _)| (*gd, *gn) == (d, n))
            .map(|((_, _, g), c)| (*g, c.clone()))
            .collect()
    }

    /// Applies `change` to group `g` of namespace `n` of datastore `d` at Unix time `now`.
    pub fn apply(
        &mut self,
        p: &Profile,
        (d, n, g): (usize, usize, usize),
        change: Change,
        now: i64,
    ) -> Result<(), String> {
        if d >= p.datastores || n >= p.namespaces || g >= p.groups {
            return Err(format!("no group {d}/{n}/{g} in profile {p}"));
        }
        let c = self.groups.entry((d, n, g)).or_default();
        if c.removed {
            return Err(format!("group {d}/{n}/{g} was removed"));
        }
        let newest = c.newest_finished(p, g);
        let no_finished = || format!("group {d}/{n}/{g} has no finished snapshot");
        match change {
            Change::NewBackup => c.added += 1,
            Change::Prune { keep } => {
                let all = c.snapshots(p);
                c.pruned = all.end.saturating_sub(keep).max(all.start);
            }
            Change::Verify(state) => {
                let all = c.snapshots(p);
                let (Some(newest), false) = (newest, all.is_empty()) else {
                    return Err(no_finished());
                };
                c.verification.insert(all.start, Some(state));
                c.verification.insert(newest, Some(state));
                let store = model::store_name(d);
                let ns = model::namespace_name(n);
                let group = format!("{}/{}", model::backup_type(g), model::backup_id(g));
                let worker_id = if ns.is_empty() {
                    format!("{store}:{group}")
                } else {
                    format!("{store}:{ns}:{group}")
                };
                let status = match state {
                    VerifyState::Ok => "OK",
                    VerifyState::Failed => "verification failed - please check the log for details",
                };
                self.tasks.push(Task {
                    worker_type: "verify_group",
                    worker_id: Some(worker_id),
                    store: Some(store),
                    start: now.saturating_sub(1),
                    end: Some((now, status)),
                    task: 0x3000 + self.tasks.len() as u64,
                });
            }
            Change::Protect => {
                c.protected.insert(newest.ok_or_else(no_finished)?, true);
            }
            Change::Comment(text) => {
                c.comment.insert(newest.ok_or_else(no_finished)?, text);
            }
            Change::Remove => c.removed = true,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_their_changes() {
        let p = Profile::new(2, 1, 7, 4);
        let mut ch = Changes::default();
        let at = (1, 0, 6);
        // Group 6's newest snapshot is still running.
        assert_eq!(ch.group(1, 0, 6).newest_finished(&p, 6), Some(2));
        ch.apply(&p, at, Change::NewBackup, 100).unwrap();
        let c = ch.group(1, 0, 6);
        assert_eq!((c.backup_count(&p), c.newest_finished(&p, 6)), (5, Some(4)));
        assert_eq!(
            c.last_backup(&p, 1, 0, 6),
            model::backup_time(&p, 1, 0, 6, 4)
        );
        assert_eq!(c.verification(&p, 6, 4), None);
        ch.apply(&p, at, Change::Verify(VerifyState::Failed), 100)
            .unwrap();
        let c = ch.group(1, 0, 6);
        assert_eq!(c.verification(&p, 6, 4), Some(VerifyState::Failed));
        assert_eq!(c.verification(&p, 6, 0), Some(VerifyState::Failed));
        assert_eq!(ch.tasks.len(), 1);
        assert_eq!(ch.tasks[0].worker_id.as_deref(), Some("store2:vm/106"));
        ch.apply(&p, at, Change::Prune { keep: 2 }, 100).unwrap();
        assert_eq!(ch.group(1, 0, 6).snapshots(&p), 3..5);
        ch.apply(&p, at, Change::Remove, 100).unwrap();
        assert_eq!(ch.group(1, 0, 6).backup_count(&p), 0);
        assert!(ch.apply(&p, at, Change::NewBackup, 100).is_err());
        assert!(ch.apply(&p, (2, 0, 0), Change::NewBackup, 100).is_err());
        assert_eq!(ch.group(0, 0, 6), &UNCHANGED);
    }
}
