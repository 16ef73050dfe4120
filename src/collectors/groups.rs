//! Groups collector: every backup group in every namespace of every readable datastore, from
//! `GET /admin/datastore/{store}/namespace` then `GET .../groups?ns=` per namespace (cheap for
//! PBS). Answers "did every guest get backed up recently".

use super::{Ctx, MAX_TEXT_LABEL, Seen, datastore_path, set};
use crate::exposition::{Families, truncate_utf8};
use crate::json::{JsonError, JsonReader, Path, Reads, Scalar, Sink};

crate::families! {
    pub enum Family {
        LastBackup => Gauge "pbs_group_last_backup_timestamp_seconds" "Time of the group's newest finished snapshot; absent while the group has none.",
        Snapshots => Gauge "pbs_group_snapshots" "Snapshots in the group.",
        Info => Gauge "pbs_group_info" "Backup group facts as labels: owner and the first line of the group notes. Always 1.",
        Namespaces => Gauge "pbs_datastore_namespaces" "Namespaces in the datastore, the root included.",
        Groups => Gauge "pbs_datastore_groups" "Backup groups in the datastore, over all namespaces.",
    }
}

/// What the groups collector keeps between scrapes: the request path, the group being read
/// and the keys already written.
#[derive(Default)]
pub struct State {
    path: String,
    group: Group,
    seen: Seen,
}

/// Nothing is carried to the next scrape.
impl super::IdleState for State {}

/// One item of `/groups`.
#[derive(Default)]
pub(super) struct Group {
    pub(super) backup_type: String,
    pub(super) backup_id: String,
    owner: String,
    notes: String,
    pub(super) last_backup: Option<i64>,
    pub(super) count: Option<u64>,
}

/// What [`GroupSink`] reads of `/groups` (not, for one, the `files` of each group's last backup).
pub(crate) static GROUP_READS: Reads = Reads::Keys(&[(
    "data",
    Reads::Keys(&[
        ("backup-type", Reads::All),
        ("backup-id", Reads::All),
        ("owner", Reads::All),
        ("comment", Reads::All),
        ("last-backup", Reads::All),
        ("backup-count", Reads::All),
    ]),
)]);

/// Reads `/groups`, handing each group to `each` as its item closes.
pub(super) struct GroupList<'a, F: FnMut(&Group)> {
    pub(super) group: &'a mut Group,
    pub(super) each: F,
}

impl<F: FnMut(&Group)> Sink for GroupList<'_, F> {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let g = &mut *self.group;
        match path.item_key() {
            Some("backup-type") => set(&mut g.backup_type, value.as_str().unwrap_or("")),
            Some("backup-id") => set(&mut g.backup_id, value.as_str().unwrap_or("")),
            Some("owner") => set(&mut g.owner, value.as_str().unwrap_or("")),
            Some("comment") => set(&mut g.notes, value.as_str().unwrap_or("")),
            Some("last-backup") => g.last_backup = value.as_i64(),
            Some("backup-count") => g.count = value.as_u64(),
            _ => {}
        }
    }

    fn reads(&self) -> &'static Reads {
        &GROUP_READS
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            (self.each)(self.group);
            self.group.reset();
        }
    }
}

/// Writes one listed group's samples (the first of repeated ones); counts it in `groups`.
fn write_group(
    g: &Group,
    (store, ns): (&str, &str),
    seen: &mut Seen,
    out: &mut Families,
    groups: &mut u64,
) {
    if g.backup_type.is_empty()
        || g.backup_id.is_empty()
        || !seen.first(&[&g.backup_type, &g.backup_id])
    {
        return;
    }
    *groups += 1;
    let set = out.labels(&[
        ("datastore", store),
        ("namespace", ns),
        ("backup_type", g.backup_type.as_str()),
        ("backup_id", g.backup_id.as_str()),
    ]);
    if let Some(t) = g.last_backup.filter(|t| *t > 0) {
        out.sample_in(Family::LastBackup, set, t);
    }
    if let Some(n) = g.count {
        out.sample_in(Family::Snapshots, set, n);
    }
    out.sample_in_with(
        Family::Info,
        set,
        &[
            ("owner", &g.owner),
            ("notes", truncate_utf8(&g.notes, MAX_TEXT_LABEL)),
        ],
        1u64,
    );
}

impl Group {
    /// Forgets the fields, keeping the strings' capacity.
    pub(super) fn reset(&mut self) {
        self.backup_type.clear();
        self.backup_id.clear();
        self.owner.clear();
        self.notes.clear();
        self.last_backup = None;
        self.count = None;
    }
}

/// Lists the groups of every namespace of every readable datastore.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    let Some(count) = super::datastore_count(ctx).await else {
        return;
    };
    let State { path, group, seen } = state;
    for i in 0..count {
        let Some(store) =
            super::readable_store(ctx.inventory, ctx.client, ctx.deadline, ctx.errors, i).await
        else {
            continue;
        };
        let mut groups = 0;
        let mut complete = true;
        for ns in store.namespaces() {
            datastore_path(path, &store.name, "groups", ns);
            out.mark();
            group.reset();
            seen.clear();
            let mut listed = 0;
            let mut sink = GroupList {
                group,
                each: |g: &Group| write_group(g, (&store.name, ns), seen, out, &mut listed),
            };
            let r = ctx.client.get_json(path, &mut sink, ctx.deadline).await;
            match r {
                Ok(()) => groups += listed,
                Err(e) => {
                    out.rollback();
                    complete = false;
                    ctx.errors.push(format!(
                        "listing groups of datastore '{}' namespace '{ns}': {e}",
                        store.name
                    ));
                }
            }
        }
        let ds = [("datastore", store.name.as_str())];
        out.sample(Family::Namespaces, &ds, store.namespaces().len());
        if complete {
            out.sample(Family::Groups, &ds, groups);
        }
    }
}

/// Writes the group families from a `/groups` body given in pieces (fuzzing, benchmarks);
/// returns the number of groups.
pub fn from_json<'p>(
    store: &str,
    ns: &str,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<u64, JsonError> {
    let mut group = Group::default();
    let mut seen = Seen::default();
    let mut groups = 0;
    let mut sink = GroupList {
        group: &mut group,
        each: |g: &Group| write_group(g, (store, ns), &mut seen, out, &mut groups),
    };
    JsonReader::new().read_pieces(pieces, &mut sink)?;
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: &Families) -> String {
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_repeated_group_writes_no_duplicate_series() {
        let body = br#"{"data":[{"backup-type":"vm","backup-id":"1","backup-count":2,"last-backup":5},{"backup-type":"vm","backup-id":"1","backup-count":3,"last-backup":6},{"backup-type":"ct","backup-id":"1","backup-count":1,"last-backup":7}]}"#;
        let mut f = Families::new(Family::TABLE);
        assert_eq!(from_json("s", "", [&body[..]], &mut f).unwrap(), 2);
        let t = text(&f);
        assert_eq!(t.matches("pbs_group_snapshots{").count(), 2, "{t}");
        assert!(
            t.contains("backup_type=\"vm\",backup_id=\"1\"} 2\n"),
            "the first one wins: {t}"
        );
    }

    #[test]
    fn empty_groups_have_a_count_but_no_last_backup() {
        let body = br#"{"data":[{"backup-type":"vm","backup-id":"9","backup-count":0,"last-backup":0,"files":[],"owner":"root@pam"}]}"#;
        let mut f = Families::new(Family::TABLE);
        from_json("s", "ns", [&body[..]], &mut f).unwrap();
        let t = text(&f);
        assert!(t.contains("pbs_group_snapshots{datastore=\"s\",namespace=\"ns\",backup_type=\"vm\",backup_id=\"9\"} 0\n"), "{t}");
        assert!(
            !t.contains("pbs_group_last_backup_timestamp_seconds{"),
            "{t}"
        );
    }
}
