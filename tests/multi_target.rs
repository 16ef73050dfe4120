//! Many PBS from one exporter: modules with their own tokens and pinned certificates, the
//! allow-list (a refused target never sees a connection), PBS_TARGETS, bad config files at
//! start and on SIGHUP, and token rotation by SIGHUP.

mod common;

use common::{Exporter, get, start_sim};
use pbs_sim::{Profile, SimHandle};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory for one test's files.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pbs-exporter-mt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A module for `sim` allowing it (by `127.0.0.1:port`, its certificate pinned), its token in
/// a file.
fn module(dir: &std::path::Path, name: &str, sim: &SimHandle, secret: &str) -> String {
    let token_file = dir.join(format!("{name}.token"));
    std::fs::write(&token_file, format!("{secret}\n")).unwrap();
    format!(
        "  {name}:\n    token_id: \"{}\"\n    token_file: {}\n    targets:\n      - target: 127.0.0.1:{}\n        fingerprint: \"{}\"\n",
        sim.token_id(),
        token_file.display(),
        sim.addr().port(),
        sim.fingerprint()
    )
}

fn sim_with_token(profile: Profile, id: &str, secret: &str) -> SimHandle {
    start_sim(profile, |c| {
        c.token_id = id.into();
        c.token_secret = secret.into();
    })
}

fn exporter_with_config(config: &std::path::Path, env: &[(&str, &str)]) -> Exporter {
    let mut all = vec![("PBS_CONFIG_FILE".to_string(), config.display().to_string())];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Exporter::start_with(&all, &[])
}

fn target_path(sim: &SimHandle, module: &str) -> String {
    format!(
        "/metrics?target=https%3A%2F%2F127.0.0.1%3A{}&module={module}",
        sim.addr().port()
    )
}

/// Sample lines of `family` in an exposition.
fn samples<'a>(body: &'a str, family: &str) -> Vec<&'a str> {
    body.lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .collect()
}

/// Two simulators, alpha (2 datastores, 3 groups each) and beta (3 datastores, 2 groups
/// each), with their own tokens, each allowed by its own module (`alpha_extra`: more keys of
/// alpha's module), and an exporter with that config file.
fn alpha_and_beta(test: &str, alpha_extra: &str) -> (SimHandle, SimHandle, Exporter) {
    alpha_and_beta_with(test, alpha_extra, &[])
}

/// [`alpha_and_beta`], the exporter started with `env`.
fn alpha_and_beta_with(
    test: &str,
    alpha_extra: &str,
    env: &[(&str, &str)],
) -> (SimHandle, SimHandle, Exporter) {
    let d = dir(test);
    let a = sim_with_token(Profile::new(2, 1, 3, 2), "alpha@pbs!exp", "secret-alpha-1");
    let b = sim_with_token(Profile::new(3, 1, 2, 2), "beta@pbs!exp", "secret-beta-2");
    let config = d.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "modules:\n{}{alpha_extra}{}",
            module(&d, "alpha", &a, "secret-alpha-1"),
            module(&d, "beta", &b, "secret-beta-2")
        ),
    )
    .unwrap();
    let exp = exporter_with_config(&config, env);
    (a, b, exp)
}

#[test]
fn two_pbs_with_their_own_tokens_and_certificates_scraped_concurrently() {
    let (a, b, exp) = alpha_and_beta("two", "");
    let addr = exp.addr;
    let (pa, pb) = (target_path(&a, "alpha"), target_path(&b, "beta"));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let path = if i % 2 == 0 { pa.clone() } else { pb.clone() };
            std::thread::spawn(move || (i % 2, get(addr, &path, &[])))
        })
        .collect();
    for t in threads {
        let (which, r) = t.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        common::expo::parse(&r.body);
        assert_eq!(samples(&r.body, "pbs_up"), ["pbs_up 1"], "{}", r.body);
        // Each answer holds only its own PBS: alpha has 2 datastores, beta 3.
        let stores = samples(&r.body, "pbs_datastore_up");
        let groups = samples(&r.body, "pbs_group_snapshots");
        if which == 0 {
            assert_eq!(stores.len(), 2, "{stores:?}");
            assert_eq!(groups.len(), 2 * 3, "{groups:?}");
        } else {
            assert_eq!(stores.len(), 3, "{stores:?}");
            assert_eq!(groups.len(), 3 * 2, "{groups:?}");
        }
        // A target scrape answers its pbs_* families only.
        assert!(!r.body.contains("process_"), "{}", r.body);
        assert!(!r.body.contains("pbs_exporter_build_info"), "{}", r.body);
    }
    // Each simulator saw its own token only (a wrong one would have been a 401).
    assert!(a.requests("/api2/json/version") >= 1 && b.requests("/api2/json/version") >= 1);
    // The exporter's own metrics are on /metrics without target, and nothing of a PBS.
    let own = exp.get("/metrics");
    assert_eq!(own.status, 200);
    assert!(own.body.contains("process_resident_memory_bytes "));
    assert!(own.body.contains("pbs_exporter_build_info{version="));
    assert!(samples(&own.body, "pbs_up").is_empty(), "{}", own.body);
    let log = exp.log();
    assert!(
        !log.contains("secret-alpha") && !log.contains("secret-beta"),
        "{log}"
    );
}

#[test]
fn a_target_no_module_allows_gets_400_and_never_a_connection() {
    let d = dir("deny");
    let a = sim_with_token(Profile::new(1, 1, 1, 1), "alpha@pbs!exp", "secret-alpha-1");
    let config = d.join("config.yml");
    std::fs::write(
        &config,
        format!("modules:\n{}", module(&d, "alpha", &a, "secret-alpha-1")),
    )
    .unwrap();
    let exp = exporter_with_config(&config, &[]);
    // A listener where a disallowed target points: nothing may connect to it.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let port = trap.local_addr().unwrap().port();
    for path in [
        format!("/metrics?target=127.0.0.1:{port}&module=alpha"),
        format!("/metrics?target=https://localhost:{port}&module=alpha"),
        format!(
            "/metrics?target=127.0.0.1:{}&module=alpha",
            a.addr().port() + 1
        ),
    ] {
        let r = exp.get(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(
            r.body.contains("not allowed by module 'alpha'"),
            "{}",
            r.body
        );
        assert_eq!(r.body.lines().count(), 1, "{}", r.body);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        trap.accept().is_err(),
        "the exporter connected to a target no module allows"
    );
    // No module given means `default`, which this file does not define.
    let r = exp.get(&format!("/metrics?target=127.0.0.1:{}", a.addr().port()));
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "unknown module 'default' (known: alpha)\n");
    let r = exp.get(&target_path(&a, "nope"));
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "unknown module 'nope' (known: alpha)\n")
    );
    let r = exp.get("/metrics?target=%zz");
    assert_eq!(r.status, 400);
    assert_eq!(
        a.connections(),
        0,
        "no request so far named alpha's own target"
    );
    assert_eq!(exp.get(&target_path(&a, "alpha")).status, 200);
    assert!(a.connections() >= 1);
}

/// Runs the exporter with `config` and returns its exit status and stderr.
fn run_to_exit(config: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pbs-exporter"))
        .env_clear()
        .env("PBS_CONFIG_FILE", config)
        .env("PBS_LISTEN_ADDRESS", "127.0.0.1:0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_bad_config_file_exits_2_with_one_line_naming_module_and_key() {
    let d = dir("bad");
    let config = d.join("config.yml");
    for (text, want) in [
        (
            "modules:\n  lab:\n    token_id: a@pbs!t\n    token: x\n    tokn: y\n    targets: [pbs1]\n",
            "module 'lab', key 'tokn': unknown key",
        ),
        (
            "modules:\n  lab:\n    token_id: a@pbs!t\n    token_file: /nonexistent/token\n    targets: [pbs1]\n",
            "module 'lab', key 'token_file': cannot read '/nonexistent/token'",
        ),
        (
            "modules:\n  lab:\n    token_id: a@pbs!t\n    token: x\n    timeout: soon\n    targets: [pbs1]\n",
            "module 'lab', key 'timeout'",
        ),
        (
            "modules:\n  lab:\n    token_id: a@pbs!t\n    token: x\n    targets:\n      - target: 'pbs*.lab'\n",
            "module 'lab', key 'targets[0].target'",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let (code, stderr) = run_to_exit(&config);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("PBS_CONFIG_FILE") && stderr.contains(want),
            "{stderr}"
        );
    }
}

/// Scrapes until `pbs_up` is `want` (a reload takes effect at once, but be patient with CI).
fn wait_up(exp: &Exporter, path: &str, want: &str) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = exp.get(path);
        assert_eq!(r.status, 200, "{}", r.body);
        let up = samples(&r.body, "pbs_up").join("");
        if up == format!("pbs_up {want}") || Instant::now() > until {
            return up;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sighup_rereads_the_token_file_and_keeps_the_old_config_when_the_new_one_is_bad() {
    let d = dir("hup");
    let a = sim_with_token(
        Profile::new(1, 1, 1, 1),
        "alpha@pbs!exp",
        "rotated-secret-2",
    );
    let config = d.join("config.yml");
    // The token file holds the old secret, which the PBS no longer accepts.
    let good = format!("modules:\n{}", module(&d, "alpha", &a, "old-secret-1"));
    std::fs::write(&config, &good).unwrap();
    let exp = exporter_with_config(&config, &[]);
    let path = target_path(&a, "alpha");
    assert_eq!(wait_up(&exp, &path, "0"), "pbs_up 0");

    // The token is rotated: the file changes, SIGHUP makes it count.
    std::fs::write(d.join("alpha.token"), "rotated-secret-2\n").unwrap();
    exp.send(1);
    exp.wait_log("configuration reloaded");
    assert_eq!(wait_up(&exp, &path, "1"), "pbs_up 1");

    // A bad file on reload is logged; the old configuration stays in force.
    std::fs::write(&config, good.replace("token_file", "token_fil")).unwrap();
    exp.send(1);
    let log = exp.wait_log("keeping the old one");
    assert!(
        log.contains("reload (SIGHUP) failed, keeping the old one")
            && log.contains("module 'alpha', key 'token_fil'"),
        "{log}"
    );
    assert_eq!(wait_up(&exp, &path, "1"), "pbs_up 1");
    assert!(
        !log.contains("rotated-secret-2") && !log.contains("old-secret-1"),
        "{log}"
    );
}

#[test]
fn pbs_targets_lets_the_environments_token_go_to_the_listed_targets_only() {
    let a = start_sim(Profile::new(1, 1, 1, 1), |_| {});
    let mut env = Exporter::env_for(&a);
    env.retain(|(k, _)| k != "PBS_ENDPOINT");
    env.push((
        "PBS_TARGETS".into(),
        format!("127.0.0.1:{}", a.addr().port()),
    ));
    let exp = Exporter::start_with(&env, &[]);
    let r = exp.get(&format!(
        "/metrics?target=https://127.0.0.1:{}",
        a.addr().port()
    ));
    assert_eq!(r.status, 200);
    assert_eq!(samples(&r.body, "pbs_up"), ["pbs_up 1"]);
    let r = exp.get(&format!(
        "/metrics?target=127.0.0.1:{}",
        a.addr().port() + 1
    ));
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("not allowed by module 'default'"),
        "{}",
        r.body
    );
    // No PBS_ENDPOINT: /metrics alone is the exporter's own metrics.
    let own = exp.get("/metrics");
    assert!(samples(&own.body, "pbs_up").is_empty() && own.body.contains("process_open_fds "));

    // Without PBS_TARGETS, a target other than PBS_ENDPOINT is refused, naming PBS_TARGETS.
    let exp = Exporter::start(&a, &[], &[]);
    let r = exp.get("/metrics?target=https://pbs.example:8007");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("PBS_TARGETS"), "{}", r.body);
    // PBS_ENDPOINT itself may be named (natrontech's users do), its pbs_* families only.
    let r = exp.get(&format!(
        "/metrics?target=https://127.0.0.1:{}",
        a.addr().port()
    ));
    assert_eq!(r.status, 200);
    assert_eq!(samples(&r.body, "pbs_up"), ["pbs_up 1"]);
    assert!(!r.body.contains("process_"));
    // /metrics alone is as before: PBS_ENDPOINT and the exporter's own.
    let r = exp.get("/metrics");
    assert!(r.body.contains("pbs_up 1\n") && r.body.contains("process_open_fds "));
}

#[test]
fn a_fingerprint_mismatch_is_logged_naming_the_target_and_what_it_presented() {
    let d = dir("fp");
    let a = sim_with_token(Profile::new(1, 1, 1, 1), "alpha@pbs!exp", "secret-alpha-1");
    let b = sim_with_token(Profile::new(1, 1, 1, 1), "beta@pbs!exp", "secret-beta-2");
    let config = d.join("config.yml");
    // alpha's entry pins beta's certificate.
    let text =
        module(&d, "alpha", &a, "secret-alpha-1").replace(&a.fingerprint(), &b.fingerprint());
    std::fs::write(&config, format!("modules:\n{text}")).unwrap();
    let exp = exporter_with_config(&config, &[]);
    let r = exp.get(&target_path(&a, "alpha"));
    assert_eq!(samples(&r.body, "pbs_up"), ["pbs_up 0"]);
    let target = format!(
        "target https://127.0.0.1:{} (module alpha)",
        a.addr().port()
    );
    let log = exp.wait_log(&target);
    let line = log
        .lines()
        .find(|l| l.contains(&target))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("fingerprint mismatch"), "{line}");
    assert!(
        line.to_lowercase()
            .contains(&a.fingerprint().to_lowercase()),
        "{line}"
    );
    assert!(!log.contains("secret-alpha-1"), "{log}");
}

#[test]
fn a_target_is_released_after_each_scrape_and_keeps_its_collector_state() {
    let d = dir("release");
    let a = start_sim(Profile::new(2, 1, 3, 2), |c| {
        c.token_id = "alpha@pbs!exp".into();
        c.token_secret = "secret-alpha-1".into();
        // The node collector fails on every scrape.
        c.faults.forbidden = vec!["/nodes/localhost/status".into()];
    });
    let config = d.join("config.yml");
    let text = format!("modules:\n{}", module(&d, "alpha", &a, "secret-alpha-1"));
    std::fs::write(&config, text).unwrap();
    let exp = exporter_with_config(&config, &[]);
    let path = target_path(&a, "alpha");
    let first = exp.get(&path);
    assert_eq!(first.status, 200, "{}", first.body);
    for _ in 0..2 {
        let r = exp.get(&path);
        assert_eq!(r.status, 200, "{}", r.body);
        // Results freed with the target are built again in full.
        assert_eq!(samples(&r.body, "pbs_up"), ["pbs_up 1"]);
        for family in ["pbs_datastore_up", "pbs_group_snapshots"] {
            assert_eq!(samples(&r.body, family), samples(&first.body, family));
        }
        assert_eq!(
            samples(&r.body, "pbs_scrape_collector_success{collector=\"node\"}"),
            ["pbs_scrape_collector_success{collector=\"node\"} 0"]
        );
    }
    // Released once answered: its PBS connection was closed, so each scrape opened one.
    assert_eq!(a.connections(), 3);
    // The collector's failure-log state survived the releases: logged once, not per scrape.
    let log = exp.wait_log("HTTP 403");
    assert_eq!(
        log.matches("denied GET /nodes/localhost/status").count(),
        1,
        "{log}"
    );
}

/// Sample lines of the families starting with one of `prefixes`.
fn lines_of<'a>(body: &'a str, prefixes: &[&str]) -> Vec<&'a str> {
    body.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .collect()
}

#[test]
fn a_released_and_repacked_target_reads_no_snapshot_list_again_and_writes_the_same() {
    let (a, _b, exp) = alpha_and_beta_with("repack", "", &[("PBS_SNAPSHOT_HISTORY", "2")]);
    let path = target_path(&a, "alpha");
    let groups = ["pbs_group_newest_", "pbs_snapshot_"];
    // Each answer is read to its end and its connection closed: the scrape is over, so the
    // server released the target and, none other in progress, repacked what it keeps.
    let first = exp.get(&path);
    assert_eq!(first.status, 200, "{}", first.body);
    let reads = samples(&first.body, "pbs_datastore_snapshot_lists_read");
    // The first scrape reads each datastore's one namespace in full.
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(reads.iter().all(|l| l.ends_with(" 1")), "{reads:?}");
    let kept = lines_of(&first.body, &groups);
    // Alpha: 2 datastores × 3 groups, each with its newest snapshot and a history of 2.
    assert_eq!(
        samples(&first.body, "pbs_group_newest_snapshot_size_bytes").len(),
        6
    );
    assert_eq!(samples(&first.body, "pbs_snapshot_size_bytes").len(), 12);
    for _ in 0..2 {
        let r = exp.get(&path);
        assert_eq!(r.status, 200, "{}", r.body);
        // Nothing changed in PBS, and the aggregates survived the release and the repack:
        // no snapshot list is read again.
        let reads = samples(&r.body, "pbs_datastore_snapshot_lists_read");
        assert_eq!(reads.len(), 2, "{reads:?}");
        assert!(reads.iter().all(|l| l.ends_with(" 0")), "{reads:?}");
        assert_eq!(lines_of(&r.body, &groups), kept);
    }
    assert_eq!(a.connections(), 3, "released after each scrape");
}

#[test]
fn keep_last_values_is_per_module_and_per_target() {
    let (a, b, exp) = alpha_and_beta("keep", "    keep_last_values: 1h\n");
    let (pa, pb) = (target_path(&a, "alpha"), target_path(&b, "beta"));
    let good_a = exp.get(&pa).body;
    let good_b = exp.get(&pb).body;
    assert_eq!(samples(&good_a, "pbs_datastore_total_bytes").len(), 2);
    assert_eq!(samples(&good_b, "pbs_datastore_total_bytes").len(), 3);

    // alpha sleeps: its module keeps, and only its own values; beta is scraped fresh.
    a.stop();
    let asleep = exp.get(&pa).body;
    assert_eq!(samples(&asleep, "pbs_up"), ["pbs_up 0"]);
    for family in [
        "pbs_datastore_total_bytes",
        "pbs_group_snapshots",
        "pbs_last_success_timestamp_seconds",
    ] {
        assert_eq!(
            samples(&asleep, family),
            samples(&good_a, family),
            "{family}"
        );
    }
    let fresh = exp.get(&pb).body;
    assert_eq!(samples(&fresh, "pbs_up"), ["pbs_up 1"]);
    assert_eq!(samples(&fresh, "pbs_datastore_total_bytes").len(), 3);

    // beta's module does not keep.
    b.stop();
    let down = exp.get(&pb).body;
    assert_eq!(samples(&down, "pbs_up"), ["pbs_up 0"]);
    assert!(samples(&down, "pbs_datastore_total_bytes").is_empty());
    assert_eq!(
        samples(&down, "pbs_last_success_timestamp_seconds"),
        samples(&fresh, "pbs_last_success_timestamp_seconds")
    );
}
