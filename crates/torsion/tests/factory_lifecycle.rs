//! Factories' start and stop on a real reactor over loopback: counted
//! across the ports and connectors using one factory (Twisted's
//! `doStart` / `doStop` and `numPorts`).

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use common::{Echo, turn_until};
use torsion::net::{Address, ClientFactory, Connector, Factory, Protocol, Transport};
use torsion::{Failure, Reactor};

const LIMIT: Duration = Duration::from_secs(10);

/// What happened to a factory, in order.
type Log = Rc<RefCell<Vec<&'static str>>>;

/// A server factory that logs its start and stop.
struct Counted {
    log: Log,
}

impl Factory for Counted {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(Echo::default()))
    }
    fn start_factory(&self) {
        self.log.borrow_mut().push("start");
    }
    fn stop_factory(&self) {
        self.log.borrow_mut().push("stop");
    }
}

/// Closes its connection as soon as it is made.
struct HangUp;

impl Protocol for HangUp {
    fn connection_made(&mut self, transport: &Transport) {
        transport.lose_connection();
    }
    fn data_received(&mut self, _: &[u8]) {}
}

/// A client factory that logs start, stop and how each attempt ended, and
/// connects again `reconnects` times from its own callback.
struct CountedClient {
    log: Log,
    reconnects: Cell<u32>,
    finished: Cell<bool>,
}

impl CountedClient {
    fn new(log: &Log, reconnects: u32) -> Rc<CountedClient> {
        Rc::new(CountedClient {
            log: log.clone(),
            reconnects: Cell::new(reconnects),
            finished: Cell::new(false),
        })
    }

    fn again_or_finish(&self, connector: &Connector) {
        if self.reconnects.get() > 0 {
            self.reconnects.set(self.reconnects.get() - 1);
            connector.connect();
        } else {
            self.finished.set(true);
        }
    }
}

impl Factory for CountedClient {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(HangUp))
    }
    fn start_factory(&self) {
        self.log.borrow_mut().push("start");
    }
    fn stop_factory(&self) {
        self.log.borrow_mut().push("stop");
    }
}

impl ClientFactory for CountedClient {
    fn client_connection_failed(&self, connector: &Connector, _: Failure) {
        self.log.borrow_mut().push("failed");
        self.again_or_finish(connector);
    }
    fn client_connection_lost(&self, connector: &Connector, _: Failure) {
        self.log.borrow_mut().push("lost");
        self.again_or_finish(connector);
    }
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A loopback port nobody listens on (bound, then closed).
fn refusing_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind(loopback()).unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn one_factory_on_two_ports_starts_once_and_stops_after_both_stop() {
    let reactor = Reactor::new().unwrap();
    let log = Log::default();
    let factory = Rc::new(Counted { log: log.clone() });
    let first = reactor.listen_tcp(loopback(), factory.clone()).unwrap();
    let second = reactor.listen_tcp(loopback(), factory.clone()).unwrap();
    assert_eq!(*log.borrow(), ["start"]);
    drop(first.stop_listening());
    assert_eq!(*log.borrow(), ["start"], "one port still listens");
    drop(second.stop_listening());
    assert_eq!(*log.borrow(), ["start", "stop"]);
}

#[test]
fn stopping_a_port_twice_stops_its_factory_once() {
    let reactor = Reactor::new().unwrap();
    let log = Log::default();
    let port = reactor
        .listen_tcp(loopback(), Counted { log: log.clone() })
        .unwrap();
    drop(port.stop_listening());
    drop(port.stop_listening());
    assert_eq!(*log.borrow(), ["start", "stop"]);
}

#[test]
fn a_factory_listening_again_after_its_last_port_stopped_starts_again() {
    let reactor = Reactor::new().unwrap();
    let log = Log::default();
    let factory = Rc::new(Counted { log: log.clone() });
    let port = reactor.listen_tcp(loopback(), factory.clone()).unwrap();
    drop(port.stop_listening());
    let port = reactor.listen_tcp(loopback(), factory.clone()).unwrap();
    drop(port.stop_listening());
    assert_eq!(*log.borrow(), ["start", "stop", "start", "stop"]);
}

#[test]
fn a_client_factory_starts_on_connect_and_stops_when_the_connection_ends() {
    let reactor = Reactor::new().unwrap();
    let server = reactor
        .listen_tcp(
            loopback(),
            torsion::net::factory_fn(|_| Some(Echo::default())),
        )
        .unwrap();
    let log = Log::default();
    let client = CountedClient::new(&log, 0);
    reactor.connect_tcp(server.tcp_address().unwrap(), client.clone());
    assert_eq!(*log.borrow(), ["start"]);
    turn_until(&reactor, LIMIT, || client.finished.get());
    assert_eq!(*log.borrow(), ["start", "lost", "stop"]);
}

#[test]
fn a_client_factory_stops_when_the_attempt_fails() {
    let reactor = Reactor::new().unwrap();
    let log = Log::default();
    let client = CountedClient::new(&log, 0);
    reactor.connect_tcp(refusing_address(), client.clone());
    turn_until(&reactor, LIMIT, || client.finished.get());
    assert_eq!(*log.borrow(), ["start", "failed", "stop"]);
}

#[test]
fn a_client_factory_that_reconnects_from_its_callback_stays_started() {
    let reactor = Reactor::new().unwrap();
    let log = Log::default();
    let client = CountedClient::new(&log, 2);
    reactor.connect_tcp(refusing_address(), client.clone());
    turn_until(&reactor, LIMIT, || client.finished.get());
    assert_eq!(
        *log.borrow(),
        ["start", "failed", "failed", "failed", "stop"]
    );
}

#[test]
fn a_factory_shared_by_a_port_and_a_connector_stops_after_both() {
    let reactor = Reactor::new().unwrap();
    let log = Log::default();
    let shared = CountedClient::new(&log, 0);
    let port = reactor.listen_tcp(loopback(), shared.clone()).unwrap();
    reactor.connect_tcp(refusing_address(), shared.clone());
    turn_until(&reactor, LIMIT, || shared.finished.get());
    assert_eq!(*log.borrow(), ["start", "failed"], "the port still uses it");
    drop(port.stop_listening());
    assert_eq!(*log.borrow(), ["start", "failed", "stop"]);
}
