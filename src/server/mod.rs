//! The exporter's HTTP/1.1 server: `/metrics` (or the configured path), `/health` and a landing
//! page at `/`.
//!
//! - `admission`: at most `max_connections` open; when full, the connection idle longest
//!   (no complete head yet, or kept alive between requests) is closed for the new one, so
//!   silent or trickling clients never lock Prometheus out.
//! - `connection`: one connection's requests, generic over the stream and the metrics source
//!   (the `server_path` fuzz target drives it in memory): head size and time limits, routing,
//!   responses within the write timeout.
//! - Scrapes go to a [`Collection`]: one collection at a time, shared by concurrent scrapes,
//!   and its result is written without holding it, so a client that reads slowly or not at all
//!   delays no other scrape.
//!
//! See the README's "Limits and hostile clients" for every limit and what a client passing it
//! gets.

pub mod admission;
pub mod connection;

use crate::collection::Collection;
use crate::http::conn::Conn;
use crate::log_debug;
use crate::scrape::{Output, RenderCursor, Scraper};
use admission::Admission;
use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use connection::{Metrics, Render};
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
    /// Read buffer per connection; also the largest request head.
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

/// What every connection shares: the collection, the open connections, the limits.
pub struct Shared {
    collection: Collection,
    admission: Rc<Admission>,
    config: ServerConfig,
}

impl Shared {
    /// Shares `scraper` between the connections of a server configured by `config`.
    pub fn new(scraper: Scraper, config: ServerConfig) -> Rc<Shared> {
        Rc::new(Shared {
            collection: Collection::new(scraper),
            admission: Admission::new(config.max_connections),
            config,
        })
    }
}

impl Render for Rc<Output> {
    type Cursor = RenderCursor;
    fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        Output::render(self, cursor, out, limit)
    }
}

impl Metrics for Collection {
    type Result = Rc<Output>;
    async fn collect(&self, deadline: Instant) -> Rc<Output> {
        Collection::collect(self, deadline).await
    }
}

/// Accepts connections forever, each served by a task on `ex`.
pub async fn serve(
    listener: Async<TcpListener>,
    shared: Rc<Shared>,
    ex: Rc<LocalExecutor<'static>>,
) {
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
        ex.spawn(async move {
            let cfg = &task_shared.config;
            let mut conn = Conn::new(stream, cfg.max_head);
            connection::handle(&mut conn, &task_shared.collection, cfg, &ticket.activity).await;
        })
        .detach();
    }
}

/// Every slot is busy answering: 503 and close, without waiting for the client.
fn turn_away(stream: &TcpStream) {
    let _ = stream.set_nonblocking(true);
    let _ = (&*stream).write(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
}
