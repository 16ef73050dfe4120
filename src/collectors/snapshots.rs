//! Snapshots collector: snapshots aggregated per backup group and per datastore, from
//! `GET /admin/datastore/{store}/snapshots?ns=` (costly for PBS: it reads every manifest, so
//! the collector can be switched off). The list streams in; each snapshot is folded into its
//! group's aggregate and forgotten, so memory grows with groups, never with snapshots.
//!
//! The aggregates stay in the collector's state between scrapes, and a scrape reads only what
//! may have changed (`--snapshots-refresh changed`, the default): each namespace's groups list
//! (cheap for PBS) names the groups whose `last-backup` or `backup-count` changed since their
//! snapshots were read, and new ones; only those are read, one group each
//! (`?backup-type=&backup-id=`); vanished groups are dropped. A datastore is read in full when
//! a verify finished on it since its last full read, and at least every
//! `--snapshots-max-age` (comments and protected flags change no list): see
//! [`super::snapshot_refresh`]. A group whose read fails is left out and the collector fails;
//! it is read again at the next scrape. `--snapshots-refresh always`, and `--compat natrontech`
//! (whose figures follow every snapshot in list order), read everything every scrape.
//!
//! "Newest snapshot" means the newest *finished* one (it has a size): a backup running right now
//! must not make the group look unverified.
//!
//! With `--snapshot-history N` (off by default) each group's aggregate also keeps its newest N
//! finished snapshots, from the same stream, and writes a few series per snapshot (`pbs_snapshot_*`,
//! group labels plus `backup_time`): memory grows with N × groups, still never with snapshots.

mod packed;
mod varint;

use super::groups::{Group, GroupList};
use super::short_str::ShortStr;
use super::snapshot_refresh::{self, Refresh, VERIFY_LOOKBACK, VerifyEnds};
use super::{Ctx, MAX_TEXT_LABEL, datastore_path, set};
use crate::exposition::{Families, truncate_utf8};
use crate::json::{JsonError, JsonReader, Path, Reads, Scalar, Sink, short_eq};
use crate::natrontech::SnapshotIds;
use std::time::{SystemTime, UNIX_EPOCH};

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
        ReadTimestamp => Gauge "pbs_datastore_snapshots_read_timestamp_seconds" "When the datastore's snapshots were last read in full (the start of that read); groups that changed since were read again.",
        ListsRead => Gauge "pbs_datastore_snapshot_lists_read" "Snapshot lists read from PBS for the datastore in this scrape: one per namespace when read in full, else one per changed or new group.",
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

/// One item of `/snapshots`. The strings as the tokenizer gave them (valid UTF-8): most
/// snapshots only compare them with their group's, which needs no text.
#[derive(Default)]
struct Snapshot {
    backup_type: Vec<u8>,
    backup_id: Vec<u8>,
    comment: Vec<u8>,
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

/// The aggregate of one group: the figures the exposition writes for it, kept between scrapes
/// (no second copy), and what the groups list said when its snapshots were read. Kept compact,
/// one per group for every group of every datastore: the key in one [`ShortStr`] (no heap
/// block when short, as is the newest comment; a target held idle keeps them all), counts
/// as `u32`, times with a sentinel instead of `Option`, the history in one exact-size buffer
/// refilled in place.
struct GroupAgg {
    /// `backup-type` then `backup-id`, split at `type_len`.
    key: ShortStr,
    type_len: u8,
    /// `last-backup` and `backup-count` from the groups list when the snapshots were last
    /// read; `read_known` false: read them again.
    read_as: (i64, u32),
    read_known: bool,
    /// What this scrape's groups list says.
    listed: (i64, u32),
    /// In this scrape's groups list, or in this scrape's full read.
    live: bool,
    /// In this scrape's groups list.
    in_list: bool,
    /// Its snapshots are read again this scrape.
    stale: bool,
    /// The figures are whole: the last read of its snapshots succeeded.
    valid: bool,
    /// Times, Unix seconds; [`NO_TIME`]: none.
    newest: i64,
    last_ok: i64,
    oldest: i64,
    newest_size: u64,
    newest_state: Verification,
    /// Written only while `newest` is set, and replaced only when it differs (a re-read keeps
    /// the allocation of an unchanged comment).
    newest_comment: ShortStr,
    total_size: u64,
    protected: u32,
    /// Snapshots by verification state, in `Verification` order: none, ok, failed.
    by_state: [u32; 3],
    /// The newest finished snapshots, newest first: the first `history_len` of a buffer of
    /// exactly `--snapshot-history` entries (none allocated when it is 0).
    history: Box<[Kept]>,
    history_len: u8,
}

/// Whether a group's key can be kept: both parts present, the type short.
fn key_ok(backup_type: &[u8], backup_id: &[u8]) -> bool {
    !backup_type.is_empty() && !backup_id.is_empty() && backup_type.len() <= MAX_TYPE_LEN
}

/// "No such time" in [`GroupAgg`]; times from PBS are clamped above it where they enter.
const NO_TIME: i64 = i64::MIN;

fn time_opt(t: i64) -> Option<i64> {
    (t != NO_TIME).then_some(t)
}

/// Longest `backup-type` kept (PBS's are `vm`, `ct` and `host`); a group with a longer one is
/// ignored.
const MAX_TYPE_LEN: usize = u8::MAX as usize;

impl Default for GroupAgg {
    fn default() -> Self {
        GroupAgg {
            key: ShortStr::default(),
            type_len: 0,
            read_as: (0, 0),
            read_known: false,
            listed: (0, 0),
            live: false,
            in_list: false,
            stale: false,
            valid: false,
            newest: NO_TIME,
            last_ok: NO_TIME,
            oldest: NO_TIME,
            newest_size: 0,
            newest_state: Verification::None,
            newest_comment: ShortStr::default(),
            total_size: 0,
            protected: 0,
            by_state: [0; 3],
            history: Box::default(),
            history_len: 0,
        }
    }
}

/// A finished snapshot kept for `--snapshot-history`: its time, and its size with the
/// verification state and the protected flag in the top bits (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Kept {
    time: i64,
    bits: u64,
}

/// Largest size a kept snapshot shows (2 EiB; larger ones are clamped).
const KEPT_SIZE_MAX: u64 = (1 << 61) - 1;

impl Kept {
    fn new(time: i64, size: u64, state: Verification, protected: bool) -> Kept {
        Kept {
            time,
            bits: size.min(KEPT_SIZE_MAX) | (state as u64) << 62 | (protected as u64) << 61,
        }
    }

    fn size(self) -> u64 {
        self.bits & KEPT_SIZE_MAX
    }

    fn protected(self) -> bool {
        self.bits >> 61 & 1 == 1
    }

    fn state(self) -> Verification {
        match self.bits >> 62 {
            1 => Verification::Ok,
            2 => Verification::Failed,
            _ => Verification::None,
        }
    }
}

impl GroupAgg {
    /// From a key in valid UTF-8 (as the tokenizer gives it).
    fn new(backup_type: &[u8], backup_id: &[u8]) -> GroupAgg {
        GroupAgg {
            key: ShortStr::concat(text(backup_type), text(backup_id)),
            // Callers check `key_ok` first.
            type_len: u8::try_from(backup_type.len()).unwrap_or(0),
            ..GroupAgg::default()
        }
    }

    fn backup_type(&self) -> &str {
        self.key
            .as_str()
            .get(..self.type_len as usize)
            .unwrap_or("")
    }

    fn backup_id(&self) -> &str {
        self.key
            .as_str()
            .get(self.type_len as usize..)
            .unwrap_or("")
    }

    /// Per snapshot read: compares bytes, without the UTF-8 check of `backup_type()`.
    fn is(&self, backup_type: &[u8], backup_id: &[u8]) -> bool {
        self.is_inline(backup_type, backup_id)
    }

    /// [`GroupAgg::is`] inlined: a list's first read compares each new group with every
    /// group before it.
    #[inline(always)]
    fn is_inline(&self, backup_type: &[u8], backup_id: &[u8]) -> bool {
        let (t, id) = self
            .key
            .as_bytes()
            .split_at_checked(self.type_len as usize)
            .unwrap_or_default();
        short_eq(t, backup_type) && short_eq(id, backup_id)
    }

    /// The kept snapshots, newest first.
    fn kept(&self) -> &[Kept] {
        self.history
            .get(..self.history_len as usize)
            .unwrap_or_default()
    }

    /// Keeps the snapshot if it is among the newest `n` finished ones (the first of equal
    /// times wins, so a repeated snapshot is no duplicate series).
    fn keep(&mut self, k: Kept, n: usize) {
        if n == 0 || self.kept().iter().any(|e| e.time == k.time) {
            return;
        }
        if self.history.len() != n {
            // First use (or another N, in tests): exactly N entries, refilled in place.
            self.history = vec![Kept::default(); n].into_boxed_slice();
            self.history_len = 0;
        }
        let len = self.history_len as usize;
        let at = self
            .kept()
            .iter()
            .position(|e| e.time < k.time)
            .unwrap_or(len);
        if at >= n {
            return;
        }
        let end = (len + 1).min(n);
        self.history[at..end].rotate_right(1);
        self.history[at] = k;
        self.history_len = u8::try_from(end).unwrap_or(u8::MAX);
    }

    /// Ends a read of its snapshots (`ok`: the read succeeded): no longer stale, its figures
    /// whole when `ok`, and known to match the groups list's entry when it was listed.
    fn end_read(&mut self, ok: bool) {
        self.stale = false;
        self.valid = ok;
        self.read_as = self.listed;
        self.read_known = ok && self.in_list;
    }

    /// Forgets the figures before its snapshots are read again (keeping the allocations).
    fn reset_figures(&mut self) {
        self.valid = false;
        self.newest = NO_TIME;
        self.newest_size = 0;
        self.newest_state = Verification::None;
        self.last_ok = NO_TIME;
        self.oldest = NO_TIME;
        self.total_size = 0;
        self.protected = 0;
        self.by_state = [0; 3];
        self.history_len = 0;
    }

    fn add(&mut self, s: &Snapshot, time: i64, history: usize) {
        let n = &mut self.by_state[s.verification as usize];
        *n = n.saturating_add(1);
        self.oldest = if self.oldest == NO_TIME {
            time
        } else {
            self.oldest.min(time)
        };
        self.protected = self.protected.saturating_add(s.protected as u32);
        if s.verification == Verification::Ok {
            self.last_ok = self.last_ok.max(time);
        }
        if let Some(size) = s.size {
            self.keep(Kept::new(time, size, s.verification, s.protected), history);
            self.total_size = self.total_size.saturating_add(size);
            if self.newest == NO_TIME || time > self.newest {
                self.newest = time;
                self.newest_size = size;
                self.newest_state = s.verification;
                if !short_eq(self.newest_comment.as_bytes(), &s.comment) {
                    self.newest_comment = ShortStr::new(text(&s.comment));
                }
            }
        }
    }

    fn write(&self, out: &mut Families, store: &str, ns: &str) {
        if !self.valid || self.oldest == NO_TIME {
            return;
        }
        let set = out.labels(&[
            ("datastore", store),
            ("namespace", ns),
            ("backup_type", self.backup_type()),
            ("backup_id", self.backup_id()),
        ]);
        if self.newest != NO_TIME {
            out.sample_in(Family::NewestSize, set, self.newest_size);
            out.sample_in_with(
                Family::NewestVerification,
                set,
                &[("state", self.newest_state.label())],
                1u64,
            );
            out.sample_in_with(
                Family::NewestInfo,
                set,
                &[(
                    "comment",
                    truncate_utf8(self.newest_comment.as_str(), MAX_TEXT_LABEL),
                )],
                1u64,
            );
            out.sample_in(Family::TotalSize, set, self.total_size);
        }
        if let Some(t) = time_opt(self.last_ok) {
            out.sample_in(Family::LastVerified, set, t);
        }
        if let Some(t) = time_opt(self.oldest) {
            out.sample_in(Family::Oldest, set, t);
        }
        out.sample_in(Family::Protected, set, u64::from(self.protected));
        for &k in self.kept() {
            let mut digits = [0u8; 20];
            let time = decimal(k.time, &mut digits);
            // `backup_time` escaped once for the three samples.
            let (at, with_state) =
                out.labels_and_more(&[("backup_time", time)], &[("state", k.state().label())]);
            out.sample_in_sets(Family::SnapshotSize, set, at, k.size());
            out.sample_in_sets(Family::SnapshotVerification, set, with_state, 1u64);
            out.sample_in_sets(Family::SnapshotProtected, set, at, k.protected());
        }
    }
}

/// The groups of one namespace, kept between scrapes (strings keep their capacity between
/// scrapes; a target held idle keeps them packed, [`packed`]).
#[derive(Default)]
struct Namespace {
    name: String,
    groups: Vec<GroupAgg>,
    /// In this scrape's namespace list.
    live: bool,
    /// Where the last group was found: lists come in the same order every time.
    cursor: usize,
}

impl Namespace {
    /// Index of the group, looking where the previous one was found first.
    fn find(&mut self, backup_type: &[u8], backup_id: &[u8]) -> Option<usize> {
        let same = |g: &GroupAgg| g.is(backup_type, backup_id);
        let hint = [self.cursor, self.cursor + 1];
        let found = hint
            .into_iter()
            .find(|&i| self.groups.get(i).is_some_and(same))
            .or_else(|| {
                self.groups
                    .iter()
                    .position(|g| g.is_inline(backup_type, backup_id))
            })?;
        self.cursor = found;
        Some(found)
    }

    /// Index of the group, added (to be read) on first sight.
    fn group_of(&mut self, backup_type: &[u8], backup_id: &[u8]) -> usize {
        if let Some(i) = self.find(backup_type, backup_id) {
            return i;
        }
        self.groups.push(GroupAgg::new(backup_type, backup_id));
        self.cursor = self.groups.len() - 1;
        self.cursor
    }

    /// Takes one item of the groups list: marks it live, and stale when its snapshots must be
    /// read again (`all`: the whole namespace is read anyway). A repeated item is ignored.
    fn listed(&mut self, item: &Group, all: bool) {
        let (backup_type, backup_id) = (item.backup_type.as_bytes(), item.backup_id.as_bytes());
        if !key_ok(backup_type, backup_id) {
            return;
        }
        let i = self.group_of(backup_type, backup_id);
        let g = &mut self.groups[i];
        if g.in_list {
            return;
        }
        g.live = true;
        g.in_list = true;
        let count = item.count.unwrap_or(0);
        g.listed = (
            item.last_backup.unwrap_or(0),
            u32::try_from(count).unwrap_or(u32::MAX),
        );
        g.stale = all || !g.valid || !g.read_known || g.read_as != g.listed;
    }

    /// Folds one snapshot into its group; with `only`, snapshots of other groups are ignored.
    fn add(&mut self, s: &Snapshot, history: usize, only: Option<usize>) {
        let Some(time) = s.time else { return };
        if !key_ok(&s.backup_type, &s.backup_id) {
            return;
        }
        let time = time.max(NO_TIME + 1);
        let i = match only {
            Some(i) => {
                let g = &self.groups[i];
                if !g.is(&s.backup_type, &s.backup_id) {
                    return;
                }
                i
            }
            None => {
                let i = self.group_of(&s.backup_type, &s.backup_id);
                let g = &mut self.groups[i];
                if !g.stale {
                    // Not in the groups list: first seen in this read.
                    g.stale = true;
                    g.reset_figures();
                }
                g.live = true;
                i
            }
        };
        self.groups[i].add(s, time, history);
    }

    /// Starts a scrape: nothing is listed, seen or stale yet.
    fn begin_scrape(&mut self) {
        self.live = true;
        for g in &mut self.groups {
            g.live = false;
            g.in_list = false;
            g.stale = false;
        }
    }

    /// Starts a full read: every group is read again.
    fn begin_full_read(&mut self) {
        for g in &mut self.groups {
            g.stale = true;
            g.reset_figures();
        }
    }

    /// Ends the reads of this scrape: the stale groups read (`ok`) or not; groups neither
    /// listed nor seen are dropped.
    fn end_reads(&mut self, ok: bool) {
        for g in &mut self.groups {
            if g.stale {
                g.end_read(ok);
            }
        }
        self.groups.retain(|g| g.live);
        // Kept until the next scrape: no slack beyond an eighth.
        if self.groups.capacity() > self.groups.len() + self.groups.len() / 8 + 1 {
            self.groups.shrink_to_fit();
        }
        self.cursor = 0;
    }

    /// Adds the namespace's snapshots by verification state to `total`; false when a group's
    /// figures are not whole (`total` is then not to be used).
    fn add_by_state(&self, total: &mut [u64; 3]) -> bool {
        for g in &self.groups {
            if !g.valid {
                return false;
            }
            for (t, n) in total.iter_mut().zip(g.by_state) {
                *t = t.saturating_add(u64::from(n));
            }
        }
        true
    }

    fn write(&self, out: &mut Families, store: &str) {
        for g in &self.groups {
            g.write(out, store, &self.name);
        }
    }
}

/// The namespaces of one datastore, kept between scrapes.
#[derive(Default)]
struct Store {
    name: String,
    namespaces: Vec<Namespace>,
    /// Start of the last full read that succeeded, Unix seconds.
    read_at: Option<i64>,
    /// Readable in this scrape.
    live: bool,
}

impl Store {
    /// Index of the namespace, added on first sight; `hint` is where it was last time.
    fn namespace(&mut self, name: &str, hint: usize) -> usize {
        if self.namespaces.get(hint).is_some_and(|n| n.name == name) {
            return hint;
        }
        if let Some(i) = self.namespaces.iter().position(|n| n.name == name) {
            return i;
        }
        let mut n = Namespace::default();
        set(&mut n.name, name);
        self.namespaces.push(n);
        self.namespaces.len() - 1
    }
}

/// A string value's bytes into `dst` (emptied when the value is no string).
fn set_bytes(dst: &mut Vec<u8>, value: Scalar<'_>) {
    dst.clear();
    dst.extend_from_slice(value.str_bytes().unwrap_or_default());
}

/// Bytes the tokenizer gave as a string (valid UTF-8) as text.
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
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
pub(crate) static SNAPSHOT_READS: Reads = Reads::Keys(&[("data", Reads::Keys(ITEM))]);

/// The fields of an item that are read; the sink tells them apart by their place in this list
/// ([`Path::listed`]), given by the constants below. In the order PBS sends them, so that each
/// key is found at the first comparison ([`Reads`] searches from after the last key found).
static ITEM: &[(&str, Reads)] = &[
    ("backup-type", Reads::All),
    ("backup-id", Reads::All),
    ("backup-time", Reads::All),
    ("comment", Reads::All),
    ("verification", Reads::Keys(&[("state", Reads::All)])),
    ("size", Reads::All),
    ("protected", Reads::All),
];
const BACKUP_TYPE: usize = 0;
const BACKUP_ID: usize = 1;
const BACKUP_TIME: usize = 2;
const COMMENT: usize = 3;
const VERIFICATION: usize = 4;
const SIZE: usize = 5;
const PROTECTED: usize = 6;

struct SnapshotSink<'a> {
    item: &'a mut Snapshot,
    ns: &'a mut Namespace,
    /// Finished snapshots kept per group (`--snapshot-history`).
    history: usize,
    /// The one group being read, when not the whole namespace.
    only: Option<usize>,
    /// natrontech's per-`backup-id` figures, when `--compat natrontech` asks for them.
    ids: Option<&'a mut SnapshotIds>,
}

impl Sink for SnapshotSink<'_> {
    const BULK: bool = true;
    // Inlined into the walker's loop, where it is called once per value read (left out of
    // line by some callers of `from_json` without it: 1.4 M more instructions a large list).
    #[inline]
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        // `data[i].field` or `data[i].verification.state` (the only listed key in there).
        if path.listed(0).is_none() || !path.is_index(1) {
            return;
        }
        let s = &mut *self.item;
        match (path.len(), path.listed(2)) {
            (3, Some(BACKUP_TYPE)) => set_bytes(&mut s.backup_type, value),
            (3, Some(BACKUP_ID)) => set_bytes(&mut s.backup_id, value),
            (3, Some(BACKUP_TIME)) => s.time = value.as_i64(),
            (3, Some(COMMENT)) => set_bytes(&mut s.comment, value),
            (3, Some(SIZE)) => s.size = value.as_u64(),
            (3, Some(PROTECTED)) => s.protected = value.as_bool().unwrap_or(false),
            (4, Some(VERIFICATION)) if path.listed(3).is_some() => {
                s.verification = match value.str_bytes() {
                    Some(b"ok") => Verification::Ok,
                    Some(b"failed") => Verification::Failed,
                    _ => Verification::None,
                };
            }
            _ => {}
        }
    }

    fn reads(&self) -> &'static Reads {
        &SNAPSHOT_READS
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            self.ns.add(self.item, self.history, self.only);
            if let Some(ids) = &mut self.ids {
                let s = &*self.item;
                let ok = s.verification == Verification::Ok;
                ids.add(
                    text(&s.backup_id),
                    s.time.unwrap_or(0),
                    ok,
                    text(&s.comment),
                );
            }
            self.item.reset();
        }
    }
}

/// What the snapshots collector keeps between scrapes: every readable datastore's groups
/// with their aggregates, the request path, the item being read, and this scrape's verify
/// task end times.
#[derive(Default)]
pub struct State {
    path: String,
    snapshot: Snapshot,
    group: Group,
    stores: Vec<Store>,
    /// `stores` while the target is held idle (then `stores` is empty), see [`packed`].
    packed: packed::Packed,
    verify: VerifyEnds,
    /// natrontech's per-`backup-id` figures (`--compat natrontech`).
    ids: SnapshotIds,
}

/// The aggregates are kept (the next scrape reads only what changed); the buffers and this
/// scrape's lists go.
impl super::IdleState for State {
    fn free_reuse(&mut self) {
        self.verify.release();
        *self = State {
            stores: std::mem::take(&mut self.stores),
            packed: std::mem::take(&mut self.packed),
            verify: std::mem::take(&mut self.verify),
            ..State::default()
        };
    }

    /// The aggregates (a few blocks per namespace, and per group with long texts or a
    /// history) into a handful of exact-size blocks, unpacked by the next scrape.
    fn repack(&mut self) {
        if self.stores.is_empty() {
            return;
        }
        // Packed before the old blocks are freed, so the new ones do not land in their places.
        if let Some(p) = packed::Packed::new(&self.stores) {
            self.packed = p;
            self.stores = Vec::new();
        }
    }
}

/// Reads what changed of every namespace of every readable datastore, and writes every
/// group's aggregate.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    let Some(count) = super::datastore_count(ctx).await else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let always = ctx.settings.snapshots_refresh == Refresh::Always || ctx.compat.is_some();
    let max_age = i64::try_from(ctx.settings.snapshots_max_age.as_secs()).unwrap_or(i64::MAX);
    let history = ctx
        .settings
        .snapshot_history
        .min(super::MAX_SNAPSHOT_HISTORY);
    if !state.packed.is_empty() {
        state.stores = std::mem::take(&mut state.packed).unpack();
    }
    let State {
        path,
        snapshot: item,
        group,
        stores,
        packed: _,
        verify,
        ids,
    } = state;
    // One task list per scrape, from before the oldest full read (none before the first).
    let oldest = stores.iter().filter_map(|s| s.read_at).min();
    if let (false, Some(oldest)) = (always, oldest) {
        verify
            .read(ctx, oldest.saturating_sub(VERIFY_LOOKBACK))
            .await;
    }
    for s in stores.iter_mut() {
        s.live = false;
    }
    for i in 0..count {
        let Some(inv) =
            super::readable_store(ctx.inventory, ctx.client, ctx.deadline, ctx.errors, i).await
        else {
            continue;
        };
        let si = match stores.iter().position(|s| s.name == inv.name) {
            Some(si) => si,
            None => {
                let mut s = Store::default();
                set(&mut s.name, &inv.name);
                stores.push(s);
                stores.len() - 1
            }
        };
        let store = &mut stores[si];
        store.live = true;
        let full = always
            || snapshot_refresh::full_read_due(max_age, verify, &inv.name, store.read_at, now);
        for n in &mut store.namespaces {
            n.live = false;
        }
        let mut complete = true;
        let mut lists = Lists {
            client: &mut *ctx.client,
            item: &mut *item,
            history,
            read: 0,
        };
        for (hint, ns) in inv.namespaces().iter().enumerate() {
            let ni = store.namespace(ns, hint);
            let nsa = &mut store.namespaces[ni];
            nsa.begin_scrape();
            if !always {
                datastore_path(path, &inv.name, "groups", ns);
                group.reset();
                let mut sink = GroupList {
                    group,
                    each: |g: &Group| nsa.listed(g, full),
                };
                if let Err(e) = lists.client.get_json(path, &mut sink, ctx.deadline).await {
                    ctx.errors.push(format!(
                        "listing groups of datastore '{}' namespace '{ns}' for its snapshots: {e}",
                        inv.name
                    ));
                    complete = false;
                    // Nothing is known of this namespace's groups now.
                    nsa.groups.clear();
                    continue;
                }
            }
            // Most groups changed (a new namespace, say): one list is cheaper than many.
            let stale = nsa.groups.iter().filter(|g| g.stale).count();
            if full || (stale > 1 && stale * 2 > nsa.groups.len()) {
                nsa.begin_full_read();
                datastore_path(path, &inv.name, "snapshots", ns);
                ids.clear();
                let compat_ids = ctx.compat.is_some().then_some(&mut *ids);
                let r = lists.read(path, ctx.deadline, nsa, None, compat_ids).await;
                if let Err(e) = &r {
                    complete = false;
                    ctx.errors.push(format!(
                        "listing snapshots of datastore '{}' namespace '{ns}': {e}",
                        inv.name
                    ));
                } else if let Some(compat) = ctx.compat.as_deref_mut() {
                    ids.write(compat, &inv.name, ns);
                }
                nsa.end_reads(r.is_ok());
                continue;
            }
            for gi in 0..nsa.groups.len() {
                if !nsa.groups[gi].stale {
                    continue;
                }
                let g = &mut nsa.groups[gi];
                g.reset_figures();
                group_path(path, &inv.name, ns, g);
                let r = lists.read(path, ctx.deadline, nsa, Some(gi), None).await;
                let g = &mut nsa.groups[gi];
                g.end_read(r.is_ok());
                if let Err(e) = r {
                    complete = false;
                    ctx.errors.push(format!(
                        "listing snapshots of group {}/{} in datastore '{}' namespace '{ns}': {e}",
                        g.backup_type(),
                        g.backup_id(),
                        inv.name
                    ));
                }
            }
            nsa.end_reads(true);
        }
        store.namespaces.retain(|n| n.live);
        if full && complete {
            store.read_at = Some(now);
        }
        let ds = [("datastore", inv.name.as_str())];
        let (mut by_state, mut whole) = ([0u64; 3], true);
        for n in &store.namespaces {
            n.write(out, &inv.name);
            whole = whole && n.add_by_state(&mut by_state);
        }
        if complete && whole {
            write_datastore_counts(out, &inv.name, by_state);
        }
        out.sample(Family::ListsRead, &ds, lists.read);
        if let Some(at) = store.read_at {
            out.sample(Family::ReadTimestamp, &ds, at);
        }
    }
    stores.retain(|s| s.live);
}

/// Reads snapshot lists for one datastore in one scrape, and counts them.
struct Lists<'a> {
    client: &'a mut crate::client::PbsClient,
    item: &'a mut Snapshot,
    /// Finished snapshots kept per group (`--snapshot-history`).
    history: usize,
    /// Lists read so far.
    read: u64,
}

impl Lists<'_> {
    /// Reads one snapshot list into the namespace's groups (`only`: into that group only), by
    /// `deadline` (the scrape's).
    async fn read(
        &mut self,
        path: &str,
        deadline: std::time::Instant,
        ns: &mut Namespace,
        only: Option<usize>,
        ids: Option<&mut SnapshotIds>,
    ) -> Result<(), crate::client::PbsError> {
        self.read += 1;
        self.item.reset();
        let mut sink = SnapshotSink {
            item: self.item,
            ns,
            history: self.history,
            only,
            ids,
        };
        self.client.get_json(path, &mut sink, deadline).await
    }
}

/// Path of one group's snapshot list, into a reused string.
fn group_path(out: &mut String, store: &str, ns: &str, g: &GroupAgg) {
    datastore_path(out, store, "snapshots", ns);
    out.push(if ns.is_empty() { '?' } else { '&' });
    out.push_str("backup-type=");
    crate::client::push_query_value(out, g.backup_type());
    out.push_str("&backup-id=");
    crate::client::push_query_value(out, g.backup_id());
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
    let mut n = Namespace::default();
    set(&mut n.name, ns);
    n.begin_scrape();
    n.begin_full_read();
    let mut sink = SnapshotSink {
        item: &mut item,
        ns: &mut n,
        history: history.min(super::MAX_SNAPSHOT_HISTORY),
        only: None,
        ids: None,
    };
    JsonReader::new().read_pieces(pieces, &mut sink)?;
    n.end_reads(true);
    n.write(out, store);
    let mut by_state = [0u64; 3];
    let whole = n.add_by_state(&mut by_state);
    write_datastore_counts(out, store, if whole { by_state } else { [0; 3] });
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
        let k = |time| Kept::new(time, time as u64, Verification::None, false);
        for t in [5, 1, 9, 9, 3, 7, 2, 8] {
            g.keep(k(t), 3);
        }
        let times: Vec<i64> = g.kept().iter().map(|e| e.time).collect();
        assert_eq!(times, [9, 8, 7]);
        assert_eq!(g.history.len(), 3, "exactly N entries allocated");
        g.keep(k(4), 0);
        assert_eq!(g.kept().len(), 3);
        g.reset_figures();
        g.keep(k(1), 3);
        assert_eq!(g.kept(), [k(1)]);
        // The flags and the size share a word.
        let big = Kept::new(-5, u64::MAX, Verification::Failed, true);
        assert_eq!(
            (big.time, big.size(), big.state(), big.protected()),
            (-5, KEPT_SIZE_MAX, Verification::Failed, true)
        );
        let ok = Kept::new(1, 42, Verification::Ok, false);
        assert_eq!(
            (ok.size(), ok.state(), ok.protected()),
            (42, Verification::Ok, false)
        );
        let mut buf = [0u8; 20];
        assert_eq!(decimal(i64::MIN, &mut buf), i64::MIN.to_string());
        assert_eq!(decimal(0, &mut buf), "0");
        assert_eq!(decimal(1784494800, &mut buf), "1784494800");
    }

    #[test]
    fn a_repacked_state_writes_the_same_and_reads_only_what_changed() {
        let body: &[u8] = include_bytes!("../../tests/fixtures/snapshots.json");
        let mut item = Snapshot::default();
        let mut n = Namespace::default();
        let mut full_read = |n: &mut Namespace| {
            n.begin_full_read();
            let mut sink = SnapshotSink {
                item: &mut item,
                ns: n,
                history: 2,
                only: None,
                ids: None,
            };
            JsonReader::new().read_pieces([body], &mut sink).unwrap();
            n.end_reads(true);
        };
        // A first scrape finds the groups; a second lists them (as the groups list does) and
        // reads them all, so each knows what the list said when it was read.
        n.begin_scrape();
        full_read(&mut n);
        let list: Vec<Group> = n
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mut item = Group::default();
                item.backup_type = g.backup_type().into();
                item.backup_id = g.backup_id().into();
                item.last_backup = Some(1_700_000_000 + i as i64);
                item.count = Some(i as u64 + 1);
                item
            })
            .collect();
        assert_eq!(list.len(), 5, "the fixture's groups");
        n.begin_scrape();
        for g in &list {
            n.listed(g, false);
        }
        full_read(&mut n);
        let write = |s: &State| {
            let mut f = Families::new(Family::TABLE);
            for store in &s.stores {
                for n in &store.namespaces {
                    n.write(&mut f, &store.name);
                }
            }
            let mut out = Vec::new();
            f.write_to(&mut out);
            String::from_utf8(out).unwrap()
        };
        let mut state = State::default();
        set(&mut state.path, "/admin/datastore/store1/snapshots");
        state.stores.push(Store {
            name: "store1".into(),
            namespaces: vec![n],
            read_at: Some(1),
            live: true,
        });
        let before = write(&state);
        assert!(before.contains("pbs_snapshot_size_bytes{"), "{before}");
        super::super::IdleState::free_reuse(&mut state);
        assert_eq!(state.path.capacity(), 0, "the buffers go");
        super::super::IdleState::repack(&mut state);
        assert!(
            state.stores.is_empty() && !state.packed.is_empty(),
            "packed"
        );
        // As the next scrape does first.
        state.stores = std::mem::take(&mut state.packed).unpack();
        assert_eq!(write(&state), before);
        // What the next groups list compares with is kept: an unchanged group is not read
        // again, a changed one is.
        assert_eq!(state.stores[0].read_at, Some(1));
        let n = &mut state.stores[0].namespaces[0];
        n.begin_scrape();
        for g in &list[1..] {
            n.listed(g, false);
        }
        let mut changed = Group::default();
        changed.backup_type = list[0].backup_type.clone();
        changed.backup_id = list[0].backup_id.clone();
        changed.last_backup = list[0].last_backup;
        changed.count = list[0].count.map(|c| c + 1);
        n.listed(&changed, false);
        let stale: Vec<bool> = n.groups.iter().map(|g| g.stale).collect();
        assert_eq!(stale, [true, false, false, false, false]);
        assert!(n.groups.iter().all(|g| g.valid));
    }

    #[test]
    fn field_constants_name_the_listed_keys() {
        let names: Vec<&str> = ITEM.iter().map(|(k, _)| *k).collect();
        for (at, key) in [
            (BACKUP_TYPE, "backup-type"),
            (BACKUP_ID, "backup-id"),
            (BACKUP_TIME, "backup-time"),
            (COMMENT, "comment"),
            (SIZE, "size"),
            (PROTECTED, "protected"),
            (VERIFICATION, "verification"),
        ] {
            assert_eq!(names[at], key);
        }
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        let whole = text(1 << 20);
        for step in [1, 7, 100, 1000] {
            assert_eq!(text(step), whole, "step {step}");
        }
    }
}
