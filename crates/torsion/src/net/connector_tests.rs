//! The connector's own behaviour on a real reactor: attempts that cannot
//! start, and stopping an attempt from the factory's first callback.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::error::{Cancelled, NetError};
use crate::testing::net_support::{Echo, turn_until};
use crate::{Failure, Reactor};

const LIMIT: Duration = Duration::from_secs(10);

/// Records how attempts ended; `stop_at_start` stops each attempt from
/// `started_connecting`.
#[derive(Default)]
struct Outcomes {
    failures: RefCell<Vec<Failure>>,
    stop_at_start: bool,
}

impl Factory for Outcomes {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(Echo::default()))
    }
}

impl ClientFactory for Outcomes {
    fn started_connecting(&self, connector: &Connector) {
        if self.stop_at_start {
            connector.stop_connecting();
        }
    }
    fn client_connection_failed(&self, _: &Connector, reason: Failure) {
        self.failures.borrow_mut().push(reason);
    }
}

#[test]
fn an_address_without_a_path_fails_the_attempt_with_a_net_error() {
    let reactor = Reactor::new().unwrap();
    let outcomes = Rc::new(Outcomes::default());
    let connector = Connector::new(
        &reactor,
        Address::Unix(None),
        outcomes.clone(),
        ConnectOptions::default(),
    );
    connector.connect();
    assert!(
        outcomes.failures.borrow().is_empty(),
        "reported on a later turn"
    );
    turn_until(&reactor, LIMIT, || !outcomes.failures.borrow().is_empty());
    let failures = outcomes.failures.borrow();
    let error = failures[0].downcast_ref::<std::io::Error>().unwrap();
    assert!(matches!(
        NetError::find(error),
        Some(NetError::UnusableAddress(_))
    ));
}

#[test]
fn stopping_from_started_connecting_fails_once_and_opens_no_socket() {
    let reactor = Reactor::new().unwrap();
    let outcomes = Rc::new(Outcomes {
        stop_at_start: true,
        ..Outcomes::default()
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let connector = reactor.connect_tcp(address, outcomes.clone());
    assert_eq!(outcomes.failures.borrow().len(), 1);
    assert!(outcomes.failures.borrow()[0].is::<Cancelled>());
    assert!(connector.transport().is_none());
    listener.set_nonblocking(true).unwrap();
    reactor.start().unwrap();
    for _ in 0..5 {
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    assert!(listener.accept().is_err(), "no connection was attempted");
    assert_eq!(outcomes.failures.borrow().len(), 1);
}
