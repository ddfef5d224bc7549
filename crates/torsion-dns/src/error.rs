//! [`DnsError`]: the one error type of the crate, with predicates.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

/// What went wrong with a query or a zone (Twisted's `DNSNameError`,
/// `DNSServerError`, `DNSQueryRefusedError`, `DNSQueryTimeoutError`, ...,
/// as one type). Lookups fail with it inside a
/// [`Failure`](torsion::Failure): `failure.downcast_ref::<DnsError>()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The server answered with an error code: NXDOMAIN (the name does
    /// not exist), SERVFAIL, REFUSED, ...
    #[error("{name}: the server answered {code}")]
    Response {
        /// The name asked about.
        name: Name,
        /// What the server said.
        code: ResponseCode,
    },
    /// The name exists but has no records of the type asked for (or no
    /// addresses, for a host name).
    #[error("{name}: no {what} records")]
    NoRecords {
        /// The name asked about.
        name: Name,
        /// The record type(s) asked for.
        what: String,
    },
    /// No server answered: every try of every server timed out or failed.
    #[error("{name}: no answer from {servers:?} after {tries} tries of {timeout:?}")]
    Timeout {
        /// The name asked about.
        name: Name,
        /// The servers asked.
        servers: Vec<SocketAddr>,
        /// How many queries were sent in all.
        tries: u32,
        /// How long each try waited.
        timeout: Duration,
    },
    /// A name could not be turned into a DNS name (a label over 63 bytes,
    /// say).
    #[error("bad name {name:?}: {reason}")]
    BadName {
        /// The name as given.
        name: String,
        /// Why it is not a DNS name.
        reason: String,
    },
    /// A message could not be written or read.
    #[error("malformed DNS message: {0}")]
    Malformed(String),
    /// A zone file could not be read or is not a zone.
    #[error("zone {}: {reason}", path.as_ref().map_or("(text)".into(), |p| p.display().to_string()))]
    Zone {
        /// The file, if the zone came from one.
        path: Option<PathBuf>,
        /// What is wrong with it.
        reason: String,
    },
    /// The resolver configuration could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A socket operation failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl DnsError {
    /// The name does not exist (NXDOMAIN; Twisted's `DNSNameError`).
    pub fn is_name_error(&self) -> bool {
        matches!(self, DnsError::Response { code, .. } if *code == ResponseCode::NXDomain)
    }

    /// The name exists, without records of the type asked for.
    pub fn is_no_records(&self) -> bool {
        matches!(self, DnsError::NoRecords { .. })
    }

    /// The server refused the query (REFUSED; Twisted's
    /// `DNSQueryRefusedError`).
    pub fn is_refused(&self) -> bool {
        matches!(self, DnsError::Response { code, .. } if *code == ResponseCode::Refused)
    }

    /// No server answered in time (Twisted's `DNSQueryTimeoutError`).
    pub fn is_timeout(&self) -> bool {
        matches!(self, DnsError::Timeout { .. })
    }

    /// The response code the server answered with, if it answered with an
    /// error.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            DnsError::Response { code, .. } => Some(*code),
            _ => None,
        }
    }
}
