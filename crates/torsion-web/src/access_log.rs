//! [`AccessLog`]: one log line per request, through `tracing` (twisted.web's
//! access log, in the combined format's spirit).

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use torsion::Failure;

use crate::{RejectedRequest, Reply, Request, RequestExt, Resource};

/// The `tracing` target access lines are logged under, so a subscriber can
/// route them apart (`RUST_LOG=torsion_web::access=info`).
pub const ACCESS_LOG_TARGET: &str = "torsion_web::access";

/// Wraps a resource and logs every request it answers at INFO level under
/// [`ACCESS_LOG_TARGET`]: the client's address, method, path (with the
/// query), protocol version, status, the body's length when it is known
/// before sending (`-` for a streamed body of unknown length), and the time
/// until the response was ready. Requests the server refuses before they
/// reach a resource (a malformed head, a timeout: see
/// [`RejectedRequest`]) get a line too, when the access log wraps the
/// server's resource.
///
/// ```
/// use torsion_web::{AccessLog, Body, Request, Response, Server};
///
/// let logged = AccessLog::new(|_request: Request| Response::new(Body::from("hi\n")));
/// let _server = Server::new(logged);
/// ```
///
/// A line reads, with tracing-subscriber's default format:
///
/// ```text
/// INFO torsion_web::access: 127.0.0.1:51234 "GET /index.html HTTP/1.1" 200 1043 0.4ms
/// ```
pub struct AccessLog<R> {
    inner: R,
}

impl<R: Resource> AccessLog<R> {
    /// Logs the requests `inner` answers.
    pub fn new(inner: R) -> AccessLog<R> {
        AccessLog { inner }
    }

    /// The wrapped resource.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: Resource> Resource for AccessLog<R> {
    fn handle(&self, request: Request) -> Reply {
        let started = Instant::now();
        let peer = request
            .connection()
            .map_or_else(|| "-".to_owned(), |info| info.peer.to_string());
        let line = RequestLine {
            method: request.method().clone(),
            target: request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().to_string(), |target| target.to_string()),
            version: request.version(),
        };
        // Caught here too, so a panicking resource still gets its line (500).
        let reply = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.handle(request)))
            .unwrap_or_else(|payload| Reply::failed(Failure::from_panic(payload)));
        Reply::later(async move {
            let result = reply.await;
            let elapsed = started.elapsed();
            let (status, bytes) = match &result {
                Ok(response) => (
                    response.status().as_u16(),
                    bytes_sent(&line.method, response),
                ),
                Err(failure) => (crate::http_error::failure_status(failure).as_u16(), None),
            };
            let bytes = bytes.map_or_else(|| "-".to_owned(), |bytes| bytes.to_string());
            tracing::info!(
                target: ACCESS_LOG_TARGET,
                "{peer} \"{line}\" {status} {bytes} {:.1}ms",
                elapsed.as_secs_f64() * 1000.0,
            );
            result
        })
    }

    /// Logs a request the server refused before it reached a resource, with
    /// the status it was refused with, `-` for the length and the time, and
    /// why: `127.0.0.1:51234 "GET / HTTP/1.1" 400 - - rejected: no Host in
    /// an HTTP/1.1 request`.
    fn rejected(&self, request: &RejectedRequest) {
        let closed = if request.answered() {
            ""
        } else {
            ", closed without an answer"
        };
        tracing::info!(
            target: ACCESS_LOG_TARGET,
            "{} \"{}\" {} - - rejected: {}{closed}",
            request.peer(),
            request.request_line().unwrap_or("-"),
            request.status().as_u16(),
            request.reason(),
        );
        self.inner.rejected(request);
    }
}

struct RequestLine {
    method: http::Method,
    target: String,
    version: http::Version,
}

impl fmt::Display for RequestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Control characters are escaped so a request cannot forge log lines.
        write!(
            f,
            "{} {} {:?}",
            self.method,
            self.target.escape_default(),
            self.version
        )
    }
}

/// The body's length: none for HEAD, 1xx, 204 and 304; else known
/// exactly, or declared in Content-Length (a streamed file).
fn bytes_sent(method: &http::Method, response: &crate::Response) -> Option<u64> {
    let status = response.status();
    if method == http::Method::HEAD
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
    {
        return Some(0);
    }
    response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .or_else(|| response.body().exact_len())
}

impl<R> fmt::Debug for AccessLog<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Waker};

    use super::*;
    use crate::{Body, Response};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Answers `request` through `resource` wrapped in an access log and
    /// returns what was logged.
    fn logged(resource: impl Resource, request: Request) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let reply = AccessLog::new(resource).handle(request);
            let mut cx = Context::from_waker(Waker::noop());
            assert!(std::pin::pin!(reply).poll(&mut cx).is_ready());
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    fn get(target: &str) -> Request {
        http::Request::get(target).body(Body::empty()).unwrap()
    }

    #[test]
    fn a_line_names_the_request_status_and_length() {
        let log = logged(
            |_request: Request| Response::new(Body::from("hello")),
            get("/a/b?x=1"),
        );
        assert!(log.contains("torsion_web::access"), "{log}");
        assert!(log.contains("- \"GET /a/b?x=1 HTTP/1.1\" 200 5 "), "{log}");
        assert!(log.contains("ms"), "{log}");
    }

    #[test]
    fn head_requests_and_unknown_lengths_are_told_apart() {
        let head = http::Request::head("/").body(Body::empty()).unwrap();
        let log = logged(|_request: Request| Response::new(Body::from("hello")), head);
        assert!(log.contains("\"HEAD / HTTP/1.1\" 200 0 "), "{log}");
        let log = logged(
            |_request: Request| Response::new(Body::channel(8).1),
            get("/stream"),
        );
        assert!(log.contains("\"GET /stream HTTP/1.1\" 200 - "), "{log}");
    }

    #[test]
    fn a_rejected_request_is_logged_with_its_status_and_reason() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let rejected = RejectedRequest {
            peer: torsion::net::Address::Tcp("127.0.0.1:5000".parse().unwrap()),
            status: http::StatusCode::BAD_REQUEST,
            reason: "no Host in an HTTP/1.1 request",
            request_line: Some("GET / HTTP/1.1".to_owned()),
            answered: true,
        };
        tracing::subscriber::with_default(subscriber, || {
            AccessLog::new(|_request: Request| Response::new(Body::empty())).rejected(&rejected);
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.contains(
                "127.0.0.1:5000 \"GET / HTTP/1.1\" 400 - - rejected: no Host in an HTTP/1.1 request"
            ),
            "{log}"
        );
    }

    #[test]
    fn a_panicking_resource_is_logged_as_500_and_fails_its_reply() {
        let log = logged(
            |_request: Request| -> Response { panic!("boom") },
            get("/x"),
        );
        assert!(log.contains("\"GET /x HTTP/1.1\" 500 - "), "{log}");
    }
}
