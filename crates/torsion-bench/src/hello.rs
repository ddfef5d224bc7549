//! Hello-world HTTP servers for the `http` benchmark, run like the echo
//! servers (see [`server`](crate::server)) in processes of their own:
//!
//! - torsion: a torsion-web [`Server`] with a closure resource and
//!   default options (its header read and idle timeouts are on, and
//!   pipelined responses leave together);
//! - hyper on tokio: hyper's `server::conn::http1` on a tokio
//!   current-thread runtime, a task per connection, as in hyper's own
//!   hello-world example (no timer, so no header read timeout).
//!
//! - hyper's HTTP/2 server on tokio (`http --h2`): `server::conn::http2` on
//!   the same runtime, with tokio's executor for its streams; torsion-web's
//!   server above answers HTTP/2 on its one port as well.
//!
//! All answer every request with the same 14-byte body; hyper adds the
//! same `date` and `content-length` headers to every one.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use torsion::endpoints::server_from_string;
use torsion::net::{AcceptGroup, Address};
use torsion::reactor_pool::ReactorPool;
use torsion::{Deferred, Failure};
use torsion_web::{Body, Request, Response, Server};

/// What every request gets.
pub const HELLO: &str = "Hello, world!\n";

/// The hello-world server, with default options.
fn hello_server() -> Server {
    Server::new(|_request: Request| Response::new(Body::from(HELLO)))
}

/// Runs torsion-web's hello-world server on this thread until its reactor
/// stops, telling `ready` where it listens first.
pub fn serve_torsion(
    ready: impl FnOnce(SocketAddr, torsion::ReactorHandle) + 'static,
) -> io::Result<()> {
    let reactor = torsion::Reactor::with_backend(torsion::reactor::Backend::Epoll)?;
    serve_torsion_on(&reactor, ready)
}

/// [`serve_torsion`] on `reactor`.
pub fn serve_torsion_on(
    reactor: &torsion::Reactor,
    ready: impl FnOnce(SocketAddr, torsion::ReactorHandle) + 'static,
) -> io::Result<()> {
    let server = hello_server();
    let endpoint =
        server_from_string(reactor, "tcp:0:interface=127.0.0.1").map_err(io::Error::other)?;
    let handle = reactor.handle();
    let listening = server.listen(reactor, &endpoint).map(move |listening| {
        if let Address::Tcp(address) = listening.address() {
            ready(*address, handle);
        }
    });
    drop(listening);
    reactor.run().map_err(io::Error::other)
}

/// [`serve_torsion`] on a thread of its own, for tests: where it listens,
/// its reactor's handle (to stop it) and the thread (to join).
#[cfg(test)]
pub fn torsion_on_a_thread() -> (
    SocketAddr,
    torsion::ReactorHandle,
    std::thread::JoinHandle<()>,
) {
    let (ready, started) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        serve_torsion(move |address, handle| ready.send((address, handle)).unwrap()).unwrap();
    });
    let (address, handle) = started.recv().unwrap();
    (address, handle, server)
}

/// torsion-web's hello-world server on a [`ReactorPool`] of `reactors`
/// reactors, each with its own SO_REUSEPORT socket on one port; tells
/// `ready` where it listens and hands back the pool. The server is the
/// same as [`serve_torsion`]'s, built once per reactor.
pub fn serve_torsion_pool(reactors: usize) -> io::Result<(SocketAddr, ReactorPool)> {
    let pool = ReactorPool::new(reactors).map_err(io::Error::other)?;
    let group = AcceptGroup::new();
    let mut bound: Option<SocketAddr> = None;
    for bridge in pool.bridges() {
        let port = bound.map(|address| address.port());
        let group = group.clone();
        let address = bridge
            .wait_for(Duration::from_secs(10), move |reactor| {
                let endpoint = match server_from_string(
                    &reactor,
                    "tcp:0:interface=127.0.0.1:reusePort=true",
                ) {
                    Ok(endpoint) => endpoint,
                    Err(error) => return Deferred::fail(Failure::new(error)),
                };
                let endpoint = match port {
                    Some(port) => endpoint.on_port(port),
                    None => endpoint,
                }
                .in_accept_group(&group);
                hello_server()
                    .listen(&reactor, &endpoint)
                    .then(|listening| match listening.address() {
                        Address::Tcp(address) => Ok(*address),
                        other => Err(Failure::new(io::Error::other(format!("{other}")))),
                    })
            })
            .map_err(io::Error::other)?;
        bound = bound.or(Some(address));
    }
    Ok((bound.expect("a pool has a reactor"), pool))
}

/// Connections each reactor of `pool` has accepted so far, from its
/// ports' counters.
pub fn accepted_per_reactor(pool: &ReactorPool) -> Vec<u64> {
    pool.bridges()
        .iter()
        .map(|bridge| {
            bridge
                .wait_for(Duration::from_secs(5), |reactor| {
                    Ok::<_, Failure>(reactor.snapshot().ports.iter().map(|p| p.accepted).sum())
                })
                .unwrap_or(0)
        })
        .collect()
}

/// The hello-world answer, as hyper's servers give it.
async fn hello(
    _request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    Ok(http::Response::new(Full::new(Bytes::from_static(
        HELLO.as_bytes(),
    ))))
}

/// Runs hyper's HTTP/2 hello-world server (h2c, by prior knowledge) on a
/// tokio current-thread runtime on this thread, forever, telling `ready`
/// where it listens first.
pub fn serve_hyper_h2(ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    serve_on_tokio(ready, |stream| async move {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
            .await;
    })
}

/// Runs hyper's hello-world server on a tokio current-thread runtime on
/// this thread, forever, telling `ready` where it listens first.
pub fn serve_hyper(ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    serve_on_tokio(ready, |stream| async move {
        // Pipelined responses batched, as on the torsion side.
        let _ = hyper::server::conn::http1::Builder::new()
            .pipeline_flush(true)
            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
            .await;
    })
}

/// Accepts connections on a loopback port on a tokio current-thread
/// runtime on this thread, forever, each served by a task running
/// `serve`, telling `ready` where it listens first.
fn serve_on_tokio<F>(
    ready: impl FnOnce(SocketAddr),
    serve: impl Fn(tokio::net::TcpStream) -> F,
) -> io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        ready(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve(stream));
        }
    })
}
