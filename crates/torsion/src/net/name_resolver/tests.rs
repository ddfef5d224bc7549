//! The installed name resolver, on a real reactor: endpoints connect to
//! real listening sockets through it, and the system's stays the default.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::endpoints::client_from_string;
use crate::net::{Network, factory_fn};
use crate::testing::net_support::{Echo, turn_until};

/// Answers from a table and remembers every name it was asked.
#[derive(Default)]
struct Table {
    hosts: HashMap<String, IpAddr>,
    asked: RefCell<Vec<String>>,
}

impl NameResolver for Table {
    fn resolve_host_name(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
        self.asked.borrow_mut().push(host.to_owned());
        match self.hosts.get(host) {
            Some(ip) => Deferred::succeed(vec![SocketAddr::new(*ip, port)]),
            None => Deferred::fail(DnsLookupError {
                host: host.to_owned(),
                reason: "not in the table".into(),
            }),
        }
    }
}

fn table(entries: &[(&str, IpAddr)]) -> Rc<Table> {
    Rc::new(Table {
        hosts: entries
            .iter()
            .map(|(name, ip)| (name.to_string(), *ip))
            .collect(),
        asked: RefCell::default(),
    })
}

/// What a Deferred fired with, once it has.
fn outcome<T: 'static>(deferred: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let slot = Rc::new(RefCell::new(None));
    let s = slot.clone();
    drop(deferred.both(move |result| {
        *s.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    slot
}

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[test]
fn an_endpoint_connects_to_a_name_the_installed_resolver_knows() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Echo::default())),
        )
        .unwrap();
    let number = port.tcp_address().unwrap().port();
    let names = table(&[("service.test", LOCALHOST)]);
    reactor.install_name_resolver(names.clone());
    let endpoint =
        client_from_string(&reactor, &format!("tcp:host=service.test:port={number}")).unwrap();
    let connected = outcome(endpoint.connect(Echo::default()));
    let c = connected.clone();
    turn_until(&reactor, Duration::from_secs(10), move || {
        c.borrow().is_some()
    });
    let transport = connected.borrow_mut().take().unwrap().unwrap();
    assert_eq!(transport.peer(), port.address());
    assert_eq!(*names.asked.borrow(), ["service.test"]);
}

#[test]
fn a_name_the_installed_resolver_does_not_know_fails_the_connection() {
    let reactor = Reactor::new().unwrap();
    reactor.install_name_resolver(table(&[]));
    let endpoint = client_from_string(&reactor, "tcp:host=localhost:port=9").unwrap();
    let connected = outcome(endpoint.connect(Echo::default()));
    let c = connected.clone();
    turn_until(&reactor, Duration::from_secs(10), move || {
        c.borrow().is_some()
    });
    let failure = connected.borrow_mut().take().unwrap().unwrap_err();
    let lookup = failure.downcast_ref::<DnsLookupError>().unwrap();
    // The system would know localhost: this answer came from the table.
    assert_eq!(lookup.reason, "not in the table");
}

#[test]
fn installing_hands_back_the_resolver_it_replaces() {
    let reactor = Reactor::new().unwrap();
    let first: Rc<dyn NameResolver> = table(&[]);
    let second: Rc<dyn NameResolver> = table(&[]);
    reactor.install_name_resolver(first.clone());
    let replaced = reactor.install_name_resolver(second.clone());
    assert!(Rc::ptr_eq(&replaced, &first));
    assert!(Rc::ptr_eq(&reactor.name_resolver(), &second));
}

#[test]
fn the_system_resolver_is_the_default() {
    let reactor = Reactor::new().unwrap();
    let replaced = reactor.install_name_resolver(table(&[]));
    // What was replaced is the system's, which knows localhost.
    let found = outcome(replaced.resolve_host_name("localhost", 80));
    let f = found.clone();
    turn_until(&reactor, Duration::from_secs(10), move || {
        f.borrow().is_some()
    });
    let addresses = found.borrow_mut().take().unwrap().unwrap();
    assert!(
        addresses
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 80)
    );
    // And a fresh reactor's resolve_host goes to the system's too.
    let fresh = Reactor::new().unwrap();
    let found = outcome(fresh.resolve_host("localhost", 80));
    let f = found.clone();
    turn_until(&fresh, Duration::from_secs(10), move || {
        f.borrow().is_some()
    });
    assert!(!found.borrow_mut().take().unwrap().unwrap().is_empty());
}

#[test]
fn an_installed_resolver_holding_its_reactor_is_let_go_when_the_reactor_finishes() {
    struct HoldsReactor {
        _reactor: Reactor,
        _token: Rc<()>,
    }
    impl NameResolver for HoldsReactor {
        fn resolve_host_name(&self, host: &str, _port: u16) -> Deferred<Vec<SocketAddr>> {
            Deferred::fail(DnsLookupError {
                host: host.to_owned(),
                reason: "unused".into(),
            })
        }
    }
    let token = Rc::new(());
    let reactor = Reactor::new().unwrap();
    reactor.install_name_resolver(Rc::new(HoldsReactor {
        _reactor: reactor.clone(),
        _token: token.clone(),
    }));
    assert_eq!(Rc::strong_count(&token), 2);
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    reactor.run().unwrap();
    assert_eq!(Rc::strong_count(&token), 1, "the resolver was dropped");
}
