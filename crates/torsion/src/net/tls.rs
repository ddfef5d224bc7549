//! TLS with rustls, as a layer inside any stream connection: the protocol
//! above sees plaintext, the socket below carries records.
//!
//! Build a server configuration from PEM files with [`server_config`], a
//! client one from a root store with [`client_config`], and hand either to
//! a listen or connect call, to an endpoint (`tls:` strings), or to
//! [`Transport::start_tls`](crate::net::Transport::start_tls) on a
//! connection that is already up.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::Failure;
use crate::error::{ConnectionLost, NetError};
use crate::net::write_buffer::WriteBuffer;

/// How long a TLS handshake may take, unless the listen or connect call
/// says otherwise: a peer that connects and then sends nothing (or half a
/// handshake) is cut after this, as a slowloris client is by an HTTP
/// server's header timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A port's TLS: the configuration shared by every connection, and how
/// long each handshake may take.
#[derive(Clone)]
pub(crate) struct ServerTls {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) handshake_timeout: Option<Duration>,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {source}")]
    Pem {
        /// What the file should hold ("certificates", "private key").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: rustls::pki_types::pem::Error,
    },
    /// The file holds no certificate.
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    /// rustls refused the certificates or the key (a key that does not
    /// match the certificate, an unsupported algorithm).
    #[error("invalid TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The server name is not a valid DNS name or IP address.
    #[error("invalid server name {0:?}")]
    ServerName(String),
}

/// The crypto provider torsion builds its configurations with (ring).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain (leaf first) from a PEM file.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsConfigError::Pem {
            what: "certificates",
            path: path.to_owned(),
            source,
        })?;
    if certificates.is_empty() {
        return Err(TlsConfigError::NoCertificate(path.to_owned()));
    }
    Ok(certificates)
}

/// Reads a private key (PKCS#8, PKCS#1 or SEC1) from a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsConfigError::Pem {
        what: "private key",
        path: path.to_owned(),
        source,
    })
}

/// A server configuration from a PEM certificate chain and a PEM private
/// key (they may be the same file). Set `alpn_protocols` on the result to
/// offer ALPN.
pub fn server_config(certificates: &Path, key: &Path) -> Result<ServerConfig, TlsConfigError> {
    let chain = load_certificates(certificates)?;
    let key = load_private_key(key)?;
    Ok(ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?)
}

/// A root store holding every certificate of a PEM file.
pub fn root_store(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    for certificate in load_certificates(path)? {
        roots.add(certificate)?;
    }
    Ok(roots)
}

/// A client configuration that verifies servers against `roots` (and their
/// names against the name connected to). Set `alpn_protocols` on the result
/// to ask for ALPN.
pub fn client_config(roots: RootCertStore) -> ClientConfig {
    ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Which side of TLS to start, and with what.
#[derive(Clone, Debug)]
pub enum TlsSetup {
    /// Connect as a client, verifying the server as `server_name` (also sent
    /// as SNI).
    Client {
        /// The client configuration.
        config: Arc<ClientConfig>,
        /// The name to verify and to send as SNI.
        server_name: ServerName<'static>,
    },
    /// Accept as a server.
    Server(Arc<ServerConfig>),
}

impl TlsSetup {
    /// A client setup for `server_name` (a DNS name or an IP address).
    pub fn client(
        config: Arc<ClientConfig>,
        server_name: &str,
    ) -> Result<TlsSetup, TlsConfigError> {
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsConfigError::ServerName(server_name.to_owned()))?;
        Ok(TlsSetup::Client {
            config,
            server_name,
        })
    }
}

impl From<Arc<ServerConfig>> for TlsSetup {
    fn from(config: Arc<ServerConfig>) -> TlsSetup {
        TlsSetup::Server(config)
    }
}

/// What a finished handshake agreed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// The ALPN protocol chosen, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// The protocol version, such as "TLSv1_3".
    pub version: String,
    /// On a server, the name the client asked for with SNI.
    pub server_name: Option<String>,
}

/// One connection's TLS state.
pub(crate) struct TlsSession {
    connection: rustls::Connection,
}

impl TlsSession {
    pub(crate) fn new(setup: TlsSetup) -> Result<TlsSession, rustls::Error> {
        let mut connection: rustls::Connection = match setup {
            TlsSetup::Client {
                config,
                server_name,
            } => rustls::ClientConnection::new(config, server_name)?.into(),
            TlsSetup::Server(config) => rustls::ServerConnection::new(config)?.into(),
        };
        // The transport does its own flow control on what is buffered.
        connection.set_buffer_limit(None);
        Ok(TlsSession { connection })
    }

    /// Encrypts plaintext (held until the handshake is done).
    pub(crate) fn send(&mut self, plaintext: &[u8]) {
        // With no buffer limit the writer takes everything.
        let _ = self.connection.writer().write_all(plaintext);
    }

    pub(crate) fn wants_write(&self) -> bool {
        self.connection.wants_write()
    }

    /// Moves pending records into `buffer`.
    pub(crate) fn write_records(&mut self, buffer: &mut WriteBuffer) {
        let mut sink = BufferSink(buffer);
        while self.connection.wants_write() {
            if self.connection.write_tls(&mut sink).is_err() {
                break;
            }
        }
    }

    /// Feeds received records; appends what they decrypt to. Ok(true) once
    /// the peer has sent close_notify.
    pub(crate) fn receive(
        &mut self,
        mut ciphertext: &[u8],
        plaintext: &mut Vec<u8>,
    ) -> Result<bool, Failure> {
        while !ciphertext.is_empty() {
            self.connection.read_tls(&mut ciphertext)?;
            let state = self.connection.process_new_packets()?;
            if self.drain(plaintext)? || state.peer_has_closed() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The socket reached end of file: fails unless the peer closed TLS
    /// cleanly first (a truncation attack looks exactly like this).
    pub(crate) fn receive_eof(&mut self, plaintext: &mut Vec<u8>) -> Result<(), Failure> {
        self.connection.read_tls(&mut io::empty())?;
        self.connection.process_new_packets()?;
        if self.drain(plaintext)? {
            Ok(())
        } else {
            Err(Failure::new(ConnectionLost::from(io::Error::from(
                NetError::TlsTruncated,
            ))))
        }
    }

    /// Reads decrypted bytes; true if the peer closed cleanly.
    fn drain(&mut self, plaintext: &mut Vec<u8>) -> Result<bool, Failure> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.connection.reader().read(&mut chunk) {
                Ok(0) => return Ok(true),
                Ok(n) => plaintext.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(error) => return Err(Failure::new(error)),
            }
        }
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.connection.is_handshaking()
    }

    pub(crate) fn close_notify(&mut self) {
        self.connection.send_close_notify();
    }

    pub(crate) fn info(&self) -> Option<TlsInfo> {
        if self.connection.is_handshaking() {
            return None;
        }
        let server_name = match &self.connection {
            rustls::Connection::Server(server) => server.server_name().map(str::to_owned),
            rustls::Connection::Client(_) => None,
        };
        Some(TlsInfo {
            alpn_protocol: self.connection.alpn_protocol().map(<[u8]>::to_vec),
            version: self
                .connection
                .protocol_version()
                .map(|version| format!("{version:?}"))
                .unwrap_or_default(),
            server_name,
        })
    }
}

struct BufferSink<'a>(&'a mut WriteBuffer);

impl Write for BufferSink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.push(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
