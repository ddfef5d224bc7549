//! The blocking web app: a synchronous HTTP server (`tiny_http`) on plain
//! threads, as a Flask app runs, that knows nothing of the reactor except
//! the blocking bridge. Asked for the rate, it runs a function on the
//! reactor thread (`run_in_reactor`) and waits for its result with a
//! timeout, the way crochet lets Flask call Twisted.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use torsion::blocking::{self, Bridge, BridgeError};
use torsion::service::{Service, ServiceCore};
use torsion::{Deferred, Failure, Reactor};

use super::rate::RateBoard;

/// How long a request waits for the reactor's answer.
const BRIDGE_TIMEOUT: Duration = Duration::from_secs(2);

/// Request threads, as a threaded WSGI server has.
const WORKERS: usize = 4;

/// The blocking app as a service: the start binds and starts its threads,
/// the stop unblocks them and fires once they have all ended and the port
/// is closed.
pub(crate) struct QuoteService {
    core: ServiceCore,
    reactor: Reactor,
    listen: SocketAddr,
    server: RefCell<Option<Arc<tiny_http::Server>>>,
    workers: RefCell<Vec<JoinHandle<()>>>,
    address: Cell<Option<SocketAddr>>,
}

impl QuoteService {
    /// The app, to listen on `listen` (port 0: any free port).
    pub(crate) fn new(reactor: &Reactor, listen: SocketAddr) -> QuoteService {
        QuoteService {
            core: ServiceCore::new(),
            reactor: reactor.clone(),
            listen,
            server: RefCell::new(None),
            workers: RefCell::new(Vec::new()),
            address: Cell::new(None),
        }
    }

    /// This service, called `name`.
    pub(crate) fn named(self, name: &str) -> QuoteService {
        QuoteService {
            core: ServiceCore::named(name),
            ..self
        }
    }

    /// The address bound while it runs.
    pub(crate) fn address(&self) -> Option<SocketAddr> {
        self.address.get()
    }
}

/// The process-wide bridge to `reactor`, set up by the first caller.
fn bridge_to(reactor: &Reactor) -> Result<Bridge, BridgeError> {
    match blocking::use_reactor(reactor) {
        Err(BridgeError::AlreadySetUp) => blocking::global(),
        bridge => bridge,
    }
}

impl Service for QuoteService {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        let bridge = bridge_to(&self.reactor).map_err(Failure::new)?;
        let server = tiny_http::Server::http(self.listen)
            .map_err(|error| Failure::msg(format!("cannot listen on {}: {error}", self.listen)))?;
        let server = Arc::new(server);
        self.address.set(server.server_addr().to_ip());
        let mut workers = self.workers.borrow_mut();
        for n in 0..WORKERS {
            let server = server.clone();
            let bridge = bridge.clone();
            let worker = std::thread::Builder::new()
                .name(format!("quote-app-{n}"))
                .spawn(move || {
                    for request in server.incoming_requests() {
                        answer(&bridge, request);
                    }
                })
                .map_err(Failure::new)?;
            workers.push(worker);
        }
        *self.server.borrow_mut() = Some(server);
        Ok(())
    }

    fn stop_service(&self) -> Deferred<()> {
        if let Some(server) = self.server.borrow_mut().take() {
            // One unblock per thread: each ends one thread's wait.
            for _ in 0..WORKERS {
                server.unblock();
            }
        }
        let workers = std::mem::take(&mut *self.workers.borrow_mut());
        // Joined on a pool thread: the reactor goes on meanwhile. The last
        // thread to end drops the server, which closes its port.
        self.reactor.defer_to_thread(move || {
            for worker in workers {
                let _ = worker.join();
            }
        })
    }
}

/// Answers one request, on a request thread.
fn answer(bridge: &Bridge, request: tiny_http::Request) {
    let (status, body) = match request.url() {
        "/" | "/rate" => (200, quote(bridge)),
        _ => (404, "not found".to_owned()),
    };
    let content_type = tiny_http::Header::from_bytes("Content-Type", "text/plain; charset=utf-8")
        .expect("a valid header");
    let response = tiny_http::Response::from_string(body + "\n")
        .with_status_code(status)
        .with_header(content_type);
    if let Err(error) = request.respond(response) {
        tracing::debug!(%error, "a client left before its answer");
    }
}

/// "EUR/USD rate: X", or "unavailable" when the board has no current rate
/// or the reactor does not answer in time.
fn quote(bridge: &Bridge) -> String {
    // Runs on the reactor thread, where the board lives.
    let latest = bridge.run_in_reactor(|reactor: Reactor| {
        Ok::<_, Failure>(
            reactor
                .extension::<RateBoard>()
                .latest()
                .map(|sample| sample.rate),
        )
    });
    match latest.wait(BRIDGE_TIMEOUT) {
        Ok(Some(rate)) => format!("EUR/USD rate: {rate:.5}"),
        Ok(None) => "EUR/USD rate: unavailable".to_owned(),
        Err(error) => {
            tracing::warn!(%error, "no answer from the reactor");
            "EUR/USD rate: unavailable".to_owned()
        }
    }
}
