//! Datagram sockets: UDP (unicast and multicast) and, through the same
//! transport, UNIX datagram sockets (Twisted's `udp` and `unix` datagram
//! ports, `DatagramProtocol`).
//!
//! A [`DatagramProtocol`] hears every datagram with its sender's address;
//! the [`DatagramTransport`] it gets in `start_protocol` sends datagrams.
//! Nothing is buffered: a datagram the socket cannot take at once is dropped
//! and the write reports why, as a datagram lost on the network would be.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use mio::Token;

use crate::defer::Resolver;
use crate::failure::catch_panic;
use crate::net::Address;
use crate::net::tcp::bind_error;
use crate::reactor::{IoSource, Readiness, WeakReactor};
use crate::time::Scheduler;
use crate::{Deferred, Failure, Reactor};

/// The largest datagram a port reads unless told otherwise (Twisted's
/// `maxPacketSize`); longer datagrams are truncated to it.
pub const DEFAULT_MAX_PACKET_SIZE: usize = 8192;

/// Datagrams read per readiness event before the socket yields to the
/// others; the rest are read on the next turn.
const READS_PER_TURN: usize = 256;

/// Reacts to the datagrams of one socket (Twisted's `DatagramProtocol`).
///
/// Every callback runs on the reactor's thread. A panic in one is caught and
/// logged: the datagram concerned is lost, the socket goes on.
///
/// ```
/// use torsion::net::{Address, DatagramProtocol, DatagramTransport};
/// use torsion::Reactor;
///
/// /// Sends every datagram back to where it came from.
/// #[derive(Default)]
/// struct Echo {
///     transport: Option<DatagramTransport>,
/// }
///
/// impl DatagramProtocol for Echo {
///     fn start_protocol(&mut self, transport: &DatagramTransport) {
///         self.transport = Some(transport.clone());
///     }
///     fn datagram_received(&mut self, data: &[u8], from: Address) {
///         if let Some(transport) = &self.transport {
///             let _ = transport.write_to(data, from);
///         }
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let port = reactor.listen_udp("127.0.0.1:0".parse()?, Echo::default())?;
/// println!("echoing datagrams on {}", port.local_address());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DatagramProtocol: 'static {
    /// The socket is open; `transport` sends on it. Keep a clone to write
    /// later.
    fn start_protocol(&mut self, transport: &DatagramTransport) {
        let _ = transport;
    }

    /// A datagram arrived from `from` (truncated to the port's maximum
    /// packet size).
    fn datagram_received(&mut self, data: &[u8], from: Address);

    /// On a connected transport: the peer refused a datagram (an ICMP port
    /// unreachable for UDP, no socket at the path for UNIX). Which datagram
    /// is not known, and the refusal may come after later writes.
    fn connection_refused(&mut self) {}

    /// The socket closed, after [`DatagramTransport::stop_listening`] or
    /// because the reactor stopped. Called once.
    fn stop_protocol(&mut self) {}
}

/// How a UDP port is opened.
#[derive(Clone, Debug)]
pub struct UdpOptions {
    /// The largest datagram read; longer ones are truncated.
    pub max_packet_size: usize,
    /// Set SO_REUSEADDR before binding.
    pub reuse_address: bool,
    /// Set SO_REUSEPORT before binding, so several sockets can bind the same
    /// port (what [`Reactor::listen_multicast`] does with `listen_multiple`).
    pub reuse_port: bool,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            reuse_address: false,
            reuse_port: false,
        }
    }
}

/// An interface for multicast membership or for sending multicast
/// datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MulticastInterface {
    /// Let the system choose (Twisted's `interface=""`).
    #[default]
    Any,
    /// The IPv4 interface that has this address, such as `127.0.0.1`.
    Address(Ipv4Addr),
    /// An interface by index (IPv6, or IPv4 group membership).
    Index(u32),
}

impl From<Ipv4Addr> for MulticastInterface {
    fn from(address: Ipv4Addr) -> Self {
        MulticastInterface::Address(address)
    }
}

impl From<u32> for MulticastInterface {
    fn from(index: u32) -> Self {
        MulticastInterface::Index(index)
    }
}

/// The socket under a datagram port.
#[derive(Debug)]
pub(crate) enum DatagramSocket {
    Udp(mio::net::UdpSocket),
    Unix(mio::net::UnixDatagram),
}

impl DatagramSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Address)> {
        match self {
            DatagramSocket::Udp(s) => s.recv_from(buf).map(|(n, a)| (n, Address::Tcp(a))),
            DatagramSocket::Unix(s) => s.recv_from(buf).map(|(n, a)| (n, Address::from(a))),
        }
    }

    fn send(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            DatagramSocket::Udp(s) => s.send(data),
            DatagramSocket::Unix(s) => s.send(data),
        }
    }

    fn send_to(&self, data: &[u8], to: &Address) -> io::Result<usize> {
        match (self, to) {
            (DatagramSocket::Udp(s), Address::Tcp(address)) => s.send_to(data, *address),
            (DatagramSocket::Unix(s), Address::Unix(Some(path))) => s.send_to(data, path),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot send to {to} on this socket"),
            )),
        }
    }

    fn connect(&self, to: &Address) -> io::Result<()> {
        match (self, to) {
            (DatagramSocket::Udp(s), Address::Tcp(address)) => s.connect(*address),
            (DatagramSocket::Unix(s), Address::Unix(Some(path))) => s.connect(path),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot connect to {to} on this socket"),
            )),
        }
    }

    pub(crate) fn local(&self) -> Address {
        match self {
            DatagramSocket::Udp(s) => s.local_addr().map(Address::Tcp).unwrap_or(Address::Unknown),
            DatagramSocket::Unix(s) => s
                .local_addr()
                .map(Address::from)
                .unwrap_or(Address::Unknown),
        }
    }

    pub(crate) fn peer(&self) -> Option<Address> {
        match self {
            DatagramSocket::Udp(s) => s.peer_addr().ok().map(Address::Tcp),
            DatagramSocket::Unix(s) => s.peer_addr().ok().map(Address::from),
        }
    }
}

impl AsRawFd for DatagramSocket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            DatagramSocket::Udp(s) => s.as_raw_fd(),
            DatagramSocket::Unix(s) => s.as_raw_fd(),
        }
    }
}

pub(crate) struct DatagramSource {
    token: Token,
    reactor: WeakReactor,
    socket: RefCell<Option<DatagramSocket>>,
    /// Taken out once `stop_protocol` has run, which also breaks the cycle
    /// through a transport the protocol keeps.
    protocol: RefCell<Option<Box<dyn DatagramProtocol>>>,
    max_packet_size: usize,
    local: Address,
    connected: RefCell<Option<Address>>,
    /// Removed when the socket closes (a UNIX socket file).
    unlink: Option<PathBuf>,
    /// A write was refused: `connection_refused` is owed.
    refused: Cell<bool>,
    /// The socket may hold datagrams no new edge will announce.
    read_pending: Cell<bool>,
    settle_scheduled: Cell<bool>,
    /// `stop_protocol` has run.
    stopped: Cell<bool>,
    stop_waiters: RefCell<Vec<Resolver<()>>>,
}

impl DatagramSource {
    /// Calls the protocol, catching a panic: it is logged and the socket
    /// goes on.
    fn call_protocol(&self, what: &str, f: impl FnOnce(&mut dyn DatagramProtocol)) {
        let Ok(mut slot) = self.protocol.try_borrow_mut() else {
            // A nested loop turn inside this protocol's own callback.
            return;
        };
        let Some(protocol) = slot.as_mut() else {
            return;
        };
        let result = catch_panic(|| f(protocol.as_mut()));
        drop(slot);
        if let Err(failure) = result {
            report_panic(&failure, what, &self.local);
        }
    }

    fn is_connected(&self) -> bool {
        self.connected.borrow().is_some()
    }

    fn read(&self, reactor: &Reactor) {
        for _ in 0..READS_PER_TURN {
            let more = reactor.with_read_buffer(self.max_packet_size, |buffer| {
                let received = match &*self.socket.borrow() {
                    Some(socket) => socket.recv_from(buffer),
                    None => return false,
                };
                match received {
                    Ok((n, from)) => {
                        let data = &buffer[..n];
                        self.call_protocol("datagram_received", |protocol| {
                            protocol.datagram_received(data, from)
                        });
                        true
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => false,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => true,
                    Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                        if self.is_connected() {
                            self.call_protocol("connection_refused", |protocol| {
                                protocol.connection_refused()
                            });
                        }
                        true
                    }
                    Err(error) => {
                        // A pending socket error (unreachable network, a
                        // datagram too big): reading it clears it.
                        tracing::warn!(%error, address = %self.local, "datagram socket error");
                        true
                    }
                }
            });
            if !more {
                return;
            }
        }
        // More may be waiting: come back next turn.
        self.read_pending.set(true);
        self.schedule_settle(reactor);
    }

    fn schedule_settle(&self, reactor: &Reactor) {
        if !self.settle_scheduled.replace(true) {
            reactor.settle_later(self.token);
        }
    }

    fn write_to(&self, data: &[u8], to: Address) -> io::Result<()> {
        if let Some(connected) = &*self.connected.borrow()
            && *connected != to
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("this transport is connected to {connected}; it cannot send to {to}"),
            ));
        }
        self.send(|socket| match self.is_connected() {
            true => socket.send(data),
            false => socket.send_to(data, &to),
        })
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        if !self.is_connected() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "write needs a connected transport; use write_to",
            ));
        }
        self.send(|socket| socket.send(data))
    }

    fn send(&self, mut f: impl FnMut(&DatagramSocket) -> io::Result<usize>) -> io::Result<()> {
        loop {
            let result = match &*self.socket.borrow() {
                Some(socket) => f(socket),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "the datagram socket is closed",
                    ));
                }
            };
            match result {
                Ok(_) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    if error.kind() == io::ErrorKind::ConnectionRefused && self.is_connected() {
                        // Tell the protocol from the loop, not from inside
                        // its own call.
                        self.refused.set(true);
                        if let Some(reactor) = self.reactor.upgrade() {
                            self.schedule_settle(&reactor);
                        }
                    }
                    return Err(error);
                }
            }
        }
    }

    fn connect(&self, to: Address) -> io::Result<()> {
        if let Some(connected) = &*self.connected.borrow() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("already connected to {connected}; reconnecting is not supported"),
            ));
        }
        match &*self.socket.borrow() {
            Some(socket) => socket.connect(&to)?,
            None => return Err(closed()),
        }
        *self.connected.borrow_mut() = Some(to);
        Ok(())
    }

    /// Closes the socket; false if it already was.
    fn close(&self, reactor: Option<&Reactor>) -> bool {
        let Some(socket) = self.socket.borrow_mut().take() else {
            return false;
        };
        if let Some(reactor) = reactor {
            reactor.remove_source(self.token, socket.as_raw_fd());
        }
        drop(socket);
        if let Some(path) = &self.unlink {
            let _ = std::fs::remove_file(path);
        }
        true
    }

    /// Runs `stop_protocol` (once), forgets the protocol and fires the
    /// `stop_listening` Deferreds.
    fn finish_stop(&self) {
        if !self.stopped.replace(true) {
            self.call_protocol("stop_protocol", |protocol| protocol.stop_protocol());
            let protocol = self
                .protocol
                .try_borrow_mut()
                .ok()
                .and_then(|mut p| p.take());
            drop(protocol);
        }
        let waiters = std::mem::take(&mut *self.stop_waiters.borrow_mut());
        for waiter in waiters {
            waiter.resolve(());
        }
    }

    fn with_udp<R>(
        &self,
        f: impl FnOnce(socket2::SockRef<'_>, bool) -> io::Result<R>,
    ) -> io::Result<R> {
        match &*self.socket.borrow() {
            Some(DatagramSocket::Udp(socket)) => {
                let ipv6 = matches!(self.local, Address::Tcp(SocketAddr::V6(_)));
                f(socket2::SockRef::from(socket), ipv6)
            }
            Some(DatagramSocket::Unix(_)) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "multicast options apply to UDP sockets only",
            )),
            None => Err(closed()),
        }
    }
}

/// Finishes stopping a closed source when dropped: when its call runs on
/// the next turn, or when a reactor that finishes first discards the call.
struct FinishStop(Rc<DatagramSource>);

impl Drop for FinishStop {
    fn drop(&mut self) {
        self.0.finish_stop();
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the datagram socket is closed")
}

fn report_panic(failure: &Failure, what: &str, address: &Address) {
    tracing::error!(%failure, what, %address, "panic in a datagram protocol callback");
}

impl IoSource for DatagramSource {
    fn ready(&self, reactor: &Reactor, readiness: Readiness) {
        if readiness.readable || readiness.error || readiness.read_closed {
            self.read(reactor);
        }
    }

    fn settle(&self, reactor: &Reactor) {
        self.settle_scheduled.set(false);
        if self.refused.replace(false) {
            self.call_protocol("connection_refused", |protocol| {
                protocol.connection_refused()
            });
        }
        if self.read_pending.replace(false) {
            self.read(reactor);
        }
    }

    fn shutdown(&self, reactor: &Reactor) {
        self.close(Some(reactor));
        self.finish_stop();
    }
}

/// A datagram protocol's handle on its socket (Twisted's UDP `Port` and
/// UNIX datagram ports as a transport).
///
/// Cheap to clone. Writes are not buffered: a datagram the socket cannot
/// take at once (`WouldBlock`) is dropped and the write returns the error,
/// as Twisted does. Multicast methods apply to UDP sockets; on a UNIX
/// socket they fail with `Unsupported`.
#[derive(Clone)]
pub struct DatagramTransport {
    source: Rc<DatagramSource>,
}

impl DatagramTransport {
    /// Registers `socket` with the reactor and starts `protocol` on it.
    pub(crate) fn open(
        reactor: &Reactor,
        socket: DatagramSocket,
        protocol: Box<dyn DatagramProtocol>,
        max_packet_size: usize,
        unlink: Option<PathBuf>,
    ) -> io::Result<DatagramTransport> {
        let local = socket.local();
        let connected = socket.peer();
        let source = reactor.add_source(|registry, token| {
            let fd = socket.as_raw_fd();
            registry.register(
                &mut mio::unix::SourceFd(&fd),
                token,
                mio::Interest::READABLE,
            )?;
            Ok(Rc::new(DatagramSource {
                token,
                reactor: reactor.downgrade(),
                socket: RefCell::new(Some(socket)),
                protocol: RefCell::new(Some(protocol)),
                max_packet_size: max_packet_size.max(1),
                local,
                connected: RefCell::new(connected),
                unlink,
                refused: Cell::new(false),
                read_pending: Cell::new(false),
                settle_scheduled: Cell::new(false),
                stopped: Cell::new(false),
                stop_waiters: RefCell::new(Vec::new()),
            }))
        })?;
        let transport = DatagramTransport { source };
        transport
            .source
            .call_protocol("start_protocol", |protocol| {
                protocol.start_protocol(&transport)
            });
        Ok(transport)
    }

    /// Sends one datagram to `to` (a UDP address, or a UNIX socket path as
    /// `Address::Unix(Some(path))`). On a connected transport `to` must be
    /// the connected address. A datagram the socket cannot take now is
    /// dropped and the error returned. On a connected transport a refusal
    /// also reaches the protocol's `connection_refused`, on the next turn.
    pub fn write_to(&self, data: &[u8], to: impl Into<Address>) -> io::Result<()> {
        self.source.write_to(data, to.into())
    }

    /// Sends one datagram to the connected address (see
    /// [`connect`](DatagramTransport::connect)); `NotConnected` otherwise.
    pub fn write(&self, data: &[u8]) -> io::Result<()> {
        self.source.write(data)
    }

    /// Connects the socket to `to`: only datagrams from there are received,
    /// [`write`](DatagramTransport::write) sends there, and refusals reach
    /// [`DatagramProtocol::connection_refused`]. A transport connects once.
    pub fn connect(&self, to: impl Into<Address>) -> io::Result<()> {
        self.source.connect(to.into())
    }

    /// The address the socket is bound to; with port 0 asked, the port the
    /// system chose.
    pub fn local_address(&self) -> Address {
        self.source.local.clone()
    }

    /// The bound UDP address, for the common case of a UDP socket.
    pub fn udp_address(&self) -> Option<SocketAddr> {
        match self.source.local {
            Address::Tcp(address) => Some(address),
            _ => None,
        }
    }

    /// Where a connected transport sends; `None` if not connected.
    pub fn connected_address(&self) -> Option<Address> {
        self.source.connected.borrow().clone()
    }

    /// The largest datagram this socket reads.
    pub fn max_packet_size(&self) -> usize {
        self.source.max_packet_size
    }

    /// True until the socket is closed.
    pub fn is_open(&self) -> bool {
        self.source.socket.borrow().is_some()
    }

    /// Closes the socket at once (the port can be bound again as soon as
    /// this returns). The protocol's `stop_protocol` runs on the next turn,
    /// and then the Deferred fires. Stopping twice is harmless.
    pub fn stop_listening(&self) -> Deferred<()> {
        let source = &self.source;
        if source.stopped.get() {
            return Deferred::succeed(());
        }
        let (stopped, resolver) = Deferred::new();
        source.stop_waiters.borrow_mut().push(resolver);
        match source.reactor.upgrade() {
            Some(reactor) => {
                if source.close(Some(&reactor)) {
                    let finish = FinishStop(source.clone());
                    reactor.call_later(Duration::ZERO, move || drop(finish));
                }
            }
            None => {
                source.close(None);
                source.finish_stop();
            }
        }
        stopped
    }

    /// Joins the multicast `group` on `interface` (Twisted's `joinGroup`):
    /// datagrams sent to the group on that interface, to this socket's port,
    /// arrive here. An IPv4 group takes an interface address or index, an
    /// IPv6 group an index.
    pub fn join_group(
        &self,
        group: IpAddr,
        interface: impl Into<MulticastInterface>,
    ) -> io::Result<()> {
        let interface = interface.into();
        self.source.with_udp(|socket, _| match group {
            IpAddr::V4(group) => match interface {
                MulticastInterface::Any => socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED),
                MulticastInterface::Address(address) => socket.join_multicast_v4(&group, &address),
                MulticastInterface::Index(index) => socket
                    .join_multicast_v4_n(&group, &socket2::InterfaceIndexOrAddress::Index(index)),
            },
            IpAddr::V6(group) => socket.join_multicast_v6(&group, v6_index(interface)?),
        })
    }

    /// Leaves a group joined with [`join_group`](DatagramTransport::join_group)
    /// (Twisted's `leaveGroup`).
    pub fn leave_group(
        &self,
        group: IpAddr,
        interface: impl Into<MulticastInterface>,
    ) -> io::Result<()> {
        let interface = interface.into();
        self.source.with_udp(|socket, _| match group {
            IpAddr::V4(group) => match interface {
                MulticastInterface::Any => {
                    socket.leave_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
                }
                MulticastInterface::Address(address) => socket.leave_multicast_v4(&group, &address),
                MulticastInterface::Index(index) => socket
                    .leave_multicast_v4_n(&group, &socket2::InterfaceIndexOrAddress::Index(index)),
            },
            IpAddr::V6(group) => socket.leave_multicast_v6(&group, v6_index(interface)?),
        })
    }

    /// Sets how many hops multicast datagrams sent from here may travel
    /// (IP_MULTICAST_TTL, or IPV6_MULTICAST_HOPS on an IPv6 socket;
    /// Twisted's `setTTL`). The system's default is 1.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.with_udp(|socket, ipv6| match ipv6 {
            true => socket.set_multicast_hops_v6(ttl),
            false => socket.set_multicast_ttl_v4(ttl),
        })
    }

    /// The multicast TTL (Twisted's `getTTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.with_udp(|socket, ipv6| match ipv6 {
            true => socket.multicast_hops_v6(),
            false => socket.multicast_ttl_v4(),
        })
    }

    /// Whether multicast datagrams sent from here are also delivered to
    /// sockets of this host that joined the group (Twisted's
    /// `setLoopbackMode`). On by default.
    pub fn set_loopback_mode(&self, enabled: bool) -> io::Result<()> {
        self.source.with_udp(|socket, ipv6| match ipv6 {
            true => socket.set_multicast_loop_v6(enabled),
            false => socket.set_multicast_loop_v4(enabled),
        })
    }

    /// The multicast loopback mode (Twisted's `getLoopbackMode`).
    pub fn loopback_mode(&self) -> io::Result<bool> {
        self.source.with_udp(|socket, ipv6| match ipv6 {
            true => socket.multicast_loop_v6(),
            false => socket.multicast_loop_v4(),
        })
    }

    /// The interface multicast datagrams leave by (Twisted's
    /// `setOutgoingInterface`): an address for IPv4, an index for IPv6.
    pub fn set_outgoing_interface(
        &self,
        interface: impl Into<MulticastInterface>,
    ) -> io::Result<()> {
        let interface = interface.into();
        self.source.with_udp(|socket, ipv6| {
            if ipv6 {
                return socket.set_multicast_if_v6(v6_index(interface)?);
            }
            match interface {
                MulticastInterface::Any => socket.set_multicast_if_v4(&Ipv4Addr::UNSPECIFIED),
                MulticastInterface::Address(address) => socket.set_multicast_if_v4(&address),
                MulticastInterface::Index(_) => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "an IPv4 outgoing interface is chosen by address",
                )),
            }
        })
    }
}

/// A non-blocking UDP socket bound to `address` as `options` say.
fn bind_udp(address: SocketAddr, options: &UdpOptions) -> io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::DGRAM.nonblocking().cloexec(),
        None,
    )?;
    if options.reuse_address {
        socket.set_reuse_address(true)?;
    }
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket
        .bind(&address.into())
        .map_err(|error| bind_error(error, &address))?;
    Ok(socket)
}

/// The interface index an IPv6 multicast call needs.
fn v6_index(interface: MulticastInterface) -> io::Result<u32> {
    match interface {
        MulticastInterface::Any => Ok(0),
        MulticastInterface::Index(index) => Ok(index),
        MulticastInterface::Address(address) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("an IPv6 group takes an interface index, not {address}"),
        )),
    }
}

impl fmt::Debug for DatagramTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramTransport")
            .field("local", &self.source.local)
            .field("connected", &*self.source.connected.borrow())
            .field("open", &self.is_open())
            .finish()
    }
}

impl Reactor {
    /// Opens a UDP socket bound to `address` (port 0 picks a free port; see
    /// [`DatagramTransport::local_address`]) and starts `protocol` on it
    /// (Twisted's `listenUDP`). Failing to bind is an immediate error.
    ///
    /// ```
    /// use torsion::net::{Address, DatagramProtocol};
    /// use torsion::Reactor;
    ///
    /// struct Print;
    /// impl DatagramProtocol for Print {
    ///     fn datagram_received(&mut self, data: &[u8], from: Address) {
    ///         println!("{from}: {}", String::from_utf8_lossy(data));
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let port = reactor.listen_udp("127.0.0.1:0".parse()?, Print)?;
    /// let sender = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// sender.send_to(b"hello", port.udp_address().unwrap())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_udp(
        &self,
        address: SocketAddr,
        protocol: impl DatagramProtocol,
    ) -> io::Result<DatagramTransport> {
        self.listen_udp_with(address, protocol, UdpOptions::default())
    }

    /// [`listen_udp`](Reactor::listen_udp) with options.
    pub fn listen_udp_with(
        &self,
        address: SocketAddr,
        protocol: impl DatagramProtocol,
        options: UdpOptions,
    ) -> io::Result<DatagramTransport> {
        let socket = bind_udp(address, &options)?;
        self.open_udp(socket, protocol, options.max_packet_size)
    }

    fn open_udp(
        &self,
        socket: socket2::Socket,
        protocol: impl DatagramProtocol,
        max_packet_size: usize,
    ) -> io::Result<DatagramTransport> {
        let socket = mio::net::UdpSocket::from_std(socket.into());
        DatagramTransport::open(
            self,
            DatagramSocket::Udp(socket),
            Box::new(protocol),
            max_packet_size,
            None,
        )
    }

    /// Opens a UDP socket for multicast (Twisted's `listenMulticast`): bind
    /// it to the group's port on the wildcard address (`0.0.0.0:port`), then
    /// [`join_group`](DatagramTransport::join_group). With
    /// `listen_multiple`, SO_REUSEADDR and SO_REUSEPORT let several sockets
    /// (in this process or others) bind the same port; each gets a copy of
    /// every datagram sent to a group it joined. On Linux the socket hears
    /// only the groups it joined itself (IP_MULTICAST_ALL is turned off),
    /// so [`leave_group`](DatagramTransport::leave_group) stops delivery
    /// even while another socket of the host stays a member.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use torsion::net::{Address, DatagramProtocol};
    /// use torsion::Reactor;
    ///
    /// struct Listen;
    /// impl DatagramProtocol for Listen {
    ///     fn datagram_received(&mut self, data: &[u8], from: Address) {
    ///         println!("{from} sent {} bytes to the group", data.len());
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let port = reactor.listen_multicast("0.0.0.0:0".parse()?, Listen, true)?;
    /// let group = Ipv4Addr::new(239, 255, 42, 1);
    /// // Joining needs a multicast-capable interface; loopback usually is.
    /// if let Err(error) = port.join_group(group.into(), Ipv4Addr::LOCALHOST) {
    ///     println!("cannot join {group}: {error}");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_multicast(
        &self,
        address: SocketAddr,
        protocol: impl DatagramProtocol,
        listen_multiple: bool,
    ) -> io::Result<DatagramTransport> {
        let options = UdpOptions {
            reuse_address: listen_multiple,
            reuse_port: listen_multiple,
            ..UdpOptions::default()
        };
        let socket = bind_udp(address, &options)?;
        // Linux otherwise delivers to a socket bound to the wildcard address
        // the datagrams of every group any socket of the host joined, on
        // its port: membership would not be this socket's own.
        #[cfg(target_os = "linux")]
        let _ = match address {
            SocketAddr::V4(_) => socket.set_multicast_all_v4(false),
            SocketAddr::V6(_) => socket.set_multicast_all_v6(false),
        };
        self.open_udp(socket, protocol, options.max_packet_size)
    }

    /// Runs `protocol` on a UDP socket opened elsewhere (Twisted's
    /// `adoptDatagramPort`); it is made non-blocking. A socket already
    /// connected gives a connected transport.
    pub fn adopt_udp_socket(
        &self,
        socket: std::net::UdpSocket,
        protocol: impl DatagramProtocol,
    ) -> io::Result<DatagramTransport> {
        socket.set_nonblocking(true)?;
        let socket = mio::net::UdpSocket::from_std(socket);
        DatagramTransport::open(
            self,
            DatagramSocket::Udp(socket),
            Box::new(protocol),
            DEFAULT_MAX_PACKET_SIZE,
            None,
        )
    }
}

#[cfg(test)]
mod tests;
