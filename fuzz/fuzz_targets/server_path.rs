//! The server's whole request path, `server::connection::handle`: bytes in → head reading and
//! parsing → routing → scrape budget → bytes out, over an in-memory stream, with a fixed
//! exposition standing in for the collection. Byte 0 sizes the head buffer (64 to 8,224
//! bytes), byte 1 the reads (0: all at once), the rest is what the client sends.
//!
//! Asserts:
//! * no panic;
//! * the handler finishes on its first poll (the stream never blocks, so nothing may wait),
//!   having answered at most one response per complete request head, plus one 431;
//! * the output is a sequence of well-formed HTTP/1.1 responses: each head parses
//!   (`parse_response`, as HEAD-request response when the request was HEAD), its status is one
//!   the server sends, the body is framed by Content-Length or chunked (decoded by the
//!   reference decoder) or runs to the end after `Connection: close`, and no byte follows a
//!   response that closes the connection;
//! * each response answers its request: requests are replayed from the input with the same
//!   head splitting, and a parsed GET of `/metrics` gets 200 with exactly the fixed exposition
//!   (never mixed or cut; gunzipped first when the request's `Accept-Encoding` takes gzip),
//!   `/health` gets `ok`, a malformed head 400 or 431.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::http::conn::{Conn, find_head_end};
use pbs_exporter::http::head::{Framing, parse_request, parse_response};
use pbs_exporter::server::ServerConfig;
use pbs_exporter::server::admission::Activity;
use pbs_exporter::server::connection::{Access, Fixed, handle};
use pbs_exporter_fuzz::chunked_ref::{self, Outcome};
use pbs_exporter_fuzz::stream::{Recorder, source};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The exposition served; over one 32 KiB chunk, so responses have several chunks.
fn exposition() -> Vec<u8> {
    let mut v = Vec::new();
    let mut i = 0;
    while v.len() < 40_000 {
        v.extend_from_slice(format!("m{{i=\"{i}\"}} {i}\n").as_bytes());
        i += 1;
    }
    v
}

/// What the request at the start of `input` is: its head's length (if complete), whether it
/// parsed, its method and path.
struct Request {
    parsed: bool,
    head: bool,
    path: String,
    /// The request accepts gzip (the one encoder is always free here: one connection).
    gzip: bool,
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cap = 64 + data[0] as usize * 32;
    let input = &data[2..];
    let cfg = ServerConfig {
        max_head: cap,
        ..ServerConfig::default()
    };
    let expo = exposition();
    let metrics = Fixed(expo.clone());
    let mut conn = Conn::growing(
        Recorder {
            source: source(input, data[1]),
            written: Vec::new(),
        },
        cap,
    );
    let activity = Activity::new();
    {
        let access = Access::default();
        let fut = pin!(handle(&mut conn, &metrics, &cfg, &activity, &access));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            matches!(fut.poll(&mut cx), Poll::Ready(())),
            "the handler waited on an in-memory stream"
        );
    }
    let out = &conn.stream.written[..];

    // The requests, as the server splits them.
    let mut requests = Vec::new();
    let mut rest = input;
    while let Some(n) = find_head_end(rest) {
        if n > cap {
            break;
        }
        let r = parse_request(&rest[..n]);
        requests.push(Request {
            parsed: r.is_ok(),
            head: r.as_ref().is_ok_and(|r| r.method == "HEAD"),
            gzip: r.as_ref().is_ok_and(|r| r.accept_encoding.gzip()),
            path: r.map(|r| r.path.to_string()).unwrap_or_default(),
        });
        rest = &rest[n..];
    }

    let mut at = 0;
    let mut i = 0;
    while at < out.len() {
        assert!(i <= requests.len(), "more responses than requests");
        let req = requests.get(i);
        let resp = &out[at..];
        assert!(resp.starts_with(b"HTTP/1.1 "), "not an HTTP/1.1 response: {:?}", &resp[..resp.len().min(40)]);
        let n = find_head_end(resp).expect("response head incomplete");
        let head_req = req.is_some_and(|r| r.head);
        let h = parse_response(&resp[..n], head_req).expect("response head malformed");
        assert!(
            [200, 400, 404, 405, 431].contains(&h.status),
            "status {}",
            h.status
        );
        let body_start = at + n;
        let (body, end) = match h.framing {
            Framing::Length(len) => {
                let end = body_start + len as usize;
                assert!(end <= out.len(), "body shorter than Content-Length");
                (out[body_start..end].to_vec(), end)
            }
            Framing::Chunked => match chunked_ref::decode(&out[body_start..]) {
                (data, Outcome::Done(len)) => (data, body_start + len),
                (_, o) => panic!("bad chunked body: {o:?}"),
            },
            Framing::UntilClose => (out[body_start..].to_vec(), out.len()),
        };
        match req {
            Some(r) if r.parsed => {
                if r.path == "/metrics" && h.status == 200 && !head_req {
                    let mut plain = Vec::new();
                    let text = if r.gzip {
                        std::io::Read::read_to_end(
                            &mut flate2::read::GzDecoder::new(&body[..]),
                            &mut plain,
                        )
                        .expect("a complete gzip stream");
                        &plain
                    } else {
                        &body
                    };
                    assert!(*text == expo, "metrics body differs from the exposition");
                }
                if r.path == "/health" && h.status == 200 && !head_req {
                    assert_eq!(body, b"ok\n");
                }
            }
            Some(_) => assert!(h.status == 400 || h.status == 431, "bad head got {}", h.status),
            None => assert_eq!(h.status, 431, "answer without a complete head"),
        }
        if !h.keep_alive {
            assert_eq!(end, out.len(), "bytes after a closing response");
        }
        at = end;
        i += 1;
    }
});
