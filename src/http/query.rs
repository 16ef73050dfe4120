//! The query string of a metrics request: `target` and `module`, percent-decoded (`+` is a
//! space, as HTML forms and Prometheus' `params` write it). The first occurrence of each wins,
//! as natrontech reads it; other parameters are ignored. Values are bounded and must be UTF-8.

/// Longest decoded value accepted.
pub const MAX_VALUE: usize = 512;

/// What a metrics request asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScrapeQuery {
    /// `target=`, decoded; `None` when absent or empty.
    pub target: Option<String>,
    /// `module=`, decoded; `None` when absent or empty.
    pub module: Option<String>,
}

/// Parses a query string (without the `?`).
pub fn parse_scrape_query(query: &str) -> Result<ScrapeQuery, String> {
    let mut out = ScrapeQuery::default();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "target" => &mut out.target,
            "module" => &mut out.module,
            _ => continue,
        };
        if slot.is_some() {
            continue;
        }
        let value = decode(value).map_err(|e| format!("query parameter '{name}': {e}"))?;
        if !value.is_empty() {
            *slot = Some(value);
        }
    }
    Ok(out)
}

/// Percent-decodes one value.
pub fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len().min(MAX_VALUE));
    let mut i = 0;
    while i < bytes.len() {
        if out.len() >= MAX_VALUE {
            return Err(format!("longer than {MAX_VALUE} bytes"));
        }
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err("bad percent escape".into()),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "not UTF-8".to_string())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_and_module_are_decoded() {
        let q = parse_scrape_query("target=https%3A%2F%2Fpbs1%3A8007&module=lab&x=1").unwrap();
        assert_eq!(q.target.as_deref(), Some("https://pbs1:8007"));
        assert_eq!(q.module.as_deref(), Some("lab"));
        let q = parse_scrape_query("target=pbs1:8007&target=other").unwrap();
        assert_eq!(q.target.as_deref(), Some("pbs1:8007"));
        assert_eq!(q.module, None);
        assert_eq!(parse_scrape_query("").unwrap(), ScrapeQuery::default());
        assert_eq!(parse_scrape_query("target=").unwrap().target, None);
        assert_eq!(
            parse_scrape_query("module=a+b").unwrap().module.as_deref(),
            Some("a b")
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(parse_scrape_query("target=%zz").is_err());
        assert!(parse_scrape_query("target=%4").is_err());
        assert!(parse_scrape_query("target=%ff%fe").is_err());
        let long = format!("target={}", "a".repeat(MAX_VALUE + 1));
        assert!(parse_scrape_query(&long).is_err());
    }
}
