//! `footprint`: measures the memory and CPU of an exporter binary against the in-process PBS
//! simulator, per profile, and compares them with the budgets.
//!
//! ```text
//! scripts/footprint.sh                          # builds the static binary, then runs this
//! cargo run --release --example footprint -- --binary target/release/pbs-exporter --repeats 1
//! ```
//!
//! Every collector is on (`PBS_COLLECTORS` names them all), and a scrape in which one failed
//! fails the measurement. Only the exporter process is measured: the simulator and the HTTP client run here, in this
//! process. For each profile and repeat: start the simulator, spawn the exporter pinned to its
//! fingerprint (listening on 127.0.0.1:0; the address is read from its log), wait until it
//! listens, let it settle, read VmRSS (idle, before any scrape), do one warm-up scrape (it opens
//! the TLS connection to PBS), then N scrapes over one kept-alive HTTP/1.1 connection, timing
//! each. utime+stime (/proc/PID/stat, all threads, 100 ticks/s) before and after the N scrapes
//! give CPU per scrape; VmHWM after them is the peak RSS. Finally SIGTERM, expecting status 0.
//!
//! Exit status: 0 when every measurement ran, budgets met or not; 1 when a measurement failed
//! (exporter did not start, a scrape failed its sanity check, ...); 2 on bad arguments.

use argh::FromArgs;
use pbs_exporter::collectors::CollectorId;
use pbs_sim::{self as sim, Profile, SimConfig};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Measures idle RSS, peak RSS (VmHWM), CPU per scrape and scrape latency of an exporter binary
/// against the built-in PBS simulator.
#[derive(FromArgs)]
struct Args {
    /// exporter binary to measure (default
    /// target/x86_64-unknown-linux-gnu/static/pbs-exporter, the static build)
    #[argh(option)]
    binary: Option<PathBuf>,
    /// comma-separated profiles: reference, large, deep, tasks, demo or DxNxGxS (default
    /// reference,large,deep,tasks)
    #[argh(option, default = "String::from(\"reference,large,deep,tasks\")")]
    profiles: String,
    /// how many times to repeat each measurement (default 3)
    #[argh(option, default = "3")]
    repeats: usize,
    /// timed scrapes per measurement, after one warm-up scrape (default 100)
    #[argh(option, default = "100")]
    scrapes: usize,
    /// how long the exporter settles before the idle RSS is read, in ms (default 300)
    #[argh(option, default = "300")]
    settle_ms: u64,
}

/// Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on every Linux architecture that
/// matters here; the kernel fixes it for user space whatever CONFIG_HZ is).
const TICKS_PER_SEC: f64 = 100.0;
const KIB_PER_MIB: f64 = 1024.0;

/// Budgets: idle RSS MiB, peak RSS MiB, CPU ms per scrape.
struct Budget {
    idle_mib: f64,
    peak_mib: f64,
    cpu_ms: f64,
}

/// The 100,000-task profile's peak may exceed the reference profile's (measured in the same
/// run) by this much: task counts are aggregated while the list streams in.
const TASKS_PEAK_OVER_REFERENCE_MIB: f64 = 0.25;

fn budget_for(p: Profile) -> Option<Budget> {
    if p == Profile::REFERENCE {
        Some(Budget {
            idle_mib: 2.5,
            peak_mib: 4.0,
            cpu_ms: 10.0,
        })
    } else if p == Profile::LARGE {
        Some(Budget {
            idle_mib: 2.5,
            peak_mib: 5.0,
            cpu_ms: 150.0,
        })
    } else if p == Profile::DEEP {
        Some(Budget {
            idle_mib: 2.5,
            peak_mib: 4.0,
            cpu_ms: 250.0,
        })
    } else {
        None
    }
}

fn profile_name(p: Profile) -> String {
    for (name, q) in [
        ("reference", Profile::REFERENCE),
        ("large", Profile::LARGE),
        ("deep", Profile::DEEP),
        ("tasks", Profile::TASKS),
        ("demo", Profile::DEMO),
    ] {
        if p == q {
            return name.to_string();
        }
    }
    p.to_string()
}

/// What /proc says about the exporter at one moment.
#[derive(Clone, Copy, Debug, Default)]
struct ProcStatus {
    rss_kib: u64,
    hwm_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    threads: u64,
}

fn read_status(pid: u32) -> io::Result<ProcStatus> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let mut s = ProcStatus::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let value = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match key {
            "VmRSS" => s.rss_kib = value,
            "VmHWM" => s.hwm_kib = value,
            "RssAnon" => s.anon_kib = value,
            "RssFile" => s.file_kib = value,
            "Threads" => s.threads = value,
            _ => {}
        }
    }
    if s.rss_kib == 0 {
        return Err(io::Error::other(format!("/proc/{pid}/status has no VmRSS")));
    }
    Ok(s)
}

/// utime + stime of the whole process (all threads), in ticks.
fn read_cpu_ticks(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let after = text
        .rsplit_once(')')
        .map(|(_, a)| a)
        .ok_or_else(|| io::Error::other("bad /proc/PID/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state); utime is field 14, stime field 15.
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other("bad /proc/PID/stat"))
    };
    Ok(field(14)? + field(15)?)
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;

/// The exporter under test; killed if still running when dropped.
struct Exporter {
    child: Child,
    addr: SocketAddr,
    /// Log lines (warnings and errors) collected from stderr after startup.
    log: mpsc::Receiver<String>,
}

impl Exporter {
    fn spawn(binary: &PathBuf, handle: &sim::SimHandle) -> Result<Exporter, String> {
        let mut child = Command::new(binary)
            .env_clear()
            .env("PBS_ENDPOINT", handle.endpoint())
            .env("PBS_API_TOKEN_NAME", handle.token_id())
            .env("PBS_API_TOKEN", handle.token_secret())
            .env("PBS_FINGERPRINT", handle.fingerprint())
            .env("PBS_LISTEN_ADDRESS", "127.0.0.1:0")
            .env("PBS_COLLECTORS", every_collector())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        // Keeps draining stderr so the exporter never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = listening_addr(&line) {
                        return Ok(Exporter {
                            child,
                            addr,
                            log: rx,
                        });
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    return Err(format!(
                        "the exporter did not log 'listening on ADDR' within 10 s (exit: {status:?}); its log:\n{}",
                        seen.join("\n")
                    ));
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits up to 2 s for exit status 0.
    fn stop(mut self) -> Result<(), String> {
        unsafe { kill(self.child.id() as i32, SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(format!("exporter exited with {status} on SIGTERM"));
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => return Err("exporter still running 2 s after SIGTERM".to_string()),
                Err(e) => return Err(format!("wait: {e}")),
            }
        }
    }

    /// Warning and error lines logged so far.
    fn problems(&self) -> Vec<String> {
        self.log
            .try_iter()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("panick"))
            .collect()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `... listening on 127.0.0.1:12345 ...` → the address.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split_once("listening on ")?.1;
    rest.split_whitespace().next()?.parse().ok()
}

/// A minimal HTTP/1.1 client over one kept-alive connection.
struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    reconnects: usize,
    line: String,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            conn: None,
            reconnects: 0,
            line: String::new(),
        }
    }

    /// GET `path`; the body (chunked transfer coding removed) goes into `body`.
    fn get(&mut self, path: &str, body: &mut Vec<u8>) -> Result<u16, String> {
        body.clear();
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr).map_err(|e| format!("connect: {e}"))?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(60)))
                .map_err(|e| e.to_string())?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, s));
            self.reconnects += 1;
        }
        let r = self.conn.as_mut().expect("connected");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n\r\n",
            self.addr
        );
        r.get_mut()
            .write_all(req.as_bytes())
            .map_err(|e| format!("write: {e}"))?;

        let line = &mut self.line;
        read_line(r, line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut chunked, mut length, mut close) = (false, None, false);
        loop {
            read_line(r, line)?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!("bad header line {line:?}"));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        if chunked {
            loop {
                read_line(r, line)?;
                let size = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| format!("bad chunk size line {line:?}"))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        read_line(r, line)?;
                        if line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                r.read_exact(&mut body[start..])
                    .map_err(|e| format!("chunk: {e}"))?;
                read_line(r, line)?;
                if !line.is_empty() {
                    return Err("chunk not followed by CRLF".to_string());
                }
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            r.read_exact(body).map_err(|e| format!("body: {e}"))?;
        } else {
            r.read_to_end(body).map_err(|e| format!("body: {e}"))?;
            close = true;
        }
        if close {
            self.conn = None;
        }
        Ok(status)
    }
}

/// Reads one CRLF-terminated line into `line`, without the line end.
fn read_line(r: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), String> {
    line.clear();
    let n = r.read_line(line).map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("connection closed by the exporter".to_string());
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(())
}

/// Every collector's name, comma-separated.
fn every_collector() -> String {
    let names: Vec<&str> = CollectorId::ALL.iter().map(|c| c.name()).collect();
    names.join(",")
}

fn check_body(body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    if let Some(failed) = text
        .lines()
        .find(|l| l.starts_with("pbs_scrape_collector_success{") && l.ends_with(" 0"))
    {
        return Err(format!("a collector failed: {failed}"));
    }
    if body.last() != Some(&b'\n') {
        return Err(format!(
            "body of {} bytes does not end with a newline",
            body.len()
        ));
    }
    let has_up = body.starts_with(b"pbs_up 1\n") || body.windows(10).any(|w| w == b"\npbs_up 1\n");
    if !has_up {
        let text = String::from_utf8_lossy(body);
        let up: Vec<&str> = text.lines().filter(|l| l.starts_with("pbs_up")).collect();
        return Err(format!("body has no 'pbs_up 1' line (found {up:?})"));
    }
    Ok(())
}

/// One measurement of one profile.
struct Sample {
    idle: ProcStatus,
    hwm_before_kib: u64,
    after: ProcStatus,
    cpu_ms_per_scrape: f64,
    warmup_ms: f64,
    latencies_ms: Vec<f64>,
    body_bytes: usize,
    reconnects: usize,
}

fn measure(args: &Args, binary: &PathBuf, profile: Profile) -> Result<Sample, String> {
    let handle = sim::start(SimConfig {
        profile,
        ..SimConfig::default()
    })
    .map_err(|e| format!("simulator: {e}"))?;
    let exporter = Exporter::spawn(binary, &handle)?;
    let pid = exporter.pid();
    let proc_err = |e: io::Error| format!("/proc/{pid}: {e}");

    // Wait until it accepts connections (it logs just before serving), then let it settle.
    let t0 = Instant::now();
    while TcpStream::connect(exporter.addr).is_err() {
        if t0.elapsed() > Duration::from_secs(5) {
            return Err(format!(
                "the exporter does not accept connections on {}",
                exporter.addr
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let idle = read_status(pid).map_err(proc_err)?;

    let mut client = Client::new(exporter.addr);
    let mut body = Vec::new();
    let scrape = |client: &mut Client, body: &mut Vec<u8>| -> Result<f64, String> {
        let t = Instant::now();
        let status = client.get("/metrics", body)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if status != 200 {
            return Err(format!("/metrics answered {status}"));
        }
        check_body(body)?;
        Ok(ms)
    };
    let warmup_ms = scrape(&mut client, &mut body)?;
    let reconnects_before = client.reconnects;

    let hwm_before_kib = read_status(pid).map_err(proc_err)?.hwm_kib;
    let cpu_before = read_cpu_ticks(pid).map_err(proc_err)?;
    let mut latencies_ms = Vec::with_capacity(args.scrapes);
    for i in 0..args.scrapes {
        latencies_ms
            .push(scrape(&mut client, &mut body).map_err(|e| format!("scrape {}: {e}", i + 1))?);
    }
    let cpu_after = read_cpu_ticks(pid).map_err(proc_err)?;
    let after = read_status(pid).map_err(proc_err)?;
    let body_bytes = body.len();
    let reconnects = client.reconnects - reconnects_before;
    drop(client);

    for line in exporter.problems() {
        eprintln!("  exporter log: {line}");
    }
    exporter.stop()?;
    handle.stop();

    let cpu_ms_per_scrape =
        (cpu_after - cpu_before) as f64 / TICKS_PER_SEC * 1e3 / args.scrapes as f64;
    Ok(Sample {
        idle,
        hwm_before_kib,
        after,
        cpu_ms_per_scrape,
        warmup_ms,
        latencies_ms,
        body_bytes,
        reconnects,
    })
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn median(v: &[f64]) -> f64 {
    let v = sorted(v.to_vec());
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median with min–max, over the repeats.
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

impl Stat {
    fn of(v: &[f64]) -> Stat {
        let s = sorted(v.to_vec());
        Stat {
            median: median(&s),
            min: s[0],
            max: s[s.len() - 1],
        }
    }

    fn show(&self, decimals: usize) -> String {
        if self.min == self.max {
            format!("{:.*}", decimals, self.median)
        } else {
            format!(
                "{:.*} ({:.*}–{:.*})",
                decimals, self.median, decimals, self.min, decimals, self.max
            )
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / KIB_PER_MIB
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    let binary = args.binary.clone().unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        target.join("x86_64-unknown-linux-gnu/static/pbs-exporter")
    });
    if !binary.is_file() {
        eprintln!(
            "footprint: {} does not exist: run scripts/build-static.sh, or pass --binary",
            binary.display()
        );
        return ExitCode::from(2);
    }
    let mut profiles = Vec::new();
    for p in args
        .profiles
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match Profile::parse(p) {
            Ok(p) => profiles.push(p),
            Err(e) => {
                eprintln!("footprint: --profiles: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if profiles.is_empty() || args.repeats == 0 || args.scrapes == 0 {
        eprintln!("footprint: need at least one profile, one repeat and one scrape");
        return ExitCode::from(2);
    }

    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!(
        "footprint: {} ({size} bytes, {:.2} MiB); {} repeat(s) × (1 warm-up + {} scrapes) per profile",
        binary.display(),
        size as f64 / 1048576.0,
        args.repeats,
        args.scrapes
    );

    // Repeats are the outer loop, so slow drift on the machine spreads over all profiles.
    let mut samples: Vec<Vec<Sample>> = profiles.iter().map(|_| Vec::new()).collect();
    for rep in 1..=args.repeats {
        for (i, &profile) in profiles.iter().enumerate() {
            match measure(&args, &binary, profile) {
                Ok(s) => {
                    let lat = Stat::of(&s.latencies_ms);
                    println!(
                        "  {:<9} #{rep}: idle {:.2} MiB (anon {:.2}, file {:.2}, {} threads); peak {:.2} MiB (VmHWM before scrapes {:.2}); after {:.2} MiB (anon {:.2}, file {:.2}); CPU {:.2} ms/scrape; latency median {:.2} ms ({:.2}–{:.2}), warm-up {:.1} ms; body {} bytes{}",
                        profile_name(profile),
                        mib(s.idle.rss_kib),
                        mib(s.idle.anon_kib),
                        mib(s.idle.file_kib),
                        s.idle.threads,
                        mib(s.after.hwm_kib),
                        mib(s.hwm_before_kib),
                        mib(s.after.rss_kib),
                        mib(s.after.anon_kib),
                        mib(s.after.file_kib),
                        s.cpu_ms_per_scrape,
                        lat.median,
                        lat.min,
                        lat.max,
                        s.warmup_ms,
                        s.body_bytes,
                        if s.reconnects > 0 {
                            format!(
                                "; WARNING: {} reconnect(s), keep-alive not kept",
                                s.reconnects
                            )
                        } else {
                            String::new()
                        }
                    );
                    samples[i].push(s);
                }
                Err(e) => {
                    println!("FAIL: {} #{rep}: {e}", profile_name(profile));
                    return ExitCode::FAILURE;
                }
            }
        }
    }

    println!();
    println!(
        "Per profile, median over {} repeat(s) (min–max):",
        args.repeats
    );
    let mut rows = Vec::new();
    let mut all_met = true;
    let peak_of = |ss: &[Sample]| {
        Stat::of(&ss.iter().map(|s| mib(s.after.hwm_kib)).collect::<Vec<_>>()).median
    };
    let reference_peak = profiles
        .iter()
        .zip(&samples)
        .find(|(p, _)| **p == Profile::REFERENCE)
        .map(|(_, ss)| peak_of(ss));
    for (profile, ss) in profiles.iter().zip(&samples) {
        let idle = Stat::of(&ss.iter().map(|s| mib(s.idle.rss_kib)).collect::<Vec<_>>());
        let peak = Stat::of(&ss.iter().map(|s| mib(s.after.hwm_kib)).collect::<Vec<_>>());
        let cpu = Stat::of(&ss.iter().map(|s| s.cpu_ms_per_scrape).collect::<Vec<_>>());
        let lat_med = Stat::of(
            &ss.iter()
                .map(|s| median(&s.latencies_ms))
                .collect::<Vec<_>>(),
        );
        let all_lat: Vec<f64> = ss
            .iter()
            .flat_map(|s| s.latencies_ms.iter().copied())
            .collect();
        let lat_all = Stat::of(&all_lat);
        let name = profile_name(*profile);
        println!("  {name} ({profile}):");
        println!("    idle RSS        {} MiB", idle.show(2));
        println!("    peak RSS (HWM)  {} MiB", peak.show(2));
        println!("    CPU per scrape  {} ms", cpu.show(2));
        println!(
            "    scrape latency  median {} ms; fastest–slowest scrape {:.2}–{:.2} ms",
            lat_med.show(2),
            lat_all.min,
            lat_all.max
        );
        let (b_idle, b_peak, b_cpu, verdict) = match budget_for(*profile) {
            Some(b) => {
                let mut over = Vec::new();
                if idle.median > b.idle_mib {
                    over.push("idle");
                }
                if peak.median > b.peak_mib {
                    over.push("peak");
                }
                if cpu.median > b.cpu_ms {
                    over.push("CPU");
                }
                let verdict = if over.is_empty() {
                    "met".to_string()
                } else {
                    all_met = false;
                    format!("**NOT met** ({})", over.join(", "))
                };
                (
                    format!("≤ {}", b.idle_mib),
                    format!("≤ {}", b.peak_mib),
                    format!("≤ {}", b.cpu_ms),
                    verdict,
                )
            }
            None if *profile == Profile::TASKS => match reference_peak {
                Some(r) => {
                    let limit = r + TASKS_PEAK_OVER_REFERENCE_MIB;
                    let verdict = if peak.median <= limit {
                        "met (peak)".to_string()
                    } else {
                        all_met = false;
                        "**NOT met** (peak)".to_string()
                    };
                    let b_peak =
                        format!("≤ reference + {TASKS_PEAK_OVER_REFERENCE_MIB} = {limit:.2}");
                    ("–".into(), b_peak, "–".into(), verdict)
                }
                None => (
                    "–".into(),
                    "–".into(),
                    "–".into(),
                    "measure reference too".into(),
                ),
            },
            None => ("–".into(), "–".into(), "–".into(), "no budget".into()),
        };
        rows.push(format!(
            "| {name} ({}) | {} | {b_idle} | {} | {b_peak} | {} | {b_cpu} | {:.2} ({:.2}–{:.2}) | {verdict} |",
            profile.to_string().replace('x', "×"),
            idle.show(2),
            peak.show(2),
            cpu.show(2),
            lat_med.median,
            lat_all.min,
            lat_all.max,
        ));
    }

    println!();
    println!(
        "| Profile (D×N×G×S) | Idle RSS (MiB) | Budget | Peak RSS (MiB) | Budget | CPU/scrape (ms) | Budget | Scrape latency (ms), median (min–max) | Budgets |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!(
        "Values: median over repeats (min–max over repeats); latency min–max over all scrapes. Budgets are judged on the medians."
    );
    if all_met {
        println!("footprint: all budgets met");
    } else {
        println!("footprint: BUDGET NOT MET for at least one profile (see the table)");
    }
    ExitCode::SUCCESS
}
