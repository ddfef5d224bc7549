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
