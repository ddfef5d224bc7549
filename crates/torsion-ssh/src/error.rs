//! The crate's errors: keys that cannot be read, a server that cannot
//! start, and the ways a client's command can fail.

use std::io;
use std::path::{Path, PathBuf};

/// A key that could not be read, parsed or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The file holds no usable private key.
    #[error("{}: not an OpenSSH private key: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A public key line that does not parse.
    #[error("not an OpenSSH public key ({reason}): {line:?}")]
    PublicKey {
        /// The line's start.
        line: String,
        /// Why.
        reason: String,
    },
    /// A new key could not be generated.
    #[error("generating a key: {0}")]
    Generate(String),
}

impl KeyError {
    pub(crate) fn io(path: &Path, source: io::Error) -> KeyError {
        KeyError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why the SSH server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The endpoint description did not parse, or is not a plain TCP one.
    #[error("SSH server endpoint: {0}")]
    Endpoint(String),
    /// Binding the listening socket failed.
    #[error("SSH server: listening on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: std::net::SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// The tokio runtime the server runs on could not be made.
    #[error("SSH server: starting its tokio runtime: {0}")]
    Runtime(io::Error),
    /// Called off the reactor's thread.
    #[error("SSH server: start it on the reactor's thread")]
    NoReactor,
}

/// Why [`SshClient::run`](crate::SshClient::run) failed. The Deferred
/// fails with this inside its `Failure` (`failure.downcast_ref::<ClientError>()`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("connecting to {address}: {source}")]
    Connect {
        /// Where.
        address: String,
        /// What the system said.
        source: io::Error,
    },
    /// The server's host key is not the one the client was told to
    /// expect: the connection was dropped before authenticating, so
    /// nothing was sent to a server that may be an impostor.
    #[error(
        "host key mismatch: the server offered {offered}, but {expected} was expected; \
         the connection was closed before logging in"
    )]
    HostKeyMismatch {
        /// The fingerprint of the key the client expects.
        expected: String,
        /// The fingerprint of the key the server offered.
        offered: String,
    },
    /// The server refused the client's key.
    #[error("the server refused the key {fingerprint} for user {user:?}")]
    AuthenticationRefused {
        /// The user name sent.
        user: String,
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// The whole command took longer than the client's timeout.
    #[error("no answer within {0:?}")]
    TimedOut(std::time::Duration),
    /// The SSH protocol failed (the server closed the connection, a
    /// garbled packet, no algorithm in common...).
    #[error("SSH: {0}")]
    Ssh(#[from] russh::Error),
    /// The tokio runtime the client runs on could not be made.
    #[error("starting the SSH client's tokio runtime: {0}")]
    Runtime(io::Error),
}
