//! A buffered connection: one read buffer of bounded size shared by message heads and bodies.
//! A client connection (to PBS) allocates its whole buffer once, when it is made, so a
//! kept-alive connection's scrapes allocate nothing for reading. A server connection's buffer
//! ([`Conn::growing`]) is allocated when the first bytes arrive and grows (doubling) only as far
//! as what is buffered needs, up to its cap, so a connection that sends nothing costs no buffer
//! and a short request head a small one.

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::future::Future;
use std::io;

/// A byte stream a [`Conn`] reads and writes: a socket, the exporter's TLS stream, or a test
/// cursor. Async methods rather than poll functions, so a stream can be written as plain
/// async code.
pub trait Transport {
    /// Reads some bytes into `buf`; 0 at end of stream.
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>>;
    /// Writes all of `buf` and flushes.
    fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>>;
}

impl<T: AsyncRead + AsyncWrite + Unpin> Transport for T {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        AsyncReadExt::read(self, buf).await
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        AsyncWriteExt::write_all(self, buf).await?;
        self.flush().await
    }
}

/// Why a message head could not be read.
#[derive(Debug)]
pub enum HeadError {
    /// The peer closed the connection before sending any byte of a new message.
    Closed,
    /// The peer closed the connection in the middle of a head.
    Truncated,
    /// The head did not fit in the read buffer.
    TooLarge,
    /// The socket or TLS layer failed.
    Io(io::Error),
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::Closed => f.write_str("connection closed"),
            HeadError::Truncated => f.write_str("connection closed in the middle of an HTTP head"),
            HeadError::TooLarge => f.write_str("HTTP head too large"),
            HeadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The first allocation of a read buffer: a typical request head fits.
const FIRST_READ: usize = 512;

/// A stream with a bounded read buffer. Bytes past the current message stay buffered for the
/// next.
pub struct Conn<S> {
    /// The socket, plain or TLS.
    pub stream: S,
    /// Read buffer: `cap` bytes from the start, or (growing) empty until the first read and
    /// grown up to `cap`.
    buf: Vec<u8>,
    /// Largest size of `buf`; caps a message head.
    cap: usize,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// One past the last filled byte in `buf`.
    end: usize,
}

impl<S: Transport> Conn<S> {
    /// Wraps `stream` with a read buffer of `capacity` bytes, allocated now and never again.
    pub fn new(stream: S, capacity: usize) -> Self {
        Conn {
            buf: vec![0; capacity],
            ..Self::growing(stream, capacity)
        }
    }

    /// Wraps `stream` with a read buffer of at most `capacity` bytes, allocated on the first
    /// read (512 bytes) and doubled whenever a message needs more.
    pub fn growing(stream: S, capacity: usize) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            cap: capacity,
            start: 0,
            end: 0,
        }
    }

    /// The bytes read but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Marks `used` buffered bytes as used and returns the `(offset, len)` range of them (relative
    /// to the unconsumed start) that the caller decoded as data.
    pub fn take(&mut self, used: usize, data: (usize, usize)) -> &[u8] {
        let from = self.start + data.0;
        self.consume(used);
        &self.buf[from..from + data.1]
    }

    /// Reads more bytes from the stream; returns how many (0 at end of stream).
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < self.cap {
                let grown = (self.buf.len() * 2).max(FIRST_READ).min(self.cap);
                self.buf.resize(grown, 0);
            } else {
                return Err(io::Error::other("read buffer full"));
            }
        }
        let n = Transport::read(&mut self.stream, &mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Reads until the buffered bytes hold a whole message head; returns its length, including
    /// the blank line that ends it.
    pub async fn read_head(&mut self) -> Result<usize, HeadError> {
        let mut searched = 0;
        loop {
            let data = self.buffered();
            if let Some(i) = find_head_end(&data[searched..]) {
                return Ok(searched + i);
            }
            searched = data.len().saturating_sub(3);
            if self.start == 0 && self.end >= self.cap {
                return Err(HeadError::TooLarge);
            }
            let had = data.len();
            match self.fill().await {
                Ok(0) if had == 0 => return Err(HeadError::Closed),
                Ok(0) => return Err(HeadError::Truncated),
                Ok(_) => {}
                Err(e) => return Err(HeadError::Io(e)),
            }
        }
    }

    /// Writes all of `bytes` and flushes.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        Transport::write_all(&mut self.stream, bytes).await
    }
}

/// Position just past the first blank line in `data`: `\r\n\r\n`, or with bare LF line ends
/// (`\n\n`, `\n\r\n`), which RFC 9112 §2.2 lets a recipient accept.
pub fn find_head_end(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = data.get(from..)?.iter().position(|&b| b == b'\n') {
        let lf = from + i;
        match data.get(lf + 1..) {
            Some([b'\n', ..]) => return Some(lf + 2),
            Some([b'\r', b'\n', ..]) => return Some(lf + 3),
            _ => from = lf + 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use futures_lite::io::Cursor;

    fn conn(bytes: &[u8], cap: usize) -> Conn<Cursor<Vec<u8>>> {
        Conn::growing(Cursor::new(bytes.to_vec()), cap)
    }

    #[test]
    fn head_spans_reads_and_leaves_the_body_buffered() {
        let mut c = conn(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", 64);
        let n = block_on(c.read_head()).unwrap();
        assert_eq!(&c.buffered()[..n], b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n");
        c.consume(n);
        assert_eq!(c.buffered(), b"body");
    }

    #[test]
    fn bare_lf_ends_a_head_too() {
        for (input, head) in [
            (&b"GET / HTTP/1.1\nHost: x\n\nGET"[..], 24),
            (b"GET / HTTP/1.1\nHost: x\n\r\nGET", 25),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET", 27),
            (b"\n\n", 2),
        ] {
            let mut c = conn(input, 64);
            assert_eq!(block_on(c.read_head()).unwrap(), head, "{input:?}");
        }
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: \r\r\n"), None);
        assert_eq!(find_head_end(b"\n"), None);
        assert_eq!(find_head_end(b"\n\r"), None);
    }

    #[test]
    fn the_buffer_is_allocated_on_the_first_read_and_grows_to_its_cap() {
        let c = conn(b"", 8192);
        assert_eq!(c.buf.capacity(), 0, "nothing read, nothing allocated");
        let mut c = conn(b"GET / HTTP/1.1\r\n\r\n", 8192);
        block_on(c.read_head()).unwrap();
        assert_eq!(c.buf.len(), FIRST_READ);
        let mut head = b"GET / HTTP/1.1\r\nA: ".to_vec();
        head.resize(8192 - 4, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        let mut c = conn(&head, 8192);
        assert_eq!(block_on(c.read_head()).unwrap(), 8192);
        assert_eq!(c.buf.len(), 8192);
        head.insert(0, b'x');
        let mut c = conn(&head, 8192);
        assert!(matches!(block_on(c.read_head()), Err(HeadError::TooLarge)));
        assert_eq!(c.buf.len(), 8192, "never past the cap");
    }

    #[test]
    fn a_fixed_buffer_is_allocated_once_and_never_grows() {
        let mut c = Conn::new(Cursor::new(b"HTTP/1.1 200 OK\r\n\r\nbody".to_vec()), 4096);
        assert_eq!(c.buf.len(), 4096, "allocated when made");
        let before = c.buf.as_ptr();
        let n = block_on(c.read_head()).unwrap();
        c.consume(n);
        assert_eq!(c.buffered(), b"body");
        assert_eq!((c.buf.as_ptr(), c.buf.len()), (before, 4096), "same buffer");
        let mut c = Conn::new(Cursor::new(vec![b'a'; 100]), 32);
        assert!(matches!(block_on(c.read_head()), Err(HeadError::TooLarge)));
        assert_eq!(c.buf.len(), 32);
    }

    #[test]
    fn head_larger_than_the_buffer_is_refused() {
        let mut c = conn(&[b'a'; 100], 32);
        assert!(matches!(block_on(c.read_head()), Err(HeadError::TooLarge)));
    }

    #[test]
    fn eof_before_and_inside_a_head_are_told_apart() {
        assert!(matches!(
            block_on(conn(b"", 32).read_head()),
            Err(HeadError::Closed)
        ));
        assert!(matches!(
            block_on(conn(b"GET / HT", 32).read_head()),
            Err(HeadError::Truncated)
        ));
    }
}
