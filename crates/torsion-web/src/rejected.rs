//! [`RejectedRequest`]: a request the server answered itself, without
//! calling the resource, because it was malformed, ambiguous or too large,
//! or because the client took too long to send it.

use std::fmt;

use http::StatusCode;
use torsion::net::Address;

/// A request the server refused before it reached the resource, as
/// [`Resource::rejected`](crate::Resource::rejected) is told of it: what
/// the access log shows for requests that never got to the application.
///
/// The server refuses, with the status given:
///
/// - a malformed request (request line, field line, chunk framing), a
///   missing, repeated or invalid Host on HTTP/1.1, an ambiguous body
///   length (Content-Length with Transfer-Encoding, a repeated or invalid
///   Content-Length, chunked not last or repeated), a target form the method
///   does not take: 400;
/// - a transfer coding it does not decode: 501; a version other than
///   HTTP/1.x on an HTTP/1 connection: 505;
/// - a request line longer than the head limit: 414; a head over the limit
///   or with too many fields: 431;
/// - a request head not received within the header read timeout: 408 (the
///   connection is closed without an answer, as nginx does).
///
/// After each of these the connection is closed.
#[derive(Clone, Debug)]
pub struct RejectedRequest {
    pub(crate) peer: Address,
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
    pub(crate) request_line: Option<String>,
    pub(crate) answered: bool,
}

impl RejectedRequest {
    /// The client's address.
    pub fn peer(&self) -> &Address {
        &self.peer
    }

    /// The status the request was refused with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Why, in a few words (`no Host in an HTTP/1.1 request`).
    pub fn reason(&self) -> &str {
        self.reason
    }

    /// The request line as far as it was received (its start only, for a
    /// long one), with control bytes escaped; `None` when none was read.
    pub fn request_line(&self) -> Option<&str> {
        self.request_line.as_deref()
    }

    /// Whether the client was sent the status (a timed-out request is not:
    /// its connection is just closed).
    pub fn answered(&self) -> bool {
        self.answered
    }
}

impl fmt::Display for RejectedRequest {
    /// `127.0.0.1:5000 "GET a:80 HTTP/1.1" 400 (authority-form target on a
    /// method other than CONNECT)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} \"{}\" {} ({}",
            self.peer,
            self.request_line.as_deref().unwrap_or("-"),
            self.status.as_u16(),
            self.reason
        )?;
        if !self.answered {
            f.write_str("; closed without an answer")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(answered: bool) -> RejectedRequest {
        RejectedRequest {
            peer: Address::Tcp("127.0.0.1:5000".parse().unwrap()),
            status: StatusCode::REQUEST_TIMEOUT,
            reason: "too slow",
            request_line: None,
            answered,
        }
    }

    #[test]
    fn a_rejected_request_shows_its_peer_line_status_and_reason() {
        assert_eq!(
            rejected(true).to_string(),
            "127.0.0.1:5000 \"-\" 408 (too slow)"
        );
    }

    #[test]
    fn an_unanswered_rejection_says_the_connection_was_only_closed() {
        assert_eq!(
            rejected(false).to_string(),
            "127.0.0.1:5000 \"-\" 408 (too slow; closed without an answer)"
        );
    }
}
