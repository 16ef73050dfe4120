//! The exporter's HTTP/1.1 server: `/metrics` (or the configured path), `/health` and a landing
//! page at `/`.
//!
//! - `admission`: at most `max_connections` open; when full, the connection idle longest
//!   (no complete head yet, or kept alive between requests) is closed for the new one, so
//!   silent or trickling clients never lock Prometheus out.
//! - `connection`: one connection's requests, generic over the stream and the metrics source
//!   (the `server_path` fuzz target drives it in memory): head size and time limits, routing,
//!   responses within the write timeout.
//! - Scrapes are routed (`crate::routing`: `?target=&module=`, the allow-lists) to the target's
//!   [`Collection`] (`crate::target_map`): one collection at a time per target, shared by
//!   concurrent scrapes, and its result is written without holding it, so a client that reads
//!   slowly or not at all delays no other scrape. Different targets run concurrently.
//! - `release`: a `?target=` scrape's target is released once its answer is written or
//!   abandoned and no other scrape of it runs (connection, TLS state, buffers and results are
//!   freed, collector state is kept), and the freed memory goes back to the OS when no such
//!   scrape is left. The next scrape connects again (a pinned TLS handshake costs far less
//!   than a scrape). The default target (`/metrics` with `PBS_ENDPOINT`) keeps everything,
//!   so its steady state allocates nothing.
//!
//! See the README's "Limits and hostile clients" for every limit and what a client passing it
//! gets.

pub mod admission;
pub mod connection;
pub mod release;

use crate::http::conn::Conn;
use crate::http::query::parse_scrape_query;
use crate::own::{OwnCursor, OwnMetrics};
use crate::routing::{Route, Routes};
use crate::scrape::{Output, RenderCursor};
use crate::target_map::TargetMap;
use crate::tls_stream::TlsStream;
use crate::web_config::WebState;
use crate::{log_debug, log_error};
use admission::Admission;
use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use connection::{Access, Metrics, Refusal, Render};
use release::{InProgress, Release};
use std::cell::RefCell;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Server limits and routes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Path of the metrics endpoint.
    pub metrics_path: String,
    /// Most connections open at once; when all are busy answering, more get 503.
    pub max_connections: usize,
    /// Largest read buffer per connection (allocated on the first read, grown on demand); also
    /// the largest request head.
    pub max_head: usize,
    /// Time allowed for a request head, from the connection's start.
    pub head_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request head.
    pub idle_timeout: Duration,
    /// Time allowed to write a response.
    pub write_timeout: Duration,
    /// Deadline of a scrape when Prometheus does not send its scrape timeout.
    pub default_scrape_timeout: Duration,
    /// Longest deadline of a scrape, whatever Prometheus sends.
    pub max_scrape_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            metrics_path: "/metrics".into(),
            max_connections: 32,
            max_head: 8 * 1024,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            default_scrape_timeout: Duration::from_secs(60),
            max_scrape_timeout: Duration::from_secs(120),
        }
    }
}

/// What every connection shares: the routing table, the targets' state, the exporter's own
/// metrics, the open connections, the limits.
pub struct Shared {
    routes: RefCell<Routes>,
    targets: RefCell<TargetMap>,
    own: RefCell<OwnMetrics>,
    admission: Rc<Admission>,
    config: ServerConfig,
    /// The web config in force (TLS, basic auth) and the gzip encoder.
    access: Access,
    /// Multi-target scrapes in progress.
    in_progress: InProgress,
}

impl Shared {
    /// State for a server configured by `config` that routes by `routes` and keeps its targets
    /// in `targets`.
    /// Connections are secured as `web` says when they are accepted and at each request.
    pub fn new(
        routes: Routes,
        targets: TargetMap,
        config: ServerConfig,
        web: Rc<WebState>,
    ) -> Rc<Shared> {
        Rc::new(Shared {
            routes: RefCell::new(routes),
            targets: RefCell::new(targets),
            own: RefCell::new(OwnMetrics::new()),
            admission: Admission::new(config.max_connections),
            config,
            access: Access {
                web,
                gzip: Default::default(),
            },
            in_progress: InProgress::default(),
        })
    }

    /// Replaces the routing table (SIGHUP) and drops every target, so new credentials and trust
    /// apply from the next scrape on; scrapes running now finish with the old ones.
    pub fn reload(&self, routes: Routes) {
        *self.routes.borrow_mut() = routes;
        self.targets.borrow_mut().clear();
    }

    /// Number of targets kept now.
    pub fn targets_kept(&self) -> usize {
        self.targets.borrow().len()
    }

    /// The exporter's own metrics now, as text (about 1 KB, rendered per request so concurrent
    /// requests never contend for it).
    fn own_text(&self) -> Vec<u8> {
        let mut own = self.own.borrow_mut();
        own.collect();
        let mut out = Vec::with_capacity(1024);
        own.render(&mut OwnCursor::default(), &mut out, usize::MAX);
        out
    }
}

/// The answer to a metrics request: a target's result, the exporter's own metrics, or both
/// (`/metrics` with `PBS_ENDPOINT`).
pub struct Answer {
    target: Option<Rc<Output>>,
    own: Option<Vec<u8>>,
    /// Releases the target once this answer is gone (a `?target=` scrape).
    release: Option<Release>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        // This answer's hold on the result goes first, so the result itself can be freed.
        self.target = None;
        self.release = None;
    }
}

impl Render for Answer {
    type Cursor = (RenderCursor, bool);
    fn frees_buffers(&self) -> bool {
        self.release.is_some()
    }
    fn render(&self, cursor: &mut Self::Cursor, out: &mut Vec<u8>, limit: usize) -> bool {
        if let Some(t) = &self.target {
            if t.render(&mut cursor.0, out, limit) {
                return true;
            }
        }
        // The exporter's own metrics follow (about 1 KB, in the last chunk).
        if !cursor.1 {
            cursor.1 = true;
            out.extend_from_slice(self.own.as_deref().unwrap_or_default());
        }
        false
    }
}

impl Metrics for Shared {
    type Result = Answer;
    async fn collect(&self, query: &str, deadline: Instant) -> Result<Answer, Refusal> {
        let bad = |message: String| Refusal {
            status: "400 Bad Request",
            message: format!("{message}\n"),
        };
        let query = parse_scrape_query(query).map_err(bad)?;
        let route = self.routes.borrow().resolve(&query).map_err(bad)?;
        let (spec, with_own) = match route {
            Route::Own => {
                return Ok(Answer {
                    target: None,
                    own: Some(self.own_text()),
                    release: None,
                });
            }
            Route::Default(spec) => (spec, true),
            Route::Target(spec) => (spec, false),
        };
        let collection = self
            .targets
            .borrow_mut()
            .get(&spec, Instant::now())
            .map_err(|e| {
                log_error!("{e}");
                Refusal {
                    status: "500 Internal Server Error",
                    message: format!("{e}\n"),
                }
            })?;
        // A `?target=` scrape's target is released once answered, or when this scrape is
        // abandoned (the client went away); the default target never.
        let mut answer = Answer {
            target: None,
            own: None,
            release: (!with_own).then(|| self.in_progress.start(collection.clone())),
        };
        answer.target = Some(collection.collect(deadline).await);
        // Read after the collection: the exporter's figures of this moment.
        answer.own = with_own.then(|| self.own_text());
        Ok(answer)
    }
}

/// Accepts connections forever, each served by a task on `ex`.
pub async fn serve(
    listener: Async<TcpListener>,
    shared: Rc<Shared>,
    ex: Rc<LocalExecutor<'static>>,
) {
    let stack_shared = shared.clone();
    ex.spawn(async move { stack_shared.in_progress.release_stack_after_trims().await })
        .detach();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log_debug!("accept failed: {e}");
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(dup) = stream.get_ref().try_clone() else {
            continue;
        };
        let Some(ticket) = shared.admission.admit(dup) else {
            turn_away(stream.get_ref());
            continue;
        };
        let _ = stream.get_ref().set_nodelay(true);
        let task_shared = shared.clone();
        let id = ticket.id();
        let fut = async move {
            let shared = &*task_shared;
            let (cfg, activity, access) = (&shared.config, &ticket.activity, &shared.access);
            let _open = shared.in_progress.connection_open(activity);
            let Some(tls) = access.web.current().tls.clone() else {
                let mut conn = Conn::growing(stream, cfg.max_head);
                connection::handle(&mut conn, shared, cfg, activity, access).await;
                return;
            };
            // The handshake counts against the head timeout; until it is done the connection
            // is idle for admission, so a stalled handshake makes room for others. Boxed: the
            // TLS path's state is several KiB, and a plain connection's task need not carry it.
            Box::pin(async {
                match connection::timeout(cfg.head_timeout, TlsStream::accept(tls, stream)).await {
                    Ok(stream) => {
                        let mut conn = Conn::growing(stream, cfg.max_head);
                        connection::handle(&mut conn, shared, cfg, activity, access).await;
                    }
                    Err(e) => log_debug!("TLS handshake with a client failed: {e}"),
                }
            })
            .await;
        };
        let task = ex.spawn(fut);
        shared.admission.attach(id, task);
        // Let the new task, and those of evicted connections, run before the next accept: a
        // burst of connections then never piles up as tasks not yet run.
        futures_lite::future::yield_now().await;
    }
}

/// Every slot is busy answering: 503 and close, without waiting for the client.
fn turn_away(stream: &TcpStream) {
    let _ = stream.set_nonblocking(true);
    let _ = (&*stream).write(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
}
