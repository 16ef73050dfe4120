//! The PBS API client: one kept-alive connection (TLS or plain) with token authentication, whose
//! responses are streamed through the JSON reader into an endpoint's extractor. Errors are
//! worded for the PBS admin who has to act on them.

use crate::deadline::Watchdog;
use crate::http::body::{BodyError, BodyReader};
use crate::http::conn::{Conn, HeadError, Transport};
use crate::http::head::parse_response;
use crate::json::{JsonError, JsonReader, Sink};
use crate::tls::{ClientTls, format_fingerprint};
use crate::tls_stream::TlsStream;
use async_io::{Async, Timer};
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Read buffer per PBS connection; also the longest response head accepted (PBS sends a few
/// hundred bytes). Every target scraped at once holds one, and the JSON reader's buffer
/// follows its size: 8 KiB rather than 16 lowered the peak of ten concurrent targets by about
/// 0.5 MiB, with no CPU cost measurable (footprint; DESIGN.md).
const READ_BUFFER: usize = 8 * 1024;
/// Bytes of an error body kept for the message.
const ERROR_TEXT: usize = 256;
/// Largest error body read to keep the connection alive; larger ones close it.
const ERROR_BODY_MAX: u64 = 64 * 1024;

/// Where PBS is: `https://host:8007`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// TLS (`https`) or plain (`http`).
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port (8007 when not given).
    pub port: u16,
}

impl Endpoint {
    /// Parses `https://host[:port][/]`; a bare `host[:port]` means https.
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if s.contains("://") {
            return Err(format!("'{s}': only https:// and http:// are supported"));
        } else {
            (true, s)
        };
        let rest = rest.trim_end_matches('/');
        let rest = rest.strip_suffix("/api2/json").unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!(
                "'{s}': give only scheme, host and port, e.g. https://pbs.example:8007"
            ));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("'{s}': unclosed '['"))?;
            if !after.is_empty() && !after.starts_with(':') {
                return Err(format!("'{s}': only ':port' may follow ']'"));
            }
            (h, after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(format!("'{s}': no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("'{s}': bad port '{p}'"))?,
            None => 8007,
        };
        Ok(Endpoint {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

impl Endpoint {
    /// Writes `host:port` as a `Host` header wants it: an IPv6 address in brackets.
    pub fn write_authority(&self, out: &mut Vec<u8>) {
        if self.host.contains(':') {
            out.push(b'[');
            out.extend_from_slice(self.host.as_bytes());
            out.push(b']');
        } else {
            out.extend_from_slice(self.host.as_bytes());
        }
        // Writing to a Vec cannot fail.
        let _ = std::io::Write::write_fmt(out, format_args!(":{}", self.port));
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_url(f, self.tls, &self.host, self.port)
    }
}

/// Writes `https://host:port` (`http://`, `[v6]`) as admins write endpoints.
pub fn write_url(
    f: &mut std::fmt::Formatter<'_>,
    tls: bool,
    host: &str,
    port: u16,
) -> std::fmt::Result {
    let scheme = if tls { "https" } else { "http" };
    if host.contains(':') {
        write!(f, "{scheme}://[{host}]:{port}")
    } else {
        write!(f, "{scheme}://{host}:{port}")
    }
}

/// Why a PBS request failed.
#[derive(Debug)]
pub enum PbsError {
    /// The host name did not resolve.
    Resolve(String),
    /// No TCP connection (refused, unreachable, ...).
    Connect(String),
    /// The TLS handshake failed (certificate not trusted, fingerprint mismatch, ...).
    Tls(String),
    /// PBS rejected the token (401).
    Unauthorized(String),
    /// The token lacks a privilege for this path (403).
    Forbidden(String),
    /// PBS has no such path (404): an older PBS, or a feature it lacks.
    NotFound(String),
    /// Any other non-200 status.
    Status(String),
    /// The request did not finish in time.
    Timeout(String),
    /// The connection broke or the HTTP framing was bad.
    Protocol(String),
    /// The body was not the JSON expected (malformed, truncated, oversized).
    Body(String),
}

impl std::fmt::Display for PbsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PbsError::Resolve(m)
            | PbsError::Connect(m)
            | PbsError::Tls(m)
            | PbsError::Unauthorized(m)
            | PbsError::Forbidden(m)
            | PbsError::NotFound(m)
            | PbsError::Status(m)
            | PbsError::Timeout(m)
            | PbsError::Protocol(m)
            | PbsError::Body(m) => f.write_str(m),
        }
    }
}

/// A PBS connection, plain or TLS.
enum Stream {
    Plain(Async<TcpStream>),
    Tls(Box<TlsStream>),
}

impl Stream {
    /// The TCP socket, under TLS or not.
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s.get_ref(),
            Stream::Tls(s) => s.tcp(),
        }
    }
}

impl Transport for Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => Transport::read(s, buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => Transport::write_all(s, buf).await,
            Stream::Tls(s) => s.write_all(buf).await,
        }
    }
}

/// The client of one PBS.
pub struct PbsClient {
    endpoint: Endpoint,
    token_id: String,
    /// `Authorization: PBSAPIToken=id:secret\r\n`; holds the secret, never printed.
    auth_line: Vec<u8>,
    tls: Option<ClientTls>,
    conn: Option<Conn<Stream>>,
    reader: JsonReader,
    request: Vec<u8>,
    error_text: Vec<u8>,
    /// Per-request timeout.
    timeout: Duration,
    /// Largest body accepted.
    max_body: u64,
    /// Ends a request whose deadline passed (`None` if its thread could not start: the
    /// reactor's timer does it then).
    watchdog: Option<Watchdog>,
}

impl PbsClient {
    /// A client for `endpoint` authenticating as `token_id` with `secret`. `tls` is required for
    /// an https endpoint.
    pub fn new(
        endpoint: Endpoint,
        token_id: &str,
        secret: &str,
        tls: Option<ClientTls>,
        timeout: Duration,
        max_body: u64,
    ) -> Self {
        let mut auth_line = b"Authorization: PBSAPIToken=".to_vec();
        auth_line.extend_from_slice(token_id.as_bytes());
        auth_line.push(b':');
        auth_line.extend_from_slice(secret.as_bytes());
        auth_line.extend_from_slice(b"\r\n");
        PbsClient {
            endpoint,
            token_id: token_id.to_string(),
            auth_line,
            tls,
            conn: None,
            reader: JsonReader::new(),
            request: Vec::new(),
            error_text: Vec::new(),
            timeout,
            max_body,
            watchdog: Watchdog::new().ok(),
        }
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// TLS records received and requests encrypted on the current connection (`None` when
    /// there is none, or it is plain HTTP). For the memory budget tests.
    pub fn tls_records(&self) -> Option<(u64, u64)> {
        match &self.conn.as_ref()?.stream {
            Stream::Tls(s) => Some(s.records()),
            Stream::Plain(_) => None,
        }
    }

    /// Drops the kept-alive connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        self.conn.take();
        if let Some(w) = &self.watchdog {
            w.unwatch();
        }
    }

    /// Frees what only a request in progress needs (a target held idle): closes the connection
    /// (its TLS state and read buffer go with it) and frees the request, error and JSON
    /// buffers. The next request connects again and grows them again.
    pub fn release_idle(&mut self) {
        self.disconnect();
        self.reader.release();
        self.request = Vec::new();
        self.error_text = Vec::new();
    }

    /// GETs `/api2/json{path}` and streams the JSON body into `sink`. `path` must already be
    /// percent-encoded (see [`push_query_value`]). The request ends by `deadline` at the latest.
    pub async fn get_json<S: Sink + ?Sized>(
        &mut self,
        path: &str,
        sink: &mut S,
        deadline: Instant,
    ) -> Result<(), PbsError> {
        // Only the body's reading into `sink` is built per sink; what comes before and after
        // it (request, head, error wording) is in functions of its own, built once.
        let deadline = deadline.min(Instant::now() + self.timeout);
        let result = if let Some(w) = &self.watchdog {
            w.arm(deadline);
            let result = self.exchange(path, sink, deadline).await;
            self.disarm(result)
        } else {
            futures_lite::future::or(self.exchange(path, sink, deadline), timer(deadline)).await
        };
        self.ended(path, result)
    }

    /// Disarms the watchdog after a request; when it fired, a failure becomes a timeout and a
    /// success drops the connection.
    fn disarm(&mut self, result: Result<(), PbsError>) -> Result<(), PbsError> {
        let fired = self.watchdog.as_ref().is_some_and(Watchdog::disarm);
        match result {
            // The request failed because the watchdog shut the socket down.
            Err(_) if fired => Err(PbsError::Timeout(String::new())),
            // It finished just as the deadline passed: keep the answer, not the socket.
            Ok(()) if fired => {
                self.disconnect();
                Ok(())
            }
            other => other,
        }
    }

    /// After a request: drops the connection unless PBS answered with an HTTP error, and words
    /// a timeout.
    fn ended(&mut self, path: &str, result: Result<(), PbsError>) -> Result<(), PbsError> {
        if let Err(e) = &result {
            if !matches!(
                e,
                PbsError::Unauthorized(_)
                    | PbsError::Forbidden(_)
                    | PbsError::NotFound(_)
                    | PbsError::Status(_)
            ) {
                self.disconnect();
            }
            if let PbsError::Timeout(_) = e {
                let secs = self.timeout.as_secs_f64();
                return Err(PbsError::Timeout(format!(
                    "PBS at {} did not answer GET {path} in time (timeout {secs}s or the scrape deadline)",
                    self.endpoint
                )));
            }
        }
        result
    }

    /// Connects if there is no kept-alive connection. Connecting is rare (the first scrape, or
    /// after an error), so the reactor's timer bounds it; the watchdog then watches the socket.
    async fn ensure_connected(&mut self, deadline: Instant) -> Result<(), PbsError> {
        if self.conn.is_some() {
            return Ok(());
        }
        let conn = futures_lite::future::or(self.connect(), timer(deadline)).await?;
        if let (Some(w), Ok(socket)) = (&self.watchdog, conn.stream.tcp().try_clone()) {
            w.watch(socket);
        }
        self.conn = Some(conn);
        Ok(())
    }

    /// One request and response, retried once on a fresh connection when a kept-alive one turns
    /// out to have been closed by PBS.
    async fn exchange<S: Sink + ?Sized>(
        &mut self,
        path: &str,
        sink: &mut S,
        deadline: Instant,
    ) -> Result<(), PbsError> {
        let head = self.request(path, deadline).await?;
        if head.status != 200 {
            return Err(self.error_response(path, head).await);
        }
        self.read_response(path, head, sink).await
    }

    /// Sends the request and reads the response head.
    async fn request(
        &mut self,
        path: &str,
        deadline: Instant,
    ) -> Result<crate::http::head::ResponseHead, PbsError> {
        self.build_request(path);
        let reused = self.conn.is_some();
        match self.send_and_read_head(path, deadline).await {
            Ok(head) => Ok(head),
            Err(HeadOrIo::Stale) if reused => {
                self.disconnect();
                match self.send_and_read_head(path, deadline).await {
                    Ok(head) => Ok(head),
                    Err(e) => Err(self.head_error(path, e)),
                }
            }
            Err(e) => Err(self.head_error(path, e)),
        }
    }

    fn build_request(&mut self, path: &str) {
        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(b"GET /api2/json");
        r.extend_from_slice(path.as_bytes());
        r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        self.endpoint.write_authority(r);
        r.extend_from_slice(b"\r\n");
        r.extend_from_slice(&self.auth_line);
        r.extend_from_slice(b"Accept: application/json\r\nUser-Agent: pbs-exporter/");
        r.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        r.extend_from_slice(b"\r\n\r\n");
    }

    async fn send_and_read_head(
        &mut self,
        _path: &str,
        deadline: Instant,
    ) -> Result<crate::http::head::ResponseHead, HeadOrIo> {
        self.ensure_connected(deadline)
            .await
            .map_err(HeadOrIo::Connect)?;
        let conn = self.conn.as_mut().ok_or(HeadOrIo::Stale)?;
        if conn.write_all(&self.request).await.is_err() {
            return Err(HeadOrIo::Stale);
        }
        let n = match conn.read_head().await {
            Ok(n) => n,
            Err(HeadError::Closed) => return Err(HeadOrIo::Stale),
            Err(HeadError::Io(e))
                if matches!(
                    e.kind(),
                    // A kept-alive connection PBS closed, over TLS possibly without close_notify.
                    io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Err(HeadOrIo::Stale);
            }
            Err(e) => return Err(HeadOrIo::Bad(e.to_string())),
        };
        let head = parse_response(&conn.buffered()[..n], false)
            .map_err(|e| HeadOrIo::Bad(e.to_string()))?;
        conn.consume(n);
        Ok(head)
    }

    fn head_error(&mut self, path: &str, e: HeadOrIo) -> PbsError {
        self.disconnect();
        match e {
            HeadOrIo::Connect(e) => e,
            HeadOrIo::Stale => PbsError::Protocol(format!(
                "PBS at {} closed the connection without answering GET {path}",
                self.endpoint
            )),
            HeadOrIo::Bad(e) => PbsError::Protocol(format!(
                "bad response from PBS at {} to GET {path}: {e}",
                self.endpoint
            )),
        }
    }

    /// Reads the start of an error response's body for the message (the connection is kept
    /// when the body ends in time), and words the error.
    async fn error_response(
        &mut self,
        path: &str,
        head: crate::http::head::ResponseHead,
    ) -> PbsError {
        let Some(conn) = self.conn.as_mut() else {
            return PbsError::Protocol("connection lost".into());
        };
        let mut body = BodyReader::new(head.framing, ERROR_BODY_MAX);
        self.error_text.clear();
        let mut complete = false;
        loop {
            match body.next(conn).await {
                Ok(Some(piece)) => {
                    let room = ERROR_TEXT.saturating_sub(self.error_text.len());
                    self.error_text
                        .extend_from_slice(&piece[..piece.len().min(room)]);
                }
                Ok(None) => {
                    complete = true;
                    break;
                }
                Err(_) => break,
            }
        }
        if !(complete && head.keep_alive) {
            self.disconnect();
        }
        self.status_error(path, head.status)
    }

    /// Streams a 200 response's body through the JSON reader into `sink`.
    async fn read_response<S: Sink + ?Sized>(
        &mut self,
        path: &str,
        head: crate::http::head::ResponseHead,
        sink: &mut S,
    ) -> Result<(), PbsError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(PbsError::Protocol("connection lost".into()));
        };
        let mut body = BodyReader::new(head.framing, self.max_body);
        self.reader.reset();
        let result = loop {
            match body.next(conn).await {
                Ok(Some(piece)) => {
                    if let Err(e) = self.reader.feed(piece, sink) {
                        break Err(json_error(&self.endpoint, path, &e));
                    }
                }
                Ok(None) => {
                    break self
                        .reader
                        .finish()
                        .map_err(|e| json_error(&self.endpoint, path, &e));
                }
                Err(e) => break Err(body_error(&self.endpoint, path, e)),
            }
        };
        if result.is_err() || !head.keep_alive || !body.is_done() {
            self.disconnect();
        }
        result
    }

    fn status_error(&self, path: &str, status: u16) -> PbsError {
        let text = String::from_utf8_lossy(&self.error_text);
        let text = text.trim();
        match status {
            401 => PbsError::Unauthorized(format!(
                "PBS at {} rejected the API token '{}' (HTTP 401 {text}): the token secret or the token id is wrong, or the token is disabled or expired",
                self.endpoint, self.token_id
            )),
            403 => PbsError::Forbidden(format!(
                "PBS at {} denied GET {path} to token '{}' (HTTP 403 {text}): grant the token the Audit role on / (with privilege separation, to the token itself)",
                self.endpoint, self.token_id
            )),
            404 => PbsError::NotFound(format!(
                "PBS at {} answered GET {path} with HTTP 404: {text}",
                self.endpoint
            )),
            _ => PbsError::Status(format!(
                "PBS at {} answered GET {path} with HTTP {status}: {text}",
                self.endpoint
            )),
        }
    }

    async fn connect(&mut self) -> Result<Conn<Stream>, PbsError> {
        let ep = &self.endpoint;
        let addrs: Vec<_> = (ep.host.as_str(), ep.port)
            .to_socket_addrs()
            .map_err(|e| {
                PbsError::Resolve(format!(
                    "cannot resolve the PBS host '{}' of {ep}: {e}",
                    ep.host
                ))
            })?
            .collect();
        let mut last_err = None;
        let mut tcp = None;
        for addr in &addrs {
            match Async::<TcpStream>::connect(*addr).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last_err = Some((addr, e)),
            }
        }
        let tcp = match (tcp, last_err) {
            (Some(t), _) => t,
            (None, Some((addr, e))) => {
                return Err(PbsError::Connect(format!(
                    "cannot connect to PBS at {ep} ({addr}): {e}; is PBS running and the endpoint right?"
                )));
            }
            (None, None) => {
                return Err(PbsError::Resolve(format!(
                    "the PBS host '{}' of {ep} has no address",
                    ep.host
                )));
            }
        };
        let _ = tcp.get_ref().set_nodelay(true);
        if !ep.tls {
            return Ok(Conn::new(Stream::Plain(tcp), READ_BUFFER));
        }
        let Some(tls) = &self.tls else {
            return Err(PbsError::Tls(
                "no TLS configuration for an https endpoint".into(),
            ));
        };
        let name = rustls::pki_types::ServerName::try_from(ep.host.clone()).map_err(|e| {
            PbsError::Tls(format!("'{}' is not a valid TLS server name: {e}", ep.host))
        })?;
        match TlsStream::connect(tls.config.clone(), name, tcp).await {
            Ok(s) => Ok(Conn::new(Stream::Tls(Box::new(s)), READ_BUFFER)),
            Err(e) => Err(PbsError::Tls(tls_message(ep, tls, &e))),
        }
    }
}

enum HeadOrIo {
    Connect(PbsError),
    Stale,
    /// The head could not be read or parsed.
    Bad(String),
}

fn json_error(ep: &Endpoint, path: &str, e: &JsonError) -> PbsError {
    PbsError::Body(format!(
        "response of PBS at {ep} to GET {path} is not valid JSON: {e}"
    ))
}

fn body_error(ep: &Endpoint, path: &str, e: BodyError) -> PbsError {
    match e {
        BodyError::TooLarge(n) => PbsError::Body(format!(
            "response of PBS at {ep} to GET {path} is larger than {n} bytes (--max-body-bytes)"
        )),
        BodyError::Truncated => PbsError::Body(format!(
            "response of PBS at {ep} to GET {path} was cut off (connection closed mid-body)"
        )),
        e => PbsError::Protocol(format!(
            "reading the response of PBS at {ep} to GET {path}: {e}"
        )),
    }
}

/// A future that fails with a timeout at `deadline`.
async fn timer<T>(deadline: Instant) -> Result<T, PbsError> {
    Timer::at(deadline).await;
    Err(PbsError::Timeout(String::new()))
}

/// Words a failed handshake for the admin, naming the fingerprint the server presented.
fn tls_message(ep: &Endpoint, tls: &ClientTls, e: &io::Error) -> String {
    let presented = tls.presented().map(|fp| format_fingerprint(&fp));
    match (tls.pinned(), presented) {
        (Some(pinned), Some(got)) if format_fingerprint(&pinned) != got => format!(
            "TLS certificate fingerprint mismatch for PBS at {ep}: the server presented {got}, but the configured fingerprint is {}; if the PBS certificate was renewed, update PBS_FINGERPRINT",
            format_fingerprint(&pinned)
        ),
        (None, Some(got)) => format!(
            "TLS handshake with PBS at {ep} failed: {e}; the server presented a certificate with fingerprint {got}: pin it with PBS_FINGERPRINT (check it on the PBS dashboard first) or trust its CA with PBS_CA_FILE"
        ),
        _ => format!("TLS handshake with PBS at {ep} failed: {e}"),
    }
}

/// Appends `value` to a URL query, percent-encoding everything but unreserved characters.
pub fn push_query_value(out: &mut String, value: &str) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(
                char::from_digit((b >> 4) as u32, 16)
                    .unwrap_or('0')
                    .to_ascii_uppercase(),
            );
            out.push(
                char::from_digit((b & 15) as u32, 16)
                    .unwrap_or('0')
                    .to_ascii_uppercase(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_like_pbs_admins_write_them() {
        let e = Endpoint::parse("https://pbs.example:8007").unwrap();
        assert_eq!(
            (e.tls, e.host.as_str(), e.port),
            (true, "pbs.example", 8007)
        );
        assert_eq!(Endpoint::parse("pbs.example").unwrap().port, 8007);
        assert_eq!(
            Endpoint::parse("https://pbs/api2/json/").unwrap().host,
            "pbs"
        );
        let v6 = Endpoint::parse("https://[::1]:9000").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9000));
        assert_eq!(v6.to_string(), "https://[::1]:9000");
        assert!(!Endpoint::parse("http://10.0.0.1:80").unwrap().tls);
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("https://x:port").is_err());
        assert!(Endpoint::parse("https://x/sub/path").is_err());
    }

    #[test]
    fn the_host_header_brackets_ipv6_and_names_the_port() {
        for (endpoint, host) in [
            ("https://[::1]:8007", "Host: [::1]:8007\r\n"),
            ("https://[fe80::1%eth0]", "Host: [fe80::1%eth0]:8007\r\n"),
            ("http://pbs.example:80", "Host: pbs.example:80\r\n"),
            ("10.0.0.1", "Host: 10.0.0.1:8007\r\n"),
        ] {
            let ep = Endpoint::parse(endpoint).unwrap();
            let mut c = PbsClient::new(ep, "u@pbs!t", "s", None, Duration::from_secs(1), 1);
            c.build_request("/version");
            let req = String::from_utf8(c.request.clone()).unwrap();
            assert!(req.contains(host), "{endpoint}: {req}");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let mut s = String::new();
        push_query_value(&mut s, "ns1/sub 2");
        assert_eq!(s, "ns1%2Fsub%202");
    }
}
