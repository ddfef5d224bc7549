//! [`Address`]: where a connection or a port is.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The address of one end of a connection, or of a port (Twisted's
/// `IPv4Address`, `IPv6Address` and `UNIXAddress`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP or UDP address, IPv4 or IPv6.
    Tcp(SocketAddr),
    /// A UNIX socket; unnamed sockets (a socketpair, a client that did not
    /// bind) have no path.
    Unix(Option<PathBuf>),
    /// An address the system would not tell (the socket is closed).
    Unknown,
}

impl From<std::os::unix::net::SocketAddr> for Address {
    fn from(address: std::os::unix::net::SocketAddr) -> Address {
        Address::Unix(address.as_pathname().map(PathBuf::from))
    }
}

impl From<SocketAddr> for Address {
    fn from(address: SocketAddr) -> Address {
        Address::Tcp(address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(address) => write!(f, "{address}"),
            Address::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Address::Unix(None) => f.write_str("unix:(unnamed)"),
            Address::Unknown => f.write_str("(unknown)"),
        }
    }
}
