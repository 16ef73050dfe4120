//! Shared by the benchmarks: realistic PBS bodies fetched from the in-process simulator over
//! plain HTTP with a minimal blocking client, and a pinned-TLS scraper against a simulator.

#![allow(dead_code)]

use criterion::Criterion;
use pbs_exporter::client::{Endpoint, PbsClient};
use pbs_exporter::collectors::CollectorId;
use pbs_exporter::scrape::Scraper;
use pbs_exporter::tls::{self, Trust};
use pbs_sim::{self as sim, Profile, SimConfig, SimHandle};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Size of the pieces bodies are fed in: the PBS client's read buffer.
pub const PIECE: usize = 16 * 1024;

/// Short runs: two shared cores, a fuzzer in the background.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

/// A simulator serving `profile`, plain HTTP or pinned TLS.
pub fn start_sim(profile: Profile, tls: bool) -> SimHandle {
    sim::start(SimConfig {
        profile,
        tls,
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

/// GETs `/api2/json{path}` from a plain-HTTP simulator and returns the decoded body.
pub fn fetch(sim: &SimHandle, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(sim.addr()).expect("connect to the simulator");
    write!(
        s,
        "GET /api2/json{path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        sim.authorization()
    )
    .expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "GET {path}: {head}");
    let body = &raw[end..];
    if !head.contains("transfer-encoding: chunked") {
        return body.to_vec();
    }
    // Chunked: hex size line, data, CRLF; a zero size ends it.
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let line = std::str::from_utf8(&rest[..eol]).expect("chunk size");
        let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
            .expect("hex chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// A scraper with every collector against a TLS simulator, its fingerprint pinned.
pub fn scraper(sim: &SimHandle) -> Scraper {
    let fp = tls::parse_fingerprint(&sim.fingerprint()).expect("fingerprint");
    let tls = tls::client_config(&Trust::Fingerprint(fp)).expect("TLS configuration");
    let client = PbsClient::new(
        Endpoint::parse(&sim.endpoint()).expect("endpoint"),
        sim.token_id(),
        sim.token_secret(),
        Some(tls),
        Duration::from_secs(60),
        1 << 30,
    );
    Scraper::new(client, CollectorId::ALL, Default::default())
}

/// One scrape and its rendering into the reused buffer.
pub fn scrape(scraper: &mut Scraper, out: &mut Vec<u8>) {
    out.clear();
    async_io::block_on(scraper.scrape(Instant::now() + Duration::from_secs(120)));
    scraper.render_all(out);
}

/// Panics unless the rendered scrape found PBS up and every collector successful.
pub fn check(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("UTF-8 exposition");
    assert!(text.lines().any(|l| l == "pbs_up 1"), "PBS not up");
    if let Some(l) = text
        .lines()
        .find(|l| l.starts_with("pbs_scrape_collector_success{") && l.ends_with(" 0"))
    {
        panic!("collector failed: {l}");
    }
}
