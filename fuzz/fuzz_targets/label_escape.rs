//! `exposition::escape_label_value`, `write_labels` and `truncate_utf8`. Bytes 0-1 are a
//! little-endian byte budget for `truncate_utf8`, the rest (lossily decoded as UTF-8, so any
//! input is a string) is the label value.
//!
//! Asserts:
//! * unescaping the escaped value gives back the input exactly; the escaped value has no raw
//!   newline, no unescaped `"`, and only the escapes `\\`, `\"`, `\n`; escaping appends to
//!   the buffer without touching what was there;
//! * a sample line written with it (`write_labels`) parses back with the strict parser to the
//!   same labels;
//! * `truncate_utf8(s, n)` is a prefix of `s`, at most `n` bytes, on a character boundary, and
//!   the longest such prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::exposition::{escape_label_value, truncate_utf8, write_labels};
use pbs_exporter_fuzz::expo::{Line, parse_line, unescape_label};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let budget = u16::from_le_bytes([data[0], data[1]]) as usize;
    let owned = String::from_utf8_lossy(&data[2..]);
    let s: &str = &owned;

    // Escaping round-trips and is well formed.
    let mut buf = b"prefix".to_vec();
    escape_label_value(&mut buf, s);
    assert!(buf.starts_with(b"prefix"), "escape touched existing bytes");
    let esc = &buf[6..];
    assert!(!esc.contains(&b'\n'), "raw newline in escaped value");
    let mut i = 0;
    while i < esc.len() {
        match esc[i] {
            b'\\' => {
                assert!(
                    matches!(esc.get(i + 1), Some(b'\\' | b'"' | b'n')),
                    "bad escape at {i}"
                );
                i += 2;
            }
            b'"' => panic!("unescaped quote at {i}"),
            _ => i += 1,
        }
    }
    let mut quoted = esc.to_vec();
    quoted.push(b'"');
    let (back, used) = unescape_label(&quoted).expect("escaped value does not unescape");
    assert_eq!(used, esc.len());
    assert_eq!(back, s, "round trip changed the value");

    // A whole sample line with the value in two labels parses back.
    let mut line = b"m".to_vec();
    write_labels(&mut line, &[("a", s), ("b_2", "x")]);
    line.extend_from_slice(b" 1");
    match parse_line(&line) {
        Ok(Line::Sample(sample)) => {
            assert_eq!(sample.name, "m");
            assert_eq!(sample.labels.len(), 2);
            assert_eq!(sample.labels[0], ("a".to_string(), s.to_string()));
            assert_eq!(sample.labels[1], ("b_2".to_string(), "x".to_string()));
        }
        other => panic!("sample line does not parse back: {other:?}"),
    }

    // truncate_utf8: the longest prefix on a character boundary within the budget.
    let t = truncate_utf8(s, budget);
    assert!(t.len() <= budget, "{} bytes > budget {budget}", t.len());
    assert!(s.starts_with(t) && t.as_ptr() == s.as_ptr(), "not a prefix");
    assert!(s.is_char_boundary(t.len()));
    if t.len() < s.len() {
        let next = s[t.len()..].chars().next().unwrap();
        assert!(t.len() + next.len_utf8() > budget, "not the longest prefix");
    } else {
        assert!(s.len() <= budget);
    }
});
