//! A connected stream socket (TCP or UNIX) driving a [`Protocol`]: the
//! read loop into the reactor's shared buffer, direct writes with only the
//! remainder buffered, flow control, half-close and closing.
//!
//! No user callback runs while this module holds a borrow of the
//! connection's state, and no transport method calls the protocol back
//! from inside itself: work that would (closing, resuming a read) is put
//! off until the connection's own callback returns, or to the next turn.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use mio::Token;

use crate::error::{ConnectionAborted, ConnectionDone, ConnectionLost};
use crate::failure::catch_panic;
use crate::net::protocol::{HalfClose, Producer, Protocol};
use crate::net::tls::TlsSession;
use crate::net::transport::TransportBackend;
use crate::net::write_buffer::WriteBuffer;
use crate::reactor::{IoSource, OpDone, Readiness, SendKey, WeakReactor};
use crate::{Failure, Reactor};

/// How much one `read` asks for.
const READ_SIZE: usize = 64 * 1024;
/// Reads per readiness event before the connection yields to the others.
const READS_PER_TURN: usize = 16;

mod backend;
mod describe;
mod direct_read;
mod socket;
mod tls_layer;
mod write;

pub(crate) use socket::StreamSocket;

/// Connection state bits.
mod flag {
    pub(super) const CLOSED: u32 = 1;
    /// lose_connection was called: no more reading, close once flushed.
    pub(super) const DISCONNECTING: u32 = 1 << 1;
    pub(super) const WRITE_SHUT_WANTED: u32 = 1 << 2;
    pub(super) const WRITE_SHUT: u32 = 1 << 3;
    /// The peer shut its write side (end of file seen).
    pub(super) const READ_EOF: u32 = 1 << 4;
    pub(super) const PAUSED: u32 = 1 << 5;
    /// The socket may have unread data the loop will not be told about
    /// again (edge-triggered readiness).
    pub(super) const READ_PENDING: u32 = 1 << 6;
    /// One of this connection's callbacks is on the stack.
    pub(super) const DISPATCHING: u32 = 1 << 7;
    pub(super) const SETTLE_SCHEDULED: u32 = 1 << 8;
    pub(super) const PRODUCER_PAUSED: u32 = 1 << 9;
    pub(super) const TLS: u32 = 1 << 10;
    /// Reading resumed after a pause; the protocol is to be told.
    pub(super) const RESUMED: u32 = 1 << 11;
    /// A pull producer is due a request for its next chunk.
    pub(super) const PULL_WANTED: u32 = 1 << 12;
    /// The consumer reads the socket itself (see `direct_read`).
    pub(super) const READER_DRIVEN: u32 = 1 << 13;
    /// The peer's end of file or an error was reported: only a read of 0
    /// or an error says the socket is drained.
    pub(super) const HUP_SEEN: u32 = 1 << 14;
    /// The consumer read the end of the stream; the protocol is to be told.
    pub(super) const EOF_UNTOLD: u32 = 1 << 15;
    /// Writes go to the reactor's io_uring ring as send operations.
    pub(super) const RING: u32 = 1 << 16;
}

/// Why the connection is closing, kept until it closes so that the protocol
/// and whoever watches for its close (a connector) can each get a failure.
#[derive(Debug)]
pub(crate) enum Reason {
    Done,
    Aborted,
    Lost(Arc<io::Error>),
    /// The reactor is shutting down and closes every connection.
    Shutdown,
    Failed(String, Failure),
}

impl Reason {
    pub(crate) fn lost(error: io::Error) -> Reason {
        Reason::Lost(Arc::new(error))
    }

    /// A failure for the protocol; a second call makes one for the close
    /// hook.
    pub(crate) fn failure(&mut self) -> Failure {
        match self {
            Reason::Done => Failure::new(ConnectionDone),
            Reason::Aborted => Failure::new(ConnectionAborted),
            Reason::Lost(cause) => Failure::new(ConnectionLost::shared(cause.clone())),
            Reason::Shutdown => Failure::new(ConnectionLost::new()),
            Reason::Failed(message, failure) => {
                std::mem::replace(failure, Failure::msg(message.clone()))
            }
        }
    }
}

/// What only some connections need, kept out of line so that an idle plain
/// connection stays small.
#[derive(Default)]
struct Extras {
    producer: Option<Producer>,
    /// Boxed: a session is over a kilobyte, and a plain connection has
    /// extras too (a stream's producer and waker).
    tls: Option<Box<TlsSession>>,
    /// Aborts the connection if its TLS handshake takes too long.
    handshake_timer: Option<crate::time::DelayedCall>,
    /// Told why the connection closed, after the protocol.
    on_close: Option<Box<dyn FnOnce(Failure)>>,
    reason: Option<Reason>,
    /// What the live view calls this connection's protocol, when the
    /// protocol's own name would not say (see
    /// [`Transport::set_protocol_name`](crate::net::Transport::set_protocol_name)).
    protocol_name: Option<&'static str>,
    /// The task that reads the socket itself, waiting for it to be
    /// readable.
    direct_reader: Option<std::task::Waker>,
}

pub(crate) struct StreamConn {
    token: Token,
    reactor: WeakReactor,
    socket: RefCell<Option<StreamSocket>>,
    flags: Cell<u32>,
    /// The send the ring holds (io_uring backend); its bytes count as
    /// buffered (lent out of `write`) until it completes.
    sending: Cell<Option<SendKey>>,
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    /// None while empty: an idle connection holds no buffer.
    write: RefCell<Option<Box<WriteBuffer>>>,
    extras: RefCell<Option<Box<Extras>>>,
    /// When the connection opened, for the live view: milliseconds since
    /// [`describe::EPOCH`], which fits where an `Instant` would not without
    /// taking the connection to a larger allocation. Its byte counts come
    /// from the kernel when asked (see `net::tcp_info`).
    opened_ms: u64,
}

impl StreamConn {
    pub(crate) fn new(
        reactor: &Reactor,
        token: Token,
        socket: StreamSocket,
        protocol: Option<Box<dyn Protocol>>,
    ) -> StreamConn {
        StreamConn {
            token,
            reactor: reactor.downgrade(),
            socket: RefCell::new(Some(socket)),
            flags: Cell::new(if reactor.ring().is_some() {
                flag::RING
            } else {
                0
            }),
            sending: Cell::new(None),
            protocol: RefCell::new(protocol),
            write: RefCell::new(None),
            extras: RefCell::new(None),
            opened_ms: describe::millis_since_epoch(Instant::now()),
        }
    }

    /// Registers `socket` with the reactor for reading and writing, as a
    /// connection driving `protocol` (`None` until a connect completes).
    pub(crate) fn register(
        reactor: &Reactor,
        socket: StreamSocket,
        protocol: Option<Box<dyn Protocol>>,
    ) -> io::Result<std::rc::Rc<StreamConn>> {
        reactor.add_source(|registry, token| {
            let fd = socket.as_raw_fd();
            registry.register(&mut mio::unix::SourceFd(&fd), token, socket.interest())?;
            Ok(std::rc::Rc::new(StreamConn::new(
                reactor, token, socket, protocol,
            )))
        })
    }

    fn has(&self, bits: u32) -> bool {
        self.flags.get() & bits != 0
    }

    fn set(&self, bits: u32) {
        self.flags.set(self.flags.get() | bits);
    }

    fn clear(&self, bits: u32) {
        self.flags.set(self.flags.get() & !bits);
    }

    fn extras(&self) -> std::cell::RefMut<'_, Extras> {
        std::cell::RefMut::map(self.extras.borrow_mut(), |extras| {
            &mut **extras.get_or_insert_with(Default::default)
        })
    }

    /// Calls `f` with why the connection closed, once it has (after the
    /// protocol's `connection_lost`).
    pub(crate) fn on_close(&self, f: impl FnOnce(Failure) + 'static) {
        self.extras().on_close = Some(Box::new(f));
    }

    /// Calls the protocol, catching a panic: the connection is then closed
    /// with the panic as its reason.
    fn call_protocol(&self, f: impl FnOnce(&mut dyn Protocol)) {
        let Ok(mut slot) = self.protocol.try_borrow_mut() else {
            // A nested loop turn inside this protocol's own callback.
            return;
        };
        let Some(protocol) = slot.as_mut() else {
            return;
        };
        if let Err(failure) = catch_panic(|| f(protocol.as_mut())) {
            drop(slot);
            let peer = self.peer();
            tracing::error!(%failure, %peer, "panic in a protocol callback; aborting its connection");
            self.fail(Reason::Failed("protocol callback panicked".into(), failure));
        }
    }

    /// Runs `f` as this connection's dispatch: transport calls made inside
    /// are settled when it returns rather than on the next turn.
    pub(crate) fn dispatch(&self, reactor: &Reactor, f: impl FnOnce()) {
        let outer = !self.has(flag::DISPATCHING);
        self.set(flag::DISPATCHING);
        f();
        if outer {
            self.settle_now(reactor);
            self.clear(flag::DISPATCHING);
        }
    }

    /// Hands the protocol its transport (the first callback it gets).
    pub(crate) fn make_connection(&self, reactor: &Reactor, transport: &crate::net::Transport) {
        self.dispatch(reactor, || {
            // A TLS client speaks first: send its hello now.
            self.send_tls_records();
            self.call_protocol(|protocol| protocol.connection_made(transport));
        });
    }

    fn request_settle(&self) {
        if self.has(flag::DISPATCHING | flag::SETTLE_SCHEDULED | flag::CLOSED) {
            return;
        }
        self.set(flag::SETTLE_SCHEDULED);
        if let Some(reactor) = self.reactor.upgrade() {
            reactor.settle_later(self.token);
        }
    }

    /// Records why the connection must close; it closes at the next settle.
    pub(crate) fn fail(&self, reason: Reason) {
        if self.has(flag::CLOSED) {
            return;
        }
        let mut extras = self.extras();
        if extras.reason.is_none() {
            extras.reason = Some(reason);
        }
        drop(extras);
        self.request_settle();
    }

    /// Does the work transport calls asked for, until there is none left.
    fn settle_now(&self, reactor: &Reactor) {
        loop {
            if self.has(flag::CLOSED) {
                return;
            }
            let reason = self
                .extras
                .borrow_mut()
                .as_mut()
                .and_then(|extras| extras.reason.take());
            if let Some(reason) = reason {
                self.close_now(reactor, reason);
                return;
            }
            let flushed = self.buffered() == 0;
            if self.has(flag::DISCONNECTING) && flushed && !self.has_producer() {
                self.close_now(reactor, Reason::Done);
                return;
            }
            if self.has(flag::WRITE_SHUT_WANTED) && !self.has(flag::WRITE_SHUT) && flushed {
                self.set(flag::WRITE_SHUT);
                let mut pipe = false;
                if let Some(socket) = &*self.socket.borrow() {
                    pipe = socket.is_pipe();
                    let _ = socket.shutdown(Shutdown::Write);
                }
                if pipe {
                    // A pipe's reader sees end of file only once the write
                    // end is closed.
                    self.close_now(reactor, Reason::Done);
                    return;
                }
                self.call_protocol(|protocol| protocol.write_connection_lost());
                if self.has(flag::READ_EOF) {
                    self.close_now(reactor, Reason::Done);
                    return;
                }
                continue;
            }
            if self.has(flag::RESUMED) {
                self.clear(flag::RESUMED);
                if !self.has(flag::PAUSED | flag::DISCONNECTING) {
                    // Before any new bytes, so that what the protocol held
                    // back goes first.
                    self.call_protocol(|protocol| protocol.reading_resumed());
                    continue;
                }
            }
            if self.has(flag::EOF_UNTOLD) {
                self.clear(flag::EOF_UNTOLD);
                self.peer_closed_write();
                continue;
            }
            if self.has(flag::READ_PENDING)
                && !self.has(flag::PAUSED | flag::DISCONNECTING | flag::READER_DRIVEN)
            {
                self.clear(flag::READ_PENDING);
                // The edges that said so are gone: read to WouldBlock or
                // end of file rather than trust a short read.
                self.read(reactor, true);
                continue;
            }
            if self.has(flag::PULL_WANTED) {
                // One chunk per connection per turn: a socket that takes
                // everything at once must not let one producer starve the
                // loop.
                self.clear(flag::PULL_WANTED);
                if let Some(Producer::Pull(producer)) = self.producer() {
                    producer.resume_producing();
                    if self.buffered() == 0 && self.producer().is_some() {
                        self.set(flag::PULL_WANTED | flag::SETTLE_SCHEDULED);
                        reactor.settle_later(self.token);
                        return;
                    }
                }
                // The producer may have finished and closed the connection
                // (its last chunk still under way, or already out).
                continue;
            }
            return;
        }
    }

    fn producer(&self) -> Option<Producer> {
        self.extras
            .borrow()
            .as_ref()
            .and_then(|extras| extras.producer.clone())
    }

    fn has_producer(&self) -> bool {
        self.extras
            .borrow()
            .as_ref()
            .is_some_and(|extras| extras.producer.is_some())
    }

    /// Reads until the socket is drained, the protocol pauses, or the
    /// connection has had its share of this turn. With `exhaustive`, reads
    /// on to `WouldBlock` or end of file instead of taking a short read as
    /// drained.
    fn read(&self, reactor: &Reactor, exhaustive: bool) {
        for _ in 0..READS_PER_TURN {
            if self.has(flag::CLOSED | flag::DISCONNECTING | flag::READ_EOF) {
                return;
            }
            if self.has(flag::PAUSED) {
                self.set(flag::READ_PENDING);
                return;
            }
            let outcome = reactor.with_read_buffer(READ_SIZE, |buffer| {
                let result = match &*self.socket.borrow() {
                    Some(socket) => socket.read(buffer),
                    None => return ReadOutcome::Drained,
                };
                match result {
                    Ok(0) => ReadOutcome::Eof,
                    Ok(n) => {
                        if self.has(flag::TLS) {
                            self.receive_tls(&buffer[..n]);
                        } else {
                            let data = &buffer[..n];
                            self.call_protocol(|protocol| protocol.data_received(data));
                        }
                        if n < buffer.len() && !exhaustive {
                            // A short read drained the socket; new data
                            // brings a new edge.
                            ReadOutcome::Drained
                        } else {
                            ReadOutcome::More
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => ReadOutcome::Drained,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => ReadOutcome::More,
                    Err(error) => ReadOutcome::Error(error),
                }
            });
            match outcome {
                ReadOutcome::More => {}
                ReadOutcome::Drained => return,
                ReadOutcome::Eof => {
                    self.end_of_file();
                    return;
                }
                ReadOutcome::Error(error) => {
                    self.fail(Reason::lost(error));
                    return;
                }
            }
        }
        // Still data after this turn's share: come back next turn.
        self.set(flag::READ_PENDING);
        if !self.has(flag::SETTLE_SCHEDULED) {
            self.set(flag::SETTLE_SCHEDULED);
            reactor.settle_later(self.token);
        }
    }

    fn end_of_file(&self) {
        if self.has(flag::TLS) {
            // The TLS layer decides whether the close was clean.
            self.receive_tls_eof();
            return;
        }
        self.peer_closed_write();
    }

    /// The peer will send nothing more.
    fn peer_closed_write(&self) {
        self.set(flag::READ_EOF);
        let mut choice = HalfClose::Close;
        self.call_protocol(|protocol| choice = protocol.read_connection_lost());
        // A pipe end goes one way only: once it has ended there is nothing
        // left to keep open for.
        let pipe = self
            .socket
            .borrow()
            .as_ref()
            .is_some_and(StreamSocket::is_pipe);
        match choice {
            HalfClose::Close => self.lose_connection(),
            HalfClose::KeepWriting if pipe => self.lose_connection(),
            HalfClose::KeepWriting if self.has(flag::WRITE_SHUT) => self.fail(Reason::Done),
            HalfClose::KeepWriting => {}
        }
    }

    /// Closes the socket and tells the protocol, its producer and the close
    /// hook.
    fn close_now(&self, reactor: &Reactor, mut reason: Reason) {
        if self.has(flag::CLOSED) {
            return;
        }
        self.set(flag::CLOSED);
        if let (Some(key), Some(ring)) = (self.sending.take(), reactor.ring()) {
            // The bytes are the ring's; they go when the cancel completes.
            ring.cancel(key);
        }
        let socket = self.socket.borrow_mut().take();
        if let Some(socket) = &socket {
            reactor.remove_source(self.token, socket.as_raw_fd());
        }
        drop(socket);
        *self.write.borrow_mut() = None;
        let extras = self.extras.borrow_mut().take();
        let (producer, on_close, direct_reader) = match extras {
            Some(extras) => {
                let Extras {
                    producer,
                    on_close,
                    handshake_timer,
                    direct_reader,
                    ..
                } = *extras;
                if let Some(timer) = handshake_timer {
                    let _ = timer.cancel();
                }
                (producer, on_close, direct_reader)
            }
            None => (None, None, None),
        };
        if let Some(producer) = producer {
            report_panic(catch_panic(|| producer.stop()), "producer stop");
        }
        let protocol = self.protocol.borrow_mut().take();
        if let Some(mut protocol) = protocol {
            let failure = reason.failure();
            report_panic(
                catch_panic(|| protocol.connection_lost(failure)),
                "connection_lost",
            );
            drop(protocol);
        }
        if let Some(reader) = direct_reader {
            // After the protocol, which recorded how the stream ended.
            reader.wake();
        }
        if let Some(on_close) = on_close {
            let failure = reason.failure();
            report_panic(catch_panic(move || on_close(failure)), "the close hook");
        }
    }
}

enum ReadOutcome {
    More,
    Drained,
    Eof,
    Error(io::Error),
}

fn report_panic(result: Result<(), Failure>, what: &str) {
    if let Err(failure) = result {
        tracing::error!(%failure, what, "panic while closing a connection");
    }
}

impl IoSource for StreamConn {
    fn ready(&self, reactor: &Reactor, readiness: Readiness) {
        self.dispatch(reactor, || {
            if readiness.writable || readiness.error {
                self.writable();
            }
            if readiness.readable || readiness.read_closed || readiness.error {
                if self.has(flag::READER_DRIVEN) {
                    self.direct_readable(readiness);
                } else {
                    self.read(reactor, readiness.read_closed);
                }
            }
        });
    }

    fn settle(&self, reactor: &Reactor) {
        self.clear(flag::SETTLE_SCHEDULED);
        self.dispatch(reactor, || {});
    }

    fn shutdown(&self, reactor: &Reactor) {
        self.close_now(reactor, Reason::Shutdown);
    }

    fn ring_done(&self, reactor: &Reactor, done: OpDone) {
        // A connection starts sends only; anything else is not its own.
        if let OpDone::Sent(done) = done {
            self.send_completed(reactor, done);
        }
    }

    fn describe(&self, now: Instant) -> Option<crate::reactor::introspect::SourceInfo> {
        self.describe_connection(now)
    }
}
