//! `hostile`: what hostile or broken clients do to an exporter binary, and what it still does
//! for Prometheus. Loopback only, bounded in time (about a minute), stops by itself.
//!
//! ```text
//! scripts/hostile-test.sh                    # builds the static binary, then runs this
//! cargo run --release --example hostile -- --binary target/release/pbs-exporter
//! ```
//!
//! First, the flood against an exporter of the reference profile (the default deployment's
//! size): 1,000 silent connections plus 200 sending a head one byte a second; a scrape answers
//! 200 within 2 s, the exporter's RSS stays ≤ 4 MiB while they are open, they add at most
//! 0.25 MiB, and its RSS returns to idle ± 0.25 MiB after they close.
//!
//! Then against the in-process simulator at the large profile (2,000 groups, ~2.4 MB of
//! exposition; its idle RSS after scrapes is already ~4.1 MiB, its own peak budget 5 MiB):
//! 1. every scrape-timeout header that once aborted the process or could overflow a deadline,
//!    each followed by a normal scrape that must answer 200;
//! 2. the same flood: a scrape within 2 s, at most 0.25 MiB added, idle ± 0.25 MiB after;
//! 3. a client asks for `/metrics` twice, pipelined, and never reads: another client's scrape
//!    must finish within its normal latency + 1 s;
//! 4. 10,000 pipelined `GET /health` on one connection, random garbage, a 100 KiB URL, 1,000
//!    headers, absurd and negative `Content-Length`, requests with bodies, HTTP/1.0, an HTTP/2
//!    preface: each gets its status or a closed connection, and a scrape after each answers.
//!
//! Prints each figure; exit status 1 when a check fails, 0 when all pass.

mod support;

use argh::FromArgs;
use pbs_sim::{self as sim, Profile, SimConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{Client, Exporter, read_status};

/// Hostile-client checks of an exporter binary against the built-in PBS simulator.
#[derive(FromArgs)]
struct Args {
    /// exporter binary to test
    #[argh(option)]
    binary: PathBuf,
    /// silent connections of the flood (default 1000)
    #[argh(option, default = "1000")]
    silent: usize,
    /// connections of the flood that send a head one byte a second (default 200)
    #[argh(option, default = "200")]
    trickling: usize,
}

/// Collects check results.
#[derive(Default)]
struct Report {
    failed: Vec<String>,
}

impl Report {
    fn check(&mut self, ok: bool, what: &str, detail: String) {
        println!("{} {what}: {detail}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failed.push(what.to_string());
        }
    }
}

const MIB: f64 = 1024.0;

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    match run(&args) {
        Ok(r) if r.failed.is_empty() => {
            println!("all hostile-client checks passed");
            ExitCode::SUCCESS
        }
        Ok(r) => {
            println!("FAILED: {}", r.failed.join("; "));
            ExitCode::from(1)
        }
        Err(e) => {
            println!("FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

/// A scrape on a new connection: status and time taken.
fn scrape(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<(u16, Duration), String> {
    let started = Instant::now();
    let mut c = Client::new(addr);
    let mut body = Vec::new();
    let status = c.get_with("/metrics", headers, &mut body)?;
    // With a header, a tiny budget may fail every collector: only the status counts.
    if status == 200 && headers.is_empty() && !body.windows(10).any(|w| w == b"\npbs_up 1\n") {
        return Err("scrape without pbs_up 1".into());
    }
    Ok((status, started.elapsed()))
}

fn rss_mib(pid: u32) -> Result<f64, String> {
    read_status(pid)
        .map(|s| s.rss_kib as f64 / MIB)
        .map_err(|e| e.to_string())
}

/// Starts the in-process simulator at `profile` and the exporter binary in front of it. The
/// simulator stops when its handle is dropped, so keep it as long as the exporter.
fn start(args: &Args, profile: Profile) -> Result<(sim::SimHandle, Exporter), String> {
    let sim = sim::start(SimConfig {
        profile,
        ..SimConfig::default()
    })
    .map_err(|e| format!("simulator: {e}"))?;
    let exp = Exporter::spawn(&args.binary, &sim, &[])?;
    Ok((sim, exp))
}

/// Most RSS an exporter of the reference profile may have while the flood is open (MiB).
const FLOOD_RSS_LIMIT: f64 = 4.0;

/// The flood against an exporter of the reference profile: the absolute RSS limit.
fn flood_reference(args: &Args, r: &mut Report) -> Result<(), String> {
    let (_sim, exp) = start(args, Profile::REFERENCE)?;
    let (addr, pid) = (exp.addr, exp.pid());
    for _ in 0..3 {
        scrape(addr, &[])?;
    }
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss_mib(pid)?;
    println!("reference profile: exporter RSS after 3 scrapes (idle): {idle:.2} MiB");
    flood(args, addr, pid, idle, Some(FLOOD_RSS_LIMIT), r)?;
    exp.stop()
}

fn run(args: &Args) -> Result<Report, String> {
    let started = Instant::now();
    let mut r = Report::default();
    flood_reference(args, &mut r)?;
    let (_sim, exp) = start(args, Profile::LARGE)?;
    let (addr, pid) = (exp.addr, exp.pid());

    // Normal latency: median of 5 scrapes after a warm-up.
    scrape(addr, &[])?;
    let mut lat: Vec<Duration> = (0..5)
        .map(|_| scrape(addr, &[]).map(|s| s.1))
        .collect::<Result<_, _>>()?;
    lat.sort();
    let normal = lat[2];
    println!("normal scrape latency (median of 5): {:.0} ms", ms(normal));
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss_mib(pid)?;
    println!("exporter RSS after the scrapes (idle): {idle:.2} MiB");

    // 1. Scrape-timeout headers.
    let long = "9".repeat(1000);
    let values = [
        "1e20", "1e300", "-1e300", "NaN", "inf", "-inf", "0", "-0", "-5", "0x10", "", " ",
        "1e-300", &long,
    ];
    let mut all = true;
    for v in values {
        let hdr = [("X-Prometheus-Scrape-Timeout-Seconds", v)];
        let a = scrape(addr, &hdr);
        let b = scrape(addr, &[]);
        let ok = matches!(a, Ok((200, _))) && matches!(b, Ok((200, _)));
        if !ok {
            println!("  header {v:?}: {a:?}, then {b:?}");
        }
        all &= ok;
    }
    r.check(
        all,
        "scrape-timeout headers",
        format!("{} values, each then a normal scrape: 200", values.len()),
    );

    // 2. The flood, against the RSS just before it.
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_mib(pid)?;
    println!("exporter RSS before the flood: {before:.2} MiB");
    flood(args, addr, pid, before, None, &mut r)?;

    // 3. A client that never reads its scrape. (After the flood: while it holds one result set
    // the next collection fills a second, and the allocator keeps those pages afterwards.)
    let mut stalled = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    // Two pipelined scrapes (~4.8 MB): more than the socket buffers hold (~4 MB on loopback),
    // so the exporter's second write blocks, after two collections.
    stalled
        .write_all(&b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2))
        .map_err(|e| e.to_string())?;
    std::thread::sleep(normal * 2 + Duration::from_millis(500));
    let (status, took) = scrape(addr, &[])?;
    r.check(
        status == 200 && took <= normal + Duration::from_secs(1),
        "scrape beside a client that never reads",
        format!(
            "{status} in {:.0} ms (normal {:.0} ms + 1 s)",
            ms(took),
            ms(normal)
        ),
    );
    drop(stalled);

    // 4. Odd requests, each on its own connection.
    odd_requests(addr, &mut r)?;

    let (status, took) = scrape(addr, &[])?;
    r.check(
        status == 200,
        "scrape at the end",
        format!("{status} in {:.0} ms", ms(took)),
    );
    let problems = exp.problems();
    r.check(
        problems.iter().all(|l| !l.contains("panick")),
        "no panic in the log",
        format!("{} warning/error lines", problems.len()),
    );
    let stop = exp.stop();
    r.check(
        stop.is_ok(),
        "SIGTERM ends it with status 0",
        format!("{stop:?}"),
    );
    println!("took {:.1} s", started.elapsed().as_secs_f64());
    Ok(r)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Opens the flood, scrapes through it and checks the RSS it adds (and, with `limit`, the RSS
/// while it is open), then closes it and checks the RSS returns to `idle`.
fn flood(
    args: &Args,
    addr: SocketAddr,
    pid: u32,
    idle: f64,
    limit: Option<f64>,
    r: &mut Report,
) -> Result<(), String> {
    let opened = Instant::now();
    let mut silent = Vec::with_capacity(args.silent);
    for _ in 0..args.silent {
        silent.push(TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?);
    }
    let mut trickling = Vec::with_capacity(args.trickling);
    for _ in 0..args.trickling {
        trickling.push(TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?);
    }
    println!(
        "flood: {} silent + {} trickling connections opened in {:.0} ms",
        args.silent,
        args.trickling,
        ms(opened.elapsed())
    );
    let head = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    // Four seconds of one byte a second on every trickling connection, then the scrape.
    let mut sent = 0;
    for second in 0..4 {
        for s in &mut trickling {
            let _ = s.write_all(&head[second..second + 1]);
        }
        sent += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    let (status, took) = scrape(addr, &[])?;
    let during = rss_mib(pid)?;
    r.check(
        status == 200 && took <= Duration::from_secs(2),
        "scrape during the flood",
        format!("{status} in {:.0} ms (≤ 2 s)", ms(took)),
    );
    r.check(
        during - idle <= 0.25,
        "RSS added by the flood",
        format!("{:+.2} MiB (≤ 0.25 MiB)", during - idle),
    );
    match limit {
        Some(limit) => r.check(
            during <= limit,
            "RSS during the flood",
            format!("{during:.2} MiB (≤ {limit} MiB), {sent} bytes sent per trickling connection"),
        ),
        None => println!(
            "RSS during the flood: {during:.2} MiB, {sent} bytes sent per trickling connection"
        ),
    }
    let still_open = silent
        .iter()
        .chain(&trickling)
        .filter(|s| {
            let _ = s.set_nonblocking(true);
            let mut b = [0u8; 1];
            matches!((&**s).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    println!("flood connections the exporter still holds: {still_open}");
    drop(silent);
    drop(trickling);
    std::thread::sleep(Duration::from_secs(1));
    let after = rss_mib(pid)?;
    r.check(
        (after - idle).abs() <= 0.25,
        "RSS after the flood",
        format!("{after:.2} MiB (idle {idle:.2} ± 0.25)"),
    );
    Ok(())
}

/// Sends `request` on a new connection and reads until close or 5 s; returns what came back.
fn exchange(addr: SocketAddr, request: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    // The exporter may answer and close before all is sent.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Ok(out)
}

fn status_of(resp: &[u8]) -> Option<u16> {
    std::str::from_utf8(resp.get(9..12)?).ok()?.parse().ok()
}

fn odd_requests(addr: SocketAddr, r: &mut Report) -> Result<(), String> {
    // 10,000 pipelined GET /health on one connection.
    let n = 10_000;
    let s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let writer = std::thread::spawn(move || {
        let req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".repeat(n);
        w.write_all(&req)
    });
    let started = Instant::now();
    let mut rd = BufReader::new(s);
    let mut answered = 0;
    let mut line = String::new();
    'responses: while answered < n {
        line.clear();
        if rd.read_line(&mut line).unwrap_or(0) == 0 || !line.starts_with("HTTP/1.1 200") {
            break;
        }
        let mut len = 0;
        loop {
            line.clear();
            if rd.read_line(&mut line).unwrap_or(0) == 0 {
                break 'responses;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if rd.read_exact(&mut body).is_err() || body != b"ok\n" {
            break;
        }
        answered += 1;
    }
    let _ = writer.join();
    r.check(
        answered == n,
        "pipelined GET /health",
        format!(
            "{answered} of {n} answered 200 in {:.0} ms",
            ms(started.elapsed())
        ),
    );

    // More than the 8 KiB head buffer: a shorter one without a blank line waits for the head
    // timeout (10 s), as any incomplete head does.
    let mut garbage = vec![0u8; 16 * 1024];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for b in &mut garbage {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let url = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100 * 1024));
    let mut many = b"GET /health HTTP/1.1\r\n".to_vec();
    for i in 0..1000 {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    // Each case: the request, and the statuses that are right (None: closing without an
    // answer is right too).
    let cases: Vec<(&str, Vec<u8>, &[u16], bool)> = vec![
        ("random garbage", garbage, &[400, 431], true),
        ("100 KiB URL", url.into_bytes(), &[431], true),
        ("1,000 headers", many, &[431], false),
        (
            "absurd Content-Length",
            b"GET /health HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
            &[200],
            false,
        ),
        (
            "negative Content-Length",
            b"GET /health HTTP/1.1\r\nContent-Length: -5\r\n\r\n".to_vec(),
            &[200],
            false,
        ),
        (
            "GET with a body",
            b"GET /health HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            &[200],
            false,
        ),
        (
            "POST with a body",
            b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            &[405],
            false,
        ),
        (
            "chunked body",
            b"GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
            &[200],
            false,
        ),
        (
            "HTTP/1.0",
            b"GET /health HTTP/1.0\r\n\r\n".to_vec(),
            &[200],
            false,
        ),
        (
            "HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            &[400],
            true,
        ),
    ];
    for (what, request, statuses, may_close) in cases {
        let started = Instant::now();
        let out = exchange(addr, &request)?;
        let status = status_of(&out);
        let ok = match status {
            Some(s) => statuses.contains(&s),
            None => may_close && out.is_empty(),
        };
        let health = exchange(addr, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")?;
        r.check(
            ok && status_of(&health) == Some(200),
            what,
            format!(
                "{} in {:.0} ms (want {statuses:?}{}), then /health {:?}",
                status.map_or("closed".to_string(), |s| s.to_string()),
                ms(started.elapsed()),
                if may_close { " or closed" } else { "" },
                status_of(&health)
            ),
        );
    }
    Ok(())
}
