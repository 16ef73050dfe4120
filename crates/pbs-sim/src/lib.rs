//! A Proxmox Backup Server simulator for tests, benchmarks and demos: the `/api2/json`
//! endpoints the exporter reads, with deterministic content ([`model`]), API-token auth, PBS's
//! error shapes and delays, and injectable [`Faults`]. It serves HTTPS (self-signed, rcgen +
//! rustls/ring) or plain HTTP on its own thread with a single-threaded executor.
//!
//! ```no_run
//! use pbs_sim::{self as sim, Profile, SimConfig};
//! let handle = sim::start(SimConfig { profile: Profile::DEMO, ..SimConfig::default() }).unwrap();
//! println!("{} {}", handle.endpoint(), handle.fingerprint());
//! ```
//!
//! Served (all under `/api2/json`): `/ping`, `/version`, `/nodes/{node}/status`,
//! `/nodes/{node}/subscription`, `/nodes/{node}/tasks` (streamed, chunked; [`tasks`]),
//! `/status/datastore-usage`, `/admin/datastore`, `/admin/datastore/{store}/namespace`,
//! `/admin/datastore/{store}/groups?ns=`, `/admin/datastore/{store}/snapshots?ns=` (streamed,
//! chunked), the job lists `/admin/gc`, `/admin/verify`, `/admin/sync`, `/admin/prune` and
//! `/tape/backup` ([`jobs`]), `/admin/datastore/{store}/status[?verbose=1]` (`s3-statistics` on
//! the S3-backed store of a profile [`Profile::with_s3`]),
//! `/admin/datastore/{store}/active-operations`, and `/tape/drive`, `/tape/changer`,
//! `/tape/media/list` ([`tape`]). Anything else is 404. The two datastore lists start at a
//! different store on each call, as PBS's order is arbitrary. `/snapshots` takes `backup-type`
//! and `backup-id`, the task list `since`, `typefilter` and `store`, as PBS's do.
//!
//! Between scrapes, tests change the content ([`SimHandle::change`], [`changes`]: a new backup,
//! a prune, a verify, a protected snapshot, a comment, a removed group) and read what the
//! requests cost PBS ([`SimHandle::cost`], [`cost`]: snapshot items, i.e. manifests read, and
//! bytes per endpoint). A simulator in a child process offers both over HTTP, outside
//! `/api2/json`: `GET /sim/cost`, `POST /sim/cost/reset`, `POST /sim/change?...` (`control`).

mod api;
pub mod changes;
mod control;
pub mod cost;
mod faults;
pub mod jobs;
mod json;
pub mod model;
mod server;
mod stream;
pub mod tape;
pub mod tasks;
mod tls;

pub use changes::Change;
pub use cost::Cost;
pub use faults::{Faults, MALFORMED_BODY};
pub use model::Profile;
pub use tls::fingerprint;

use futures_lite::FutureExt;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Token ID the simulator accepts by default.
pub const DEFAULT_TOKEN_ID: &str = "monitor@pbs!exporter";
/// Token secret the simulator accepts by default.
pub const DEFAULT_TOKEN_SECRET: &str = "0b8c5f3e-6a1d-4c2e-9f47-3d2a1b0c9e8f";

/// How to run a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How much content to serve.
    pub profile: Profile,
    /// Where to listen; port 0 picks a free one (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// The accepted API token ID (`user@realm!name`).
    pub token_id: String,
    /// The accepted API token secret.
    pub token_secret: String,
    /// Faults active from the start.
    pub faults: Faults,
    /// Wait before a 401 (PBS: 3 s).
    pub auth_delay: Duration,
    /// Wait before a 403 (PBS: 0.5 s).
    pub forbid_delay: Duration,
    /// Certificate subject alternative names (DNS names or IPs).
    pub hostnames: Vec<String>,
    /// Serve HTTPS (default) or plain HTTP.
    pub tls: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            profile: Profile::REFERENCE,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token_id: DEFAULT_TOKEN_ID.to_string(),
            token_secret: DEFAULT_TOKEN_SECRET.to_string(),
            faults: Faults::default(),
            auth_delay: Duration::from_secs(3),
            forbid_delay: Duration::from_millis(500),
            hostnames: vec!["localhost".to_string(), "127.0.0.1".to_string()],
            tls: true,
        }
    }
}

/// A running simulator; dropping it (or [`SimHandle::stop`]) stops the serving thread.
pub struct SimHandle {
    shared: Arc<api::Shared>,
    addr: SocketAddr,
    tls: bool,
    cert_pem: String,
    cert_der: Vec<u8>,
    stop: Arc<async_lock::Semaphore>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a simulator on its own thread. Binding, certificate and TLS errors are returned here.
pub fn start(config: SimConfig) -> io::Result<SimHandle> {
    let listener = std::net::TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let identity = tls::generate(&config.hostnames)?;
    let acceptor = if config.tls {
        Some(futures_rustls::TlsAcceptor::from(tls::server_config(
            &identity,
        )?))
    } else {
        None
    };
    let shared = Arc::new(api::Shared {
        profile: config.profile,
        token_id: config.token_id,
        token_secret: config.token_secret,
        auth_delay: config.auth_delay,
        forbid_delay: config.forbid_delay,
        fingerprint: tls::fingerprint(&identity.der),
        faults: Mutex::new(config.faults),
        requests: Mutex::new(HashMap::new()),
        connections: AtomicU64::new(0),
        list_calls: AtomicU64::new(0),
        changes: Mutex::new(changes::Changes::default()),
        cost: Mutex::new(Cost::default()),
    });
    let listener = async_io::Async::new(listener)?;
    let stop = Arc::new(async_lock::Semaphore::new(0));
    let thread = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("pbs-sim".to_string())
            .spawn(move || {
                let ex = async_executor::LocalExecutor::new();
                let serve = server::serve(listener, acceptor, shared, &ex);
                let stopped = async {
                    let _permit = stop.acquire().await;
                };
                async_io::block_on(ex.run(serve.or(stopped)));
            })?
    };
    Ok(SimHandle {
        shared,
        addr,
        tls: config.tls,
        cert_pem: identity.pem,
        cert_der: identity.der,
        stop,
        thread: Some(thread),
    })
}

impl SimHandle {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` (`http://` without TLS; loopback when listening on all
    /// addresses).
    pub fn endpoint(&self) -> String {
        let mut addr = self.addr;
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
            IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{addr}")
    }

    /// SHA-256 fingerprint of the certificate, lowercase `aa:bb:...` as PBS shows it.
    pub fn fingerprint(&self) -> String {
        self.shared.fingerprint.clone()
    }

    /// The certificate in PEM.
    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The certificate in DER.
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }

    /// The profile being served.
    pub fn profile(&self) -> Profile {
        self.shared.profile
    }

    /// The environment that points `pbs-exporter` at this simulator: endpoint, token and
    /// the certificate's fingerprint pinned.
    pub fn exporter_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PBS_ENDPOINT", self.endpoint()),
            ("PBS_API_TOKEN_NAME", self.token_id().to_string()),
            ("PBS_API_TOKEN", self.token_secret().to_string()),
            ("PBS_FINGERPRINT", self.fingerprint()),
        ]
    }

    /// The accepted token ID.
    pub fn token_id(&self) -> &str {
        &self.shared.token_id
    }

    /// The accepted token secret.
    pub fn token_secret(&self) -> &str {
        &self.shared.token_secret
    }

    /// A valid `Authorization` header value: `PBSAPIToken=<id>:<secret>`.
    pub fn authorization(&self) -> String {
        format!(
            "PBSAPIToken={}:{}",
            self.shared.token_id, self.shared.token_secret
        )
    }

    /// Requests received for API paths (below `/api2/json`, e.g.
    /// `/admin/datastore/store1/snapshots`) starting with `path_prefix`; `""` counts all.
    /// Every request counts, rejected ones included. A prefix may include `/api2/json`.
    pub fn requests(&self, path_prefix: &str) -> u64 {
        let prefix = path_prefix
            .strip_prefix("/api2/json")
            .unwrap_or(path_prefix);
        let map = self
            .shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }

    /// TCP connections accepted so far (to check that a client keeps its connection alive).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Resets the request and connection counters.
    pub fn reset_counters(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.shared.connections.store(0, Ordering::Relaxed);
    }

    /// What the requests cost PBS since the start or the last [`SimHandle::reset_cost`].
    pub fn cost(&self) -> Cost {
        self.shared
            .cost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Returns the cost so far and starts counting again.
    pub fn reset_cost(&self) -> Cost {
        std::mem::take(
            &mut *self
                .shared
                .cost
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Changes group `g` of namespace `n` of datastore `d` (model indices) from the next
    /// request on; an error names a group the profile does not have or one already removed.
    pub fn change(&self, (d, n, g): (usize, usize, usize), change: Change) -> Result<(), String> {
        self.shared.change((d, n, g), change)
    }

    /// The changes made so far (to compute expected values with [`changes::GroupChange`]).
    pub fn changes(&self) -> changes::Changes {
        self.shared
            .changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the active faults; they apply from the next request on.
    pub fn set_faults(&self, faults: Faults) {
        *self
            .shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// Changes the active faults in place.
    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self
            .shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner));
    }

    /// The active faults.
    pub fn faults(&self) -> Faults {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops serving and waits for the thread; open connections are closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.add_permits(1);
            let _ = t.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("endpoint", &self.endpoint())
            .field("profile", &self.shared.profile)
            .finish_non_exhaustive()
    }
}
