//! Every metric family's values, scraped end to end from the real binary against the
//! simulator, equal what the simulator's model says PBS holds.

mod common;

use pbs_exporter::collectors::CollectorId;

use common::{Exporter, start_sim};
use pbs_sim::Profile;
use pbs_sim::model;
use pbs_sim::{jobs, tasks};

/// 2 datastores × 3 namespaces (root, ns1, ns1/sub2) × 8 groups × 6 snapshots: groups 6 has a
/// running newest snapshot, group 4 a comment that needs escaping, groups 1 and 5 have notes.
const PROFILE: Profile = Profile::new(2, 3, 8, 6);

fn group_labels<'a>(store: &'a str, ns: &'a str, g: usize, id: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("datastore", store),
        ("namespace", ns),
        ("backup_type", model::backup_type(g)),
        ("backup_id", id),
    ]
}

#[test]
fn node_version_and_exporter_families() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    let n = model::NODE_STATUS;
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    assert_eq!(
        m.value(
            "pbs_version_info",
            &[
                ("version", model::VERSION),
                ("release", model::RELEASE),
                ("repoid", model::REPOID)
            ]
        ),
        1.0
    );
    assert_eq!(m.value("pbs_host_cpu_usage_ratio", &[]), n.cpu);
    assert_eq!(m.value("pbs_host_io_wait_ratio", &[]), n.wait);
    assert_eq!(m.value("pbs_host_load1", &[]), n.loadavg[0]);
    assert_eq!(m.value("pbs_host_load5", &[]), n.loadavg[1]);
    assert_eq!(m.value("pbs_host_load15", &[]), n.loadavg[2]);
    for (i, part) in ["total", "used", "free"].into_iter().enumerate() {
        assert_eq!(
            m.value(&format!("pbs_host_memory_{part}_bytes"), &[]),
            n.memory[i] as f64
        );
        assert_eq!(
            m.value(&format!("pbs_host_swap_{part}_bytes"), &[]),
            n.swap[i] as f64
        );
    }
    for (i, part) in ["total", "used", "available"].into_iter().enumerate() {
        assert_eq!(
            m.value(&format!("pbs_host_root_filesystem_{part}_bytes"), &[]),
            n.root[i] as f64
        );
    }
    assert_eq!(m.value("pbs_host_uptime_seconds", &[]), n.uptime as f64);
    assert_eq!(m.value("pbs_host_cpus", &[]), n.cpus as f64);
    assert_eq!(
        m.value(
            "pbs_host_info",
            &[
                ("kernel", n.kernel_release),
                ("cpu_model", n.cpu_model),
                ("boot_mode", n.boot_mode)
            ]
        ),
        1.0
    );
    for c in CollectorId::ALL.iter().map(|c| c.name()) {
        assert_eq!(
            m.value("pbs_scrape_collector_success", &[("collector", c)]),
            1.0,
            "{c}"
        );
        let d = m.value("pbs_scrape_collector_duration_seconds", &[("collector", c)]);
        assert!((0.0..10.0).contains(&d), "{c}: {d}");
    }
    assert_eq!(
        m.value(
            "pbs_exporter_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(m.value("process_resident_memory_bytes", &[]) > 100_000.0);
    assert!(m.value("process_open_fds", &[]) >= 3.0);
    assert!(m.value("process_start_time_seconds", &[]) > model::BASE as f64);
    assert_eq!(m.types["process_cpu_seconds_total"], "counter");
}

#[test]
fn datastore_families() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    for d in 0..PROFILE.datastores {
        let store = model::store_name(d);
        let ds = [("datastore", store.as_str())];
        let u = model::usage(d);
        let gc = model::gc_status(&PROFILE, d);
        assert_eq!(m.value("pbs_datastore_total_bytes", &ds), u.total as f64);
        assert_eq!(m.value("pbs_datastore_used_bytes", &ds), u.used as f64);
        assert_eq!(
            m.value("pbs_datastore_available_bytes", &ds),
            u.avail as f64
        );
        assert_eq!(
            m.value("pbs_datastore_estimated_full_timestamp_seconds", &ds),
            u.estimated_full_date as f64
        );
        assert_eq!(m.value("pbs_datastore_up", &ds), 1.0);
        assert_eq!(
            m.value(
                "pbs_datastore_info",
                &[
                    ("datastore", &store),
                    ("mount_status", "nonremovable"),
                    ("backend_type", "filesystem")
                ]
            ),
            1.0
        );
        assert_eq!(
            m.value(
                "pbs_datastore_maintenance_mode",
                &[("datastore", &store), ("mode", "none")]
            ),
            1.0
        );
        assert_eq!(
            m.value("pbs_datastore_gc_index_data_bytes", &ds),
            gc.index_data_bytes as f64
        );
        assert_eq!(
            m.value("pbs_datastore_gc_disk_bytes", &ds),
            gc.disk_bytes as f64
        );
        assert_eq!(
            m.value("pbs_datastore_gc_disk_chunks", &ds),
            gc.disk_chunks as f64
        );
        assert_eq!(
            m.value("pbs_datastore_gc_pending_bytes", &ds),
            gc.pending_bytes as f64
        );
        assert_eq!(
            m.value("pbs_datastore_gc_removed_bytes", &ds),
            gc.removed_bytes as f64
        );
        assert_eq!(
            m.value("pbs_datastore_deduplication_ratio", &ds),
            gc.index_data_bytes as f64 / gc.disk_bytes as f64
        );
    }
    // Byte counts are exact integers in the text, not rounded through f64.
    let total = model::usage(1).total;
    assert!(m.text.contains(&format!(
        "pbs_datastore_total_bytes{{datastore=\"store2\"}} {total}\n"
    )));
}

#[test]
fn group_families_cover_every_namespace() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    for d in 0..PROFILE.datastores {
        let store = model::store_name(d);
        assert_eq!(
            m.value("pbs_datastore_namespaces", &[("datastore", &store)]),
            PROFILE.namespaces as f64
        );
        assert_eq!(
            m.value("pbs_datastore_groups", &[("datastore", &store)]),
            (PROFILE.namespaces * PROFILE.groups) as f64
        );
        for n in 0..PROFILE.namespaces {
            let ns = model::namespace_name(n);
            for g in 0..PROFILE.groups {
                let id = model::backup_id(g);
                let labels = group_labels(&store, &ns, g, &id);
                assert_eq!(
                    m.value("pbs_group_last_backup_timestamp_seconds", &labels),
                    model::group_last_backup(&PROFILE, d, n, g) as f64
                );
                assert_eq!(
                    m.value("pbs_group_snapshots", &labels),
                    PROFILE.snapshots as f64
                );
                let notes = model::group_comment(g).unwrap_or_default();
                let [a, b, c, e] = labels;
                assert_eq!(
                    m.value(
                        "pbs_group_info",
                        &[a, b, c, e, ("owner", model::OWNER), ("notes", &notes)]
                    ),
                    1.0
                );
            }
        }
    }
    assert_eq!(
        m.find("pbs_group_info", &[]).len(),
        PROFILE.datastores * PROFILE.namespaces * PROFILE.groups
    );
}

#[test]
fn snapshot_families_aggregate_per_group_and_datastore() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    // Independently of the exporter: walk the snapshots the model holds.
    let unchanged = pbs_sim::changes::Changes::default();
    for d in 0..PROFILE.datastores {
        common::snapshots::check_store(&m, &PROFILE, &unchanged, d);
    }
}

#[test]
fn a_running_backup_does_not_hide_the_newest_finished_snapshot() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    // Group 6 (vm/106) is writing its newest snapshot right now.
    let g = 6;
    assert!(model::is_running(&PROFILE, g, PROFILE.snapshots - 1));
    let labels = group_labels("store1", "", g, "106");
    let s = PROFILE.snapshots - 2;
    assert_eq!(
        m.value("pbs_group_newest_snapshot_size_bytes", &labels),
        model::snapshot_size(&PROFILE, g, s).unwrap() as f64
    );
    assert_eq!(
        m.value("pbs_group_last_backup_timestamp_seconds", &labels),
        model::backup_time(&PROFILE, 0, 0, g, s) as f64
    );
}

#[test]
fn tricky_label_values_are_escaped_and_round_trip() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    // Group 4 (ct/104)'s comment holds a quote and a backslash.
    let found = m.find(
        "pbs_group_newest_snapshot_info",
        &[("backup_id", "104"), ("comment", model::TRICKY_COMMENT)],
    );
    assert_eq!(found.len(), PROFILE.datastores * PROFILE.namespaces);
    assert!(
        m.text.contains(r#"comment="web \"prod\"\\ line""#),
        "escaped form in the text"
    );
}

#[test]
fn the_same_group_in_two_namespaces_is_two_series() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    let series = m.find(
        "pbs_group_snapshots",
        &[
            ("datastore", "store1"),
            ("backup_type", "vm"),
            ("backup_id", "100"),
        ],
    );
    let mut namespaces: Vec<_> = series
        .iter()
        .map(|s| s.labels["namespace"].clone())
        .collect();
    namespaces.sort();
    assert_eq!(namespaces, ["", "ns1", "ns1/sub2"]);
}

#[test]
fn a_disabled_collector_costs_pbs_nothing() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_COLLECTORS", "-snapshots")], &[]);
    let m = exp.scrape();
    assert!(!m.has("pbs_group_newest_snapshot_size_bytes"));
    assert!(
        m.find(
            "pbs_scrape_collector_success",
            &[("collector", "snapshots")]
        )
        .is_empty()
    );
    assert!(m.has("pbs_group_snapshots"));
    assert_eq!(
        sim.requests("/api2/json/admin/datastore/store1/snapshots"),
        0
    );
    assert!(sim.requests("/api2/json/admin/datastore/store1/groups") > 0);
    // Each datastore's namespaces are listed once per scrape, though two collectors need them.
    assert_eq!(
        sim.requests("/api2/json/admin/datastore/store1/namespace"),
        1
    );
}

/// The exporter's `state` label of a job's last run, as the README defines it.
fn job_state(state: Option<&str>) -> &'static str {
    match state {
        None | Some("unknown") => "unknown",
        Some("OK") => "ok",
        Some(s) if s.starts_with("WARNINGS: ") => "warning",
        Some(_) => "error",
    }
}

#[test]
fn job_families_follow_every_job_of_the_model() {
    let p = PROFILE.with_tape();
    let sim = start_sim(p, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(
        m.value("pbs_scrape_collector_success", &[("collector", "jobs")]),
        1.0
    );
    let mut all = Vec::new();
    let mut states = std::collections::BTreeSet::new();
    for t in jobs::JobType::ALL {
        for j in jobs::jobs(&p, t) {
            let labels = [
                ("job_type", t.label()),
                ("job_id", j.id.as_str()),
                ("datastore", j.store.as_str()),
            ];
            let end = j.last_run.as_ref().and_then(|r| r.end);
            match end {
                Some((at, _)) => assert_eq!(
                    m.value("pbs_job_last_run_timestamp_seconds", &labels),
                    at as f64
                ),
                None => assert!(
                    m.find("pbs_job_last_run_timestamp_seconds", &labels)
                        .is_empty()
                ),
            }
            let state = job_state(end.map(|e| e.1));
            states.insert(state);
            for s in ["ok", "warning", "error", "unknown"] {
                let mut l = labels.to_vec();
                l.push(("state", s));
                assert_eq!(
                    m.value("pbs_job_last_run_state", &l),
                    (s == state) as u8 as f64,
                    "{} {} {s}",
                    t.label(),
                    j.id
                );
            }
            match j.duration() {
                Some(d) => assert_eq!(
                    m.value("pbs_job_last_run_duration_seconds", &labels),
                    d as f64
                ),
                None => assert!(
                    m.find("pbs_job_last_run_duration_seconds", &labels)
                        .is_empty()
                ),
            }
            match j.next_run {
                Some(n) => assert_eq!(
                    m.value("pbs_job_next_run_timestamp_seconds", &labels),
                    n as f64
                ),
                None => assert!(
                    m.find("pbs_job_next_run_timestamp_seconds", &labels)
                        .is_empty()
                ),
            }
            if t == jobs::JobType::Sync {
                let mut l = labels.to_vec();
                l.push(("direction", j.direction.unwrap_or("pull")));
                l.push(("remote", j.remote.unwrap_or("")));
                assert_eq!(m.value("pbs_job_sync_info", &l), 1.0);
            }
            all.push((t.label().to_string(), j.id.clone()));
        }
    }
    // Every outcome is in the model, and the exporter has no job the model lacks.
    assert_eq!(states.len(), 4, "{states:?}");
    assert_eq!(
        m.find("pbs_job_last_run_state", &[("state", "ok")]).len(),
        all.len()
    );
    // Push jobs are listed (sync-direction=all), and the failed verify job is an error.
    assert_eq!(
        m.find("pbs_job_sync_info", &[("direction", "push")]).len(),
        1
    );
    assert_eq!(
        m.value(
            "pbs_job_last_run_state",
            &[
                ("job_type", "verify"),
                ("job_id", "v-daily-store1"),
                ("datastore", "store1"),
                ("state", "error")
            ]
        ),
        1.0
    );
    // Written by type, then sorted by id, whatever the simulator's order.
    let written: Vec<(String, String)> = m
        .find("pbs_job_last_run_state", &[("state", "ok")])
        .iter()
        .map(|s| (s.labels["job_type"].clone(), s.labels["job_id"].clone()))
        .collect();
    all.sort();
    assert_eq!(written, all);
}

#[test]
fn task_families_count_the_window_page_by_page() {
    use std::collections::BTreeMap;
    // More than two pages of 5,000.
    let p = Profile::new(3, 1, 1, 1).with_tasks(12_000);
    let sim = start_sim(p, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(
        m.value("pbs_scrape_collector_success", &[("collector", "tasks")]),
        1.0
    );
    assert_eq!(sim.requests("/api2/json/nodes/localhost/tasks"), 3);
    // (running, [ok, warning, error]) per (worker type, datastore); the old tasks are outside
    // the default 24 h window.
    let mut want: BTreeMap<(String, String), (u64, [u64; 3])> = BTreeMap::new();
    let mut outside = 0;
    for i in 0..tasks::count(&p) {
        let t = tasks::task(&p, i, 0);
        if t.end.is_some() && t.start < -model::DAY {
            outside += 1;
            continue;
        }
        let e = want
            .entry((t.worker_type.to_string(), t.store.unwrap_or_default()))
            .or_default();
        match t.end.map(|e| e.1) {
            None => e.0 += 1,
            Some("OK") => e.1[0] += 1,
            Some(s) if s.starts_with("WARNINGS: ") => e.1[1] += 1,
            Some(_) => e.1[2] += 1,
        }
    }
    assert_eq!(outside, tasks::OLD);
    assert_eq!(m.find("pbs_tasks_running", &[]).len(), want.len());
    let mut total = 0;
    for ((wt, ds), (running, finished)) in &want {
        let labels = [("worker_type", wt.as_str()), ("datastore", ds.as_str())];
        assert_eq!(m.value("pbs_tasks_running", &labels), *running as f64);
        for (status, n) in ["ok", "warning", "error"].into_iter().zip(finished) {
            let mut l = labels.to_vec();
            l.push(("status", status));
            assert_eq!(m.value("pbs_tasks_finished", &l), *n as f64, "{l:?}");
            total += n;
        }
    }
    assert_eq!(total as usize, p.tasks);
    assert!(want.contains_key(&("aptupdate".to_string(), String::new())));
}

#[test]
fn subscription_families() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    for s in [
        "new",
        "notfound",
        "active",
        "invalid",
        "expired",
        "suspended",
    ] {
        assert_eq!(
            m.value("pbs_subscription_status", &[("status", s)]),
            (s == model::SUBSCRIPTION_STATUS) as u8 as f64
        );
    }
    assert_eq!(
        m.value("pbs_subscription_next_due_timestamp_seconds", &[]),
        model::SUBSCRIPTION_DUE_TIMESTAMP as f64
    );
}

#[test]
fn datastore_corruption_activity_and_s3_families() {
    let p = PROFILE.with_s3();
    let sim = start_sim(p, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(
        m.value(
            "pbs_scrape_collector_success",
            &[("collector", "datastore")]
        ),
        1.0
    );
    for d in 0..p.datastores {
        let store = model::store_name(d);
        let ds = [("datastore", store.as_str())];
        let gc = model::gc_status(&p, d);
        assert_eq!(
            m.value("pbs_datastore_gc_removed_bad_chunks", &ds),
            gc.removed_bad as f64
        );
        assert_eq!(
            m.value("pbs_datastore_gc_still_bad_chunks", &ds),
            gc.still_bad as f64
        );
        let (read, write) = model::active_operations(d);
        for (kind, n) in [("read", read), ("write", write)] {
            assert_eq!(
                m.value(
                    "pbs_datastore_active_operations",
                    &[("datastore", &store), ("kind", kind)]
                ),
                n as f64
            );
        }
        assert_eq!(
            m.value(
                "pbs_datastore_info",
                &[
                    ("datastore", &store),
                    ("mount_status", "nonremovable"),
                    ("backend_type", model::backend_type(&p, d))
                ]
            ),
            1.0
        );
    }
    // Only the S3-backed store (the last) has S3 counters, and only it is asked for them.
    let s3 = p.datastores - 1;
    assert!(model::is_s3(&p, s3) && !model::is_s3(&p, 0));
    let store = model::store_name(s3);
    let ds = [("datastore", store.as_str())];
    let stats = model::s3_statistics(s3);
    assert_eq!(
        m.value("pbs_datastore_s3_uploaded_bytes_total", &ds),
        stats.uploaded as f64
    );
    assert_eq!(
        m.value("pbs_datastore_s3_downloaded_bytes_total", &ds),
        stats.downloaded as f64
    );
    for (method, n) in ["get", "put", "post", "head", "delete"]
        .into_iter()
        .zip(stats.requests)
    {
        assert_eq!(
            m.value(
                "pbs_datastore_s3_requests_total",
                &[("datastore", &store), ("method", method)]
            ),
            n as f64,
            "{method}"
        );
    }
    assert_eq!(
        m.find("pbs_datastore_s3_uploaded_bytes_total", &[]).len(),
        1
    );
    assert_eq!(m.types["pbs_datastore_s3_requests_total"], "counter");
    assert_eq!(sim.requests("/api2/json/admin/datastore/store1/status"), 0);
    assert_eq!(
        sim.requests(&format!("/api2/json/admin/datastore/{store}/status")),
        1
    );
}

#[test]
fn tape_families_count_drives_changers_and_media() {
    use pbs_sim::tape;
    let sim = start_sim(PROFILE.with_tape(), |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(
        m.value("pbs_scrape_collector_success", &[("collector", "tape")]),
        1.0
    );
    for d in tape::DRIVES {
        assert_eq!(
            m.value(
                "pbs_tape_drive_info",
                &[
                    ("drive", d.name),
                    ("vendor", d.vendor),
                    ("model", d.model),
                    ("serial", d.serial),
                    ("changer", d.changer.unwrap_or(""))
                ]
            ),
            1.0
        );
    }
    assert_eq!(m.find("pbs_tape_drive_info", &[]).len(), tape::DRIVES.len());
    for c in tape::CHANGERS {
        let (vendor, model, serial) = c.ident.unwrap_or(("", "", ""));
        assert_eq!(
            m.value(
                "pbs_tape_changer_info",
                &[
                    ("changer", c.name),
                    ("vendor", vendor),
                    ("model", model),
                    ("serial", serial)
                ]
            ),
            1.0
        );
    }
    // Independently of the exporter: count the media the model holds.
    let statuses = ["writable", "full", "unknown", "damaged", "retired"];
    let locations = ["online", "offline", "vault"];
    let mut pools: Vec<&str> = (0..tape::MEDIA)
        .map(|i| tape::media_pool(i).unwrap_or(""))
        .collect();
    pools.sort();
    pools.dedup();
    assert_eq!(pools, ["", "daily", "monthly", "weekly"]);
    for pool in pools {
        let of_pool =
            || (0..tape::MEDIA).filter(move |&i| tape::media_pool(i).unwrap_or("") == pool);
        for status in statuses {
            for location in locations {
                let want = of_pool()
                    .filter(|&i| tape::media_status(i) == status)
                    .filter(|&i| tape::media_location(i).split('-').next() == Some(location))
                    .count();
                assert_eq!(
                    m.value(
                        "pbs_tape_media",
                        &[("pool", pool), ("status", status), ("location", location)]
                    ),
                    want as f64,
                    "{pool} {status} {location}"
                );
            }
        }
        let expired = of_pool().filter(|&i| tape::media_expired(i)).count();
        assert_eq!(
            m.value("pbs_tape_media_expired", &[("pool", pool)]),
            expired as f64
        );
    }
    let counted: f64 = m.find("pbs_tape_media", &[]).iter().map(|s| s.value).sum();
    assert_eq!(counted, tape::MEDIA as f64);
    // The hardware is never touched: no drive status, no changer inventory update (the
    // simulator answers 400 to both, which would fail the collector).
    assert_eq!(sim.requests("/api2/json/tape/drive/"), 0);
    assert_eq!(sim.requests("/api2/json/tape/media/list"), 1);
}

#[test]
fn a_pbs_without_tape_has_no_tape_series() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(
        m.value("pbs_scrape_collector_success", &[("collector", "tape")]),
        1.0
    );
    for f in [
        "pbs_tape_drive_info",
        "pbs_tape_changer_info",
        "pbs_tape_media",
        "pbs_tape_media_expired",
    ] {
        assert!(!m.has(f), "{f}");
    }
    assert!(!m.text.contains("pbs_tape_"), "no HELP without samples");
}

#[test]
fn snapshot_history_writes_the_newest_finished_snapshots_of_each_group() {
    const N: usize = 3;
    let p = &PROFILE;
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_SNAPSHOT_HISTORY", "3")], &[]);
    let m = exp.scrape();
    let mut series = 0;
    for d in 0..p.datastores {
        let store = model::store_name(d);
        for n in 0..p.namespaces {
            let ns = model::namespace_name(n);
            for g in 0..p.groups {
                let id = model::backup_id(g);
                let [a, b, c, e] = group_labels(&store, &ns, g, &id);
                let finished: Vec<usize> = (0..p.snapshots)
                    .rev()
                    .filter(|&s| model::snapshot_size(p, g, s).is_some())
                    .take(N)
                    .collect();
                for s in (0..p.snapshots).filter(|s| !finished.contains(s)) {
                    let t = model::backup_time(p, d, n, g, s).to_string();
                    let at = [a, b, c, e, ("backup_time", t.as_str())];
                    assert!(m.find("pbs_snapshot_size_bytes", &at).is_empty(), "{s}");
                }
                for s in finished {
                    series += 1;
                    let t = model::backup_time(p, d, n, g, s).to_string();
                    let at = [a, b, c, e, ("backup_time", t.as_str())];
                    assert_eq!(
                        m.value("pbs_snapshot_size_bytes", &at),
                        model::snapshot_size(p, g, s).unwrap() as f64
                    );
                    assert_eq!(
                        m.value("pbs_snapshot_protected", &at),
                        model::snapshot_protected(g, s) as u8 as f64
                    );
                    let state = model::verification(p, g, s).map_or("none", |v| v.as_str());
                    assert_eq!(
                        m.value(
                            "pbs_snapshot_verification_state",
                            &[a, b, c, e, ("backup_time", &t), ("state", state)]
                        ),
                        1.0
                    );
                }
            }
        }
    }
    assert_eq!(m.find("pbs_snapshot_size_bytes", &[]).len(), series);
    assert_eq!(m.find("pbs_snapshot_verification_state", &[]).len(), series);
    // Read from the same stream: one snapshots call per namespace, as without history.
    assert_eq!(
        sim.requests("/api2/json/admin/datastore/store1/snapshots"),
        p.namespaces as u64
    );
}

#[test]
fn snapshot_history_is_off_by_default() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert!(!m.text.contains("pbs_snapshot_"));
}
