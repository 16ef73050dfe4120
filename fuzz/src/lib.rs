//! Helpers shared by the fuzz targets: input splitting, a strict Prometheus exposition parser,
//! a reference chunked decoder, a reference JSON event stream (serde_json), and a byte stream
//! that hands out its bytes in small reads.

pub mod chunked_ref;
pub mod expo;
pub mod json_ref;
pub mod stream;

/// A tiny deterministic PRNG (xorshift64*), seeded from fuzz input bytes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` (any bytes; an empty seed is fine).
    pub fn new(seed: &[u8]) -> Self {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        for &b in seed {
            s = (s ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
        Rng(s | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A piece size in `1..=max`, skewed toward small sizes (most boundary bugs sit there).
    pub fn piece(&mut self, max: usize) -> usize {
        let r = self.next_u64();
        let cap = match r & 3 {
            0 => 1,
            1 => 8,
            2 => 64,
            _ => max,
        };
        1 + ((r >> 8) as usize % cap.min(max).max(1))
    }
}

/// A split size from one byte: 1..=128 for bytes below 128, then multiples of 256 up to 32 KiB.
pub fn split_size(b: u8) -> usize {
    if b < 128 {
        b as usize + 1
    } else {
        (b as usize - 127) * 256
    }
}

/// Finds `needle` in `hay`, case-insensitively (ASCII).
pub fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// True when `part` is a sub-slice of `whole` (by address, not just by content).
pub fn is_subslice(whole: &[u8], part: &[u8]) -> bool {
    let w = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    p >= w && p + part.len() <= w + whole.len()
}

