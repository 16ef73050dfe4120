//! A strict parser of Prometheus text exposition 0.0.4 that also enforces what Prometheus and
//! promtool do not check: families contiguous, one HELP and TYPE each before the samples, no
//! duplicate series.

use std::collections::{BTreeMap, HashSet};

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, String>,
    pub text: String,
}

impl Exposition {
    /// Samples of `name` whose labels include all of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample of `name` with exactly these labels; panics otherwise.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<_> = self
            .samples
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{name}{labels:?}: {} samples\n{}",
            found.len(),
            self.text
        );
        found[0].value
    }

    /// Whether any sample of `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }
}

/// Parses `text`, panicking on any violation.
pub fn parse(text: &str) -> Exposition {
    let mut e = Exposition {
        text: text.to_string(),
        ..Default::default()
    };
    let mut helped = HashSet::new();
    let mut finished = HashSet::new();
    let mut current: Option<String> = None;
    let mut series = HashSet::new();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "exposition must end with a newline"
    );
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(helped.insert(name.clone()), "second HELP for {name}");
            assert!(!finished.contains(&name), "family {name} not contiguous");
            if let Some(c) = current.take() {
                finished.insert(c);
            }
            current = Some(name);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            assert_eq!(
                current.as_deref(),
                Some(name),
                "TYPE {name} not right after its HELP"
            );
            assert!(matches!(kind, "gauge" | "counter"), "type {kind}");
            assert!(
                e.types.insert(name.to_string(), kind.to_string()).is_none(),
                "second TYPE for {name}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} without _total");
            } else {
                assert!(!name.ends_with("_total"), "gauge {name} with _total");
            }
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let s = parse_sample(line);
        assert_eq!(
            current.as_deref(),
            Some(s.name.as_str()),
            "sample {line} outside its family"
        );
        assert!(e.types.contains_key(&s.name), "sample {line} before TYPE");
        let key = format!("{}{:?}", s.name, s.labels);
        assert!(series.insert(key), "duplicate series {line}");
        e.samples.push(s);
    }
    e
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value in {line}"));
    let name = &line[..name_end];
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !name.starts_with(|c: char| c.is_ascii_digit()),
        "bad metric name in {line}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut pos;
        loop {
            // label name
            let start = chars.peek().map(|(i, _)| *i).expect("label");
            let mut end = start;
            while let Some((i, c)) = chars.peek().copied() {
                if c == '=' {
                    end = i;
                    break;
                }
                assert!(
                    c.is_ascii_alphanumeric() || c == '_',
                    "bad label name char {c:?} in {line}"
                );
                chars.next();
            }
            let lname = r[start..end].to_string();
            chars.next(); // '='
            assert_eq!(
                chars.next().map(|(_, c)| c),
                Some('"'),
                "label value must be quoted in {line}"
            );
            let mut value = String::new();
            loop {
                let (_, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated label in {line}"));
                match c {
                    '"' => break,
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line}"),
                    },
                    '\n' => panic!("raw newline in {line}"),
                    c => value.push(c),
                }
            }
            assert!(
                labels.insert(lname.clone(), value).is_none(),
                "label {lname} twice in {line}"
            );
            let (i, c) = chars.next().expect("label separator");
            pos = i;
            match c {
                ',' => continue,
                '}' => break,
                other => panic!("unexpected {other:?} in {line}"),
            }
        }
        rest = &r[pos + 1..];
    }
    let value_text = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space before value in {line}"));
    assert!(
        !value_text.contains(' '),
        "timestamps or junk after the value in {line}"
    );
    let value = match value_text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => {
            assert!(
                !v.contains(['e', 'E']) || v.parse::<f64>().is_ok(),
                "bad value {v}"
            );
            v.parse().unwrap_or_else(|_| panic!("bad value in {line}"))
        }
    };
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}
