//! Outgoing connections, from the first syscall until the protocol has its
//! transport: [`Connector`] (one destination, attempts that a
//! [`ClientFactory`] hears about) and the connecting socket of each attempt.
//!
//! An attempt is a reactor source of its own: it waits for the socket to
//! become writable, asks the kernel whether the connect worked, and on
//! success hands the socket to a [`StreamConn`] with the protocol the
//! factory built. The stream layer knows nothing of connecting; it only
//! tells the connector, through a close hook, when the connection ends.
//!
//! ```text
//!  connect() ──> Attempt (writable?) ──> StreamConn + protocol ──> closed
//!       │             │ refused, timed out, cancelled                │
//!       └── started   └──> client_connection_failed    client_connection_lost
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mio::Token;

use crate::defer::Resolver;
use crate::error::{
    Cancelled, ConnectionAborted, ConnectionLost, ConnectionRefused, NetError, ReactorError,
    TimedOut,
};
use crate::failure::catch_panic;
use crate::net::protocol::FactoryUse;
use crate::net::stream::{StreamConn, StreamSocket};
use crate::net::tls::{DEFAULT_HANDSHAKE_TIMEOUT, TlsSession, TlsSetup};
use crate::net::{Address, ClientFactory, Factory, Transport, sys};
use crate::reactor::{IoSource, Readiness, WeakReactor};
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
    /// How long the TLS handshake may take once connected before the
    /// connection is aborted with a
    /// [`TlsHandshakeTimeout`](crate::error::TlsHandshakeTimeout); `None`
    /// waits for ever. Default [`DEFAULT_HANDSHAKE_TIMEOUT`] (30 s).
    pub tls_handshake_timeout: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            bind: None,
            tls: None,
            tls_handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
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
    /// Counts calls to `connect`, so that a failure reported late belongs
    /// to the attempt it was for.
    attempts: Cell<u64>,
    /// The attempt in progress, while connecting.
    attempt: RefCell<Option<Rc<Attempt>>>,
    /// The connection, while connected.
    transport: RefCell<Option<Transport>>,
    /// Fired by the next attempt that connects or fails.
    waiting: RefCell<Option<Resolver<Transport>>>,
    /// Held from `connect` until an attempt or connection ends without the
    /// factory connecting again (Twisted's `factoryStarted`).
    factory_use: RefCell<Option<FactoryUse>>,
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
                attempts: Cell::new(0),
                attempt: RefCell::new(None),
                transport: RefCell::new(None),
                waiting: RefCell::new(None),
                factory_use: RefCell::new(None),
            }),
        }
    }

    /// Starts an attempt, unless one is in progress or connected. The
    /// factory is started first if this connector was not already using it.
    pub fn connect(&self) {
        if self.inner.state.get() != State::Disconnected {
            return;
        }
        let Some(reactor) = self.inner.reactor.upgrade() else {
            return;
        };
        self.inner.state.set(State::Connecting);
        let this_attempt = self.inner.attempts.get() + 1;
        self.inner.attempts.set(this_attempt);
        if self.inner.factory_use.borrow().is_none() {
            let factory: Rc<dyn Factory> = self.inner.factory.clone();
            let factory_use = FactoryUse::start(factory);
            *self.inner.factory_use.borrow_mut() = Some(factory_use);
        }
        report(catch_panic(|| self.inner.factory.started_connecting(self)));
        if self.inner.state.get() != State::Connecting {
            // The factory stopped this attempt from started_connecting.
            return;
        }
        match Attempt::start(&reactor, self) {
            Ok(attempt) => *self.inner.attempt.borrow_mut() = Some(attempt),
            Err(error) => {
                // Reported on the next turn, as an asynchronous failure
                // would be.
                let connector = self.clone();
                reactor.call_later(Duration::ZERO, move || {
                    let inner = &connector.inner;
                    if inner.state.get() == State::Connecting
                        && inner.attempts.get() == this_attempt
                    {
                        connector.attempt_failed(start_failure(error));
                    }
                });
            }
        }
    }

    /// Abandons the attempt in progress; the factory hears
    /// `client_connection_failed` with [`Cancelled`].
    pub fn stop_connecting(&self) {
        if self.inner.state.get() != State::Connecting {
            return;
        }
        let attempt = self.inner.attempt.borrow().clone();
        match attempt {
            Some(attempt) => attempt.abort(Failure::new(Cancelled)),
            None => self.attempt_failed(Failure::new(Cancelled)),
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
        self.inner.transport.borrow().clone()
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

    /// The attempt connected and the protocol is built: the transport is
    /// about to be handed to it.
    fn connected(&self, transport: &Transport) {
        self.inner.attempt.borrow_mut().take();
        self.inner.state.set(State::Connected);
        *self.inner.transport.borrow_mut() = Some(transport.clone());
        let waiting = self.inner.waiting.borrow_mut().take();
        if let Some(resolver) = waiting {
            resolver.resolve(transport.clone());
        }
    }

    /// The attempt ended without a connection.
    fn attempt_failed(&self, failure: Failure) {
        self.inner.attempt.borrow_mut().take();
        self.inner.state.set(State::Disconnected);
        let factory = &self.inner.factory;
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
        self.stop_factory_unless_reconnecting();
    }

    /// The connection this connector made has closed.
    fn connection_ended(&self, failure: Failure) {
        self.inner.transport.borrow_mut().take();
        self.inner.state.set(State::Disconnected);
        let factory = &self.inner.factory;
        report(catch_panic(|| {
            factory.client_connection_lost(self, failure)
        }));
        self.stop_factory_unless_reconnecting();
    }

    /// A factory that called `connect` again from its callback keeps
    /// using its factory; otherwise this connector's use of it ends.
    fn stop_factory_unless_reconnecting(&self) {
        if self.inner.state.get() == State::Disconnected {
            let factory_use = self.inner.factory_use.borrow_mut().take();
            drop(factory_use);
        }
    }
}

fn report(result: Result<(), Failure>) {
    if let Err(failure) = result {
        tracing::error!(%failure, "panic in a client factory callback");
    }
}

/// An attempt that could not even start (no such socket path, a bad local
/// address): refusals keep their type, anything else is the error itself.
fn start_failure(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        Failure::new(ConnectionRefused)
    } else {
        Failure::new(error)
    }
}

/// A connect the kernel reported failed: refusals keep their type.
fn connect_failure(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        Failure::new(ConnectionRefused)
    } else {
        Failure::new(ConnectionLost::shared(Arc::new(error)))
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("destination", &self.inner.destination)
            .field("state", &self.inner.state.get())
            .finish()
    }
}

/// One connection attempt: a socket whose connect is in progress, watched
/// by the reactor until it completes, fails, times out or is abandoned.
struct Attempt {
    token: Token,
    reactor: WeakReactor,
    connector: Connector,
    socket: RefCell<Option<StreamSocket>>,
    tls: RefCell<Option<TlsSession>>,
    timeout: RefCell<Option<DelayedCall>>,
}

impl Attempt {
    /// Opens the socket, starts the connect and its timeout.
    fn start(reactor: &Reactor, connector: &Connector) -> io::Result<Rc<Attempt>> {
        let options = &connector.inner.options;
        let socket = match &connector.inner.destination {
            Address::Tcp(address) => StreamSocket::Tcp(sys::connect_tcp(*address, options.bind)?),
            Address::Unix(Some(path)) => StreamSocket::Unix(sys::connect_unix(path)?),
            other => return Err(NetError::UnusableAddress(other.to_string()).into()),
        };
        let tls = match &options.tls {
            Some(setup) => Some(TlsSession::new(setup.clone()).map_err(io::Error::other)?),
            None => None,
        };
        let attempt = reactor.add_source(|registry, token| {
            let fd = socket.as_raw_fd();
            // Writable once the connect is done, one way or the other.
            registry.register(
                &mut mio::unix::SourceFd(&fd),
                token,
                mio::Interest::WRITABLE,
            )?;
            Ok(Rc::new(Attempt {
                token,
                reactor: reactor.downgrade(),
                connector: connector.clone(),
                socket: RefCell::new(Some(socket)),
                tls: RefCell::new(tls),
                timeout: RefCell::new(None),
            }))
        })?;
        if let Some(limit) = options.timeout {
            let weak = Rc::downgrade(&attempt);
            let timeout = reactor.call_later(limit, move || {
                if let Some(attempt) = weak.upgrade() {
                    attempt.abort(Failure::new(TimedOut(limit)));
                }
            });
            *attempt.timeout.borrow_mut() = Some(timeout);
        }
        Ok(attempt)
    }

    /// Stops watching the socket and gives it back; `None` if the attempt
    /// is already over.
    fn finish(&self, reactor: &Reactor) -> Option<StreamSocket> {
        let socket = self.socket.borrow_mut().take()?;
        reactor.remove_source(self.token, socket.as_raw_fd());
        let timeout = self.timeout.borrow_mut().take();
        if let Some(timeout) = timeout {
            let _ = timeout.cancel();
        }
        Some(socket)
    }

    /// Ends the attempt without a connection: closes the socket and tells
    /// the connector.
    fn abort(&self, failure: Failure) {
        let Some(reactor) = self.reactor.upgrade() else {
            return;
        };
        if let Some(socket) = self.finish(&reactor) {
            drop(socket);
            self.connector.attempt_failed(failure);
        }
    }

    /// Asks the kernel whether the connect finished, and how.
    fn check(&self, reactor: &Reactor) {
        let outcome = match &*self.socket.borrow() {
            Some(socket) => match socket.take_error() {
                Ok(Some(error)) | Err(error) => Err(error),
                Ok(None) => socket.is_connected(),
            },
            None => return,
        };
        match outcome {
            Ok(false) => {}
            Ok(true) => self.complete(reactor),
            Err(error) => {
                if self.finish(reactor).is_some() {
                    self.connector.attempt_failed(connect_failure(error));
                }
            }
        }
    }

    /// The connect worked: builds the protocol and starts the connection.
    fn complete(&self, reactor: &Reactor) {
        let Some(socket) = self.finish(reactor) else {
            return;
        };
        let connector = &self.connector;
        let peer = socket.peer();
        let built = catch_panic(|| connector.inner.factory.build_protocol(&peer));
        let protocol = match built {
            Ok(Some(protocol)) => protocol,
            Ok(None) => {
                drop(socket);
                connector.attempt_failed(Failure::new(ConnectionAborted));
                return;
            }
            Err(failure) => {
                tracing::error!(%failure, %peer, "panic in build_protocol");
                drop(socket);
                connector.attempt_failed(failure);
                return;
            }
        };
        let conn = match StreamConn::register(reactor, socket, Some(protocol)) {
            Ok(conn) => conn,
            Err(error) => {
                connector.attempt_failed(Failure::new(error));
                return;
            }
        };
        if let Some(session) = self.tls.borrow_mut().take() {
            let timeout = connector.inner.options.tls_handshake_timeout;
            conn.start_handshake(reactor, session, timeout);
        }
        let ended = connector.clone();
        conn.on_close(move |failure| ended.connection_ended(failure));
        let transport = Transport::new(conn.clone());
        connector.connected(&transport);
        conn.make_connection(reactor, &transport);
    }
}

impl IoSource for Attempt {
    fn ready(&self, reactor: &Reactor, readiness: Readiness) {
        if readiness.writable || readiness.error || readiness.read_closed {
            self.check(reactor);
        }
    }

    fn settle(&self, _reactor: &Reactor) {}

    fn shutdown(&self, _reactor: &Reactor) {
        self.abort(Failure::new(ReactorError::Stopped));
    }
}
