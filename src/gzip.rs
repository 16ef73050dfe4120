//! A streaming gzip encoder (RFC 1952) for metrics responses: `miniz_oxide`'s deflate, fed one
//! rendered chunk at a time, its output appended to the caller's buffer as it comes, so neither
//! the plain nor the compressed exposition ever exists whole.
//!
//! The deflate state is about 300 KiB (32 KiB window, its hash chains, the pending LZ codes and
//! output), allocated once per encoder and reused with [`GzipEncoder::reset`]. The server keeps
//! one, in a [`GzipSlot`]: a response that finds it in use is sent plain, so gzip never holds
//! more than one encoder's memory however many scrapes run at once.

use std::cell::{Cell, RefCell};

use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output,
};

/// Deflate level for metrics: miniz's fastest. The exposition is repetitive enough that it
/// still compresses about tenfold (see the README's gzip figures), for a fraction of the CPU of
/// the default level.
pub const LEVEL: u8 = 1;

/// The fixed gzip member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// One gzip member being written.
pub struct GzipEncoder {
    deflate: Box<CompressorOxide>,
    /// CRC-32 of the plain bytes so far.
    crc: crc32fast::Hasher,
    /// Plain bytes so far, modulo 2^32 (gzip's ISIZE).
    size: u32,
    /// The header has been written.
    started: bool,
}

impl std::fmt::Debug for GzipEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipEncoder")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Default for GzipEncoder {
    fn default() -> Self {
        GzipEncoder::new(LEVEL)
    }
}

impl GzipEncoder {
    /// An encoder at deflate `level` (0–10; 1 is fastest).
    pub fn new(level: u8) -> GzipEncoder {
        GzipEncoder {
            deflate: Box::new(CompressorOxide::with_params(
                DataFormat::Raw,
                level,
                CompressionStrategy::Default,
                15,
            )),
            crc: crc32fast::Hasher::new(),
            size: 0,
            started: false,
        }
    }

    /// Starts a new member, keeping the allocated state.
    pub fn reset(&mut self) {
        self.deflate.reset();
        self.crc = crc32fast::Hasher::new();
        self.size = 0;
        self.started = false;
    }

    /// Compresses `plain`, appending whatever output deflate produces now to `out` (often
    /// nothing: deflate emits a block at a time).
    pub fn write(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        self.start(out);
        self.crc.update(plain);
        self.size = self.size.wrapping_add(plain.len() as u32);
        self.deflate(plain, TDEFLFlush::None, out);
    }

    /// Ends the member: the rest of the deflate stream and the gzip trailer go to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.deflate(&[], TDEFLFlush::Finish, out);
        out.extend_from_slice(&self.crc.clone().finalize().to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            out.extend_from_slice(&HEADER);
            self.started = true;
        }
    }

    fn deflate(&mut self, mut plain: &[u8], flush: TDEFLFlush, out: &mut Vec<u8>) {
        loop {
            let (status, used) = compress_to_output(&mut self.deflate, plain, flush, |bytes| {
                out.extend_from_slice(bytes);
                true
            });
            plain = plain.get(used..).unwrap_or_default();
            // `Okay` with input left means deflate wants to be called again; `Done` ends a
            // finished stream; anything else cannot happen with a callback that never fails.
            if status != TDEFLStatus::Okay || plain.is_empty() || used == 0 {
                return;
            }
        }
    }
}

/// An encoder and the buffer a plain chunk is rendered into before it is compressed.
#[derive(Debug, Default)]
pub struct GzipBody {
    /// The encoder, reset for each response.
    pub encoder: GzipEncoder,
    /// Plain text of the current chunk.
    pub plain: Vec<u8>,
}

/// The server's one gzip encoder, lent to one response at a time.
#[derive(Debug, Default)]
pub struct GzipSlot {
    /// The encoder while no response has it (`None` before the first gzip response).
    kept: RefCell<Option<Box<GzipBody>>>,
    /// A response has it now.
    leased: Cell<bool>,
}

impl GzipSlot {
    /// The encoder, reset, unless another response has it. It comes back when the lease drops.
    pub fn lease(&self) -> Option<GzipLease<'_>> {
        if self.leased.replace(true) {
            return None;
        }
        let mut body = self.kept.borrow_mut().take().unwrap_or_default();
        body.encoder.reset();
        Some(GzipLease {
            slot: self,
            body: Some(body),
        })
    }
}

/// A response's use of the [`GzipSlot`]'s encoder.
#[derive(Debug)]
pub struct GzipLease<'a> {
    slot: &'a GzipSlot,
    body: Option<Box<GzipBody>>,
}

impl std::ops::Deref for GzipLease<'_> {
    type Target = GzipBody;
    fn deref(&self) -> &GzipBody {
        self.body
            .as_deref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl std::ops::DerefMut for GzipLease<'_> {
    fn deref_mut(&mut self) -> &mut GzipBody {
        self.body
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for GzipLease<'_> {
    fn drop(&mut self) {
        *self.slot.kept.borrow_mut() = self.body.take();
        self.slot.leased.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn exposition(lines: usize) -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..lines {
            text.extend_from_slice(
                format!("pbs_group_snapshots{{datastore=\"store{}\",backup_type=\"vm\",backup_id=\"{i}\"}} {}\n", i % 4, i * 7)
                    .as_bytes(),
            );
        }
        text
    }

    #[test]
    fn round_trips_in_pieces_of_any_size() {
        let text = exposition(20_000);
        for piece in [1, 7, 4096, 32 * 1024, text.len()] {
            let mut enc = GzipEncoder::default();
            let mut out = Vec::new();
            for chunk in text
                .chunks(piece.max(1))
                .take(if piece == 1 { 5000 } else { usize::MAX })
            {
                enc.write(chunk, &mut out);
            }
            enc.finish(&mut out);
            let expect = if piece == 1 { &text[..5000] } else { &text[..] };
            assert!(gunzip(&out) == expect, "piece size {piece}");
        }
    }

    #[test]
    fn compresses_exposition_several_fold_and_streams_output() {
        let text = exposition(20_000);
        let mut enc = GzipEncoder::default();
        let mut out = Vec::new();
        let mut emitted_before_finish = 0;
        for chunk in text.chunks(32 * 1024) {
            enc.write(chunk, &mut out);
            emitted_before_finish = out.len();
        }
        enc.finish(&mut out);
        assert!(
            out.len() * 5 < text.len(),
            "{} -> {}",
            text.len(),
            out.len()
        );
        assert!(
            emitted_before_finish > out.len() / 2,
            "output is produced as input arrives, not all at the end"
        );
    }

    #[test]
    fn one_lease_at_a_time_and_the_encoder_is_kept() {
        let slot = GzipSlot::default();
        let mut first = slot.lease().expect("free");
        assert!(slot.lease().is_none(), "in use");
        let mut out = Vec::new();
        first.encoder.write(b"half a response", &mut out);
        let kept = &*first as *const GzipBody;
        drop(first);
        let mut again = slot.lease().expect("given back");
        assert_eq!(&*again as *const GzipBody, kept, "the same allocation");
        let mut out = Vec::new();
        again.encoder.write(b"fresh", &mut out);
        again.encoder.finish(&mut out);
        assert_eq!(gunzip(&out), b"fresh", "reset after the abandoned response");
    }

    #[test]
    fn reset_starts_a_fresh_member_and_empty_input_is_valid_gzip() {
        let mut enc = GzipEncoder::default();
        let mut out = Vec::new();
        enc.write(b"first", &mut out);
        enc.finish(&mut out);
        enc.reset();
        let mut second = Vec::new();
        enc.finish(&mut second);
        assert_eq!(gunzip(&out), b"first");
        assert_eq!(gunzip(&second), b"");
        enc.reset();
        let mut third = Vec::new();
        enc.write(b"third", &mut third);
        enc.finish(&mut third);
        assert_eq!(gunzip(&third), b"third");
    }
}
