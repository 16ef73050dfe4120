//! `http::body::BodyReader::next` over `http::conn::Conn`, through `futures_lite::future::block_on`
//! (the PBS client's path).
//!
//! Input: `[mode, limit, capacity, reads, len_lo, len_hi, stream...]`. `mode % 4` picks the
//! framing: Content-Length (`len`), chunked, until-close, or read from a response head at the
//! start of the stream (`Conn::read_head` + `parse_response`, bit 2 = HEAD request). `reads` 0
//! reads through a plain `Cursor`, otherwise in random reads of at most that many bytes.
//!
//! Asserts:
//! * every piece handed out is non-empty, the total never exceeds the limit given to
//!   `BodyReader::new`, and the loop ends within (stream length + 2) calls;
//! * the outcome is the expected one: the body (first `len` bytes / the reference chunked
//!   decoding / everything) or `TooLarge` when it is over the limit, `Truncated` when the
//!   stream ends early, the reference decoder's error for bad chunking;
//! * on success nothing past the body's end was consumed: the buffered plus unread bytes are
//!   exactly the stream after the body.
#![no_main]

use futures_lite::future::block_on;
use libfuzzer_sys::fuzz_target;
use pbs_exporter::http::body::{BodyError, BodyReader};
use pbs_exporter::http::conn::Conn;
use pbs_exporter::http::head::{Framing, parse_response};
use pbs_exporter_fuzz::chunked_ref::{self, Outcome};
use pbs_exporter_fuzz::stream::source;

/// What reading the body should give.
#[derive(Debug, PartialEq)]
enum Want {
    /// The body, then the stream goes on at this offset.
    Body(usize),
    TooLarge,
    Truncated,
    Chunk(pbs_exporter::http::chunked::ChunkError),
}

fn limit_of(b: u8) -> u64 {
    match b {
        0..=127 => b as u64,
        128..=254 => (b as u64 - 127) * 512,
        255 => u64::MAX,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let mode = data[0];
    let limit = limit_of(data[1]);
    let cap = 1 + data[2] as usize * 8;
    let len = u16::from_le_bytes([data[4], data[5]]) as u64;
    let stream = &data[6..];

    let mut conn = Conn::new(source(stream, data[3]), cap);
    let (framing, body_start) = match mode % 4 {
        0 => (Framing::Length(len), 0),
        1 => (Framing::Chunked, 0),
        2 => (Framing::UntilClose, 0),
        _ => {
            let Ok(n) = block_on(conn.read_head()) else {
                return;
            };
            let head = conn.buffered()[..n].to_vec();
            assert_eq!(head, &stream[..n]);
            let Ok(resp) = parse_response(&head, mode & 4 != 0) else {
                return;
            };
            conn.consume(n);
            (resp.framing, n)
        }
    };
    let body = &stream[body_start..];

    // The expected decoded bytes, and how reading ends if the limit is not hit.
    let (expected, end): (Vec<u8>, Want) = match framing {
        Framing::Length(n) => {
            let n = n.min(usize::MAX as u64) as usize;
            if body.len() >= n {
                (body[..n].to_vec(), Want::Body(n))
            } else {
                (body.to_vec(), Want::Truncated)
            }
        }
        Framing::UntilClose => (body.to_vec(), Want::Body(body.len())),
        Framing::Chunked => match chunked_ref::decode(body) {
            (d, Outcome::Done(e)) => (d, Want::Body(e)),
            (d, Outcome::Incomplete) => (d, Want::Truncated),
            (d, Outcome::Error(e)) => (d, Want::Chunk(e)),
        },
    };
    let want = if expected.len() as u64 > limit {
        Want::TooLarge
    } else {
        end
    };

    let mut reader = BodyReader::new(framing, limit);
    let mut got = Vec::new();
    let mut calls = 0usize;
    let result = block_on(async {
        loop {
            calls += 1;
            assert!(calls <= body.len() + 2, "BodyReader::next called {calls} times");
            match reader.next(&mut conn).await {
                Ok(Some(piece)) => {
                    assert!(!piece.is_empty(), "empty piece");
                    got.extend_from_slice(piece);
                    assert!(got.len() as u64 <= limit, "{} bytes over limit {limit}", got.len());
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });
    assert!(
        expected.starts_with(&got),
        "handed out bytes that are not the body's"
    );
    match (&result, &want) {
        (Ok(()), Want::Body(e)) => {
            assert_eq!(got, expected, "body differs");
            assert!(reader.is_done());
            let mut rest = conn.buffered().to_vec();
            rest.extend_from_slice(conn.stream.unread());
            assert_eq!(rest, &body[*e..], "bytes past the body were consumed");
        }
        (Err(BodyError::TooLarge(l)), Want::TooLarge) => assert_eq!(*l, limit),
        (Err(BodyError::Truncated), Want::Truncated) => {}
        (Err(BodyError::Chunk(a)), Want::Chunk(b)) => assert_eq!(a, b),
        (r, w) => panic!("got {r:?} ({} bytes), expected {w:?}", got.len()),
    }
});
