//! `http::head::parse_request`, directly and behind `http::conn::Conn::read_head` (the server's
//! path). Byte 0 sizes the connection buffer, byte 1 the reads (0: a plain Cursor), the rest is
//! what the client sends.
//!
//! Asserts:
//! * `parse_request` never panics; on success `method`, `path` and a non-empty `query` are
//!   slices of the input, `path` has no `?`, `query` is non-empty only if the target had a `?`,
//!   a `Connection: close` token means no keep-alive, the scrape budget made of its
//!   scrape timeout is within the maximum and its deadline computes;
//! * `read_head` returns the length of the input up to and including its first blank line
//!   (CRLFCRLF, or bare LF ends: `\n\n`, `\n\r\n`), which
//!   fits the buffer, and leaves the bytes after it buffered or unread; `TooLarge` only when the
//!   buffer is full without a blank line, `Closed` only on empty input, `Truncated` only when the
//!   input ends without a blank line.
#![no_main]

use futures_lite::future::block_on;
use libfuzzer_sys::fuzz_target;
use pbs_exporter::budget::{self, scrape_budget};
use pbs_exporter::http::conn::{Conn, HeadError};
use pbs_exporter::http::head::{RequestHead, parse_request};
use pbs_exporter_fuzz::stream::source;
use pbs_exporter_fuzz::{contains_ignore_case, is_subslice};
use std::time::{Duration, Instant};

/// The end of the first blank line, CRLF or bare LF (`\n\n`, `\n\r\n`), written differently.
fn find_blank_line(b: &[u8]) -> Option<usize> {
    let lflf = b.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let lfcrlf = b.windows(3).position(|w| w == b"\n\r\n").map(|i| i + 3);
    match (lflf, lfcrlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn check_request(input: &[u8], r: &RequestHead<'_>) {
    assert!(is_subslice(input, r.method.as_bytes()), "method not from input");
    assert!(is_subslice(input, r.path.as_bytes()), "path not from input");
    assert!(!r.path.contains('?'), "path has '?': {:?}", r.path);
    if !r.query.is_empty() {
        assert!(is_subslice(input, r.query.as_bytes()), "query not from input");
        // The query follows the path's '?' directly.
        let p = r.path.as_ptr() as usize + r.path.len();
        assert_eq!(p + 1, r.query.as_ptr() as usize, "query does not follow path?");
        assert_eq!(input[p - input.as_ptr() as usize], b'?');
    }
    if !r.keep_alive && !contains_ignore_case(input, b"close") {
        // Without a `close` token anywhere, only HTTP/1.0 turns keep-alive off.
        assert!(contains_ignore_case(input, b"HTTP/1.0"), "keep-alive off without reason");
    }
    // What the server does with the scrape timeout: a budget within the maximum, a deadline.
    let max = Duration::from_secs(60);
    let b = scrape_budget(r.scrape_timeout, Duration::from_secs(30), max);
    assert!(b <= max, "budget {b:?} over the maximum");
    let now = Instant::now();
    assert!(budget::deadline(now, b) >= now);
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cap = 1 + data[0] as usize * 16;
    let input = &data[2..];

    if let Ok(r) = parse_request(input) {
        check_request(input, &r);
    }

    let mut conn = Conn::growing(source(input, data[1]), cap);
    match block_on(conn.read_head()) {
        Ok(n) => {
            let want = find_blank_line(input).expect("head found without a blank line");
            assert_eq!(n, want, "head length");
            assert!(n <= cap);
            let buffered = conn.buffered();
            assert_eq!(&buffered[..n], &input[..n]);
            let mut rest = buffered[n..].to_vec();
            rest.extend_from_slice(conn.stream.unread());
            assert_eq!(rest, &input[n..], "bytes after the head lost");
            let head = conn.buffered()[..n].to_vec();
            if let Ok(r) = parse_request(&head) {
                check_request(&head, &r);
            }
        }
        Err(HeadError::TooLarge) => {
            assert!(input.len() >= cap, "TooLarge with {} < {cap} bytes", input.len());
            assert!(find_blank_line(&input[..cap]).is_none(), "TooLarge but head fits");
        }
        Err(HeadError::Closed) => assert!(input.is_empty(), "Closed on non-empty input"),
        Err(HeadError::Truncated) => {
            assert!(!input.is_empty() && input.len() < cap, "Truncated with {} bytes", input.len());
            assert!(find_blank_line(input).is_none(), "Truncated but a head is there");
        }
        Err(HeadError::Io(e)) => panic!("I/O error from an in-memory stream: {e}"),
    }
});
