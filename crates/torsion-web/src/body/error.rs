//! Why a body could not be read or sent: [`BodyError`] for its reader,
//! [`BodyClosed`] for the producer of a streamed body.

use std::time::Duration;

/// Why a body could not be read (or sent) to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the limit set for it.
    #[error("body larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The connection failed while the body was arriving.
    #[error("receiving the body failed: {0}")]
    Http(#[from] hyper::Error),
    /// A request body's framing was malformed (a bad chunk, say); the
    /// server answers such a request 400 Bad Request.
    #[error("malformed request body: {0}")]
    Malformed(&'static str),
    /// The connection ended before the whole body arrived.
    #[error("the connection ended before the whole body arrived")]
    Incomplete,
    /// The sending side gave up before the end.
    #[error("body aborted: {0}")]
    Aborted(String),
    /// The body's content coding (`Content-Encoding: gzip`, say) does not
    /// decode: corrupt, or cut short.
    #[error("the {coding} body does not decode: {reason}")]
    Decode {
        /// The coding: "gzip" or "deflate".
        coding: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No body bytes arrived for this long while the body was being read
    /// ([`ServerOptions::body_read_timeout`](crate::ServerOptions::body_read_timeout)).
    #[error("no body bytes arrived for {timeout:?}")]
    ReadTimedOut {
        /// The bound that passed.
        timeout: Duration,
    },
    /// The whole body took longer than this to arrive
    /// ([`ServerOptions::body_total_timeout`](crate::ServerOptions::body_total_timeout)).
    #[error("the body took longer than {timeout:?} to arrive")]
    TotalTimedOut {
        /// The bound that passed.
        timeout: Duration,
    },
}

impl BodyError {
    /// True when the client was too slow sending the body: the server
    /// answers such a request 408 Request Timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            BodyError::ReadTimedOut { .. } | BodyError::TotalTimedOut { .. }
        )
    }
}

impl BodyError {
    /// Whether the body was malformed (the client's fault), not cut.
    pub(crate) fn is_malformed(&self) -> bool {
        matches!(self, BodyError::Malformed(_))
    }
}

/// The receiver of a streamed body has gone (the client went away, or the
/// response was dropped): stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body's receiver has gone")]
pub struct BodyClosed;
