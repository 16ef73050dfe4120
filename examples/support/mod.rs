//! What the examples share: the exporter binary as a child process pointed at the in-process
//! simulator (with every collector on), its /proc figures, and a minimal kept-alive HTTP/1.1
//! client.

#![allow(dead_code)]

use pbs_exporter::collectors::CollectorId;
use pbs_sim as sim;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What /proc says about the exporter at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcStatus {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    pub threads: u64,
}

pub fn read_status(pid: u32) -> io::Result<ProcStatus> {
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
    // A budget is judged on RssAnon: a kernel without it (before 4.5) must not pass as 0.
    if !text.lines().any(|l| l.starts_with("RssAnon:")) {
        return Err(io::Error::other(format!(
            "/proc/{pid}/status has no RssAnon"
        )));
    }
    Ok(s)
}

/// utime + stime of the whole process (all threads), in ticks.
pub fn read_cpu_ticks(pid: u32) -> io::Result<u64> {
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
    pub fn kill(pid: i32, sig: i32) -> i32;
}
pub const SIGTERM: i32 = 15;

/// The exporter under test; killed if still running when dropped.
pub struct Exporter {
    child: Child,
    pub addr: SocketAddr,
    /// Log lines (warnings and errors) collected from stderr after startup.
    log: mpsc::Receiver<String>,
}

/// Every collector's name, comma-separated (`PBS_COLLECTORS`).
pub fn every_collector() -> String {
    let names: Vec<&str> = CollectorId::ALL.iter().map(|c| c.name()).collect();
    names.join(",")
}

impl Exporter {
    /// Spawns `binary` pointed at the simulator `handle` (its fingerprint pinned), with
    /// `extra` environment.
    pub fn spawn(
        binary: &PathBuf,
        handle: &sim::SimHandle,
        extra: &[(&str, String)],
    ) -> Result<Exporter, String> {
        let mut env = handle.exporter_env();
        env.extend(extra.iter().cloned());
        Exporter::spawn_with(binary, &env)
    }

    /// Spawns `binary` with exactly this environment (plus a loopback listen address), and
    /// waits until it logs its address: it binds its listener before, so it then accepts
    /// connections.
    pub fn spawn_with(binary: &PathBuf, env: &[(&str, String)]) -> Result<Exporter, String> {
        let mut child = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits up to 2 s for exit status 0.
    pub fn stop(mut self) -> Result<(), String> {
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
    pub fn problems(&self) -> Vec<String> {
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
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    pub reconnects: usize,
    line: String,
    /// The last response was `Content-Encoding: gzip` (its body is left compressed).
    pub gzip: bool,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            conn: None,
            reconnects: 0,
            line: String::new(),
            gzip: false,
        }
    }

    /// GET `path`; the body (chunked transfer coding removed) goes into `body`.
    pub fn get(&mut self, path: &str, body: &mut Vec<u8>) -> Result<u16, String> {
        self.get_with(path, &[], body)
    }

    /// GET `path` with extra request headers.
    pub fn get_with(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &mut Vec<u8>,
    ) -> Result<u16, String> {
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
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n",
            self.addr
        );
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("\r\n");
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
        self.gzip = false;
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
            } else if name.eq_ignore_ascii_case("content-encoding") {
                self.gzip = value.eq_ignore_ascii_case("gzip");
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
