//! Connections over real loopback sockets: their life and end, flow
//! control, and ports and connects; the helpers they share are here.

mod connections_tests;
mod flow_control_tests;
mod ports_and_connects_tests;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::error::{ConnectionDone, ConnectionRefused};
use crate::testing::net_support::{Echo, turn_until};
use crate::{Failure, Reactor};

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

/// A client connection to `port` made with the reactor, recording events.
fn recorded_client(
    reactor: &Reactor,
    address: Address,
) -> (Rc<RefCell<Events>>, Rc<RefCell<Option<Transport>>>) {
    let events = Rc::new(RefCell::new(Events::default()));
    let transport = Rc::new(RefCell::new(None));
    let slot = transport.clone();
    let protocol = Recorder {
        events: events.clone(),
        on_made: Some(Box::new(move |t: &Transport| {
            *slot.borrow_mut() = Some(t.clone())
        })),
    };
    drop(reactor.connect_protocol(address, protocol, ConnectOptions::default()));
    (events, transport)
}
