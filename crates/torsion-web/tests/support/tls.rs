//! Self-signed certificates for the TLS tests.

use std::path::PathBuf;

/// A certificate for `localhost` and 127.0.0.1, self-signed: (certificate
/// PEM, key PEM).
pub fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// A [`self_signed`] certificate and its key written as PEM files, where a
/// `tls:` endpoint reads them; removed on drop.
pub struct TestCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The certificate's PEM, for a client to trust.
    pub pem: String,
}

impl TestCertificate {
    /// `tag` keeps the files of tests running at once apart.
    pub fn new(tag: &str) -> TestCertificate {
        let (pem, key_pem) = self_signed();
        let dir = std::env::temp_dir();
        let stem = format!("torsion-web-{tag}-{}", std::process::id());
        let cert = dir.join(format!("{stem}-cert.pem"));
        let key = dir.join(format!("{stem}-key.pem"));
        std::fs::write(&cert, &pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        TestCertificate { cert, key, pem }
    }

    /// A `tls:` server endpoint on loopback (any port) with this
    /// certificate.
    pub fn endpoint(&self) -> String {
        format!(
            "tls:0:privateKey={}:certKey={}:interface=127.0.0.1",
            self.key.display().to_string().replace(':', "\\:"),
            self.cert.display().to_string().replace(':', "\\:")
        )
    }
}

impl Drop for TestCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}

/// A rustls server configuration for a peer that is not torsion (hyper or
/// h2 on tokio): `certificate` and `key` in PEM, offering `alpn`.
pub fn server_tls_config(
    certificate: &str,
    key: &str,
    alpn: &[&[u8]],
) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = vec![CertificateDer::from_pem_slice(certificate.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    std::sync::Arc::new(config)
}
