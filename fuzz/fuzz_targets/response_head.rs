//! `http::head::parse_response` (the PBS client's path). Byte 0 bit 0: the request was `HEAD`;
//! the rest is the response head.
//!
//! Asserts (no panic, and on success):
//! * `Framing::Length(n)` is 0 for HEAD requests and 1xx/204/304, and otherwise matches a
//!   `Content-Length` header of the input whose value is `OWS 1*DIGIT OWS` and equals `n`;
//! * `Framing::Chunked` only if the input contains "chunked" (case-insensitive), never for a
//!   HEAD request, and never together with a `Content-Length` header;
//! * `Framing::UntilClose` only without any `Content-Length` header, and never keeps alive;
//! * the status is at most three digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::http::head::{Framing, parse_response};
use pbs_exporter_fuzz::contains_ignore_case;

/// Values of the `Content-Length` header lines (up to the blank line ending the head).
fn content_lengths(mut head: &[u8]) -> Vec<&[u8]> {
    // httparse skips empty lines before the status line.
    loop {
        if let Some(rest) = head.strip_prefix(b"\r\n") {
            head = rest;
        } else if let Some(rest) = head.strip_prefix(b"\n") {
            head = rest;
        } else {
            break;
        }
    }
    let mut out = Vec::new();
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            if line[..colon].eq_ignore_ascii_case(b"content-length") {
                out.push(&line[colon + 1..]);
            }
        }
    }
    out
}

/// `OWS 1*DIGIT OWS` as a number.
fn strict_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii_start();
    let v = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(&v[..0], |e| &v[..=e]);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, head)) = data.split_first() else {
        return;
    };
    let head_request = flags & 1 == 1;
    let Ok(r) = parse_response(head, head_request) else {
        return;
    };
    // httparse takes any three digits ("010" is 10).
    assert!(r.status <= 999, "status {}", r.status);
    let bodiless =
        head_request || r.status == 204 || r.status == 304 || (100..200).contains(&r.status);
    let lengths = content_lengths(head);
    match r.framing {
        Framing::Length(n) if bodiless => assert_eq!(n, 0, "bodiless response with length"),
        Framing::Length(n) => {
            assert!(
                lengths.iter().any(|v| strict_length(v) == Some(n)),
                "Length({n}) without a matching Content-Length: {:?}",
                lengths
                    .iter()
                    .map(|v| String::from_utf8_lossy(v))
                    .collect::<Vec<_>>()
            );
        }
        Framing::Chunked => {
            assert!(contains_ignore_case(head, b"chunked"), "Chunked without 'chunked'");
            assert!(!bodiless, "Chunked for a bodiless response");
            assert!(lengths.is_empty(), "Chunked with a Content-Length");
        }
        Framing::UntilClose => {
            assert!(!bodiless);
            assert!(lengths.is_empty(), "UntilClose with a Content-Length");
            assert!(!r.keep_alive, "UntilClose but keep-alive");
        }
    }
});
