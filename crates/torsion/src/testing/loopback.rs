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
///   `resume_reading`.
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
        self.shared.borrow_mut().sides[self.side].reading_paused = false;
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
mod tests {
    use super::*;
    use crate::net::PullProducer;

    /// Records everything that happens to it; writes `greeting` on connect.
    #[derive(Default)]
    struct Peer {
        transport: Option<Transport>,
        greeting: Vec<u8>,
        chunks: Vec<Vec<u8>>,
        made: usize,
        lost: Vec<Failure>,
        read_lost: usize,
        write_lost: usize,
        half_close: Option<HalfClose>,
        echo: bool,
    }

    impl Peer {
        fn greeting(greeting: &[u8]) -> Peer {
            Peer {
                greeting: greeting.to_vec(),
                ..Peer::default()
            }
        }

        fn echo() -> Peer {
            Peer {
                echo: true,
                ..Peer::default()
            }
        }

        fn received(&self) -> Vec<u8> {
            self.chunks.concat()
        }
    }

    impl Protocol for Peer {
        fn connection_made(&mut self, transport: &Transport) {
            self.made += 1;
            transport.write(&self.greeting);
            self.transport = Some(transport.clone());
        }
        fn data_received(&mut self, data: &[u8]) {
            self.chunks.push(data.to_vec());
            if self.echo {
                self.transport.as_ref().unwrap().write(data);
            }
        }
        fn connection_lost(&mut self, reason: Failure) {
            self.lost.push(reason);
        }
        fn read_connection_lost(&mut self) -> HalfClose {
            self.read_lost += 1;
            self.half_close.unwrap_or(HalfClose::Close)
        }
        fn write_connection_lost(&mut self) {
            self.write_lost += 1;
        }
    }

    #[test]
    fn connection_made_is_called_on_both_sides_once() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        assert_eq!(pipe.server().borrow().made, 1);
        assert_eq!(pipe.client().borrow().made, 1);
    }

    #[test]
    fn bytes_written_in_connection_made_cross_on_pump() {
        let pipe = Loopback::new(Peer::greeting(b"hello"), Peer::greeting(b"hi"));
        assert!(pipe.client().borrow().chunks.is_empty());
        assert!(pipe.pump());
        assert_eq!(pipe.client().borrow().received(), b"hello");
        assert_eq!(pipe.server().borrow().received(), b"hi");
        assert!(!pipe.pump());
    }

    #[test]
    fn chunk_size_splits_delivery() {
        let mut pipe = Loopback::new(Peer::greeting(b"abcdefg"), Peer::default());
        pipe.set_chunk_size(3);
        pipe.pump();
        assert_eq!(
            pipe.client().borrow().chunks,
            vec![b"abc".to_vec(), b"def".to_vec(), b"g".to_vec()]
        );
    }

    #[test]
    fn replies_written_during_delivery_are_pumped_too() {
        let pipe = Loopback::new(Peer::echo(), Peer::greeting(b"ping"));
        pipe.pump();
        assert_eq!(pipe.server().borrow().received(), b"ping");
        assert_eq!(pipe.client().borrow().received(), b"ping");
    }

    #[test]
    fn peers_see_each_others_addresses() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        assert_eq!(
            pipe.server_transport().peer(),
            pipe.client_transport().host()
        );
        assert_eq!(
            pipe.client_transport().peer(),
            pipe.server_transport().host()
        );
        assert_ne!(
            pipe.server_transport().host(),
            pipe.client_transport().host()
        );
    }

    #[test]
    fn lose_connection_flushes_then_both_sides_get_connection_done() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        let server = pipe.server_transport();
        server.write(b"last words");
        server.lose_connection();
        server.write(b"dropped");
        pipe.pump();
        assert!(pipe.is_closed());
        assert_eq!(pipe.client().borrow().received(), b"last words");
        for lost in [&pipe.server().borrow().lost, &pipe.client().borrow().lost] {
            assert_eq!(lost.len(), 1);
            assert!(lost[0].is::<ConnectionDone>());
        }
        assert!(!pipe.pump());
    }

    #[test]
    fn a_closing_side_stops_reading() {
        let pipe = Loopback::new(Peer::default(), Peer::greeting(b"unread"));
        pipe.server_transport().lose_connection();
        pipe.pump();
        assert!(pipe.server().borrow().chunks.is_empty());
        assert!(pipe.is_closed());
    }

    #[test]
    fn abort_drops_buffered_bytes_and_reports_aborted_and_lost() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        let client = pipe.client_transport();
        client.write(b"never delivered");
        client.abort_connection();
        pipe.pump();
        assert!(pipe.server().borrow().chunks.is_empty());
        assert!(pipe.client().borrow().lost[0].is::<ConnectionAborted>());
        assert!(pipe.server().borrow().lost[0].is::<ConnectionLost>());
        assert_eq!(pipe.server().borrow().lost.len(), 1);
    }

    #[test]
    fn pause_reading_holds_delivery_until_resume() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        pipe.client_transport().pause_reading();
        pipe.server_transport().write(b"held");
        assert!(!pipe.pump());
        assert!(pipe.client().borrow().chunks.is_empty());
        assert_eq!(pipe.server_transport().buffered(), 4);
        pipe.client_transport().resume_reading();
        assert!(pipe.pump());
        assert_eq!(pipe.client().borrow().received(), b"held");
    }

    #[test]
    fn half_close_delivers_read_connection_lost_to_the_peer() {
        let mut keeps = Peer::echo();
        keeps.half_close = Some(HalfClose::KeepWriting);
        let pipe = Loopback::new(keeps, Peer::default());
        let client = pipe.client_transport();
        client.write(b"request");
        client.lose_write_connection();
        client.write(b"dropped");
        pipe.pump();
        assert_eq!(pipe.client().borrow().write_lost, 1);
        assert_eq!(pipe.server().borrow().read_lost, 1);
        assert_eq!(pipe.server().borrow().received(), b"request");
        assert_eq!(pipe.client().borrow().received(), b"request");
        assert!(!pipe.is_closed());
        pipe.server_transport().write(b" reply");
        pipe.server_transport().lose_connection();
        pipe.pump();
        assert_eq!(pipe.client().borrow().received(), b"request reply");
        assert!(pipe.is_closed());
        assert!(pipe.client().borrow().lost[0].is::<ConnectionDone>());
    }

    #[test]
    fn half_close_to_a_closing_peer_ends_the_connection() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        pipe.client_transport().lose_write_connection();
        pipe.pump();
        assert_eq!(pipe.server().borrow().read_lost, 1);
        assert!(pipe.is_closed());
        assert!(pipe.server().borrow().lost[0].is::<ConnectionDone>());
        assert!(pipe.client().borrow().lost[0].is::<ConnectionDone>());
    }

    #[test]
    fn both_write_sides_shut_ends_the_connection() {
        let keeps_writing = || Peer {
            half_close: Some(HalfClose::KeepWriting),
            ..Peer::default()
        };
        let pipe = Loopback::new(keeps_writing(), keeps_writing());
        pipe.client_transport().lose_write_connection();
        pipe.pump();
        assert!(!pipe.is_closed());
        pipe.server_transport().lose_write_connection();
        pipe.pump();
        assert!(pipe.is_closed());
        assert_eq!(pipe.server().borrow().lost.len(), 1);
        assert_eq!(pipe.client().borrow().lost.len(), 1);
    }

    struct OneChunk {
        transport: Transport,
        asked: Cell<usize>,
        stopped: Cell<usize>,
    }

    impl PullProducer for OneChunk {
        fn resume_producing(&self) {
            self.asked.set(self.asked.get() + 1);
            self.transport.write(b"chunk");
        }
        fn stop_producing(&self) {
            self.stopped.set(self.stopped.get() + 1);
        }
    }

    #[test]
    fn closing_waits_for_the_producer_to_unregister() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        let server = pipe.server_transport();
        let producer = Rc::new(OneChunk {
            transport: server.clone(),
            asked: Cell::new(0),
            stopped: Cell::new(0),
        });
        server
            .register_producer(Producer::Pull(producer.clone()))
            .unwrap();
        assert_eq!(
            server.register_producer(Producer::Pull(producer.clone())),
            Err(ProducerError::AlreadyRegistered)
        );
        assert_eq!(producer.asked.get(), 1);
        server.lose_connection();
        pipe.pump();
        assert_eq!(pipe.client().borrow().received(), b"chunk");
        assert!(!pipe.is_closed());
        server.unregister_producer();
        pipe.pump();
        assert!(pipe.is_closed());
        assert_eq!(producer.stopped.get(), 0);
    }

    #[test]
    fn connection_end_stops_a_registered_producer() {
        let pipe = Loopback::new(Peer::default(), Peer::default());
        let server = pipe.server_transport();
        let producer = Rc::new(OneChunk {
            transport: server.clone(),
            asked: Cell::new(0),
            stopped: Cell::new(0),
        });
        server
            .register_producer(Producer::Pull(producer.clone()))
            .unwrap();
        pipe.client_transport().abort_connection();
        pipe.pump();
        assert_eq!(producer.stopped.get(), 1);
    }

    /// Closes from inside its own callback.
    struct HangUp;

    impl Protocol for HangUp {
        fn connection_made(&mut self, transport: &Transport) {
            transport.write(b"bye");
            transport.lose_connection();
        }
        fn data_received(&mut self, _: &[u8]) {}
    }

    #[test]
    fn closing_from_inside_a_callback_is_safe() {
        let pipe = Loopback::new(HangUp, Peer::default());
        pipe.pump();
        assert_eq!(pipe.client().borrow().received(), b"bye");
        assert!(pipe.client().borrow().lost[0].is::<ConnectionDone>());
    }

    /// Uses its transport from every callback, including after the end.
    #[derive(Default)]
    struct Busy {
        transport: Option<Transport>,
        lost_while_open: Option<bool>,
    }

    impl Protocol for Busy {
        fn connection_made(&mut self, transport: &Transport) {
            self.transport = Some(transport.clone());
        }
        fn data_received(&mut self, data: &[u8]) {
            let transport = self.transport.as_ref().unwrap();
            transport.write(data);
            let _ = (transport.peer(), transport.buffered());
            transport.lose_connection();
        }
        fn connection_lost(&mut self, _: Failure) {
            let transport = self.transport.as_ref().unwrap();
            transport.write(b"too late");
            transport.lose_connection();
            transport.abort_connection();
            self.lost_while_open = Some(transport.is_open());
        }
    }

    #[test]
    fn protocols_may_use_their_transport_from_any_callback() {
        let pipe = Loopback::new(Busy::default(), Peer::greeting(b"x"));
        pipe.pump();
        assert!(pipe.is_closed());
        assert_eq!(pipe.client().borrow().received(), b"x");
        assert_eq!(pipe.server().borrow().lost_while_open, Some(false));
        assert!(!pipe.pump());
    }
}
