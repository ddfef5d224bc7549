//! One query to one server and its answer: over UDP from a socket of its
//! own, or over a TCP connection of its own. Neither has a deadline: the
//! resolver gives each a timeout, and cancelling closes the socket.
//!
//! An answer is taken only if it matches the query (RFC 5452): from the
//! server's address (the UDP socket is connected to it), with the query's
//! id, marked as a response, with the same question. Anything else on the
//! socket, a malformed datagram included, is ignored and the query waits
//! on, as a forged answer must not end it.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;

use hickory_proto::op::{Message, MessageType};
use torsion::defer::Resolver;
use torsion::error::{Cancelled, ConnectionDone, ConnectionRefused};
use torsion::net::{
    Address, ConnectOptions, DatagramProtocol, DatagramTransport, Transport, UdpOptions,
};
use torsion::protocols::{IntNStringReceiver, StringContext, StringHandler};
use torsion::{Deferred, Failure, Reactor};

use crate::DnsError;

/// The resolver of an exchange in progress, shared by its protocol and
/// its canceller: whichever comes first fires it.
type Pending = Rc<RefCell<Option<Resolver<Message>>>>;

fn fire(pending: &Pending, result: Result<Message, Failure>) {
    let resolver = pending.borrow_mut().take();
    if let Some(resolver) = resolver {
        resolver.complete(result);
    }
}

/// Whether `answer` answers `query`.
fn answers(query: &Message, answer: &Message) -> bool {
    answer.metadata.id == query.metadata.id
        && answer.metadata.message_type == MessageType::Response
        && answer.queries.len() == query.queries.len()
        && answer.queries.iter().zip(&query.queries).all(|(a, q)| {
            a.query_type == q.query_type && a.query_class == q.query_class && a.name == q.name
        })
}

/// The decoded answer to `query` in `data`, if it is one.
fn matching_answer(query: &Message, data: &[u8]) -> Option<Message> {
    Message::from_vec(data)
        .ok()
        .filter(|answer| answers(query, answer))
}

/// Sends `query` (encoded as `wire`) to `server` over UDP and fires with
/// its answer. Fails at once if the datagram cannot be sent, and with
/// [`ConnectionRefused`] if the server's host says no one listens there.
pub(crate) fn udp(
    reactor: &Reactor,
    server: SocketAddr,
    query: Rc<Message>,
    wire: Rc<Vec<u8>>,
) -> Deferred<Message> {
    let socket: Rc<RefCell<Option<DatagramTransport>>> = Rc::default();
    let pending: Pending = Rc::default();
    let (s, p) = (socket.clone(), pending.clone());
    // Fired before the socket closes, so that the Deferred fails with
    // `Cancelled` (which a timeout turns into `TimedOut`) and not with
    // what closing says.
    let (deferred, resolver) = Deferred::with_canceller(move || {
        fire(&p, Err(Failure::new(Cancelled)));
        let transport = s.borrow_mut().take();
        if let Some(transport) = transport {
            drop(transport.stop_listening());
        }
    });
    *pending.borrow_mut() = Some(resolver);
    let protocol = UdpQuery {
        query,
        wire,
        server,
        pending,
        socket,
    };
    let options = UdpOptions {
        // The largest DNS message: a server may answer past the EDNS size
        // offered, and a cut answer would not decode.
        max_packet_size: usize::from(u16::MAX),
        ..UdpOptions::default()
    };
    // The protocol fires the Deferred itself when the socket cannot be
    // connected or written; only a failure to open one is left here.
    if let Err(error) = reactor.listen_udp_with(unspecified(server), protocol, options) {
        return Deferred::fail(DnsError::Io(error));
    }
    deferred
}

/// The wildcard address of `server`'s family, any port: the system picks
/// a random source port for each query.
fn unspecified(server: SocketAddr) -> SocketAddr {
    let ip = match server.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

struct UdpQuery {
    query: Rc<Message>,
    wire: Rc<Vec<u8>>,
    server: SocketAddr,
    pending: Pending,
    /// Shared with the canceller, which closes the socket.
    socket: Rc<RefCell<Option<DatagramTransport>>>,
}

impl UdpQuery {
    fn finish(&mut self, result: Result<Message, Failure>) {
        fire(&self.pending, result);
        let transport = self.socket.borrow_mut().take();
        if let Some(transport) = transport {
            drop(transport.stop_listening());
        }
    }
}

impl DatagramProtocol for UdpQuery {
    fn start_protocol(&mut self, transport: &DatagramTransport) {
        *self.socket.borrow_mut() = Some(transport.clone());
        // Connected: datagrams from anywhere else are not delivered, and a
        // closed port is reported through `connection_refused`.
        let sent = transport
            .connect(self.server)
            .and_then(|()| transport.write(&self.wire));
        if let Err(error) = sent {
            self.finish(Err(Failure::new(DnsError::Io(error))));
        }
    }

    fn datagram_received(&mut self, data: &[u8], _from: Address) {
        if let Some(answer) = matching_answer(&self.query, data) {
            self.finish(Ok(answer));
        }
    }

    fn connection_refused(&mut self) {
        self.finish(Err(Failure::new(ConnectionRefused)));
    }

    fn stop_protocol(&mut self) {
        // Closed without an answer (the reactor stopped): none will come.
        fire(&self.pending, Err(Failure::new(ConnectionDone)));
    }
}

/// Sends `query` (encoded as `wire`) to `server` over a new TCP
/// connection and fires with its answer; the connection is closed then.
pub(crate) fn tcp(
    reactor: &Reactor,
    server: SocketAddr,
    query: Rc<Message>,
    wire: Rc<Vec<u8>>,
) -> Deferred<Message> {
    let connection: Rc<RefCell<Option<Transport>>> = Rc::default();
    let pending: Pending = Rc::default();
    let handler = TcpQuery {
        query,
        wire,
        pending: pending.clone(),
        connection: connection.clone(),
    };
    let protocol = IntNStringReceiver::int16(handler).with_max_length(usize::from(u16::MAX));
    // The resolver's timeout bounds the whole exchange, connecting included.
    let options = ConnectOptions {
        timeout: None,
        ..ConnectOptions::default()
    };
    let connected = reactor.connect_protocol(Address::Tcp(server), protocol, options);
    let connecting = connected.cancel_handle();
    let p = pending.clone();
    // As for UDP: fired with `Cancelled` before the attempt or the
    // connection is abandoned.
    let (deferred, resolver) = Deferred::with_canceller(move || {
        fire(&p, Err(Failure::new(Cancelled)));
        connecting.cancel();
        let transport = connection.borrow_mut().take();
        if let Some(transport) = transport {
            transport.abort_connection();
        }
    });
    *pending.borrow_mut() = Some(resolver);
    drop(connected.both(move |connected| {
        if let Err(failure) = connected {
            fire(&pending, Err(failure));
        }
        Ok::<_, Failure>(())
    }));
    deferred
}

struct TcpQuery {
    query: Rc<Message>,
    wire: Rc<Vec<u8>>,
    pending: Pending,
    /// Shared with the canceller, which aborts the connection.
    connection: Rc<RefCell<Option<Transport>>>,
}

impl StringHandler for TcpQuery {
    fn connection_made(&mut self, ctx: &mut StringContext<'_>) {
        if let Some(transport) = ctx.transport() {
            *self.connection.borrow_mut() = Some(transport.clone());
        }
        if ctx.send_string(&self.wire).is_err() {
            ctx.lose_connection();
        }
    }

    fn string_received(&mut self, ctx: &mut StringContext<'_>, data: &[u8]) {
        if let Some(answer) = matching_answer(&self.query, data) {
            self.connection.borrow_mut().take();
            ctx.lose_connection();
            fire(&self.pending, Ok(answer));
        }
    }

    fn connection_lost(&mut self, _ctx: &mut StringContext<'_>, reason: Failure) {
        self.connection.borrow_mut().take();
        fire(&self.pending, Err(reason));
    }
}
