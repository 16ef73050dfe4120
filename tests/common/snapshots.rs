//! Expected snapshot families of the simulator's groups, as its model and changes
//! (`pbs_sim::changes`) say, computed independently of the exporter.

use super::expo::Exposition;
use pbs_sim::changes::{Changes, GroupChange};
use pbs_sim::model::{self, Profile, VerifyState};

/// The group labels of group `g` of namespace `n` of datastore `d`.
pub fn labels(d: usize, n: usize, g: usize) -> [(&'static str, String); 4] {
    [
        ("datastore", model::store_name(d)),
        ("namespace", model::namespace_name(n)),
        ("backup_type", model::backup_type(g).to_string()),
        ("backup_id", model::backup_id(g)),
    ]
}

/// Group labels as pairs, with `extra` labels after them.
pub fn with<'a>(
    l: &'a [(&'static str, String); 4],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
    v.extend_from_slice(extra);
    v
}

/// Snapshots by verification state (none, ok, failed) of one group as changed.
pub fn group_states(p: &Profile, c: &GroupChange, g: usize) -> [u64; 3] {
    let mut by = [0u64; 3];
    for s in c.snapshots(p) {
        by[match c.verification(p, g, s) {
            None => 0,
            Some(VerifyState::Ok) => 1,
            Some(VerifyState::Failed) => 2,
        }] += 1;
    }
    by
}

/// Asserts every snapshot family of group `g` against the model with the sim's changes.
pub fn check_group(
    m: &Exposition,
    p: &Profile,
    changes: &Changes,
    (d, n, g): (usize, usize, usize),
) {
    let c = changes.group(d, n, g);
    let l = labels(d, n, g);
    let plain = with(&l, &[]);
    if c.snapshots(p).is_empty() {
        assert!(
            m.find("pbs_group_protected_snapshots", &plain).is_empty(),
            "{plain:?} is gone\n{}",
            m.text
        );
        return;
    }
    let (mut total, mut protected, mut last_ok) = (0u64, 0u64, None);
    for s in c.snapshots(p) {
        total += model::snapshot_size(p, g, s).unwrap_or(0);
        protected += c.protected(g, s) as u64;
        if c.verification(p, g, s) == Some(VerifyState::Ok) {
            last_ok = Some(model::backup_time(p, d, n, g, s));
        }
    }
    let newest = c.newest_finished(p, g).unwrap();
    let time = |s| model::backup_time(p, d, n, g, s) as f64;
    assert_eq!(
        m.value("pbs_group_newest_snapshot_size_bytes", &plain),
        model::snapshot_size(p, g, newest).unwrap() as f64
    );
    let state = c.verification(p, g, newest).map_or("none", |v| v.as_str());
    assert_eq!(
        m.value(
            "pbs_group_newest_snapshot_verification_state",
            &with(&l, &[("state", state)])
        ),
        1.0,
        "{plain:?}"
    );
    let comment = c.comment(p, g, newest).unwrap_or_default();
    assert_eq!(
        m.value(
            "pbs_group_newest_snapshot_info",
            &with(&l, &[("comment", &comment)])
        ),
        1.0
    );
    match last_ok {
        Some(t) => assert_eq!(
            m.value("pbs_group_last_verified_timestamp_seconds", &plain),
            t as f64
        ),
        None => assert!(
            m.find("pbs_group_last_verified_timestamp_seconds", &plain)
                .is_empty()
        ),
    }
    assert_eq!(
        m.value("pbs_group_oldest_snapshot_timestamp_seconds", &plain),
        time(c.snapshots(p).start)
    );
    assert_eq!(
        m.value("pbs_group_snapshots_size_bytes", &plain),
        total as f64
    );
    assert_eq!(
        m.value("pbs_group_protected_snapshots", &plain),
        protected as f64
    );
}

/// Asserts every group of datastore `d` and its counts by verification state.
pub fn check_store(m: &Exposition, p: &Profile, changes: &Changes, d: usize) {
    let mut by = [0u64; 3];
    for n in 0..p.namespaces {
        for g in 0..p.groups {
            check_group(m, p, changes, (d, n, g));
            for (t, v) in by
                .iter_mut()
                .zip(group_states(p, changes.group(d, n, g), g))
            {
                *t += v;
            }
        }
    }
    let store = model::store_name(d);
    for (state, want) in ["none", "ok", "failed"].into_iter().zip(by) {
        assert_eq!(
            m.value(
                "pbs_datastore_snapshots",
                &[("datastore", &store), ("verification", state)]
            ),
            want as f64,
            "{store} {state}"
        );
    }
}
