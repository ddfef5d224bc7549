//! [`Server`]: serves a [`Resource`] over HTTP/1.1 and HTTP/2 on any
//! torsion server endpoint (`tcp:8080`, `unix:/run/app.sock`,
//! `tls:8443:...`), with the limits of [`ServerOptions`] and a graceful
//! stop.
//!
//! Each connection is a task on the reactor. Its first bytes tell HTTP/2
//! (the connection preface, sent by clients with prior knowledge or after
//! agreeing on `h2` by ALPN) from HTTP/1: torsion-web parses and answers
//! HTTP/1 itself (`http1`), and runs hyper's HTTP/2 connection over the
//! torsion stream. The server keeps every connection's
//! [`Control`](control::Control) so that it can time requests out and
//! drain connections when it stops.

mod body_clock;
mod connection;
mod control;
mod http1;
mod http1_check;
mod options;
mod service;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use slab::Slab;
use torsion::defer::Resolver;
use torsion::endpoints::ServerEndpoint;
use torsion::error::ReactorError;
use torsion::net::{Address, AsyncListener, AsyncStream};
use torsion::reactor::{Phase, SystemEvent};
use torsion::time::DelayedCall;
use torsion::{Deferred, Failure, Reactor};

use crate::Resource;
use control::{Control, Order};
pub use options::ServerOptions;

/// The ALPN protocols a TLS endpoint offers, HTTP/2 first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// How often the server lets its connections park again (see
/// [`Control::sweep`]): a busy keep-alive connection then makes its
/// buffers again about once this often, not once per request, and one at
/// rest that has not parked since its last sweep parks within this.
const RELEASE_SWEEP: Duration = Duration::from_secs(1);

/// Serves one resource (usually a router) on as many endpoints as asked.
///
/// Clones share the resource, the connections and the shutdown: stopping
/// one stops them all. When the reactor stops, the server stops first
/// (see [`shutdown`](Server::shutdown)), waiting at most
/// [`ServerOptions::shutdown_timeout`].
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::endpoints::server_from_string;
/// use torsion_web::{Body, Request, Response, Server, ServerOptions};
///
/// let reactor = Reactor::new()?;
/// let server = Server::new(|_request: Request| Response::new(Body::from("hello\n")))
///     .with_options(ServerOptions {
///         max_body_size: Some(1024 * 1024),
///         ..ServerOptions::default()
///     });
/// let endpoint = server_from_string(&reactor, "tcp:8080:interface=127.0.0.1")?;
/// drop(server.listen(&reactor, &endpoint));
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Server {
    shared: Rc<Shared>,
}

/// What the clones of a server share.
pub(crate) struct Shared {
    resource: Rc<dyn Resource>,
    options: ServerOptions,
    connections: RefCell<Slab<Rc<Control>>>,
    ports: RefCell<Vec<Rc<Port>>>,
    stopping: Cell<bool>,
    /// Waiting for the last connection to end.
    drained: RefCell<Vec<Resolver<()>>>,
    /// Cuts what is left when the shutdown timeout passes.
    deadline: RefCell<Option<DelayedCall>>,
    watching_reactor: Cell<bool>,
    /// The next sweep, while connections are open.
    sweep: RefCell<Option<DelayedCall>>,
}

impl Server {
    /// A server answering every request with `resource`, with the default
    /// [`ServerOptions`].
    pub fn new(resource: impl Resource) -> Server {
        Server::from_parts(Rc::new(resource), ServerOptions::default())
    }

    fn from_parts(resource: Rc<dyn Resource>, options: ServerOptions) -> Server {
        Server {
            shared: Rc::new(Shared {
                resource,
                options,
                connections: RefCell::new(Slab::new()),
                ports: RefCell::new(Vec::new()),
                stopping: Cell::new(false),
                drained: RefCell::new(Vec::new()),
                deadline: RefCell::new(None),
                watching_reactor: Cell::new(false),
                sweep: RefCell::new(None),
            }),
        }
    }

    /// The same resource with other limits and timeouts; call it before
    /// listening (the new server shares nothing else with this one).
    pub fn with_options(self, options: ServerOptions) -> Server {
        Server::from_parts(self.shared.resource.clone(), options)
    }

    /// The limits and timeouts in force.
    pub fn options(&self) -> &ServerOptions {
        &self.shared.options
    }

    /// Starts listening on `endpoint`; the Deferred fires once the port is
    /// bound, with the running server. A TLS endpoint offers `h2` and
    /// `http/1.1` by ALPN unless its configuration already offers
    /// protocols.
    pub fn listen(&self, reactor: &Reactor, endpoint: &ServerEndpoint) -> Deferred<Listening> {
        self.watch_reactor(reactor);
        let server = self.clone();
        let reactor = reactor.clone();
        endpoint
            .offering_alpn(&ALPN)
            .listen_stream()
            .map(move |listener| {
                let address = listener.address();
                let listener = Rc::new(listener);
                let accepting = listener.clone();
                let stopping = Rc::new(Stopping::default());
                let stop = stopping.clone();
                let s = server.clone();
                let r = reactor.clone();
                let accept_loop = reactor.spawn(async move {
                    loop {
                        let mut accept = accepting.accept();
                        let next = poll_fn(|cx| {
                            if let Poll::Ready(result) = Pin::new(&mut accept).poll(cx) {
                                return Poll::Ready(Some(result));
                            }
                            if stop.requested.get() {
                                return Poll::Ready(None);
                            }
                            *stop.waker.borrow_mut() = Some(cx.waker().clone());
                            Poll::Pending
                        })
                        .await;
                        match next {
                            Some(accepted) => s.serve_connection(&r, accepted?.0),
                            None => {
                                // Taking the cancelled accept's failure here
                                // keeps it from being reported as unhandled.
                                accept.cancel();
                                let _ = accept.await;
                                return Ok::<(), Failure>(());
                            }
                        }
                    }
                });
                drop(accept_loop.or_else(|failure| {
                    // A reactor that finishes stopping ends its tasks too.
                    if failure.find::<ReactorError>() != Some(&ReactorError::Stopped) {
                        tracing::error!(%failure, "accepting HTTP connections failed");
                    }
                    Ok::<(), Failure>(())
                }));
                let port = Rc::new(Port { listener, stopping });
                server.shared.ports.borrow_mut().push(port.clone());
                Listening {
                    address,
                    port,
                    server: Rc::downgrade(&server.shared),
                }
            })
    }

    /// Serves HTTP on one connection already made (a socket handed over, a
    /// test's stream) until either side closes it.
    pub fn serve_connection(&self, reactor: &Reactor, stream: AsyncStream) {
        self.watch_reactor(reactor);
        // Responses are written whole; waiting to fill packets only delays
        // them.
        let _ = stream.transport().set_nodelay(true);
        // Until the first bytes tell HTTP/1.1 from HTTP/2.
        stream.transport().set_protocol_name("http");
        let control = Control::start(reactor, &self.shared.options);
        if self.shared.stopping.get() {
            control.command(Order::Finish);
        }
        let key = self.shared.connections.borrow_mut().insert(control.clone());
        if self.shared.sweep.borrow().is_none() {
            Shared::sweep_later(&self.shared, reactor);
        }
        // Held by this task, and by the protocol the connection is upgraded
        // to, if it is: the server counts the connection until both let go.
        let registered = Rc::new(Registered {
            server: self.shared.clone(),
            key,
        });
        let serving = connection::serve(
            self.shared.clone(),
            reactor.clone(),
            stream,
            control.clone(),
            registered.clone(),
        );
        reactor.spawn_detached(async move {
            let _registered = registered;
            let mut serving = std::pin::pin!(serving);
            poll_fn(|cx| {
                control.register_task(cx.waker());
                if control.order() == Order::Abort {
                    return Poll::Ready(());
                }
                serving.as_mut().poll(cx)
            })
            .await;
        });
    }

    /// Stops the server gracefully: stops listening, lets the requests in
    /// flight finish (their connections then close), closes idle
    /// connections at once, and cuts whatever is left after `timeout`. The
    /// Deferred fires once every connection has ended.
    ///
    /// Connections upgraded to WebSockets are closed with 1001 (going
    /// away); each is waited for until the peer answers the close (or its
    /// connection ends) and cut at `timeout` if it has not by then.
    pub fn shutdown(&self, reactor: &Reactor, timeout: Duration) -> Deferred<()> {
        let shared = &self.shared;
        if !shared.stopping.replace(true) {
            for port in shared.ports.borrow_mut().drain(..) {
                drop(port.stop());
            }
            let controls: Vec<_> = shared
                .connections
                .borrow()
                .iter()
                .map(|(_, c)| c.clone())
                .collect();
            if controls.is_empty() {
                tracing::debug!("HTTP server stopping; no connections open");
            } else {
                tracing::info!(
                    "waiting up to {} for {} to finish",
                    Seconds(timeout),
                    Connections(controls.len())
                );
            }
            for control in controls {
                control.command(Order::Finish);
            }
            let weak = Rc::downgrade(shared);
            let cut = reactor.call_later(timeout, move || {
                if let Some(shared) = weak.upgrade() {
                    shared.abort_all();
                }
            });
            *shared.deadline.borrow_mut() = Some(cut);
        }
        if shared.connections.borrow().is_empty() {
            shared.finish_draining();
            return Deferred::succeed(());
        }
        let (drained, resolver) = Deferred::new();
        shared.drained.borrow_mut().push(resolver);
        drained
    }

    /// Connections open now.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.borrow().len()
    }

    /// Stops the server when the reactor stops, as a before-shutdown
    /// trigger, so `reactor.stop()` drains it.
    fn watch_reactor(&self, reactor: &Reactor) {
        if self.shared.watching_reactor.replace(true) {
            return;
        }
        let server = self.clone();
        let r = reactor.clone();
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            let timeout = server.shared.options.shutdown_timeout;
            server.shutdown(&r, timeout)
        });
    }
}

impl Shared {
    /// Sweeps the connections in a while, and again after that until the
    /// last one closes (which cancels the sweep).
    fn sweep_later(shared: &Rc<Shared>, reactor: &Reactor) {
        let weak = Rc::downgrade(shared);
        let r = reactor.clone();
        let call = reactor.call_later(RELEASE_SWEEP, move || {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            shared.sweep.borrow_mut().take();
            // Copied out: a woken task does not run inside this callback,
            // but the table must not be borrowed if it did.
            let controls: Vec<_> = shared
                .connections
                .borrow()
                .iter()
                .map(|(_, control)| control.clone())
                .collect();
            for control in &controls {
                control.sweep();
            }
            Shared::sweep_later(&shared, &r);
        });
        *shared.sweep.borrow_mut() = Some(call);
    }

    fn abort_all(&self) {
        let controls: Vec<_> = self
            .connections
            .borrow()
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        if !controls.is_empty() {
            tracing::warn!(
                connections = controls.len(),
                "HTTP server shutdown timed out; closing the connections left"
            );
        }
        for control in controls {
            control.command(Order::Abort);
        }
    }

    /// Fires the shutdown's Deferreds once no connection is left.
    fn finish_draining(&self) {
        if let Some(cut) = self.deadline.borrow_mut().take() {
            let _ = cut.cancel();
        }
        let waiting: Vec<_> = self.drained.borrow_mut().drain(..).collect();
        for resolver in waiting {
            resolver.resolve(());
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("options", &self.shared.options)
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

/// A duration as people read it in a log: `10 s`, `0.5 s`.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0.as_secs_f64())
    }
}

/// A count of connections, singular or plural.
struct Connections(usize);

impl fmt::Display for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 connection"),
            n => write!(f, "{n} connections"),
        }
    }
}

/// A connection's place in its server's table, given up when its task
/// ends and, for an upgraded connection, when its new protocol lets go.
struct Registered {
    server: Rc<Shared>,
    key: usize,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let control = self.server.connections.borrow_mut().try_remove(self.key);
        if let Some(control) = control {
            control.ended();
        }
        if self.server.connections.borrow().is_empty() {
            // Nothing to sweep until a connection comes.
            let sweep = self.server.sweep.borrow_mut().take();
            if let Some(sweep) = sweep {
                let _ = sweep.cancel();
            }
            if self.server.stopping.get() {
                self.server.finish_draining();
            }
        }
    }
}

/// A listening port and the task accepting on it.
struct Port {
    listener: Rc<AsyncListener>,
    stopping: Rc<Stopping>,
}

/// Tells a port's accept loop to end.
#[derive(Default)]
struct Stopping {
    requested: Cell<bool>,
    waker: RefCell<Option<std::task::Waker>>,
}

impl Port {
    fn stop(&self) -> Deferred<()> {
        self.stopping.requested.set(true);
        if let Some(waker) = self.stopping.waker.borrow_mut().take() {
            waker.wake();
        }
        self.listener.port().stop_listening()
    }
}

/// A server listening on one endpoint.
pub struct Listening {
    address: Address,
    port: Rc<Port>,
    server: std::rc::Weak<Shared>,
}

impl Listening {
    /// The address bound (the chosen port when 0 was asked).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Stops accepting connections on this endpoint (the connections open
    /// go on; [`Server::shutdown`] ends those too); the Deferred fires
    /// once the port is closed.
    pub fn stop_listening(&self) -> Deferred<()> {
        if let Some(server) = self.server.upgrade() {
            server
                .ports
                .borrow_mut()
                .retain(|port| !Rc::ptr_eq(port, &self.port));
        }
        self.port.stop()
    }
}

impl fmt::Debug for Listening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listening")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}
