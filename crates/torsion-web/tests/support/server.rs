//! Putting a server up for a test, in the three shapes the tests need:
//!
//! - [`serve`]: on a reactor thread of its own, so that the test's thread
//!   drives blocking clients (curl, Python, raw sockets) and can stop the
//!   server midway;
//! - [`serve_while`]: on the test's own reactor, for a test that keeps
//!   timers or state on it, while one blocking client runs on a thread;
//! - [`with_server`] and [`serve_local`]: inside async code that [`run`]
//!   runs on a reactor, for torsion's own clients.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::time::defer_later;
use torsion::{Failure, Reactor, ReactorHandle};
use torsion_web::{Listening, Resource, Server};

/// Any free port on loopback.
pub const LOOPBACK: &str = "tcp:0:interface=127.0.0.1";

/// No test runs longer than this: its reactor is stopped and it fails.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Starts `server` listening on the endpoint `description`; gives the TCP
/// address bound (with the port chosen for port 0) and the listening port.
pub async fn listen(
    reactor: &Reactor,
    server: &Server,
    description: &str,
) -> Result<(SocketAddr, Listening), Failure> {
    let endpoint = server_from_string(reactor, description)?;
    let listening = server.listen(reactor, &endpoint).await?;
    let Address::Tcp(address) = listening.address().clone() else {
        panic!("a TCP address");
    };
    Ok((address, listening))
}

/// A server running on its own reactor thread; dropping it stops the
/// reactor (which drains the server) and joins the thread.
pub struct Running {
    pub address: SocketAddr,
    handle: ReactorHandle,
    thread: Option<JoinHandle<()>>,
}

/// Serves what `make` builds (on the server's reactor thread, so it may
/// hold `!Send` state) on a loopback port.
pub fn serve(make: impl FnOnce(&Reactor) -> Server + Send + 'static) -> Running {
    serve_on(LOOPBACK, make)
}

/// [`serve`] on the server endpoint `description`.
pub fn serve_on(
    description: &str,
    make: impl FnOnce(&Reactor) -> Server + Send + 'static,
) -> Running {
    let description = description.to_owned();
    let (tell, told) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        let server = make(&reactor);
        let handle = reactor.handle();
        let r = reactor.clone();
        // Holds the listening port until the reactor stops.
        let listening = reactor.spawn(async move {
            let (address, listening) = listen(&r, &server, &description).await?;
            tell.send((address, handle)).unwrap();
            Ok::<_, Failure>(listening)
        });
        reactor.run().unwrap();
        drop(listening);
    });
    let (address, handle) = told
        .recv_timeout(Duration::from_secs(10))
        .expect("the server listens");
    Running {
        address,
        handle,
        thread: Some(thread),
    }
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Stops the reactor and waits for its thread, which has drained the
    /// server by then.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.handle.stop();
            thread.join().expect("the reactor thread ends cleanly");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The test has failed already: stop the server, but do not
            // wait on a reactor that may be what is stuck.
            let _ = self.handle.stop();
        } else {
            self.stop_and_join();
        }
    }
}

/// Serves `resource` on a loopback port of `reactor`, runs it here, and
/// runs `client` with the address on a thread of its own; stops the
/// reactor when the client returns and gives what it returned (or
/// re-raises its panic).
pub fn serve_while<T: Send + 'static>(
    reactor: &Reactor,
    resource: impl Resource,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    let server = Server::new(resource);
    let handle = reactor.handle();
    let (done_tx, done_rx) = mpsc::channel();
    let r = reactor.clone();
    // Holds the listening port until the reactor stops.
    let listening = reactor.spawn(async move {
        let (address, listening) = listen(&r, &server, LOOPBACK).await?;
        std::thread::spawn(move || {
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client(address)));
            done_tx.send(outcome).unwrap();
            handle.stop().unwrap();
        });
        Ok::<_, Failure>(listening)
    });
    let r = reactor.clone();
    let limit = reactor.call_later(TEST_LIMIT, move || {
        let _ = r.stop();
    });
    reactor.run().unwrap();
    if limit.active() {
        let _ = limit.cancel();
    }
    drop(listening);
    match done_rx.try_recv() {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the client did not finish within {TEST_LIMIT:?}"),
    }
}

/// [`run_test`](torsion::testing::run_test), for the tests that ignore
/// the reactor it gives back.
pub fn run<Fut>(limit: Duration, test: impl FnOnce(Reactor) -> Fut)
where
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    torsion::testing::run_test(limit, test);
}

/// Serves `resource` on a loopback port of the reactor the caller runs on;
/// gives the base URL (`http://127.0.0.1:PORT`) and the listening port.
pub async fn serve_local(
    reactor: &Reactor,
    resource: impl Resource,
) -> Result<(String, Listening), Failure> {
    let (address, listening) = listen(reactor, &Server::new(resource), LOOPBACK).await?;
    Ok((format!("http://{address}"), listening))
}

/// Serves `resource` on a loopback port and runs `body` with the reactor
/// and the port, as [`run`] does.
pub fn with_server<F, Fut>(resource: impl Resource, body: F)
where
    F: FnOnce(Reactor, u16) -> Fut + 'static,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    with_server_on(LOOPBACK, resource, body);
}

/// [`with_server`] on the server endpoint `description` (port 0).
pub fn with_server_on<F, Fut>(description: &str, resource: impl Resource, body: F)
where
    F: FnOnce(Reactor, u16) -> Fut + 'static,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    let description = description.to_owned();
    run(TEST_LIMIT, move |reactor| async move {
        let server = Server::new(resource);
        let (address, _listening) = listen(&reactor, &server, &description).await?;
        body(reactor, address.port()).await
    });
}

/// Waits on the reactor (without blocking it) until `done` holds.
pub async fn wait_until(
    reactor: &Reactor,
    what: &str,
    done: impl Fn() -> bool,
) -> Result<(), Failure> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(Failure::msg(format!("waited 10 s for {what}")));
        }
        defer_later(reactor, Duration::from_millis(10), || Ok::<(), Failure>(())).await?;
    }
    Ok(())
}
