//! What happens when PBS misbehaves: `/metrics` still answers, the exporter's own metrics are
//! there, the failed part is marked failed, everything else is exported, and the log says what
//! to fix.

mod common;

use pbs_exporter::collectors::CollectorId;

use common::{Exporter, get, start_sim};
use pbs_sim::{Faults, Profile};
use std::time::{Duration, Instant};

const PROFILE: Profile = Profile::new(3, 2, 4, 3);

fn collector(m: &common::expo::Exposition, name: &str) -> f64 {
    m.value("pbs_scrape_collector_success", &[("collector", name)])
}

fn assert_down_but_serving(m: &common::expo::Exposition) {
    assert_eq!(m.value("pbs_up", &[]), 0.0);
    for c in CollectorId::ALL.iter().map(|c| c.name()) {
        assert_eq!(collector(m, c), 0.0, "{c}");
    }
    assert!(m.has("process_resident_memory_bytes"));
    assert!(m.has("pbs_exporter_build_info"));
    assert!(!m.has("pbs_version_info"));
    assert!(!m.has("pbs_datastore_total_bytes"));
}

#[test]
fn pbs_down_names_the_endpoint() {
    let sim = start_sim(PROFILE, |_| {});
    let port = {
        // A port nothing listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = format!("https://127.0.0.1:{port}");
    let exp = Exporter::start(&sim, &[("PBS_ENDPOINT", &endpoint)], &[]);
    assert_down_but_serving(&exp.scrape());
    let log = exp.wait_log("cannot connect");
    assert!(
        log.contains(&format!("cannot connect to PBS at {endpoint}")),
        "{log}"
    );
    assert!(log.contains("refused"), "{log}");
}

#[test]
fn dns_failure_names_the_host() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(
        &sim,
        &[("PBS_ENDPOINT", "https://pbs-exporter-test.invalid:8007")],
        &[],
    );
    assert_down_but_serving(&exp.scrape());
    let log = exp.wait_log("cannot resolve");
    assert!(
        log.contains("cannot resolve the PBS host 'pbs-exporter-test.invalid'"),
        "{log}"
    );
}

#[test]
fn a_fingerprint_mismatch_prints_what_the_server_presented() {
    let sim = start_sim(PROFILE, |_| {});
    let wrong = vec!["ab"; 32].join(":");
    let exp = Exporter::start(&sim, &[("PBS_FINGERPRINT", &wrong)], &[]);
    assert_down_but_serving(&exp.scrape());
    let log = exp.wait_log("mismatch");
    assert!(log.contains("fingerprint mismatch"), "{log}");
    assert!(
        log.contains(&format!("the server presented {}", sim.fingerprint())),
        "{log}"
    );
    assert!(
        log.contains(&format!("configured fingerprint is {wrong}")),
        "{log}"
    );
}

#[test]
fn an_untrusted_certificate_suggests_pinning_it() {
    let sim = start_sim(PROFILE, |_| {});
    let env: Vec<(String, String)> = Exporter::env_for(&sim)
        .into_iter()
        .filter(|(k, _)| k != "PBS_FINGERPRINT")
        .collect();
    let exp = Exporter::start_with(&env, &[]);
    assert_down_but_serving(&exp.scrape());
    let log = exp.wait_log("TLS handshake");
    assert!(log.contains(&sim.fingerprint()), "{log}");
    assert!(log.contains("PBS_FINGERPRINT"), "{log}");
}

#[test]
fn a_wrong_token_names_the_token_id_but_never_the_secret() {
    let sim = start_sim(PROFILE, |_| {});
    let secret = "wrong-secret-4f1d2c";
    let exp = Exporter::start(
        &sim,
        &[("PBS_API_TOKEN", secret), ("PBS_LOGLEVEL", "debug")],
        &[],
    );
    let started = Instant::now();
    assert_down_but_serving(&exp.scrape());
    // The simulator delays 401s like PBS (100 ms here, 3 s on a real PBS).
    assert!(started.elapsed() >= Duration::from_millis(100));
    let log = exp.wait_log("HTTP 401");
    assert!(
        log.contains(&format!("rejected the API token '{}'", sim.token_id())),
        "{log}"
    );
    assert!(log.contains("secret or the token id is wrong"), "{log}");
    assert!(!log.contains(secret), "{log}");
}

#[test]
fn pbs_coming_back_is_noticed() {
    let sim = start_sim(PROFILE, |_| {});
    sim.set_faults(Faults {
        unauthorized: true,
        ..Faults::default()
    });
    let exp = Exporter::start(&sim, &[], &[]);
    assert_eq!(exp.scrape().value("pbs_up", &[]), 0.0);
    sim.set_faults(Faults::default());
    let m = exp.scrape();
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    assert_eq!(collector(&m, "snapshots"), 1.0);
    assert!(exp.wait_log("answers again").contains("answers again"));
}

#[test]
fn a_403_fails_only_its_collector() {
    let sim = start_sim(PROFILE, |c| {
        c.faults.forbidden = vec!["/nodes/localhost/status".into()]
    });
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    assert_eq!(collector(&m, "node"), 0.0);
    assert!(!m.has("pbs_host_memory_total_bytes"));
    for c in CollectorId::ALL
        .iter()
        .map(|c| c.name())
        .filter(|c| *c != "node")
    {
        assert_eq!(collector(&m, c), 1.0, "{c}");
    }
    assert!(m.has("pbs_group_snapshots"));
    let log = exp.wait_log("HTTP 403");
    assert!(log.contains("denied GET /nodes/localhost/status"), "{log}");
    assert!(log.contains("Audit"), "{log}");
}

#[test]
fn a_403_on_tape_is_no_tape_series_and_no_failure_logged_once() {
    for forbidden in ["/tape", "/tape/media"] {
        let sim = start_sim(PROFILE.with_tape(), |c| {
            c.faults.forbidden = vec![forbidden.into()]
        });
        let exp = Exporter::start(&sim, &[], &[]);
        for _ in 0..2 {
            let m = exp.scrape();
            assert_eq!(collector(&m, "tape"), 1.0, "{forbidden}");
            assert!(!m.text.contains("pbs_tape_"), "{forbidden}: {}", m.text);
            assert_eq!(collector(&m, "datastore"), 1.0);
        }
        let log = exp.wait_log("no tape metrics");
        assert_eq!(log.matches("no tape metrics").count(), 1, "{log}");
        let line = log.lines().find(|l| l.contains("no tape metrics")).unwrap();
        assert!(line.contains(" INFO "), "{line}");
        assert!(!log.contains("collector tape failed"), "{log}");
        // Granting the privilege brings the series back.
        sim.set_faults(Faults::default());
        let m = exp.scrape();
        assert!(m.has("pbs_tape_drive_info"), "{forbidden}");
    }
}

#[test]
fn a_failing_tape_list_fails_the_tape_collector_but_keeps_the_other_lists() {
    let sim = start_sim(PROFILE.with_tape(), |c| {
        c.faults.malformed = vec!["/tape/changer".into()]
    });
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(collector(&m, "tape"), 0.0);
    assert!(m.has("pbs_tape_drive_info"));
    assert!(!m.has("pbs_tape_changer_info"));
    assert!(m.has("pbs_tape_media"));
    assert!(
        exp.wait_log("collector tape failed")
            .contains("/tape/changer")
    );
}

#[test]
fn unmounted_and_maintenance_datastores_are_down_and_the_rest_is_exported() {
    let sim = start_sim(PROFILE, |c| {
        c.faults.unmounted = vec!["store2".into()];
        c.faults.maintenance = vec!["store3".into()];
    });
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(m.value("pbs_datastore_up", &[("datastore", "store1")]), 1.0);
    assert_eq!(m.value("pbs_datastore_up", &[("datastore", "store2")]), 0.0);
    assert_eq!(m.value("pbs_datastore_up", &[("datastore", "store3")]), 0.0);
    assert_eq!(
        m.value(
            "pbs_datastore_maintenance_mode",
            &[("datastore", "store3"), ("mode", "offline")]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "pbs_datastore_info",
            &[
                ("datastore", "store2"),
                ("mount_status", "notmounted"),
                ("backend_type", "filesystem")
            ]
        ),
        1.0
    );
    assert!(
        m.find("pbs_datastore_total_bytes", &[("datastore", "store2")])
            .is_empty()
    );
    assert!(
        !m.find("pbs_group_snapshots", &[("datastore", "store1")])
            .is_empty()
    );
    assert!(
        m.find("pbs_group_snapshots", &[("datastore", "store2")])
            .is_empty()
    );
    assert!(
        m.find("pbs_group_snapshots", &[("datastore", "store3")])
            .is_empty()
    );
    // Known-unusable datastores are reported by pbs_datastore_up, not as collector failures,
    // and PBS is not asked for what it cannot answer.
    for c in CollectorId::ALL.iter().map(|c| c.name()) {
        assert_eq!(collector(&m, c), 1.0, "{c}");
    }
    assert_eq!(sim.requests("/api2/json/admin/datastore/store2/"), 0);
    assert_eq!(sim.requests("/api2/json/admin/datastore/store3/"), 0);
}

#[test]
fn a_failing_namespace_fails_its_collectors_but_not_the_other_namespaces() {
    let sim = start_sim(PROFILE, |c| {
        c.faults.failing_namespace = Some(("store1".into(), "ns1".into()))
    });
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(collector(&m, "groups"), 0.0);
    assert_eq!(collector(&m, "snapshots"), 0.0);
    assert_eq!(collector(&m, "datastore"), 1.0);
    assert!(
        m.find(
            "pbs_group_snapshots",
            &[("datastore", "store1"), ("namespace", "ns1")]
        )
        .is_empty()
    );
    assert_eq!(
        m.find(
            "pbs_group_snapshots",
            &[("datastore", "store1"), ("namespace", "")]
        )
        .len(),
        4
    );
    assert_eq!(
        m.find("pbs_group_snapshots", &[("datastore", "store2")])
            .len(),
        8
    );
    assert_eq!(
        m.find(
            "pbs_group_newest_snapshot_size_bytes",
            &[("datastore", "store2")]
        )
        .len(),
        8
    );
    // An incomplete datastore gets no total that would look like groups vanished.
    assert!(
        m.find("pbs_datastore_groups", &[("datastore", "store1")])
            .is_empty()
    );
    assert!(
        m.find("pbs_datastore_snapshots", &[("datastore", "store1")])
            .is_empty()
    );
    assert_eq!(
        m.value("pbs_datastore_groups", &[("datastore", "store2")]),
        8.0
    );
    let log = exp.wait_log("ENOENT");
    assert!(log.contains("datastore 'store1' namespace 'ns1'"), "{log}");
}

#[test]
fn malformed_json_fails_its_collector_only() {
    let sim = start_sim(PROFILE, |c| {
        c.faults.malformed = vec!["/status/datastore-usage".into()]
    });
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(collector(&m, "datastore"), 0.0);
    assert_eq!(collector(&m, "node"), 1.0);
    assert_eq!(collector(&m, "snapshots"), 1.0);
    assert!(exp.wait_log("not valid JSON").contains("not valid JSON"));
    // The kept-alive connection is still usable afterwards.
    sim.set_faults(Faults::default());
    assert_eq!(collector(&exp.scrape(), "datastore"), 1.0);
}

#[test]
fn truncated_snapshot_streams_fail_the_snapshots_collector() {
    for clean in [false, true] {
        let sim = start_sim(PROFILE, |c| {
            c.faults.truncate_snapshots = !clean;
            c.faults.truncate_snapshots_clean = clean;
        });
        let exp = Exporter::start(&sim, &[], &[]);
        let m = exp.scrape();
        assert_eq!(collector(&m, "snapshots"), 0.0, "clean={clean}");
        assert_eq!(collector(&m, "groups"), 1.0);
        // No half-read namespace is exported.
        assert!(
            !m.has("pbs_group_newest_snapshot_size_bytes"),
            "clean={clean}"
        );
        let log = exp.wait_log("collector snapshots failed");
        assert!(
            log.contains("was cut off") || log.contains("JSON document truncated"),
            "clean={clean}: {log}"
        );
    }
}

#[test]
fn an_endless_body_fails_in_bounded_time_and_memory() {
    let sim = start_sim(PROFILE, |c| c.faults.oversized = true);
    let exp = Exporter::start(&sim, &[("PBS_MAX_BODY_BYTES", "4000000")], &[]);
    let started = Instant::now();
    let m = exp.scrape();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(collector(&m, "snapshots"), 0.0);
    assert_eq!(collector(&m, "groups"), 1.0);
    assert!(m.value("process_resident_memory_bytes", &[]) < 32.0 * 1024.0 * 1024.0);
    assert!(
        exp.wait_log("larger than")
            .contains("larger than 4000000 bytes")
    );
}

#[test]
fn the_prometheus_scrape_timeout_bounds_the_whole_scrape() {
    let sim = start_sim(PROFILE, |c| c.faults.delay = Duration::from_millis(150));
    let exp = Exporter::start(&sim, &[], &[]);
    let started = Instant::now();
    let r = get(
        exp.addr,
        "/metrics",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")],
    );
    let took = started.elapsed();
    assert_eq!(r.status, 200);
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    let m = common::expo::parse(&r.body);
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    // Node and datastore fit in the budget; the per-namespace walk does not.
    assert_eq!(collector(&m, "node"), 1.0);
    assert_eq!(collector(&m, "snapshots"), 0.0);
    assert!(exp.wait_log("did not answer").contains("in time"));
}

#[test]
fn concurrent_scrapes_share_one_collection() {
    let sim = start_sim(PROFILE, |c| c.faults.delay = Duration::from_millis(50));
    let exp = Exporter::start(&sim, &[], &[]);
    sim.reset_counters();
    let addr = exp.addr;
    let threads: Vec<_> = (0..5)
        .map(|_| std::thread::spawn(move || get(addr, "/metrics", &[])))
        .collect();
    let bodies: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .map(|r| {
            assert_eq!(r.status, 200);
            r.body
        })
        .collect();
    // At most two collections: the one running when the others arrived, and possibly one
    // started by a request that arrived before the first had begun.
    let versions = sim.requests("/api2/json/version");
    assert!(
        (1..=2).contains(&versions),
        "{versions} collections for 5 concurrent scrapes"
    );
    for b in &bodies {
        let m = common::expo::parse(b);
        assert_eq!(m.value("pbs_up", &[]), 1.0);
        assert_eq!(collector(&m, "snapshots"), 1.0);
    }
}

/// The collectors other than `name`, all successful.
fn assert_others_fine(m: &common::expo::Exposition, name: &str) {
    for c in CollectorId::ALL
        .iter()
        .map(|c| c.name())
        .filter(|c| *c != name)
    {
        assert_eq!(collector(m, c), 1.0, "{c}");
    }
}

#[test]
fn a_403_on_one_job_list_fails_jobs_only() {
    let sim = start_sim(PROFILE, |c| {
        c.faults.forbidden = vec!["/admin/verify".into()]
    });
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(collector(&m, "jobs"), 0.0);
    assert_others_fine(&m, "jobs");
    // The other job lists are still exported.
    assert!(
        !m.find("pbs_job_last_run_state", &[("job_type", "gc")])
            .is_empty()
    );
    assert!(
        !m.find("pbs_job_last_run_state", &[("job_type", "sync")])
            .is_empty()
    );
    assert!(
        m.find("pbs_job_last_run_state", &[("job_type", "verify")])
            .is_empty()
    );
    let log = exp.wait_log("collector jobs failed");
    assert!(log.contains("reading verify jobs"), "{log}");
    assert!(log.contains("denied GET /admin/verify"), "{log}");
}

#[test]
fn a_403_on_tape_backup_jobs_is_no_tape_and_no_failure() {
    let sim = start_sim(PROFILE.with_tape(), |c| {
        c.faults.forbidden = vec!["/tape/backup".into()]
    });
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(collector(&m, "jobs"), 1.0);
    assert_others_fine(&m, "jobs");
    assert!(
        m.find("pbs_job_last_run_state", &[("job_type", "tape-backup")])
            .is_empty()
    );
    assert!(
        !m.find("pbs_job_last_run_state", &[("job_type", "gc")])
            .is_empty()
    );
    exp.scrape();
    let log = exp.wait_log("no tape-backup jobs");
    assert_eq!(
        log.matches("no tape-backup jobs").count(),
        1,
        "logged once: {log}"
    );
    assert!(!log.contains("collector jobs failed"), "{log}");
}

#[test]
fn a_truncated_task_list_fails_tasks_and_writes_no_counts() {
    let sim = start_sim(PROFILE, |c| c.faults.truncate_tasks = true);
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(collector(&m, "tasks"), 0.0);
    assert_others_fine(&m, "tasks");
    assert!(!m.has("pbs_tasks_running"));
    assert!(!m.has("pbs_tasks_finished"));
    let log = exp.wait_log("collector tasks failed");
    assert!(log.contains("listing tasks"), "{log}");
}

#[test]
fn a_subscription_without_sys_audit_has_a_status_but_no_due_date() {
    let sim = start_sim(PROFILE, |c| c.faults.no_sys_audit = true);
    let exp = Exporter::start(&sim, &[], &[]);
    let m = exp.scrape();
    assert_eq!(collector(&m, "subscription"), 1.0);
    assert_eq!(
        m.value(
            "pbs_subscription_status",
            &[("status", pbs_sim::model::SUBSCRIPTION_STATUS)]
        ),
        1.0
    );
    assert!(!m.has("pbs_subscription_next_due_timestamp_seconds"));
}

/// The samples of the families `--keep-last-values` keeps (datastore, groups, snapshots).
fn kept_samples(m: &common::expo::Exposition) -> Vec<common::expo::Sample> {
    let names: Vec<&str> = CollectorId::ALL
        .iter()
        .filter(|c| c.kept_while_unreachable())
        .flat_map(|c| c.families().iter().map(|f| f.name))
        .collect();
    m.samples
        .iter()
        .filter(|s| names.contains(&s.name.as_str()))
        .cloned()
        .collect()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A plain-HTTP simulator (so one can start again on the same port with the same endpoint).
fn plain_sim(profile: Profile, listen: Option<std::net::SocketAddr>) -> pbs_sim::SimHandle {
    start_sim(profile, |c| {
        c.tls = false;
        if let Some(addr) = listen {
            c.listen = addr;
        }
    })
}

/// Checks the values the simulator's model gives for `profile` in the kept families.
fn assert_model_values(m: &common::expo::Exposition, profile: &Profile) {
    use pbs_sim::model;
    assert_eq!(
        m.find("pbs_datastore_total_bytes", &[]).len(),
        profile.datastores
    );
    let total = model::usage(1).total as f64;
    assert_eq!(
        m.value("pbs_datastore_total_bytes", &[("datastore", "store2")]),
        total
    );
    assert_eq!(
        m.value("pbs_datastore_groups", &[("datastore", "store1")]),
        (profile.namespaces * profile.groups) as f64
    );
    let group = [
        ("datastore", "store1"),
        ("namespace", ""),
        ("backup_type", model::backup_type(0)),
        ("backup_id", &model::backup_id(0)),
    ];
    assert_eq!(
        m.value("pbs_group_last_backup_timestamp_seconds", &group),
        model::group_last_backup(profile, 0, 0, 0) as f64
    );
    let snapshots: f64 = m
        .find("pbs_datastore_snapshots", &[("datastore", "store1")])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(
        snapshots,
        profile.snapshots_per_namespace() as f64 * profile.namespaces as f64
    );
}

#[test]
fn keep_last_values_serves_the_last_good_families_while_pbs_is_unreachable() {
    let sim = plain_sim(PROFILE, None);
    let addr = sim.addr();
    let exp = Exporter::start(&sim, &[("PBS_KEEP_LAST_VALUES", "3s")], &[]);
    let before = unix_now();
    let good = exp.scrape();
    let after = unix_now();
    assert_eq!(good.value("pbs_up", &[]), 1.0);
    assert_model_values(&good, &PROFILE);
    let success = good.value("pbs_last_success_timestamp_seconds", &[]);
    assert!(
        (before - 0.001..=after).contains(&success),
        "{before} {success} {after}"
    );
    let kept = kept_samples(&good);
    assert!(kept.len() > 50, "{}", kept.len());

    // PBS powers off: the same values, marked down.
    sim.stop();
    for _ in 0..2 {
        let m = exp.scrape();
        assert_eq!(m.value("pbs_up", &[]), 0.0);
        for c in CollectorId::ALL.iter().map(|c| c.name()) {
            assert_eq!(collector(&m, c), 0.0, "{c}");
        }
        assert_eq!(kept_samples(&m), kept);
        assert_model_values(&m, &PROFILE);
        assert_eq!(m.value("pbs_last_success_timestamp_seconds", &[]), success);
        // Only the kept collectors' families.
        assert!(!m.has("pbs_version_info") && !m.has("pbs_host_load1"));
        assert!(!m.has("pbs_job_last_run_state") && !m.has("pbs_subscription_status"));
    }

    // Past the duration the kept families are gone; the last success stays.
    let left = Duration::from_secs_f64((success + 3.2 - unix_now()).max(0.0));
    std::thread::sleep(left);
    let m = exp.scrape();
    assert_down_but_serving(&m);
    assert!(kept_samples(&m).is_empty());
    assert_eq!(m.value("pbs_last_success_timestamp_seconds", &[]), success);

    // PBS is back (with other data): fresh values.
    let other = Profile::new(2, 1, 2, 2);
    let _sim = plain_sim(other, Some(addr));
    let m = exp.scrape();
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    assert_model_values(&m, &other);
    assert!(m.value("pbs_last_success_timestamp_seconds", &[]) > success);
}

#[test]
fn without_keep_last_values_or_when_pbs_answers_nothing_is_kept() {
    // Without the option: today's behaviour, plus the last success time.
    let sim = plain_sim(PROFILE, None);
    let exp = Exporter::start(&sim, &[], &[]);
    let success = exp
        .scrape()
        .value("pbs_last_success_timestamp_seconds", &[]);
    sim.stop();
    let m = exp.scrape();
    assert_down_but_serving(&m);
    assert_eq!(m.value("pbs_last_success_timestamp_seconds", &[]), success);

    // With it, a PBS that answers (here: rejects the token) is not sleeping.
    let sim = plain_sim(PROFILE, None);
    let exp = Exporter::start(&sim, &[("PBS_KEEP_LAST_VALUES", "1h")], &[]);
    let success = exp
        .scrape()
        .value("pbs_last_success_timestamp_seconds", &[]);
    sim.set_faults(Faults {
        unauthorized: true,
        ..Faults::default()
    });
    let m = exp.scrape();
    assert_down_but_serving(&m);
    assert_eq!(m.value("pbs_last_success_timestamp_seconds", &[]), success);
    // Nor does it come back when PBS then stops answering: the keeping ended.
    sim.stop();
    assert_down_but_serving(&exp.scrape());
}
