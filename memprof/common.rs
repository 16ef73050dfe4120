//! Shared by the `memprof` binary and the budget tests: the PBS simulator as a child process
//! (so none of its allocations land in the measured process), and the exporter's real scrape
//! path (`Scraper` over a kept-alive, fingerprint-pinned TLS connection) against it.

#![allow(dead_code)]

use pbs_exporter::client::{Endpoint, PbsClient};
use pbs_exporter::collectors::CollectorId;
use pbs_exporter::scrape::{RenderCursor, Scraper};
use pbs_exporter::tls::{self, Trust};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

/// Per-request timeout of the client (generous: debug builds, a busy machine).
pub const TIMEOUT: Duration = Duration::from_secs(120);
/// Largest body accepted: the exporter's default (`PBS_MAX_BODY_BYTES`).
pub const MAX_BODY: u64 = 1 << 30;
/// Deadline of one scrape.
pub const SCRAPE_DEADLINE: Duration = Duration::from_secs(300);

/// The API token memprof's simulators accept (passed to the child, used by the scraper).
pub const TOKEN_ID: &str = "monitor@pbs!memprof";
/// Its secret.
pub const TOKEN_SECRET: &str = "memprof-secret";

/// The `pbs-sim` binary (crates/pbs-sim), which is not in this package, so cargo gives no
/// `CARGO_BIN_EXE_pbs-sim`: `given` (memprof's `--sim`), else `$SIM_BIN`, else the one in the
/// target directory of the running executable (`target/PROFILE`, also for test executables in
/// `target/PROFILE/deps`). Under cargo (`cargo test`, `cargo run`: `CARGO` is set) it is first
/// built there with `cargo build -p pbs-sim` in the same profile, so it is never stale;
/// `CARGO_TARGET_DIR` is inherited, so it lands next to the running executable.
pub fn sim_executable(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SIM_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let mut dir = exe
        .parent()
        .ok_or("no directory of the current executable")?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().ok_or("no profile directory above deps/")?;
    }
    let sim = dir.join(format!("pbs-sim{}", std::env::consts::EXE_SUFFIX));
    if let Some(cargo) = std::env::var_os("CARGO") {
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(p) => p,
        };
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "pbs-sim",
                "--bin",
                "pbs-sim",
                "--profile",
            ])
            .arg(profile)
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .status()
            .map_err(|e| format!("cargo build -p pbs-sim: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build -p pbs-sim --profile {profile} failed"));
        }
    }
    if sim.exists() {
        Ok(sim)
    } else {
        Err(format!(
            "{} not found: build it (cargo build -p pbs-sim), or give its path in SIM_BIN (memprof: --sim)",
            sim.display()
        ))
    }
}

/// A `pbs-sim` child process; killed (and reaped) on drop.
pub struct SimChild {
    child: Child,
    // Kept open so the child never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    _stderr: BufReader<ChildStderr>,
    /// `https://127.0.0.1:PORT`.
    pub endpoint: String,
    /// SHA-256 of its certificate, `aa:bb:...`.
    pub fingerprint: String,
}

impl SimChild {
    /// Starts `exe --listen 127.0.0.1:0 --profile PROFILE --print-fingerprint` and reads the
    /// fingerprint (stdout) and the endpoint it listens on (its `serving ... on URL` line on
    /// stderr).
    pub fn spawn(exe: &Path, profile: &str) -> Result<SimChild, String> {
        Self::spawn_with(exe, profile, &[])
    }

    /// Like [`SimChild::spawn`], with more simulator flags (e.g. `--no-tls`).
    pub fn spawn_with(exe: &Path, profile: &str, extra: &[&str]) -> Result<SimChild, String> {
        let mut child = Command::new(exe)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--profile",
                profile,
                "--print-fingerprint",
                "--token-id",
                TOKEN_ID,
                "--token-secret",
                TOKEN_SECRET,
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let mut fingerprint = String::new();
        let mut endpoint = None;
        let mut log = String::new();
        let result = (|| {
            stdout
                .read_line(&mut fingerprint)
                .map_err(|e| format!("reading the fingerprint: {e}"))?;
            let fingerprint = fingerprint.trim().to_string();
            // The startup line names the endpoint; give up after a few lines.
            for _ in 0..20 {
                let mut line = String::new();
                if stderr.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                    break;
                }
                log.push_str(&line);
                if let Some(i) = line.find("https://").or_else(|| line.find("http://")) {
                    let url = line[i..].split_whitespace().next().unwrap_or("");
                    endpoint = Some(url.to_string());
                    break;
                }
            }
            match endpoint {
                Some(e) if !fingerprint.is_empty() => Ok((e, fingerprint)),
                _ => Err(format!(
                    "pbs-sim did not report its fingerprint and endpoint; it said:\n{fingerprint}\n{log}"
                )),
            }
        })();
        match result {
            Ok((endpoint, fingerprint)) => Ok(SimChild {
                child,
                _stdout: stdout,
                _stderr: stderr,
                endpoint,
                fingerprint,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Times a scrape future had to wait for the socket (returned `Pending`), over the process.
static WAITS: AtomicU64 = AtomicU64::new(0);

/// How many times scrapes have waited for the socket so far. Each wait costs one reactor turn,
/// and async-io's reactor allocates one waker list per turn that woke something: a heap block
/// whose count depends on timing (how the bytes happened to arrive), not on the exporter. The
/// budget tests allow one block per wait, so that they measure the exporter, not the machine's
/// load.
pub fn waits() -> u64 {
    WAITS.load(Ordering::Relaxed)
}

/// `async_io::block_on`, counting every `Pending` of `fut` in [`waits`].
pub fn block_on_counted<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    async_io::block_on(std::future::poll_fn(|cx: &mut Context<'_>| {
        let poll = fut.as_mut().poll(cx);
        if poll.is_pending() {
            WAITS.fetch_add(1, Ordering::Relaxed);
        }
        poll
    }))
}

/// A scraper with every collector, built like the exporter's `main` builds it: pinned
/// fingerprint, memprof's token.
pub fn scraper(sim: &SimChild) -> Result<Scraper, String> {
    let fp = tls::parse_fingerprint(&sim.fingerprint)?;
    let endpoint = Endpoint::parse(&sim.endpoint)?;
    let tls = if endpoint.tls {
        Some(tls::client_config(&Trust::Fingerprint(fp))?)
    } else {
        None
    };
    let client = PbsClient::new(endpoint, TOKEN_ID, TOKEN_SECRET, tls, TIMEOUT, MAX_BODY);
    Ok(Scraper::new(client, CollectorId::ALL, Default::default()))
}

/// Bytes rendered per chunk of a `/metrics` response: the server's `CHUNK` (src/server/connection.rs).
pub const RENDER_CHUNK: usize = pbs_exporter::server::connection::CHUNK;

/// How a scrape's exposition is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Render {
    /// As the server does: `Scraper::render` a chunk of at most ~16 KiB at a time into one
    /// reused buffer (cleared after each chunk, as if written to the socket).
    Chunked,
    /// `Scraper::render_all`: the whole exposition in the buffer at once.
    All,
}

/// What a rendered scrape held.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Bytes of exposition.
    pub bytes: u64,
    /// Sample lines.
    pub samples: u64,
}

/// One scrape as the exporter serves it: collect, then render into the reused buffer `buf`.
/// Fails unless PBS was up and every collector succeeded (so a budget is never met by a scrape
/// that failed early). Allocates nothing of its own unless it fails.
pub fn scrape(scraper: &mut Scraper, buf: &mut Vec<u8>, render: Render) -> Result<Summary, String> {
    let deadline = Instant::now() + SCRAPE_DEADLINE;
    block_on_counted(scraper.scrape(deadline));
    let mut summary = Summary::default();
    let mut up = false;
    match render {
        Render::All => {
            buf.clear();
            scraper.render_all(buf);
            scan(buf, &mut summary, &mut up)?;
        }
        Render::Chunked => {
            let mut cursor = RenderCursor::default();
            loop {
                buf.clear();
                let more = scraper.render(&mut cursor, buf, RENDER_CHUNK);
                // Chunks end after whole samples, so lines are never split.
                scan(buf, &mut summary, &mut up)?;
                if !more {
                    break;
                }
            }
        }
    }
    reached(up)?;
    Ok(summary)
}

/// One scrape served gzip, as the server does for Prometheus: each ~16 KiB chunk is rendered
/// into the encoder's plain buffer and compressed into `buf` (cleared after each chunk, as if
/// written to the socket). Returns the summary of the plain text and the compressed size.
pub fn scrape_gzip(
    scraper: &mut Scraper,
    buf: &mut Vec<u8>,
    gz: &mut pbs_exporter::gzip::GzipBody,
) -> Result<(Summary, u64), String> {
    let deadline = Instant::now() + SCRAPE_DEADLINE;
    block_on_counted(scraper.scrape(deadline));
    let mut summary = Summary::default();
    let mut up = false;
    let mut compressed = 0;
    let mut cursor = RenderCursor::default();
    gz.encoder.reset();
    loop {
        buf.clear();
        gz.plain.clear();
        let more = scraper.render(&mut cursor, &mut gz.plain, RENDER_CHUNK);
        scan(&gz.plain, &mut summary, &mut up)?;
        gz.encoder.write(&gz.plain, buf);
        if !more {
            gz.encoder.finish(buf);
        }
        compressed += buf.len() as u64;
        if !more {
            break;
        }
    }
    reached(up)?;
    Ok((summary, compressed))
}

/// Checks one whole exposition as the scrapes above check theirs chunk by chunk: PBS up, no
/// collector failed.
pub fn check(text: &[u8]) -> Result<Summary, String> {
    let mut summary = Summary::default();
    let mut up = false;
    scan(text, &mut summary, &mut up)?;
    reached(up)?;
    Ok(summary)
}

fn reached(up: bool) -> Result<(), String> {
    if up {
        Ok(())
    } else {
        Err("pbs_up is not 1: the scrape did not reach the simulator".into())
    }
}

fn scan(text: &[u8], summary: &mut Summary, up: &mut bool) -> Result<(), String> {
    summary.bytes += text.len() as u64;
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        summary.samples += 1;
        if line == b"pbs_up 1" {
            *up = true;
        }
        if line.starts_with(b"pbs_scrape_collector_success{") && line.ends_with(b" 0") {
            return Err(format!(
                "a collector failed: {}",
                String::from_utf8_lossy(line)
            ));
        }
    }
    Ok(())
}

/// `n` bytes in KiB/MiB for people.
pub fn human(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.2} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}
