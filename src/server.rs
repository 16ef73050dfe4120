//! The exporter's HTTP/1.1 server: `/metrics` (or the configured path), `/health` and a landing
//! page at `/`. It caps open connections, head size and head read time, and serves concurrent
//! scrapes from one collection at a time: a scrape that arrives while a collection is running
//! waits for it and is answered with its result, so PBS never sees more than one collection.

use crate::budget;
use crate::exposition::CONTENT_TYPE;
use crate::http::conn::{Conn, HeadError};
use crate::http::head::parse_request;
use crate::http::query::parse_scrape_query;
use crate::own::{OwnCursor, OwnMetrics};
use crate::routing::{Route as Scrape, Routes};
use crate::scrape::{RenderCursor, Scraper};
use crate::target_map::TargetMap;
use crate::{log_debug, log_error};
use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Server limits and routes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Path of the metrics endpoint.
    pub metrics_path: String,
    /// Most connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Read buffer per connection; also the largest request head.
    pub max_head: usize,
    /// Time allowed for a request head, from the connection's start or the previous response.
    pub head_timeout: Duration,
    /// Time a kept-alive connection may sit idle between requests.
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

/// What all connections share: the routing table, the targets' state, the exporter's own
/// metrics.
pub struct Shared {
    routes: RefCell<Routes>,
    targets: RefCell<TargetMap>,
    own: RefCell<OwnMetrics>,
    active: Cell<usize>,
    config: ServerConfig,
}

impl Shared {
    /// State for a server configured by `config` that routes by `routes` and keeps its targets
    /// in `targets`.
    pub fn new(routes: Routes, targets: TargetMap, config: ServerConfig) -> Rc<Shared> {
        Rc::new(Shared {
            routes: RefCell::new(routes),
            targets: RefCell::new(targets),
            own: RefCell::new(OwnMetrics::new()),
            active: Cell::new(0),
            config,
        })
    }

    /// Replaces the routing table (SIGHUP) and drops every target, so new credentials and trust
    /// apply from the next scrape on; scrapes running now finish with the old ones.
    pub fn reload(&self, routes: Routes) {
        *self.routes.borrow_mut() = routes;
        self.targets.borrow_mut().clear();
    }

    /// The exporter's own metrics now, as text (about 1 KB; not held across an await, so
    /// concurrent requests never contend for it).
    fn own_text(&self) -> Vec<u8> {
        let mut own = self.own.borrow_mut();
        own.collect();
        let mut out = Vec::with_capacity(1024);
        own.render(&mut OwnCursor::default(), &mut out, usize::MAX);
        out
    }

    /// Number of targets kept now.
    pub fn targets_kept(&self) -> usize {
        self.targets.borrow().len()
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
        if shared.active.get() >= shared.config.max_connections {
            let _ = stream.get_ref().set_nonblocking(true);
            let _ = stream.get_ref().write(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        }
        let _ = stream.get_ref().set_nodelay(true);
        shared.active.set(shared.active.get() + 1);
        let task_shared = shared.clone();
        ex.spawn(async move {
            let _ = handle(stream, &task_shared).await;
            task_shared.active.set(task_shared.active.get() - 1);
        })
        .detach();
    }
}

/// Races `fut` against a timer.
async fn timeout<T>(
    d: Duration,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    futures_lite::future::or(fut, async {
        Timer::after(d).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    })
    .await
}

async fn handle(stream: Async<TcpStream>, shared: &Shared) -> io::Result<()> {
    let cfg = &shared.config;
    let mut conn = Conn::new(stream, cfg.max_head);
    let mut head_buf = Vec::with_capacity(160);
    let mut first = true;
    loop {
        let wait = if first {
            cfg.head_timeout
        } else {
            cfg.idle_timeout
        };
        first = false;
        let head_len = match timeout(wait, async { conn.read_head().await.map_err(head_io) }).await
        {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let _ = respond(
                    &mut conn,
                    &mut head_buf,
                    "431 Request Header Fields Too Large",
                    "text/plain",
                    b"request head too large\n",
                    false,
                )
                .await;
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        let arrived = Instant::now();
        let req = match parse_request(&conn.buffered()[..head_len]) {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("{e}\n");
                let _ = respond(
                    &mut conn,
                    &mut head_buf,
                    "400 Bad Request",
                    "text/plain",
                    msg.as_bytes(),
                    false,
                )
                .await;
                return Ok(());
            }
        };
        // This server reads no request bodies: answer, then close.
        let keep_alive = req.keep_alive && !req.has_body;
        let is_head = req.method == "HEAD";
        let budget = budget::scrape_budget(
            req.scrape_timeout,
            cfg.default_scrape_timeout,
            cfg.max_scrape_timeout,
        );
        let http11 = req.http11;
        // Copied (no allocation when empty): the head's buffer is consumed below.
        let query = String::from(req.query);
        enum Route {
            Metrics,
            Health,
            Landing,
            NotFound,
            BadMethod,
        }
        let route = if req.method != "GET" && !is_head {
            Route::BadMethod
        } else if req.path == cfg.metrics_path {
            Route::Metrics
        } else if req.path == "/health" || req.path == "/-/healthy" {
            Route::Health
        } else if req.path == "/" {
            Route::Landing
        } else {
            Route::NotFound
        };
        conn.consume(head_len);
        match route {
            Route::Metrics => {
                let route =
                    parse_scrape_query(&query).and_then(|q| shared.routes.borrow().resolve(&q));
                let spec = match route {
                    Err(msg) => {
                        let msg = format!("{msg}\n");
                        respond(
                            &mut conn,
                            &mut head_buf,
                            "400 Bad Request",
                            "text/plain",
                            msg.as_bytes(),
                            keep_alive,
                        )
                        .await?;
                        if !keep_alive {
                            return Ok(());
                        }
                        continue;
                    }
                    Ok(Scrape::Own) => None,
                    Ok(Scrape::Default(spec)) => Some((spec, true)),
                    Ok(Scrape::Target(spec)) => Some((spec, false)),
                };
                let with_own = spec.as_ref().is_none_or(|(_, own)| *own);
                let chunked = http11 && keep_alive;
                match spec {
                    None => {
                        let own = shared.own_text();
                        let write = write_metrics(
                            &mut conn,
                            None,
                            Some(&own),
                            is_head,
                            chunked,
                            &mut head_buf,
                        );
                        timeout(cfg.write_timeout, write).await?;
                    }
                    Some((spec, _)) => {
                        let collection = shared.targets.borrow_mut().get(&spec, arrived);
                        let collection = match collection {
                            Ok(c) => c,
                            Err(e) => {
                                log_error!("{e}");
                                let msg = format!("{e}\n");
                                respond(
                                    &mut conn,
                                    &mut head_buf,
                                    "500 Internal Server Error",
                                    "text/plain",
                                    msg.as_bytes(),
                                    false,
                                )
                                .await?;
                                return Ok(());
                            }
                        };
                        let deadline = budget::deadline(arrived, budget);
                        let guard = collection.collect(deadline).await;
                        // Read after the collection: the own metrics of this moment.
                        let own = with_own.then(|| shared.own_text());
                        let write = write_metrics(
                            &mut conn,
                            Some(&guard),
                            own.as_deref(),
                            is_head,
                            chunked,
                            &mut head_buf,
                        );
                        timeout(cfg.write_timeout, write).await?;
                    }
                }
                if !chunked {
                    return Ok(());
                }
            }
            Route::Health => {
                respond(
                    &mut conn,
                    &mut head_buf,
                    "200 OK",
                    "text/plain",
                    b"ok\n",
                    keep_alive,
                )
                .await?
            }
            Route::Landing => {
                let page = landing_page(&cfg.metrics_path);
                respond(
                    &mut conn,
                    &mut head_buf,
                    "200 OK",
                    "text/html; charset=utf-8",
                    page.as_bytes(),
                    keep_alive,
                )
                .await?
            }
            Route::NotFound => {
                respond(
                    &mut conn,
                    &mut head_buf,
                    "404 Not Found",
                    "text/plain",
                    b"not found\n",
                    keep_alive,
                )
                .await?
            }
            Route::BadMethod => {
                respond(
                    &mut conn,
                    &mut head_buf,
                    "405 Method Not Allowed",
                    "text/plain",
                    b"only GET and HEAD\n",
                    false,
                )
                .await?;
                return Ok(());
            }
        }
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Bytes rendered per chunk of a metrics response.
const CHUNK: usize = 32 * 1024;
/// Room for the chunk-size line, written as 8 hex digits (leading zeros are allowed).
const SIZE_LINE: usize = 10;

/// Writes the scrape's exposition: chunked for HTTP/1.1 (rendered a chunk at a time, so the
/// text never exists whole), or until close for HTTP/1.0.
async fn write_metrics(
    conn: &mut Conn<Async<TcpStream>>,
    scraper: Option<&Scraper>,
    own: Option<&[u8]>,
    is_head: bool,
    chunked: bool,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.clear();
    let _ = write!(buf, "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\n");
    buf.extend_from_slice(if chunked {
        b"Transfer-Encoding: chunked\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    conn.write_all(buf).await?;
    if is_head {
        return Ok(());
    }
    let mut cursor = RenderCursor::default();
    let mut own = own;
    let mut more = true;
    while more {
        buf.clear();
        if chunked {
            buf.extend_from_slice(b"00000000\r\n");
        }
        more = scraper.is_some_and(|s| s.render(&mut cursor, buf, CHUNK));
        if !more {
            // The exporter's own metrics follow the target's (about 1 KB, in the last chunk).
            buf.extend_from_slice(own.take().unwrap_or_default());
        }
        if chunked {
            let len = buf.len() - SIZE_LINE;
            if len == 0 {
                continue;
            }
            let _ = write!(&mut buf[..8], "{len:08x}");
            buf.extend_from_slice(b"\r\n");
        }
        conn.write_all(buf).await?;
    }
    if chunked {
        conn.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

fn head_io(e: HeadError) -> io::Error {
    match e {
        HeadError::TooLarge => io::Error::new(io::ErrorKind::InvalidData, "head too large"),
        HeadError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::UnexpectedEof, other.to_string()),
    }
}

fn write_head(buf: &mut Vec<u8>, status: &str, content_type: &str, len: usize, keep_alive: bool) {
    buf.clear();
    // Writing to a Vec cannot fail.
    let _ = write!(
        buf,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n{}\r\n",
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    );
}

async fn respond(
    conn: &mut Conn<Async<TcpStream>>,
    head_buf: &mut Vec<u8>,
    status: &str,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    write_head(head_buf, status, content_type, body.len(), keep_alive);
    head_buf.extend_from_slice(body);
    timeout(Duration::from_secs(10), conn.write_all(head_buf)).await
}

fn landing_page(metrics_path: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>PBS Exporter</title></head><body>\n\
         <h1>PBS Exporter</h1>\n<p>Prometheus exporter for Proxmox Backup Server, version {}.</p>\n\
         <ul><li><a href=\"{metrics_path}\">Metrics</a></li><li><a href=\"/health\">Health</a></li></ul>\n\
         </body></html>\n",
        env!("CARGO_PKG_VERSION")
    )
}
