//! Serving one connection: HTTP/2 is told from HTTP/1 by the client's
//! first bytes (the HTTP/2 connection preface, which a client sends first
//! when it knows or has agreed by ALPN that the server speaks HTTP/2), so
//! one port serves both, with or without TLS. The bytes read to decide are
//! handed back to the protocol's reader before the rest of the stream.
//!
//! HTTP/1 is parsed and answered by torsion-web's own
//! [`Http1Connection`](super::http1::Http1Connection); HTTP/2 by hyper's
//! connection over the torsion stream.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::server::conn::http2::Connection as Http2;
use torsion::net::AsyncStream;
use torsion::{Failure, Reactor};

use super::control::{Control, Order};
use super::http1::{Ended, Http1Connection};
use super::service::RequestService;
use super::{Registered, ServerOptions, Shared};
use crate::ConnectionInfo;
use crate::rt::{ReactorExecutor, ReactorTimer};

/// What every HTTP/2 client sends first (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

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
    let service = RequestService {
        resource: server.resource.clone(),
        info,
        control: control.clone(),
        server: server.clone(),
    };
    if protocol == Protocol::Http1 {
        let mut connection = Http1Connection::new(stream, &first[..read], service, registered);
        if let Ended::Switched(offer) = poll_fn(|cx| connection.poll(cx)).await {
            if let Some(handover) = connection.hand_over() {
                offer.hand_over(handover);
            }
            return;
        }
        drop(connection);
        flush_before_closing(&transport, &server, &reactor).await;
        return;
    }
    drop(registered);
    let io = ServerIo {
        stream,
        replay: first,
        replay_at: 0,
        replay_end: read,
    };
    control.settled_idle();
    // Boxed: held inline, its room would be every connection's.
    let mut connection = Box::pin(http2(options, &reactor).serve_connection(io, service));
    let outcome = supervise(connection.as_mut(), &control).await;
    flush_before_closing(&transport, &server, &reactor).await;
    if let Err(error) = outcome {
        tracing::debug!(%error, "HTTP/2 connection ended with an error");
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

/// Drives hyper's HTTP/2 connection, carrying out the server's orders:
/// `finish` asks hyper to close once the requests in flight are answered
/// (GOAWAY); an abort returns at once, dropping (closing) the connection.
async fn supervise(
    mut connection: Pin<&mut Http2<ServerIo, RequestService, ReactorExecutor>>,
    control: &Control,
) -> hyper::Result<()> {
    let mut finishing = false;
    poll_fn(|cx| {
        if !finishing && control.order() >= Order::Finish {
            finishing = true;
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await
}

/// The stream as hyper's HTTP/2 connection reads it: first the bytes read
/// to tell the protocol, then the stream.
struct ServerIo {
    stream: AsyncStream,
    replay: [u8; PREFACE.len()],
    replay_at: usize,
    replay_end: usize,
}

impl Read for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
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
