//! Variable-length integers for the packed group records ([`super::packed`]): LEB128 (seven
//! bits a byte, low first, the high bit set on every byte but the last), signed values
//! zigzag-mapped first so that small magnitudes of either sign take few bytes. A Unix time
//! takes 5 bytes, a difference of times or a count usually 1 to 4, where the fixed-size record
//! took 8 or 4 each.
//!
//! Only the exporter's own encoder writes what [`Reader`] reads; still, a short or malformed
//! input reads as zeros, never a panic.

/// Appends `v`, 1 to 10 bytes.
pub(super) fn put_u64(out: &mut impl Extend<u8>, mut v: u64) {
    while v >= 0x80 {
        out.extend([(v as u8) | 0x80]);
        v >>= 7;
    }
    out.extend([v as u8]);
}

/// Appends `v` zigzag-mapped (0, -1, 1, -2, … as 0, 1, 2, 3, …).
pub(super) fn put_i64(out: &mut impl Extend<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Counts the bytes written to it: an encoding's exact length, without a buffer.
#[derive(Default)]
pub(super) struct Count(pub(super) usize);

impl Extend<u8> for Count {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        self.0 += bytes.into_iter().count();
    }
}

/// Reads what [`put_u64`] and [`put_i64`] wrote, in order.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl Reader<'_> {
    /// The next unsigned value; 0 when the input ends (or runs past 10 bytes).
    pub(super) fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for (i, &b) in self.0.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return v;
            }
        }
        self.0 = &[];
        0
    }

    /// The next signed value.
    pub(super) fn i64(&mut self) -> i64 {
        let v = self.u64();
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    }

    /// The next unsigned value that fits in 32 bits (0 when it does not).
    pub(super) fn u32(&mut self) -> u32 {
        u32::try_from(self.u64()).unwrap_or(0)
    }

    /// The next byte, written as itself; 0 when the input ends.
    pub(super) fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_every_magnitude_read_back_in_order() {
        let signed = [0, 1, -1, 63, -64, 64, 1_784_000_000, -5, i64::MIN, i64::MAX];
        let unsigned = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ];
        let mut out = Vec::new();
        for &v in &signed {
            put_i64(&mut out, v);
        }
        for &v in &unsigned {
            put_u64(&mut out, v);
        }
        out.push(0xab);
        let mut r = Reader(&out);
        assert_eq!(signed.map(|_| r.i64()), signed);
        assert_eq!(unsigned.map(|_| r.u64()), unsigned);
        assert_eq!(r.byte(), 0xab);
        assert!(r.0.is_empty());
    }

    /// Pseudo-random values of every bit length, and differences of them as the group records
    /// write times (wrapping), read back exactly.
    #[test]
    fn any_value_and_any_wrapping_difference_reads_back() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (x % 64)
        };
        let mut out = Vec::new();
        let values: Vec<(u64, i64, i64)> = (0..10_000)
            .map(|_| (next(), next() as i64, next().wrapping_neg() as i64))
            .collect();
        for &(u, a, b) in &values {
            put_u64(&mut out, u);
            put_i64(&mut out, a);
            put_i64(&mut out, b.wrapping_sub(a));
        }
        let mut r = Reader(&out);
        for &(u, a, b) in &values {
            assert_eq!(r.u64(), u);
            let back = r.i64();
            assert_eq!((back, back.wrapping_add(r.i64())), (a, b));
        }
        assert!(r.0.is_empty());
    }

    #[test]
    fn sizes_are_as_documented() {
        let len = |v: i64| {
            let (mut out, mut count) = (Vec::new(), Count::default());
            put_i64(&mut out, v);
            put_i64(&mut count, v);
            assert_eq!(count.0, out.len());
            out.len()
        };
        assert_eq!((len(0), len(-64), len(63), len(64)), (1, 1, 1, 2));
        assert_eq!(len(1_784_000_000), 5);
        assert_eq!((len(i64::MIN), len(i64::MAX)), (10, 10));
    }

    #[test]
    fn short_or_malformed_input_reads_as_zeros() {
        let mut r = Reader(&[0x80, 0x80]);
        assert_eq!((r.u64(), r.u64(), r.byte()), (0, 0, 0));
        let mut r = Reader(&[0xff; 12]);
        assert_eq!(r.u64(), 0);
        assert!(r.0.is_empty());
        let mut r = Reader(&[0x80, 0x80, 0x80, 0x80, 0x10]);
        assert_eq!(r.u32(), 0, "2^32 does not fit");
    }
}
