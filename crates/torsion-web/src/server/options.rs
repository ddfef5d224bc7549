//! [`ServerOptions`]: the limits and timeouts a [`Server`](super::Server)
//! applies to every connection.

use std::time::Duration;

/// Limits and timeouts of a [`Server`](super::Server). The defaults suit a
/// server facing the public: change the fields you care about and keep the
/// rest with `..ServerOptions::default()`.
///
/// ```
/// use std::time::Duration;
/// use torsion_web::ServerOptions;
///
/// let options = ServerOptions {
///     max_body_size: Some(1024 * 1024),
///     header_read_timeout: Some(Duration::from_secs(5)),
///     ..ServerOptions::default()
/// };
/// assert_eq!(options.max_header_size, 64 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// The most bytes of request line and headers (HTTP/1) or of a header
    /// list (HTTP/2) accepted; larger requests get 431 Request Header
    /// Fields Too Large (HTTP/1) or a stream reset (HTTP/2). At least
    /// 8 KiB. Default 64 KiB.
    pub max_header_size: usize,
    /// The most header fields in an HTTP/1 request. Default 100.
    pub max_headers: usize,
    /// The most bytes of a request body. A request announcing a longer
    /// `Content-Length` is answered 413 Payload Too Large without calling
    /// the resource; a body that turns out longer while it streams fails
    /// with [`BodyError::TooLarge`](crate::BodyError::TooLarge) when read.
    /// `None` for no limit. Default 16 MiB.
    pub max_body_size: Option<u64>,
    /// How long a client has, from its connection or the first byte of a
    /// request, to send the whole request head; slower clients are
    /// disconnected (the defence against slowloris). `None` for no limit.
    /// Default 30 s.
    pub header_read_timeout: Option<Duration>,
    /// How long a request body may go without a byte arriving while the
    /// resource waits for it (time the resource spends not reading does
    /// not count). Past it the body's read fails with
    /// [`BodyError::ReadTimedOut`](crate::BodyError::ReadTimedOut); a
    /// resource that has not answered yet is answered 408 Request Timeout
    /// and the connection closed; a response already under way is cut (the
    /// HTTP/1 connection closed, the HTTP/2 stream reset). `None` for no
    /// limit. Default 30 s.
    pub body_read_timeout: Option<Duration>,
    /// How long a whole request body may take to arrive, counted from the
    /// resource's first read; past it the read fails with
    /// [`BodyError::TotalTimedOut`](crate::BodyError::TotalTimedOut) and the
    /// request ends as for `body_read_timeout`. Bounds a client that
    /// trickles a large body just fast enough. `None` for no limit.
    /// Default 5 minutes: raise it when large uploads come over slow
    /// links.
    pub body_total_timeout: Option<Duration>,
    /// How long a connection may sit with no request in flight and nothing
    /// received before the server closes it. `None` keeps idle connections
    /// open. Default 60 s.
    pub idle_timeout: Option<Duration>,
    /// HTTP/1: when a client pipelines requests (sends several before
    /// reading the answers), the responses to the requests that arrived
    /// whole together leave in one write once the last of them is
    /// answered, rather than one write each. Only whole requests waiting
    /// behind the one being answered hold a response back (a request body
    /// never does), at most 16 KiB is held, and what is held goes out
    /// whenever the connection waits, so a slow handler never delays the
    /// answers before it. With `false`, each response is written as soon as
    /// it is complete. Default `true`.
    pub http1_pipeline_flush: bool,
    /// How often to ping an HTTP/2 client that has sent nothing, to find
    /// dead connections. `None` for no pings. Default `None`.
    pub http2_keep_alive_interval: Option<Duration>,
    /// How long to wait for the answer to an HTTP/2 ping before closing the
    /// connection. Default 20 s.
    pub http2_keep_alive_timeout: Duration,
    /// The most concurrent requests (streams) on one HTTP/2 connection.
    /// Default 200.
    pub http2_max_concurrent_streams: u32,
    /// When the reactor stops, how long in-flight requests may take to
    /// finish, and WebSocket peers to answer the close (1001) they are
    /// sent, before their connections are cut. Default 10 s.
    pub shutdown_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            max_header_size: 64 * 1024,
            max_headers: 100,
            max_body_size: Some(16 * 1024 * 1024),
            header_read_timeout: Some(Duration::from_secs(30)),
            body_read_timeout: Some(Duration::from_secs(30)),
            body_total_timeout: Some(Duration::from_secs(5 * 60)),
            idle_timeout: Some(Duration::from_secs(60)),
            http1_pipeline_flush: true,
            http2_keep_alive_interval: None,
            http2_keep_alive_timeout: Duration::from_secs(20),
            http2_max_concurrent_streams: 200,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl ServerOptions {
    /// The shortest timeout set: how often a connection's watchdog looks.
    pub(super) fn watchdog_period(&self) -> Option<Duration> {
        [
            self.header_read_timeout,
            self.idle_timeout,
            self.body_read_timeout,
            self.body_total_timeout,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// True when request bodies are timed.
    pub(super) fn times_bodies(&self) -> bool {
        self.body_read_timeout.is_some() || self.body_total_timeout.is_some()
    }
}
