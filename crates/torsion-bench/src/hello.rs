//! Hello-world HTTP servers for the `http` benchmark, run like the echo
//! servers (see [`server`](crate::server)) in processes of their own:
//!
//! - torsion: a torsion-web [`Server`] with a closure resource, default
//!   options (its header read and idle timeouts are on) but for
//!   `http1_pipeline_flush`, on as on the hyper side;
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

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use torsion::Reactor;
use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion_web::{Body, Request, Response, Server, ServerOptions};

/// What every request gets.
pub const HELLO: &str = "Hello, world!\n";

/// Runs torsion-web's hello-world server on this thread until its reactor
/// stops, telling `ready` where it listens first.
pub fn serve_torsion(
    ready: impl FnOnce(SocketAddr, torsion::ReactorHandle) + 'static,
) -> io::Result<()> {
    let reactor = Reactor::new().map_err(io::Error::other)?;
    // Pipelined responses batched, as on the hyper side: the pipelined run
    // compares the engines, not a setting (it is off by default).
    let server = Server::new(|_request: Request| Response::new(Body::from(HELLO))).with_options(
        ServerOptions {
            http1_pipeline_flush: true,
            ..ServerOptions::default()
        },
    );
    let endpoint =
        server_from_string(&reactor, "tcp:0:interface=127.0.0.1").map_err(io::Error::other)?;
    let handle = reactor.handle();
    let listening = server.listen(&reactor, &endpoint).map(move |listening| {
        if let Address::Tcp(address) = listening.address() {
            ready(*address, handle);
        }
    });
    drop(listening);
    reactor.run().map_err(io::Error::other)
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        ready(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    })
}

/// Runs hyper's hello-world server on a tokio current-thread runtime on
/// this thread, forever, telling `ready` where it listens first.
pub fn serve_hyper(ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        ready(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(hello);
                // Pipelined responses batched, as on the torsion side.
                let _ = hyper::server::conn::http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
