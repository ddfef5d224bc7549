//! TCP: listening, connecting and adopting sockets opened elsewhere.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::net::connector::Connector;
use crate::net::listener::{Listener, ListeningPort, PortExtras};
use crate::net::stream::{StreamConn, StreamSocket};
use crate::net::tls::{DEFAULT_HANDSHAKE_TIMEOUT, ServerTls, TlsSession, TlsSetup};
use crate::net::{
    AcceptGroup, Address, ClientFactory, ConnectOptions, Factory, Protocol, Transport, sys,
};
use crate::{Deferred, Reactor};

/// How a TCP port listens.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// The kernel's queue of connections not yet accepted.
    pub backlog: i32,
    /// Serve TLS on every connection.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long a connection's TLS handshake may take before the
    /// connection is aborted (its protocol's `connection_lost` gets a
    /// [`TlsHandshakeTimeout`](crate::error::TlsHandshakeTimeout)); `None`
    /// waits for ever. Default [`DEFAULT_HANDSHAKE_TIMEOUT`] (30 s).
    pub tls_handshake_timeout: Option<Duration>,
    /// Set SO_REUSEPORT, so several reactors (threads or processes) can
    /// share the port.
    pub reuse_port: bool,
    /// Even out the connections this port serves with the other ports of
    /// the group (see [`AcceptGroup`]).
    pub accept_group: Option<AcceptGroup>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: 1024,
            tls: None,
            tls_handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            reuse_port: false,
            accept_group: None,
        }
    }
}

impl Reactor {
    /// Listens on a TCP address (port 0 picks a free port; see
    /// [`ListeningPort::address`]). Failing to bind is an immediate error.
    pub fn listen_tcp(
        &self,
        address: SocketAddr,
        factory: impl Factory,
    ) -> io::Result<ListeningPort> {
        self.listen_tcp_with(address, factory, ListenOptions::default())
    }

    /// [`listen_tcp`](Reactor::listen_tcp) with options.
    pub fn listen_tcp_with(
        &self,
        address: SocketAddr,
        factory: impl Factory,
        options: ListenOptions,
    ) -> io::Result<ListeningPort> {
        let listener = sys::tcp_listener(address, options.backlog, options.reuse_port)?;
        ListeningPort::open(
            self,
            Listener::Tcp(listener),
            Rc::new(factory),
            PortExtras {
                tls: options.tls.map(|config| ServerTls {
                    config,
                    handshake_timeout: options.tls_handshake_timeout,
                }),
                unlink: None,
                group: options.accept_group,
            },
        )
    }

    /// Serves connections on a listening socket opened elsewhere (Twisted's
    /// `adoptStreamPort`); it is made non-blocking.
    pub fn adopt_tcp_listener(
        &self,
        listener: std::net::TcpListener,
        factory: impl Factory,
    ) -> io::Result<ListeningPort> {
        listener.set_nonblocking(true)?;
        let listener = mio::net::TcpListener::from_std(listener);
        ListeningPort::open(
            self,
            Listener::Tcp(listener),
            Rc::new(factory),
            PortExtras::default(),
        )
    }

    /// Connects to a TCP address; `factory` hears how the attempt ends, and
    /// the [`Connector`] can retry it (Twisted's `connectTCP`).
    pub fn connect_tcp(&self, address: SocketAddr, factory: impl ClientFactory) -> Connector {
        self.connect_tcp_with(address, factory, ConnectOptions::default())
    }

    /// [`connect_tcp`](Reactor::connect_tcp) with options.
    pub fn connect_tcp_with(
        &self,
        address: SocketAddr,
        factory: impl ClientFactory,
        options: ConnectOptions,
    ) -> Connector {
        let connector = Connector::new(self, Address::Tcp(address), Rc::new(factory), options);
        connector.connect();
        connector
    }

    /// Connects `protocol` to `address` (TCP or UNIX) and fires with its
    /// transport once connected, or fails with why not: a
    /// [`ConnectionRefused`](crate::error::ConnectionRefused), a
    /// [`TimedOut`](crate::error::TimedOut), a socket error. Cancelling the
    /// Deferred abandons the attempt (Twisted's `connectProtocol`).
    pub fn connect_protocol(
        &self,
        address: Address,
        protocol: impl Protocol,
        options: ConnectOptions,
    ) -> Deferred<Transport> {
        let factory = OneProtocol(RefCell::new(Some(Box::new(protocol))));
        let connector = Connector::new(self, address, Rc::new(factory), options);
        let connected = connector.when_connected();
        connector.connect();
        connected
    }

    /// Runs `protocol` over a connected socket opened elsewhere (Twisted's
    /// `adoptStreamConnection`); it is made non-blocking.
    pub fn adopt_tcp_stream(
        &self,
        stream: std::net::TcpStream,
        protocol: impl Protocol,
    ) -> io::Result<Transport> {
        stream.set_nonblocking(true)?;
        let socket = StreamSocket::Tcp(mio::net::TcpStream::from_std(stream));
        self.open_stream(socket, Box::new(protocol), None)
    }

    pub(crate) fn open_stream(
        &self,
        socket: StreamSocket,
        protocol: Box<dyn Protocol>,
        tls: Option<(TlsSetup, Option<Duration>)>,
    ) -> io::Result<Transport> {
        let session = match tls {
            Some((setup, timeout)) => {
                Some((TlsSession::new(setup).map_err(io::Error::other)?, timeout))
            }
            None => None,
        };
        let conn = StreamConn::register(self, socket, Some(protocol))?;
        if let Some((session, timeout)) = session {
            conn.start_handshake(self, session, timeout);
        }
        let transport = Transport::new(conn.clone());
        conn.make_connection(self, &transport);
        Ok(transport)
    }
}

/// A client factory that hands out one protocol.
struct OneProtocol(RefCell<Option<Box<dyn Protocol>>>);

impl Factory for OneProtocol {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        self.0.borrow_mut().take()
    }
}

impl ClientFactory for OneProtocol {}
