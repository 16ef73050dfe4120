//! The simulator's self-signed certificate (rcgen) and rustls server configuration (ring), and
//! the SHA-256 fingerprint PBS shows for it.

use std::io;
use std::sync::Arc;

/// A generated certificate with its key.
pub(crate) struct Identity {
    pub der: Vec<u8>,
    pub pem: String,
    key_der: Vec<u8>,
}

/// Generates a self-signed certificate for `hostnames` (DNS names or IP addresses).
pub(crate) fn generate(hostnames: &[String]) -> io::Result<Identity> {
    let ck = rcgen::generate_simple_self_signed(hostnames.to_vec()).map_err(io::Error::other)?;
    Ok(Identity {
        der: ck.cert.der().to_vec(),
        pem: ck.cert.pem(),
        key_der: ck.key_pair.serialize_der(),
    })
}

/// A rustls server configuration serving `id`.
pub(crate) fn server_config(id: &Identity) -> io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(id.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone())),
        )
        .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

/// Lowercase, colon-separated SHA-256 of a DER certificate (`aa:bb:...`), as PBS shows it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::with_capacity(95);
    for (i, b) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
        out.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_format() {
        // SHA-256 of the empty input.
        assert_eq!(
            super::fingerprint(b""),
            "e3:b0:c4:42:98:fc:1c:14:9a:fb:f4:c8:99:6f:b9:24:27:ae:41:e4:64:9b:93:4c:a4:95:99:1b:78:52:b8:55"
        );
    }
}
