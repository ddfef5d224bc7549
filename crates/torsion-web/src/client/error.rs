//! [`ClientError`]: why a request did not get a response.

use std::error::Error as StdError;

use crate::BodyError;

/// Why a request failed. A Deferred of the client fails with a
/// [`Failure`](torsion::Failure) holding one of these, or holding
/// torsion's [`TimedOut`](torsion::error::TimedOut) when a timeout passed
/// (so `failure.is_timeout()` tells timeouts apart).
///
/// Connection failures keep torsion's error as their source: look for it
/// with `failure.find::<torsion::error::ConnectionRefused>()` or
/// `failure.find::<torsion::error::DnsLookupError>()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL does not parse, or has no host.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL scheme other than `http` and `https`.
    #[error("unsupported URL scheme {0:?} (only http and https)")]
    UnsupportedScheme(String),
    /// A header name or value that HTTP does not allow.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// Query parameters, a form or a JSON body could not be encoded.
    #[error("cannot encode the {what}: {reason}")]
    Encode {
        /// "query", "form" or "JSON body".
        what: &'static str,
        /// The serializer's message.
        reason: String,
    },
    /// Connecting to the server failed (refused, unreachable, a name that
    /// does not resolve).
    #[error("cannot connect to {origin}")]
    Connect {
        /// `scheme://host:port`.
        origin: String,
        /// torsion's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The TLS handshake failed: most often a certificate that does not
    /// verify (not signed by a trusted root, or not for this host).
    #[error("TLS with {origin} failed: {reason}")]
    Tls {
        /// `https://host:port`.
        origin: String,
        /// What rustls said.
        reason: String,
    },
    /// The redirect limit was reached.
    #[error("too many redirects: more than {limit}, last to {url}")]
    TooManyRedirects {
        /// The client's (or request's) limit.
        limit: usize,
        /// Where the last redirect pointed.
        url: String,
    },
    /// A redirect without a usable `Location`.
    #[error("bad redirect from {url}: {reason}")]
    BadRedirect {
        /// The URL that answered with the redirect.
        url: String,
        /// What is wrong with its Location.
        reason: String,
    },
    /// The HTTP exchange failed (the connection closed mid-response, a
    /// malformed response).
    #[error("HTTP request to {url} failed")]
    Http {
        /// The URL requested.
        url: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// Reading the response body failed.
    #[error("reading the response body failed: {0}")]
    Body(#[from] BodyError),
    /// A cookie that does not parse, or that its URL may not set.
    #[error("invalid cookie: {0}")]
    InvalidCookie(String),
    /// The body is not the JSON asked for.
    #[error("the response body is not the JSON expected: {0}")]
    Json(#[from] serde_json::Error),
}

impl ClientError {
    /// True if connecting failed (before any HTTP was exchanged).
    pub fn is_connect(&self) -> bool {
        matches!(self, ClientError::Connect { .. })
    }

    /// True if the TLS handshake failed.
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientError::Tls { .. })
    }

    /// True if the redirect limit was reached.
    pub fn is_redirect_limit(&self) -> bool {
        matches!(self, ClientError::TooManyRedirects { .. })
    }
}
