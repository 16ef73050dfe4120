//! Comparing short byte strings (keys, backup types and ids) without a call to `memcmp`:
//! once per key of every document, and per snapshot read.

/// `a == b` without a call to `memcmp` when they are up to 16 bytes long (every PBS key,
/// backup type and id): a few loads from each end once the lengths match.
#[inline(always)]
pub fn short_eq(a: &[u8], b: &[u8]) -> bool {
    fn word(s: &[u8], at: usize) -> u64 {
        let mut w = [0; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    }
    fn half(s: &[u8], at: usize) -> u32 {
        let mut w = [0; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_le_bytes(w)
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        // The first, middle and last byte cover all of them.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_compare_as_bytes() {
        let keys: [&[u8]; 19] = [
            b"",
            b"a",
            b"b",
            b"ab",
            b"ac",
            b"vm",
            b"ct",
            b"100",
            b"101",
            b"abc",
            b"abcd",
            b"abce",
            b"size",
            b"owner",
            b"comment",
            b"backup-id",
            b"backup-type",
            b"backup-time",
            b"estimated-full-date",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(short_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
        assert!(!short_eq(b"backup-tima", b"backup-time"));
        assert!(!short_eq(b"abcdefgh-xyz", b"abcdefgi-xyz"));
        // Every single differing byte, at every length.
        for n in 1..40 {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 1;
                assert!(!short_eq(&a, &b), "{n} {at}");
            }
            assert!(short_eq(&a, &a.clone()));
        }
    }
}
