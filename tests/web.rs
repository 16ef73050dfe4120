//! The secured endpoint (`--web-config-file`): TLS and basic auth checked with curl and with a
//! real Prometheus scraping through `tls_config` and `basic_auth`; reloads on SIGHUP; and gzip
//! answers decoded and compared with plain ones.
//!
//! curl and Prometheus come from Debian (`curl`, `prometheus`); `.ci/run` installs both and sets
//! `PBS_EXPORTER_REQUIRE_PROMETHEUS=1`, so in CI a missing tool fails instead of skipping.

mod common;

use common::{Exporter, start_sim};
use pbs_sim::Profile;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";

/// A temporary directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("pbs-web-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files
/// `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key` in `dir`.
fn write_pki(dir: &Dir) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "pbs-exporter test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    dir.write("ca.pem", &ca_cert.pem());
    for (name, sans, usage) in [
        (
            "server",
            vec!["localhost".to_string(), "127.0.0.1".to_string()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        (
            "client",
            vec!["prometheus".to_string()],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("pbs-exporter test {name}"),
        );
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
        dir.write(&format!("{name}.pem"), &cert.pem());
        dir.write(&format!("{name}.key"), &key.serialize_pem());
    }
}

fn users(list: &[(&str, &str)]) -> String {
    let mut s = String::from("basic_auth_users:\n");
    for (user, password) in list {
        // Cost 4, bcrypt's lowest, keeps the tests fast.
        s.push_str(&format!(
            "  {user}: {}\n",
            bcrypt::hash(password, 4).unwrap()
        ));
    }
    s
}

fn tls_section(client_auth: bool) -> String {
    let mut s =
        String::from("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n");
    if client_auth {
        s.push_str("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n");
    }
    s
}

/// Certificates and a web config with TLS (no client certificates) and the user `prometheus`
/// with [`PASSWORD`]; returns the config's path.
fn tls_and_password(dir: &Dir) -> String {
    write_pki(dir);
    let text = format!(
        "{}{}",
        tls_section(false),
        users(&[("prometheus", PASSWORD)])
    );
    dir.write("web.yml", &text)
}

/// True when `tool` runs; otherwise false, unless CI requires it.
fn have(tool: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("PBS_EXPORTER_REQUIRE_PROMETHEUS").is_none(),
        "{tool} is required (apt-get install curl prometheus)"
    );
    eprintln!("{tool} not installed: skipped (CI requires it)");
    false
}

/// What curl got: its exit code, the response head and body.
struct Curl {
    code: i32,
    head: String,
    body: Vec<u8>,
}

impl Curl {
    fn status(&self) -> u16 {
        self.head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

fn curl(args: &[&str]) -> Curl {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap();
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    Curl {
        code: out.status.code().unwrap_or(-1),
        head: String::from_utf8_lossy(&raw[..split]).to_string(),
        body: raw[split..].to_vec(),
    }
}

fn url(exp: &Exporter, scheme: &str, path: &str) -> String {
    format!("{scheme}://localhost:{}{path}", exp.addr.port())
}

#[test]
fn tls_and_basic_auth_with_curl() {
    if !have("curl") {
        return;
    }
    let dir = Dir::new("auth");
    let config = tls_and_password(&dir);
    let sim = start_sim(Profile::DEMO, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_WEB_CONFIG_FILE", &config)], &[]);
    assert!(
        exp.log().contains("TLS, basic auth (1 users)"),
        "{}",
        exp.log()
    );
    let ca = dir.path("ca.pem").display().to_string();
    let auth = format!("prometheus:{PASSWORD}");

    let ok = curl(&[
        "--cacert",
        &ca,
        "-u",
        &auth,
        &url(&exp, "https", "/metrics"),
    ]);
    assert_eq!((ok.code, ok.status()), (0, 200), "{}", ok.head);
    assert!(String::from_utf8_lossy(&ok.body).contains("\npbs_up 1\n"));

    // Wrong or missing credentials: 401 with a Basic challenge, on every path but /health.
    for (path, user) in [
        ("/metrics", Some("prometheus:wrong")),
        ("/metrics", Some("nobody:x")),
        ("/metrics", None),
        ("/", None),
        ("/nothing-here", None),
    ] {
        let mut args = vec!["--cacert", &ca];
        if let Some(u) = user {
            args.extend(["-u", u]);
        }
        let target = url(&exp, "https", path);
        args.push(&target);
        let r = curl(&args);
        assert_eq!(
            (r.code, r.status()),
            (0, 401),
            "{path} {user:?}: {}",
            r.head
        );
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Basic"));
    }
    let health = curl(&["--cacert", &ca, &url(&exp, "https", "/health")]);
    assert_eq!(health.status(), 200);
    assert_eq!(health.body, b"ok\n");

    // gzip through TLS, as curl --compressed asks for it.
    let gz = curl(&[
        "--compressed",
        "--cacert",
        &ca,
        "-u",
        &auth,
        &url(&exp, "https", "/metrics"),
    ]);
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
    assert!(String::from_utf8_lossy(&gz.body).contains("\npbs_up 1\n"));

    // Plain HTTP to the TLS port gets no answer, and an unknown CA fails the handshake.
    assert_ne!(curl(&[&url(&exp, "http", "/health")]).status(), 200);
    assert_ne!(curl(&[&url(&exp, "https", "/health")]).code, 0);
    assert!(!exp.log().contains(PASSWORD));
}

#[test]
fn client_certificates_are_required_when_configured() {
    if !have("curl") {
        return;
    }
    let dir = Dir::new("mtls");
    write_pki(&dir);
    let config = dir.write("web.yml", &tls_section(true));
    let sim = start_sim(Profile::DEMO, |_| {});
    let exp = Exporter::start(&sim, &[], &["--web-config-file", &config]);
    let ca = dir.path("ca.pem").display().to_string();
    let cert = dir.path("client.pem").display().to_string();
    let key = dir.path("client.key").display().to_string();
    let without = curl(&["--cacert", &ca, &url(&exp, "https", "/metrics")]);
    assert_ne!(
        without.code, 0,
        "no client certificate, yet {}",
        without.head
    );
    let with = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        &url(&exp, "https", "/metrics"),
    ]);
    assert_eq!((with.code, with.status()), (0, 200), "{}", with.head);
    // The server's own certificate is not a client certificate (wrong key usage, and the
    // same CA would otherwise be enough): refused.
    let server_cert = dir.path("server.pem").display().to_string();
    let server_key = dir.path("server.key").display().to_string();
    let wrong = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &server_cert,
        "--key",
        &server_key,
        &url(&exp, "https", "/metrics"),
    ]);
    assert_ne!((wrong.code, wrong.status()), (0, 200));
}

#[test]
fn sighup_reloads_the_file_and_keeps_the_old_one_when_the_new_is_bad() {
    let dir = Dir::new("reload");
    let config = dir.write("web.yml", &users(&[("alice", "a-password")]));
    let sim = start_sim(Profile::DEMO, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_WEB_CONFIG_FILE", &config)], &[]);
    let status = |user: &str, password: &str| basic_get(exp.addr, "/metrics", user, password).0;
    assert_eq!(status("alice", "a-password"), 200);
    assert_eq!(status("bob", "b-password"), 401);

    dir.write("web.yml", &users(&[("bob", "b-password")]));
    exp.hup();
    exp.wait_log("reloaded web config");
    assert_eq!(status("alice", "a-password"), 401, "the old user is gone");
    assert_eq!(status("bob", "b-password"), 200);

    dir.write("web.yml", "basic_auth_users:\n  bob: not-a-hash\n");
    exp.hup();
    let log = exp.wait_log("keeping the previous one");
    assert!(
        log.contains("basic_auth_users.bob: not a bcrypt hash"),
        "{log}"
    );
    assert_eq!(status("bob", "b-password"), 200, "the previous users stay");
    assert!(!exp.log().contains("b-password"));
}

#[test]
fn a_bad_web_config_exits_2_naming_the_key() {
    let dir = Dir::new("bad");
    for (text, needle) in [
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_fle: c\n",
            "tls_server_config.cert_fle: unknown key",
        ),
        (
            "tls_server_config:\n  cert_file: absent.pem\n  key_file: b\n",
            "tls_server_config.cert_file: cannot read",
        ),
        (
            "basic_auth_users:\n  alice: plain\n",
            "basic_auth_users.alice: not a bcrypt hash",
        ),
        ("tls_server_config: [\n", "invalid YAML"),
    ] {
        let config = dir.write("web.yml", text);
        let out = Command::new(env!("CARGO_BIN_EXE_pbs-exporter"))
            .env_clear()
            .envs([
                ("PBS_ENDPOINT", "https://127.0.0.1:1"),
                ("PBS_API_TOKEN_NAME", "monitor@pbs!exporter"),
                ("PBS_API_TOKEN", "secret-secret-secret"),
                ("PBS_WEB_CONFIG_FILE", &config),
                ("PBS_LISTEN_ADDRESS", "127.0.0.1:0"),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("PBS_WEB_CONFIG_FILE") && err.contains(needle),
            "{err}"
        );
    }
}

/// A GET with basic auth over plain HTTP: status and body.
fn basic_get(addr: SocketAddr, path: &str, user: &str, password: &str) -> (u16, Vec<u8>) {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    raw_get(addr, path, &[("Authorization", &format!("Basic {token}"))])
}

/// A GET with `Connection: close`, returning the status and the body with any chunked
/// framing removed (but not decompressed), plus the head.
fn raw_request(addr: SocketAddr, request: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut body = raw[end..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (head, body)
}

fn raw_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let (head, body) = raw_request(addr, &req);
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body,
    )
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        assert!(size > 0);
        out.extend_from_slice(&data[..size]);
        assert_eq!(&data[size..size + 2], b"\r\n");
        data = &data[size + 2..];
    }
}

/// Reads one chunked response from a kept-alive connection: its head and its de-chunked body.
fn read_chunked(r: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(r.read_line(&mut head).unwrap() > 0, "closed in the head");
    }
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim_end(), 16).expect("chunk size line");
        if size == 0 {
            line.clear();
            r.read_line(&mut line).unwrap();
            assert_eq!(line, "\r\n");
            return (head, body);
        }
        let at = body.len();
        body.resize(at + size + 2, 0);
        r.read_exact(&mut body[at..]).unwrap();
        assert_eq!(body.split_off(at + size), b"\r\n");
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("a complete gzip stream");
    out
}

/// The sample lines that do not change between two scrapes of an idle simulator (durations,
/// process figures and the scrape's start do).
fn stable(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            !l.contains("duration_seconds")
                && !l.starts_with("process_")
                && !l.starts_with("pbs_host_")
                && !l.starts_with("pbs_last_success_timestamp_seconds ")
        })
        .collect()
}

#[test]
fn gzip_when_accepted_plain_otherwise() {
    let sim = start_sim(Profile::LARGE, |_| {});
    let exp = Exporter::start(&sim, &[], &[]);
    let plain_req = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (head, plain) = raw_request(exp.addr, plain_req);
    assert!(
        !head.to_ascii_lowercase().contains("content-encoding"),
        "{head}"
    );
    let plain = String::from_utf8(plain).unwrap();
    assert!(
        plain.len() > 1_000_000,
        "large profile: {} bytes",
        plain.len()
    );

    // Kept alive: chunked, twice on one connection (the encoder is reused).
    let mut conn = BufReader::new(TcpStream::connect(exp.addr).unwrap());
    let mut gz = Vec::new();
    for _ in 0..2 {
        conn.get_mut()
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
            .unwrap();
        let (head, body) = read_chunked(&mut conn);
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("content-encoding: gzip\r\n"), "{head}");
        assert!(lower.contains("vary: accept-encoding\r\n"), "{head}");
        assert!(lower.contains("transfer-encoding: chunked\r\n"), "{head}");
        gz = body;
    }
    assert!(
        gz.len() * 5 < plain.len(),
        "{} compressed vs {} plain",
        gz.len(),
        plain.len()
    );
    let text = gunzip(&gz);
    assert_eq!(
        stable(&text),
        stable(&plain),
        "gzip carries the same samples"
    );

    // Refused by q=0, or HTTP/1.0 (no chunking, body until close): plain, or gzip until close.
    let (head, body) = raw_request(
        exp.addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAccept-Encoding: gzip;q=0, *\r\n\r\n",
    );
    assert!(
        !head.to_ascii_lowercase().contains("content-encoding"),
        "{head}"
    );
    assert!(body.starts_with(b"# HELP"));
    let (head, body) = raw_request(
        exp.addr,
        "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    assert_eq!(stable(&gunzip(&body)), stable(&plain));
}

/// A Prometheus server on a free loopback port, stopped on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: Dir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    fn start(config: &str, dir: Dir) -> Prometheus {
        let port = free_port();
        let file = dir.write("prometheus.yml", config);
        let log = std::fs::File::create(dir.path("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={file}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path("data").display()
            ))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }

    /// The value of the first series `query` returns, if any.
    fn query(&self, query: &str) -> Option<String> {
        let path = format!("/api/v1/query?query={query}");
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        TcpStream::connect(addr).ok()?;
        let (status, body) = raw_get(addr, &path, &[]);
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        v["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_string)
    }

    fn log(&self, dir: &Path) -> String {
        std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    }
}

#[test]
fn prometheus_scrapes_through_tls_and_basic_auth() {
    if !have("prometheus") {
        return;
    }
    let dir = Dir::new("prom-exporter");
    let config = tls_and_password(&dir);
    let password_file = dir.write("password", PASSWORD);
    let sim = start_sim(Profile::DEMO, |_| {});
    let exp = Exporter::start(&sim, &[("PBS_WEB_CONFIG_FILE", &config)], &[]);
    let prom_dir = Dir::new("prom");
    let prom_path = prom_dir.0.clone();
    let prom = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: pbs\n    scheme: https\n    tls_config:\n      ca_file: {}\n    basic_auth:\n      username: prometheus\n      password_file: {password_file}\n    static_configs:\n      - targets: ['localhost:{}']\n",
            dir.path("ca.pem").display(),
            exp.addr.port()
        ),
        prom_dir,
    );
    let until = Instant::now() + Duration::from_secs(40);
    let mut seen = (None, None);
    while Instant::now() < until {
        seen = (prom.query("up"), prom.query("pbs_up"));
        if seen == (Some("1".into()), Some("1".into())) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        seen,
        (Some("1".into()), Some("1".into())),
        "Prometheus did not scrape the secured target; its log:\n{}\nexporter log:\n{}",
        prom.log(&prom_path),
        exp.log()
    );
}
