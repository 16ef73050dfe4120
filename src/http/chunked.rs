//! Decoding `Transfer-Encoding: chunked` in place: the decoder walks the connection's buffer and
//! points at the data bytes inside it, so nothing is copied and memory does not depend on the
//! body's size. Chunk extensions and trailers are skipped, within caps.

/// Longest chunk-size line extension (`;name=value`) accepted, in bytes.
const MAX_EXTENSION: usize = 1024;
/// Longest trailer section accepted, in bytes.
const MAX_TRAILER: usize = 8192;

/// What is wrong with a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// A chunk size line is not hex digits, or overflows.
    BadSize,
    /// A chunk extension is longer than allowed.
    ExtensionTooLong,
    /// A chunk's data is not followed by CRLF.
    MissingCrlf,
    /// The trailer section is longer than allowed.
    TrailerTooLong,
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChunkError::BadSize => "invalid chunk size",
            ChunkError::ExtensionTooLong => "chunk extension too long",
            ChunkError::MissingCrlf => "chunk data not followed by CRLF",
            ChunkError::TrailerTooLong => "chunked trailer too long",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size { digits: u8 },
    /// Skipping `;extension` up to CR.
    Extension,
    /// Expecting LF after the size line's CR.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// Expecting LF after a trailer line's CR; `last` when the line was empty.
    TrailerLf { last: bool },
    /// The body is complete.
    Done,
}

/// Incremental chunked-body decoder.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Size of the current chunk, or bytes of it still to come while in `Data`.
    remaining: u64,
    /// Bytes of extension or trailer seen, for the caps.
    skipped: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            remaining: 0,
            skipped: 0,
        }
    }

    /// True once the terminating chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Walks `input` until it finds data bytes or runs out. Returns how many bytes of `input` were
    /// used and, if data was found, its `(offset, len)` inside `input` (those bytes are counted in
    /// the used bytes). Stops right after the body ends, leaving any later bytes unused.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<(usize, usize)>), ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Size { digits } => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= 16 {
                            return Err(ChunkError::BadSize);
                        }
                        let v = (b as char).to_digit(16).unwrap_or(0) as u64;
                        self.remaining = (self.remaining << 4) | v;
                        self.state = State::Size { digits: digits + 1 };
                    }
                    b';' | b' ' | b'\t' if digits > 0 => {
                        self.skipped = 0;
                        self.state = State::Extension;
                    }
                    b'\r' if digits > 0 => self.state = State::SizeLf,
                    _ => return Err(ChunkError::BadSize),
                },
                State::Extension => {
                    if b == b'\r' {
                        self.state = State::SizeLf;
                    } else {
                        self.skipped += 1;
                        if self.skipped > MAX_EXTENSION {
                            return Err(ChunkError::ExtensionTooLong);
                        }
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError::BadSize);
                    }
                    if self.remaining == 0 {
                        self.skipped = 0;
                        self.state = State::TrailerStart;
                    } else {
                        self.state = State::Data;
                    }
                }
                State::Data => {
                    let avail = (input.len() - i) as u64;
                    let n = avail.min(self.remaining) as usize;
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + n, Some((i, n))));
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkError::MissingCrlf);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkError::MissingCrlf);
                    }
                    self.state = State::Size { digits: 0 };
                }
                State::TrailerStart | State::TrailerLine => {
                    let start = self.state == State::TrailerStart;
                    if b == b'\r' {
                        self.state = State::TrailerLf { last: start };
                    } else {
                        self.state = State::TrailerLine;
                    }
                    self.skipped += 1;
                    if self.skipped > MAX_TRAILER {
                        return Err(ChunkError::TrailerTooLong);
                    }
                }
                State::TrailerLf { last } => {
                    if b != b'\n' {
                        return Err(ChunkError::MissingCrlf);
                    }
                    if last {
                        self.state = State::Done;
                        return Ok((i + 1, None));
                    }
                    self.state = State::TrailerStart;
                }
                State::Done => return Ok((i, None)),
            }
            i += 1;
        }
        Ok((i, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes; returns the body and unused bytes.
    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() && !d.is_done() {
            let end = (pos + step).min(input.len());
            let piece = &input[pos..end];
            let (used, data) = d.decode(piece)?;
            if let Some((off, len)) = data {
                out.extend_from_slice(&piece[off..off + len]);
            }
            pos += used;
            if used == 0 {
                break;
            }
        }
        assert!(d.is_done(), "body not complete");
        Ok((out, input.len() - pos))
    }

    #[test]
    fn decodes_chunks_with_extensions_and_trailers_in_any_split() {
        let body =
            b"4;name=v\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (out, left) = decode_all(body, step).unwrap();
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(left, 4, "step {step}");
        }
    }

    #[test]
    fn malformed_chunks_are_errors() {
        let cases: [(&[u8], ChunkError); 5] = [
            (b"x\r\n", ChunkError::BadSize),
            (b"\r\n", ChunkError::BadSize),
            (b"11111111111111111\r\n", ChunkError::BadSize),
            (b"2\r\nabX", ChunkError::MissingCrlf),
            (b"1\nA", ChunkError::BadSize),
        ];
        for (input, want) in cases {
            let mut d = ChunkedDecoder::new();
            let mut pos = 0;
            let err = loop {
                match d.decode(&input[pos..]) {
                    Ok((used, _)) => pos += used,
                    Err(e) => break e,
                }
                assert!(pos < input.len(), "no error for {input:?}");
            };
            assert_eq!(err, want);
        }
    }

    #[test]
    fn overlong_extensions_and_trailers_are_refused() {
        let mut ext = b"1;".to_vec();
        ext.extend(std::iter::repeat_n(b'a', MAX_EXTENSION + 1));
        assert_eq!(
            ChunkedDecoder::new().decode(&ext),
            Err(ChunkError::ExtensionTooLong)
        );
        let mut tr = b"0\r\n".to_vec();
        tr.extend(std::iter::repeat_n(b'a', MAX_TRAILER + 1));
        assert_eq!(
            ChunkedDecoder::new().decode(&tr),
            Err(ChunkError::TrailerTooLong)
        );
    }
}
