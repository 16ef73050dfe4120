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

impl Value {
    /// The value as a float (integers above 2^53 round, as Go's float64 does).
    pub fn as_f64(self) -> f64 {
        match self {
            Value::U64(v) => v as f64,
            Value::I64(v) => v as f64,
            Value::F64(v) => v,
        }
    }
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

/// Where a rendered label set sits in [`Families`]' label arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LabelSet {
    start: u32,
    len: u32,
}

/// One stored sample: its label set, an optional extra label, and its value.
#[derive(Debug, Clone, Copy)]
struct Sample {
    set: LabelSet,
    extra: LabelSet,
    value: Value,
}

/// The samples of one set of families (typically one collector's), stored compactly: label sets
/// are escaped once into an arena and shared by the samples that carry them, values stay
/// numbers. Text is produced only when the response is written, a chunk at a time.
#[derive(Debug)]
pub struct Families {
    table: &'static [FamilyDesc],
    samples: Vec<Vec<Sample>>,
    /// Escaped label sets, `a="x",b="y"`, back to back.
    arena: Vec<u8>,
    marks: Vec<usize>,
    arena_mark: usize,
    /// Numbers printed as Go's `%g` (natrontech's families, `crate::natrontech`).
    go_style: bool,
}

impl Families {
    /// Empty storage for the families in `table`.
    pub fn new(table: &'static [FamilyDesc]) -> Self {
        Families {
            table,
            samples: table.iter().map(|_| Vec::new()).collect(),
            arena: Vec::new(),
            marks: vec![0; table.len()],
            arena_mark: 0,
            go_style: false,
        }
    }

    /// Empty storage whose numbers render as Go's `%g` does (`1.71729e+09`), for another
    /// exporter's families that must match it byte for byte.
    pub fn new_go_style(table: &'static [FamilyDesc]) -> Self {
        Families {
            go_style: true,
            ..Families::new(table)
        }
    }

    /// Sorts each family's samples by their label values, compared one label at a time (as
    /// client_golang orders them). Label names must be given in the same order to every sample
    /// of a family.
    pub fn sort_samples(&mut self) {
        let arena = &self.arena;
        for samples in &mut self.samples {
            samples.sort_unstable_by(|a, b| {
                let values = |s: &Sample| {
                    label_values(span(arena, s.set)).chain(label_values(span(arena, s.extra)))
                };
                let mut va = values(a);
                let mut vb = values(b);
                loop {
                    match (va.next(), vb.next()) {
                        (None, None) => return std::cmp::Ordering::Equal,
                        (None, Some(_)) => return std::cmp::Ordering::Less,
                        (Some(_), None) => return std::cmp::Ordering::Greater,
                        (Some(x), Some(y)) => match unescape(x).cmp(unescape(y)) {
                            std::cmp::Ordering::Equal => {}
                            other => return other,
                        },
                    }
                }
            });
        }
    }

    /// Forgets all samples, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        self.samples.iter_mut().for_each(Vec::clear);
        self.arena.clear();
        self.marks.iter_mut().for_each(|m| *m = 0);
        self.arena_mark = 0;
    }

    /// Remembers the current end of every family, for [`Families::rollback`].
    pub fn mark(&mut self) {
        for (m, s) in self.marks.iter_mut().zip(&self.samples) {
            *m = s.len();
        }
        self.arena_mark = self.arena.len();
    }

    /// Drops every sample written since the last [`Families::mark`].
    pub fn rollback(&mut self) {
        for (m, s) in self.marks.iter().zip(&mut self.samples) {
            s.truncate(*m);
        }
        self.arena.truncate(self.arena_mark);
    }

    /// Escapes a label set once, for several samples to share.
    pub fn labels(&mut self, labels: &[(&str, &str)]) -> LabelSet {
        let start = self.arena.len();
        for (i, (name, value)) in labels.iter().enumerate() {
            if i > 0 {
                self.arena.push(b',');
            }
            self.arena.extend_from_slice(name.as_bytes());
            self.arena.extend_from_slice(b"=\"");
            escape_label_value(&mut self.arena, value);
            self.arena.push(b'"');
        }
        LabelSet {
            start: start as u32,
            len: (self.arena.len() - start) as u32,
        }
    }

    /// Escapes `first` then `more` once, as two label sets sharing the text: `first` alone,
    /// and `first` with `more` (e.g. per-item labels some of its samples extend).
    pub fn labels_and_more(
        &mut self,
        first: &[(&str, &str)],
        more: &[(&str, &str)],
    ) -> (LabelSet, LabelSet) {
        let head = self.labels(first);
        if head.len > 0 && !more.is_empty() {
            self.arena.push(b',');
        }
        self.labels(more);
        let both = LabelSet {
            start: head.start,
            len: (self.arena.len() - head.start as usize) as u32,
        };
        (head, both)
    }

    /// Appends one sample to `family`.
    pub fn sample(
        &mut self,
        family: impl Into<usize>,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) {
        let set = self.labels(labels);
        self.sample_in(family, set, value);
    }

    /// Appends one sample with a shared label set.
    pub fn sample_in(&mut self, family: impl Into<usize>, set: LabelSet, value: impl Into<Value>) {
        self.samples[family.into()].push(Sample {
            set,
            extra: LabelSet::default(),
            value: value.into(),
        });
    }

    /// Appends one sample with a shared label set plus more labels.
    pub fn sample_in_with(
        &mut self,
        family: impl Into<usize>,
        set: LabelSet,
        extra: &[(&str, &str)],
        value: impl Into<Value>,
    ) {
        let extra = self.labels(extra);
        self.sample_in_sets(family, set, extra, value);
    }

    /// Appends one sample with a shared label set plus another shared one (e.g. per-item
    /// labels several samples carry).
    pub fn sample_in_sets(
        &mut self,
        family: impl Into<usize>,
        set: LabelSet,
        extra: LabelSet,
        value: impl Into<Value>,
    ) {
        self.samples[family.into()].push(Sample {
            set,
            extra,
            value: value.into(),
        });
    }

    /// Number of samples stored, over all families.
    pub fn len(&self) -> usize {
        self.samples.iter().map(Vec::len).sum()
    }

    /// True when no sample is stored.
    pub fn is_empty(&self) -> bool {
        self.samples.iter().all(Vec::is_empty)
    }

    /// Appends every non-empty family, with its HELP and TYPE lines, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut cursor = Cursor::default();
        while self.render(&mut cursor, out, usize::MAX) {}
    }

    /// Renders from `cursor` into `out` until `out` holds at least `limit` bytes or this set is
    /// done; returns true when there is more to render.
    pub fn render(&self, cursor: &mut Cursor, out: &mut Vec<u8>, limit: usize) -> bool {
        while cursor.family < self.table.len() {
            let samples = &self.samples[cursor.family];
            if cursor.sample == 0 && !samples.is_empty() {
                write_header(out, &self.table[cursor.family]);
            }
            let name = self.table[cursor.family].name.as_bytes();
            while cursor.sample < samples.len() {
                let s = &samples[cursor.sample];
                out.extend_from_slice(name);
                if s.set.len > 0 || s.extra.len > 0 {
                    out.push(b'{');
                    out.extend_from_slice(self.span(s.set));
                    if s.set.len > 0 && s.extra.len > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(self.span(s.extra));
                    out.push(b'}');
                }
                out.push(b' ');
                if self.go_style {
                    crate::natrontech::write_go_float(out, s.value.as_f64());
                } else {
                    write_value(out, s.value);
                }
                out.push(b'\n');
                cursor.sample += 1;
                // Stop after a whole sample, so every call makes progress.
                if out.len() >= limit && cursor.sample < samples.len() {
                    return true;
                }
            }
            cursor.family += 1;
            cursor.sample = 0;
            if out.len() >= limit {
                return cursor.family < self.table.len();
            }
        }
        false
    }

    fn span(&self, set: LabelSet) -> &[u8] {
        span(&self.arena, set)
    }
}

fn span(arena: &[u8], set: LabelSet) -> &[u8] {
    arena
        .get(set.start as usize..(set.start as usize).saturating_add(set.len as usize))
        .unwrap_or(&[])
}

/// The escaped values of a rendered label set `a="x",b="y"`, in order.
fn label_values(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let open = rest.windows(2).position(|w| w == b"=\"")? + 2;
        let value = &rest[open..];
        let mut i = 0;
        while i < value.len() && value[i] != b'"' {
            i += if value[i] == b'\\' { 2 } else { 1 };
        }
        let i = i.min(value.len());
        rest = value.get(i + 1..).unwrap_or(&[]);
        Some(&value[..i])
    })
}

/// The bytes of an escaped label value, unescaped.
fn unescape(escaped: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *escaped.get(i)?;
        i += 1;
        if b != b'\\' {
            return Some(b);
        }
        let e = *escaped.get(i)?;
        i += 1;
        Some(if e == b'n' { b'\n' } else { e })
    })
}

/// A position in the rendering of a [`Families`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    family: usize,
    sample: usize,
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
    fn labels_and_more_share_the_first_labels() {
        let mut f = Families::new(Test::TABLE);
        let set = f.labels(&[("datastore", "s1")]);
        let (at, both) = f.labels_and_more(&[("t", "1")], &[("state", "ok")]);
        f.sample_in_sets(Test::A, set, at, 1u64);
        f.sample_in_sets(Test::B, set, both, 2u64);
        let (none, only_more) = f.labels_and_more(&[], &[("state", "x")]);
        f.sample_in_sets(Test::C, none, only_more, 3u64);
        let mut out = Vec::new();
        f.write_to(&mut out);
        let t = String::from_utf8(out).unwrap();
        assert!(
            t.contains("test_a_bytes{datastore=\"s1\",t=\"1\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("test_b_total{datastore=\"s1\",t=\"1\",state=\"ok\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("test_c{state=\"x\"} 3\n"), "{t}");
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
        assert_eq!(f.len(), 1);
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
    fn shared_label_sets_and_extra_labels_render_in_place() {
        let mut f = Families::new(Test::TABLE);
        let set = f.labels(&[("datastore", "s1"), ("namespace", "")]);
        f.sample_in(Test::A, set, 7u64);
        f.sample_in_with(Test::C, set, &[("state", "ok")], 1u64);
        let empty = f.labels(&[]);
        f.sample_in_with(Test::C, empty, &[("state", "none")], 1u64);
        let mut out = Vec::new();
        f.write_to(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("test_a_bytes{datastore=\"s1\",namespace=\"\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("test_c{datastore=\"s1\",namespace=\"\",state=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("test_c{state=\"none\"} 1\n"), "{text}");
    }

    #[test]
    fn rendering_in_small_pieces_gives_the_same_text() {
        let mut f = Families::new(Test::TABLE);
        for i in 0..50u64 {
            f.sample(Test::A, &[("n", &i.to_string())], i);
            f.sample(Test::B, &[], i);
        }
        let mut whole = Vec::new();
        f.write_to(&mut whole);
        let mut pieces = Vec::new();
        let mut cursor = Cursor::default();
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            let more = f.render(&mut cursor, &mut chunk, 64);
            assert!(chunk.len() < 64 + 100);
            pieces.extend_from_slice(&chunk);
            if !more {
                break;
            }
        }
        assert_eq!(pieces, whole);
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
    fn samples_sort_by_label_values_not_by_escaped_text() {
        let mut f = Families::new_go_style(Test::TABLE);
        for (ns, id) in [
            ("ns1", "a"),
            ("", "srv1"),
            ("", "100"),
            ("x y", "1"),
            ("x", "1"),
            ("q\"", "1"),
            ("q!", "1"),
        ] {
            f.sample(Test::A, &[("namespace", ns), ("vm_id", id)], 1717290000u64);
        }
        f.sort_samples();
        let mut out = Vec::new();
        f.write_to(&mut out);
        let text = String::from_utf8(out).unwrap();
        let order: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            order,
            [
                r#"test_a_bytes{namespace="",vm_id="100"} 1.71729e+09"#,
                r#"test_a_bytes{namespace="",vm_id="srv1"} 1.71729e+09"#,
                r#"test_a_bytes{namespace="ns1",vm_id="a"} 1.71729e+09"#,
                r#"test_a_bytes{namespace="q!",vm_id="1"} 1.71729e+09"#,
                r#"test_a_bytes{namespace="q\"",vm_id="1"} 1.71729e+09"#,
                r#"test_a_bytes{namespace="x",vm_id="1"} 1.71729e+09"#,
                r#"test_a_bytes{namespace="x y",vm_id="1"} 1.71729e+09"#,
            ]
        );
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate_utf8("aé", 2), "a");
        assert_eq!(truncate_utf8("aé", 3), "aé");
        assert_eq!(truncate_utf8("€€", 4), "€");
    }
}
