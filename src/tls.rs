//! Trust in the PBS certificate: PBS-style SHA-256 fingerprint pinning, a CA file, the system
//! store, or (loudly) none. Whatever the mode, the verifier remembers the fingerprint the server
//! presented, so a failed handshake can tell the admin exactly what to pin.

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where the system's CA bundle usually is.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// How the PBS certificate is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The certificate's SHA-256 must equal this (PBS shows it on its dashboard).
    Fingerprint([u8; 32]),
    /// The certificate must chain to a CA in this PEM file.
    CaFile(PathBuf),
    /// The certificate must chain to the system's CA bundle.
    System,
    /// Any certificate is accepted (handshake signatures are still checked).
    Insecure,
}

/// Parses a SHA-256 fingerprint: 64 hex digits, any case, colons optional.
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], String> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
    if hex.len() != 64 {
        return Err(format!(
            "expected 32 bytes of hex (64 digits, colons optional), got {} digits",
            hex.len()
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| "not hex".to_string())?;
        out[i] = u8::from_str_radix(text, 16).map_err(|_| format!("'{text}' is not hex"))?;
    }
    Ok(out)
}

/// Formats a fingerprint as PBS shows it: lowercase, colon-separated.
pub fn format_fingerprint(fp: &[u8; 32]) -> String {
    let mut s = String::with_capacity(95);
    for (i, b) in fp.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// SHA-256 of a DER certificate.
pub fn cert_fingerprint(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A TLS client configuration and a handle on what its verifier saw.
pub struct ClientTls {
    /// The rustls configuration to connect with.
    pub config: Arc<ClientConfig>,
    verifier: Arc<Verifier>,
}

impl ClientTls {
    /// The fingerprint of the last certificate presented, if any handshake got that far.
    pub fn presented(&self) -> Option<[u8; 32]> {
        *self
            .verifier
            .presented
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The pinned fingerprint, in fingerprint mode.
    pub fn pinned(&self) -> Option<[u8; 32]> {
        match &self.verifier.mode {
            Mode::Pinned(fp) => Some(*fp),
            _ => None,
        }
    }
}

/// Builds the client TLS configuration for `trust`.
pub fn client_config(trust: &Trust) -> Result<ClientTls, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mode = match trust {
        Trust::Fingerprint(fp) => Mode::Pinned(*fp),
        Trust::Insecure => Mode::Insecure,
        Trust::CaFile(path) => Mode::Chain(webpki(load_roots(path)?, &provider)?),
        Trust::System => match SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.exists()) {
            Some(p) => Mode::Chain(webpki(load_roots(p)?, &provider)?),
            // A scratch image has no CA bundle: every certificate is unknown.
            None => Mode::NoRoots,
        },
    };
    let verifier = Arc::new(Verifier {
        mode,
        provider: provider.clone(),
        presented: Mutex::new(None),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    // No session resumption: rustls' default cache preallocates about 19 KB per target, and
    // every handshake would store new tickets (each with a copy of the certificate) at
    // wherever the heap has room, pinning freed pages of a released target. A full handshake
    // with a pinned certificate costs little next to a scrape (README, footprint).
    config.resumption = rustls::client::Resumption::disabled();
    Ok(ClientTls {
        config: Arc::new(config),
        verifier,
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    for cert in iter {
        let cert = cert.map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no certificate found in {}", path.display()));
    }
    Ok(roots)
}

fn webpki(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| e.to_string())?;
    Ok(v)
}

enum Mode {
    Pinned([u8; 32]),
    Chain(Arc<dyn ServerCertVerifier>),
    NoRoots,
    Insecure,
}

struct Verifier {
    mode: Mode,
    provider: Arc<CryptoProvider>,
    presented: Mutex<Option<[u8; 32]>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier")
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = cert_fingerprint(end_entity);
        *self.presented.lock().unwrap_or_else(|e| e.into_inner()) = Some(fp);
        match &self.mode {
            Mode::Pinned(want) if *want == fp => Ok(ServerCertVerified::assertion()),
            Mode::Pinned(_) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            Mode::Chain(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            }
            Mode::NoRoots => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
            Mode::Insecure => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_any_case_with_or_without_colons() {
        let text = "AB:cd:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd";
        let fp = parse_fingerprint(text).unwrap();
        assert_eq!(fp[0], 0xab);
        assert_eq!(fp[31], 0xdd);
        assert_eq!(parse_fingerprint(&text.replace(':', "")).unwrap(), fp);
        assert_eq!(format_fingerprint(&fp), text.to_lowercase());
    }

    #[test]
    fn malformed_fingerprints_say_why() {
        assert!(
            parse_fingerprint("ab:cd")
                .unwrap_err()
                .contains("got 4 digits")
        );
        assert!(
            parse_fingerprint(&"zz".repeat(32))
                .unwrap_err()
                .contains("'zz' is not hex")
        );
    }

    #[test]
    fn an_unreadable_ca_file_is_named() {
        let err = client_config(&Trust::CaFile("/nonexistent/ca.pem".into()))
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
