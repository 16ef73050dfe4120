//! Tests of the PBS simulator (`pbs_sim`) through a minimal blocking HTTP/1.1 client:
//! every endpoint against the model, the streamed snapshot list, auth, and each fault.

use pbs_sim::{self as sim, Faults, Profile, SimConfig, SimHandle, model};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A minimal blocking client

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

struct Client {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    auth: Option<String>,
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Chunked: number of data chunks; 0 otherwise.
    chunks: usize,
    /// The framing said the body ended (Content-Length reached or 0-chunk seen).
    complete: bool,
    /// The server asked to close, or did.
    closed: bool,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        assert_eq!(
            self.status,
            200,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        serde_json::from_slice(&self.body).expect("valid JSON")
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

fn plain_config(profile: Profile) -> SimConfig {
    SimConfig {
        profile,
        tls: false,
        auth_delay: Duration::from_millis(50),
        forbid_delay: Duration::from_millis(20),
        ..SimConfig::default()
    }
}

impl Client {
    fn connect(sim: &SimHandle) -> Client {
        let tcp = TcpStream::connect(sim.addr()).unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let stream: Box<dyn Stream> = if sim.endpoint().starts_with("https://") {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(sim.cert_der().into()).unwrap();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let conn =
                rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap())
                    .unwrap();
            Box::new(rustls::StreamOwned::new(conn, tcp))
        } else {
            Box::new(tcp)
        };
        Client {
            stream,
            buf: Vec::new(),
            auth: Some(sim.authorization()),
        }
    }

    fn get(&mut self, path: &str) -> Response {
        self.send("GET", &format!("/api2/json{path}"))
    }

    /// A request for `path` as it is (the simulator's own `/sim/` endpoints).
    fn send(&mut self, method: &str, path: &str) -> Response {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: pbs\r\n");
        if let Some(a) = &self.auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        req.push_str("\r\n");
        self.stream.write_all(req.as_bytes()).unwrap();
        self.stream.flush().unwrap();
        self.read_response(None)
    }

    /// Reads more bytes; false at end of stream (or a TLS/socket error).
    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 64 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    fn read_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Reads one response; `limit` stops reading the body after that many bytes.
    fn read_response(&mut self, limit: Option<usize>) -> Response {
        let status_line = self.read_line().expect("status line");
        let status_line = String::from_utf8(status_line).unwrap();
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let mut headers = Vec::new();
        loop {
            let line = String::from_utf8(self.read_line().unwrap()).unwrap();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
            chunks: 0,
            complete: false,
            closed: false,
        };
        resp.closed = resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let limit = limit.unwrap_or(usize::MAX);
        if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                assert!(self.fill(), "body shorter than Content-Length");
            }
            resp.body = self.buf.drain(..len).collect();
            resp.complete = true;
        } else if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                if resp.body.len() >= limit {
                    return resp;
                }
                let Some(line) = self.read_line() else {
                    // Closed mid-body: keep what arrived, including a partial chunk.
                    resp.body.append(&mut self.buf);
                    resp.closed = true;
                    return resp;
                };
                let size = usize::from_str_radix(std::str::from_utf8(&line).unwrap(), 16)
                    .expect("chunk size");
                if size == 0 {
                    assert_eq!(self.read_line().unwrap(), b"", "no trailers expected");
                    resp.complete = true;
                    return resp;
                }
                while self.buf.len() < size + 2 {
                    assert!(self.fill(), "closed inside a chunk");
                }
                resp.body.extend(self.buf.drain(..size));
                assert_eq!(self.buf.drain(..2).as_slice(), b"\r\n");
                resp.chunks += 1;
            }
        } else {
            while self.fill() {}
            resp.body = std::mem::take(&mut self.buf);
            resp.closed = true;
        }
        resp
    }
}

/// Raw body equals serde_json's compact re-serialization: compact, keys sorted, numbers
/// written the way serde writes them.
fn assert_sorted_compact(resp: &Response) {
    let v = resp.json();
    assert_eq!(
        String::from_utf8_lossy(&resp.body),
        serde_json::to_string(&v).unwrap()
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert!(resp.header("content-length").is_some());
}

fn enc(ns: &str) -> String {
    ns.replace('/', "%2F")
}

// ---------------------------------------------------------------------------------------------
// Endpoints against the model

#[test]
fn every_endpoint_matches_the_model_over_one_tls_connection() {
    let p = Profile::DEMO;
    let sim = sim::start(SimConfig {
        tls: true,
        ..plain_config(p)
    })
    .unwrap();
    assert!(sim.endpoint().starts_with("https://127.0.0.1:"));
    let fp = sim.fingerprint();
    assert_eq!(fp.len(), 95);
    assert_eq!(fp, sim::fingerprint(&sim.cert_der()));
    assert!(sim.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let mut c = Client::connect(&sim);

    let r = c.get("/version");
    assert_sorted_compact(&r);
    let v = r.json();
    assert_eq!(v["data"]["version"], model::VERSION);
    assert_eq!(v["data"]["release"], model::RELEASE);
    assert_eq!(v["data"]["repoid"].as_str().unwrap().len(), 40);

    let r = c.get("/nodes/localhost/status");
    assert_sorted_compact(&r);
    let n = &r.json()["data"];
    let m = model::NODE_STATUS;
    assert_eq!(n["info"]["fingerprint"], fp.as_str());
    assert_eq!(n["memory"]["total"], m.memory[0]);
    assert_eq!(n["memory"]["used"], m.memory[1]);
    assert_eq!(n["memory"]["free"], m.memory[2]);
    assert_eq!(n["swap"]["used"], m.swap[1]);
    assert_eq!(n["root"]["avail"], m.root[2]);
    assert_eq!(n["uptime"], m.uptime);
    assert_eq!(n["cpu"], m.cpu);
    assert_eq!(n["wait"], m.wait);
    assert_eq!(n["loadavg"][2], m.loadavg[2]);
    assert_eq!(n["cpuinfo"]["cpus"], m.cpus);
    assert_eq!(n["boot-info"]["mode"], "efi");
    assert_eq!(n["current-kernel"]["release"], m.kernel_release);

    let r = c.get("/admin/datastore");
    assert_sorted_compact(&r);
    let mut stores: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["comment"], Value::Null);
            assert_eq!(s["mount-status"], "nonremovable");
            assert_eq!(s["backend-type"], "filesystem");
            assert!(s.get("maintenance").is_none());
            s["store"].as_str().unwrap().to_string()
        })
        .collect();
    stores.sort();
    assert_eq!(stores, ["store1", "store2", "store3"]);

    let r = c.get("/status/datastore-usage");
    assert_sorted_compact(&r);
    let usage = r.json();
    let usage = usage["data"].as_array().unwrap();
    assert_eq!(usage.len(), p.datastores);
    for e in usage {
        let name = e["store"].as_str().unwrap();
        let d = model::store_index(&p, name).unwrap();
        let u = model::usage(d);
        let gc = model::gc_status(&p, d);
        assert_eq!(e["total"], u.total);
        assert_eq!(e["used"], u.used);
        assert_eq!(e["avail"], u.avail);
        assert_eq!(e["estimated-full-date"], u.estimated_full_date);
        assert_eq!(e["history-delta"], 1800);
        assert_eq!(e["history-start"], u.history_start);
        assert_eq!(e["mount-status"], "nonremovable");
        let h = e["history"].as_array().unwrap();
        assert_eq!(h.len(), model::HISTORY_LEN);
        for (i, v) in h.iter().enumerate() {
            assert_eq!(v.as_f64(), model::history(d, i));
        }
        assert!(h[0].is_null());
        let last = h[model::HISTORY_LEN - 1].as_f64().unwrap();
        assert_eq!(last, u.used as f64 / u.total as f64);
        let g = &e["gc-status"];
        assert_eq!(g["upid"], gc.upid.as_str());
        assert_eq!(g["index-file-count"], gc.index_file_count);
        assert_eq!(g["index-data-bytes"], gc.index_data_bytes);
        assert_eq!(g["index-data-bytes"], u.used * 4);
        assert_eq!(g["disk-bytes"], gc.disk_bytes);
        assert_eq!(g["disk-chunks"], gc.disk_chunks);
        assert_eq!(g["removed-bytes"], gc.removed_bytes);
        assert_eq!(g["removed-chunks"], gc.removed_chunks);
        assert_eq!(g["pending-bytes"], gc.pending_bytes);
        assert_eq!(g["pending-chunks"], gc.pending_chunks);
        assert_eq!(g["removed-bad"], gc.removed_bad);
        assert_eq!(g["still-bad"], gc.still_bad);
        assert_eq!(g["cache-stats"]["hits"], gc.cache_hits);
    }

    for d in 0..p.datastores {
        let store = model::store_name(d);
        let r = c.get(&format!("/admin/datastore/{store}/namespace"));
        assert_sorted_compact(&r);
        let names: Vec<_> = (0..p.namespaces).map(model::namespace_name).collect();
        let got: Vec<_> = r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["ns"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, names);
        for n in 0..p.namespaces {
            let ns = model::namespace_name(n);
            let r = c.get(&format!("/admin/datastore/{store}/groups?ns={}", enc(&ns)));
            assert_sorted_compact(&r);
            check_groups(&p, d, n, &r.json());
            let r = c.get(&format!(
                "/admin/datastore/{store}/snapshots?ns={}",
                enc(&ns)
            ));
            assert!(r.complete && r.chunks >= 1);
            assert!(r.header("content-length").is_none());
            check_snapshots(&p, d, n, &r.json(), None);
        }
    }
    // Everything went over the one keep-alive connection.
    assert_eq!(sim.connections(), 1);
    assert_eq!(sim.requests("/admin/datastore/store1/snapshots"), 2);
    assert_eq!(sim.requests("/api2/json/admin/datastore/store2/"), 5);
    assert_eq!(sim.requests(""), 4 + 5 * 3);
}

fn check_groups(p: &Profile, d: usize, n: usize, v: &Value) {
    let groups = v["data"].as_array().unwrap();
    assert_eq!(groups.len(), p.groups);
    for (g, item) in groups.iter().enumerate() {
        assert_eq!(item["backup-type"], model::backup_type(g));
        assert_eq!(item["backup-id"], model::backup_id(g).as_str());
        assert_eq!(item["backup-count"], model::group_backup_count(p));
        assert_eq!(item["last-backup"], model::group_last_backup(p, d, n, g));
        assert_eq!(item["owner"], model::OWNER);
        let files: Vec<_> = item["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(files, model::group_files(p, g));
        assert_eq!(
            item.get("comment").map(|c| c.as_str().unwrap().to_string()),
            model::group_comment(g)
        );
    }
}

fn check_snapshots(p: &Profile, d: usize, n: usize, v: &Value, only: Option<usize>) {
    let items = v["data"].as_array().unwrap();
    let groups: Vec<usize> = match only {
        Some(g) => vec![g],
        None => (0..p.groups).collect(),
    };
    assert_eq!(items.len(), groups.len() * p.snapshots);
    let mut it = items.iter();
    for &g in &groups {
        for s in 0..p.snapshots {
            let item = it.next().unwrap();
            let what = format!("store{} ns{n} g{g} s{s}", d + 1);
            assert_eq!(item["backup-type"], model::backup_type(g), "{what}");
            assert_eq!(item["backup-id"], model::backup_id(g).as_str(), "{what}");
            assert_eq!(
                item["backup-time"],
                model::backup_time(p, d, n, g, s),
                "{what}"
            );
            assert_eq!(item["owner"], model::OWNER);
            assert_eq!(item["protected"], model::snapshot_protected(g, s));
            assert_eq!(
                item["size"].as_u64(),
                model::snapshot_size(p, g, s),
                "{what}"
            );
            assert_eq!(
                item.get("comment").map(|c| c.as_str().unwrap().to_string()),
                model::snapshot_comment(p, g, s),
                "{what}"
            );
            match model::verification(p, g, s) {
                None => assert!(item.get("verification").is_none(), "{what}"),
                Some(state) => {
                    assert_eq!(item["verification"]["state"], state.as_str());
                    assert_eq!(
                        item["verification"]["upid"],
                        model::verify_upid(p, d, n, g, s).as_str()
                    );
                }
            }
            let files = model::snapshot_files(p, g, s);
            let got = item["files"].as_array().unwrap();
            assert_eq!(got.len(), files.len(), "{what}");
            for (f, e) in got.iter().zip(files.iter()) {
                assert_eq!(f["filename"], e.filename);
                assert_eq!(f["size"].as_u64(), e.size);
                assert_eq!(f.get("crypt-mode").and_then(Value::as_str), e.crypt_mode);
            }
        }
    }
}

#[test]
fn snapshot_stream_is_chunked_in_struct_order_and_scales() {
    let p = Profile::new(2, 3, 7, 400);
    let sim = sim::start(plain_config(p)).unwrap();
    let mut c = Client::connect(&sim);
    let r = c.get("/admin/datastore/store2/snapshots?ns=ns1%2Fsub2");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert!(r.chunks > 10, "{} chunks", r.chunks);
    check_snapshots(&p, 1, 2, &r.json(), None);
    // Struct order, not sorted: backup-type comes first.
    assert!(
        r.body
            .starts_with(b"{\"data\":[{\"backup-type\":\"vm\",\"backup-id\":\"100\"")
    );
    let text = r.text();
    // The running newest snapshot of g = 6 and the escaped comment of g = 4.
    let running = format!(
        r#""backup-id":"106","backup-time":{},"files":[{{"filename":"qemu-server.conf.blob","crypt-mode":"none","size":428}}],"owner":"root@pam","protected":false}}"#,
        model::backup_time(&p, 1, 2, 6, p.snapshots - 1)
    );
    assert!(text.contains(&running));
    assert!(text.contains(r#""comment":"web \"prod\"\\ line""#));

    // Unencoded '/' works too, and the same connection goes on.
    let r2 = c.get("/admin/datastore/store2/snapshots?ns=ns1/sub2");
    assert_eq!(r.body, r2.body);

    // A namespace of 100,000 snapshots streams in linear time (debug build included; generous
    // for a loaded machine: this catches quadratic behaviour, not speed).
    let big = Profile::new(1, 1, 10, 10_000);
    let sim = sim::start(plain_config(big)).unwrap();
    let mut c = Client::connect(&sim);
    let t = Instant::now();
    let r = c.get("/admin/datastore/store1/snapshots");
    let took = t.elapsed();
    assert!(r.complete);
    assert!(r.body.len() > 40_000_000, "{}", r.body.len());
    assert!(r.body.ends_with(b"\"protected\":false}]}"));
    assert_eq!(
        r.text().matches("\"backup-time\"").count(),
        big.snapshots_per_namespace()
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn queries_filters_and_errors() {
    let p = Profile::new(2, 5, 6, 3);
    let sim = sim::start(plain_config(p)).unwrap();
    let mut c = Client::connect(&sim);

    let r = c.get("/admin/datastore/store1/snapshots?ns=ns3&backup-type=ct&backup-id=104");
    check_snapshots(&p, 0, 3, &r.json(), Some(4));
    let r = c.get("/admin/datastore/store1/snapshots?backup-type=host");
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 2 * 3);

    let ns = |r: Response| -> Vec<String> {
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["ns"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ns(c.get("/admin/datastore/store2/namespace")),
        ["", "ns1", "ns1/sub2", "ns3", "ns3/sub4"]
    );
    assert_eq!(
        ns(c.get("/admin/datastore/store2/namespace?parent=ns3")),
        ["ns3", "ns3/sub4"]
    );
    assert_eq!(
        ns(c.get("/admin/datastore/store2/namespace?max-depth=1")),
        ["", "ns1", "ns3"]
    );
    assert_eq!(
        ns(c.get("/admin/datastore/store2/namespace?max-depth=0")),
        [""]
    );

    let r = c.get("/admin/datastore/store9/groups");
    assert_eq!((r.status, r.text()), (400, "no such datastore 'store9'"));
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let r = c.get("/admin/datastore/store1/groups?ns=nope");
    assert_eq!(
        (r.status, r.text()),
        (400, "ENOENT: No such file or directory")
    );
    let r = c.get("/admin/datastore/store1/groups?ns=..%2Fx");
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("parameter verification failed - 'ns'"));
    let r = c.get("/foo");
    assert_eq!(
        (r.status, r.text()),
        (404, "Path '/api2/json/foo' not found.")
    );
    let r = c.get("/admin/datastore/store1/gc-nope");
    assert_eq!(r.status, 404);

    // The datastore lists come back in a changing order, like PBS.
    let first = |r: Response| r.json()["data"][0]["store"].as_str().unwrap().to_string();
    let a = first(c.get("/admin/datastore"));
    let b = first(c.get("/admin/datastore"));
    assert_ne!(a, b);
    assert_eq!(sim.connections(), 1);
}

#[test]
fn auth_wrong_missing_and_accepted_forms() {
    let sim = sim::start(plain_config(Profile::DEMO)).unwrap();
    let mut c = Client::connect(&sim);
    let secret = sim.token_secret().to_string();
    let id = sim.token_id().to_string();

    for (auth, ok) in [
        (None, false),
        (Some(format!("PBSAPIToken={id}:wrong")), false),
        (Some(format!("PBSAPIToken={id}")), false),
        (Some(format!("PBSAPITokenX{id}:{secret}")), false),
        (Some(format!("Bearer {id}:{secret}")), false),
        (Some(format!("PBSAPIToken={id}:{secret}")), true),
        (Some(format!("PBSAPIToken {id}:{secret}")), true),
        (
            Some(format!("PBSAPIToken={id}:{}", secret.replace('-', "%2D"))),
            true,
        ),
    ] {
        c.auth = auth.clone();
        let t = Instant::now();
        let r = c.get("/version");
        if ok {
            assert_eq!(r.status, 200, "{auth:?}");
        } else {
            assert!(t.elapsed() >= Duration::from_millis(50), "{auth:?}");
            assert_eq!((r.status, r.text()), (401, "authentication failed"));
            assert_eq!(r.header("content-type"), None);
        }
    }
    // /ping needs no auth.
    c.auth = None;
    assert_eq!(c.get("/ping").json()["data"]["pong"], true);
    assert_eq!(sim.connections(), 1);
}

// ---------------------------------------------------------------------------------------------
// Faults

#[test]
fn delay_unauthorized_forbidden_malformed() {
    let sim = sim::start(plain_config(Profile::DEMO)).unwrap();
    let mut c = Client::connect(&sim);

    sim.set_faults(Faults {
        delay: Duration::from_millis(120),
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(c.get("/version").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(120));

    sim.set_faults(Faults {
        unauthorized: true,
        ..Faults::default()
    });
    let t = Instant::now();
    let r = c.get("/version");
    assert_eq!((r.status, r.text()), (401, "authentication failed"));
    assert!(t.elapsed() >= Duration::from_millis(50));

    sim.set_faults(Faults {
        forbidden: vec!["/nodes/localhost/status".into()],
        malformed: vec!["/admin/datastore/store2/groups".into()],
        ..Faults::default()
    });
    let t = Instant::now();
    let r = c.get("/nodes/localhost/status");
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert_eq!((r.status, r.text()), (403, "permission check failed"));
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let r = c.get("/admin/datastore/store2/groups?ns=");
    assert_eq!((r.status, r.text()), (200, sim::MALFORMED_BODY));
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    assert_eq!(c.get("/admin/datastore/store1/groups").status, 200);

    sim.set_faults(Faults::default());
    assert_eq!(c.get("/nodes/localhost/status").status, 200);
    assert_eq!(sim.connections(), 1);
}

#[test]
fn unmounted_maintenance_and_failing_namespace() {
    let p = Profile::DEMO;
    let sim = sim::start(SimConfig {
        faults: Faults {
            unmounted: vec!["store2".into()],
            maintenance: vec!["store3".into()],
            failing_namespace: Some(("store1".into(), "ns1".into())),
            ..Faults::default()
        },
        ..plain_config(p)
    })
    .unwrap();
    let mut c = Client::connect(&sim);

    let r = c.get("/status/datastore-usage");
    assert_sorted_compact(&r);
    let v = r.json();
    let entry = |name: &str| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["store"] == name)
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
    };
    let s2 = entry("store2");
    assert_eq!(s2.len(), 3);
    assert_eq!(s2["mount-status"], "notmounted");
    assert_eq!(s2["backend-type"], "filesystem");
    let s3 = entry("store3");
    assert_eq!(s3.len(), 4);
    assert_eq!(s3["error"], model::maintenance_message("store3").as_str());
    assert_eq!(
        s3["error"],
        "datastore 'store3' is unavailable: offline maintenance mode: disk replacement"
    );
    assert!(entry("store1").contains_key("total"));

    let r = c.get("/admin/datastore");
    assert_sorted_compact(&r);
    let v = r.json();
    for e in v["data"].as_array().unwrap() {
        match e["store"].as_str().unwrap() {
            "store2" => assert_eq!(e["mount-status"], "notmounted"),
            "store3" => assert_eq!(e["maintenance"], model::MAINTENANCE_PROPERTY),
            _ => assert!(e.get("maintenance").is_none()),
        }
    }

    for what in ["namespace", "groups", "snapshots"] {
        let r = c.get(&format!("/admin/datastore/store2/{what}"));
        assert_eq!(
            (r.status, r.text()),
            (400, "datastore 'store2' is not mounted")
        );
        let r = c.get(&format!("/admin/datastore/store3/{what}"));
        assert_eq!(r.status, 400);
        assert_eq!(r.text(), model::maintenance_message("store3"));
    }
    for what in ["groups", "snapshots"] {
        let r = c.get(&format!("/admin/datastore/store1/{what}?ns=ns1"));
        assert_eq!(
            (r.status, r.text()),
            (400, "ENOENT: No such file or directory")
        );
        assert_eq!(
            c.get(&format!("/admin/datastore/store1/{what}")).status,
            200
        );
    }
}

#[test]
fn truncated_snapshot_streams() {
    let p = Profile::new(1, 1, 4, 50);
    let sim = sim::start(SimConfig {
        tls: true,
        ..plain_config(p)
    })
    .unwrap();
    let mut c = Client::connect(&sim);
    let full = c.get("/admin/datastore/store1/snapshots");
    assert!(full.complete);

    // Closed mid-array, without the terminating chunk.
    sim.update_faults(|f| f.truncate_snapshots = true);
    let r = c.get("/admin/datastore/store1/snapshots");
    assert_eq!(r.status, 200);
    assert!(!r.complete && r.closed);
    assert!(r.body.len() > 1000 && r.body.len() < full.body.len());
    assert!(full.body.starts_with(&r.body));
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    // A complete chunked message holding truncated JSON; the connection stays usable.
    sim.set_faults(Faults {
        truncate_snapshots_clean: true,
        ..Faults::default()
    });
    let mut c = Client::connect(&sim);
    let r = c.get("/admin/datastore/store1/snapshots");
    assert_eq!(r.status, 200);
    assert!(r.complete && !r.closed);
    assert!(full.body.starts_with(&r.body) && r.body.len() < full.body.len());
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    assert_eq!(c.get("/version").status, 200);
    assert_eq!(sim.connections(), 2);
}

#[test]
fn oversized_stream_never_ends_and_stops_when_the_client_leaves() {
    let sim = sim::start(SimConfig {
        faults: Faults {
            oversized: true,
            ..Faults::default()
        },
        ..plain_config(Profile::DEMO)
    })
    .unwrap();
    for _ in 0..2 {
        let mut c = Client::connect(&sim);
        c.stream
            .write_all(
                format!(
                    "GET /api2/json/admin/datastore/store1/snapshots HTTP/1.1\r\nAuthorization: {}\r\n\r\n",
                    sim.authorization()
                )
                .as_bytes(),
            )
            .unwrap();
        let r = c.read_response(Some(3_000_000));
        assert_eq!(r.status, 200);
        assert!(!r.complete && r.body.len() >= 3_000_000);
        // Valid-looking: whole items, far more than the profile has.
        let text = String::from_utf8_lossy(&r.body);
        assert!(text.starts_with("{\"data\":[{\"backup-type\""));
        assert!(text.matches("\"protected\"").count() > 1000);
        drop(c);
    }
    // The sim is still responsive to others, and stops promptly.
    sim.set_faults(Faults::default());
    let mut c = Client::connect(&sim);
    assert_eq!(c.get("/version").status, 200);
    let t = Instant::now();
    sim.stop();
    assert!(t.elapsed() < Duration::from_secs(1));
    let mut rest = Vec::new();
    let _ = c.stream.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn request_counters_and_reset() {
    let sim = sim::start(plain_config(Profile::DEMO)).unwrap();
    let mut c = Client::connect(&sim);
    c.get("/version");
    c.get("/admin/datastore/store1/groups?ns=ns1");
    c.get("/admin/datastore/store1/groups");
    c.get("/nope");
    assert_eq!(sim.requests("/admin/datastore/store1/groups"), 2);
    assert_eq!(sim.requests("/version"), 1);
    assert_eq!(sim.requests(""), 4);
    sim.reset_counters();
    assert_eq!((sim.requests(""), sim.connections()), (0, 0));
}

/// Keys of every object in `v`, with their paths (array items merged), to compare shapes.
fn shape(v: &Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{at}.{k}");
                out.insert(p.clone());
                shape(v, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| shape(v, &format!("{at}[]"), out)),
        _ => {}
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn tape_s3_and_active_operations_have_pbs_shapes() {
    use pbs_sim::tape;
    let p = Profile::new(2, 1, 3, 2).with_tape().with_s3();
    let sim = sim::start(plain_config(p)).unwrap();
    let mut c = Client::connect(&sim);
    let keys = |v: &Value| {
        let mut s = std::collections::BTreeSet::new();
        shape(v, "", &mut s);
        s
    };

    // S3 status: the fixtures' keys (the S3 one has no ct group, the other one no S3 counters);
    // verbose=0 leaves counts and gc-status out.
    let r = c.get("/admin/datastore/store2/status?verbose=1");
    assert_sorted_compact(&r);
    let v = r.json();
    let mut want = keys(&fixture("datastore-status-s3.json"));
    want.extend(keys(&fixture("datastore-status.json")));
    assert_eq!(keys(&v), want);
    let s3 = model::s3_statistics(1);
    assert_eq!(v["data"]["s3-statistics"]["uploaded"], s3.uploaded);
    assert_eq!(v["data"]["s3-statistics"]["head"], s3.requests[3]);
    assert_eq!(v["data"]["counts"]["vm"]["groups"], 1);
    assert_eq!(v["data"]["counts"]["other"], Value::Null);
    let r = c.get("/admin/datastore/store1/status?verbose=1");
    assert_eq!(keys(&r.json()), keys(&fixture("datastore-status.json")));
    let r = c.get("/admin/datastore/store1/status");
    let v = r.json();
    assert!(v["data"].get("counts").is_none() && v["data"].get("gc-status").is_none());
    assert_eq!(v["data"]["backend-type"], "filesystem");
    assert_eq!(
        c.get("/admin/datastore/store1/status?verbose=x").status,
        400
    );

    let r = c.get("/admin/datastore/store2/active-operations");
    assert_sorted_compact(&r);
    assert_eq!(r.json()["data"]["read"], model::active_operations(1).0);
    assert_eq!(r.json()["data"]["write"], model::active_operations(1).1);

    // Tape: the fixtures' keys (the fixture drive also has the optional activity and state).
    let r = c.get("/tape/drive");
    assert_sorted_compact(&r);
    let drives = r.json();
    assert_eq!(drives["data"].as_array().unwrap().len(), tape::DRIVES.len());
    let mut want = keys(&fixture("tape-drive.json"));
    want.remove(".data[].activity");
    want.remove(".data[].state");
    assert_eq!(keys(&drives), want);
    let r = c.get("/tape/changer");
    assert_sorted_compact(&r);
    assert_eq!(keys(&r.json()), keys(&fixture("tape-changer.json")));
    let r = c.get("/tape/media/list?update-status=false");
    assert_sorted_compact(&r);
    let media = r.json();
    assert_eq!(keys(&media), keys(&fixture("tape-media-list.json")));
    assert_eq!(media["data"].as_array().unwrap().len(), tape::MEDIA);
    // Calls that touch the hardware are refused.
    assert_eq!(c.get("/tape/media/list").status, 400);
    assert_eq!(c.get("/tape/drive/lto9-0/status").status, 400);

    // Without tape: empty lists.
    let sim = sim::start(plain_config(Profile::DEMO)).unwrap();
    let mut c = Client::connect(&sim);
    for path in [
        "/tape/drive",
        "/tape/changer",
        "/tape/media/list?update-status=0",
    ] {
        assert_eq!(c.get(path).json()["data"], serde_json::json!([]), "{path}");
    }
}

#[test]
fn changes_and_costs_over_http() {
    let p = Profile::new(2, 2, 5, 4);
    let sim = sim::start(plain_config(p)).unwrap();
    let mut c = Client::connect(&sim);
    let items = |r: &Response| r.json()["data"].as_array().unwrap().len();
    // A whole namespace, then one group (backup-type and backup-id).
    assert_eq!(
        items(&c.get("/admin/datastore/store2/snapshots?ns=ns1")),
        20
    );
    let one = c.get("/admin/datastore/store2/snapshots?ns=ns1&backup-type=ct&backup-id=101");
    assert_eq!(items(&one), 4);
    let cost = sim.cost();
    assert_eq!((cost.manifests(), cost.manifests_of("store2")), (24, 24));
    let snap = cost.endpoint(pbs_sim::cost::SNAPSHOTS);
    assert_eq!(snap.requests, 2);
    assert!(snap.bytes > one.body.len() as u64, "{cost}");
    let text = c.send("GET", "/sim/cost");
    assert_eq!(text.status, 200);
    assert!(text.text().starts_with("manifests 24\n"), "{}", text.text());
    assert!(
        text.text().contains("store store2 manifests 24\n"),
        "{}",
        text.text()
    );

    // A new backup, then a verify: the group list and the snapshots follow.
    let at = "store=store2&ns=ns1&type=ct&id=101";
    let r = c.send("POST", &format!("/sim/change?{at}&change=backup"));
    assert_eq!((r.status, r.text()), (200, "ok\n"));
    let mut c = Client::connect(&sim);
    let r = c.send(
        "POST",
        &format!("/sim/change?{at}&change=verify&state=failed"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut c = Client::connect(&sim);
    let groups = c.get("/admin/datastore/store2/groups?ns=ns1").json();
    let g = &groups["data"][1];
    assert_eq!(g["backup-id"], "101");
    assert_eq!(g["backup-count"], 5);
    assert_eq!(g["last-backup"], model::backup_time(&p, 1, 1, 1, 4));
    let snaps = c
        .get("/admin/datastore/store2/snapshots?ns=ns1&backup-type=ct&backup-id=101")
        .json();
    let list = snaps["data"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list[4]["verification"]["state"], "failed");
    assert_eq!(list[0]["verification"]["state"], "failed");
    let tasks = c
        .get("/nodes/localhost/tasks?typefilter=verify_group&store=store2&limit=0")
        .json();
    assert_eq!(tasks["data"][0]["worker_id"], "store2:ns1:ct/101");
    assert_eq!(
        tasks["data"][0]["status"],
        "verification failed - please check the log for details"
    );

    // Remove: gone from the list; unknown changes are refused.
    let r = c.send("POST", &format!("/sim/change?{at}&change=remove"));
    assert_eq!(r.status, 200);
    let mut c = Client::connect(&sim);
    assert_eq!(items(&c.get("/admin/datastore/store2/groups?ns=ns1")), 4);
    let r = c.send("POST", &format!("/sim/change?{at}&change=backup"));
    assert_eq!(r.status, 400);
    let mut c = Client::connect(&sim);
    let r = c.send(
        "POST",
        "/sim/change?store=store2&type=vm&id=100&change=explode",
    );
    assert_eq!((r.status, r.text()), (400, "unknown change 'explode'"));
    let mut c = Client::connect(&sim);
    let r = c.send("POST", "/sim/cost/reset");
    assert_eq!(r.status, 200);
    assert_eq!(sim.cost().manifests(), 0);
    let _ = c;
}
