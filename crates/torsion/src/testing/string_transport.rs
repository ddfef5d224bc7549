//! [`StringTransport`]: a transport that records what is written to it.

use std::cell::RefCell;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::Failure;
use crate::error::{ConnectionAborted, ConnectionDone};
use crate::net::TransportBackend;
use crate::net::{Address, Producer, ProducerError, Protocol, Transport};

/// A transport that keeps every byte written to it in memory and only
/// records requests to close (Twisted's `StringTransport`).
///
/// Hand [`transport`](StringTransport::transport) to a protocol (or call
/// [`make_connection`](StringTransport::make_connection)), feed the protocol
/// bytes with `data_received`, and look at what it wrote with
/// [`value`](StringTransport::value). Nothing happens on its own: closing
/// only sets a flag, and the protocol hears `connection_lost` when the test
/// says so with [`simulate_loss`](StringTransport::simulate_loss) or
/// [`finish_close`](StringTransport::finish_close).
///
/// Writes after `lose_connection`, `abort_connection` or
/// `lose_write_connection`, or after the loss was simulated, are dropped, as
/// on a real connection. Clones share the same state.
///
/// The default peer address is `192.168.1.1:54321` and the default host
/// address `10.0.0.1:12345`, as in Twisted.
///
/// ```
/// use torsion::net::{Protocol, Transport};
/// use torsion::testing::StringTransport;
///
/// /// Greets, then hangs up on the first byte received.
/// #[derive(Default)]
/// struct Greeter {
///     transport: Option<Transport>,
/// }
///
/// impl Protocol for Greeter {
///     fn connection_made(&mut self, transport: &Transport) {
///         transport.write(b"hello\r\n");
///         self.transport = Some(transport.clone());
///     }
///     fn data_received(&mut self, _: &[u8]) {
///         self.transport.as_ref().unwrap().lose_connection();
///     }
/// }
///
/// let fake = StringTransport::new();
/// let mut greeter = Greeter::default();
/// fake.make_connection(&mut greeter);
/// assert_eq!(fake.take(), b"hello\r\n");
/// greeter.data_received(b"bye");
/// assert!(fake.is_disconnecting());
/// assert!(fake.finish_close(&mut greeter));
/// ```
#[derive(Clone)]
pub struct StringTransport {
    inner: Rc<Backend>,
}

struct Backend {
    state: RefCell<State>,
}

struct State {
    written: Vec<u8>,
    disconnecting: bool,
    aborted: bool,
    write_shut: bool,
    reading_paused: bool,
    lost: bool,
    producer: Option<Producer>,
    peer: Address,
    host: Address,
}

impl StringTransport {
    /// An open transport with nothing written.
    pub fn new() -> StringTransport {
        StringTransport {
            inner: Rc::new(Backend {
                state: RefCell::new(State {
                    written: Vec::new(),
                    disconnecting: false,
                    aborted: false,
                    write_shut: false,
                    reading_paused: false,
                    lost: false,
                    producer: None,
                    peer: Address::Tcp(SocketAddr::from(([192, 168, 1, 1], 54321))),
                    host: Address::Tcp(SocketAddr::from(([10, 0, 0, 1], 12345))),
                }),
            }),
        }
    }

    /// Sets the address [`Transport::peer`] reports.
    pub fn with_peer(self, peer: Address) -> StringTransport {
        self.inner.state.borrow_mut().peer = peer;
        self
    }

    /// Sets the address [`Transport::host`] reports.
    pub fn with_host(self, host: Address) -> StringTransport {
        self.inner.state.borrow_mut().host = host;
        self
    }

    /// A [`Transport`] handle writing into this fake.
    pub fn transport(&self) -> Transport {
        Transport::new(self.inner.clone())
    }

    /// Calls `protocol.connection_made` with this transport (Twisted's
    /// `makeConnection`).
    pub fn make_connection(&self, protocol: &mut dyn Protocol) {
        protocol.connection_made(&self.transport());
    }

    /// Every byte written so far (and not cleared).
    pub fn value(&self) -> Vec<u8> {
        self.inner.state.borrow().written.clone()
    }

    /// Forgets what was written so far.
    pub fn clear(&self) {
        self.inner.state.borrow_mut().written.clear();
    }

    /// Returns what was written so far and forgets it.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.inner.state.borrow_mut().written)
    }

    /// True once `lose_connection` was called.
    pub fn is_disconnecting(&self) -> bool {
        self.inner.state.borrow().disconnecting
    }

    /// True once `abort_connection` was called.
    pub fn is_aborted(&self) -> bool {
        self.inner.state.borrow().aborted
    }

    /// True once `lose_write_connection` was called.
    pub fn is_write_shut(&self) -> bool {
        self.inner.state.borrow().write_shut
    }

    /// True between `pause_reading` and `resume_reading`.
    pub fn is_reading_paused(&self) -> bool {
        self.inner.state.borrow().reading_paused
    }

    /// Resumes reading and tells `protocol` with
    /// [`reading_resumed`](Protocol::reading_resumed), as a connection does
    /// once `resume_reading` has returned; this transport's own
    /// `resume_reading` only clears the flag. Returns whether reading was
    /// paused (if not, the protocol is not called).
    pub fn simulate_resume(&self, protocol: &mut dyn Protocol) -> bool {
        let was_paused =
            std::mem::replace(&mut self.inner.state.borrow_mut().reading_paused, false);
        if was_paused {
            protocol.reading_resumed();
        }
        was_paused
    }

    /// True once a loss was simulated.
    pub fn is_lost(&self) -> bool {
        self.inner.state.borrow().lost
    }

    /// The registered producer, if any.
    pub fn producer(&self) -> Option<Producer> {
        self.inner.state.borrow().producer.clone()
    }

    /// Simulates the end of the connection: marks it closed, stops the
    /// registered producer and calls `protocol.connection_lost(reason)`.
    /// Only the first call does anything; it returns whether it did.
    pub fn simulate_loss(&self, protocol: &mut dyn Protocol, reason: Failure) -> bool {
        let producer = {
            let mut state = self.inner.state.borrow_mut();
            if state.lost {
                return false;
            }
            state.lost = true;
            state.producer.take()
        };
        if let Some(producer) = producer {
            producer.stop();
        }
        protocol.connection_lost(reason);
        true
    }

    /// Finishes a close the protocol asked for: after `abort_connection`
    /// the protocol gets `connection_lost` with
    /// [`ConnectionAborted`], after `lose_connection` with
    /// [`ConnectionDone`]. Returns false, and does nothing, if neither was
    /// called or the loss was already delivered.
    pub fn finish_close(&self, protocol: &mut dyn Protocol) -> bool {
        let reason = {
            let state = self.inner.state.borrow();
            if state.aborted {
                Failure::new(ConnectionAborted)
            } else if state.disconnecting {
                Failure::new(ConnectionDone)
            } else {
                return false;
            }
        };
        self.simulate_loss(protocol, reason)
    }
}

impl Default for StringTransport {
    fn default() -> Self {
        StringTransport::new()
    }
}

impl fmt::Debug for StringTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.borrow();
        f.debug_struct("StringTransport")
            .field("written", &state.written.len())
            .field("disconnecting", &state.disconnecting)
            .field("aborted", &state.aborted)
            .field("write_shut", &state.write_shut)
            .field("lost", &state.lost)
            .finish()
    }
}

impl State {
    fn open(&self) -> bool {
        !(self.disconnecting || self.aborted || self.lost)
    }
}

impl TransportBackend for Backend {
    fn write(&self, data: &[u8]) {
        let mut state = self.state.borrow_mut();
        if state.open() && !state.write_shut {
            state.written.extend_from_slice(data);
        }
    }

    fn lose_connection(&self) {
        self.state.borrow_mut().disconnecting = true;
    }

    fn abort_connection(&self) {
        self.state.borrow_mut().aborted = true;
    }

    fn lose_write_connection(&self) {
        self.state.borrow_mut().write_shut = true;
    }

    fn peer(&self) -> Address {
        self.state.borrow().peer.clone()
    }

    fn host(&self) -> Address {
        self.state.borrow().host.clone()
    }

    fn pause_reading(&self) {
        self.state.borrow_mut().reading_paused = true;
    }

    fn resume_reading(&self) {
        self.state.borrow_mut().reading_paused = false;
    }

    fn is_reading_paused(&self) -> bool {
        self.state.borrow().reading_paused
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerError> {
        let mut state = self.state.borrow_mut();
        if state.producer.is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        if state.lost {
            drop(state);
            producer.stop();
            return Ok(());
        }
        state.producer = Some(producer);
        Ok(())
    }

    fn unregister_producer(&self) {
        self.state.borrow_mut().producer = None;
    }

    fn buffered(&self) -> usize {
        0
    }

    fn is_open(&self) -> bool {
        self.state.borrow().open()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::error::ConnectionLost;
    use crate::net::PushProducer;

    #[derive(Default)]
    struct Recorder {
        made: usize,
        received: Vec<u8>,
        lost: Vec<Failure>,
    }

    impl Protocol for Recorder {
        fn connection_made(&mut self, _: &Transport) {
            self.made += 1;
        }
        fn data_received(&mut self, data: &[u8]) {
            self.received.extend_from_slice(data);
        }
        fn connection_lost(&mut self, reason: Failure) {
            self.lost.push(reason);
        }
    }

    #[derive(Default)]
    struct Stoppable {
        stopped: Cell<usize>,
    }

    impl PushProducer for Stoppable {
        fn pause_producing(&self) {}
        fn resume_producing(&self) {}
        fn stop_producing(&self) {
            self.stopped.set(self.stopped.get() + 1);
        }
    }

    #[test]
    fn records_writes_in_order() {
        let fake = StringTransport::new();
        let transport = fake.transport();
        transport.write(b"ab");
        transport.write_vectored(&[std::io::IoSlice::new(b"c"), std::io::IoSlice::new(b"d")]);
        assert_eq!(fake.value(), b"abcd");
    }

    #[test]
    fn take_returns_and_clears_what_was_written() {
        let fake = StringTransport::new();
        fake.transport().write(b"xy");
        assert_eq!(fake.take(), b"xy");
        assert!(fake.value().is_empty());
        fake.transport().write(b"z");
        fake.clear();
        assert!(fake.value().is_empty());
    }

    #[test]
    fn writes_after_lose_connection_are_dropped() {
        let fake = StringTransport::new();
        let transport = fake.transport();
        transport.write(b"before");
        transport.lose_connection();
        transport.write(b"after");
        assert_eq!(fake.value(), b"before");
        assert!(fake.is_disconnecting());
        assert!(!transport.is_open());
    }

    #[test]
    fn writes_after_abort_or_write_shutdown_are_dropped() {
        let aborted = StringTransport::new();
        aborted.transport().abort_connection();
        aborted.transport().write(b"x");
        assert!(aborted.value().is_empty());
        assert!(aborted.is_aborted());

        let shut = StringTransport::new();
        shut.transport().lose_write_connection();
        shut.transport().write(b"x");
        assert!(shut.value().is_empty());
        assert!(shut.is_write_shut());
        assert!(shut.transport().is_open());
    }

    #[test]
    fn pause_and_resume_reading_are_recorded() {
        let fake = StringTransport::new();
        fake.transport().pause_reading();
        assert!(fake.is_reading_paused());
        fake.transport().resume_reading();
        assert!(!fake.is_reading_paused());
    }

    #[test]
    fn registering_a_second_producer_is_refused() {
        let fake = StringTransport::new();
        let transport = fake.transport();
        let producer = Rc::new(Stoppable::default());
        transport
            .register_producer(Producer::Push(producer.clone()))
            .unwrap();
        assert!(matches!(fake.producer(), Some(Producer::Push(_))));
        assert_eq!(
            transport.register_producer(Producer::Push(producer.clone())),
            Err(ProducerError::AlreadyRegistered)
        );
        transport.unregister_producer();
        assert!(fake.producer().is_none());
        assert!(
            transport
                .register_producer(Producer::Push(producer))
                .is_ok()
        );
    }

    #[test]
    fn peer_and_host_are_settable() {
        let peer = Address::Tcp("127.0.0.1:1".parse().unwrap());
        let host = Address::Unix(None);
        let fake = StringTransport::new()
            .with_peer(peer.clone())
            .with_host(host.clone());
        assert_eq!(fake.transport().peer(), peer);
        assert_eq!(fake.transport().host(), host);
    }

    #[test]
    fn simulated_loss_reaches_the_protocol_once_and_stops_the_producer() {
        let fake = StringTransport::new();
        let mut protocol = Recorder::default();
        fake.make_connection(&mut protocol);
        let producer = Rc::new(Stoppable::default());
        fake.transport()
            .register_producer(Producer::Push(producer.clone()))
            .unwrap();
        assert!(fake.simulate_loss(&mut protocol, Failure::new(ConnectionLost::new())));
        assert!(!fake.simulate_loss(&mut protocol, Failure::new(ConnectionDone)));
        assert_eq!(protocol.made, 1);
        assert_eq!(protocol.lost.len(), 1);
        assert!(protocol.lost[0].is::<ConnectionLost>());
        assert_eq!(producer.stopped.get(), 1);
        assert!(fake.producer().is_none());
        fake.transport().write(b"late");
        assert!(fake.value().is_empty());
    }

    #[test]
    fn registering_on_a_lost_transport_stops_the_producer() {
        let fake = StringTransport::new();
        let mut protocol = Recorder::default();
        fake.simulate_loss(&mut protocol, Failure::new(ConnectionDone));
        let producer = Rc::new(Stoppable::default());
        fake.transport()
            .register_producer(Producer::Push(producer.clone()))
            .unwrap();
        assert_eq!(producer.stopped.get(), 1);
    }

    #[test]
    fn finish_close_reports_done_or_aborted() {
        let fake = StringTransport::new();
        let mut protocol = Recorder::default();
        assert!(!fake.finish_close(&mut protocol));
        fake.transport().lose_connection();
        assert!(fake.finish_close(&mut protocol));
        assert!(protocol.lost[0].is::<ConnectionDone>());

        let fake = StringTransport::new();
        let mut protocol = Recorder::default();
        fake.transport().abort_connection();
        assert!(fake.finish_close(&mut protocol));
        assert!(protocol.lost[0].is::<ConnectionAborted>());
    }

    #[test]
    fn data_reaches_the_protocol_directly() {
        let fake = StringTransport::new();
        let mut protocol = Recorder::default();
        fake.make_connection(&mut protocol);
        protocol.data_received(b"hi");
        assert_eq!(protocol.received, b"hi");
    }
}
