//! Serving: the accept loop, TLS handshakes, and HTTP/1.1 keep-alive connections on the
//! simulator thread's `LocalExecutor`. Each connection is a task with two reused buffers; the
//! snapshot list goes out as ~16 KiB chunks of `Transfer-Encoding: chunked`.

use super::api::{self, Plan, Shared};
use super::stream::Step;
use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use pbs_exporter::http::conn::{Conn, HeadError};
use pbs_exporter::http::head::parse_request;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Read buffer per connection; caps a request head.
const READ_BUF: usize = 16 * 1024;
/// Data bytes per chunk of a streamed body.
const CHUNK: usize = 16 * 1024;
/// Room kept in front of chunk data for its size line (16 hex digits + CRLF).
const RESERVE: usize = 18;

/// Accepts connections until the future is dropped; each one becomes a task on `ex`.
pub(crate) async fn serve(
    listener: Async<TcpListener>,
    tls: Option<futures_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    ex: &LocalExecutor<'_>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // Out of descriptors or similar: back off instead of spinning.
                Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.get_ref().set_nodelay(true);
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        match &tls {
            Some(acceptor) => {
                let accept = acceptor.accept(stream);
                ex.spawn(async move {
                    if let Ok(s) = accept.await {
                        connection(s, &shared).await;
                    }
                })
                .detach();
            }
            None => ex
                .spawn(async move { connection(stream, &shared).await })
                .detach(),
        }
    }
}

/// Serves requests on one connection until the peer closes it or an answer ends it.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(stream: S, sh: &Shared) {
    let mut conn = Conn::new(stream, READ_BUF);
    let mut body = Vec::new();
    let mut out = Vec::new();
    let (mut method, mut path, mut query) = (String::new(), String::new(), String::new());
    let mut auth = Vec::new();
    loop {
        let n = match conn.read_head().await {
            Ok(n) => n,
            Err(HeadError::TooLarge) => {
                let _ = fixed(
                    &mut conn,
                    &mut out,
                    431,
                    false,
                    b"request head too large",
                    false,
                )
                .await;
                break;
            }
            Err(_) => break,
        };
        let head = &conn.buffered()[..n];
        let parsed = parse_request(head).ok().map(|r| {
            method.clear();
            method.push_str(r.method);
            path.clear();
            path.push_str(r.path);
            query.clear();
            query.push_str(r.query);
            // A request body is not read: answer, then close.
            r.keep_alive && !r.has_body
        });
        let has_auth = match header(head, b"authorization") {
            Some(v) => {
                auth.clear();
                auth.extend_from_slice(v);
                true
            }
            None => false,
        };
        conn.consume(n);
        let Some(keep_alive) = parsed else {
            let _ = fixed(&mut conn, &mut out, 400, false, b"bad request", false).await;
            break;
        };
        let req = api::Request {
            method: &method,
            path: &path,
            query: &query,
            authorization: has_auth.then_some(&auth[..]),
        };
        let plan = api::route(sh, &req, &mut body);
        if !plan.wait.is_zero() {
            Timer::after(plan.wait).await;
        }
        let Plan {
            status,
            json_type,
            stream,
            endpoint,
            store,
            ..
        } = plan;
        let open = match stream {
            Some(st) => {
                let r = send_stream(&mut conn, &mut out, st, keep_alive).await;
                if let Ok((_, items, bytes)) = r {
                    super::control::record(sh, &endpoint, store.as_deref(), items, bytes);
                }
                r.map(|(open, ..)| open)
            }
            None => {
                let r = fixed(&mut conn, &mut out, status, json_type, &body, keep_alive).await;
                super::control::record(sh, &endpoint, store.as_deref(), 0, body.len() as u64);
                r
            }
        };
        if !matches!(open, Ok(true)) || !keep_alive {
            let _ = conn.stream.close().await;
            break;
        }
    }
}

/// Value of the first header called `name` in a (valid) request head.
fn header<'h>(head: &'h [u8], name: &[u8]) -> Option<&'h [u8]> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name)
            .then(|| line[colon + 1..].trim_ascii())
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Unknown",
    }
}

/// Writes a response head; `len` None means chunked.
fn head(out: &mut Vec<u8>, status: u16, json_type: bool, len: Option<usize>, keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    super::json::push_u64(out, status as u64);
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    if json_type {
        out.extend_from_slice(b"Content-Type: application/json;charset=UTF-8\r\n");
    }
    match len {
        Some(n) => {
            out.extend_from_slice(b"Content-Length: ");
            super::json::push_u64(out, n as u64);
            out.extend_from_slice(b"\r\n");
        }
        None => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"Cache-Control: max-age=0\r\n\r\n");
}

/// Sends a response with a `Content-Length` body, head and body in one write.
async fn fixed<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
    status: u16,
    json_type: bool,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<bool> {
    out.clear();
    head(out, status, json_type, Some(body.len()), keep_alive);
    out.extend_from_slice(body);
    conn.write_all(out).await?;
    Ok(true)
}

/// Frames the data after `RESERVE` in `buf` as one chunk; returns where the bytes to send
/// start. Nothing is framed when there is no data (an empty chunk would end the body).
fn frame(buf: &mut Vec<u8>) -> usize {
    let len = buf.len() - RESERVE;
    if len == 0 {
        return RESERVE;
    }
    let mut line = [0u8; RESERVE];
    let mut i = RESERVE - 2;
    line[i..].copy_from_slice(b"\r\n");
    let mut v = len;
    while v != 0 {
        i -= 1;
        line[i] = b"0123456789abcdef"[v & 15];
        v >>= 4;
    }
    buf[i..RESERVE].copy_from_slice(&line[i..]);
    buf.extend_from_slice(b"\r\n");
    i
}

/// Sends a streamed body (snapshots, tasks); Ok((true, ..)) when the connection can serve
/// another request, with the items and body bytes sent.
async fn send_stream<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
    mut st: super::stream::Streamed,
    keep_alive: bool,
) -> io::Result<(bool, u64, u64)> {
    let mut bytes = 0u64;
    out.clear();
    head(out, 200, true, None, keep_alive);
    conn.write_all(out).await?;
    loop {
        out.clear();
        out.resize(RESERVE, 0);
        let step = st.fill(out, RESERVE + CHUNK);
        bytes += (out.len() - RESERVE) as u64;
        let start = frame(out);
        match step {
            Step::More => {
                conn.write_all(&out[start..]).await?;
                // Let other connections (and the stop signal) run between chunks.
                futures_lite::future::yield_now().await;
            }
            Step::Done | Step::Cut { clean: true } => {
                out.extend_from_slice(b"0\r\n\r\n");
                conn.write_all(&out[start..]).await?;
                return Ok((true, st.items(), bytes));
            }
            Step::Cut { clean: false } => {
                conn.write_all(&out[start..]).await?;
                return Ok((false, st.items(), bytes));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_framing() {
        let mut b = vec![0u8; RESERVE];
        b.extend_from_slice(&[b'x'; 0x1a2]);
        let start = frame(&mut b);
        assert!(b[start..].starts_with(b"1a2\r\nxx"));
        assert!(b.ends_with(b"x\r\n"));
        let mut empty = vec![0u8; RESERVE];
        assert_eq!(frame(&mut empty), RESERVE);
        assert_eq!(empty.len(), RESERVE);
    }

    #[test]
    fn headers_are_found_case_insensitively() {
        let h = b"GET / HTTP/1.1\r\nHost: x\r\nauthorization:  PBSAPIToken=a:b \r\n\r\n";
        assert_eq!(header(h, b"Authorization"), Some(&b"PBSAPIToken=a:b"[..]));
        assert_eq!(header(h, b"cookie"), None);
    }
}
