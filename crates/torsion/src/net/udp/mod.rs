//! Datagram sockets: UDP (unicast and multicast) and, through the same
//! transport, UNIX datagram sockets (Twisted's `udp` and `unix` datagram
//! ports, `DatagramProtocol`).
//!
//! A [`DatagramProtocol`] hears every datagram with its sender's address;
//! the [`DatagramTransport`] it gets in `start_protocol` sends datagrams.
//! Nothing is buffered: a datagram the socket cannot take at once is dropped
//! and the write reports why, as a datagram lost on the network would be.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;

use mio::Token;

use crate::defer::Resolver;
use crate::error::NetError;
use crate::failure::catch_panic;
use crate::net::Address;
use crate::net::sys::IpVersion;
use crate::reactor::introspect::{PortInfo, SourceInfo};
use crate::reactor::{IoSource, Readiness, WeakReactor};
use crate::{Failure, Reactor};

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
            _ => Err(NetError::UnusableAddress(to.to_string()).into()),
        }
    }

    fn connect(&self, to: &Address) -> io::Result<()> {
        match (self, to) {
            (DatagramSocket::Udp(s), Address::Tcp(address)) => s.connect(*address),
            (DatagramSocket::Unix(s), Address::Unix(Some(path))) => s.connect(path),
            _ => Err(NetError::UnusableAddress(to.to_string()).into()),
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
            return Err(NetError::ConnectedElsewhere {
                connected: connected.to_string(),
                to: to.to_string(),
            }
            .into());
        }
        self.send(|socket| match self.is_connected() {
            true => socket.send(data),
            false => socket.send_to(data, &to),
        })
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        if !self.is_connected() {
            return Err(NetError::NotConnected.into());
        }
        self.send(|socket| socket.send(data))
    }

    fn send(&self, mut f: impl FnMut(&DatagramSocket) -> io::Result<usize>) -> io::Result<()> {
        loop {
            let result = match &*self.socket.borrow() {
                Some(socket) => f(socket),
                None => return Err(closed()),
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
            return Err(NetError::AlreadyConnected(connected.to_string()).into());
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

    /// Runs `f` on the UDP socket, with its IP version; `Unsupported` on
    /// a UNIX socket, `NotConnected` once closed.
    fn with_udp<R>(
        &self,
        f: impl FnOnce(&mio::net::UdpSocket, IpVersion) -> io::Result<R>,
    ) -> io::Result<R> {
        match &*self.socket.borrow() {
            Some(DatagramSocket::Udp(socket)) => {
                let version = match self.local {
                    Address::Tcp(address) => ip_version(address),
                    _ => IpVersion::V4,
                };
                f(socket, version)
            }
            Some(DatagramSocket::Unix(_)) => Err(NetError::NotUdp.into()),
            None => Err(closed()),
        }
    }
}

fn ip_version(address: SocketAddr) -> IpVersion {
    match address {
        SocketAddr::V4(_) => IpVersion::V4,
        SocketAddr::V6(_) => IpVersion::V6,
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
    NetError::Closed.into()
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

    fn describe(&self, _now: std::time::Instant) -> Option<SourceInfo> {
        let kind = match &self.local {
            Address::Unix(_) => "unix-datagram",
            _ => "udp",
        };
        self.socket.borrow().as_ref()?;
        Some(SourceInfo::Port(PortInfo::new(
            self.local.to_string(),
            kind,
            0,
        )))
    }
}

mod listen;
mod transport;

pub use transport::DatagramTransport;

#[cfg(test)]
mod tests;
