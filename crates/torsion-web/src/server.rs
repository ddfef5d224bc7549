//! [`Server`]: serves a [`Resource`] over HTTP on any torsion server
//! endpoint (`tcp:8080`, `unix:/run/app.sock`, `tls:8443:...`).

use std::convert::Infallible;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use torsion::endpoints::ServerEndpoint;
use torsion::net::{Address, AsyncListener, AsyncStream};
use torsion::{Deferred, Failure, Reactor};

use crate::rt::ReactorTimer;
use crate::upgrade::UpgradableStream;
use crate::{Body, ConnectionInfo, Reply, Request, Resource, Response};

/// Serves one resource (usually a router) on as many endpoints as asked.
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::endpoints::server_from_string;
/// use torsion_web::{Body, Request, Response, Server};
///
/// let reactor = Reactor::new()?;
/// let server = Server::new(|_request: Request| Response::new(Body::from("hello\n")));
/// let endpoint = server_from_string(&reactor, "tcp:8080:interface=127.0.0.1")?;
/// drop(server.listen(&reactor, &endpoint));
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Server {
    resource: Rc<dyn Resource>,
}

impl Server {
    /// A server answering every request with `resource`.
    pub fn new(resource: impl Resource) -> Server {
        Server {
            resource: Rc::new(resource),
        }
    }

    /// Starts listening on `endpoint`; the Deferred fires once the port is
    /// bound, with the running server.
    pub fn listen(&self, reactor: &Reactor, endpoint: &ServerEndpoint) -> Deferred<Listening> {
        let server = self.clone();
        let reactor = reactor.clone();
        AsyncListener::listen(endpoint).map(move |listener| {
            let address = listener.address();
            let listener = Rc::new(listener);
            let accepting = listener.clone();
            let r = reactor.clone();
            let accept_loop = reactor.spawn(async move {
                loop {
                    let (stream, _peer) = accepting.accept().await?;
                    server.serve_connection(&r, stream);
                }
                #[allow(unreachable_code)]
                Ok::<(), Failure>(())
            });
            Listening {
                address,
                listener,
                accept_loop,
            }
        })
    }

    /// Serves HTTP on one connection already made (a socket handed over, a
    /// test's stream) until either side closes it.
    pub fn serve_connection(&self, reactor: &Reactor, stream: AsyncStream) {
        let transport = stream.transport();
        let info = ConnectionInfo {
            peer: transport.peer(),
            local: transport.host(),
            tls: transport.tls_info(),
        };
        let resource = self.resource.clone();
        let service = service_fn(move |request: http::Request<Incoming>| {
            let mut request: Request = request.map(|body| Body::incoming(body, None));
            request.extensions_mut().insert(info.clone());
            let reply = answer(&*resource, request);
            async move { Ok::<Response, Infallible>(respond(reply.await)) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(ReactorTimer)
            .serve_connection(UpgradableStream::new(stream), service)
            .with_upgrades();
        drop(reactor.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
            Ok::<(), Failure>(())
        }));
    }
}

/// Calls the resource, turning a panic into a failed reply.
fn answer(resource: &dyn Resource, request: Request) -> Reply {
    std::panic::catch_unwind(AssertUnwindSafe(|| resource.handle(request)))
        .unwrap_or_else(|payload| Reply::failed(Failure::from_panic(payload)))
}

fn respond(result: Result<Response, Failure>) -> Response {
    result.unwrap_or_else(|failure| {
        tracing::error!(%failure, "a resource failed; answering 500");
        let mut response = Response::new(Body::from("500 Internal Server Error\n"));
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

/// A server listening on one endpoint.
pub struct Listening {
    address: Address,
    listener: Rc<AsyncListener>,
    accept_loop: Deferred<()>,
}

impl Listening {
    /// The address bound (the chosen port when 0 was asked).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Stops accepting connections; the Deferred fires once the port is
    /// closed.
    pub fn stop_listening(&self) -> Deferred<()> {
        self.accept_loop.cancel();
        self.listener.port().stop_listening()
    }
}

impl fmt::Debug for Listening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listening")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}
