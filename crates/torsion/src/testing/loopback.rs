//! [`Loopback`]: two protocols connected in memory.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::Failure;
use crate::error::{ConnectionAborted, ConnectionDone, ConnectionLost};
use crate::net::{
    Address, HalfClose, Producer, ProducerError, Protocol, Transport, TransportBackend,
};

const SERVER: usize = 0;
const CLIENT: usize = 1;

/// Two protocols connected to each other in memory, with every byte moved
/// only when the test says so (Twisted's `iosim.connect` and
/// `loopbackAsync`).
///
/// [`new`](Loopback::new) calls `connection_made` on the server, then on the
/// client. What either writes is buffered until [`pump`](Loopback::pump),
/// which moves bytes both ways, one chunk per direction at a time, and runs
/// the closing handshakes, until nothing more happens. With
/// [`set_chunk_size`](Loopback::set_chunk_size) the bytes arrive in chunks
/// of at most that many bytes, to exercise a protocol's framing at every
/// boundary.
///
/// Closing follows a real connection:
///
/// - `lose_connection` on one side: that side stops reading; once what it
///   wrote has been delivered (and its producer, if any, unregistered), both
///   protocols get `connection_lost` with [`ConnectionDone`].
/// - `abort_connection`: at the next pump, buffered bytes are dropped, the
///   aborting side gets [`ConnectionAborted`] and the other
///   [`ConnectionLost`].
/// - `lose_write_connection`: once what that side wrote has been delivered,
///   it gets `write_connection_lost` and the other side
///   `read_connection_lost`; if that returns [`HalfClose::Close`] the other
///   side closes as if it had called `lose_connection`. When both write
///   sides are shut the connection is over (`ConnectionDone` for both).
/// - `pause_reading` holds back delivery to that side until
///   `resume_reading`; the next pump then calls its protocol's
///   `reading_resumed` before it delivers more bytes.
///
/// Producers may be registered; a pull producer is asked for one chunk at
/// registration, and a push producer is never paused (the buffers are
/// unbounded). Both are stopped when the connection ends.
///
/// Protocol callbacks run only inside `new` and `pump`, never inside a
/// transport method, and no internal borrow is held while a protocol runs,
/// so a protocol may call any transport method from any callback. The
/// protocols are kept in `Rc<RefCell<_>>` handles reachable with
/// [`server`](Loopback::server) and [`client`](Loopback::client); do not
/// hold a borrow of them across `pump`.
///
/// ```
/// use torsion::net::{Protocol, Transport};
/// use torsion::testing::Loopback;
///
/// /// Sends back what it receives.
/// #[derive(Default)]
/// struct Echo {
///     transport: Option<Transport>,
/// }
///
/// impl Protocol for Echo {
///     fn connection_made(&mut self, transport: &Transport) {
///         self.transport = Some(transport.clone());
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         self.transport.as_ref().unwrap().write(data);
///     }
/// }
///
/// /// Keeps what it receives.
/// #[derive(Default)]
/// struct Collect(Vec<u8>);
///
/// impl Protocol for Collect {
///     fn data_received(&mut self, data: &[u8]) {
///         self.0.extend_from_slice(data);
///     }
/// }
///
/// let mut pipe = Loopback::new(Echo::default(), Collect::default());
/// pipe.set_chunk_size(1);
/// pipe.client_transport().write(b"ping");
/// pipe.pump();
/// assert_eq!(pipe.client().borrow().0, b"ping");
/// ```
pub struct Loopback<S, C> {
    server: Rc<RefCell<S>>,
    client: Rc<RefCell<C>>,
    shared: Rc<RefCell<Shared>>,
    transports: [Transport; 2],
    chunk_size: Cell<usize>,
    pumping: Cell<bool>,
}

struct Shared {
    sides: [Side; 2],
    closed: bool,
}

struct Side {
    /// Written by this side, not yet delivered to the other.
    outgoing: Vec<u8>,
    reading_paused: bool,
    /// Reading resumed since the last pump; its protocol is to be told.
    resumed: bool,
    disconnecting: bool,
    aborted: bool,
    shutdown_requested: bool,
    write_shut: bool,
    producer: Option<Producer>,
    host: Address,
}

impl Side {
    fn new(host: Address) -> Side {
        Side {
            outgoing: Vec::new(),
            reading_paused: false,
            resumed: false,
            disconnecting: false,
            aborted: false,
            shutdown_requested: false,
            write_shut: false,
            producer: None,
            host,
        }
    }
}

/// One side's view of the shared connection.
struct End {
    shared: Rc<RefCell<Shared>>,
    side: usize,
}

impl TransportBackend for End {
    fn write(&self, data: &[u8]) {
        let mut shared = self.shared.borrow_mut();
        let closed = shared.closed;
        let side = &mut shared.sides[self.side];
        if !(closed || side.disconnecting || side.aborted || side.shutdown_requested) {
            side.outgoing.extend_from_slice(data);
        }
    }

    fn lose_connection(&self) {
        self.shared.borrow_mut().sides[self.side].disconnecting = true;
    }

    fn abort_connection(&self) {
        self.shared.borrow_mut().sides[self.side].aborted = true;
    }

    fn lose_write_connection(&self) {
        self.shared.borrow_mut().sides[self.side].shutdown_requested = true;
    }

    fn peer(&self) -> Address {
        self.shared.borrow().sides[1 - self.side].host.clone()
    }

    fn host(&self) -> Address {
        self.shared.borrow().sides[self.side].host.clone()
    }

    fn pause_reading(&self) {
        self.shared.borrow_mut().sides[self.side].reading_paused = true;
    }

    fn resume_reading(&self) {
        let side = &mut self.shared.borrow_mut().sides[self.side];
        if side.reading_paused {
            side.reading_paused = false;
            side.resumed = true;
        }
    }

    fn is_reading_paused(&self) -> bool {
        self.shared.borrow().sides[self.side].reading_paused
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerError> {
        let mut shared = self.shared.borrow_mut();
        if shared.sides[self.side].producer.is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        if shared.closed {
            drop(shared);
            producer.stop();
            return Ok(());
        }
        shared.sides[self.side].producer = Some(producer.clone());
        drop(shared);
        if let Producer::Pull(pull) = producer {
            pull.resume_producing();
        }
        Ok(())
    }

    fn unregister_producer(&self) {
        self.shared.borrow_mut().sides[self.side].producer = None;
    }

    fn buffered(&self) -> usize {
        self.shared.borrow().sides[self.side].outgoing.len()
    }

    fn is_open(&self) -> bool {
        let shared = self.shared.borrow();
        let side = &shared.sides[self.side];
        !(shared.closed || side.disconnecting || side.aborted)
    }
}

impl<S: Protocol, C: Protocol> Loopback<S, C> {
    /// Connects `server` and `client`, calling `connection_made` on the
    /// server and then on the client. Nothing they write moves until
    /// [`pump`](Loopback::pump).
    ///
    /// The server's host address is `127.0.0.1:8000`, the client's
    /// `127.0.0.1:40000`; each side's peer is the other's host.
    pub fn new(server: S, client: C) -> Loopback<S, C> {
        Loopback::connect(Rc::new(RefCell::new(server)), Rc::new(RefCell::new(client)))
    }

    /// Like [`new`](Loopback::new), with protocols the caller already keeps
    /// in shared handles.
    pub fn connect(server: Rc<RefCell<S>>, client: Rc<RefCell<C>>) -> Loopback<S, C> {
        let shared = Rc::new(RefCell::new(Shared {
            sides: [
                Side::new(Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 8000)))),
                Side::new(Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 40000)))),
            ],
            closed: false,
        }));
        let end = |side| {
            Transport::new(Rc::new(End {
                shared: shared.clone(),
                side,
            }))
        };
        let transports = [end(SERVER), end(CLIENT)];
        let loopback = Loopback {
            server,
            client,
            shared,
            transports,
            chunk_size: Cell::new(usize::MAX),
            pumping: Cell::new(false),
        };
        let transport = loopback.transports[SERVER].clone();
        loopback.call(SERVER, |p| p.connection_made(&transport));
        let transport = loopback.transports[CLIENT].clone();
        loopback.call(CLIENT, |p| p.connection_made(&transport));
        loopback
    }

    /// The server protocol.
    pub fn server(&self) -> &Rc<RefCell<S>> {
        &self.server
    }

    /// The client protocol.
    pub fn client(&self) -> &Rc<RefCell<C>> {
        &self.client
    }

    /// The server's transport (the one its `connection_made` got).
    pub fn server_transport(&self) -> Transport {
        self.transports[SERVER].clone()
    }

    /// The client's transport (the one its `connection_made` got).
    pub fn client_transport(&self) -> Transport {
        self.transports[CLIENT].clone()
    }

    /// Delivers bytes in chunks of at most `size` bytes from now on
    /// (unlimited by default).
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    pub fn set_chunk_size(&mut self, size: usize) {
        assert!(size > 0, "a chunk size must be at least one byte");
        self.chunk_size.set(size);
    }

    /// True once both protocols have been told the connection is lost.
    pub fn is_closed(&self) -> bool {
        self.shared.borrow().closed
    }

    /// Moves bytes and runs closing handshakes until nothing more happens.
    /// Returns whether anything happened. A call from inside a protocol
    /// callback run by this pump does nothing and returns false.
    pub fn pump(&self) -> bool {
        if self.pumping.replace(true) {
            return false;
        }
        struct Reset<'a>(&'a Cell<bool>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _reset = Reset(&self.pumping);
        let mut any = false;
        while self.step() {
            any = true;
        }
        any
    }

    /// One round: an abort, or one chunk each way, then the closing rules.
    fn step(&self) -> bool {
        if self.shared.borrow().closed {
            return false;
        }
        for side in [SERVER, CLIENT] {
            if self.shared.borrow().sides[side].aborted {
                let reasons = if side == SERVER {
                    [
                        Failure::new(ConnectionAborted),
                        Failure::new(ConnectionLost::new()),
                    ]
                } else {
                    [
                        Failure::new(ConnectionLost::new()),
                        Failure::new(ConnectionAborted),
                    ]
                };
                self.close(side, reasons);
                return true;
            }
        }
        let mut progress = false;
        for side in [SERVER, CLIENT] {
            progress |= self.tell_resumed(side);
        }
        for from in [SERVER, CLIENT] {
            progress |= self.deliver_chunk(from);
        }
        for side in [SERVER, CLIENT] {
            progress |= self.finish_write_shutdown(side);
        }
        let both_shut = {
            let shared = self.shared.borrow();
            shared.sides.iter().all(|s| s.write_shut)
        };
        if both_shut {
            self.close(
                SERVER,
                [Failure::new(ConnectionDone), Failure::new(ConnectionDone)],
            );
            return true;
        }
        for side in [SERVER, CLIENT] {
            let ready = {
                let shared = self.shared.borrow();
                let s = &shared.sides[side];
                s.disconnecting && s.outgoing.is_empty() && s.producer.is_none()
            };
            if ready {
                self.close(
                    side,
                    [Failure::new(ConnectionDone), Failure::new(ConnectionDone)],
                );
                return true;
            }
        }
        progress
    }

    /// Calls `reading_resumed` on `side` if it resumed reading since the
    /// last pump (and did not pause again).
    fn tell_resumed(&self, side: usize) -> bool {
        let resumed = {
            let mut shared = self.shared.borrow_mut();
            let s = &mut shared.sides[side];
            std::mem::take(&mut s.resumed) && !s.reading_paused && !s.disconnecting
        };
        if resumed {
            self.call(side, |p| p.reading_resumed());
        }
        resumed
    }

    /// Delivers one chunk written by `from` to the other side, if it reads.
    fn deliver_chunk(&self, from: usize) -> bool {
        let to = 1 - from;
        let chunk = {
            let mut shared = self.shared.borrow_mut();
            let receiver = &shared.sides[to];
            if receiver.reading_paused || receiver.disconnecting {
                return false;
            }
            let outgoing = &mut shared.sides[from].outgoing;
            if outgoing.is_empty() {
                return false;
            }
            let n = outgoing.len().min(self.chunk_size.get());
            let rest = outgoing.split_off(n);
            std::mem::replace(outgoing, rest)
        };
        self.call(to, |p| p.data_received(&chunk));
        true
    }

    /// Completes `side`'s requested write shutdown once its bytes are out.
    fn finish_write_shutdown(&self, side: usize) -> bool {
        let peer_reads = {
            let mut shared = self.shared.borrow_mut();
            let s = &mut shared.sides[side];
            if !s.shutdown_requested || s.write_shut || !s.outgoing.is_empty() {
                return false;
            }
            s.write_shut = true;
            !shared.sides[1 - side].disconnecting
        };
        self.call(side, |p| p.write_connection_lost());
        if peer_reads && !self.shared.borrow().closed {
            let answer = self.call(1 - side, |p| p.read_connection_lost());
            if answer == HalfClose::Close {
                self.shared.borrow_mut().sides[1 - side].disconnecting = true;
            }
        }
        true
    }

    /// Ends the connection: `first` hears of it first; `reasons` are the
    /// server's and the client's.
    fn close(&self, first: usize, reasons: [Failure; 2]) {
        let producers = {
            let mut shared = self.shared.borrow_mut();
            shared.closed = true;
            let mut producers = Vec::new();
            for side in shared.sides.iter_mut() {
                side.outgoing.clear();
                producers.extend(side.producer.take());
            }
            producers
        };
        for producer in producers {
            producer.stop();
        }
        let [server_reason, client_reason] = reasons;
        let mut reasons = [Some(server_reason), Some(client_reason)];
        for side in [first, 1 - first] {
            let reason = reasons[side].take().expect("each side is told once");
            self.call(side, |p| p.connection_lost(reason));
        }
    }

    fn call<R>(&self, side: usize, f: impl FnOnce(&mut dyn Protocol) -> R) -> R {
        if side == SERVER {
            f(&mut *self.server.borrow_mut())
        } else {
            f(&mut *self.client.borrow_mut())
        }
    }
}

impl<S, C> fmt::Debug for Loopback<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared.borrow();
        f.debug_struct("Loopback")
            .field("server_buffered", &shared.sides[SERVER].outgoing.len())
            .field("client_buffered", &shared.sides[CLIENT].outgoing.len())
            .field("closed", &shared.closed)
            .finish()
    }
}

#[cfg(test)]
mod tests;
