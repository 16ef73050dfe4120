//! `--compat natrontech` reproduces natrontech/pbs-exporter's golden example
//! (`tests/fixtures/natrontech/`, from the compatibility specification): the same PBS answers,
//! served over plain HTTP as natrontech's mock served them, give the same `pbs_*` lines, byte
//! for byte, and PBS is asked for each piece of data once.

mod common;

use common::Exporter;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/natrontech/");

/// The fixture file answering an API path (without `/api2/json`).
fn fixture(path: &str) -> Option<&'static str> {
    Some(match path {
        "/version" => "version.json",
        "/admin/datastore" => "datastore-list.json",
        "/status/datastore-usage" => "datastore-usage.json",
        "/admin/datastore/store1/namespace" => "namespace.json",
        "/admin/datastore/store1/snapshots" | "/admin/datastore/store1/snapshots?ns=" => {
            "snapshots-root.json"
        }
        "/admin/datastore/store1/snapshots?ns=ns1" => "snapshots-ns1.json",
        "/nodes/localhost/status" => "node-status.json",
        "/nodes/localhost/subscription" => "subscription.json",
        _ => return None,
    })
}

/// Serves the fixtures over plain HTTP, one request per connection, logging the paths asked.
fn serve_fixtures() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let target = line.split_whitespace().nth(1).unwrap_or("");
            let path = target.strip_prefix("/api2/json").unwrap_or(target);
            seen.lock().unwrap().push(path.to_string());
            let (status, body) = match fixture(path) {
                Some(file) => (
                    "200 OK",
                    std::fs::read(format!("{FIXTURES}{file}")).unwrap(),
                ),
                None => ("404 Not Found", b"no such path".to_vec()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    (port, log)
}

/// The lines of `text` that belong to the families named in `golden` (samples and HELP/TYPE).
fn lines_of_families<'a>(text: &'a str, golden: &str) -> Vec<&'a str> {
    let names: Vec<&str> = golden
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    text.lines()
        .filter(|l| {
            let l = l
                .strip_prefix("# HELP ")
                .or_else(|| l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            let name = l.split(['{', ' ']).next().unwrap_or("");
            names.contains(&name)
        })
        .collect()
}

#[test]
fn the_golden_example_gives_natrontechs_lines() {
    let (port, requests) = serve_fixtures();
    let env: Vec<(String, String)> = [
        ("PBS_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ("PBS_USERNAME", "exporter@pbs".into()),
        ("PBS_API_TOKEN_NAME", "metrics".into()),
        (
            "PBS_API_TOKEN",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
        ),
        ("PBS_COMPAT", "natrontech".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let exp = Exporter::start_with(&env, &[]);
    let golden = std::fs::read_to_string(format!("{FIXTURES}golden.txt")).unwrap();
    for _ in 0..2 {
        let r = exp.get("/metrics");
        // natrontech's own names break our strict exposition rules (a gauge named
        // `pbs_host_disk_total`), so only the lines are compared here.
        assert_eq!(r.status, 200, "{}", r.body);
        let ours = lines_of_families(&r.body, &golden);
        let want: Vec<&str> = golden.lines().collect();
        assert_eq!(ours, want, "\nours:\n{}\n", ours.join("\n"));
    }
    // Each piece of data was asked for once per scrape: the compat families come from the
    // collectors that already read it.
    let requests = requests.lock().unwrap();
    let snapshots = requests.iter().filter(|p| p.contains("/snapshots")).count();
    assert_eq!(snapshots, 2 * 2, "{requests:?}");
    for path in [
        "/nodes/localhost/status",
        "/nodes/localhost/subscription",
        "/status/datastore-usage",
        "/version",
    ] {
        assert_eq!(
            requests.iter().filter(|p| *p == path).count(),
            2,
            "{path}: {requests:?}"
        );
    }
}

#[test]
fn without_the_switch_natrontechs_families_are_not_written() {
    let (port, _) = serve_fixtures();
    let env: Vec<(String, String)> = [
        ("PBS_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ("PBS_API_TOKEN_NAME", "exporter@pbs!metrics".into()),
        ("PBS_API_TOKEN", "x".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let exp = Exporter::start_with(&env, &[]);
    let r = exp.get("/metrics");
    for family in [
        "pbs_snapshot_vm_count",
        "pbs_available",
        "pbs_host_memory_used ",
        "pbs_version{",
    ] {
        assert!(!r.body.contains(family), "{family}");
    }
    assert!(r.body.contains("# HELP pbs_up 1 when PBS answered"));
}
