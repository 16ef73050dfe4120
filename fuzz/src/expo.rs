//! A small, strict parser for the Prometheus text format 0.0.4 as this exporter writes it, and
//! the checks the `extractors` target asserts on a rendered scrape.

use std::collections::HashSet;

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// `# HELP name text`
    Help { name: String, text: String },
    /// `# TYPE name gauge|counter`
    Type { name: String, kind: String },
    /// `name{label="value",...} value`
    Sample(Sample),
}

/// One sample line, label values unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: String,
}

fn is_metric_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn is_label_name(s: &str) -> bool {
    let mut it = s.bytes();
    matches!(it.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && it.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Go's `strconv.ParseFloat` subset Prometheus accepts, strictly: `NaN`, `+Inf`, `-Inf`, or a
/// decimal number with optional sign, fraction and exponent.
pub fn is_sample_value(s: &str) -> bool {
    if matches!(s, "NaN" | "+Inf" | "-Inf") {
        return true;
    }
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let f = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let e = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len() && s.parse::<f64>().is_ok()
}

/// Unescapes a label value written between quotes (`\\`, `\"`, `\n` only). The input ends at
/// the first unescaped `"`; returns the value and the bytes consumed (not counting that quote).
pub fn unescape_label(raw: &[u8]) -> Result<(String, usize), String> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match raw.get(i) {
            None => return Err("label value not closed".into()),
            Some(b'"') => break,
            Some(b'\\') => {
                let c = match raw.get(i + 1) {
                    Some(b'\\') => b'\\',
                    Some(b'"') => b'"',
                    Some(b'n') => b'\n',
                    other => return Err(format!("bad escape \\{:?}", other.map(|&b| b as char))),
                };
                out.push(c);
                i += 2;
            }
            Some(b'\n') => return Err("raw newline in label value".into()),
            Some(&c) => {
                out.push(c);
                i += 1;
            }
        }
    }
    let s = String::from_utf8(out).map_err(|_| "label value is not UTF-8".to_string())?;
    Ok((s, i))
}

/// Parses one line (without its `\n`).
pub fn parse_line(line: &[u8]) -> Result<Line, String> {
    let text = std::str::from_utf8(line).map_err(|_| "line is not UTF-8".to_string())?;
    if let Some(rest) = text.strip_prefix("# HELP ") {
        let (name, help) = rest.split_once(' ').ok_or("HELP without text")?;
        if !is_metric_name(name) {
            return Err(format!("bad metric name in HELP: {name:?}"));
        }
        if help.is_empty() {
            return Err("empty HELP text".into());
        }
        return Ok(Line::Help {
            name: name.into(),
            text: help.into(),
        });
    }
    if let Some(rest) = text.strip_prefix("# TYPE ") {
        let (name, kind) = rest.split_once(' ').ok_or("TYPE without kind")?;
        if !is_metric_name(name) {
            return Err(format!("bad metric name in TYPE: {name:?}"));
        }
        if kind != "gauge" && kind != "counter" {
            return Err(format!("bad TYPE kind {kind:?}"));
        }
        return Ok(Line::Type {
            name: name.into(),
            kind: kind.into(),
        });
    }
    // A sample.
    let name_end = line
        .iter()
        .position(|&b| b == b'{' || b == b' ')
        .ok_or("sample without value")?;
    let name = &text[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut i = name_end;
    let mut labels: Vec<(String, String)> = Vec::new();
    if line[i] == b'{' {
        i += 1;
        loop {
            let eq = line[i..]
                .iter()
                .position(|&b| b == b'=')
                .ok_or("label without '='")?;
            let lname = &text[i..i + eq];
            if !is_label_name(lname) {
                return Err(format!("bad label name {lname:?}"));
            }
            if labels.iter().any(|(n, _)| n == lname) {
                return Err(format!("label {lname:?} repeated"));
            }
            i += eq + 1;
            if line.get(i) != Some(&b'"') {
                return Err("label value not quoted".into());
            }
            i += 1;
            let (value, used) = unescape_label(&line[i..])?;
            i += used + 1;
            labels.push((lname.into(), value));
            match line.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err("expected ',' or '}' after a label".into()),
            }
        }
    }
    if line.get(i) != Some(&b' ') {
        return Err("expected one space before the value".into());
    }
    let value = &text[i + 1..];
    if !is_sample_value(value) {
        return Err(format!("bad sample value {value:?}"));
    }
    Ok(Line::Sample(Sample {
        name: name.into(),
        labels,
        value: value.into(),
    }))
}

/// Checks a whole rendered scrape: every line parses, each family is one contiguous block
/// `HELP`, `TYPE`, then at least one sample of that name, no family appears twice, and no two
/// samples are the same series. Returns the samples.
pub fn check(out: &[u8]) -> Result<Vec<Sample>, String> {
    if out.is_empty() {
        return Ok(Vec::new());
    }
    if std::str::from_utf8(out).is_err() {
        return Err("output is not UTF-8".into());
    }
    if out.last() != Some(&b'\n') {
        return Err("output does not end with a newline".into());
    }
    let mut families_seen: HashSet<String> = HashSet::new();
    let mut series: HashSet<(String, Vec<(String, String)>)> = HashSet::new();
    let mut samples = Vec::new();
    // (family name, type seen, samples in this block)
    let mut current: Option<(String, bool, usize)> = None;
    for (n, line) in out[..out.len() - 1].split(|&b| b == b'\n').enumerate() {
        let at = |e: String| format!("line {}: {e}: {:?}", n + 1, String::from_utf8_lossy(line));
        match parse_line(line).map_err(at)? {
            Line::Help { name, .. } => {
                if let Some((prev, _, count)) = &current {
                    if *count == 0 {
                        return Err(at(format!("family {prev} has no samples")));
                    }
                }
                if !families_seen.insert(name.clone()) {
                    return Err(at(format!("family {name} is not contiguous")));
                }
                current = Some((name, false, 0));
            }
            Line::Type { name, kind } => match &mut current {
                Some((fam, typed @ false, 0)) if *fam == name => {
                    if kind == "counter" && !name.ends_with("_total") {
                        return Err(at(format!("counter {name} does not end in _total")));
                    }
                    *typed = true;
                }
                _ => return Err(at("TYPE not right after its HELP".into())),
            },
            Line::Sample(s) => match &mut current {
                Some((fam, true, count)) if *fam == s.name => {
                    *count += 1;
                    let mut key = s.labels.clone();
                    key.sort();
                    if !series.insert((s.name.clone(), key)) {
                        return Err(at("duplicate series".into()));
                    }
                    samples.push(s);
                }
                _ => return Err(at("sample outside its family's block".into())),
            },
        }
    }
    match current {
        Some((fam, _, 0)) => Err(format!("family {fam} has no samples")),
        _ => Ok(samples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_exporter_writes() {
        let out = b"# HELP a_bytes A.\n# TYPE a_bytes gauge\na_bytes{x=\"q\\\"\\\\\\n\"} 1\na_bytes 2.5\n\
                    # HELP b_total B.\n# TYPE b_total counter\nb_total -Inf\n";
        let s = check(out).unwrap();
        assert_eq!(s[0].labels, [("x".to_string(), "q\"\\\n".to_string())]);
    }

    #[test]
    fn rejects_bad_output() {
        for bad in [
            &b"a 1\n"[..],
            b"# HELP a A.\n# TYPE a gauge\na 1\na 2\n",
            b"# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\n# HELP b B.\n# TYPE b gauge\nb 1\n# HELP a A.\n# TYPE a gauge\na 3\n",
            b"# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",
            b"# HELP a A.\n# TYPE a gauge\na{x=\"1\"}  1\n",
            b"# HELP a A.\n# TYPE a gauge\na inf\n",
            b"# HELP a A.\n# TYPE a gauge\n",
            b"# HELP a A.\n# TYPE a gauge\na 1",
        ] {
            assert!(check(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
