//! End to end with a real Prometheus (Debian's `prometheus`): it scrapes two exporters, each
//! scraping a simulator, for a minute, with `contrib/prometheus/alerts.yml` loaded. Then:
//!
//! - `ALERTS` holds exactly the alerts the simulators' known faults should fire, computed from
//!   the simulator's model, and no other;
//! - every query of `contrib/grafana/pbs-exporter.json`, with its variables substituted, parses
//!   and returns data, except those on the short lists below ([`PENDING`] families not built
//!   yet, [`EMPTY_FROM_THE_SIMULATOR`]); every variable's query returns values.
//!
//! The faults: the main simulator (5 datastores × 2 namespaces × 7 groups × 5 snapshots) has
//! `store3` not mounted, `store4` in offline maintenance and namespace `ns1` of `store1` failing
//! (so the `groups` and `snapshots` collectors fail); its model has newest snapshots that failed
//! verification, a group whose newest snapshot is still being written, so that its last
//! finished backup is a day older than the others', and GC status with bad chunks. The second simulator answers nothing within
//! the scrape timeout: its exporter reports PBS down and its scrapes end just before the
//! timeout.
//!
//! Overrides of the rules for the test (a generated copy; the file itself is not changed):
//! - every `for:` window becomes [`FOR_IN_TEST`], so alerts fire within the minute;
//! - `time()` becomes `(time() - SHIFT)`: the simulator's clock stands still at
//!   `model::BASE` (its newest backups are from then), so the test moves Prometheus' "now" to
//!   [`CLOCK_AHEAD`] after `BASE`.
//!
//! The test takes about 70–100 s and needs `prometheus` on PATH, so it runs only when
//! `PROMETHEUS_E2E=1` (`.ci/run` sets it and installs Prometheus); otherwise it says it skipped.

mod common;

use common::{Exporter, start_sim};
use pbs_sim::model::{self, VerifyState};
use pbs_sim::{Profile, jobs, tasks};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const RULES: &str = include_str!("../contrib/prometheus/alerts.yml");
const DASHBOARD: &str = include_str!("../contrib/grafana/pbs-exporter.json");

/// The `for:` window of every rule in the test.
const FOR_IN_TEST: &str = "10s";
/// Prometheus' "now" in the test, after the simulator's `model::BASE`.
const CLOCK_AHEAD: i64 = 2 * 3600;
/// Scrape and rule evaluation interval; the scrape timeout is 4 s.
const INTERVAL_S: u64 = 5;
/// How long Prometheus scrapes before the checks, and at most before the alerts must be settled.
const SCRAPE_FOR: Duration = Duration::from_secs(60);
const SETTLE_BY: Duration = Duration::from_secs(100);
/// `$__rate_interval` as Grafana would set it for a 5 s scrape interval (4 × 5 s), rounded up.
const RATE_INTERVAL: &str = "30s";

/// Alerts whose metric families are specified but not exported: they cannot fire, and the
/// panels reading those families return nothing. When a family appears, the test fails and says
/// which alert to move into [`expected_alerts`]. Every family of issue 7 is exported now.
const PENDING: &[(&str, &[&str])] = &[];

/// Further families not exported yet that only panels read.
const PENDING_PANEL_FAMILIES: &[&str] = &[];

/// Alerts the simulators' faults must not fire (their conditions do not hold in the model).
const QUIET: &[&str] = &[
    "PbsSubscriptionDue",
    "PbsBackupNotVerified",
    "PbsDatastoreFillingUp",
    "PbsDatastoreEstimatedFull",
];

/// Panel queries (by panel title and refId) that legitimately return nothing from the
/// simulator, with the reason.
const EMPTY_FROM_THE_SIMULATOR: &[(&str, &str, &str)] = &[];

/// The main simulator's content: tape, and its last datastore (which stays usable) S3-backed.
const PROFILE: Profile = Profile::new(5, 2, 7, 5).with_s3().with_tape();

/// The main simulator's datastore that is not mounted, and the one in offline maintenance:
/// PBS gives neither usage, GC status nor groups for them.
const UNMOUNTED: &str = "store3";
const MAINTENANCE: &str = "store4";
/// `(datastore, namespace)` indices whose groups the exporter reads: `store1` without its
/// failing `ns1`, `store2` and `store5`.
const READ: [(usize, usize); 5] = [(0, 0), (1, 0), (1, 1), (4, 0), (4, 1)];

#[test]
fn the_dashboard_returns_data_and_the_simulators_faults_fire_exactly_their_alerts() {
    if std::env::var_os("PROMETHEUS_E2E").is_none() {
        eprintln!("skipped: set PROMETHEUS_E2E=1 to run it (needs Debian's prometheus)");
        return;
    }
    let sim = start_sim(PROFILE, |c| {
        c.faults.unmounted = vec![UNMOUNTED.into()];
        c.faults.maintenance = vec![MAINTENANCE.into()];
        c.faults.failing_namespace = Some(("store1".into(), "ns1".into()));
    });
    let hung = start_sim(Profile::DEMO, |c| c.faults.delay = Duration::from_secs(120));
    let exporter = Exporter::start(&sim, &[], &[]);
    let hung_exporter = Exporter::start(&hung, &[], &[]);
    let main = exporter.addr.to_string();
    let slow = hung_exporter.addr.to_string();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let shift = now - (model::BASE + CLOCK_AHEAD);
    let prom = Prometheus::start(&[&main, &slow], &rules_for_test(shift));
    let started = Instant::now();

    // The rules are loaded, every one of them.
    let rules = prom.api("/api/v1/rules");
    let loaded: usize = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_array().unwrap().len())
        .sum();
    assert_eq!(loaded, alert_names().len(), "{rules}");

    // Every alert is accounted for: expected to fire, pending, or quiet. Pending alerts cannot
    // fire yet: their families are checked to be absent below.
    let mut expected = expected_alerts(&main, &slow);
    let mut classified: BTreeSet<String> =
        expected.iter().map(|a| alert_name(a).to_string()).collect();
    classified.extend(PENDING.iter().map(|(a, _)| a.to_string()));
    classified.extend(QUIET.iter().map(|a| a.to_string()));
    assert_eq!(classified, alert_names(), "an alert is not classified");
    expected.retain(|a| !PENDING.iter().any(|(p, _)| alert_name(a) == *p));

    // Scrape for a minute, then until the alerts settle (bounded).
    let mut firing;
    loop {
        std::thread::sleep(Duration::from_secs(INTERVAL_S));
        firing = prom.alerts("firing");
        let waited = started.elapsed();
        if (waited >= SCRAPE_FOR && firing == expected) || waited >= SETTLE_BY {
            break;
        }
    }
    let missing: Vec<_> = expected.difference(&firing).collect();
    let extra: Vec<_> = firing.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "alerts after {:?}\nmissing: {missing:#?}\nunexpected: {extra:#?}\nPrometheus log:\n{}",
        started.elapsed(),
        prom.log()
    );
    assert_eq!(prom.alerts("pending"), BTreeSet::new());
    eprintln!(
        "{} alerts firing as expected after {:?}",
        firing.len(),
        started.elapsed()
    );

    // Both exporters were scraped.
    for instance in [&main, &slow] {
        let up = prom.query(&format!("up{{instance=\"{instance}\"}}"));
        assert_eq!(value_of(&up), Some(1.0), "{instance}: {up}");
    }

    // Pending families are absent: when one lands, its alert must move into expected_alerts.
    for (alert, families) in PENDING {
        for family in *families {
            let found = prom.query(&format!("count({family})"));
            assert!(
                found.as_array().unwrap().is_empty(),
                "{family} is exported now: move {alert} from PENDING into expected_alerts"
            );
        }
    }
    for family in PENDING_PANEL_FAMILIES {
        let found = prom.query(&format!("count({family})"));
        assert!(
            found.as_array().unwrap().is_empty(),
            "{family} is exported now: remove it from PENDING_PANEL_FAMILIES"
        );
    }

    check_dashboard(&prom, &main, started);
}

/// Runs every variable and panel query of the dashboard.
fn check_dashboard(prom: &Prometheus, main: &str, started: Instant) {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = end - started.elapsed().as_secs().min(end);

    // Variables.
    let mut values = BTreeMap::new();
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if var["type"] != "query" {
            continue;
        }
        let name = var["name"].as_str().unwrap();
        let query = var["query"]["query"].as_str().unwrap();
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {name}: not label_values(...): {query}"));
        let (selector, label) = inner
            .rsplit_once(',')
            .expect("label_values(selector, label)");
        let selector = substitute(selector.trim(), main, ".*");
        let found = prom.api(&format!(
            "/api/v1/label/{}/values?match[]={}&start={start}&end={end}",
            label.trim(),
            urlencode(&selector)
        ));
        let found: BTreeSet<String> = found["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        values.insert(name.to_string(), found);
    }
    assert!(values["target"].contains(main), "{values:?}");
    let stores: BTreeSet<String> = (0..PROFILE.datastores).map(model::store_name).collect();
    assert_eq!(values["datastore"], stores);
    // The root namespace has no label, so only ns1 is listed; All (.*) selects the root too.
    assert_eq!(values["namespace"], BTreeSet::from(["ns1".to_string()]));

    // Panels.
    let queries = panel_queries(&dashboard);
    assert!(queries.len() >= 40, "{} queries", queries.len());
    let mut empty = Vec::new();
    let (mut runs, mut with_data, mut pending) = (0, 0, 0);
    for q in &queries {
        assert!(
            q.expr.contains("$target"),
            "{}: no $target in {}",
            q.id(),
            q.expr
        );
        let mut namespaces = vec![".*"];
        if q.expr.contains("$namespace") {
            namespaces.push("ns1");
        }
        for ns in namespaces {
            let expr = substitute(&q.expr, main, ns);
            let result = if q.instant {
                prom.query(&expr)
            } else {
                prom.api(&format!(
                    "/api/v1/query_range?query={}&start={start}&end={end}&step={INTERVAL_S}",
                    urlencode(&expr)
                ))["data"]["result"]
                    .clone()
            };
            let has_data = result.as_array().is_some_and(|r| !r.is_empty());
            let is_pending = PENDING
                .iter()
                .flat_map(|(_, f)| f.iter())
                .chain(PENDING_PANEL_FAMILIES)
                .any(|f| q.expr.contains(f));
            let allowed = EMPTY_FROM_THE_SIMULATOR
                .iter()
                .any(|(title, r, _)| *title == q.title && *r == q.ref_id);
            runs += 1;
            match (has_data, is_pending || allowed) {
                (true, _) => with_data += 1,
                (false, true) => pending += 1,
                (false, false) => empty.push(format!("{} (namespace {ns}): {expr}", q.id())),
            }
        }
        if q.title == "Fill" {
            check_fill(&prom.query(&substitute(&q.expr, main, ".*")));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    eprintln!(
        "{} panel queries, {runs} runs: {with_data} returned data, {pending} read families \
         not exported yet",
        queries.len()
    );
}

/// The fill panel shows `used / total` of each usable datastore, as the model has it.
fn check_fill(result: &Value) {
    let mut seen = BTreeSet::new();
    for series in result.as_array().unwrap() {
        let store = series["metric"]["datastore"].as_str().unwrap();
        let d = model::store_index(&PROFILE, store).unwrap();
        let u = model::usage(d);
        let want = u.used as f64 / u.total as f64;
        let got: f64 = series["value"][1].as_str().unwrap().parse().unwrap();
        assert!((got - want).abs() < 1e-12, "{store}: {got} != {want}");
        seen.insert(store.to_string());
    }
    let usable: BTreeSet<String> = (0..PROFILE.datastores)
        .map(model::store_name)
        .filter(|s| s != UNMOUNTED && s != MAINTENANCE)
        .collect();
    assert_eq!(seen, usable);
}

/// `Alertname{label="value",...}` of every alert the faults fire, labels sorted, without
/// `alertstate`, `job`, `severity` and `threshold`.
fn expected_alerts(main: &str, slow: &str) -> BTreeSet<String> {
    let mut expected = BTreeSet::new();
    let mut add = |name: &str, labels: &[(&str, &str)]| {
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        expected.insert(alert_key(name, labels));
    };
    add("PbsDown", &[("instance", slow)]);
    add("PbsExporterScrapeSlow", &[("instance", slow)]);
    for collector in ["groups", "snapshots"] {
        add(
            "PbsCollectorFailed",
            &[("instance", main), ("collector", collector)],
        );
    }
    for store in [UNMOUNTED, MAINTENANCE] {
        add(
            "PbsDatastoreDown",
            &[("instance", main), ("datastore", store)],
        );
    }
    let now = model::BASE + CLOCK_AHEAD;
    let p = &PROFILE;
    for (d, n) in READ {
        for g in 0..p.groups {
            let Some(s) = model::newest_finished(p, g) else {
                continue;
            };
            let (store, ns, id) = (
                model::store_name(d),
                model::namespace_name(n),
                model::backup_id(g),
            );
            let group = [
                ("instance", main),
                ("datastore", store.as_str()),
                ("namespace", ns.as_str()),
                ("backup_type", model::backup_type(g)),
                ("backup_id", id.as_str()),
            ];
            if model::verification(p, g, s) == Some(VerifyState::Failed) {
                add(
                    "PbsBackupVerifyFailed",
                    &[group.as_slice(), &[("state", "failed")]].concat(),
                );
            }
            if now - model::backup_time(p, d, n, g, s) > 26 * 3600 {
                add("PbsBackupMissing", &group);
            }
        }
    }
    // Jobs: the last run ended in error; not run for twice its interval, or 48 h without a
    // next run (Prometheus' "now" is `now` here too).
    for t in jobs::JobType::ALL {
        for j in jobs::jobs(p, t) {
            let Some((end, state)) = j.last_run.as_ref().and_then(|r| r.end) else {
                continue;
            };
            let job = [
                ("instance", main),
                ("job_type", t.label()),
                ("job_id", j.id.as_str()),
                ("datastore", j.store.as_str()),
            ];
            if state != "OK" && state != "unknown" && !state.starts_with("WARNINGS: ") {
                add(
                    "PbsJobFailed",
                    &[job.as_slice(), &[("state", "error")]].concat(),
                );
            }
            let late = match j.next_run {
                Some(next) => now - end > 2 * (next - end),
                None => now - end > 48 * 3600,
            };
            if late {
                add("PbsJobNotRun", &job);
            }
        }
    }
    // Tasks: 3 or more failed of one kind on one datastore in the (real-time) window.
    let mut errors: BTreeMap<(&str, String), u64> = BTreeMap::new();
    for i in 0..tasks::count(p) {
        let t = tasks::task(p, i, 0);
        if let Some((_, status)) = t.end.filter(|_| t.start >= -model::DAY) {
            if status != "OK" && !status.starts_with("WARNINGS: ") {
                *errors
                    .entry((t.worker_type, t.store.unwrap_or_default()))
                    .or_default() += 1;
            }
        }
    }
    for ((worker_type, store), n) in errors {
        if n >= 3 {
            add(
                "PbsTasksFailing",
                &[
                    ("instance", main),
                    ("worker_type", worker_type),
                    ("datastore", store.as_str()),
                ],
            );
        }
    }
    // GC's bad chunks, on the usable datastores.
    for d in 0..p.datastores {
        let store = model::store_name(d);
        let gc = model::gc_status(p, d);
        if store != UNMOUNTED && store != MAINTENANCE && gc.removed_bad + gc.still_bad > 0 {
            add(
                "PbsGcBadChunks",
                &[("instance", main), ("datastore", &store)],
            );
        }
    }
    // The model has what the test relies on: at least one of each.
    for name in [
        "PbsBackupVerifyFailed",
        "PbsBackupMissing",
        "PbsJobFailed",
        "PbsJobNotRun",
        "PbsTasksFailing",
        "PbsGcBadChunks",
    ] {
        assert!(expected.iter().any(|a| alert_name(a) == name), "{name}");
    }
    expected
}

/// The name of an alert in [`alert_key`] form.
fn alert_name(key: &str) -> &str {
    key.split('{').next().unwrap_or(key)
}

/// The canonical form of an alert; empty label values are absent, as in Prometheus.
fn alert_key(name: &str, labels: BTreeMap<&str, &str>) -> String {
    let labels: Vec<String> = labels
        .into_iter()
        .filter(|(k, v)| {
            !v.is_empty()
                && !matches!(
                    *k,
                    "__name__" | "alertname" | "alertstate" | "job" | "severity" | "threshold"
                )
        })
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// Names of every alert in the rules file.
fn alert_names() -> BTreeSet<String> {
    RULES
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_string())
        .collect()
}

/// The rules with the test's overrides (see the module documentation).
fn rules_for_test(shift: i64) -> String {
    let mut windows = 0;
    let mut out = String::new();
    for line in RULES.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("for:") {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}for: {FOR_IN_TEST}\n"));
            windows += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(windows, alert_names().len(), "every rule has a for: window");
    assert!(out.contains("time()"));
    out.replace("time()", &format!("(time() - {shift})"))
}

/// One query of a panel.
struct PanelQuery {
    title: String,
    ref_id: String,
    expr: String,
    instant: bool,
}

impl PanelQuery {
    fn id(&self) -> String {
        format!("panel '{}' query {}", self.title, self.ref_id)
    }
}

/// Every panel's queries (rows' nested panels included), checking what Grafana needs: unique
/// ids, a grid position, the dashboard's data source variable.
fn panel_queries(dashboard: &Value) -> Vec<PanelQuery> {
    let mut panels: Vec<&Value> = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        panels.push(p);
        if let Some(nested) = p["panels"].as_array() {
            panels.extend(nested);
        }
    }
    let mut ids = BTreeSet::new();
    let mut queries = Vec::new();
    for p in panels {
        let title = p["title"].as_str().unwrap().to_string();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: duplicate id"
        );
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].is_u64(), "{title}: gridPos.{k}");
        }
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            queries.push(PanelQuery {
                title: title.clone(),
                ref_id: t["refId"].as_str().unwrap().to_string(),
                expr: t["expr"].as_str().unwrap().to_string(),
                instant: t["instant"] == true,
            });
        }
    }
    queries
}

/// A query with the dashboard's variables as Grafana would substitute them: one target,
/// All (`.*`) datastores, and `namespace`.
fn substitute(expr: &str, target: &str, namespace: &str) -> String {
    let out = expr
        .replace("$__rate_interval", RATE_INTERVAL)
        .replace("$target", target)
        .replace("$datastore", ".*")
        .replace("$namespace", namespace);
    assert!(!out.contains('$'), "unsubstituted variable in {out}");
    out
}

/// The value of a one-sample instant vector.
fn value_of(result: &Value) -> Option<f64> {
    let r = result.as_array()?;
    (r.len() == 1).then(|| r[0]["value"][1].as_str()?.parse().ok())?
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Prometheus server in a temporary directory, killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    fn start(targets: &[&str], rules: &str) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("pbs-exporter-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("alerts.yml"), rules).unwrap();
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: {INTERVAL_S}s\n  scrape_timeout: 4s\n  \
             evaluation_interval: {INTERVAL_S}s\nrule_files:\n  - {}\nscrape_configs:\n  \
             - job_name: pbs\n    static_configs:\n      - targets: [{}]\n",
            dir.join("alerts.yml").display(),
            targets.join(", ")
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        // A free loopback port (released just before Prometheus binds it).
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=extra-scrape-metrics")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus runs (apt-get install prometheus)");
        let prom = Prometheus { child, addr, dir };
        let until = Instant::now() + Duration::from_secs(30);
        while http_get(prom.addr, "/-/ready").map(|(s, _)| s) != Some(200) {
            assert!(
                Instant::now() < until,
                "Prometheus not ready:\n{}",
                prom.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prom
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// GETs an API path and returns the JSON answer, which must be a success.
    fn api(&self, path: &str) -> Value {
        let (status, body) = http_get(self.addr, path).expect("Prometheus answers");
        let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(
            (status, json["status"].as_str()),
            (200, Some("success")),
            "{path}: {body}"
        );
        json
    }

    /// An instant query's result array.
    fn query(&self, expr: &str) -> Value {
        self.api(&format!("/api/v1/query?query={}", urlencode(expr)))["data"]["result"].clone()
    }

    /// The alerts in `state` (`firing` or `pending`), in [`alert_key`] form.
    fn alerts(&self, state: &str) -> BTreeSet<String> {
        let result = self.query(&format!("ALERTS{{alertstate=\"{state}\"}}"));
        result
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let labels: BTreeMap<&str, &str> = a["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                    .collect();
                alert_key(labels["alertname"], labels)
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A GET over HTTP/1.0 (so the answer is never chunked); `None` when nothing answers.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}
