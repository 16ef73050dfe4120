//! Reading a response body as it arrives, whatever its framing, with a cap on its total size.
//! Each call hands out the next decoded piece straight from the connection's read buffer.

use super::chunked::{ChunkError, ChunkedDecoder};
use super::conn::{Conn, Transport};
use super::head::Framing;
use std::io;

/// Why a body could not be read to its end.
#[derive(Debug)]
pub enum BodyError {
    /// The socket or TLS layer failed.
    Io(io::Error),
    /// The connection closed before the framing said the body ends.
    Truncated,
    /// The chunked framing is malformed.
    Chunk(ChunkError),
    /// The body is larger than the configured cap (in bytes).
    TooLarge(u64),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Io(e) => write!(f, "{e}"),
            BodyError::Truncated => f.write_str("connection closed before the body ended"),
            BodyError::Chunk(e) => write!(f, "{e}"),
            BodyError::TooLarge(n) => write!(f, "body larger than {n} bytes"),
        }
    }
}

#[derive(Debug)]
enum Kind {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

/// The reading state of one response body.
#[derive(Debug)]
pub struct BodyReader {
    kind: Kind,
    /// Most decoded bytes accepted.
    limit: u64,
    /// Decoded bytes handed out so far.
    read: u64,
}

impl BodyReader {
    /// A reader for a body with this framing, refusing more than `limit` decoded bytes.
    pub fn new(framing: Framing, limit: u64) -> Self {
        let kind = match framing {
            Framing::Length(0) => Kind::Done,
            Framing::Length(n) => Kind::Length(n),
            Framing::Chunked => Kind::Chunked(ChunkedDecoder::new()),
            Framing::UntilClose => Kind::UntilClose,
        };
        BodyReader {
            kind,
            limit,
            read: 0,
        }
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.kind, Kind::Done)
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn next<'c, S: Transport>(
        &mut self,
        conn: &'c mut Conn<S>,
    ) -> Result<Option<&'c [u8]>, BodyError> {
        loop {
            if let Kind::Done = self.kind {
                return Ok(None);
            }
            if conn.buffered().is_empty() {
                let n = conn.fill().await.map_err(|e| match e.kind() {
                    // A TLS stream closed without close_notify: the body was cut off.
                    std::io::ErrorKind::UnexpectedEof => BodyError::Truncated,
                    _ => BodyError::Io(e),
                })?;
                if n == 0 {
                    if let Kind::UntilClose = self.kind {
                        self.kind = Kind::Done;
                        return Ok(None);
                    }
                    return Err(BodyError::Truncated);
                }
            }
            let avail = conn.buffered().len();
            let (used, data) = match &mut self.kind {
                Kind::Length(rem) => {
                    let n = (*rem).min(avail as u64) as usize;
                    *rem -= n as u64;
                    if *rem == 0 {
                        self.kind = Kind::Done;
                    }
                    (n, (0, n))
                }
                Kind::UntilClose => (avail, (0, avail)),
                Kind::Chunked(d) => {
                    let (used, data) = d.decode(conn.buffered()).map_err(BodyError::Chunk)?;
                    if d.is_done() {
                        self.kind = Kind::Done;
                    }
                    (used, data.unwrap_or((0, 0)))
                }
                Kind::Done => (0, (0, 0)),
            };
            self.read += data.1 as u64;
            if self.read > self.limit {
                return Err(BodyError::TooLarge(self.limit));
            }
            if data.1 == 0 {
                conn.consume(used);
                continue;
            }
            return Ok(Some(conn.take(used, data)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use futures_lite::io::Cursor;

    fn read_all(
        bytes: &[u8],
        framing: Framing,
        limit: u64,
    ) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
        let mut conn = Conn::new(Cursor::new(bytes.to_vec()), 8);
        let mut body = BodyReader::new(framing, limit);
        let mut out = Vec::new();
        block_on(async {
            while let Some(piece) = body.next(&mut conn).await? {
                out.extend_from_slice(piece);
            }
            Ok::<_, BodyError>(())
        })?;
        Ok((out, conn.buffered().to_vec()))
    }

    #[test]
    fn content_length_body_stops_at_its_length() {
        let (body, rest) = read_all(b"hello world!NEXT", Framing::Length(12), 100).unwrap();
        assert_eq!(body, b"hello world!");
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn chunked_body_through_a_small_buffer() {
        let (body, _) = read_all(b"3\r\nabc\r\n0\r\n\r\n", Framing::Chunked, 100).unwrap();
        assert_eq!(body, b"abc");
    }

    #[test]
    fn truncated_bodies_are_errors_but_until_close_is_not() {
        assert!(matches!(
            read_all(b"abc", Framing::Length(5), 100),
            Err(BodyError::Truncated)
        ));
        assert!(matches!(
            read_all(b"3\r\nabc", Framing::Chunked, 100),
            Err(BodyError::Truncated)
        ));
        assert_eq!(
            read_all(b"abc", Framing::UntilClose, 100).unwrap().0,
            b"abc"
        );
    }

    #[test]
    fn bodies_over_the_limit_are_refused() {
        assert!(matches!(
            read_all(&[b'x'; 64], Framing::UntilClose, 10),
            Err(BodyError::TooLarge(10))
        ));
    }
}
