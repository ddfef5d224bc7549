//! [`ListeningService`]: listens on an endpoint while it runs (Twisted's
//! `StreamServerEndpointService`, what `strports.service` builds).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::contract::{Service, ServiceCore};
use crate::endpoints::{EndpointError, ServerEndpoint, server_from_string};
use crate::net::{Address, Factory, ListeningPort};
use crate::{Deferred, Failure, Reactor};

/// Listens on a server endpoint with a factory from its start to its stop.
///
/// The start binds the port, so an address in use or a port the process
/// may not bind fails the start (and with it the application's). The stop
/// stops listening; connections already accepted go on, as in Twisted.
///
/// ```
/// use std::rc::Rc;
/// use torsion::Reactor;
/// use torsion::net::{Protocol, factory_fn};
/// use torsion::service::{ListeningService, Service};
///
/// struct Quiet;
/// impl Protocol for Quiet {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// let reactor = Reactor::new()?;
/// let service = ListeningService::from_string(
///     &reactor,
///     "tcp:0:interface=127.0.0.1",
///     factory_fn(|_| Some(Quiet)),
/// )?;
/// service.start_service().expect("a free port");
/// println!("listening on {}", service.address().unwrap());
/// drop(service.stop_service());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ListeningService {
    core: ServiceCore,
    endpoint: ServerEndpoint<Reactor>,
    factory: Rc<dyn Factory>,
    port: RefCell<Option<ListeningPort>>,
}

impl ListeningService {
    /// Listens on `endpoint` with `factory`.
    pub fn new(endpoint: ServerEndpoint<Reactor>, factory: impl Factory) -> ListeningService {
        ListeningService {
            core: ServiceCore::new(),
            endpoint,
            factory: Rc::new(factory),
            port: RefCell::new(None),
        }
    }

    /// Listens on the endpoint `description` describes (`tcp:8080`,
    /// `unix:/run/app.sock`, `tls:8443:privateKey=...`; see
    /// [`endpoints`](crate::endpoints)) with `factory`. A bad description
    /// is an error now, not at start.
    pub fn from_string(
        reactor: &Reactor,
        description: &str,
        factory: impl Factory,
    ) -> Result<ListeningService, EndpointError> {
        Ok(ListeningService::new(
            server_from_string(reactor, description)?,
            factory,
        ))
    }

    /// This service, called `name`.
    pub fn named(self, name: &str) -> ListeningService {
        ListeningService {
            core: ServiceCore::named(name),
            ..self
        }
    }

    /// The address bound while the service runs (the port chosen when the
    /// description asked for port 0).
    pub fn address(&self) -> Option<Address> {
        self.port.borrow().as_ref().map(ListeningPort::address)
    }
}

impl Service for ListeningService {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        // A reactor's endpoint binds at once, so the Deferred has fired by
        // the time `listen` returns; the slot takes its outcome.
        let outcome = Rc::new(RefCell::new(None));
        let slot = outcome.clone();
        drop(
            self.endpoint
                .listen(self.factory.clone())
                .both(move |result| {
                    *slot.borrow_mut() = Some(result);
                    Ok::<(), Failure>(())
                }),
        );
        let result = outcome.borrow_mut().take();
        match result {
            Some(Ok(port)) => {
                tracing::info!(service = %self.core.display_name(), address = %port.address(), "listening");
                *self.port.borrow_mut() = Some(port);
                Ok(())
            }
            Some(Err(failure)) => Err(failure),
            None => Err(Failure::msg("the endpoint did not bind at once")),
        }
    }

    fn stop_service(&self) -> Deferred<()> {
        match self.port.borrow_mut().take() {
            Some(port) => port.stop_listening(),
            None => Deferred::succeed(()),
        }
    }
}

impl fmt::Debug for ListeningService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListeningService")
            .field("core", &self.core)
            .field("endpoint", &self.endpoint)
            .field("address", &self.address())
            .finish()
    }
}
