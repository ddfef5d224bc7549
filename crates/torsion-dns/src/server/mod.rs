//! An authoritative name server: [`DnsServerFactory`] answers from its
//! [`Zone`]s over TCP (as a [`Factory`]) and UDP (as a
//! [`DatagramProtocol`]), as Twisted's `names.server.DNSServerFactory`
//! and `dns.DNSDatagramProtocol` do.
//!
//! Each message is answered on its own, synchronously: the zones are in
//! memory, so there is nothing to wait for. What the server does with
//! odd messages (malformed, not a query, outside its zones) is in
//! [`handler`]. It does not recurse: a name in none of its zones is
//! REFUSED.
//!
//! A TCP connection that brings no whole message for
//! [`DEFAULT_TCP_IDLE_TIMEOUT`] is closed (RFC 7766 §6.2.3), so idle
//! clients cannot hold the server's descriptors.
//!
//! ```
//! use std::rc::Rc;
//! use torsion::{Failure, Reactor};
//! use torsion::endpoints::server_from_string;
//! use torsion_dns::{DnsServerFactory, Zone};
//!
//! let zone = Zone::parse(
//!     "$ORIGIN example.test.\n\
//!      $TTL 3600\n\
//!      @ SOA ns1 hostmaster 1 7200 900 1209600 300\n\
//!      @ NS ns1\n\
//!      ns1 A 192.0.2.1",
//!     None,
//! )?;
//! let reactor = Reactor::new()?;
//! let server = Rc::new(DnsServerFactory::new(vec![zone]));
//! // UDP and TCP on the same port, as name servers are.
//! let ports = server.listen(&reactor, "127.0.0.1:0".parse()?)?;
//! println!("serving example.test on {} (UDP and TCP)", ports.address());
//! // Or TCP alone, from an endpoint string.
//! let endpoint = server_from_string(&reactor, "tcp:0:interface=127.0.0.1")?;
//! let listening = endpoint.listen(server.clone());
//! # drop(listening);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use torsion::net::{
    Address, DatagramProtocol, DatagramTransport, Factory, ListeningPort, Protocol, UdpOptions,
};
use torsion::protocols::{IntNStringReceiver, StringContext, StringHandler};
use torsion::time::IdleTimeout;
use torsion::{Failure, Reactor};

use crate::Zone;

pub mod handler;

use handler::{TransportKind, respond};

/// How long a TCP client may go without sending a whole message before
/// the server closes its connection, unless
/// [`with_tcp_idle_timeout`](DnsServerFactory::with_tcp_idle_timeout) says
/// otherwise: 30 s, what BIND and Unbound wait. Twisted's server has no
/// such bound; RFC 7766 §6.2.3 asks for one, since each connection holds
/// a descriptor.
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Answers DNS queries from a set of zones, over UDP and TCP (Twisted's
/// `DNSServerFactory` with `BindAuthority`s).
///
/// As a [`Factory`] it serves TCP connections, each a stream of messages
/// prefixed with their two-byte length (RFC 1035 4.2.2), answered in
/// order; [`datagram_protocol`](DnsServerFactory::datagram_protocol)
/// serves a UDP socket. A question goes to the zone with the longest
/// origin that contains its name.
#[derive(Debug)]
pub struct DnsServerFactory {
    zones: Rc<[Zone]>,
    tcp_idle_timeout: Option<Duration>,
}

impl DnsServerFactory {
    /// A server for `zones`.
    pub fn new(zones: Vec<Zone>) -> DnsServerFactory {
        DnsServerFactory {
            zones: zones.into(),
            tcp_idle_timeout: Some(DEFAULT_TCP_IDLE_TIMEOUT),
        }
    }

    /// Closes a TCP connection that has brought no whole message for
    /// `period`, or never with `None`. The timer runs on the reactor that
    /// serves the connection.
    pub fn with_tcp_idle_timeout(mut self, period: Option<Duration>) -> DnsServerFactory {
        self.tcp_idle_timeout = period;
        self
    }

    /// The zones served.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The response to one message (`None`: dropped), as the server sends
    /// it over `transport`.
    pub fn respond(&self, request: &[u8], transport: TransportKind) -> Option<Vec<u8>> {
        respond(&self.zones, request, transport)
    }

    /// A protocol answering the datagrams of a UDP socket from these zones
    /// (Twisted's `DNSDatagramProtocol`).
    pub fn datagram_protocol(&self) -> DnsDatagramProtocol {
        DnsDatagramProtocol {
            zones: self.zones.clone(),
            transport: None,
        }
    }

    /// Opens a UDP socket on `address` and answers on it.
    pub fn listen_udp(
        &self,
        reactor: &Reactor,
        address: SocketAddr,
    ) -> io::Result<DatagramTransport> {
        let options = UdpOptions {
            // The largest DNS message; longer datagrams are not DNS.
            max_packet_size: usize::from(u16::MAX),
            ..UdpOptions::default()
        };
        reactor.listen_udp_with(address, self.datagram_protocol(), options)
    }
}

/// How many free UDP ports [`DnsServerFactory::listen`] tries when asked
/// for any port, in case another program holds the same TCP port.
const FREE_PORT_TRIES: usize = 8;

/// The sockets a server answers on: UDP and TCP on one address, as
/// [`DnsServerFactory::listen`] opens them.
#[derive(Debug)]
pub struct ServerPorts {
    /// The UDP socket.
    pub udp: DatagramTransport,
    /// The TCP listening port.
    pub tcp: ListeningPort,
}

impl ServerPorts {
    /// The address both listen on.
    pub fn address(&self) -> SocketAddr {
        self.udp
            .udp_address()
            .expect("a UDP socket has an IP address")
    }
}

impl DnsServerFactory {
    /// Answers over UDP and TCP on `address`, as name servers do. With
    /// port 0, the UDP socket takes a free port and TCP listens on the
    /// same one (another free port is tried if that one is taken for TCP).
    pub fn listen(
        self: &Rc<Self>,
        reactor: &Reactor,
        address: SocketAddr,
    ) -> io::Result<ServerPorts> {
        let tries = if address.port() == 0 {
            FREE_PORT_TRIES
        } else {
            1
        };
        let mut last_error = None;
        for _ in 0..tries {
            let udp = self.listen_udp(reactor, address)?;
            let bound = udp.udp_address().expect("a UDP socket has an IP address");
            match reactor.listen_tcp(bound, self.clone()) {
                Ok(tcp) => return Ok(ServerPorts { udp, tcp }),
                Err(error) => {
                    drop(udp.stop_listening());
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.expect("at least one try"))
    }
}

impl Factory for DnsServerFactory {
    fn build_protocol(&self, _address: &Address) -> Option<Box<dyn Protocol>> {
        let handler = TcpHandler {
            zones: self.zones.clone(),
            idle_timeout: self.tcp_idle_timeout,
            idle: None,
        };
        // Every length a two-byte prefix can say.
        Some(Box::new(
            IntNStringReceiver::int16(handler).with_max_length(usize::from(u16::MAX)),
        ))
    }
}

/// Answers the queries of one UDP socket; made by
/// [`DnsServerFactory::datagram_protocol`].
#[derive(Debug)]
pub struct DnsDatagramProtocol {
    zones: Rc<[Zone]>,
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for DnsDatagramProtocol {
    fn start_protocol(&mut self, transport: &DatagramTransport) {
        self.transport = Some(transport.clone());
    }

    fn datagram_received(&mut self, data: &[u8], from: Address) {
        let (Some(transport), Some(response)) = (
            &self.transport,
            respond(&self.zones, data, TransportKind::Udp),
        ) else {
            return;
        };
        if let Err(error) = transport.write_to(&response, from.clone()) {
            // As a datagram lost on the way: the client asks again.
            tracing::debug!(%error, peer = %from, "a DNS response was not sent");
        }
    }
}

/// Answers the queries of one TCP connection.
struct TcpHandler {
    zones: Rc<[Zone]>,
    idle_timeout: Option<Duration>,
    /// Running from the connection's start to its end.
    idle: Option<IdleTimeout>,
}

impl StringHandler for TcpHandler {
    fn connection_made(&mut self, ctx: &mut StringContext<'_>) {
        let (Some(period), Some(reactor), Some(transport)) =
            (self.idle_timeout, Reactor::current(), ctx.transport())
        else {
            return;
        };
        let transport = transport.clone();
        let idle = IdleTimeout::new(reactor, move || {
            tracing::debug!(peer = %transport.peer(), "dns: a quiet TCP client timed out");
            transport.lose_connection();
        });
        idle.set_timeout(Some(period));
        self.idle = Some(idle);
    }

    fn string_received(&mut self, ctx: &mut StringContext<'_>, data: &[u8]) {
        if let Some(idle) = &self.idle {
            idle.reset();
        }
        match respond(&self.zones, data, TransportKind::Tcp) {
            // No longer than the prefix allows: the TCP limit is u16::MAX.
            Some(response) => {
                let _ = ctx.send_string(&response);
            }
            // Not even a header: the stream cannot be trusted to be DNS.
            None => ctx.lose_connection(),
        }
    }

    fn connection_lost(&mut self, _ctx: &mut StringContext<'_>, _reason: Failure) {
        // The timeout's function holds the transport.
        self.idle = None;
    }
}
