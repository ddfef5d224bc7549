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
//!
//! An HTTP/1 connection at rest between requests *parks*: hyper is told
//! the stream ended, finishes its connection (without shutting the stream)
//! and is dropped with its read and write buffers (some 16 KiB, most of
//! what an idle keep-alive connection would cost), and the task waits for
//! the socket to be readable holding no buffer. When the client sends
//! again, a new hyper connection takes the stream up where the last one
//! left it. Only a connection whose every request was answered, whose
//! last request body was read, and with nothing arrived since, parks; see
//! [`Control`] for how often.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Read, ReadBufCursor, Write};
use torsion::net::AsyncStream;
use torsion::{Failure, Reactor};

use super::control::{Control, Order};
use super::http1_check::Http1Check;
use super::http1_oversight::{CHECKED_READ, Http1Oversight, Replay};
use super::pipeline::HeldResponses;
use super::service::RequestService;
use super::{Registered, ServerOptions, Shared};
use crate::rt::{ReactorExecutor, ReactorTimer};
use crate::upgrade::{Overseer, UpgradableIo, UpgradableStream};
use crate::{ConnectionInfo, RejectedRequest};

/// What every HTTP/2 client sends first (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's own limit on HTTP/1 header fields.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// Streams a client may open and reset before the server has taken them
/// up, after which the connection ends with GOAWAY `ENHANCE_YOUR_CALM`:
/// the rapid reset attack (CVE-2023-44487). h2's default, stated here so
/// that the protection does not depend on a dependency's default.
const HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// Streams the server may reset for a client's errors on one connection
/// before it ends with GOAWAY (RUSTSEC-2024-0003: a client provoking
/// resets faster than they are cleaned up). hyper's default, stated for
/// the same reason.
const HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// How often a finished connection looks whether its last bytes have gone
/// to the socket.
const FLUSH_CHECK: Duration = Duration::from_millis(10);

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
    let transport = stream.transport().clone();
    // Data has arrived, so a TLS handshake is over and its ALPN known.
    let tls = transport.tls_info();
    let protocol = match &tls {
        Some(info) if info.alpn_protocol.as_deref() == Some(b"h2") => Protocol::Http2,
        _ => protocol,
    };
    // Connections are listed under what they speak (the live view).
    transport.set_protocol_name(match protocol {
        Protocol::Http1 => "http/1.1",
        Protocol::Http2 => "h2",
    });
    let info = Rc::new(ConnectionInfo {
        peer: transport.peer(),
        local: transport.host(),
        tls,
    });
    let options = &server.options;
    let peer = info.peer.clone();
    let service = RequestService {
        resource: server.resource.clone(),
        info,
        control: control.clone(),
        server: server.clone(),
    };
    if protocol == Protocol::Http1 && super::http1::native() {
        let mut connection =
            super::http1::Http1Connection::new(stream, &first[..read], service, registered);
        if let super::http1::Ended::Switched(offer) = poll_fn(|cx| connection.poll(cx)).await {
            if let Some(handover) = connection.hand_over() {
                offer.hand_over(handover);
            }
            return;
        }
        drop(connection);
        flush_before_closing(&transport, &server, &reactor).await;
        return;
    }
    let held = Rc::new(HeldResponses::default());
    let io = ServerIo {
        stream,
        held: held.clone(),
        pipeline_flush: options.http1_pipeline_flush,
        replay: first,
        replay_at: 0,
        replay_end: read,
        flushed: true,
        http1: (protocol == Protocol::Http1).then(|| {
            Http1Oversight::new(
                control.clone(),
                registered,
                Http1Check::new(options.max_header_size, options.max_headers),
                server.resource.clone(),
                peer.clone(),
            )
        }),
    };
    let outcome = match protocol {
        Protocol::Http1 => {
            let settle = || held.release(&transport);
            serve_http1(&http1(options), io, service, &control, &settle).await
        }
        Protocol::Http2 => {
            control.settled_idle();
            // Boxed: held inline, its room would be every connection's.
            let mut connection = Box::pin(http2(options, &reactor).serve_connection(io, service));
            supervise(
                connection.as_mut(),
                &control,
                || {},
                |connection| connection.graceful_shutdown(),
            )
            .await
        }
    };
    flush_before_closing(&transport, &server, &reactor).await;
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

/// Waits for the transport to send what it holds: the connection is done
/// once the last response is in the transport's buffer, and counts as
/// open until the buffer has gone to the socket, so that a graceful stop
/// (and the reactor's shutdown after it) does not cut a download's last
/// bytes. A peer that stops reading is waited for no longer than a
/// graceful stop is.
async fn flush_before_closing(
    transport: &torsion::net::Transport,
    server: &Shared,
    reactor: &Reactor,
) {
    let flushing = Instant::now();
    while transport.buffered() > 0 && flushing.elapsed() < server.options.shutdown_timeout {
        let _ = torsion::time::defer_later(reactor, FLUSH_CHECK, || Ok::<_, Failure>(())).await;
    }
}

/// Serves HTTP/1 with hyper, parking between requests (see the module's
/// documentation) and taking a new hyper connection up when the client
/// sends again; ends when hyper does otherwise, or when told to finish
/// while parked. `settle` runs whenever hyper stops for now.
async fn serve_http1(
    builder: &hyper::server::conn::http1::Builder,
    mut io: ServerIo,
    mut service: RequestService,
    control: &Control,
    settle: &dyn Fn(),
) -> hyper::Result<()> {
    loop {
        // hyper upgrades (WebSockets) only `Send` I/O: the connection is
        // served through a token for the stream kept on this thread. Boxed,
        // so that a parked connection's task keeps none of its room.
        let mut connection = Box::new(
            builder
                .serve_connection(UpgradableStream::wrapping(io), service)
                .with_upgrades(),
        );
        supervise(Pin::new(&mut *connection), control, settle, |connection| {
            connection.graceful_shutdown()
        })
        .await?;
        // Upgraded (the stream has gone to the new protocol), or ended.
        let Some(parts) = connection.into_parts() else {
            return Ok(());
        };
        let hyper::server::conn::http1::Parts {
            io: token,
            read_buf,
            service: kept,
            ..
        } = parts;
        let Some(mut parked) = token.into_io::<ServerIo>() else {
            return Ok(());
        };
        let parking = parked
            .http1
            .as_mut()
            .is_some_and(Http1Oversight::take_parking);
        if !parking {
            return Ok(());
        }
        // hyper reads only when it has parsed all it holds. Even empty,
        // the bytes keep hyper's whole read buffer alive: let them go.
        debug_assert!(read_buf.is_empty());
        drop(read_buf);
        control.set_parked(true);
        let resume = {
            let mut readable = std::pin::pin!(parked.stream.readable());
            poll_fn(|cx| {
                if control.order() >= Order::Finish {
                    // A graceful stop closes a connection at rest.
                    return Poll::Ready(false);
                }
                readable.as_mut().poll(cx).map(|()| true)
            })
            .await
        };
        if !resume {
            return Ok(());
        }
        control.set_parked(false);
        io = parked;
        service = kept;
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
        // A response's head and a small body leave in one buffer and one
        // send, not as a queue handed to writev: about 500 fewer
        // instructions per request and a cheaper send. A large body costs
        // one more copy, which a 64 MiB file's download does not show.
        .writev(false)
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
        .max_pending_accept_reset_streams(HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS)
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
/// returns at once, dropping (closing) the connection. `settle` runs
/// whenever hyper stops for now or for good.
async fn supervise<C>(
    mut connection: Pin<&mut C>,
    control: &Control,
    settle: impl Fn(),
    finish: impl Fn(Pin<&mut C>),
) -> hyper::Result<()>
where
    C: Future<Output = hyper::Result<()>>,
{
    let mut finishing = false;
    poll_fn(|cx| {
        if !finishing && control.order() >= Order::Finish {
            finishing = true;
            finish(connection.as_mut());
        }
        let polled = connection.as_mut().poll(cx);
        settle();
        polled
    })
    .await
}

/// The stream as hyper reads it: first the bytes read to tell the
/// protocol, then the stream. For HTTP/1 it tells the connection's control
/// when bytes arrive, which starts a request head's timeout.
struct ServerIo {
    stream: AsyncStream,
    /// Responses held back while pipelined requests wait (HTTP/1).
    held: Rc<HeldResponses>,
    pipeline_flush: bool,
    replay: [u8; PREFACE.len()],
    replay_at: usize,
    replay_end: usize,
    /// hyper has flushed all it wrote: it holds nothing of its own to
    /// write (it writes its buffer out before it flushes the stream).
    flushed: bool,
    http1: Option<Http1Oversight>,
}

impl UpgradableIo for ServerIo {
    /// By the time hyper gives the connection up it has read the request,
    /// so the sniffed bytes are long replayed.
    fn into_stream(self: Box<Self>) -> (AsyncStream, Option<Box<dyn Overseer>>) {
        debug_assert_eq!(self.replay_at, self.replay_end);
        self.held.release(self.stream.transport());
        let overseer = self
            .http1
            .map(|oversight| Box::new(oversight) as Box<dyn Overseer>);
        (self.stream, overseer)
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

impl Read for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(http1) = &mut this.http1 {
            let replay = Replay {
                bytes: &this.replay[..this.replay_end],
                taken: &mut this.replay_at,
            };
            return http1.poll_read(&mut this.stream, replay, this.flushed, cx, buf);
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

impl ServerIo {
    fn poll_write_slices(
        &mut self,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &self.http1 {
            Some(http1) if self.pipeline_flush => {
                let more_waiting = http1.requests_waiting();
                self.held
                    .poll_write(&mut self.stream, cx, slices, more_waiting)
            }
            _ => Pin::new(&mut self.stream).poll_write_vectored(cx, slices),
        }
    }
}

impl Write for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.flushed = false;
        this.poll_write_slices(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.stream).poll_flush(cx);
        this.flushed = flushed.is_ready();
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // hyper shuts the stream down right after a last response, which
        // may be held (it answered a request it refused itself, or an
        // HTTP/1.0 request, with whole requests still behind it).
        this.held.release(this.stream.transport());
        if this.http1.as_ref().is_some_and(Http1Oversight::parking) {
            // hyper finishes to park: the stream goes on.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.flushed = false;
        this.poll_write_slices(cx, bufs)
    }
}
