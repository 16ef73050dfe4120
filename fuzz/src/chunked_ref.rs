//! A reference decoder for `Transfer-Encoding: chunked`, written straight from RFC 9112 §7.1
//! over the whole input at once, with the caps `pbs_exporter::http::chunked` documents:
//!
//! * a chunk size is 1 to 16 hex digits;
//! * after the digits, `;`, SP or HTAB start an extension that runs to CR; at most 1024 bytes
//!   of it after that first byte;
//! * the trailer section (after the last chunk's CRLF, up to and including the CR of the final
//!   empty line, LFs not counted) is at most 8192 bytes.

use pbs_exporter::http::chunked::ChunkError;

const MAX_DIGITS: usize = 16;
const MAX_EXTENSION: usize = 1024;
const MAX_TRAILER: usize = 8192;

/// How decoding the whole input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The body ends at this offset (exclusive): the final CRLF's LF is its last byte.
    Done(usize),
    /// The body is malformed.
    Error(ChunkError),
    /// The input ended before the body did.
    Incomplete,
}

/// Decodes `input`; returns the data bytes decoded before the outcome, and the outcome.
pub fn decode(input: &[u8]) -> (Vec<u8>, Outcome) {
    let mut data = Vec::new();
    let outcome = run(input, &mut data).unwrap_or_else(|o| o);
    (data, outcome)
}

fn run(input: &[u8], data: &mut Vec<u8>) -> Result<Outcome, Outcome> {
    let mut i = 0;
    let get = |i: usize| input.get(i).copied().ok_or(Outcome::Incomplete);
    let fail = |e| Outcome::Error(e);
    loop {
        // chunk-size = 1*HEXDIG
        let mut size: u64 = 0;
        let mut digits = 0;
        let mut b;
        loop {
            b = get(i)?;
            i += 1;
            match (b as char).to_digit(16) {
                Some(v) => {
                    digits += 1;
                    if digits > MAX_DIGITS {
                        return Err(fail(ChunkError::BadSize));
                    }
                    size = size * 16 + v as u64;
                }
                None => break,
            }
        }
        if digits == 0 {
            return Err(fail(ChunkError::BadSize));
        }
        // [ chunk-ext ] CRLF
        match b {
            b'\r' => {}
            b';' | b' ' | b'\t' => {
                let mut ext = 0;
                loop {
                    b = get(i)?;
                    i += 1;
                    if b == b'\r' {
                        break;
                    }
                    ext += 1;
                    if ext > MAX_EXTENSION {
                        return Err(fail(ChunkError::ExtensionTooLong));
                    }
                }
            }
            _ => return Err(fail(ChunkError::BadSize)),
        }
        if get(i)? != b'\n' {
            return Err(fail(ChunkError::BadSize));
        }
        i += 1;
        if size == 0 {
            break;
        }
        // chunk-data CRLF
        let avail = (input.len() - i) as u64;
        if avail < size {
            data.extend_from_slice(&input[i..]);
            return Err(Outcome::Incomplete);
        }
        let end = i + size as usize;
        data.extend_from_slice(&input[i..end]);
        i = end;
        if get(i)? != b'\r' {
            return Err(fail(ChunkError::MissingCrlf));
        }
        if get(i + 1)? != b'\n' {
            return Err(fail(ChunkError::MissingCrlf));
        }
        i += 2;
    }
    // trailer-section CRLF
    let mut counted = 0;
    loop {
        let mut empty = true;
        loop {
            let b = get(i)?;
            i += 1;
            counted += 1;
            if counted > MAX_TRAILER {
                return Err(fail(ChunkError::TrailerTooLong));
            }
            if b == b'\r' {
                break;
            }
            empty = false;
        }
        if get(i)? != b'\n' {
            return Err(fail(ChunkError::MissingCrlf));
        }
        i += 1;
        if empty {
            return Ok(Outcome::Done(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_decodes_the_textbook_example() {
        let body =
            b"4;name=v\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (data, out) = decode(body);
        assert_eq!(data, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(out, Outcome::Done(body.len() - 4));
        assert_eq!(decode(b"2\r\nab").1, Outcome::Incomplete);
        assert_eq!(decode(b"2\r\nabX").1, Outcome::Error(ChunkError::MissingCrlf));
        assert_eq!(decode(b"\r\n").1, Outcome::Error(ChunkError::BadSize));
    }
}
