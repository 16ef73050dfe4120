//! The snapshots collector reads only what changed: after each change the simulator can make
//! (a new backup, a prune, a verify, a protected snapshot, a comment, a removed group) the next
//! scrape shows the new state, and the simulator's cost counters prove which snapshot lists
//! were read. Expected values come from the simulator's model with its changes
//! (`pbs_sim::changes`), computed here independently of the exporter.

mod common;

use common::expo::Exposition;
use common::snapshots::{labels, with};
use common::{Exporter, start_sim};
use pbs_sim::model::{self, Profile, VerifyState};
use pbs_sim::{Change, Faults, SimHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// 2 datastores × 2 namespaces (root, ns1) × 5 groups × 4 snapshots; group 6 would be the
/// running one, so every group here has only finished snapshots.
const P: Profile = Profile::new(2, 2, 5, 4);

/// A long age limit: only changes make the collector read.
const NO_AGE: (&str, &str) = ("PBS_SNAPSHOTS_MAX_AGE", "1h");

fn check_group(m: &Exposition, sim: &SimHandle, at: (usize, usize, usize)) {
    common::snapshots::check_group(m, &P, &sim.changes(), at);
}

fn check_store(m: &Exposition, sim: &SimHandle, d: usize) {
    common::snapshots::check_store(m, &P, &sim.changes(), d);
}

/// Snapshot lists the exporter says it read for datastore `d` in this scrape.
fn lists_read(m: &Exposition, d: usize) -> f64 {
    m.value(
        "pbs_datastore_snapshot_lists_read",
        &[("datastore", &model::store_name(d))],
    )
}

fn read_at(m: &Exposition, d: usize) -> f64 {
    m.value(
        "pbs_datastore_snapshots_read_timestamp_seconds",
        &[("datastore", &model::store_name(d))],
    )
}

fn snapshots_ok(m: &Exposition) -> bool {
    m.value(
        "pbs_scrape_collector_success",
        &[("collector", "snapshots")],
    ) == 1.0
}

/// Scrapes once and returns the exposition with the manifests the scrape made PBS read,
/// in total and per datastore.
fn scrape(exp: &Exporter, sim: &SimHandle) -> (Exposition, u64, [u64; 2]) {
    sim.reset_cost();
    let m = exp.scrape();
    let cost = sim.cost();
    let per = [cost.manifests_of("store1"), cost.manifests_of("store2")];
    (m, cost.manifests(), per)
}

/// Snapshots of every group of one datastore as changed.
fn store_snapshots(sim: &SimHandle, d: usize) -> u64 {
    let changes = sim.changes();
    (0..P.namespaces)
        .flat_map(|n| (0..P.groups).map(move |g| (n, g)))
        .map(|(n, g)| changes.group(d, n, g).backup_count(&P))
        .sum()
}

/// Waits until the wall clock is in a later second than `t` (task times are in seconds).
fn next_second_after(t: SystemTime) {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    while secs(SystemTime::now()) <= secs(t) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn after_each_change_only_the_changed_group_or_datastore_is_read() {
    let sim = start_sim(P, |_| {});
    let exp = Exporter::start(&sim, &[NO_AGE], &[]);
    let total = P.total_snapshots() as u64;

    // The first scrape reads everything, one list per namespace.
    let (m, manifests, _) = scrape(&exp, &sim);
    assert_eq!(manifests, total);
    for d in 0..2 {
        assert_eq!(lists_read(&m, d), 2.0);
        check_store(&m, &sim, d);
    }
    let first_read = read_at(&m, 0);

    // Nothing changed: nothing is read, the figures stay.
    let (m, manifests, _) = scrape(&exp, &sim);
    assert_eq!(manifests, 0);
    assert_eq!((lists_read(&m, 0), lists_read(&m, 1)), (0.0, 0.0));
    assert_eq!(read_at(&m, 0), first_read);
    check_store(&m, &sim, 0);
    check_store(&m, &sim, 1);

    // A new backup in store1 ns1 ct/101: only that group (now 5 snapshots) is read.
    sim.change((0, 1, 1), Change::NewBackup).unwrap();
    let (m, manifests, per) = scrape(&exp, &sim);
    assert_eq!((manifests, per), (5, [5, 0]));
    assert_eq!((lists_read(&m, 0), lists_read(&m, 1)), (1.0, 0.0));
    check_store(&m, &sim, 0);

    // A prune keeping 2 in store2 root vm/100.
    sim.change((1, 0, 0), Change::Prune { keep: 2 }).unwrap();
    let (m, manifests, per) = scrape(&exp, &sim);
    assert_eq!((manifests, per), (2, [0, 2]));
    check_store(&m, &sim, 1);

    // A verify in store1 turns an old and the newest snapshot of vm/103 failed: store1 is read
    // in full (a verify changes no group's last backup or count), store2 not at all.
    let changed_at = SystemTime::now();
    sim.change((0, 0, 3), Change::Verify(VerifyState::Failed))
        .unwrap();
    // Task times are whole seconds: the next full read starts in a later second.
    next_second_after(changed_at);
    let (m, manifests, per) = scrape(&exp, &sim);
    assert_eq!(per, [store_snapshots(&sim, 0), 0]);
    assert_eq!(manifests, store_snapshots(&sim, 0));
    assert_eq!((lists_read(&m, 0), lists_read(&m, 1)), (2.0, 0.0));
    assert!(read_at(&m, 0) > first_read);
    assert_eq!(read_at(&m, 1), first_read);
    check_store(&m, &sim, 0);
    let l = labels(0, 0, 3);
    assert_eq!(
        m.value(
            "pbs_group_newest_snapshot_verification_state",
            &with(&l, &[("state", "failed")])
        ),
        1.0
    );
    // Seen once: the next scrape reads nothing.
    let (_, manifests, _) = scrape(&exp, &sim);
    assert_eq!(manifests, 0);

    // A removed group: nothing to read, its series are gone, the counts follow.
    sim.change((1, 1, 2), Change::Remove).unwrap();
    let (m, manifests, _) = scrape(&exp, &sim);
    assert_eq!(manifests, 0);
    check_store(&m, &sim, 1);
    assert!(snapshots_ok(&m));
}

#[test]
fn comment_and_protected_flag_appear_within_max_age() {
    let sim = start_sim(P, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_SNAPSHOTS_MAX_AGE", "2s")], &[]);
    let started = Instant::now();
    let (m, _, _) = scrape(&exp, &sim);
    check_store(&m, &sim, 0);
    let first_read = read_at(&m, 0);
    sim.change((0, 1, 4), Change::Comment("renamed guest".into()))
        .unwrap();
    sim.change((0, 1, 4), Change::Protect).unwrap();

    // No list shows them: the groups look unchanged.
    let (m, manifests, _) = scrape(&exp, &sim);
    if started.elapsed() < Duration::from_millis(1900) {
        assert_eq!(manifests, 0);
        let l = labels(0, 1, 4);
        assert_eq!(
            m.value("pbs_group_protected_snapshots", &with(&l, &[])),
            1.0,
            "the old figure until the next full read"
        );
    }

    // Within the age limit, both datastores are read in full and show them.
    std::thread::sleep(Duration::from_millis(2100).saturating_sub(started.elapsed()));
    let (m, manifests, _) = scrape(&exp, &sim);
    assert_eq!(manifests, P.total_snapshots() as u64);
    assert!(read_at(&m, 0) >= first_read + 2.0);
    check_store(&m, &sim, 0);
    let l = labels(0, 1, 4);
    assert_eq!(
        m.value(
            "pbs_group_newest_snapshot_info",
            &with(&l, &[("comment", "renamed guest")])
        ),
        1.0
    );
    assert_eq!(
        m.value("pbs_group_protected_snapshots", &with(&l, &[])),
        2.0
    );
}

#[test]
fn refresh_always_reads_everything_every_scrape() {
    let sim = start_sim(P, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_SNAPSHOTS_REFRESH", "always")], &[]);
    for _ in 0..2 {
        let (m, manifests, per) = scrape(&exp, &sim);
        assert_eq!(manifests, P.total_snapshots() as u64);
        assert_eq!(per, [40, 40]);
        assert_eq!((lists_read(&m, 0), lists_read(&m, 1)), (2.0, 2.0));
        check_store(&m, &sim, 0);
        check_store(&m, &sim, 1);
    }
    // As before this mode existed: no verify-task list, no groups lists of its own (the
    // groups collector's one per namespace is all).
    sim.reset_cost();
    exp.scrape();
    let cost = sim.cost();
    assert_eq!(cost.endpoint("/admin/datastore/{store}/groups").requests, 4);
    assert_eq!(cost.endpoint("/nodes/{node}/tasks").requests, 1);
}

#[test]
fn a_failed_group_read_keeps_no_stale_aggregate() {
    let sim = start_sim(P, |_| {});
    let exp = Exporter::start(&sim, &[NO_AGE], &[]);
    let (m, _, _) = scrape(&exp, &sim);
    assert!(snapshots_ok(&m));
    sim.change((0, 0, 1), Change::NewBackup).unwrap();
    sim.set_faults(Faults {
        forbidden: vec!["/admin/datastore/store1/snapshots".into()],
        ..Faults::default()
    });
    let m = exp.scrape();
    assert!(!snapshots_ok(&m));
    // The changed group is left out, not shown with its old figures; the unchanged ones stay;
    // the datastore's counts would be wrong, so they are left out too.
    let changed = labels(0, 0, 1);
    assert!(
        m.find("pbs_group_protected_snapshots", &with(&changed, &[]))
            .is_empty(),
        "{}",
        m.text
    );
    check_group(&m, &sim, (0, 0, 0));
    check_group(&m, &sim, (0, 1, 1));
    assert!(
        m.find("pbs_datastore_snapshots", &[("datastore", "store1")])
            .is_empty()
    );
    check_store(&m, &sim, 1);

    // PBS answers again: the group is read at the next scrape.
    sim.set_faults(Faults::default());
    let (m, manifests, _) = scrape(&exp, &sim);
    assert!(snapshots_ok(&m));
    assert_eq!(manifests, 5);
    check_store(&m, &sim, 0);
}

#[test]
fn without_the_task_list_the_age_limit_still_applies() {
    let sim = start_sim(P, |_| {});
    sim.set_faults(Faults {
        forbidden: vec!["/nodes/localhost/tasks".into()],
        ..Faults::default()
    });
    let exp = Exporter::start(
        &sim,
        &[NO_AGE, ("PBS_COLLECTORS", "datastore,groups,snapshots")],
        &[],
    );
    for _ in 0..3 {
        let (m, _, _) = scrape(&exp, &sim);
        assert!(snapshots_ok(&m));
    }
    // A verify is not seen without the task list; the collector says so once.
    sim.change((1, 0, 0), Change::Verify(VerifyState::Ok))
        .unwrap();
    let (_, manifests, _) = scrape(&exp, &sim);
    assert_eq!(manifests, 0);
    let log = exp.wait_log("PBS denied GET /nodes/localhost/tasks");
    assert_eq!(
        log.matches("PBS denied GET /nodes/localhost/tasks").count(),
        1,
        "{log}"
    );
}
