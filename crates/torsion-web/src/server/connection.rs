//! Serving one connection: HTTP/2 is told from HTTP/1 by the client's
//! first bytes (the HTTP/2 connection preface, which a client sends first
//! when it knows or has agreed by ALPN that the server speaks HTTP/2), so
//! one port serves both, with or without TLS. The bytes read to decide are
//! handed back to hyper before the rest of the stream.
//!
//! On HTTP/1 every byte passes the [`Http1Check`] on its way to hyper; a
//! request it refuses is answered here, once hyper has answered the
//! requests before it, and the connection ends. Requests that hyper
//! refuses itself (it writes the 400 or 431) and heads cut by the header
//! read timeout are reported to the resource as [`RejectedRequest`]s too.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use hyper::rt::{Read, ReadBufCursor, Write};
use torsion::Reactor;
use torsion::net::AsyncStream;

use super::control::{Control, Order};
use super::http1_check::{Checked, Http1Check, Refusal, Verdict};
use super::service::RequestService;
use super::{Registered, ServerOptions, Shared};
use crate::body::MalformedBody;
use crate::rt::{ReactorExecutor, ReactorTimer};
use crate::upgrade::{Overseer, StopRequest, UpgradableIo, UpgradableStream};
use crate::{ConnectionInfo, RejectedRequest, Resource};

/// What every HTTP/2 client sends first (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's own limit on HTTP/1 header fields.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// The protocol a connection speaks, as its first bytes tell.
#[derive(Debug, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// Serves HTTP on `stream` until the client or an order ends it.
pub(super) async fn serve(
    server: Rc<Shared>,
    reactor: Reactor,
    stream: AsyncStream,
    control: Rc<Control>,
    registered: Rc<Registered>,
) {
    let mut first = [0u8; PREFACE.len()];
    let (protocol, read) = match sniff(&stream, &mut first).await {
        Ok(Some(found)) => found,
        Ok(None) => return,
        Err(error) => {
            tracing::debug!(%error, "connection lost before its first request");
            return;
        }
    };
    let transport = stream.transport();
    // Data has arrived, so a TLS handshake is over and its ALPN known.
    let tls = transport.tls_info();
    let protocol = match &tls {
        Some(info) if info.alpn_protocol.as_deref() == Some(b"h2") => Protocol::Http2,
        _ => protocol,
    };
    let info = ConnectionInfo {
        peer: transport.peer(),
        local: transport.host(),
        tls,
    };
    let options = &server.options;
    let peer = info.peer.clone();
    let service = RequestService {
        resource: server.resource.clone(),
        info,
        control: control.clone(),
        max_body_size: options.max_body_size,
    };
    let io = ServerIo {
        stream,
        replay: first,
        replay_at: 0,
        replay_end: read,
        http1: (protocol == Protocol::Http1).then(|| Http1Oversight {
            control: control.clone(),
            _registered: registered,
            check: Http1Check::new(options.max_header_size, options.max_headers),
            refusing: Refusing::No,
            resource: server.resource.clone(),
            peer: peer.clone(),
        }),
    };
    let outcome = match protocol {
        Protocol::Http1 => {
            // hyper upgrades (WebSockets) only `Send` I/O: the connection is
            // served through a token for the stream kept on this thread.
            let connection = http1(options)
                .serve_connection(UpgradableStream::wrapping(io), service)
                .with_upgrades();
            supervise(connection, &control, |connection| {
                connection.graceful_shutdown()
            })
            .await
        }
        Protocol::Http2 => {
            control.settled_idle();
            let connection = http2(options, &reactor).serve_connection(io, service);
            supervise(connection, &control, |connection| {
                connection.graceful_shutdown()
            })
            .await
        }
    };
    if let Err(error) = outcome {
        tracing::debug!(%error, "HTTP connection ended with an error");
        if let Some(status) = status_written_by_hyper(&error) {
            server.resource.rejected(&RejectedRequest {
                peer,
                status,
                reason: "hyper could not parse the request head",
                request_line: None,
                answered: true,
            });
        }
    }
}

/// The status hyper answered a request it could not parse with, if the
/// connection ended that way (hyper's `on_error` for servers).
fn status_written_by_hyper(error: &hyper::Error) -> Option<http::StatusCode> {
    if error.is_parse_too_large() {
        Some(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    } else if error.is_parse() && !error.is_parse_version_h2() {
        Some(http::StatusCode::BAD_REQUEST)
    } else {
        None
    }
}

fn http1(options: &ServerOptions) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        // The connection's watchdog enforces the header read timeout, for
        // HTTP/2 too and without a timer per request.
        .header_read_timeout(None)
        // The checker enforces the head limit; hyper's, a read above it,
        // is only a backstop, so the refusal and its log line are ours.
        .max_buf_size(options.max_header_size.max(8192) + CHECKED_READ)
        .max_header_size(options.max_header_size + CHECKED_READ);
    // hyper parses into a buffer on the stack for its default count, and
    // allocates one per request for any other.
    if options.max_headers != HYPER_DEFAULT_MAX_HEADERS {
        builder.max_headers(options.max_headers);
    }
    builder
}

fn http2(
    options: &ServerOptions,
    reactor: &Reactor,
) -> hyper::server::conn::http2::Builder<ReactorExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(ReactorExecutor::new(reactor));
    builder
        .timer(ReactorTimer)
        .max_header_list_size(u32::try_from(options.max_header_size).unwrap_or(u32::MAX))
        .max_concurrent_streams(options.http2_max_concurrent_streams)
        .keep_alive_interval(options.http2_keep_alive_interval)
        .keep_alive_timeout(options.http2_keep_alive_timeout);
    builder
}

/// Reads until the first bytes tell the protocol: `None` when the client
/// closed before sending anything.
async fn sniff(
    stream: &AsyncStream,
    first: &mut [u8; PREFACE.len()],
) -> io::Result<Option<(Protocol, usize)>> {
    let mut read = 0;
    loop {
        let n = stream.read(&mut first[read..]).await?;
        if n == 0 {
            return Ok(None);
        }
        read += n;
        if first[..read] != PREFACE[..read] {
            return Ok(Some((Protocol::Http1, read)));
        }
        if read == PREFACE.len() {
            return Ok(Some((Protocol::Http2, read)));
        }
    }
}

/// Drives a hyper connection, carrying out the server's orders: `finish`
/// asks hyper to close once the requests in flight are answered; an abort
/// returns at once, dropping (closing) the connection.
async fn supervise<C>(
    connection: C,
    control: &Control,
    finish: impl Fn(Pin<&mut C>),
) -> hyper::Result<()>
where
    C: Future<Output = hyper::Result<()>>,
{
    let mut connection = std::pin::pin!(connection);
    let mut finishing = false;
    poll_fn(|cx| {
        if !finishing && control.order() >= Order::Finish {
            finishing = true;
            finish(connection.as_mut());
        }
        connection.as_mut().poll(cx)
    })
    .await
}

/// The stream as hyper reads it: first the bytes read to tell the
/// protocol, then the stream. For HTTP/1 it tells the connection's control
/// when bytes arrive, which starts a request head's timeout.
struct ServerIo {
    stream: AsyncStream,
    replay: [u8; PREFACE.len()],
    replay_at: usize,
    replay_end: usize,
    http1: Option<Http1Oversight>,
}

/// What an HTTP/1 connection (one that may be upgraded) keeps of its
/// server: the control to report to, and its place in the server's table,
/// which an upgrade hands on to the new protocol.
struct Http1Oversight {
    control: Rc<Control>,
    /// Held only: the server counts the connection while it lives.
    _registered: Rc<Registered>,
    check: Http1Check,
    refusing: Refusing,
    /// Told of refused requests.
    resource: Rc<dyn Resource>,
    peer: torsion::net::Address,
}

/// Where a connection is in refusing a request.
enum Refusing {
    No,
    /// Waiting for hyper to answer the requests before the refused one.
    Waiting(Refusal),
    /// Answered; hyper is told the stream ended.
    Done,
}

impl Http1Oversight {
    /// Reports a refused request to the resource.
    fn report(&self, refusal: Refusal, answered: bool) {
        tracing::debug!(
            status = refusal.status.as_u16(),
            reason = refusal.reason,
            "refused an HTTP/1 request"
        );
        self.resource.rejected(&RejectedRequest {
            peer: self.peer.clone(),
            status: refusal.status,
            reason: refusal.reason,
            request_line: refusal.request_line,
            answered,
        });
    }
}

impl Drop for Http1Oversight {
    /// A head cut by its timeout is reported as a 408.
    fn drop(&mut self) {
        if self.control.head_timed_out() && self.check.mid_head() {
            let refusal = Refusal {
                status: http::StatusCode::REQUEST_TIMEOUT,
                reason: "request head not received within the header read timeout",
                request_line: self.check.request_line(),
            };
            self.report(refusal, false);
        }
    }
}

/// The response to a refused request: the status, why, and a close.
fn refusal_response(refusal: &Refusal) -> Vec<u8> {
    let status = refusal.status;
    let body = format!(
        "{} {}: {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        refusal.reason
    );
    format!(
        "HTTP/1.1 {} {}\r\ndate: {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        body.len(),
    )
    .into_bytes()
}

/// How much a read takes at once when the checker must see the bytes.
const CHECKED_READ: usize = 8192;

impl UpgradableIo for ServerIo {
    /// By the time hyper gives the connection up it has read the request,
    /// so the sniffed bytes are long replayed.
    fn into_stream(self: Box<Self>) -> (AsyncStream, Option<Box<dyn Overseer>>) {
        debug_assert_eq!(self.replay_at, self.replay_end);
        let overseer = self
            .http1
            .map(|oversight| Box::new(oversight) as Box<dyn Overseer>);
        (self.stream, overseer)
    }
}

impl Overseer for Http1Oversight {
    fn watch(&self, on_stop: Box<dyn Fn(StopRequest)>) {
        self.control.hand_over(Rc::new(move |order| match order {
            Order::Serve => {}
            Order::Finish => on_stop(StopRequest::GoAway),
            Order::Abort => on_stop(StopRequest::Cut),
        }));
    }
}

thread_local! {
    /// The bytes of a checked read, one buffer for the thread: a read is
    /// done with it before the next one starts, and a buffer per
    /// connection would cost every idle connection its size.
    static CHECKED_READ_BUFFER: RefCell<Box<[u8]>> =
        RefCell::new(vec![0; CHECKED_READ].into_boxed_slice());
}

impl ServerIo {
    /// HTTP/1's read: every byte through the checker, and a refused
    /// request answered once the requests before it are.
    fn poll_read_checked(
        &mut self,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(refusing) = self.poll_refusal() {
            return refusing;
        }
        if let Some(http1) = &mut self.http1
            && http1.check.awaits_switch()
        {
            // Read on only once hyper has answered it: if it switched
            // protocols, the rest is for the new protocol's reader.
            if !http1.control.answered_all(http1.check.heads()) {
                return Poll::Pending;
            }
            http1.check.resume();
        }
        let (pass, verdict) = ready!(
            CHECKED_READ_BUFFER.with_borrow_mut(|local| self.read_and_check(cx, &mut buf, local))
        )?;
        let Some(http1) = &mut self.http1 else {
            unreachable!("only HTTP/1 is checked");
        };
        match verdict {
            Verdict::Fine => Poll::Ready(Ok(())),
            Verdict::Refuse(refusal) => {
                http1.refusing = Refusing::Waiting(refusal);
                if pass > 0 {
                    // hyper takes these first; the refusal waits for them.
                    Poll::Ready(Ok(()))
                } else {
                    self.poll_refusal().unwrap_or(Poll::Pending)
                }
            }
            Verdict::Broken(refusal) => {
                let reason = refusal.reason;
                if http1.control.idle() {
                    // Answered already, so the access log has no line
                    // that shows the malformed body.
                    http1.report(refusal, false);
                } else {
                    // The application's read fails with this error, which
                    // it answers 400 (and the access log logs it).
                    tracing::debug!(reason, "malformed body of a request in flight");
                }
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    MalformedBody(reason),
                )))
            }
        }
    }

    /// While a request is refused: nothing more for hyper until it has
    /// answered the requests before it, then the refusal, written here,
    /// and the end of the stream. `None` when no request is refused.
    fn poll_refusal(&mut self) -> Option<Poll<io::Result<()>>> {
        let http1 = self.http1.as_mut()?;
        match std::mem::replace(&mut http1.refusing, Refusing::Done) {
            Refusing::No => {
                http1.refusing = Refusing::No;
                None
            }
            Refusing::Done => Some(Poll::Ready(Ok(()))),
            Refusing::Waiting(refusal) => {
                if !http1.control.answered_all(http1.check.heads()) {
                    // The control wakes the task when the last is answered.
                    http1.refusing = Refusing::Waiting(refusal);
                    return Some(Poll::Pending);
                }
                self.stream.write_all_now(&refusal_response(&refusal));
                http1.report(refusal, true);
                // The end of the stream, to hyper: it closes the connection.
                Some(Poll::Ready(Ok(())))
            }
        }
    }

    /// Reads into `local` (hyper's cursor cannot be read back, and the
    /// checker must see the bytes first), checks them, and passes on what
    /// may go: how many, and the verdict. The end of the stream is none
    /// passed and [`Verdict::Fine`].
    fn read_and_check(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBufCursor<'_>,
        local: &mut [u8],
    ) -> Poll<io::Result<(usize, Verdict)>> {
        let want = buf.remaining().min(local.len());
        let mut read = 0;
        if self.replay_at < self.replay_end {
            read = want.min(self.replay_end - self.replay_at);
            local[..read].copy_from_slice(&self.replay[self.replay_at..self.replay_at + read]);
            self.replay_at += read;
        }
        // With the sniffed bytes, whatever else has come, so that a
        // request sent at once is checked at once.
        match futures_io::AsyncRead::poll_read(
            Pin::new(&mut self.stream),
            cx,
            &mut local[read..want],
        ) {
            Poll::Ready(Ok(n)) => read += n,
            Poll::Ready(Err(error)) if read == 0 => return Poll::Ready(Err(error)),
            Poll::Pending if read == 0 => return Poll::Pending,
            // The stream tells it again at the next read.
            Poll::Ready(Err(_)) | Poll::Pending => {}
        }
        let Some(http1) = &mut self.http1 else {
            unreachable!("only HTTP/1 is checked");
        };
        // Bytes or the end of the stream, where the phase no longer matters.
        http1.control.received();
        if read == 0 {
            return Poll::Ready(Ok((0, Verdict::Fine)));
        }
        let Checked { pass, verdict } = http1.check.check(&mut local[..read]);
        buf.put_slice(&local[..pass]);
        Poll::Ready(Ok((pass, verdict)))
    }
}

impl Read for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.http1.is_some() {
            return this.poll_read_checked(cx, buf);
        }
        if this.replay_at < this.replay_end {
            let n = buf.remaining().min(this.replay_end - this.replay_at);
            buf.put_slice(&this.replay[this.replay_at..this.replay_at + n]);
            this.replay_at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl Write for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
}
