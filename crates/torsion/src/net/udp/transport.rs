//! [`DatagramTransport`]: a datagram protocol's handle on its socket.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use crate::error::NetError;
use crate::net::Address;
use crate::net::sys::{self, IpVersion, Ipv4Interface};
use crate::{Deferred, Reactor};

use super::*;

/// A datagram protocol's handle on its socket (Twisted's UDP `Port` and
/// UNIX datagram ports as a transport).
///
/// Cheap to clone. Writes are not buffered: a datagram the socket cannot
/// take at once (`WouldBlock`) is dropped and the write returns the error,
/// as Twisted does. Multicast methods apply to UDP sockets; on a UNIX
/// socket they fail with `Unsupported`.
#[derive(Clone)]
pub struct DatagramTransport {
    pub(super) source: Rc<DatagramSource>,
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
            IpAddr::V4(group) => sys::join_multicast_v4(socket, group, v4_interface(interface)),
            IpAddr::V6(group) => sys::join_multicast_v6(socket, group, v6_index(interface)?),
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
            IpAddr::V4(group) => sys::leave_multicast_v4(socket, group, v4_interface(interface)),
            IpAddr::V6(group) => sys::leave_multicast_v6(socket, group, v6_index(interface)?),
        })
    }

    /// Sets how many hops multicast datagrams sent from here may travel
    /// (IP_MULTICAST_TTL, or IPV6_MULTICAST_HOPS on an IPv6 socket;
    /// Twisted's `setTTL`). The system's default is 1.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source
            .with_udp(|socket, version| sys::set_multicast_ttl(socket, version, ttl))
    }

    /// The multicast TTL (Twisted's `getTTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.with_udp(sys::multicast_ttl)
    }

    /// Whether multicast datagrams sent from here are also delivered to
    /// sockets of this host that joined the group (Twisted's
    /// `setLoopbackMode`). On by default.
    pub fn set_loopback_mode(&self, enabled: bool) -> io::Result<()> {
        self.source
            .with_udp(|socket, version| sys::set_multicast_loop(socket, version, enabled))
    }

    /// The multicast loopback mode (Twisted's `getLoopbackMode`).
    pub fn loopback_mode(&self) -> io::Result<bool> {
        self.source.with_udp(sys::multicast_loop)
    }

    /// The interface multicast datagrams leave by (Twisted's
    /// `setOutgoingInterface`): an address for IPv4, an index for IPv6.
    pub fn set_outgoing_interface(
        &self,
        interface: impl Into<MulticastInterface>,
    ) -> io::Result<()> {
        let interface = interface.into();
        self.source.with_udp(|socket, version| match version {
            IpVersion::V6 => sys::set_multicast_interface_v6(socket, v6_index(interface)?),
            IpVersion::V4 => match interface {
                MulticastInterface::Any => {
                    sys::set_multicast_interface_v4(socket, Ipv4Addr::UNSPECIFIED)
                }
                MulticastInterface::Address(address) => {
                    sys::set_multicast_interface_v4(socket, address)
                }
                MulticastInterface::Index(_) => Err(NetError::Ipv4InterfaceByIndex.into()),
            },
        })
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

/// A non-blocking UDP socket bound to `address` as `options` say.
pub(super) fn bind_udp(
    address: SocketAddr,
    options: &UdpOptions,
) -> io::Result<mio::net::UdpSocket> {
    sys::udp_socket(address, options.reuse_address, options.reuse_port)
}

/// The interface an IPv4 membership is on; `Any` is the wildcard address.
fn v4_interface(interface: MulticastInterface) -> Ipv4Interface {
    match interface {
        MulticastInterface::Any => Ipv4Interface::Address(Ipv4Addr::UNSPECIFIED),
        MulticastInterface::Address(address) => Ipv4Interface::Address(address),
        MulticastInterface::Index(index) => Ipv4Interface::Index(index),
    }
}

/// The interface index an IPv6 multicast call needs.
pub(super) fn v6_index(interface: MulticastInterface) -> io::Result<u32> {
    match interface {
        MulticastInterface::Any => Ok(0),
        MulticastInterface::Index(index) => Ok(index),
        MulticastInterface::Address(address) => {
            Err(NetError::Ipv6InterfaceByAddress(address).into())
        }
    }
}
