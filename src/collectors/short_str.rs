//! [`ShortStr`]: an immutable text kept inline when short, in an exact-size heap block
//! otherwise. The snapshots collector keeps one aggregate per backup group for as long as the
//! target lives, with the group's key (`vm` + `100`) and its newest snapshot's comment (a guest
//! name): inline, those usual texts cost no heap block, so a target held idle pins fewer pages.

/// Longest text kept inline.
const INLINE: usize = 22;

/// Text of any length; up to [`INLINE`] bytes without a heap block. 24 bytes. Built only by
/// [`ShortStr::new`], [`ShortStr::concat`] and `default`, so an inline length never exceeds
/// the bytes copied in.
#[derive(Clone, Default)]
pub struct ShortStr(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Inline {
            len: 0,
            bytes: [0; INLINE],
        }
    }
}

impl ShortStr {
    pub fn new(s: &str) -> ShortStr {
        ShortStr::concat(s, "")
    }

    /// `a` followed by `b`.
    pub fn concat(a: &str, b: &str) -> ShortStr {
        let total = a.len().saturating_add(b.len());
        let mut bytes = [0; INLINE];
        match (bytes.get_mut(..total), u8::try_from(total)) {
            (Some(out), Ok(len)) => {
                let (x, y) = out.split_at_mut(a.len());
                x.copy_from_slice(a.as_bytes());
                y.copy_from_slice(b.as_bytes());
                ShortStr(Repr::Inline { len, bytes })
            }
            _ => {
                let mut s = String::with_capacity(total);
                s.push_str(a);
                s.push_str(b);
                ShortStr(Repr::Heap(s.into_boxed_str()))
            }
        }
    }

    /// The bytes, without the UTF-8 check of [`ShortStr::as_str`] (comparisons).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Copied from a `str` whole: valid UTF-8.
            Repr::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
            Repr::Heap(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_inline_and_every_text_reads_back() {
        assert_eq!(std::mem::size_of::<ShortStr>(), 24);
        for s in [
            "",
            "vm100",
            "é",
            "0123456789012345678901",
            "01234567890123456789012",
        ] {
            let t = ShortStr::new(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(t.as_bytes(), s.as_bytes());
            assert_eq!(matches!(t.0, Repr::Inline { .. }), s.len() <= INLINE, "{s}");
            assert_eq!(t.clone().as_str(), s);
        }
        let long = "ü".repeat(100);
        assert_eq!(ShortStr::new(&long).as_str(), long);
        assert_eq!(ShortStr::concat("vm", "100").as_str(), "vm100");
        assert_eq!(
            ShortStr::concat("host", &long).as_str(),
            format!("host{long}")
        );
        assert!(matches!(
            ShortStr::concat("01234567890", "01234567890").0,
            Repr::Inline { .. }
        ));
        assert_eq!(ShortStr::default().as_str(), "");
    }
}
