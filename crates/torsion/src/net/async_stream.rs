//! The same connections as async streams: [`AsyncStream`] implements
//! futures-io's and tokio's `AsyncRead` / `AsyncWrite` (tokio without its
//! runtime), so crates written against those traits (codecs, TLS wrappers,
//! HTTP stacks) run over torsion sockets inside
//! [`Reactor::spawn`](crate::Reactor::spawn).
//!
//! ```
//! use torsion::net::{AsyncListener, ConnectOptions};
//! use torsion::{Failure, Reactor};
//!
//! let reactor = Reactor::new()?;
//! let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse()?)?;
//! let address = listener.address();
//! let r = reactor.clone();
//! let done = reactor.spawn(async move {
//!     let client = r.connect_stream(address, ConnectOptions::default()).await?;
//!     let (server, _peer) = listener.accept().await?;
//!     client.write_all_now(b"hello");
//!     let mut buf = [0u8; 5];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     r.stop().unwrap();
//!     Ok::<(), Failure>(())
//! });
//! reactor.run()?;
//! # drop(done);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::defer::DeferredQueue;
use crate::error::NetError;
use crate::net::{
    Address, ConnectOptions, Factory, HIGH_WATER_MARK, HalfClose, ListeningPort, Producer,
    Protocol, PushProducer, Transport, factory_fn,
};
use crate::{Deferred, Failure, Reactor};

/// Received bytes held for the reader before the socket is paused.
const READ_AHEAD: usize = 64 * 1024;

#[derive(Default)]
struct Shared {
    incoming: VecDeque<u8>,
    eof: bool,
    /// Why the connection ended, when not cleanly; the next read fails
    /// with it.
    error: Option<String>,
    reader: Option<Waker>,
    writer: Option<Waker>,
    reading_paused: bool,
    transport: Option<Transport>,
    handshake_done: bool,
    handshake_waiter: Option<Waker>,
}

/// The protocol behind an [`AsyncStream`]: it queues what arrives and wakes
/// the task waiting for it.
struct StreamProtocol {
    shared: Rc<RefCell<Shared>>,
}

impl Protocol for StreamProtocol {
    fn connection_made(&mut self, transport: &Transport) {
        // The stream's one reader reads the socket itself, into its own
        // buffer; a TLS connection keeps the queue.
        transport.take_reads();
        self.shared.borrow_mut().transport = Some(transport.clone());
        // Told when the write buffer drains, to wake a blocked writer.
        let waker = WriterWaker(self.shared.clone());
        let _ = transport.register_producer(Producer::Push(Rc::new(waker)));
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut shared = self.shared.borrow_mut();
        shared.incoming.extend(data);
        if shared.incoming.len() >= READ_AHEAD && !shared.reading_paused {
            shared.reading_paused = true;
            if let Some(transport) = &shared.transport {
                transport.pause_reading();
            }
        }
        if let Some(waker) = shared.reader.take() {
            waker.wake();
        }
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        let mut shared = self.shared.borrow_mut();
        shared.eof = true;
        if let Some(waker) = shared.reader.take() {
            waker.wake();
        }
        // The reader sees end of file; the writer may go on (a half-close),
        // as with tokio's TcpStream.
        HalfClose::KeepWriting
    }

    fn handshake_completed(&mut self) {
        let mut shared = self.shared.borrow_mut();
        shared.handshake_done = true;
        if let Some(waker) = shared.handshake_waiter.take() {
            waker.wake();
        }
    }

    fn connection_lost(&mut self, reason: Failure) {
        let mut shared = self.shared.borrow_mut();
        shared.eof = true;
        if !reason.is::<crate::error::ConnectionDone>() && shared.error.is_none() {
            shared.error = Some(reason.to_string());
        }
        shared.transport = None;
        for waker in [
            shared.reader.take(),
            shared.writer.take(),
            shared.handshake_waiter.take(),
        ]
        .into_iter()
        .flatten()
        {
            waker.wake();
        }
    }
}

struct WriterWaker(Rc<RefCell<Shared>>);

impl PushProducer for WriterWaker {
    fn pause_producing(&self) {}

    fn resume_producing(&self) {
        if let Some(waker) = self.0.borrow_mut().writer.take() {
            waker.wake();
        }
    }

    fn stop_producing(&self) {
        if let Some(waker) = self.0.borrow_mut().writer.take() {
            waker.wake();
        }
    }
}

/// A connection used with async/await. Reading waits for data; writing
/// waits only while more than the transport's high-water mark is buffered.
/// Dropping the stream closes the connection once what was written has
/// been sent.
pub struct AsyncStream {
    shared: Rc<RefCell<Shared>>,
    transport: Transport,
}

impl AsyncStream {
    fn new(shared: Rc<RefCell<Shared>>, transport: Transport) -> AsyncStream {
        AsyncStream { shared, transport }
    }

    /// The underlying transport (addresses, TCP options, `start_tls`).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Reads into `buf`; 0 means end of file.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_into(cx, buf)).await
    }

    /// Waits until a read would not wait: bytes have arrived, or the
    /// stream has ended (or failed). Reads nothing, and holds no buffer
    /// while it waits, so a connection idle between messages can give its
    /// buffers up and take them again only when its peer speaks. The
    /// socket may turn out to hold nothing after all (its readiness was
    /// last seen before a read that emptied it exactly); the next read then
    /// just waits.
    pub async fn readable(&self) {
        // A read into no room: pending while nothing is there, done at once
        // once something is (the same path as a real read, so bytes queued
        // for TLS and an ended stream count too).
        let _ = poll_fn(|cx| self.poll_read_into(cx, &mut [])).await;
    }

    /// Reads exactly `buf.len()` bytes, or fails with `UnexpectedEof`.
    pub async fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.read(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Waits for the TLS handshake to finish and gives what it agreed on
    /// (the ALPN protocol, the version). Fails with the reason the
    /// connection ended if it ended first (a certificate that did not
    /// verify, say), and at once with `InvalidInput` on a connection
    /// without TLS.
    pub async fn tls_handshake(&self) -> io::Result<crate::net::tls::TlsInfo> {
        poll_fn(|cx| {
            let mut shared = self.shared.borrow_mut();
            if shared.handshake_done
                && let Some(info) = self.transport.tls_info()
            {
                return Poll::Ready(Ok(info));
            }
            if let Some(reason) = &shared.error {
                return Poll::Ready(Err(NetError::ConnectionEnded(reason.clone()).into()));
            }
            if shared.eof {
                return Poll::Ready(Err(NetError::HandshakeInterrupted.into()));
            }
            if !self.transport.is_tls() {
                return Poll::Ready(Err(NetError::NotTls.into()));
            }
            shared.handshake_waiter = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Writes all of `data` without waiting (the transport buffers what the
    /// socket does not take).
    pub fn write_all_now(&self, data: &[u8]) {
        self.transport.write(data);
    }

    fn poll_read_into(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if let Some(polled) = self.poll_direct(cx, buf) {
            return polled;
        }
        let mut filled = 0;
        self.poll_take(cx, buf.len(), |chunk| {
            buf[filled..filled + chunk.len()].copy_from_slice(chunk);
            filled += chunk.len();
        })
    }

    /// Reads from the socket straight into `buf`, when the transport's
    /// reads are taken and nothing is queued: `None` means the bytes come
    /// through the queue ([`poll_take`](Self::poll_take)).
    pub(crate) fn poll_direct(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        {
            let shared = self.shared.borrow();
            // Bytes queued before the reads were taken (or while TLS read
            // them) go first, and how the stream ended is told once.
            if !shared.incoming.is_empty() || shared.error.is_some() || shared.eof {
                return None;
            }
        }
        self.transport.poll_read_now(cx, buf)
    }

    /// Hands up to `max` received bytes to `take`, in at most two slices
    /// (the queue is a ring), and returns how many.
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        mut take: impl FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        let mut shared = self.shared.borrow_mut();
        if !shared.incoming.is_empty() {
            let n = max.min(shared.incoming.len());
            let (front, back) = shared.incoming.as_slices();
            let from_front = n.min(front.len());
            take(&front[..from_front]);
            if from_front < n {
                take(&back[..n - from_front]);
            }
            shared.incoming.drain(..n);
            if shared.reading_paused && shared.incoming.len() < READ_AHEAD / 2 {
                shared.reading_paused = false;
                let transport = shared.transport.clone();
                drop(shared);
                if let Some(transport) = transport {
                    transport.resume_reading();
                }
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(reason) = shared.error.take() {
            return Poll::Ready(Err(NetError::ConnectionEnded(reason).into()));
        }
        if shared.eof || max == 0 {
            return Poll::Ready(Ok(0));
        }
        shared.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    pub(crate) fn poll_write_from(
        &self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.transport.is_open() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if self.transport.buffered() > HIGH_WATER_MARK {
            self.shared.borrow_mut().writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        self.transport.write(data);
        Poll::Ready(Ok(data.len()))
    }

    /// Waits for room as [`poll_write_from`](Self::poll_write_from) does,
    /// then writes every slice at once.
    pub(crate) fn poll_write_vectored_from(
        &self,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.transport.is_open() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if self.transport.buffered() > HIGH_WATER_MARK {
            self.shared.borrow_mut().writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        self.transport.write_vectored(slices);
        Poll::Ready(Ok(slices.iter().map(|slice| slice.len()).sum()))
    }

    pub(crate) fn poll_shutdown_write(&self) -> Poll<io::Result<()>> {
        self.transport.lose_write_connection();
        Poll::Ready(Ok(()))
    }
}

impl Drop for AsyncStream {
    fn drop(&mut self) {
        // The wake-up producer would hold the close back.
        self.transport.unregister_producer();
        self.transport.lose_connection();
    }
}

impl fmt::Debug for AsyncStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncStream")
            .field("transport", &self.transport)
            .finish()
    }
}

impl futures_io::AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_into(cx, buf)
    }
}

impl futures_io::AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_from(cx, buf)
    }

    /// The transport writes what it buffered on its own while the
    /// connection is up, so there is nothing to wait for.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shutdown_write()
    }
}

impl tokio::io::AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        match self.poll_read_into(cx, unfilled) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_from(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shutdown_write()
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_from(cx, bufs)
    }
}

/// An [`AsyncStream`] on a transport that is not a socket (the in-memory
/// pair of [`testing`](crate::testing)): `make_transport` builds the
/// transport, the stream's protocol is told `connection_made`, and the
/// protocol comes back for the transport to deliver to.
pub(crate) fn stream_over(
    make_transport: impl FnOnce() -> Transport,
) -> (AsyncStream, Box<dyn Protocol>) {
    let (mut protocol, shared) = stream_protocol();
    let transport = make_transport();
    protocol.connection_made(&transport);
    (AsyncStream::new(shared, transport), Box::new(protocol))
}

fn stream_protocol() -> (StreamProtocol, Rc<RefCell<Shared>>) {
    let shared = Rc::new(RefCell::new(Shared::default()));
    (
        StreamProtocol {
            shared: shared.clone(),
        },
        shared,
    )
}

/// A listening port whose connections are accepted with `.await`.
pub struct AsyncListener {
    port: ListeningPort,
    queue: DeferredQueue<(AsyncStream, Address)>,
}

impl AsyncListener {
    /// Listens on a TCP address.
    pub fn bind_tcp(reactor: &Reactor, address: SocketAddr) -> io::Result<AsyncListener> {
        let queue = DeferredQueue::new(None, None);
        let port = reactor.listen_tcp(address, accepting_factory(queue.clone()))?;
        Ok(AsyncListener { port, queue })
    }

    /// Listens on a UNIX socket path.
    pub fn bind_unix(
        reactor: &Reactor,
        path: impl AsRef<std::path::Path>,
    ) -> io::Result<AsyncListener> {
        let queue = DeferredQueue::new(None, None);
        let port = reactor.listen_unix(path, accepting_factory(queue.clone()))?;
        Ok(AsyncListener { port, queue })
    }

    /// A factory that queues each connection it builds, and the listener
    /// to make, once a port serves that factory, from the port.
    pub(crate) fn accepting() -> (impl Factory, impl FnOnce(ListeningPort) -> AsyncListener) {
        let queue = DeferredQueue::new(None, None);
        let factory = accepting_factory(queue.clone());
        (factory, move |port| AsyncListener { port, queue })
    }

    /// The next connection and its peer's address.
    pub fn accept(&self) -> Deferred<(AsyncStream, Address)> {
        // The queue has no backlog limit, so `get` cannot underflow.
        self.queue.get().unwrap_or_else(Deferred::fail)
    }

    /// The bound address (the chosen port when 0 was asked).
    pub fn address(&self) -> Address {
        self.port.address()
    }

    /// The listening port, to stop it.
    pub fn port(&self) -> &ListeningPort {
        &self.port
    }
}

impl fmt::Debug for AsyncListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncListener")
            .field("port", &self.port)
            .finish()
    }
}

/// Builds stream protocols and queues each connection, once made, for
/// `accept`.
fn accepting_factory(queue: DeferredQueue<(AsyncStream, Address)>) -> impl Factory {
    factory_fn(move |_| {
        let (protocol, shared) = stream_protocol();
        Some(Announcing {
            inner: protocol,
            shared,
            queue: queue.clone(),
        })
    })
}

/// A stream protocol that hands its stream to `accept` when connected.
struct Announcing {
    inner: StreamProtocol,
    shared: Rc<RefCell<Shared>>,
    queue: DeferredQueue<(AsyncStream, Address)>,
}

impl Protocol for Announcing {
    fn connection_made(&mut self, transport: &Transport) {
        self.inner.connection_made(transport);
        let stream = AsyncStream::new(self.shared.clone(), transport.clone());
        if self.queue.put((stream, transport.peer())).is_err() {
            transport.abort_connection();
        }
    }
    fn data_received(&mut self, data: &[u8]) {
        self.inner.data_received(data);
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        self.inner.read_connection_lost()
    }
    fn connection_lost(&mut self, reason: Failure) {
        self.inner.connection_lost(reason);
    }
    fn handshake_completed(&mut self) {
        self.inner.handshake_completed();
    }
}

/// A protocol that feeds an [`AsyncStream`], and the stream to make from
/// its transport once it is connected.
pub(crate) fn stream_connection() -> (impl Protocol, impl FnOnce(Transport) -> AsyncStream) {
    let (protocol, shared) = stream_protocol();
    (protocol, move |transport| {
        AsyncStream::new(shared, transport)
    })
}

impl Reactor {
    /// Connects to `address` and gives the connection as an [`AsyncStream`].
    pub fn connect_stream(
        &self,
        address: Address,
        options: ConnectOptions,
    ) -> Deferred<AsyncStream> {
        let (protocol, into_stream) = stream_connection();
        self.connect_protocol(address, protocol, options)
            .map(into_stream)
    }
}
