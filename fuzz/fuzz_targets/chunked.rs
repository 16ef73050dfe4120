//! `http::chunked::ChunkedDecoder`: bytes 0-1 seed the piece sizes, the rest is the stream.
//!
//! The stream arrives in random-size pieces into a window, the way `Conn`'s buffer fills; the
//! decoder is called on the unused part of the window and unused bytes are offered again.
//!
//! Asserts:
//! * `used` never exceeds the bytes offered, data ranges lie inside the used bytes and are
//!   non-empty, and a call on a non-empty window either makes progress or finishes the body;
//! * the decoded data and the outcome (done / error kind / incomplete) equal the reference
//!   decoder's (`pbs_exporter_fuzz::chunked_ref`) over the whole input;
//! * when done, the decoder has used exactly the body's bytes, never a byte past its end, and a
//!   finished decoder uses nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::http::chunked::ChunkedDecoder;
use pbs_exporter_fuzz::Rng;
use pbs_exporter_fuzz::chunked_ref::{self, Outcome};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let mut rng = Rng::new(&data[..2]);
    let max_piece = 1 + data[1] as usize * 4;
    let input = &data[2..];

    let mut d = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut pos = 0; // first unused byte
    let mut end = 0; // bytes arrived so far
    let outcome = loop {
        if pos == end || rng.next_u64() % 4 == 0 {
            if end == input.len() {
                if pos == end {
                    break Outcome::Incomplete;
                }
            } else {
                end = (end + rng.piece(max_piece)).min(input.len());
            }
        }
        let window = &input[pos..end];
        match d.decode(window) {
            Err(e) => break Outcome::Error(e),
            Ok((used, found)) => {
                assert!(used <= window.len(), "used {used} of {}", window.len());
                if let Some((off, len)) = found {
                    assert!(len > 0, "empty data range");
                    assert!(off + len <= used, "data ({off}, {len}) past used {used}");
                    out.extend_from_slice(&window[off..off + len]);
                }
                pos += used;
                if d.is_done() {
                    break Outcome::Done(pos);
                }
                assert!(
                    used > 0 || window.is_empty(),
                    "no progress on {} bytes",
                    window.len()
                );
            }
        }
    };

    let (want_data, want) = chunked_ref::decode(input);
    assert_eq!(outcome, want, "outcome differs from the reference");
    assert_eq!(out, want_data, "decoded data differs from the reference");
    if let Outcome::Done(body_end) = outcome {
        assert_eq!(d.decode(&input[body_end..]), Ok((0, None)), "done decoder used more");
        assert!(d.is_done());
    }
});
