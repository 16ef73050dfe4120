//! Test helpers: the simulator, the real exporter binary, a tiny HTTP client, and a strict
//! parser of the exposition that checks the rules Prometheus does not.

#![allow(dead_code)]

pub mod expo;
pub mod snapshots;

use pbs_sim::{self as sim, Profile, SimConfig, SimHandle};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Starts a simulator with `profile`, fast auth delays, and the given tweaks.
pub fn start_sim(profile: Profile, tweak: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut cfg = SimConfig {
        profile,
        auth_delay: Duration::from_millis(100),
        forbid_delay: Duration::from_millis(20),
        ..SimConfig::default()
    };
    tweak(&mut cfg);
    sim::start(cfg).expect("simulator starts")
}

/// The exporter binary running as a child process.
pub struct Exporter {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Exporter {
    /// Environment pointing the exporter at `sim` with its fingerprint pinned.
    pub fn env_for(sim: &SimHandle) -> Vec<(String, String)> {
        sim.exporter_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// Starts the exporter against `sim` with extra environment and flags.
    pub fn start(sim: &SimHandle, env: &[(&str, &str)], args: &[&str]) -> Exporter {
        let mut all = Self::env_for(sim);
        for (k, v) in env {
            all.retain(|(key, _)| key != k);
            all.push((k.to_string(), v.to_string()));
        }
        Self::start_with(&all, args)
    }

    /// Starts the exporter with exactly this environment (plus a loopback listen address).
    pub fn start_with(env: &[(String, String)], args: &[&str]) -> Exporter {
        Self::start_via(&[env!("CARGO_BIN_EXE_pbs-exporter")], env, args)
    }

    /// Starts the exporter by the command line `via` (a program that ends up running the
    /// exporter in the same process, and its arguments, the exporter's path last), with exactly
    /// this environment (plus a loopback listen address).
    pub fn start_via(via: &[&str], env: &[(String, String)], args: &[&str]) -> Exporter {
        let mut cmd = Command::new(via[0]);
        cmd.args(&via[1..])
            .env_clear()
            .env("PBS_LISTEN_ADDRESS", "127.0.0.1:0")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("exporter starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Logged before the address is handed over, so that a test reading the log
                // once the exporter has started finds every line up to "listening on".
                {
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("exporter did not start; log: {}", log.lock().unwrap()));
        Exporter {
            child,
            addr: addr.parse().expect("listen address"),
            log,
        }
    }

    /// Everything the exporter logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle` (logs are read by a thread).
    pub fn wait_log(&self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > until {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GETs `path` and returns status and body.
    pub fn get(&self, path: &str) -> Response {
        get(self.addr, path, &[])
    }

    /// GETs the metrics and parses them strictly.
    pub fn scrape(&self) -> expo::Exposition {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        expo::parse(&r.body)
    }

    /// The exporter's process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP (reload).
    pub fn hup(&self) {
        unsafe_kill(self.child.id(), 1);
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        self.signal(15)
    }

    /// Sends `sig` and leaves the exporter running (SIGHUP).
    pub fn send(&self, sig: i32) {
        unsafe_kill(self.child.id(), sig);
    }

    /// Sends `sig` and returns the exit status (panics if it does not exit within 5 s).
    pub fn signal(mut self, sig: i32) -> std::process::ExitStatus {
        unsafe_kill(self.child.id(), sig);
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < until, "exporter did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// An HTTP response.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// A blocking HTTP/1.1 GET with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect to exporter");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("complete response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}
