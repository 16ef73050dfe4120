//! The request headers the server acts on besides the head itself: `Accept-Encoding`
//! (`http::accept_encoding`) and `Authorization: Basic` (`basic_auth::parse_basic`). Byte 0
//! says where the input splits into header lines (at most 4), the rest is header values.
//!
//! Asserts:
//! * neither parser panics;
//! * gzip is chosen only when some line names `gzip` or `*`, and never when the input has no
//!   `g`/`*` at all; folding the lines in any order gives the same answer; appending a line
//!   `identity` or `br;q=0.5` changes nothing; appending `gzip;q=0` makes the answer no unless
//!   an explicit gzip entry with q > 0 was already there;
//! * a parsed `Basic` credential is exactly the base64 payload decoded and split at its first
//!   `:`, and re-encoding `user:password` parses back to the same pair.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::basic_auth::parse_basic;
use pbs_exporter::http::accept_encoding::AcceptEncoding;
use pbs_exporter_fuzz::contains_ignore_case;

fn fold<'a>(lines: impl Iterator<Item = &'a [u8]>) -> AcceptEncoding {
    let mut a = AcceptEncoding::default();
    for l in lines {
        a.add(l);
    }
    a
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let lines: Vec<&[u8]> = input.splitn(1 + (split as usize % 4), |&b| b == b'\n').collect();

    let a = fold(lines.iter().copied());
    if a.gzip() {
        assert!(
            contains_ignore_case(input, b"gzip") || input.contains(&b'*'),
            "gzip chosen without gzip or * in {input:?}"
        );
    }
    assert_eq!(fold(lines.iter().rev().copied()).gzip(), a.gzip(), "order matters");
    for extra in [&b"identity"[..], b"br;q=0.5"] {
        let mut b = a;
        b.add(extra);
        assert_eq!(b.gzip(), a.gzip(), "adding {extra:?} changed the answer");
    }
    let mut refused = a;
    refused.add(b"gzip;q=0");
    if refused.gzip() {
        assert!(contains_ignore_case(input, b"gzip"), "gzip;q=0 ignored");
    }

    for line in &lines {
        if let Some(c) = parse_basic(line) {
            let user = c.user().to_vec();
            let password = c.password().to_vec();
            assert!(!user.contains(&b':'), "user holds a ':'");
            let mut raw = user.clone();
            raw.push(b':');
            raw.extend_from_slice(&password);
            let header = format!("Basic {}", base64_encode(&raw));
            let again = parse_basic(header.as_bytes()).expect("re-encoded credential parses");
            assert_eq!((again.user(), again.password()), (&user[..], &password[..]));
        }
    }
});

/// Standard base64 with padding (kept here so the check does not reuse the parser's engine).
fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
