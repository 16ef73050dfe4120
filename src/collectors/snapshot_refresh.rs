//! When the snapshots collector reads a datastore's snapshots in full: the refresh mode
//! (`--snapshots-refresh`), the age limit (`--snapshots-max-age`), and the verify tasks that
//! finished since the last full read, from one `GET /nodes/localhost/tasks?typefilter=verif`
//! per scrape. A verify changes verification states without changing any group's
//! `last-backup` or `backup-count`, so the groups list cannot show it.
//!
//! PBS's `since` compares with a task's *start*; a verify that started before the last full
//! read and finished after it changed the data too, so the list is asked from
//! [`VERIFY_LOOKBACK`] before the oldest full read and each task's `endtime` is compared.
//! A verify running longer than that is still caught by the age limit.

use super::{Ctx, tasks};
use crate::client::PbsError;
use crate::json::{Path, Reads, Scalar, Sink};
use std::fmt::Write as _;

/// Which snapshot lists a scrape reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Only what changed: groups whose `last-backup` or `backup-count` changed, new groups,
    /// datastores with a verify finished since their last full read, and every datastore at
    /// least every `--snapshots-max-age`.
    Changed,
    /// Every snapshot of every namespace, every scrape.
    Always,
}

impl Refresh {
    /// `changed` or `always`.
    pub fn parse(s: &str) -> Option<Refresh> {
        match s.trim() {
            "changed" => Some(Refresh::Changed),
            "always" => Some(Refresh::Always),
            _ => None,
        }
    }
}

/// How far before the oldest full read verify tasks are listed: a verify job that ran longer
/// than this and finished since is seen only through the age limit.
pub const VERIFY_LOOKBACK: i64 = 24 * 3600;

/// Most datastores whose verify end times are kept (a task naming yet another one is
/// ignored: that datastore is still read in full within the age limit).
const MAX_STORES: usize = 1000;

/// The newest verify end per datastore, from this scrape's task list.
#[derive(Default)]
pub struct VerifyEnds {
    /// (datastore, newest `endtime` of a finished verify task); the first `len` are live.
    ends: Vec<(String, i64)>,
    len: usize,
    /// The task list could not be read this scrape: every datastore is read in full.
    unknown: bool,
    /// The token may not list tasks (logged once); only the age limit applies.
    denied: bool,
    /// A failure to list the tasks was logged (once until the list is read again).
    failed: bool,
    /// The task item being read.
    item: Item,
    path: String,
}

impl VerifyEnds {
    /// Frees the list and the buffers (a target held idle); what was logged is kept.
    pub fn release(&mut self) {
        *self = VerifyEnds {
            denied: self.denied,
            failed: self.failed,
            ..VerifyEnds::default()
        };
    }
}

/// The fields of a task item read here.
#[derive(Default)]
struct Item {
    worker_type: String,
    worker_id: String,
    end: Option<i64>,
}

pub(crate) static TASK_READS: Reads = Reads::Keys(&[(
    "data",
    Reads::Keys(&[
        ("worker_type", Reads::All),
        ("worker_id", Reads::All),
        ("endtime", Reads::All),
    ]),
)]);

impl VerifyEnds {
    /// Lists the verify tasks that started at `since` or later (Unix seconds).
    pub async fn read(&mut self, ctx: &mut Ctx<'_>, since: i64) {
        self.clear();
        self.path.clear();
        let _ = write!(
            self.path,
            "/nodes/localhost/tasks?typefilter=verif&since={}&limit=0",
            since.max(0)
        );
        let path = std::mem::take(&mut self.path);
        let r = ctx.client.get_json(&path, self, ctx.deadline).await;
        self.path = path;
        match r {
            Ok(()) => {
                self.denied = false;
                self.failed = false;
            }
            Err(PbsError::Forbidden(_)) => {
                self.clear();
                if !self.denied {
                    crate::log_info!(
                        "PBS denied GET /nodes/localhost/tasks (HTTP 403): finished verifications show in the snapshot metrics only within --snapshots-max-age; grant the token Sys.Audit on /system/tasks to see them at the next scrape"
                    );
                    self.denied = true;
                }
            }
            Err(e) => {
                self.clear();
                self.unknown = true;
                if !self.failed {
                    crate::log_warn!(
                        "listing verify tasks: {e}: reading every datastore's snapshots in full until the task list can be read"
                    );
                    self.failed = true;
                }
            }
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.unknown = false;
        self.item.reset();
    }

    /// Whether `store`'s snapshots may have changed without a group showing it: a verify task
    /// on it ended at or after `read_at` (the start of its last full read, Unix seconds), or
    /// the task list could not be read.
    pub fn changed_since(&self, store: &str, read_at: i64) -> bool {
        self.unknown
            || self.ends[..self.len]
                .iter()
                .any(|(s, end)| s == store && *end >= read_at)
    }

    fn add(&mut self) {
        let t = &self.item;
        let Some(end) = t.end else { return };
        if !t.worker_type.starts_with("verif") {
            return;
        }
        let store = tasks::datastore(&t.worker_type, &t.worker_id);
        if store.is_empty() {
            return;
        }
        match self.ends[..self.len].iter_mut().find(|(s, _)| s == store) {
            Some((_, e)) => *e = (*e).max(end),
            None if self.len == MAX_STORES => {}
            None => {
                if self.len == self.ends.len() {
                    self.ends.push((String::new(), 0));
                }
                let slot = &mut self.ends[self.len];
                super::set(&mut slot.0, store);
                slot.1 = end;
                self.len += 1;
            }
        }
    }
}

impl Item {
    fn reset(&mut self) {
        self.worker_type.clear();
        self.worker_id.clear();
        self.end = None;
    }
}

impl Sink for VerifyEnds {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let t = &mut self.item;
        let text = || value.as_str().unwrap_or("");
        match path.item_key() {
            Some("worker_type") => super::set(&mut t.worker_type, text()),
            Some("worker_id") => super::set(&mut t.worker_id, text()),
            Some("endtime") => t.end = value.as_i64(),
            _ => {}
        }
    }

    fn reads(&self) -> &'static Reads {
        &TASK_READS
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            self.add();
            self.item.reset();
        }
    }
}

/// Whether a datastore whose snapshots were last read in full at `read_at` (Unix seconds,
/// `None`: never) must be read in full now under `--snapshots-refresh changed`: never read,
/// read `max_age` seconds ago or more, or verified since.
pub fn full_read_due(
    max_age: i64,
    verify: &VerifyEnds,
    store: &str,
    read_at: Option<i64>,
    now: i64,
) -> bool {
    match read_at {
        None => true,
        Some(at) => now.saturating_sub(at) >= max_age || verify.changed_since(store, at),
    }
}

/// Reads verify end times from a `/tasks` body given in pieces (fuzzing, tests): the
/// datastores whose snapshots changed since `read_at`, in the order met.
pub fn changed_from_json<'p>(
    read_at: i64,
    pieces: impl IntoIterator<Item = &'p [u8]>,
) -> Result<Vec<String>, crate::json::JsonError> {
    let mut v = VerifyEnds::default();
    crate::json::JsonReader::new().read_pieces(pieces, &mut v)?;
    Ok(v.ends[..v.len]
        .iter()
        .filter(|(_, end)| *end >= read_at)
        .map(|(s, _)| s.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_tasks_mark_their_datastores() {
        let body = br#"{"total":4,"data":[
            {"worker_type":"verificationjob","worker_id":"store2:v-1","starttime":5},
            {"worker_type":"verify_group","worker_id":"store1:ns1:vm/100","starttime":90,"endtime":100,"status":"OK"},
            {"worker_type":"verificationjob","worker_id":"store3:v-2","starttime":10,"endtime":50,"status":"OK"},
            {"worker_type":"verify_snapshot","worker_id":"store1","starttime":10,"endtime":20,"status":"OK"},
            {"worker_type":"backup","worker_id":"store4:vm/1","starttime":10,"endtime":200,"status":"OK"}
        ]}"#;
        // Running tasks and other worker types do not count; the newest end per store does.
        assert_eq!(changed_from_json(100, body.chunks(7)).unwrap(), ["store1"]);
        assert_eq!(
            changed_from_json(50, [&body[..]]).unwrap(),
            ["store1", "store3"]
        );
        assert!(changed_from_json(101, [&body[..]]).unwrap().is_empty());
        assert!(changed_from_json(0, [&b"{\"data\":[{"[..]]).is_err());
    }

    #[test]
    fn refresh_modes_parse() {
        assert_eq!(Refresh::parse("changed"), Some(Refresh::Changed));
        assert_eq!(Refresh::parse(" always "), Some(Refresh::Always));
        assert_eq!(Refresh::parse("never"), None);
    }
}
