//! Targets and the allow-list: what a `?target=` names, normalised (`https` unless the allowing
//! entry says `http://`, port 8007, host lowercased), and the entries of a module's allow-list
//! it is matched against (`*` standing for exactly one DNS label). Pure functions: a target
//! comes from request data, so nothing here can panic, and matching decides where the API
//! token may be sent.

use crate::client::Endpoint;

/// Longest target accepted (a DNS name is at most 253 bytes, plus scheme and port).
pub const MAX_TARGET_LEN: usize = 300;

/// A requested target, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `Some(true)` for `https://`, `Some(false)` for `http://`, `None` when no scheme was given
    /// (the allowing entry's scheme is used then).
    pub tls: Option<bool>,
    /// Lowercased host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port (8007 when not given).
    pub port: u16,
}

impl Target {
    /// Parses a target as natrontech's users write it (`https://host:8007`) or bare (`host`,
    /// `host:port`); a trailing `/` or `/api2/json` is allowed.
    pub fn parse(s: &str) -> Result<Target, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty target".into());
        }
        if s.len() > MAX_TARGET_LEN {
            return Err(format!("target longer than {MAX_TARGET_LEN} bytes"));
        }
        if let Some(b) = s.bytes().find(|b| !is_target_byte(*b)) {
            return Err(format!("target contains the byte 0x{b:02x}"));
        }
        let scheme = if s.starts_with("https://") {
            Some(true)
        } else if s.starts_with("http://") {
            Some(false)
        } else {
            None
        };
        let ep = Endpoint::parse(s)?;
        let host = ep.host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err(format!("'{s}': no host"));
        }
        if host.contains(':') {
            // Only an IPv6 address has colons in the host (written in brackets).
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("'{s}': '{host}' is not an IPv6 address"));
            }
        } else if host.contains(['[', ']']) {
            return Err(format!(
                "'{s}': brackets belong around an IPv6 address only"
            ));
        } else if host.split('.').any(str::is_empty) {
            return Err(format!("'{s}': empty DNS label in the host"));
        }
        Ok(Target {
            tls: scheme,
            host,
            port: ep.port,
        })
    }

    /// The endpoint to connect to, with the allowing entry's scheme.
    pub fn endpoint(&self, tls: bool) -> Endpoint {
        Endpoint {
            tls,
            host: self.host.clone(),
            port: self.port,
        }
    }
}

/// Bytes a target may contain: what host names, IP literals, scheme and port need.
fn is_target_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'/' | b'[' | b']')
}

/// One entry of an allow-list: scheme, host pattern and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// TLS (`https`, the default) or plain (`http://` written in the entry).
    pub tls: bool,
    /// Lowercased host; a label `*` matches exactly one label.
    pub host: String,
    /// TCP port (8007 when not given).
    pub port: u16,
}

impl Pattern {
    /// Parses an entry: `host`, `host:port`, `https://host:port` or `http://host:port`, where a
    /// whole DNS label of the host may be `*`.
    pub fn parse(s: &str) -> Result<Pattern, String> {
        let s = s.trim();
        // '*' is not a target byte: check it here, then parse the rest with '*' as a label.
        for label in host_part(s).split('.') {
            if label.contains('*') && label != "*" {
                return Err(format!(
                    "'{s}': '*' must be a whole DNS label (it stands for exactly one label, never across dots)"
                ));
            }
        }
        let t =
            Target::parse(&s.replace('*', "x")).map_err(|e| e.replace(&s.replace('*', "x"), s))?;
        let host = if s.contains('*') {
            let labels: Vec<&str> = host_part(s).split('.').collect();
            let mut out = String::new();
            for (i, label) in t.host.split('.').enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(if labels.get(i) == Some(&"*") {
                    "*"
                } else {
                    label
                });
            }
            if out.split('.').all(|l| l == "*") {
                return Err(format!(
                    "'{s}': a pattern of only '*' labels would allow any host"
                ));
            }
            out
        } else {
            t.host
        };
        Ok(Pattern {
            tls: t.tls.unwrap_or(true),
            host,
            port: t.port,
        })
    }

    /// Whether this entry allows `target`.
    pub fn allows(&self, target: &Target) -> bool {
        if target.port != self.port || target.tls.is_some_and(|tls| tls != self.tls) {
            return false;
        }
        let mut want = self.host.split('.');
        let mut got = target.host.split('.');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some("*"), Some(label)) if !label.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::client::write_url(f, self.tls, &self.host, self.port)
    }
}

/// The host part of an entry as written (scheme, port and path removed), for checking `*`.
fn host_part(s: &str) -> &str {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let rest = rest.split('/').next().unwrap_or("");
    if rest.starts_with('[') {
        return rest;
    }
    rest.rsplit_once(':').map_or(rest, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, target: &str) -> bool {
        Pattern::parse(pattern)
            .unwrap()
            .allows(&Target::parse(target).unwrap())
    }

    #[test]
    fn targets_are_normalised() {
        let t = Target::parse("https://PBS1.Example.com:8007/").unwrap();
        assert_eq!(
            t,
            Target {
                tls: Some(true),
                host: "pbs1.example.com".into(),
                port: 8007
            }
        );
        assert_eq!(Target::parse("pbs1.example.com").unwrap().port, 8007);
        assert_eq!(Target::parse("pbs1.example.com").unwrap().tls, None);
        assert_eq!(
            Target::parse("http://10.0.0.1:80").unwrap().tls,
            Some(false)
        );
        assert_eq!(Target::parse("pbs.example.").unwrap().host, "pbs.example");
        assert_eq!(Target::parse("[::1]:9000").unwrap().host, "::1");
        for bad in [
            "",
            "ftp://x",
            "x:port",
            "x/sub",
            "a b",
            "a..b",
            "pbs\u{e9}",
            "x:99999",
            "http:::1]:9000",
            "[http:::1]]:9000",
            "[::1]x",
            "a]b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Target::parse(&"a".repeat(MAX_TARGET_LEN + 1)).is_err());
    }

    #[test]
    fn entries_allow_their_host_port_and_scheme_only() {
        assert!(allows("pbs1.example.com", "https://pbs1.example.com:8007"));
        assert!(allows("pbs1.example.com", "PBS1.example.com"));
        assert!(allows("https://pbs2.example.com:8007", "pbs2.example.com"));
        assert!(!allows("pbs1.example.com", "pbs1.example.com:8008"));
        assert!(!allows("pbs1.example.com", "pbs1.example.com.evil.net"));
        assert!(!allows("pbs1.example.com", "http://pbs1.example.com:8007"));
        assert!(allows("http://pbs1:8007", "http://pbs1"));
        assert!(allows("http://pbs1:8007", "pbs1"));
        assert!(!allows("http://pbs1:8007", "https://pbs1"));
        assert!(allows("127.0.0.1:9000", "https://127.0.0.1:9000"));
    }

    #[test]
    fn a_wildcard_is_exactly_one_label() {
        assert!(allows("*.lab.example.com", "pbs7.lab.example.com"));
        assert!(allows("*.lab.example.com", "PBS7.LAB.example.com:8007"));
        assert!(!allows("*.lab.example.com", "a.b.lab.example.com"));
        assert!(!allows("*.lab.example.com", "lab.example.com"));
        assert!(!allows("*.lab.example.com", "pbs7.lab.example.com:9000"));
        assert!(allows(
            "pbs.*.example.com:9000",
            "pbs.site3.example.com:9000"
        ));
        for bad in ["pbs*.example.com", "**.example.com", "*", "*.*", "a.*b.c"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
