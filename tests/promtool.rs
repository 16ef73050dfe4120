//! `promtool check metrics` (from Debian's `prometheus` package) finds nothing in a scrape of
//! the large profile with every collector and family on (tape, an S3 datastore, snapshot
//! history). CI installs promtool and sets `PBS_EXPORTER_REQUIRE_PROMTOOL=1`, so a
//! missing promtool fails there instead of passing silently.

mod common;

use common::{Exporter, start_sim};
use pbs_exporter::collectors::CollectorId;
use pbs_sim::Profile;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn promtool_finds_nothing_in_a_large_scrape() {
    let found = Command::new("promtool").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("PBS_EXPORTER_REQUIRE_PROMTOOL").is_none(),
            "promtool is required (apt-get install prometheus)"
        );
        eprintln!("promtool not installed: skipped (CI requires it)");
        return;
    }
    let sim = start_sim(Profile::LARGE.with_tape().with_s3(), |_| {});
    let exp = Exporter::start(&sim, &[("PBS_SNAPSHOT_HISTORY", "2")], &[]);
    let m = exp.scrape();
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    assert_eq!(m.find("pbs_group_snapshots", &[]).len(), 2000);
    for c in CollectorId::ALL {
        let on = [("collector", c.name())];
        assert_eq!(m.value("pbs_scrape_collector_success", &on), 1.0, "{c:?}");
    }
    for f in [
        "pbs_tape_media",
        "pbs_datastore_s3_requests_total",
        "pbs_snapshot_size_bytes",
    ] {
        assert!(m.has(f), "{f}");
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(m.text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}"
    );
}
