//! [`ClientService`]: keeps one connection up while it runs, reconnecting
//! with back-off (Twisted's `ClientService`).
//!
//! It is a [`ReconnectingClientFactory`] driving one [`Connector`], started
//! and stopped with the service. Each protocol the user's factory builds is
//! wrapped so that the service knows when its connection is made and lost:
//!
//! ```text
//!   start -> Connector::connect --made--> when_connected waiters fire
//!               ^                  |
//!               |   back-off       lost / failed
//!               +------------------+
//!   stop  -> stop_trying + disconnect -> stop Deferred fires when lost
//! ```

use std::cell::RefCell;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;

use super::contract::{Service, ServiceCore};
use crate::defer::Resolver;
use crate::endpoints::{EndpointError, client_from_string};
use crate::error::Cancelled;
use crate::net::{
    Address, Backoff, ConnectOptions, Connector, Factory, HalfClose, Protocol,
    ReconnectingClientFactory, Transport,
};
use crate::{Deferred, Failure, Reactor};

/// What the service and the protocols it wraps share.
#[derive(Default)]
struct Link {
    transport: Option<Transport>,
    /// `when_connected` callers waiting for the next connection.
    connected: Vec<Resolver<Transport>>,
    /// Stops waiting for the connection to close.
    closed: Vec<Resolver<()>>,
}

type SharedLink = Rc<RefCell<Link>>;

/// Connects to one destination while it runs and reconnects whenever the
/// connection fails or is lost, waiting longer after each failure in a row
/// ([`Backoff`]: delays grow by a factor up to a maximum, with jitter, and
/// go back to the first delay after a connection is made).
///
/// The stop stops retrying, closes the connection (or abandons the attempt
/// in progress), and fires once the connection has closed.
/// [`when_connected`](ClientService::when_connected) fires with the
/// transport of the current connection, or of the next one.
///
/// ```no_run
/// use std::rc::Rc;
/// use torsion::Reactor;
/// use torsion::net::{Backoff, Protocol, factory_fn};
/// use torsion::service::{Application, ClientService};
///
/// struct Quiet;
/// impl Protocol for Quiet {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// let reactor = Reactor::new()?;
/// let client = Rc::new(ClientService::from_string(
///     &reactor,
///     "tcp:127.0.0.1:7000",
///     factory_fn(|_| Some(Quiet)),
///     Backoff::default(),
/// )?);
/// let application = Application::new();
/// application.add_service(client.clone())?;
/// drop(client.when_connected().map(|transport| println!("up: {}", transport.peer())));
/// application.run(&reactor)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClientService {
    core: ServiceCore,
    reactor: Reactor,
    destination: Address,
    options: ConnectOptions,
    backoff: Backoff,
    factory: Rc<dyn Factory>,
    link: SharedLink,
    /// While running: the retrying factory and its connector.
    running: RefCell<Option<(Rc<ReconnectingClientFactory<Watching>>, Connector)>>,
}

impl ClientService {
    /// Keeps a connection to `destination` (a TCP address or a UNIX socket
    /// path), built by `factory`, connecting with `options`.
    pub fn new(
        reactor: &Reactor,
        destination: Address,
        options: ConnectOptions,
        factory: impl Factory,
        backoff: Backoff,
    ) -> ClientService {
        ClientService {
            core: ServiceCore::new(),
            reactor: reactor.clone(),
            destination,
            options,
            backoff,
            factory: Rc::new(factory),
            link: SharedLink::default(),
            running: RefCell::new(None),
        }
    }

    /// Keeps a connection to the client endpoint `description` describes
    /// (`tcp:127.0.0.1:8000`, `unix:/run/app.sock`,
    /// `tls:10.0.0.2:443:caCerts=roots.pem`; see
    /// [`endpoints`](crate::endpoints)). The host must be an IP address:
    /// names are not resolved again on each attempt, so a name is refused
    /// here rather than pinned to its first address.
    pub fn from_string(
        reactor: &Reactor,
        description: &str,
        factory: impl Factory,
        backoff: Backoff,
    ) -> Result<ClientService, EndpointError> {
        let endpoint = client_from_string(reactor, description)?;
        let destination = match endpoint.destination() {
            (path, None) => Address::Unix(Some(PathBuf::from(path))),
            (host, Some(port)) => match host.parse::<IpAddr>() {
                Ok(ip) => Address::Tcp((ip, port).into()),
                Err(_) => {
                    return Err(EndpointError::BadValue {
                        endpoint: "tcp",
                        argument: "host",
                        value: host,
                        expected: "an IP address (a client service does not resolve names)"
                            .to_owned(),
                    });
                }
            },
        };
        Ok(ClientService::new(
            reactor,
            destination,
            endpoint.options().clone(),
            factory,
            backoff,
        ))
    }

    /// This service, called `name`.
    pub fn named(self, name: &str) -> ClientService {
        ClientService {
            core: ServiceCore::named(name),
            ..self
        }
    }

    /// Fires with the transport of the connection: at once if connected,
    /// else when the next connection is made. Fails with
    /// [`Cancelled`] if the service stops first.
    pub fn when_connected(&self) -> Deferred<Transport> {
        let mut link = self.link.borrow_mut();
        if let Some(transport) = &link.transport {
            return Deferred::succeed(transport.clone());
        }
        let (deferred, resolver) = Deferred::new();
        link.connected.push(resolver);
        deferred
    }

    /// The transport of the connection, while there is one.
    pub fn transport(&self) -> Option<Transport> {
        self.link.borrow().transport.clone()
    }

    /// Failed attempts and lost connections since the last connection was
    /// made, while running.
    pub fn retries(&self) -> u32 {
        self.running
            .borrow()
            .as_ref()
            .map_or(0, |(factory, _)| factory.retries())
    }
}

impl Service for ClientService {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        let watching = Watching {
            inner: self.factory.clone(),
            link: self.link.clone(),
        };
        let retrying = Rc::new(ReconnectingClientFactory::new(
            watching,
            Rc::new(self.reactor.clone()),
            self.backoff.clone(),
        ));
        let connector = Connector::new(
            &self.reactor,
            self.destination.clone(),
            retrying.clone(),
            self.options.clone(),
        );
        *self.running.borrow_mut() = Some((retrying, connector.clone()));
        connector.connect();
        Ok(())
    }

    fn stop_service(&self) -> Deferred<()> {
        let Some((retrying, connector)) = self.running.borrow_mut().take() else {
            return Deferred::succeed(());
        };
        retrying.stop_trying();
        let waiting = std::mem::take(&mut self.link.borrow_mut().connected);
        for resolver in waiting {
            resolver.reject(Failure::new(Cancelled));
        }
        if self.link.borrow().transport.is_none() {
            return Deferred::succeed(());
        }
        let (closed, resolver) = Deferred::new();
        self.link.borrow_mut().closed.push(resolver);
        connector.disconnect();
        closed
    }
}

impl fmt::Debug for ClientService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientService")
            .field("core", &self.core)
            .field("destination", &self.destination)
            .field("connected", &self.link.borrow().transport.is_some())
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// The user's factory, its protocols wrapped in [`Watched`].
struct Watching {
    inner: Rc<dyn Factory>,
    link: SharedLink,
}

impl Factory for Watching {
    fn build_protocol(&self, address: &Address) -> Option<Box<dyn Protocol>> {
        let inner = self.inner.build_protocol(address)?;
        Some(Box::new(Watched {
            inner,
            link: self.link.clone(),
        }))
    }

    fn start_factory(&self) {
        self.inner.start_factory();
    }

    fn stop_factory(&self) {
        self.inner.stop_factory();
    }

    fn identity(&self) -> *const () {
        self.inner.identity()
    }
}

/// A protocol that tells the service when its connection is made and lost,
/// then hands every event on.
struct Watched {
    inner: Box<dyn Protocol>,
    link: SharedLink,
}

impl Protocol for Watched {
    fn connection_made(&mut self, transport: &Transport) {
        let waiting = {
            let mut link = self.link.borrow_mut();
            link.transport = Some(transport.clone());
            std::mem::take(&mut link.connected)
        };
        self.inner.connection_made(transport);
        for resolver in waiting {
            resolver.resolve(transport.clone());
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        self.inner.data_received(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        let closed = {
            let mut link = self.link.borrow_mut();
            link.transport = None;
            std::mem::take(&mut link.closed)
        };
        self.inner.connection_lost(reason);
        for resolver in closed {
            resolver.resolve(());
        }
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.inner.read_connection_lost()
    }

    fn write_connection_lost(&mut self) {
        self.inner.write_connection_lost();
    }

    fn handshake_completed(&mut self) {
        self.inner.handshake_completed();
    }

    fn reading_resumed(&mut self) {
        self.inner.reading_resumed();
    }
}
