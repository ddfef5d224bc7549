//! The grammar, every endpoint kind over real loopback sockets, and the
//! memory reactor's record of what endpoints asked for; the helpers they
//! share are here.

mod grammar_tests;
mod memory_tests;
mod sockets_tests;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::parse::{Field, parse};
use super::*;
use crate::error::{Cancelled, ConnectionRefused, DnsLookupError, TimedOut};
use crate::net::{ListeningPort, Protocol, Transport, factory_fn};
use crate::testing::MemoryReactor;
use crate::testing::net_support::Echo;
use crate::testing::outcome::{Slot, record};
use crate::{Deferred, Failure, Reactor};

// ---------------------------------------------------------------- helpers

/// What happened to a client connection.
#[derive(Default)]
struct Events {
    made: usize,
    received: Vec<u8>,
    lost: Option<Failure>,
    /// The local address, seen in `connection_made`.
    host: Option<crate::net::Address>,
    /// What the TLS handshake agreed on, seen with the first data.
    tls: Option<crate::net::tls::TlsInfo>,
}

/// Sends a greeting when connected and records everything.
struct Recorder {
    events: Rc<RefCell<Events>>,
    greeting: &'static [u8],
    transport: Option<Transport>,
}

impl Recorder {
    fn new(greeting: &'static [u8]) -> (Recorder, Rc<RefCell<Events>>) {
        let events = Rc::new(RefCell::new(Events::default()));
        (
            Recorder {
                events: events.clone(),
                greeting,
                transport: None,
            },
            events,
        )
    }
}

impl Protocol for Recorder {
    fn connection_made(&mut self, transport: &Transport) {
        let mut events = self.events.borrow_mut();
        events.made += 1;
        events.host = Some(transport.host());
        transport.write(self.greeting);
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        let mut events = self.events.borrow_mut();
        events.received.extend_from_slice(data);
        if let Some(transport) = &self.transport {
            events.tls = events.tls.take().or_else(|| transport.tls_info());
        }
    }
    fn connection_lost(&mut self, reason: Failure) {
        self.events.borrow_mut().lost = Some(reason);
    }
}

/// Runs the reactor until `done` says so or `limit` passes.
fn run_until(reactor: &Reactor, limit: Duration, done: impl Fn() -> bool + 'static) {
    let stopper = reactor.clone();
    reactor.call_later(limit, move || {
        let _ = stopper.stop();
    });
    let poller = reactor.clone();
    let check = Rc::new(RefCell::new(None::<Box<dyn Fn()>>));
    let again = check.clone();
    *check.borrow_mut() = Some(Box::new(move || {
        if done() {
            let _ = poller.stop();
        } else {
            let again = again.clone();
            poller.call_later(Duration::from_millis(5), move || {
                if let Some(f) = again.borrow().as_ref() {
                    f();
                }
            });
        }
    }));
    let first = check.clone();
    reactor.call_later(Duration::ZERO, move || {
        if let Some(f) = first.borrow().as_ref() {
            f();
        }
    });
    reactor.run().unwrap();
    // Break the self-reference.
    check.borrow_mut().take();
}

fn listen_echo(reactor: &Reactor, description: &str) -> ListeningPort {
    let endpoint = server_from_string(reactor, description).unwrap();
    let slot = record(endpoint.listen(factory_fn(|_| Some(Echo::default()))));
    slot.borrow_mut().take().unwrap().unwrap()
}

/// Connects a recorder through `description`, and runs until it has the
/// echo of its greeting (or gives up).
fn echo_through(reactor: &Reactor, description: &str) -> (Rc<RefCell<Events>>, Slot<Transport>) {
    let client = client_from_string(reactor, description).unwrap();
    let (protocol, events) = Recorder::new(b"ping");
    let connected = record(client.connect(protocol));
    let ev = events.clone();
    let c = connected.clone();
    run_until(reactor, Duration::from_secs(10), move || {
        ev.borrow().received.len() >= 4
            || ev.borrow().lost.is_some()
            || matches!(&*c.borrow(), Some(Err(_)))
    });
    (events, connected)
}

fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "torsion-endpoints-{}-{}-{}",
        name,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A self-signed certificate for "localhost", written as PEM files:
/// (certificate, key).
fn certificate(dir: &std::path::Path, name: &str) -> (PathBuf, PathBuf) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

fn escaped(path: &std::path::Path) -> String {
    quote_string_argument(path.to_str().unwrap())
}

/// The message of a parse error, which must mention `part`.
fn server_error(description: &str) -> String {
    server_from_string(&MemoryReactor::new(), description)
        .unwrap_err()
        .to_string()
}

fn client_error(description: &str) -> String {
    client_from_string(&MemoryReactor::new(), description)
        .unwrap_err()
        .to_string()
}
