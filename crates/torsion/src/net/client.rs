//! Outgoing connections: [`Connector`] (one destination, attempts that a
//! [`ClientFactory`] hears about) and the link between a connecting socket
//! and its connector.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use crate::defer::Resolver;
use crate::error::{Cancelled, ConnectionRefused, TimedOut};
use crate::failure::catch_panic;
use crate::net::stream::{Reason, StreamConn, StreamSocket};
use crate::net::tls::{TlsSession, TlsSetup};
use crate::net::{Address, ClientFactory, Protocol, Transport};
use crate::reactor::WeakReactor;
use crate::time::DelayedCall;
use crate::{Deferred, Failure, Reactor};

/// How long a connection attempt may take by default (Twisted's 30 s).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for an outgoing connection.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Give up an attempt after this long; `None` waits for the kernel.
    pub timeout: Option<Duration>,
    /// Bind the local end to this address first (TCP only).
    pub bind: Option<SocketAddr>,
    /// Start TLS as soon as the connection is up.
    pub tls: Option<TlsSetup>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            bind: None,
            tls: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disconnected,
    Connecting,
    Connected,
}

struct Inner {
    reactor: WeakReactor,
    destination: Address,
    factory: Rc<dyn ClientFactory>,
    options: ConnectOptions,
    state: Cell<State>,
    conn: RefCell<Option<Rc<StreamConn>>>,
    /// Fired by the next attempt that connects or fails.
    waiting: RefCell<Option<Resolver<Transport>>>,
}

/// One destination and the attempts to connect to it (Twisted's
/// `IConnector`). A [`ClientFactory`] gets it in its callbacks and may call
/// [`connect`](Connector::connect) to try again.
#[derive(Clone)]
pub struct Connector {
    inner: Rc<Inner>,
}

impl Connector {
    pub(crate) fn new(
        reactor: &Reactor,
        destination: Address,
        factory: Rc<dyn ClientFactory>,
        options: ConnectOptions,
    ) -> Connector {
        Connector {
            inner: Rc::new(Inner {
                reactor: reactor.downgrade(),
                destination,
                factory,
                options,
                state: Cell::new(State::Disconnected),
                conn: RefCell::new(None),
                waiting: RefCell::new(None),
            }),
        }
    }

    /// Starts an attempt, unless one is in progress or connected.
    pub fn connect(&self) {
        if self.inner.state.get() != State::Disconnected {
            return;
        }
        let Some(reactor) = self.inner.reactor.upgrade() else {
            return;
        };
        self.inner.state.set(State::Connecting);
        report(catch_panic(|| self.inner.factory.started_connecting(self)));
        if let Err(error) = self.start_attempt(&reactor) {
            // Reported on the next turn, as an asynchronous failure would be.
            let connector = self.clone();
            reactor.call_later(Duration::ZERO, move || {
                connector.attempt_ended(false, failed_attempt(error));
            });
        }
    }

    fn start_attempt(&self, reactor: &Reactor) -> io::Result<()> {
        let socket = match &self.inner.destination {
            Address::Tcp(address) => {
                StreamSocket::Tcp(connect_tcp(*address, self.inner.options.bind)?)
            }
            Address::Unix(Some(path)) => StreamSocket::Unix(mio::net::UnixStream::connect(path)?),
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("cannot connect to {other}"),
                ));
            }
        };
        let tls = match &self.inner.options.tls {
            Some(setup) => Some(TlsSession::new(setup.clone()).map_err(io::Error::other)?),
            None => None,
        };
        let conn = StreamConn::register(reactor, socket, None)?;
        let timeout = self.inner.options.timeout.map(|limit| {
            let weak = Rc::downgrade(&conn);
            reactor.call_later(limit, move || {
                if let Some(conn) = weak.upgrade() {
                    conn.abort_connect(Reason::Failed(
                        "connect timed out".into(),
                        Failure::new(TimedOut(limit)),
                    ));
                }
            })
        });
        let transport = Transport::new(conn.clone());
        conn.set_connecting(ClientLink {
            connector: self.clone(),
            transport: Some(transport),
            timeout,
        });
        if let Some(session) = tls {
            conn.set_tls(session);
        }
        *self.inner.conn.borrow_mut() = Some(conn);
        Ok(())
    }

    /// Abandons the attempt in progress; the factory hears
    /// `client_connection_failed` with [`Cancelled`].
    pub fn stop_connecting(&self) {
        if self.inner.state.get() != State::Connecting {
            return;
        }
        let conn = self.inner.conn.borrow().clone();
        match conn {
            Some(conn) => conn.abort_connect(Reason::Failed(
                "connect cancelled".into(),
                Failure::new(Cancelled),
            )),
            None => self.attempt_ended(false, Failure::new(Cancelled)),
        }
    }

    /// Closes the connection, or stops the attempt in progress.
    pub fn disconnect(&self) {
        match self.inner.state.get() {
            State::Connecting => self.stop_connecting(),
            State::Connected => {
                if let Some(transport) = self.transport() {
                    transport.lose_connection();
                }
            }
            State::Disconnected => {}
        }
    }

    /// Where this connector connects to.
    pub fn destination(&self) -> &Address {
        &self.inner.destination
    }

    /// The transport while connected.
    pub fn transport(&self) -> Option<Transport> {
        if self.inner.state.get() != State::Connected {
            return None;
        }
        let conn = self.inner.conn.borrow().clone()?;
        Some(Transport::new(conn))
    }

    /// A Deferred that fires with the transport when the next attempt
    /// connects, or fails with why it did not. Cancelling it stops the
    /// attempt.
    pub(crate) fn when_connected(&self) -> Deferred<Transport> {
        let connector = self.clone();
        let (deferred, resolver) = Deferred::with_canceller(move || connector.stop_connecting());
        *self.inner.waiting.borrow_mut() = Some(resolver);
        deferred
    }

    fn connected(&self, transport: &Transport) {
        self.inner.state.set(State::Connected);
        let waiting = self.inner.waiting.borrow_mut().take();
        if let Some(resolver) = waiting {
            resolver.resolve(transport.clone());
        }
    }

    fn attempt_ended(&self, was_connected: bool, failure: Failure) {
        self.inner.state.set(State::Disconnected);
        let conn = self.inner.conn.borrow_mut().take();
        drop(conn);
        let factory = &self.inner.factory;
        if was_connected {
            report(catch_panic(|| {
                factory.client_connection_lost(self, failure)
            }));
        } else {
            let waiting = self.inner.waiting.borrow_mut().take();
            match waiting {
                Some(resolver) => {
                    let again = Failure::msg(failure.to_string());
                    resolver.reject(failure);
                    report(catch_panic(|| {
                        factory.client_connection_failed(self, again)
                    }));
                }
                None => report(catch_panic(|| {
                    factory.client_connection_failed(self, failure)
                })),
            }
        }
    }
}

fn report(result: Result<(), Failure>) {
    if let Err(failure) = result {
        tracing::error!(%failure, "panic in a client factory callback");
    }
}

/// A connect that failed before any socket event: refusals keep their type.
fn failed_attempt(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        Failure::new(ConnectionRefused)
    } else {
        Failure::new(error)
    }
}

fn connect_tcp(address: SocketAddr, bind: Option<SocketAddr>) -> io::Result<mio::net::TcpStream> {
    let Some(bind) = bind else {
        return mio::net::TcpStream::connect(address);
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM.nonblocking().cloexec(),
        None,
    )?;
    socket.bind(&bind.into())?;
    match socket.connect(&address.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc_einprogress()) => {}
        Err(error) => return Err(error),
    }
    Ok(mio::net::TcpStream::from_std(socket.into()))
}

/// EINPROGRESS on Linux.
const fn libc_einprogress() -> i32 {
    115
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("destination", &self.inner.destination)
            .field("state", &self.inner.state.get())
            .finish()
    }
}

/// What a connecting socket knows of its connector.
pub(crate) struct ClientLink {
    connector: Connector,
    /// Handed to the protocol when the connect completes.
    transport: Option<Transport>,
    timeout: Option<DelayedCall>,
}

impl ClientLink {
    /// The connect completed: cancels the timeout and builds the protocol.
    /// Returns the connector and transport to finish with, outside any
    /// borrow of the connection.
    pub(crate) fn take_connected(&mut self) -> (Connector, Option<Transport>) {
        if let Some(timeout) = self.timeout.take() {
            let _ = timeout.cancel();
        }
        (self.connector.clone(), self.transport.take())
    }

    /// The connection (or the attempt) is over.
    pub(crate) fn finished(self, was_connected: bool, reason: Reason) {
        if let Some(timeout) = &self.timeout {
            let _ = timeout.cancel();
        }
        let failure = match reason {
            Reason::Lost(io::ErrorKind::ConnectionRefused, _) if !was_connected => {
                Failure::new(ConnectionRefused)
            }
            mut other => other.failure(),
        };
        self.connector.attempt_ended(was_connected, failure);
    }
}

/// Builds the protocol for a completed connect; `None` if the factory
/// refused or panicked.
pub(crate) fn build_client_protocol(
    connector: &Connector,
    transport: &Transport,
) -> Option<Box<dyn Protocol>> {
    let peer = transport.peer();
    let built = catch_panic(|| connector.inner.factory.build_protocol(&peer));
    let protocol = match built {
        Ok(protocol) => protocol,
        Err(failure) => {
            tracing::error!(%failure, %peer, "panic in build_protocol");
            None
        }
    };
    if protocol.is_some() {
        connector.connected(transport);
    }
    protocol
}
