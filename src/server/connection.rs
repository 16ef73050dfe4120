//! One client connection: reads request heads (pipelined or kept alive), routes them, and
//! writes the responses. Generic over the byte stream and over where `/metrics` comes from, so
//! the fuzz target drives exactly this code over an in-memory stream with a stub result.
//!
//! Access and encoding follow the web config in force ([`WebState`], re-read per request so a
//! SIGHUP applies to kept-alive connections too): with `basic_auth_users`, every path but
//! `/health` needs a user's credentials (else 401 with a `Basic` challenge); a metrics response
//! is gzip when the request accepts it and the server's one encoder is free.
//!
//! Every request is answered or the connection closed: a head that is too large gets 431, a
//! malformed one 400 (then close), a request with a body is answered and the connection
//! closed (bodies are not read). Each loop consumes a complete head, so a connection makes
//! progress or ends.

use super::ServerConfig;
use super::admission::Activity;
use crate::budget;
use crate::exposition::CONTENT_TYPE;
use crate::gzip::{GzipLease, GzipSlot};
use crate::http::conn::{Conn, HeadError, Transport};
use crate::http::head::{ParseError, parse_request};
use crate::web_config::WebState;
use async_io::Timer;
use std::future::Future;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// A collection's result, rendered a chunk at a time.
pub trait Render {
    /// A position in the rendering.
    type Cursor: Default;
    /// Renders from `cursor` into `out` until it holds at least `limit` bytes or all is
    /// rendered; true when there is more.
    fn render(&self, cursor: &mut Self::Cursor, out: &mut Vec<u8>, limit: usize) -> bool;

    /// True when the connection's response buffer (a chunk, [`CHUNK`]) is freed once this
    /// result is written: a `?target=` answer, whose target is released too, and whose
    /// connection may then wait a whole scrape interval for the next request. False keeps it
    /// for the next response (the default target's steady state allocates nothing).
    fn frees_buffers(&self) -> bool {
        false
    }
}

/// Where `/metrics` comes from.
pub trait Metrics {
    /// A result readable without holding the collection.
    type Result: Render;
    /// The result for a metrics request with the query string `query` (`target`, `module`),
    /// finishing by `deadline`; or why it is refused.
    fn collect(
        &self,
        query: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<Self::Result, Refusal>>;
}

/// A metrics request that is not answered with metrics: one line, and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `400 Bad Request` (a target not allowed, an unknown module, a bad query), or `500 ...`.
    pub status: &'static str,
    /// One line saying why, ending in a newline.
    pub message: String,
}

/// Bytes rendered per chunk of a metrics response. Every response being written holds one
/// chunk: 16 KiB rather than 32 lowers the peak of ten targets scraped at once by about
/// 0.2 MiB, for twice the (cheap) writes (footprint; DESIGN.md).
pub const CHUNK: usize = 16 * 1024;
/// Room for the chunk-size line, written as 8 hex digits (leading zeros are allowed).
const SIZE_LINE: usize = 10;

/// Races `fut` against a timer of `d`.
pub async fn timeout<T>(d: Duration, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    futures_lite::future::or(fut, async {
        Timer::after(d).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    })
    .await
}

enum Route {
    Metrics,
    Health,
    Landing,
    NotFound,
    BadMethod,
    Unauthorized,
}

/// What a response depends on besides the request: who may see it, and the gzip encoder.
#[derive(Debug, Default)]
pub struct Access {
    /// The web config in force.
    pub web: std::rc::Rc<WebState>,
    /// The server's one gzip encoder.
    pub gzip: GzipSlot,
}

/// Serves requests on `conn` until the client closes, a limit is passed, or a response says
/// `Connection: close`. `activity` learns when a request is being answered.
pub async fn handle<S: Transport, M: Metrics>(
    conn: &mut Conn<S>,
    metrics: &M,
    cfg: &ServerConfig,
    activity: &Activity,
    access: &Access,
) {
    // Allocated by the first response: a connection that never sends a head costs nothing.
    let mut buf = Vec::new();
    let mut first = true;
    loop {
        let wait = if first {
            cfg.head_timeout
        } else {
            cfg.idle_timeout
        };
        first = false;
        activity.idle();
        let head_len = match timeout(wait, async { conn.read_head().await.map_err(head_io) }).await
        {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let reply = Reply::closing(TOO_LARGE, b"request head too large\n");
                let _ = respond(conn, &mut buf, cfg, &reply).await;
                return;
            }
            Err(_) => return,
        };
        activity.busy();
        // Boxed: answering (a collection, gzip, the write) is a future of several KiB, so an
        // idle connection's task holds only what waiting for a head needs, and the 32 slots
        // of a connection flood cost little.
        if !Box::pin(answer(
            conn, head_len, &mut buf, metrics, cfg, access, activity,
        ))
        .await
        {
            return;
        }
    }
}

/// Answers the request whose head is the first `head_len` bytes buffered on `conn`. Returns
/// whether the connection stays open for the next request.
async fn answer<S: Transport, M: Metrics>(
    conn: &mut Conn<S>,
    head_len: usize,
    buf: &mut Vec<u8>,
    metrics: &M,
    cfg: &ServerConfig,
    access: &Access,
    activity: &Activity,
) -> bool {
    let arrived = Instant::now();
    let req = match parse_request(&conn.buffered()[..head_len]) {
        Ok(r) => r,
        Err(e) => {
            let status = if e == ParseError::Syntax("too many headers") {
                TOO_LARGE
            } else {
                "400 Bad Request"
            };
            let msg = format!("{e}\n");
            let _ = respond(conn, buf, cfg, &Reply::closing(status, msg.as_bytes())).await;
            return false;
        }
    };
    // This server reads no request bodies: answer, then close.
    let keep_alive = req.keep_alive && !req.has_body;
    let is_head = req.method == "HEAD";
    let http11 = req.http11;
    // Copied (no allocation when empty): the head's buffer is consumed below.
    let query = String::from(req.query);
    let budget = budget::scrape_budget(
        req.scrape_timeout,
        cfg.default_scrape_timeout,
        cfg.max_scrape_timeout,
    );
    let mut route = if req.method != "GET" && !is_head {
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
    if !matches!(route, Route::Health) {
        if let Some(auth) = &access.web.current().auth {
            if !auth.check(req.authorization).await {
                route = Route::Unauthorized;
            }
        }
    }
    let accepts_gzip = req.accept_encoding.gzip();
    conn.consume(head_len);
    let landing;
    let reply = match route {
        Route::Metrics => {
            let deadline = budget::deadline(arrived, budget);
            let result = match metrics.collect(&query, deadline).await {
                Ok(r) => r,
                Err(refusal) => {
                    let reply = Reply {
                        keep_alive,
                        head_only: is_head,
                        ..Reply::text(refusal.status, refusal.message.as_bytes())
                    };
                    return respond(conn, buf, cfg, &reply).await.is_ok() && keep_alive;
                }
            };
            let chunked = http11 && keep_alive;
            // Taken after the collection, so waiting for one never holds the encoder.
            let gzip = accepts_gzip.then(|| access.gzip.lease()).flatten();
            let write = write_metrics(conn, &result, is_head, chunked, gzip, buf);
            let written = matches!(timeout(cfg.write_timeout, write).await, Ok(()));
            if result.frees_buffers() {
                // Before `result` goes: dropping it may release the target and trim the heap.
                *buf = Vec::new();
                activity.answered_released();
            }
            return written && chunked;
        }
        Route::Health => Reply::text("200 OK", b"ok\n"),
        Route::Landing => {
            landing = landing_page(&cfg.metrics_path);
            Reply {
                content_type: "text/html; charset=utf-8",
                ..Reply::text("200 OK", landing.as_bytes())
            }
        }
        Route::NotFound => Reply::text("404 Not Found", b"not found\n"),
        Route::BadMethod => Reply::closing("405 Method Not Allowed", b"only GET and HEAD\n"),
        Route::Unauthorized => Reply {
            extra: CHALLENGE,
            ..Reply::text("401 Unauthorized", b"unauthorized\n")
        },
    };
    let reply = Reply {
        keep_alive: reply.keep_alive && keep_alive,
        head_only: is_head,
        ..reply
    };
    respond(conn, buf, cfg, &reply).await.is_ok() && reply.keep_alive
}

/// A short response, written whole.
struct Reply<'a> {
    status: &'a str,
    content_type: &'a str,
    body: &'a [u8],
    keep_alive: bool,
    /// Answers a HEAD request: the head only.
    head_only: bool,
    /// More header lines, each ending in CRLF.
    extra: &'a str,
}

impl<'a> Reply<'a> {
    fn text(status: &'a str, body: &'a [u8]) -> Self {
        Reply {
            status,
            content_type: "text/plain",
            body,
            keep_alive: true,
            head_only: false,
            extra: "",
        }
    }

    fn closing(status: &'a str, body: &'a [u8]) -> Self {
        Reply {
            keep_alive: false,
            ..Reply::text(status, body)
        }
    }
}

const TOO_LARGE: &str = "431 Request Header Fields Too Large";
/// What a 401 asks for (exporter-toolkit sends the same).
const CHALLENGE: &str = "WWW-Authenticate: Basic\r\n";

/// Writes the exposition: chunked for HTTP/1.1 (rendered a chunk at a time, so the text never
/// exists whole), or until close for HTTP/1.0. With `gzip`, each rendered chunk is compressed
/// and whatever the encoder produced goes out as the next chunk.
async fn write_metrics<S: Transport, R: Render>(
    conn: &mut Conn<S>,
    result: &R,
    is_head: bool,
    chunked: bool,
    mut gzip: Option<GzipLease<'_>>,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.clear();
    let _ = write!(
        buf,
        "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nVary: Accept-Encoding\r\n"
    );
    if gzip.is_some() {
        buf.extend_from_slice(b"Content-Encoding: gzip\r\n");
    }
    buf.extend_from_slice(if chunked {
        b"Transfer-Encoding: chunked\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    conn.write_all(buf).await?;
    if is_head {
        return Ok(());
    }
    let mut cursor = R::Cursor::default();
    let mut more = true;
    while more {
        buf.clear();
        if chunked {
            buf.extend_from_slice(b"00000000\r\n");
        }
        match gzip.as_deref_mut() {
            Some(gz) => {
                gz.plain.clear();
                more = result.render(&mut cursor, &mut gz.plain, CHUNK);
                gz.encoder.write(&gz.plain, buf);
                if !more {
                    gz.encoder.finish(buf);
                }
            }
            None => more = result.render(&mut cursor, buf, CHUNK),
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

/// Writes `reply` within the write timeout.
async fn respond<S: Transport>(
    conn: &mut Conn<S>,
    buf: &mut Vec<u8>,
    cfg: &ServerConfig,
    reply: &Reply<'_>,
) -> io::Result<()> {
    buf.clear();
    // Writing to a Vec cannot fail.
    let _ = write!(
        buf,
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n",
        reply.status,
        reply.content_type,
        reply.body.len(),
        reply.extra,
        if reply.keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    );
    if !reply.head_only {
        buf.extend_from_slice(reply.body);
    }
    timeout(cfg.write_timeout, conn.write_all(buf)).await
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

/// A fixed exposition, as a stand-in for a collection (tests and the `server_path` fuzz
/// target drive [`handle`] with it).
#[derive(Debug, Clone, Default)]
pub struct Fixed(pub Vec<u8>);

impl Render for Fixed {
    type Cursor = usize;
    fn render(&self, at: &mut usize, out: &mut Vec<u8>, limit: usize) -> bool {
        let rest = self.0.get(*at..).unwrap_or_default();
        let n = rest.len().min(limit.saturating_sub(out.len()).max(1));
        out.extend_from_slice(&rest[..n]);
        *at += n;
        *at < self.0.len()
    }
}

impl Metrics for Fixed {
    type Result = Fixed;
    async fn collect(&self, _query: &str, _deadline: Instant) -> Result<Fixed, Refusal> {
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input`, then the end of the stream; writes never complete.
    struct Stuck(&'static [u8]);

    impl Transport for Stuck {
        async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
        async fn write_all(&mut self, _buf: &[u8]) -> io::Result<()> {
            std::future::pending().await
        }
    }

    /// Reads `input`; keeps what is written.
    struct Memory(&'static [u8], Vec<u8>);

    impl Transport for Memory {
        async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            Stuck::read(&mut Stuck(self.0), buf)
                .await
                .inspect(|&n| self.0 = &self.0[n..])
        }
        async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
            self.1.extend_from_slice(buf);
            Ok(())
        }
    }

    /// Runs [`handle`] on `conn` until it returns, with an open web config.
    fn serve_once<S: Transport>(conn: &mut Conn<S>, metrics: &Fixed, cfg: &ServerConfig) {
        let access = Access::default();
        async_io::block_on(handle(conn, metrics, cfg, &Activity::new(), &access));
    }

    #[test]
    fn head_requests_get_no_body_and_pipelining_goes_on() {
        let input = b"HEAD /health HTTP/1.1\n\nGET /health HTTP/1.1\r\n\r\nHEAD /metrics HTTP/1.1\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n";
        let mut conn = Conn::growing(Memory(input, Vec::new()), 8192);
        let metrics = Fixed(b"x 1\n".to_vec());
        let cfg = ServerConfig::default();
        serve_once(&mut conn, &metrics, &cfg);
        let out = String::from_utf8(conn.stream.1).unwrap();
        let ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n";
        let metrics_head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nVary: Accept-Encoding\r\n");
        let want = format!(
            "{ok}{ok}ok\n{metrics_head}Transfer-Encoding: chunked\r\n\r\n{metrics_head}Connection: close\r\n\r\nx 1\n"
        );
        assert_eq!(out, want);
    }

    /// [`Fixed`], answered as a `?target=` scrape is.
    #[derive(Clone)]
    struct Released(Fixed);

    impl Render for Released {
        type Cursor = usize;
        fn render(&self, at: &mut usize, out: &mut Vec<u8>, limit: usize) -> bool {
            self.0.render(at, out, limit)
        }
        fn frees_buffers(&self) -> bool {
            true
        }
    }

    impl Metrics for Released {
        type Result = Released;
        async fn collect(&self, _query: &str, _deadline: Instant) -> Result<Released, Refusal> {
            Ok(self.clone())
        }
    }

    /// Answers one `?target=` request with `metrics`: the body written, the capacity of the
    /// response buffer afterwards, and whether the connection reported a released answer.
    fn answered<M: Metrics>(metrics: &M) -> (usize, usize, bool) {
        let input = b"GET /metrics?target=a HTTP/1.1\r\n\r\n";
        let mut conn = Conn::growing(Memory(input, Vec::new()), 8192);
        let mut buf = Vec::new();
        let (cfg, access, activity) = (ServerConfig::default(), Access::default(), Activity::new());
        let open = async_io::block_on(async {
            let head_len = conn.read_head().await.unwrap();
            answer(
                &mut conn, head_len, &mut buf, metrics, &cfg, &access, &activity,
            )
            .await
        });
        assert!(open, "the connection stays open");
        let out = String::from_utf8(conn.stream.1).unwrap();
        let released = activity.take_released();
        (out.matches('~').count(), buf.capacity(), released)
    }

    #[test]
    fn a_target_answer_frees_the_response_buffer_and_the_default_keeps_it() {
        let body = Fixed(vec![b'~'; 3 * CHUNK]);
        let (written, kept, released) = answered(&body);
        assert_eq!(written, 3 * CHUNK);
        assert!(
            kept >= CHUNK,
            "the default target keeps its buffer ({kept} bytes)"
        );
        assert!(!released, "the default target's answer is not reported");
        let (written, freed, released) = answered(&Released(body));
        assert_eq!(written, 3 * CHUNK);
        assert_eq!(freed, 0, "a target's answer frees it");
        assert!(released, "the connection learns its close is worth a trim");
    }

    #[test]
    fn short_responses_give_up_after_the_configured_write_timeout() {
        let cfg = ServerConfig {
            write_timeout: Duration::from_millis(100),
            ..ServerConfig::default()
        };
        for input in [
            &b"GET /health HTTP/1.1\r\n\r\n"[..],
            b"GET /nope HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"BAD\r\n\r\n",
            &[b'a'; 9000],
        ] {
            let mut conn = Conn::growing(Stuck(input), 8192);
            let started = Instant::now();
            let metrics = Fixed(b"x 1\n".to_vec());
            serve_once(&mut conn, &metrics, &cfg);
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "{took:?}");
        }
    }
}
