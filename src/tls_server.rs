//! The exporter endpoint's TLS server configuration: rustls with the `ring` provider, built from
//! the web config's `tls_server_config` (certificate chain, key, optional client certificates,
//! lowest version). Connections are then served by `tls_stream::TlsStream::accept`.

use crate::web_config::{ClientAuth, MinVersion, TlsSettings};
use crate::yaml::YamlError;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::Path;
use std::sync::Arc;

/// Reads the files `settings` names and builds the server configuration. Errors name the key
/// (`tls_server_config.key_file: ...`).
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, YamlError> {
    let err = |key: &str, message: String| YamlError {
        path: format!("tls_server_config.{key}"),
        message,
    };
    let certs = read_certs(&settings.cert_file).map_err(|e| err("cert_file", e))?;
    let key = PrivateKeyDer::from_pem_file(&settings.key_file).map_err(|e| {
        err(
            "key_file",
            format!(
                "no PEM private key in '{}': {e}",
                settings.key_file.display()
            ),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version {
        MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        MinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| err("min_version", e.to_string()))?;
    let builder = match (settings.client_auth, &settings.client_ca_file) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca).map_err(|e| err("client_ca_file", e))? {
                roots
                    .add(cert)
                    .map_err(|e| err("client_ca_file", format!("'{}': {e}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match mode {
                ClientAuth::VerifyIfGiven => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| err("client_ca_file", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| err("key_file", format!("does not fit cert_file: {e}")))?;
    Ok(Arc::new(config))
}

/// All certificates of a PEM file; at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read '{shown}': {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM in '{shown}': {e}"))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in '{shown}'"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::conn::Transport;
    use crate::tls::{Trust, cert_fingerprint, client_config};
    use crate::tls_stream::TlsStream;
    use async_io::Async;
    use futures_lite::future::block_on;
    use rustls::pki_types::ServerName;
    use std::net::{TcpListener, TcpStream};

    /// A self-signed certificate and key written to a temporary directory.
    fn write_cert(dir: &Path) -> (TlsSettings, [u8; 32]) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        std::fs::write(dir.join("c.pem"), ck.cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), ck.key_pair.serialize_pem()).unwrap();
        let settings = TlsSettings {
            cert_file: dir.join("c.pem"),
            key_file: dir.join("k.pem"),
            client_auth: ClientAuth::None,
            client_ca_file: None,
            min_version: MinVersion::Tls12,
        };
        (settings, cert_fingerprint(ck.cert.der()))
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pbs-tls-server-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn serves_an_echo_over_the_record_loop() {
        let dir = temp_dir("echo");
        let (settings, fp) = write_cert(&dir);
        let config = server_config(&settings).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            block_on(async {
                let (tcp, _) = Async::new(listener).unwrap().accept().await.unwrap();
                let mut tls = TlsStream::accept(config, tcp).await.unwrap();
                let mut buf = [0; 64];
                let n = tls.read(&mut buf).await.unwrap();
                let mut reply = b"echo ".to_vec();
                reply.extend_from_slice(&buf[..n]);
                // Larger than one record, so the write spans several.
                reply.resize(40_000, b'x');
                tls.write_all(&reply).await.unwrap();
            })
        });
        block_on(async {
            let client = client_config(&Trust::Fingerprint(fp)).unwrap().config;
            let tcp = Async::<TcpStream>::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let mut tls = TlsStream::connect(client, name, tcp).await.unwrap();
            tls.write_all(b"hello").await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0; 4096];
            while got.len() < 40_000 {
                let n = tls.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got.starts_with(b"echo hellox"));
            assert_eq!(got.len(), 40_000);
        });
        server.join().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_name_the_key() {
        let dir = temp_dir("bad");
        let (mut settings, _) = write_cert(&dir);
        settings.key_file = dir.join("c.pem");
        let err = server_config(&settings).unwrap_err();
        assert_eq!(err.path, "tls_server_config.key_file");
        settings.cert_file = dir.join("absent.pem");
        let err = server_config(&settings).unwrap_err();
        assert_eq!(err.path, "tls_server_config.cert_file");
        assert!(err.message.starts_with("cannot read"), "{err}");
        settings.cert_file = dir.join("k.pem");
        let err = server_config(&settings).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "tls_server_config.cert_file: no PEM certificate in '{}'",
                dir.join("k.pem").display()
            )
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
