//! Snapshots collector: snapshots aggregated per backup group and per datastore, from
//! `GET /admin/datastore/{store}/snapshots?ns=` per namespace. Costly for PBS (it reads every
//! manifest), so it can be switched off. The list streams in; each snapshot is folded into its
//! group's running aggregate and forgotten, so memory grows with groups, never with snapshots.
//!
//! "Newest snapshot" means the newest *finished* one (it has a size): a backup running right now
//! must not make the group look unverified.
//!
//! With `--snapshot-history N` (off by default) each group's aggregate also keeps its newest N
//! finished snapshots, from the same stream, and writes a few series per snapshot (`pbs_snapshot_*`,
//! group labels plus `backup_time`): memory grows with N × groups, still never with snapshots.

use super::{Ctx, MAX_TEXT_LABEL, datastore_path, set};
use crate::exposition::{Families, truncate_utf8};
use crate::json::{JsonError, JsonReader, Path, Reads, Scalar, Sink};
use crate::natrontech::SnapshotIds;

crate::families! {
    pub enum Family {
        NewestSize => Gauge "pbs_group_newest_snapshot_size_bytes" "Logical size of the group's newest finished snapshot.",
        NewestVerification => Gauge "pbs_group_newest_snapshot_verification_state" "Verification state of the group's newest finished snapshot as the state label: ok, failed, or none (not verified yet). Always 1.",
        NewestInfo => Gauge "pbs_group_newest_snapshot_info" "The comment of the group's newest finished snapshot (the guest name PVE writes there) as a label. Always 1.",
        LastVerified => Gauge "pbs_group_last_verified_timestamp_seconds" "Time of the group's newest snapshot whose verification is ok; absent when none is.",
        Oldest => Gauge "pbs_group_oldest_snapshot_timestamp_seconds" "Time of the group's oldest snapshot.",
        TotalSize => Gauge "pbs_group_snapshots_size_bytes" "Logical size of all the group's finished snapshots (before deduplication).",
        Protected => Gauge "pbs_group_protected_snapshots" "Protected snapshots in the group.",
        DatastoreSnapshots => Gauge "pbs_datastore_snapshots" "Snapshots in the datastore over all namespaces, by the verification state of each.",
        SnapshotSize => Gauge "pbs_snapshot_size_bytes" "Logical size of one of the group's newest finished snapshots (--snapshot-history).",
        SnapshotVerification => Gauge "pbs_snapshot_verification_state" "Verification state of one of the group's newest finished snapshots as the state label: ok, failed, or none (--snapshot-history). Always 1.",
        SnapshotProtected => Gauge "pbs_snapshot_protected" "1 when one of the group's newest finished snapshots is protected from pruning, else 0 (--snapshot-history).",
    }
}

/// A snapshot's verification state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verification {
    /// Not verified yet (or still running).
    #[default]
    None,
    /// Verified, ok.
    Ok,
    /// Verification failed.
    Failed,
}

impl Verification {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Verification::None => "none",
            Verification::Ok => "ok",
            Verification::Failed => "failed",
        }
    }
}

/// One item of `/snapshots`.
#[derive(Default)]
struct Snapshot {
    backup_type: String,
    backup_id: String,
    comment: String,
    time: Option<i64>,
    size: Option<u64>,
    verification: Verification,
    protected: bool,
}

impl Snapshot {
    /// Forgets the fields, keeping the strings' capacity.
    fn reset(&mut self) {
        self.backup_type.clear();
        self.backup_id.clear();
        self.comment.clear();
        self.time = None;
        self.size = None;
        self.verification = Verification::None;
        self.protected = false;
    }
}

/// The running aggregate of one group. Kept in a reused list; strings keep their capacity.
#[derive(Default)]
struct GroupAgg {
    backup_type: String,
    backup_id: String,
    newest: Option<i64>,
    newest_size: u64,
    newest_state: Verification,
    newest_comment: String,
    last_ok: Option<i64>,
    oldest: Option<i64>,
    total_size: u64,
    protected: u64,
    /// The newest finished snapshots, newest first, at most `Aggregates::history` of them.
    history: Vec<Kept>,
}

/// A finished snapshot kept for `--snapshot-history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    time: i64,
    size: u64,
    state: Verification,
    protected: bool,
}

impl GroupAgg {
    /// Keeps the snapshot if it is among the newest `n` finished ones (the first of equal
    /// times wins, so a repeated snapshot is no duplicate series).
    fn keep(&mut self, k: Kept, n: usize) {
        let h = &mut self.history;
        if n == 0 || h.iter().any(|e| e.time == k.time) {
            return;
        }
        let at = h.iter().position(|e| e.time < k.time).unwrap_or(h.len());
        if at >= n {
            return;
        }
        if h.len() == n {
            h.pop();
        }
        h.insert(at, k);
    }
}

/// The groups of the namespace being read.
#[derive(Default)]
struct Aggregates {
    groups: Vec<GroupAgg>,
    len: usize,
    /// Snapshots by verification state, in `Verification` order: none, ok, failed.
    by_state: [u64; 3],
    /// Finished snapshots kept per group for per-snapshot series (`--snapshot-history`).
    history: usize,
}

impl Aggregates {
    fn clear(&mut self) {
        self.len = 0;
        self.by_state = [0; 3];
    }

    /// The aggregate of the snapshot's group, created on first sight. Snapshots come group by
    /// group, so the last group is checked first.
    fn group_of(&mut self, s: &Snapshot) -> &mut GroupAgg {
        let same = |g: &GroupAgg| g.backup_type == s.backup_type && g.backup_id == s.backup_id;
        let found = match self.len.checked_sub(1) {
            Some(last) if same(&self.groups[last]) => Some(last),
            _ => self.groups[..self.len].iter().position(same),
        };
        let i = match found {
            Some(i) => i,
            None => {
                if self.len == self.groups.len() {
                    self.groups.push(GroupAgg::default());
                }
                let g = &mut self.groups[self.len];
                set(&mut g.backup_type, &s.backup_type);
                set(&mut g.backup_id, &s.backup_id);
                g.newest = None;
                g.newest_size = 0;
                g.newest_state = Verification::None;
                g.newest_comment.clear();
                g.last_ok = None;
                g.oldest = None;
                g.total_size = 0;
                g.protected = 0;
                g.history.clear();
                self.len += 1;
                self.len - 1
            }
        };
        &mut self.groups[i]
    }

    fn add(&mut self, s: &Snapshot) {
        let Some(time) = s.time else { return };
        if s.backup_type.is_empty() || s.backup_id.is_empty() {
            return;
        }
        self.by_state[s.verification as usize] += 1;
        let history = self.history;
        let g = self.group_of(s);
        g.oldest = Some(g.oldest.map_or(time, |o| o.min(time)));
        g.protected += s.protected as u64;
        if s.verification == Verification::Ok {
            g.last_ok = Some(g.last_ok.map_or(time, |o| o.max(time)));
        }
        if let Some(size) = s.size {
            let kept = Kept {
                time,
                size,
                state: s.verification,
                protected: s.protected,
            };
            g.keep(kept, history);
            g.total_size = g.total_size.saturating_add(size);
            if g.newest.is_none_or(|n| time > n) {
                g.newest = Some(time);
                g.newest_size = size;
                g.newest_state = s.verification;
                set(&mut g.newest_comment, &s.comment);
            }
        }
    }

    fn write(&self, out: &mut Families, store: &str, ns: &str) {
        for g in &self.groups[..self.len] {
            let set = out.labels(&[
                ("datastore", store),
                ("namespace", ns),
                ("backup_type", g.backup_type.as_str()),
                ("backup_id", g.backup_id.as_str()),
            ]);
            if g.newest.is_some() {
                out.sample_in(Family::NewestSize, set, g.newest_size);
                out.sample_in_with(
                    Family::NewestVerification,
                    set,
                    &[("state", g.newest_state.label())],
                    1u64,
                );
                out.sample_in_with(
                    Family::NewestInfo,
                    set,
                    &[("comment", truncate_utf8(&g.newest_comment, MAX_TEXT_LABEL))],
                    1u64,
                );
                out.sample_in(Family::TotalSize, set, g.total_size);
            }
            if let Some(t) = g.last_ok {
                out.sample_in(Family::LastVerified, set, t);
            }
            if let Some(t) = g.oldest {
                out.sample_in(Family::Oldest, set, t);
            }
            out.sample_in(Family::Protected, set, g.protected);
            for k in &g.history {
                let mut digits = [0u8; 20];
                let time = decimal(k.time, &mut digits);
                let at = out.labels(&[("backup_time", time)]);
                out.sample_in_sets(Family::SnapshotSize, set, at, k.size);
                out.sample_in_with(
                    Family::SnapshotVerification,
                    set,
                    &[("backup_time", time), ("state", k.state.label())],
                    1u64,
                );
                out.sample_in_sets(Family::SnapshotProtected, set, at, k.protected);
            }
        }
    }
}

/// `n` in decimal, written into `buf` without allocating.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &str {
    use std::io::Write;
    let mut rest = &mut buf[..];
    // 20 bytes hold every i64.
    let _ = write!(rest, "{n}");
    let len = 20 - rest.len();
    std::str::from_utf8(&buf[..len]).unwrap_or("0")
}
/// What [`SnapshotSink`] reads of `/snapshots`: most of each item's bytes are its `files`, the
/// verification task's UPID and the owner, skipped unread.
static SNAPSHOT_READS: Reads = Reads::Keys(&[(
    "data",
    Reads::Keys(&[
        ("backup-type", Reads::All),
        ("backup-id", Reads::All),
        ("backup-time", Reads::All),
        ("comment", Reads::All),
        ("size", Reads::All),
        ("protected", Reads::All),
        ("verification", Reads::Keys(&[("state", Reads::All)])),
    ]),
)]);

struct SnapshotSink<'a> {
    item: &'a mut Snapshot,
    aggs: &'a mut Aggregates,
    /// natrontech's per-`backup-id` figures, when `--compat natrontech` asks for them.
    ids: Option<&'a mut SnapshotIds>,
}

impl Sink for SnapshotSink<'_> {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let s = &mut *self.item;
        match path.item_key() {
            Some("backup-type") => set(&mut s.backup_type, value.as_str().unwrap_or("")),
            Some("backup-id") => set(&mut s.backup_id, value.as_str().unwrap_or("")),
            Some("backup-time") => s.time = value.as_i64(),
            Some("comment") => set(&mut s.comment, value.as_str().unwrap_or("")),
            Some("size") => s.size = value.as_u64(),
            Some("protected") => s.protected = value.as_bool().unwrap_or(false),
            Some(_) => {}
            None => {
                if path.len() == 4
                    && path.key(3) == Some("state")
                    && path.item_key_at(2)
                    && path.key(2) == Some("verification")
                {
                    s.verification = match value.as_str() {
                        Some("ok") => Verification::Ok,
                        Some("failed") => Verification::Failed,
                        _ => Verification::None,
                    };
                }
            }
        }
    }

    fn reads(&self) -> &'static Reads {
        &SNAPSHOT_READS
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            self.aggs.add(self.item);
            if let Some(ids) = &mut self.ids {
                let s = &*self.item;
                let ok = s.verification == Verification::Ok;
                ids.add(&s.backup_id, s.time.unwrap_or(0), ok, &s.comment);
            }
            self.item.reset();
        }
    }
}

/// What the snapshots collector keeps between scrapes: the request path, the snapshot being
/// read and the running aggregates of a namespace's groups.
#[derive(Default)]
pub struct State {
    path: String,
    snapshot: Snapshot,
    aggregates: Aggregates,
    /// natrontech's per-`backup-id` figures (`--compat natrontech`).
    ids: SnapshotIds,
}

/// Reads the snapshots of every namespace of every readable datastore.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    let Some(count) = super::datastore_count(ctx).await else {
        return;
    };
    let State {
        path,
        snapshot: item,
        aggregates: aggs,
        ids,
    } = state;
    aggs.history = ctx
        .settings
        .snapshot_history
        .min(super::MAX_SNAPSHOT_HISTORY);
    for i in 0..count {
        let Some(store) =
            super::readable_store(ctx.inventory, ctx.client, ctx.deadline, ctx.errors, i).await
        else {
            continue;
        };
        let mut by_state = [0u64; 3];
        let mut complete = true;
        for ns in store.namespaces() {
            datastore_path(path, &store.name, "snapshots", ns);
            aggs.clear();
            ids.clear();
            item.reset();
            let mut sink = SnapshotSink {
                item,
                aggs,
                ids: ctx.compat.is_some().then_some(&mut *ids),
            };
            match ctx.client.get_json(path, &mut sink, ctx.deadline).await {
                Ok(()) => {
                    aggs.write(out, &store.name, ns);
                    if let Some(compat) = ctx.compat.as_deref_mut() {
                        ids.write(compat, &store.name, ns);
                    }
                    for (total, n) in by_state.iter_mut().zip(aggs.by_state) {
                        *total += n;
                    }
                }
                Err(e) => {
                    complete = false;
                    ctx.errors.push(format!(
                        "listing snapshots of datastore '{}' namespace '{ns}': {e}",
                        store.name
                    ));
                }
            }
        }
        if complete {
            for (state, n) in [Verification::None, Verification::Ok, Verification::Failed]
                .into_iter()
                .zip(by_state)
            {
                out.sample(
                    Family::DatastoreSnapshots,
                    &[
                        ("datastore", store.name.as_str()),
                        ("verification", state.label()),
                    ],
                    n,
                );
            }
        }
    }
}

/// Writes the per-group snapshot families (and the datastore counts, as if this namespace were
/// the whole datastore) from a `/snapshots` body given in pieces, with per-snapshot series for
/// the newest `history` finished snapshots of each group (fuzzing, benchmarks).
pub fn from_json<'p>(
    store: &str,
    ns: &str,
    history: usize,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<(), JsonError> {
    let mut item = Snapshot::default();
    let mut aggs = Aggregates {
        history: history.min(super::MAX_SNAPSHOT_HISTORY),
        ..Aggregates::default()
    };
    let mut sink = SnapshotSink {
        item: &mut item,
        aggs: &mut aggs,
        ids: None,
    };
    JsonReader::new().read_pieces(pieces, &mut sink)?;
    aggs.write(out, store, ns);
    write_datastore_counts(out, store, aggs.by_state);
    Ok(())
}

fn write_datastore_counts(out: &mut Families, store: &str, by_state: [u64; 3]) {
    for (state, n) in [Verification::None, Verification::Ok, Verification::Failed]
        .into_iter()
        .zip(by_state)
    {
        out.sample(
            Family::DatastoreSnapshots,
            &[("datastore", store), ("verification", state.label())],
            n,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture read in pieces of `step` bytes.
    fn text(step: usize) -> String {
        let body: &[u8] = include_bytes!("../../tests/fixtures/snapshots.json");
        let mut f = Families::new(Family::TABLE);
        from_json("store1", "", 0, body.chunks(step), &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    const VM100: &str = r#"datastore="store1",namespace="",backup_type="vm",backup_id="100""#;
    const VM101: &str = r#"datastore="store1",namespace="",backup_type="vm",backup_id="101""#;
    const VM102: &str = r#"datastore="store1",namespace="",backup_type="vm",backup_id="102""#;

    #[test]
    fn the_fixture_aggregates_per_group() {
        let t = text(4096);
        for line in [
            // vm/100: three snapshots; the newest is not verified yet.
            format!("pbs_group_newest_snapshot_size_bytes{{{VM100}}} 68720018698"),
            format!("pbs_group_newest_snapshot_verification_state{{{VM100},state=\"none\"}} 1"),
            format!("pbs_group_newest_snapshot_info{{{VM100},comment=\"web01\"}} 1"),
            format!("pbs_group_last_verified_timestamp_seconds{{{VM100}}} 1784408400"),
            format!("pbs_group_oldest_snapshot_timestamp_seconds{{{VM100}}} 1784322000"),
            format!(
                "pbs_group_snapshots_size_bytes{{{VM100}}} {}",
                3 * 68720018698u64
            ),
            format!("pbs_group_protected_snapshots{{{VM100}}} 1"),
            // vm/101: an older failed verification does not hide the newer ok one.
            format!("pbs_group_newest_snapshot_verification_state{{{VM101},state=\"ok\"}} 1"),
            format!("pbs_group_last_verified_timestamp_seconds{{{VM101}}} 1784495520"),
            // vm/102: only a running backup: no "newest finished" samples, but it exists.
            format!("pbs_group_oldest_snapshot_timestamp_seconds{{{VM102}}} 1784541480"),
            format!("pbs_group_protected_snapshots{{{VM102}}} 0"),
            "pbs_datastore_snapshots{datastore=\"store1\",verification=\"none\"} 3".to_string(),
            "pbs_datastore_snapshots{datastore=\"store1\",verification=\"ok\"} 4".to_string(),
            "pbs_datastore_snapshots{datastore=\"store1\",verification=\"failed\"} 1".to_string(),
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}\n{t}");
        }
        assert!(!t.contains(&format!("pbs_group_newest_snapshot_size_bytes{{{VM102}}}")));
        assert!(!t.contains(&format!(
            "pbs_group_last_verified_timestamp_seconds{{{VM102}}}"
        )));
    }

    #[test]
    fn history_keeps_the_newest_finished_snapshots_of_each_group() {
        let body: &[u8] = include_bytes!("../../tests/fixtures/snapshots.json");
        let mut f = Families::new(Family::TABLE);
        from_json("store1", "", 2, body.chunks(13), &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        let t = String::from_utf8(out).unwrap();
        // vm/100: three finished snapshots, the two newest kept.
        for line in [
            format!("pbs_snapshot_size_bytes{{{VM100},backup_time=\"1784494800\"}} 68720018698"),
            format!(
                "pbs_snapshot_verification_state{{{VM100},backup_time=\"1784494800\",state=\"none\"}} 1"
            ),
            format!(
                "pbs_snapshot_verification_state{{{VM100},backup_time=\"1784408400\",state=\"ok\"}} 1"
            ),
            format!("pbs_snapshot_protected{{{VM100},backup_time=\"1784408400\"}} 1"),
            format!("pbs_snapshot_protected{{{VM100},backup_time=\"1784494800\"}} 0"),
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}\n{t}");
        }
        assert!(
            !t.contains("backup_time=\"1784322000\""),
            "the oldest is not kept: {t}"
        );
        // vm/102 has only a running backup: nothing per snapshot.
        assert!(
            !t.contains(&format!("pbs_snapshot_size_bytes{{{VM102}")),
            "{t}"
        );
        // vm/100 and vm/101 two each, ct/200 and host/nas01 one each.
        assert_eq!(t.matches("pbs_snapshot_size_bytes{").count(), 6, "{t}");
    }

    #[test]
    fn history_is_bounded_ordered_and_unique() {
        let mut g = GroupAgg::default();
        let k = |time| Kept {
            time,
            size: time as u64,
            state: Verification::None,
            protected: false,
        };
        for t in [5, 1, 9, 9, 3, 7, 2, 8] {
            g.keep(k(t), 3);
        }
        let times: Vec<i64> = g.history.iter().map(|e| e.time).collect();
        assert_eq!(times, [9, 8, 7]);
        g.keep(k(4), 0);
        assert_eq!(g.history.len(), 3);
        let mut buf = [0u8; 20];
        assert_eq!(decimal(i64::MIN, &mut buf), i64::MIN.to_string());
        assert_eq!(decimal(0, &mut buf), "0");
        assert_eq!(decimal(1784494800, &mut buf), "1784494800");
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        let whole = text(1 << 20);
        for step in [1, 7, 100, 1000] {
            assert_eq!(text(step), whole, "step {step}");
        }
    }
}
