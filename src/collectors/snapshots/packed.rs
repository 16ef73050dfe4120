//! The snapshots collector's aggregates while their target is held idle, packed into a handful of
//! exact-size blocks: every datastore and namespace as a fixed-size record and every group as a
//! variable-length one (one list each, in order), their texts one after the other in one arena,
//! their kept snapshots (`--snapshot-history`) in one more list. Group records, most of what a
//! target keeps, are written with variable-length integers ([`super::varint`], times as differences
//! from the newest): 34 bytes for a reference group instead of 88. The next scrape of the target
//! unpacks them into the scrape-time form ([`Store`], [`Namespace`], [`GroupAgg`]) before reading
//! anything.
//!
//! Why: the scrape-time form is a few blocks per namespace (its name, its groups) plus the
//! long texts and the history of each group, allocated while the scrapes of other targets ran.
//! Held idle, each of those blocks pins a page of its own among freed scrape buffers; the
//! packed form, made once those are free, fills a few contiguous pages instead
//! (`scripts/footprint.sh`, DESIGN.md "Targets held idle").

use super::varint::{self, Reader};
use super::{GroupAgg, Kept, Namespace, ShortStr, Store, Verification};

/// What a released target's snapshots collector keeps; empty (no block) when nothing is packed.
#[derive(Default)]
pub(super) struct Packed {
    /// Every datastore, in order.
    stores: Vec<StoreRec>,
    /// Every datastore's namespaces, in order.
    namespaces: Vec<NamespaceRec>,
    /// Every namespace's groups, in order: each [`GroupRec`] encoded ([`GroupRec::encode`]).
    groups: Vec<u8>,
    /// Store names, then for each namespace its name, then for each group its key and newest
    /// comment, in record order; records give the lengths.
    text: String,
    /// Each group's kept snapshots, newest first, in record order.
    history: Vec<Kept>,
}

/// A datastore: its name and how many of the following namespace records are its own.
struct StoreRec {
    /// Bytes of its name in the arena.
    name_len: u32,
    /// Its namespace records.
    namespaces: u32,
    /// [`Store::read_at`].
    read_at: Option<i64>,
    /// [`Store::live`].
    live: bool,
}

/// A namespace: its name and how many of the following group records are its own.
struct NamespaceRec {
    /// Bytes of its name in the arena.
    name_len: u32,
    /// Its group records.
    groups: u32,
    /// [`Namespace::live`].
    live: bool,
}

/// A group's aggregate without its heap parts: every field the next scrape reads. `listed`
/// (what this scrape's groups list said) is not kept: the next scrape writes it before it reads
/// it, and `read_as` copied from it is used only when `read_known`, which needs the group to
/// have been listed in that same scrape. Fields as in [`GroupAgg`], unless said otherwise.
struct GroupRec {
    read_as: (i64, u32),
    newest: i64,
    last_ok: i64,
    oldest: i64,
    newest_size: u64,
    total_size: u64,
    protected: u32,
    by_state: [u32; 3],
    /// Bytes of the key (type, then id) in the arena.
    key_len: u32,
    /// Bytes of the newest comment in the arena, after the key.
    comment_len: u32,
    type_len: u8,
    newest_state: Verification,
    /// Entries of [`Packed::history`] that are this group's.
    history_len: u8,
    /// Length of the group's history buffer (`--snapshot-history` when it keeps any).
    history_cap: u8,
    /// `read_known`, `live`, `in_list`, `stale`, `valid`, from bit 0 up.
    flags: u8,
}

const READ_KNOWN: u8 = 1;
const LIVE: u8 = 2;
const IN_LIST: u8 = 4;
const STALE: u8 = 8;
const VALID: u8 = 16;

/// A length that fits a record's `u32` field, or `None` (too long to pack).
fn len32(s: &str) -> Option<u32> {
    u32::try_from(s.len()).ok()
}

impl Packed {
    /// `stores` packed, or `None` when a text is longer than a record can say (4 GiB) or a
    /// history longer than 255 entries (neither can come from a PBS body the client accepts);
    /// the caller then keeps the scrape-time form.
    pub(super) fn new(stores: &[Store]) -> Option<Packed> {
        // Exact sizes first, so that no list grows (and leaves a freed block behind).
        let (mut namespaces, mut groups, mut text, mut history) = (0, 0usize, 0usize, 0);
        for s in stores {
            namespaces += s.namespaces.len();
            text = text.saturating_add(s.name.len());
            for n in &s.namespaces {
                text = text.saturating_add(n.name.len());
                for g in &n.groups {
                    let mut record = varint::Count::default();
                    GroupRec::new(g)?.encode(&mut record);
                    groups += record.0;
                    let parts = g.key.as_bytes().len() + g.newest_comment.as_bytes().len();
                    text = text.saturating_add(parts);
                    history += g.kept().len();
                }
            }
        }
        u32::try_from(text).ok()?;
        let mut p = (
            Vec::with_capacity(stores.len()),
            Vec::with_capacity(namespaces),
            Vec::with_capacity(groups),
            String::with_capacity(text),
            Vec::with_capacity(history),
        );
        for s in stores {
            p.0.push(StoreRec {
                name_len: len32(&s.name)?,
                namespaces: u32::try_from(s.namespaces.len()).ok()?,
                read_at: s.read_at,
                live: s.live,
            });
            p.3.push_str(&s.name);
            for n in &s.namespaces {
                p.1.push(NamespaceRec {
                    name_len: len32(&n.name)?,
                    groups: u32::try_from(n.groups.len()).ok()?,
                    live: n.live,
                });
                p.3.push_str(&n.name);
                for g in &n.groups {
                    GroupRec::new(g)?.encode(&mut p.2);
                    p.3.push_str(g.key.as_str());
                    p.3.push_str(g.newest_comment.as_str());
                    p.4.extend_from_slice(g.kept());
                }
            }
        }
        // Every list was made with its exact length.
        Some(Packed {
            stores: p.0,
            namespaces: p.1,
            groups: p.2,
            text: p.3,
            history: p.4,
        })
    }

    /// True when nothing is packed.
    pub(super) fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// The scrape-time form again (every list exact-size).
    pub(super) fn unpack(&self) -> Vec<Store> {
        let mut text = Cursor(&self.text);
        let mut history = &self.history[..];
        let mut namespaces = self.namespaces.iter();
        let mut groups = Reader(&self.groups);
        let mut stores = Vec::with_capacity(self.stores.len());
        for s in self.stores.iter() {
            let name = text.take(s.name_len).into();
            let mut ns = Vec::with_capacity(s.namespaces as usize);
            for n in namespaces.by_ref().take(s.namespaces as usize) {
                let name = text.take(n.name_len).into();
                let mut gs = Vec::with_capacity(n.groups as usize);
                for _ in 0..n.groups {
                    let g = GroupRec::decode(&mut groups);
                    let (kept, rest) = history
                        .split_at_checked(usize::from(g.history_len))
                        .unwrap_or((history, &[]));
                    history = rest;
                    gs.push(g.unpack(&mut text, kept));
                }
                ns.push(Namespace {
                    name,
                    groups: gs,
                    live: n.live,
                    cursor: 0,
                });
            }
            stores.push(Store {
                name,
                namespaces: ns,
                read_at: s.read_at,
                live: s.live,
            });
        }
        stores
    }
}

/// Reads the arena's texts in order.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    /// The next `len` bytes (whole texts were pushed, so they end on a character boundary).
    fn take(&mut self, len: u32) -> &'a str {
        let at = (len as usize).min(self.0.len());
        let (head, rest) = self.0.split_at_checked(at).unwrap_or(("", self.0));
        self.0 = rest;
        head
    }
}

/// [`Verification`] as a byte of a record.
fn state_byte(v: Verification) -> u8 {
    match v {
        Verification::None => 0,
        Verification::Ok => 1,
        Verification::Failed => 2,
    }
}

/// The byte [`state_byte`] wrote (anything else: not verified).
fn state_of(b: u8) -> Verification {
    match b {
        1 => Verification::Ok,
        2 => Verification::Failed,
        _ => Verification::None,
    }
}

impl GroupRec {
    /// Appends the record: times as differences from `newest` (all of a group's are close to
    /// it, so a few bytes each), any `i64` kept exactly (wrapping differences).
    fn encode(&self, out: &mut impl Extend<u8>) {
        varint::put_i64(out, self.newest);
        for t in [self.read_as.0, self.last_ok, self.oldest] {
            varint::put_i64(out, t.wrapping_sub(self.newest));
        }
        varint::put_u64(out, self.newest_size);
        varint::put_u64(out, self.total_size);
        let counts = [
            self.read_as.1,
            self.protected,
            self.key_len,
            self.comment_len,
        ];
        for v in counts.into_iter().chain(self.by_state) {
            varint::put_u64(out, u64::from(v));
        }
        out.extend([
            self.type_len,
            state_byte(self.newest_state),
            self.history_len,
            self.history_cap,
            self.flags,
        ]);
    }

    /// The record [`GroupRec::encode`] wrote at the reader's position.
    fn decode(r: &mut Reader<'_>) -> GroupRec {
        let newest = r.i64();
        let mut time = || newest.wrapping_add(r.i64());
        let (read_at, last_ok, oldest) = (time(), time(), time());
        let (newest_size, total_size) = (r.u64(), r.u64());
        let (read_count, protected, key_len, comment_len) = (r.u32(), r.u32(), r.u32(), r.u32());
        let by_state = [r.u32(), r.u32(), r.u32()];
        GroupRec {
            read_as: (read_at, read_count),
            newest,
            last_ok,
            oldest,
            newest_size,
            total_size,
            protected,
            by_state,
            key_len,
            comment_len,
            type_len: r.byte(),
            newest_state: state_of(r.byte()),
            history_len: r.byte(),
            history_cap: r.byte(),
            flags: r.byte(),
        }
    }

    fn new(g: &GroupAgg) -> Option<GroupRec> {
        let flags = (u8::from(g.read_known) * READ_KNOWN)
            | (u8::from(g.live) * LIVE)
            | (u8::from(g.in_list) * IN_LIST)
            | (u8::from(g.stale) * STALE)
            | (u8::from(g.valid) * VALID);
        Some(GroupRec {
            read_as: g.read_as,
            newest: g.newest,
            last_ok: g.last_ok,
            oldest: g.oldest,
            newest_size: g.newest_size,
            total_size: g.total_size,
            protected: g.protected,
            by_state: g.by_state,
            key_len: len32(g.key.as_str())?,
            comment_len: len32(g.newest_comment.as_str())?,
            type_len: g.type_len,
            newest_state: g.newest_state,
            // What is packed (`kept`), so the history list and the records cannot disagree.
            history_len: u8::try_from(g.kept().len()).ok()?,
            history_cap: u8::try_from(g.history.len()).ok()?,
            flags,
        })
    }

    /// The aggregate, its texts read from `text`, its kept snapshots `kept`.
    fn unpack(&self, text: &mut Cursor<'_>, kept: &[Kept]) -> GroupAgg {
        let key = ShortStr::new(text.take(self.key_len));
        let newest_comment = ShortStr::new(text.take(self.comment_len));
        let mut history = vec![Kept::default(); usize::from(self.history_cap)];
        for (slot, k) in history.iter_mut().zip(kept) {
            *slot = *k;
        }
        let on = |bit| self.flags & bit != 0;
        GroupAgg {
            key,
            type_len: self.type_len,
            read_as: self.read_as,
            read_known: on(READ_KNOWN),
            listed: (0, 0),
            live: on(LIVE),
            in_list: on(IN_LIST),
            stale: on(STALE),
            valid: on(VALID),
            newest: self.newest,
            last_ok: self.last_ok,
            oldest: self.oldest,
            newest_size: self.newest_size,
            newest_state: self.newest_state,
            newest_comment,
            total_size: self.total_size,
            protected: self.protected,
            by_state: self.by_state,
            history: history.into_boxed_slice(),
            history_len: self.history_len.min(self.history_cap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::NO_TIME;
    use super::*;

    /// Every field of a group, for comparison (`listed` aside: not kept, see [`GroupRec`]).
    fn fields(g: &GroupAgg) -> String {
        format!(
            "{:?} {:?}",
            (
                g.key.as_str(),
                g.type_len,
                g.read_as,
                g.read_known,
                g.live,
                g.in_list,
                g.stale,
                g.valid,
                g.newest,
                g.last_ok,
                g.oldest,
            ),
            (
                g.newest_size,
                g.newest_state,
                g.newest_comment.as_str(),
                g.total_size,
                g.protected,
                g.by_state,
                &g.history,
                g.history_len,
            )
        )
    }

    fn all(stores: &[Store]) -> Vec<String> {
        let mut v = Vec::new();
        for s in stores {
            v.push(format!("store {} {:?} {}", s.name, s.read_at, s.live));
            for n in &s.namespaces {
                v.push(format!("ns {} {} {}", n.name, n.live, n.groups.len()));
                v.extend(n.groups.iter().map(fields));
            }
        }
        v
    }

    fn group(t: &str, id: &str, comment: &str, n: usize, kept: &[i64], flags: u8) -> GroupAgg {
        let mut g = GroupAgg::new(t.as_bytes(), id.as_bytes());
        for (i, &time) in kept.iter().enumerate() {
            g.keep(Kept::new(time, 100 + i as u64, Verification::Ok, i == 0), n);
        }
        g.newest_comment = ShortStr::new(comment);
        g.read_as = (1_700_000_000, 7);
        (g.read_known, g.live, g.in_list, g.stale, g.valid) = (
            flags & READ_KNOWN != 0,
            flags & LIVE != 0,
            flags & IN_LIST != 0,
            flags & STALE != 0,
            flags & VALID != 0,
        );
        (g.newest, g.last_ok, g.oldest) = (30, NO_TIME, -5);
        (g.newest_size, g.total_size, g.protected) = (u64::MAX, 12, 3);
        g.newest_state = Verification::Failed;
        g.by_state = [1, 2, u32::MAX];
        g
    }

    fn namespace(name: &str, groups: Vec<GroupAgg>) -> Namespace {
        Namespace {
            name: name.into(),
            groups,
            live: true,
            cursor: 1,
        }
    }

    /// A group as the reference profile has them: 34 bytes packed, where the fixed-size record
    /// took 88.
    #[test]
    fn a_typical_group_record_takes_34_bytes() {
        let mut g = GroupAgg::new(b"vm", b"100");
        let newest = 1_784_000_000;
        g.read_as = (newest, 30);
        (g.newest, g.last_ok, g.oldest) = (newest, newest, newest - 30 * 86_400);
        (g.newest_size, g.total_size) = (10_000_000_000, 300_000_000_000);
        g.by_state = [30, 0, 0];
        g.newest_comment = ShortStr::new("web01");
        let rec = GroupRec::new(&g).unwrap();
        let mut bytes = Vec::new();
        rec.encode(&mut bytes);
        // newest 5, read time and last ok 1 + 1, oldest 4, sizes 5 + 6, counts 4, states 3,
        // bytes 5.
        assert_eq!(bytes.len(), 34);
        assert_eq!(std::mem::size_of::<GroupRec>(), 88);
        let back = GroupRec::decode(&mut Reader(&bytes)).unpack(&mut Cursor("vm100web01"), &[]);
        assert_eq!(fields(&back), fields(&g));
    }

    #[test]
    fn unpacking_gives_back_every_field_in_exact_size_lists() {
        let long = "ü".repeat(40);
        let stores = vec![
            Store {
                name: "store1".into(),
                namespaces: vec![
                    namespace(
                        "",
                        vec![
                            group("vm", "100", "web01", 0, &[], 0b11111),
                            group("host", &long, &long, 3, &[5, 9], 0b10011),
                        ],
                    ),
                    namespace("a/b", vec![]),
                    namespace("é", vec![group("ct", "2", "", 2, &[1, 2, 3], 0)]),
                ],
                read_at: Some(1_784_000_000),
                live: true,
            },
            Store {
                name: "empty".into(),
                namespaces: vec![],
                read_at: None,
                live: false,
            },
        ];
        let p = Packed::new(&stores).unwrap();
        assert!(!p.is_empty());
        // The three groups' records in one list, texts in one, history in one. Each record
        // here: 44 bytes (newest 1, the read time 5, no last ok 10, oldest 1, sizes 10 + 1,
        // counts 4, states 1 + 1 + 5, bytes 5).
        assert_eq!(
            (p.stores.len(), p.namespaces.len(), p.groups.len()),
            (2, 3, 3 * 44)
        );
        assert_eq!(p.history.len(), 4, "only the kept entries: 0 + 2 + 2");
        let text: usize = ["store1", "empty", "", "a/b", "é"]
            .iter()
            .map(|s| s.len())
            .sum::<usize>()
            + "vm100web01".len()
            + "host".len()
            + 2 * long.len()
            + "ct2".len();
        assert_eq!(p.text.len(), text);
        // Exact-size blocks: nothing was grown.
        assert_eq!(
            (p.text.capacity(), p.groups.capacity(), p.history.capacity()),
            (text, 3 * 44, 4)
        );
        let back = p.unpack();
        assert_eq!(all(&back), all(&stores));
        // The scrape-time form as new: exact-size lists, cursors at the start, history
        // buffers of the setting's length.
        assert_eq!(back[0].namespaces.capacity(), 3);
        assert_eq!(back[0].namespaces[0].groups.capacity(), 2);
        assert_eq!(back[0].namespaces[0].cursor, 0);
        assert_eq!(back[0].namespaces[0].groups[1].history.len(), 3);
        assert_eq!(back[0].namespaces[2].groups[0].kept().len(), 2);
        assert!(Packed::new(&[]).unwrap().is_empty());
        // Records cut short (never written so) unpack without a panic.
        let mut short = Packed::new(&stores).unwrap();
        short.groups.truncate(50);
        assert_eq!(short.unpack().len(), 2);
        assert!(Packed::default().unpack().is_empty());
    }
}
