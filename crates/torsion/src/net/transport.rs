//! [`Transport`]: a protocol's handle on its connection.

use std::fmt;
use std::io::{self, IoSlice};
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::error::NetError;
use crate::net::{Address, Producer};

/// Why [`Transport::register_producer`] refused a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    /// A producer is already registered; unregister it first.
    #[error("a producer is already registered with this transport")]
    AlreadyRegistered,
}

/// What every kind of connection does for [`Transport`]: a socket, a TLS
/// session over one, or a test double.
pub(crate) trait TransportBackend {
    fn write(&self, data: &[u8]);
    fn write_vectored(&self, data: &[IoSlice<'_>]) {
        for slice in data {
            self.write(slice);
        }
    }
    fn lose_connection(&self);
    fn abort_connection(&self);
    fn lose_write_connection(&self);
    fn peer(&self) -> Address;
    fn host(&self) -> Address;
    fn pause_reading(&self);
    fn resume_reading(&self);
    fn is_reading_paused(&self) -> bool;
    fn register_producer(&self, producer: Producer) -> Result<(), ProducerError>;
    fn unregister_producer(&self);
    fn buffered(&self) -> usize;
    fn is_open(&self) -> bool;
    fn set_nodelay(&self, _enabled: bool) -> io::Result<()> {
        Err(NetError::NotTcp.into())
    }
    fn set_keepalive(&self, _enabled: bool) -> io::Result<()> {
        Err(NetError::NotTcp.into())
    }
    fn start_tls(&self, _tls: crate::net::tls::TlsSetup) -> io::Result<()> {
        Err(NetError::TlsUnsupported.into())
    }
    fn tls_info(&self) -> Option<crate::net::tls::TlsInfo> {
        None
    }
    fn is_tls(&self) -> bool {
        false
    }
    fn set_protocol_name(&self, _name: &'static str) {}
    /// Hands reading to the connection's single consumer, which reads with
    /// `poll_read_now`; false where the backend reads on its own.
    fn take_reads(&self) -> bool {
        false
    }
    /// Reads straight from the socket once reads are taken; `None` while
    /// the backend reads on its own.
    fn poll_read_now(
        &self,
        _cx: &mut Context<'_>,
        _buf: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        None
    }
}

/// A protocol's handle on its connection (Twisted's `ITransport`).
///
/// Cheap to clone. Writes never block and never fail: what the socket does
/// not take at once is buffered and written when it can be; writes after
/// [`lose_connection`](Transport::lose_connection) or after the connection
/// closed are dropped. Closing never calls the protocol from inside the
/// call: `connection_lost` comes after the current callback returns.
#[derive(Clone)]
pub struct Transport {
    backend: Rc<dyn TransportBackend>,
}

impl Transport {
    pub(crate) fn new(backend: Rc<dyn TransportBackend>) -> Transport {
        Transport { backend }
    }

    /// Hands reading to the one task that consumes this connection (see
    /// `net::stream::direct_read`): the protocol's `data_received` is no
    /// longer called, and the task reads with
    /// [`poll_read_now`](Self::poll_read_now). False where the transport
    /// must read on its own (TLS, in-memory transports).
    pub(crate) fn take_reads(&self) -> bool {
        self.backend.take_reads()
    }

    /// Reads into `buf` now, once reads are taken; `None` while the
    /// transport reads on its own (reads not taken, or given back when TLS
    /// started).
    pub(crate) fn poll_read_now(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        self.backend.poll_read_now(cx, buf)
    }

    /// Writes `data`.
    pub fn write(&self, data: &[u8]) {
        self.backend.write(data)
    }

    /// Writes several buffers in order, in one system call when the socket
    /// takes them (Twisted's `writeSequence`).
    pub fn write_vectored(&self, data: &[IoSlice<'_>]) {
        self.backend.write_vectored(data)
    }

    /// Stops reading, writes what is buffered, then closes; the protocol
    /// gets `connection_lost` with `ConnectionDone`. With a producer
    /// registered, closing waits until it is unregistered. Calling it again
    /// does nothing.
    pub fn lose_connection(&self) {
        self.backend.lose_connection()
    }

    /// Closes at once, dropping what is buffered; the protocol gets
    /// `connection_lost` with `ConnectionAborted`. Works when the peer does
    /// not read, which `lose_connection` cannot finish.
    pub fn abort_connection(&self) {
        self.backend.abort_connection()
    }

    /// Writes what is buffered, then shuts down the write side only
    /// (half-close); reading goes on, and the protocol gets
    /// `write_connection_lost`.
    pub fn lose_write_connection(&self) {
        self.backend.lose_write_connection()
    }

    /// The other end's address.
    pub fn peer(&self) -> Address {
        self.backend.peer()
    }

    /// This end's address.
    pub fn host(&self) -> Address {
        self.backend.host()
    }

    /// Stops delivering data until [`resume_reading`](Transport::resume_reading)
    /// (Twisted's `pauseProducing` on a transport). The kernel's buffers then
    /// fill and the peer is slowed down.
    pub fn pause_reading(&self) {
        self.backend.pause_reading()
    }

    /// Delivers data again after [`pause_reading`](Transport::pause_reading).
    /// Once this call has returned, the protocol's
    /// [`reading_resumed`](crate::net::Protocol::reading_resumed) runs, so
    /// that what it buffered while paused goes on without new bytes.
    pub fn resume_reading(&self) {
        self.backend.resume_reading()
    }

    /// True between [`pause_reading`](Transport::pause_reading) and
    /// [`resume_reading`](Transport::resume_reading), whoever called them
    /// (the protocol, a consumer this transport produces for, a framing
    /// layer). A protocol that buffers received bytes delivers nothing from
    /// its buffer meanwhile, as
    /// [`FramedProtocol`](crate::protocols::FramedProtocol) does.
    pub fn is_reading_paused(&self) -> bool {
        self.backend.is_reading_paused()
    }

    /// Registers a producer that feeds this transport. A push producer is
    /// paused when more than the high-water mark is buffered and resumed
    /// when the buffer drains below the low-water mark; a pull producer is
    /// asked for a chunk now and whenever the buffer is empty. On a closed
    /// transport the producer is stopped at once.
    pub fn register_producer(&self, producer: Producer) -> Result<(), ProducerError> {
        self.backend.register_producer(producer)
    }

    /// Unregisters the producer; a pending `lose_connection` proceeds.
    pub fn unregister_producer(&self) {
        self.backend.unregister_producer()
    }

    /// Names what speaks on this connection where connections are listed
    /// ([`Reactor::snapshot`](crate::Reactor::snapshot), the live view),
    /// instead of the protocol's
    /// [`protocol_name`](crate::net::Protocol::protocol_name): an HTTP
    /// server calls its connections `"http"`, and `"websocket"` once one is
    /// upgraded. Does nothing on a test transport.
    pub fn set_protocol_name(&self, name: &'static str) {
        self.backend.set_protocol_name(name)
    }

    /// Bytes written but not yet taken by the socket.
    pub fn buffered(&self) -> usize {
        self.backend.buffered()
    }

    /// False once the connection is closing or closed.
    pub fn is_open(&self) -> bool {
        self.backend.is_open()
    }

    /// Sets TCP_NODELAY (TCP only).
    pub fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.backend.set_nodelay(enabled)
    }

    /// Sets SO_KEEPALIVE (TCP only).
    pub fn set_keepalive(&self, enabled: bool) -> io::Result<()> {
        self.backend.set_keepalive(enabled)
    }

    /// Starts TLS on this connection (Twisted's `startTLS`): bytes written
    /// before go out in the clear, bytes written after are encrypted, and
    /// received bytes are decrypted from the next one on.
    pub fn start_tls(&self, tls: impl Into<crate::net::tls::TlsSetup>) -> io::Result<()> {
        self.backend.start_tls(tls.into())
    }

    /// The negotiated TLS parameters, once a TLS handshake has finished.
    pub fn tls_info(&self) -> Option<crate::net::tls::TlsInfo> {
        self.backend.tls_info()
    }

    /// True once TLS is on for this connection (from the start of its
    /// handshake).
    pub fn is_tls(&self) -> bool {
        self.backend.is_tls()
    }

    /// True if both handles are for the same connection.
    pub fn same_connection(&self, other: &Transport) -> bool {
        std::ptr::addr_eq(Rc::as_ptr(&self.backend), Rc::as_ptr(&other.backend))
    }
}

/// A transport is itself a push producer of the data it reads (Twisted's
/// transports are `IPushProducer`s): register one transport as the producer
/// of another, and a proxy or an echo stops reading while the other side's
/// buffer is full.
///
/// ```no_run
/// # use std::rc::Rc;
/// # use torsion::net::{Producer, Transport};
/// # fn relay(incoming: &Transport, outgoing: &Transport) {
/// outgoing
///     .register_producer(Producer::Push(Rc::new(incoming.clone())))
///     .unwrap();
/// # }
/// ```
impl crate::net::PushProducer for Transport {
    fn pause_producing(&self) {
        self.pause_reading();
    }

    fn resume_producing(&self) {
        self.resume_reading();
    }

    fn stop_producing(&self) {
        self.lose_connection();
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("peer", &self.peer())
            .field("open", &self.is_open())
            .finish()
    }
}
