//! An in-memory async byte stream for `Conn`: either a plain `futures_lite::io::Cursor` (every
//! read returns as much as fits) or a `Trickle` that hands out its bytes in reads of random size,
//! the way a socket does. Writes are discarded.

use crate::Rng;
use futures_lite::io::{AsyncRead, AsyncWrite, Cursor};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Bytes handed out in reads of random size.
pub struct Trickle {
    data: Vec<u8>,
    pos: usize,
    rng: Rng,
    /// Largest read.
    max: usize,
}

impl Trickle {
    /// A stream over `data`, with read sizes drawn from `rng` in `1..=max`.
    pub fn new(data: Vec<u8>, rng: Rng, max: usize) -> Self {
        Trickle {
            data,
            pos: 0,
            rng,
            max: max.max(1),
        }
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let left = this.data.len() - this.pos;
        let want = this.rng.piece(this.max);
        let n = want.min(left).min(buf.len());
        buf[..n].copy_from_slice(&this.data[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(n))
    }
}

/// Either stream kind.
pub enum Source {
    Cursor(Cursor<Vec<u8>>),
    Trickle(Trickle),
}

impl Source {
    /// Bytes of the stream not read yet.
    pub fn unread(&self) -> &[u8] {
        match self {
            Source::Cursor(c) => &c.get_ref()[c.position() as usize..],
            Source::Trickle(t) => &t.data[t.pos..],
        }
    }
}

impl AsyncRead for Source {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Source::Cursor(c) => Pin::new(c).poll_read(cx, buf),
            Source::Trickle(t) => Pin::new(t).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Source {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A stream over `data`: a plain Cursor when `seed` is 0, else a Trickle with reads of at most
/// `seed` bytes.
pub fn source(data: &[u8], seed: u8) -> Source {
    if seed == 0 {
        Source::Cursor(Cursor::new(data.to_vec()))
    } else {
        Source::Trickle(Trickle::new(data.to_vec(), Rng::new(&[seed]), seed as usize))
    }
}

/// A stream that reads from a [`Source`] and keeps everything written to it.
pub struct Recorder {
    /// Where reads come from.
    pub source: Source,
    /// Every byte written, in order.
    pub written: Vec<u8>,
}

impl AsyncRead for Recorder {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().source).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
