//! The exporter's HTTP server: routes, keep-alive with chunked responses, and the limits that
//! keep a misbehaving client from hurting it.

mod common;

use common::{Exporter, get, start_sim};
use pbs_sim::{Faults, Profile};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const PROFILE: Profile = Profile::new(2, 1, 3, 2);

#[test]
fn landing_page_health_and_unknown_paths() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_METRICS_PATH", "/pbs")], &[]);
    let landing = exp.get("/");
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("href=\"/pbs\""), "{}", landing.body);
    let health = exp.get("/health");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    assert_eq!(exp.get("/metrics").status, 404);
    let m = common::expo::parse(&exp.get("/pbs").body);
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    let mut s = TcpStream::connect(exp.addr).unwrap();
    s.write_all(b"POST /pbs HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
}

/// Reads one chunked response from a kept-alive connection.
fn read_chunked(r: &mut BufReader<TcpStream>) -> (String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        let mut chunk = vec![0; n + 2];
        r.read_exact(&mut chunk).unwrap();
        assert_eq!(&chunk[n..], b"\r\n");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    (head, String::from_utf8(body).unwrap())
}

#[test]
fn keep_alive_scrapes_are_chunked_and_reuse_one_pbs_connection() {
    let sim = start_sim(Profile::new(3, 2, 40, 3), |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let s = TcpStream::connect(exp.addr).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut bodies = Vec::new();
    for _ in 0..3 {
        w.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (head, body) = read_chunked(&mut r);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        let m = common::expo::parse(&body);
        assert_eq!(m.find("pbs_group_snapshots", &[]).len(), 3 * 2 * 40);
        bodies.push(body);
    }
    // Large enough to span several chunks, and the same whatever the chunking.
    assert!(bodies[0].len() > 64 * 1024, "{}", bodies[0].len());
    let plain = exp.get("/metrics").body;
    // PBS lists datastores in a different order each time: compare the sets of lines.
    let lines = |b: &str| {
        let mut v: Vec<String> = b
            .lines()
            .filter(|l| {
                !l.contains("duration")
                    && !l.starts_with("process_")
                    && !l.starts_with("pbs_last_success_timestamp_seconds ")
            })
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert!(
        lines(&bodies[2]) == lines(&plain),
        "chunked and plain bodies differ"
    );
    // Four scrapes over one kept-alive TLS connection to PBS.
    assert_eq!(sim.connections(), 1);
}

#[test]
fn an_oversized_request_head_is_refused() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let mut s = TcpStream::connect(exp.addr).unwrap();
    let mut req = b"GET /metrics HTTP/1.1\r\n".to_vec();
    for i in 0..400 {
        req.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(40)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let _ = s.write_all(&req);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    assert_eq!(exp.get("/health").status, 200);
}

#[test]
fn silent_clients_neither_block_others_nor_stay_forever() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let idle: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(exp.addr).unwrap())
        .collect();
    let half = {
        let mut s = TcpStream::connect(exp.addr).unwrap();
        s.write_all(b"GET /metr").unwrap();
        s
    };
    let started = Instant::now();
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(idle);
    drop(half);
}

#[test]
fn silent_connections_beyond_the_cap_make_room_for_a_scrape() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    // More silent connections than slots (32), and one that trickles a head.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(exp.addr).unwrap())
        .collect();
    let mut half = TcpStream::connect(exp.addr).unwrap();
    half.write_all(b"GET /metr").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let r = get(exp.addr, "/health", &[]);
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The oldest silent connections were closed to make room.
    let mut first = idle.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(first.read(&mut buf).unwrap(), 0);
}

#[test]
fn connections_being_answered_are_not_evicted_and_more_get_503() {
    let sim = start_sim(PROFILE, |c| c.faults.delay = Duration::from_millis(700));
    let exp = Exporter::start(&sim, &[], &[]);
    // 32 scrapes in flight fill every slot with connections being answered.
    let busy: Vec<TcpStream> = (0..32)
        .map(|_| {
            let mut s = TcpStream::connect(exp.addr).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(exp.addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = extra.write_all(b"GET /health HTTP/1.1\r\n\r\n");
    let mut out = String::new();
    let _ = extra.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 503"), "{out:?}");
    // Every scrape in flight is answered.
    for s in busy {
        let mut r = BufReader::new(s);
        let (head, body) = read_chunked(&mut r);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(common::expo::parse(&body).value("pbs_up", &[]), 1.0);
    }
    sim.set_faults(Faults::default());
    assert_eq!(exp.get("/health").status, 200);
}

#[test]
fn a_client_that_never_reads_its_scrape_delays_no_other() {
    let sim = start_sim(Profile::LARGE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    // A warm scrape's latency (the first one also opens the TLS connection to PBS).
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    let started = Instant::now();
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    let normal = started.elapsed();
    // Two pipelined scrapes, never read: ~4.8 MB, more than the socket buffers on both sides
    // hold (~4 MB on loopback), so the exporter's second write blocks, after two collections.
    let mut stalled = TcpStream::connect(exp.addr).unwrap();
    stalled
        .write_all(&b"GET /metrics HTTP/1.1\r\n\r\n".repeat(2))
        .unwrap();
    std::thread::sleep(normal * 2 + Duration::from_millis(500));
    // Another client's scrape completes while that write is still blocked: the stalled client
    // then gets both of its responses whole. (When the write held the collection, this scrape
    // waited for the 30 s write timeout, which cut the stalled client's response off.)
    let started = Instant::now();
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    let took = started.elapsed();
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut r = BufReader::new(stalled);
    for _ in 0..2 {
        let (head, body) = read_chunked(&mut r);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(common::expo::parse(&body).value("pbs_up", &[]), 1.0);
    }
    eprintln!("scrape beside the stalled client: {took:?} (normal {normal:?})");
}

#[test]
fn bare_lf_request_heads_are_answered_at_once_pipelined_too() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let mut s = TcpStream::connect(exp.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"GET /health HTTP/1.1\nHost: x\n\nGET /nope HTTP/1.1\n\nGET /health HTTP/1.1\nConnection: close\n\n")
        .unwrap();
    let started = Instant::now();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    let statuses: Vec<&str> = out.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
    assert_eq!(statuses, ["200", "404", "200"], "{out}");
}

#[test]
fn sigterm_stops_the_exporter_with_status_0_even_mid_scrape() {
    let sim = start_sim(PROFILE, |c| c.faults.delay = Duration::from_millis(500));
    let exp = Exporter::start(&sim, &[], &[]);
    let addr = exp.addr;
    let pending = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = exp.terminate();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    pending.join().unwrap();
    sim.set_faults(Faults::default());
}

#[test]
fn sigint_stops_the_exporter_with_status_0() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    let status = exp.signal(2);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn http10_clients_get_a_plain_body_and_a_closed_connection() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let mut s = TcpStream::connect(exp.addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(!head.contains("chunked"), "{head}");
    assert_eq!(common::expo::parse(body).value("pbs_up", &[]), 1.0);
    let _ = get;
}

#[test]
fn no_scrape_timeout_header_takes_the_exporter_down() {
    let sim = start_sim(PROFILE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let long = "9".repeat(400);
    for v in [
        "1e20", "1e300", "NaN", "inf", "-inf", "0", "-0", "-5", "0x10", "", &long, "1e-300",
    ] {
        let r = get(
            exp.addr,
            "/metrics",
            &[("X-Prometheus-Scrape-Timeout-Seconds", v)],
        );
        assert_eq!(r.status, 200, "{v:?}");
        assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0, "after {v:?}");
    }
}
