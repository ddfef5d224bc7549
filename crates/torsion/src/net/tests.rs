//! Connections over real loopback sockets.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::error::{ConnectionDone, ConnectionRefused};
use crate::time::Scheduler;
use crate::{Failure, Reactor};

/// Writes back what it reads.
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.transport.as_ref().unwrap().write(data);
    }
}

/// Records what happens to a client connection.
#[derive(Default)]
struct Events {
    made: usize,
    received: Vec<u8>,
    lost: Option<Failure>,
}

type OnMade = Box<dyn FnOnce(&Transport)>;

struct Recorder {
    events: Rc<RefCell<Events>>,
    on_made: Option<OnMade>,
}

impl Protocol for Recorder {
    fn connection_made(&mut self, transport: &Transport) {
        self.events.borrow_mut().made += 1;
        if let Some(f) = self.on_made.take() {
            f(transport);
        }
    }
    fn data_received(&mut self, data: &[u8]) {
        self.events.borrow_mut().received.extend_from_slice(data);
    }
    fn connection_lost(&mut self, reason: Failure) {
        self.events.borrow_mut().lost = Some(reason);
    }
}

fn run_for(reactor: &Reactor, limit: Duration) {
    let stopper = reactor.clone();
    reactor.call_later(limit, move || {
        let _ = stopper.stop();
    });
    reactor.run().unwrap();
}

fn echo_port(reactor: &Reactor) -> ListeningPort {
    reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Echo::default())),
        )
        .unwrap()
}

#[test]
fn tcp_echo_with_a_blocking_client_thread() {
    let reactor = Reactor::new().unwrap();
    let port = echo_port(&reactor);
    let address = port.tcp_address().unwrap();
    let handle = reactor.handle();
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(b"hello").unwrap();
        let mut reply = [0u8; 5];
        stream.read_exact(&mut reply).unwrap();
        let _ = handle.stop();
        reply
    });
    run_for(&reactor, Duration::from_secs(10));
    assert_eq!(&client.join().unwrap(), b"hello");
}

#[test]
fn connect_protocol_round_trip_then_clean_close() {
    let reactor = Reactor::new().unwrap();
    let port = echo_port(&reactor);
    let events = Rc::new(RefCell::new(Events::default()));
    let protocol = Recorder {
        events: events.clone(),
        on_made: Some(Box::new(|t: &Transport| t.write(b"ping"))),
    };
    let connected = reactor.connect_protocol(
        Address::Tcp(port.tcp_address().unwrap()),
        protocol,
        ConnectOptions::default(),
    );
    let r = reactor.clone();
    let ev = events.clone();
    drop(connected.map(move |transport| {
        let r2 = r.clone();
        r.call_later(Duration::from_millis(50), move || {
            assert_eq!(ev.borrow().received, b"ping");
            transport.lose_connection();
            let r3 = r2.clone();
            r2.call_later(Duration::from_millis(50), move || r3.stop().unwrap());
        });
    }));
    run_for(&reactor, Duration::from_secs(10));
    let events = events.borrow();
    assert_eq!(events.made, 1);
    assert!(events.lost.as_ref().unwrap().is::<ConnectionDone>());
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let reactor = Reactor::new().unwrap();
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = unused.local_addr().unwrap();
    drop(unused);
    let connected = reactor.connect_protocol(
        Address::Tcp(address),
        Echo::default(),
        ConnectOptions::default(),
    );
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    let r = reactor.clone();
    drop(
        connected
            .then(move |_| Ok::<_, Failure>(()))
            .or_else(move |failure| {
                *o.borrow_mut() = Some(failure.is::<ConnectionRefused>());
                r.stop().unwrap();
                Ok::<_, Failure>(())
            }),
    );
    run_for(&reactor, Duration::from_secs(10));
    assert_eq!(*outcome.borrow(), Some(true));
}
