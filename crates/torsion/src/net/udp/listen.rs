//! Opening datagram sockets: UDP, multicast, adopted sockets.

use std::io;
use std::net::SocketAddr;

use crate::Reactor;
use crate::net::sys;

use super::transport::bind_udp;
use super::*;

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
        socket: mio::net::UdpSocket,
        protocol: impl DatagramProtocol,
        max_packet_size: usize,
    ) -> io::Result<DatagramTransport> {
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
        sys::hear_only_joined_groups(&socket, ip_version(address));
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
