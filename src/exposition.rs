//! Prometheus text exposition (format 0.0.4), written by hand into reused buffers.
//!
//! Each metric family has its own buffer, so a collector can visit datastores one at a time and
//! still emit every family contiguously under one `# HELP` and one `# TYPE`. Buffers keep their
//! capacity between scrapes. A collector can mark the buffers before a unit of work (a datastore,
//! a namespace) and roll back to the mark if that unit fails, so no half-written unit is served.

use std::io::Write;

/// The Prometheus content type this module writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A value that only goes up; the name ends in `_total`.
    Counter,
}

/// A metric family's name, help text and type.
#[derive(Debug, Clone, Copy)]
pub struct FamilyDesc {
    /// The metric name.
    pub name: &'static str,
    /// One line of help text.
    pub help: &'static str,
    /// Gauge or counter.
    pub kind: Kind,
}

/// Declares a collector's metric families: an enum naming each, and the table describing them,
/// in the same order so the enum indexes the table.
#[macro_export]
macro_rules! families {
    ($vis:vis enum $name:ident { $($variant:ident => $kind:ident $metric:literal $help:literal,)+ }) => {
        /// The metric families this module writes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(dead_code)]
        $vis enum $name { $(#[doc = $help] $variant,)+ }

        impl $name {
            /// Names, help texts and types, indexed by the enum.
            pub const TABLE: &'static [$crate::exposition::FamilyDesc] = &[$(
                $crate::exposition::FamilyDesc {
                    name: $metric,
                    help: $help,
                    kind: $crate::exposition::Kind::$kind,
                },
            )+];
        }

        impl From<$name> for usize {
            fn from(f: $name) -> usize {
                f as usize
            }
        }
    };
}

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An exact unsigned integer (byte counts).
    U64(u64),
    /// An exact signed integer (timestamps).
    I64(i64),
    /// A float (ratios, seconds).
    F64(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::U64(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::U64(v as u64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::U64(v as u64)
    }
}

/// The sample buffers of one set of families (typically one collector's).
#[derive(Debug)]
pub struct Families {
    table: &'static [FamilyDesc],
    bufs: Vec<Vec<u8>>,
    marks: Vec<usize>,
}

impl Families {
    /// Empty buffers for the families in `table`.
    pub fn new(table: &'static [FamilyDesc]) -> Self {
        Families {
            table,
            bufs: table.iter().map(|_| Vec::new()).collect(),
            marks: vec![0; table.len()],
        }
    }

    /// Forgets all samples, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        self.bufs.iter_mut().for_each(Vec::clear);
        self.marks.iter_mut().for_each(|m| *m = 0);
    }

    /// Remembers the current end of every family, for [`Families::rollback`].
    pub fn mark(&mut self) {
        for (m, b) in self.marks.iter_mut().zip(&self.bufs) {
            *m = b.len();
        }
    }

    /// Drops every sample written since the last [`Families::mark`].
    pub fn rollback(&mut self) {
        for (m, b) in self.marks.iter().zip(&mut self.bufs) {
            b.truncate(*m);
        }
    }

    /// Appends one sample to `family`.
    pub fn sample(
        &mut self,
        family: impl Into<usize>,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) {
        let i = family.into();
        let buf = &mut self.bufs[i];
        buf.extend_from_slice(self.table[i].name.as_bytes());
        write_labels(buf, labels);
        buf.push(b' ');
        write_value(buf, value.into());
        buf.push(b'\n');
    }

    /// Appends every non-empty family, with its HELP and TYPE lines, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for (desc, buf) in self.table.iter().zip(&self.bufs) {
            if buf.is_empty() {
                continue;
            }
            write_header(out, desc);
            out.extend_from_slice(buf);
        }
    }

    /// Bytes of samples buffered, over all families.
    pub fn len(&self) -> usize {
        self.bufs.iter().map(Vec::len).sum()
    }

    /// True when no sample is buffered.
    pub fn is_empty(&self) -> bool {
        self.bufs.iter().all(Vec::is_empty)
    }
}

/// Writes a family's `# HELP` and `# TYPE` lines.
pub fn write_header(out: &mut Vec<u8>, desc: &FamilyDesc) {
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(desc.name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(desc.help.as_bytes());
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(desc.name.as_bytes());
    out.extend_from_slice(match desc.kind {
        Kind::Gauge => b" gauge\n",
        Kind::Counter => b" counter\n",
    });
}

/// Writes `{a="x",b="y"}` (nothing when there are no labels).
pub fn write_labels(buf: &mut Vec<u8>, labels: &[(&str, &str)]) {
    if labels.is_empty() {
        return;
    }
    buf.push(b'{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"=\"");
        escape_label_value(buf, value);
        buf.push(b'"');
    }
    buf.push(b'}');
}

/// Writes a label value with `\`, `"` and newline escaped.
pub fn escape_label_value(buf: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(esc);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Writes a sample value as Prometheus spells it.
pub fn write_value(buf: &mut Vec<u8>, value: Value) {
    // Writing to a Vec cannot fail.
    let _ = match value {
        Value::U64(v) => write!(buf, "{v}"),
        Value::I64(v) => write!(buf, "{v}"),
        Value::F64(v) if v.is_nan() => write!(buf, "NaN"),
        Value::F64(v) if v == f64::INFINITY => write!(buf, "+Inf"),
        Value::F64(v) if v == f64::NEG_INFINITY => write!(buf, "-Inf"),
        Value::F64(v) => write!(buf, "{v}"),
    };
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    families! {
        enum Test {
            A => Gauge "test_a_bytes" "A test gauge.",
            B => Counter "test_b_total" "A test counter.",
            C => Gauge "test_c" "Never written.",
        }
    }

    #[test]
    fn families_are_contiguous_with_one_header_each() {
        let mut f = Families::new(Test::TABLE);
        f.sample(Test::A, &[("datastore", "s1")], 1u64);
        f.sample(Test::B, &[], 5u64);
        f.sample(Test::A, &[("datastore", "s2")], 2u64);
        let mut out = Vec::new();
        f.write_to(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP test_a_bytes A test gauge.\n# TYPE test_a_bytes gauge\n\
             test_a_bytes{datastore=\"s1\"} 1\ntest_a_bytes{datastore=\"s2\"} 2\n\
             # HELP test_b_total A test counter.\n# TYPE test_b_total counter\ntest_b_total 5\n"
        );
    }

    #[test]
    fn rollback_drops_only_what_came_after_the_mark() {
        let mut f = Families::new(Test::TABLE);
        f.sample(Test::A, &[], 1u64);
        f.mark();
        f.sample(Test::A, &[], 2u64);
        f.sample(Test::B, &[], 3u64);
        f.rollback();
        let mut out = Vec::new();
        f.write_to(&mut out);
        assert_eq!(String::from_utf8(out).unwrap().matches("test_").count(), 3);
        assert!(
            !String::from_utf8_lossy(&{
                let mut o = Vec::new();
                f.write_to(&mut o);
                o
            })
            .contains("test_b_total")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let mut buf = Vec::new();
        write_labels(&mut buf, &[("comment", "a\\b \"q\"\nz é")]);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#"{comment="a\\b \"q\"\nz é"}"#
        );
    }

    #[test]
    fn values_print_as_prometheus_spells_them() {
        let show = |v: Value| {
            let mut b = Vec::new();
            write_value(&mut b, v);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(show(Value::U64(u64::MAX)), "18446744073709551615");
        assert_eq!(show(Value::I64(-5)), "-5");
        assert_eq!(show(Value::F64(3.0)), "3");
        assert_eq!(show(Value::F64(0.25)), "0.25");
        assert_eq!(show(Value::F64(f64::NAN)), "NaN");
        assert_eq!(show(Value::F64(f64::INFINITY)), "+Inf");
        assert_eq!(show(Value::F64(f64::NEG_INFINITY)), "-Inf");
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate_utf8("aé", 2), "a");
        assert_eq!(truncate_utf8("aé", 3), "aé");
        assert_eq!(truncate_utf8("€€", 4), "€");
    }
}
