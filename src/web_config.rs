//! The web configuration file (`--web-config-file`, `PBS_WEB_CONFIG_FILE`) in the format of the
//! Prometheus exporter-toolkit, so a node_exporter user's file works unchanged: TLS for the
//! metrics endpoint (`tls_server_config`) and HTTP basic auth (`basic_auth_users`, bcrypt).
//!
//! [`load`] reads it at start and on SIGHUP; the result, [`WebSecurity`], is what the server
//! consults for every connection (TLS) and request (auth). Relative file names are relative to
//! the config file's directory, as in exporter-toolkit.

use crate::basic_auth::BasicAuth;
use crate::tls_server;
use crate::yaml::{self, Node, YamlError};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// exporter-toolkit keys that pbs-exporter understands but does not implement: refused with
/// a message saying so rather than "unknown key".
const UNSUPPORTED: &[&str] = &[
    "cert",
    "key",
    "client_ca",
    "client_allowed_sans",
    "max_version",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
];

/// The parsed file, before any certificate is read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    /// `tls_server_config`, when the endpoint serves TLS.
    pub tls: Option<TlsSettings>,
    /// `basic_auth_users`: user name and bcrypt hash, in file order.
    pub users: Vec<(String, String)>,
}

/// `tls_server_config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, server certificate first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Whether clients must present a certificate.
    pub client_auth: ClientAuth,
    /// PEM CAs that client certificates must chain to.
    pub client_ca_file: Option<PathBuf>,
    /// Lowest TLS version offered.
    pub min_version: MinVersion,
}

/// `client_auth_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert` (the default).
    None,
    /// `VerifyClientCertIfGiven`: a certificate is optional but checked when sent.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`.
    Require,
}

/// `min_version`. rustls speaks nothing older than TLS 1.2, so `TLS10` and `TLS11` mean 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3 (exporter-toolkit's default).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// What the server enforces, built from a [`WebConfig`]: the rustls server configuration and
/// the users. `Default` is an open, plain-HTTP endpoint.
#[derive(Default)]
pub struct WebSecurity {
    /// TLS server configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic-auth users; `None` lets every request in.
    pub auth: Option<BasicAuth>,
}

impl std::fmt::Debug for WebSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSecurity")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth)
            .finish()
    }
}

impl WebSecurity {
    /// A one-line description for the start-up log, e.g. `TLS (client certificates required), basic auth (2 users)`.
    pub fn describe(&self) -> String {
        let tls = match &self.tls {
            Some(_) => "TLS",
            None => "plain HTTP",
        };
        match &self.auth {
            Some(a) => format!("{tls}, basic auth ({} users)", a.users()),
            None => format!("{tls}, no auth"),
        }
    }
}

/// The security in force, shared by the server's connections and replaced on SIGHUP. A
/// connection reads it per request, so a kept-alive Prometheus connection sees new users at
/// its next scrape (TLS settings apply to connections accepted after the reload).
#[derive(Debug, Default)]
pub struct WebState(RefCell<Rc<WebSecurity>>);

impl WebState {
    /// Starts with `security`.
    pub fn new(security: WebSecurity) -> WebState {
        WebState(RefCell::new(Rc::new(security)))
    }

    /// What is in force now.
    pub fn current(&self) -> Rc<WebSecurity> {
        self.0.borrow().clone()
    }

    /// Puts `security` in force for what comes next.
    pub fn replace(&self, security: WebSecurity) {
        *self.0.borrow_mut() = Rc::new(security);
    }
}

/// Reads the file at `path`, its certificates and keys, and checks the hashes. The error is
/// one line naming the file and the key.
pub fn load(path: &Path) -> Result<WebSecurity, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let config = parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))?;
    build(&config).map_err(|e| format!("{}: {e}", path.display()))
}

/// Builds what the server enforces from a parsed file (reads the certificate files).
pub fn build(config: &WebConfig) -> Result<WebSecurity, YamlError> {
    let tls = config
        .tls
        .as_ref()
        .map(tls_server::server_config)
        .transpose()?;
    let auth = (!config.users.is_empty())
        .then(|| BasicAuth::new(&config.users))
        .transpose()
        .map_err(|(user, e)| YamlError {
            path: format!("basic_auth_users.{user}"),
            message: e,
        })?;
    Ok(WebSecurity { tls, auth })
}

/// Parses the file's text; relative paths are resolved against `base`.
pub fn parse(text: &str, base: &Path) -> Result<WebConfig, YamlError> {
    let doc = yaml::parse(text)?;
    let root = Node::root(&doc).map(&[
        "tls_server_config",
        "basic_auth_users",
        "http_server_config",
    ])?;
    if let Some(node) = root.get("http_server_config") {
        return Err(node.error("not supported by pbs-exporter (HTTP/1.1 only, no extra headers)"));
    }
    let tls = root
        .get("tls_server_config")
        .map(|n| parse_tls(n, base))
        .transpose()?;
    let mut users = Vec::new();
    if let Some(node) = root.get("basic_auth_users") {
        for (name, hash) in node.entries()? {
            if name.is_empty() || name.contains(':') {
                return Err(hash.error("a user name must be non-empty and contain no ':'"));
            }
            users.push((name.to_string(), hash.str()?.to_string()));
        }
    }
    Ok(WebConfig { tls, users })
}

fn parse_tls(node: &Node<'_>, base: &Path) -> Result<TlsSettings, YamlError> {
    let mut allowed = vec![
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "min_version",
    ];
    allowed.extend_from_slice(UNSUPPORTED);
    let map = node.map(&allowed)?;
    if let Some(key) = UNSUPPORTED.iter().find(|k| map.get(k).is_some()) {
        return Err(map.error(key, "not supported by pbs-exporter"));
    }
    let path = |key: &str| -> Result<Option<PathBuf>, YamlError> {
        Ok(map.str(key)?.map(|p| base.join(p)))
    };
    let client_auth = match map.str("client_auth_type")? {
        None | Some("NoClientCert") => ClientAuth::None,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::Require,
        Some(other) => {
            return Err(map.error(
                "client_auth_type",
                format!(
                    "'{other}' is not supported: use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            ));
        }
    };
    let client_ca_file = path("client_ca_file")?;
    match (client_auth, &client_ca_file) {
        (ClientAuth::None, Some(_)) => {
            return Err(node.error(
                "client_ca_file is set but client_auth_type is NoClientCert: set client_auth_type to RequireAndVerifyClientCert",
            ));
        }
        (ClientAuth::Require | ClientAuth::VerifyIfGiven, None) => {
            return Err(
                node.error("client_auth_type verifies client certificates: set client_ca_file")
            );
        }
        _ => {}
    }
    let min_version = match map.str("min_version")? {
        None | Some("TLS10" | "TLS11" | "TLS12") => MinVersion::Tls12,
        Some("TLS13") => MinVersion::Tls13,
        Some(other) => {
            return Err(map.error(
                "min_version",
                format!("'{other}' is not a TLS version: use TLS12 or TLS13"),
            ));
        }
    };
    Ok(TlsSettings {
        cert_file: base.join(map.required_str("cert_file")?),
        key_file: base.join(map.required_str("key_file")?),
        client_auth,
        client_ca_file,
        min_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("/etc/pbs")).unwrap_err().to_string()
    }

    #[test]
    fn node_exporter_style_file_parses() {
        let text = "\
tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
basic_auth_users:
  prometheus: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG
  other: $2b$04$abc
";
        let c = parse(text, Path::new("/etc/pbs")).unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSettings {
                cert_file: "/etc/pbs/server.crt".into(),
                key_file: "/abs/server.key".into(),
                client_auth: ClientAuth::Require,
                client_ca_file: Some("/etc/pbs/ca.crt".into()),
                min_version: MinVersion::Tls13,
            })
        );
        assert_eq!(c.users.len(), 2);
        assert_eq!(c.users[0].0, "prometheus");
        assert_eq!(c.users[1], ("other".into(), "$2b$04$abc".into()));
    }

    #[test]
    fn an_empty_file_is_an_open_endpoint() {
        assert_eq!(
            parse("", Path::new(".")).unwrap(),
            WebConfig {
                tls: None,
                users: vec![]
            }
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        assert_eq!(
            parse_err("tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_fle: c\n"),
            "tls_server_config.cert_fle: unknown key 'cert_fle' (expected one of: cert_file, key_file, client_auth_type, client_ca_file, min_version, cert, key, client_ca, client_allowed_sans, max_version, cipher_suites, curve_preferences, prefer_server_cipher_suites)"
        );
        assert_eq!(
            parse_err("tls_server_config:\n  key_file: b\n"),
            "tls_server_config: 'cert_file' is required"
        );
        assert_eq!(
            parse_err("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: SSL3\n"),
            "tls_server_config.min_version: 'SSL3' is not a TLS version: use TLS12 or TLS13"
        );
        assert!(
            parse_err(
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n"
            )
            .starts_with("tls_server_config.client_auth_type: 'RequireAnyClientCert' is not supported")
        );
        assert_eq!(
            parse_err(
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n"
            ),
            "tls_server_config: client_auth_type verifies client certificates: set client_ca_file"
        );
        assert_eq!(
            parse_err("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n"),
            "tls_server_config.cipher_suites: not supported by pbs-exporter"
        );
        assert_eq!(
            parse_err("basic_auth_users:\n  alice: 12\n"),
            "basic_auth_users.alice: expected a string, got an integer"
        );
        assert_eq!(
            parse_err("basic_auth_user:\n  alice: x\n"),
            "basic_auth_user: unknown key 'basic_auth_user' (expected one of: tls_server_config, basic_auth_users, http_server_config)"
        );
    }
}
