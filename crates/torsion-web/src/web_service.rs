//! [`WebService`]: a [`Server`] listening on an endpoint as a torsion
//! [`Service`] (what `twistd web --listen tcp:8080` runs).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use torsion::endpoints::{EndpointError, ServerEndpoint, server_from_string};
use torsion::net::Address;
use torsion::service::{Service, ServiceCore};
use torsion::{Deferred, Failure, Reactor};

use crate::{Listening, Resource, Server};

/// Serves HTTP on one endpoint from its start to its stop, so a web server
/// takes its place in an [`Application`](torsion::service::Application)
/// beside the program's other services.
///
/// The start binds the endpoint (an address in use fails the start). The
/// stop is the server's graceful [`shutdown`](Server::shutdown): it stops
/// listening, lets the requests in flight finish within
/// [`ServerOptions::shutdown_timeout`](crate::ServerOptions::shutdown_timeout)
/// and fires once every connection has closed. A stopped web service does
/// not start again.
///
/// ```no_run
/// use std::rc::Rc;
/// use torsion::Reactor;
/// use torsion::service::Application;
/// use torsion_web::{Body, Request, Response, WebService};
///
/// let reactor = Reactor::new()?;
/// let application = Application::new();
/// let hello = |_request: Request| Response::new(Body::from("hello\n"));
/// let web = WebService::from_string(&reactor, "tcp:8080:interface=127.0.0.1", hello)?;
/// application.add_service(Rc::new(web.named("web")))?;
/// application.run(&reactor)?; // until SIGINT or SIGTERM
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WebService {
    core: ServiceCore,
    reactor: Reactor,
    endpoint: ServerEndpoint,
    server: Server,
    listening: RefCell<Option<Listening>>,
    stopped: Cell<bool>,
}

impl WebService {
    /// Serves with `server` on `endpoint`.
    pub fn new(reactor: &Reactor, endpoint: ServerEndpoint, server: Server) -> WebService {
        WebService {
            core: ServiceCore::new(),
            reactor: reactor.clone(),
            endpoint,
            server,
            listening: RefCell::new(None),
            stopped: Cell::new(false),
        }
    }

    /// Serves `resource` (with the default
    /// [`ServerOptions`](crate::ServerOptions)) on the endpoint
    /// `description` describes (`tcp:8080`, `unix:/run/app.sock`,
    /// `tls:8443:privateKey=...`). A bad description is an error now.
    pub fn from_string(
        reactor: &Reactor,
        description: &str,
        resource: impl Resource,
    ) -> Result<WebService, EndpointError> {
        Ok(WebService::new(
            reactor,
            server_from_string(reactor, description)?,
            Server::new(resource),
        ))
    }

    /// This service, called `name`.
    pub fn named(self, name: &str) -> WebService {
        WebService {
            core: ServiceCore::named(name),
            ..self
        }
    }

    /// The server, for its connection count and options.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The address bound while the service runs (the port chosen when the
    /// description asked for port 0).
    pub fn address(&self) -> Option<Address> {
        self.listening
            .borrow()
            .as_ref()
            .map(|listening| listening.address().clone())
    }
}

impl Service for WebService {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        if self.stopped.get() {
            return Err(Failure::msg("a stopped web service does not start again"));
        }
        // A reactor's endpoint binds at once: the Deferred has fired when
        // `listen` returns, and the slot holds its outcome.
        let outcome = Rc::new(RefCell::new(None));
        let slot = outcome.clone();
        drop(
            self.server
                .listen(&self.reactor, &self.endpoint)
                .both(move |result| {
                    *slot.borrow_mut() = Some(result);
                    Ok::<(), Failure>(())
                }),
        );
        let result = outcome.borrow_mut().take();
        match result {
            Some(Ok(listening)) => {
                tracing::info!(service = %self.core.display_name(), address = %listening.address(), "serving HTTP");
                *self.listening.borrow_mut() = Some(listening);
                Ok(())
            }
            Some(Err(failure)) => Err(failure),
            None => Err(Failure::msg("the endpoint did not bind at once")),
        }
    }

    fn stop_service(&self) -> Deferred<()> {
        self.stopped.set(true);
        self.listening.borrow_mut().take();
        let timeout = self.server.options().shutdown_timeout;
        self.server.shutdown(&self.reactor, timeout)
    }
}

impl fmt::Debug for WebService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebService")
            .field("core", &self.core)
            .field("endpoint", &self.endpoint)
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}
