//! `Accept-Encoding` (RFC 9110, section 12.5.3): does the client take a gzip response?
//!
//! gzip is acceptable when `gzip` (or `x-gzip`) is listed with a q-value above 0, or when it is
//! not listed and `*` is, with a q-value above 0. `gzip;q=0` refuses it, whatever `*` says. A
//! malformed entry is ignored, and a request without the header gets plain text (RFC 9110
//! allows any coding then, but plain is what a client that says nothing surely reads).

/// What the `Accept-Encoding` headers of one request said about gzip, folded one header line
/// at a time (a request may repeat the header).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcceptEncoding {
    /// Highest q-value (in thousandths) given to `gzip` or `x-gzip`, when listed.
    gzip: Option<u16>,
    /// Highest q-value given to `*`, when listed.
    any: Option<u16>,
}

impl AcceptEncoding {
    /// Folds in one header line's value.
    pub fn add(&mut self, value: &[u8]) {
        for entry in value.split(|&b| b == b',') {
            let mut parts = entry.split(|&b| b == b';');
            let coding = parts.next().unwrap_or_default().trim_ascii();
            let mut q = Some(1000);
            for param in parts {
                let param = param.trim_ascii();
                if let Some(value) = param
                    .strip_prefix(b"q=")
                    .or_else(|| param.strip_prefix(b"Q="))
                {
                    q = parse_qvalue(value.trim_ascii());
                }
            }
            let Some(q) = q else { continue };
            let slot =
                if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                    &mut self.gzip
                } else if coding == b"*" {
                    &mut self.any
                } else {
                    continue;
                };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
    }

    /// True when a gzip response is acceptable.
    pub fn gzip(&self) -> bool {
        match (self.gzip, self.any) {
            (Some(q), _) => q > 0,
            (None, Some(q)) => q > 0,
            (None, None) => false,
        }
    }
}

/// `"0" ["." 0*3DIGIT] / "1" ["." 0*3"0"]`, in thousandths; `None` when malformed.
fn parse_qvalue(s: &[u8]) -> Option<u16> {
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, d) in frac.iter().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(values: &[&str]) -> bool {
        let mut a = AcceptEncoding::default();
        for v in values {
            a.add(v.as_bytes());
        }
        a.gzip()
    }

    #[test]
    fn prometheus_and_browsers_get_gzip() {
        assert!(gzip(&["gzip"]));
        assert!(gzip(&["gzip, deflate, br"]));
        assert!(gzip(&["deflate", "GZIP;Q=0.5"]));
        assert!(gzip(&["x-gzip"]));
        assert!(gzip(&["*"]));
        assert!(gzip(&["identity;q=1, *;q=0.001"]));
        assert!(gzip(&[" gzip ; q=1.000 "]));
    }

    #[test]
    fn refusals_and_absence_get_plain() {
        assert!(!gzip(&[]));
        assert!(!gzip(&[""]));
        assert!(!gzip(&["identity"]));
        assert!(!gzip(&["gzip;q=0"]));
        assert!(!gzip(&["gzip;q=0.000"]));
        assert!(
            !gzip(&["gzip;q=0, *"]),
            "an explicit refusal beats the wildcard"
        );
        assert!(!gzip(&["*;q=0"]));
        assert!(!gzip(&["deflate, br"]));
        assert!(!gzip(&["gzipx", "agzip"]));
    }

    #[test]
    fn malformed_qvalues_drop_the_entry() {
        assert!(!gzip(&["gzip;q=2"]));
        assert!(!gzip(&["gzip;q=1.5"]));
        assert!(!gzip(&["gzip;q=0.1234"]));
        assert!(!gzip(&["gzip;q="]));
        assert!(!gzip(&["gzip;q=-1"]));
        assert!(!gzip(&["gzip;q=0x1"]));
        assert!(gzip(&["gzip;q=bad, gzip;q=0.2"]), "the valid entry counts");
        assert_eq!(parse_qvalue(b"0.5"), Some(500));
        assert_eq!(parse_qvalue(b"0.05"), Some(50));
        assert_eq!(parse_qvalue(b"1."), Some(1000));
        assert_eq!(parse_qvalue(b"0"), Some(0));
    }
}
