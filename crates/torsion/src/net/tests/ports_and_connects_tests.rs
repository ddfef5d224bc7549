//! Ports and connects: callbacks reaching other connections, UNIX and IPv6
//! ports, refused and adopted sockets, connect timeouts and cancels, a
//! panicking protocol, and stopping the reactor.

use super::*;

/// Chat-style relay: what one connection sends, every other one gets,
/// written from inside the sender's callback.
struct Relay {
    members: Rc<RefCell<Vec<Transport>>>,
    me: Option<Transport>,
}

impl Protocol for Relay {
    fn connection_made(&mut self, transport: &Transport) {
        self.me = Some(transport.clone());
        self.members.borrow_mut().push(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        let me = self.me.as_ref().unwrap();
        let members = self.members.borrow().clone();
        for member in members.iter().filter(|m| !m.same_connection(me)) {
            member.write(data);
        }
        if data == b"bye" {
            for member in &members {
                member.lose_connection();
            }
        }
    }
    fn connection_lost(&mut self, _: Failure) {
        let me = self.me.take().unwrap();
        self.members
            .borrow_mut()
            .retain(|m| !m.same_connection(&me));
    }
}

#[test]
fn a_callback_writes_to_and_closes_other_connections() {
    let reactor = Reactor::new().unwrap();
    let members = Rc::new(RefCell::new(Vec::new()));
    let m = members.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(Relay {
                    members: m.clone(),
                    me: None,
                })
            }),
        )
        .unwrap();
    let a = recorded_client(&reactor, port.address());
    let b = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        members.borrow().len() == 2 && a.1.borrow().is_some() && b.1.borrow().is_some()
    });
    a.1.borrow().as_ref().unwrap().write(b"hi");
    turn_until(&reactor, Duration::from_secs(10), || {
        b.0.borrow().received == b"hi"
    });
    b.1.borrow().as_ref().unwrap().write(b"bye");
    turn_until(&reactor, Duration::from_secs(10), || {
        a.0.borrow().lost.is_some() && b.0.borrow().lost.is_some()
    });
    assert!(members.borrow().is_empty());
    assert_eq!(a.0.borrow().received, b"bye");
}

#[test]
fn a_live_unix_socket_is_not_replaced_but_a_stale_one_is() {
    let reactor = Reactor::new().unwrap();
    let path = std::env::temp_dir().join(format!("torsion-stale-{}.sock", std::process::id()));
    let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let in_use = reactor.listen_unix(&path, factory_fn(|_| Some(Echo::default())));
    assert_eq!(in_use.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);
    drop(stale);
    let port = reactor
        .listen_unix(&path, factory_fn(|_| Some(Echo::default())))
        .unwrap();
    drop(port.stop_listening());
}

#[test]
fn tcp6_listens_on_port_zero_and_reports_the_port_chosen() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "[::1]:0".parse().unwrap(),
            factory_fn(|_| Some(Echo::default())),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    assert!(address.is_ipv6() && address.port() != 0);
    let (events, transport) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        transport.borrow().is_some()
    });
    let t = transport.borrow().clone().unwrap();
    assert_eq!(t.peer(), Address::Tcp(address));
    t.set_nodelay(true).unwrap();
    t.set_keepalive(true).unwrap();
    t.write(b"six");
    turn_until(&reactor, Duration::from_secs(10), || {
        events.borrow().received == b"six"
    });
}

#[test]
fn a_factory_returning_none_refuses_the_connection() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp("127.0.0.1:0".parse().unwrap(), factory_fn(|_| None::<Echo>))
        .unwrap();
    let (events, transport) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        events.borrow().lost.is_some()
    });
    assert!(transport.borrow().is_some());
}

#[test]
fn adopted_socket_pair_talks() {
    let reactor = Reactor::new().unwrap();
    let (mine, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let transport = reactor.adopt_unix_stream(mine, Echo::default()).unwrap();
    assert_eq!(transport.peer(), Address::Unix(None));
    theirs.write_all(b"adopted").unwrap();
    let mut reply = [0u8; 7];
    theirs.set_nonblocking(true).unwrap();
    let mut got = 0;
    turn_until(&reactor, Duration::from_secs(10), || {
        if let Ok(n) = theirs.read(&mut reply[got..]) {
            got += n;
        }
        got == 7
    });
    assert_eq!(&reply, b"adopted");
}

#[test]
fn connect_timeout_fails_with_timed_out() {
    let reactor = Reactor::new().unwrap();
    // A listener with a full backlog never completes the handshake...
    // more portable: a non-routable address. 10.255.255.1 has no route in
    // a sandbox, so use a listener that is never accepted instead.
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let address = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the backlog so further handshakes stall.
    let fillers: Vec<_> = (0..4)
        .filter_map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
            s.set_nonblocking(true).ok()?;
            let _ = s.connect(&address.into());
            Some(s)
        })
        .collect();
    let options = ConnectOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    drop(
        reactor
            .connect_protocol(Address::Tcp(address), Echo::default(), options)
            .then(move |_| {
                *o.borrow_mut() = Some(Ok(()));
                Ok::<_, Failure>(())
            })
            .or_else({
                let o = outcome.clone();
                move |f| {
                    *o.borrow_mut() = Some(Err(f.is::<crate::error::TimedOut>()));
                    Ok::<_, Failure>(())
                }
            }),
    );
    turn_until(&reactor, Duration::from_secs(10), || {
        outcome.borrow().is_some()
    });
    drop(fillers);
    // Loopback may complete the handshake despite the backlog; then the
    // connect succeeds, which is not what this test is about.
    if let Some(Err(timed_out)) = *outcome.borrow() {
        assert!(timed_out);
    }
}

#[test]
fn cancelling_a_connect_abandons_it() {
    let reactor = Reactor::new().unwrap();
    let port = echo_port(&reactor);
    let connected =
        reactor.connect_protocol(port.address(), Echo::default(), ConnectOptions::default());
    connected.cancel();
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    drop(
        connected
            .then(|_| Ok::<_, Failure>(false))
            .or_else(|f| Ok::<_, Failure>(f.is::<crate::error::Cancelled>()))
            .map(move |c| *o.borrow_mut() = Some(c)),
    );
    assert_eq!(*outcome.borrow(), Some(true));
    turn_until(&reactor, Duration::from_secs(10), || {
        reactor.stats().sources == 1
    });
}

/// Echoes, but panics on "boom".
#[derive(Default)]
struct Fragile {
    transport: Option<Transport>,
}

impl Protocol for Fragile {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        assert!(data != b"boom", "the protocol blew up");
        self.transport.as_ref().unwrap().write(data);
    }
}

#[test]
fn a_panic_in_data_received_aborts_that_connection_only() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Fragile::default())),
        )
        .unwrap();
    let clients: Vec<_> = (0..101)
        .map(|_| recorded_client(&reactor, port.address()))
        .collect();
    turn_until(&reactor, Duration::from_secs(20), || {
        clients.iter().all(|(_, t)| t.borrow().is_some())
    });
    let (victim, others) = clients.split_first().unwrap();
    victim.1.borrow().as_ref().unwrap().write(b"boom");
    turn_until(&reactor, Duration::from_secs(10), || {
        victim.0.borrow().lost.is_some()
    });
    for round in 0..3u8 {
        for (index, (_, transport)) in others.iter().enumerate() {
            transport
                .borrow()
                .as_ref()
                .unwrap()
                .write(&[round, index as u8]);
        }
        turn_until(&reactor, Duration::from_secs(10), || {
            others
                .iter()
                .all(|(events, _)| events.borrow().received.len() == 2 * (round as usize + 1))
        });
    }
    assert!(
        others
            .iter()
            .all(|(events, _)| events.borrow().lost.is_none())
    );
    assert!(victim.0.borrow().received.is_empty());
}

#[test]
fn stopping_the_reactor_closes_every_connection_and_port() {
    let reactor = Reactor::new().unwrap();
    let port = echo_port(&reactor);
    let address = port.tcp_address().unwrap();
    let (events, transport) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        transport.borrow().is_some()
    });
    reactor.stop().unwrap();
    turn_until(&reactor, Duration::from_secs(10), || reactor.is_finished());
    assert!(
        events
            .borrow()
            .lost
            .as_ref()
            .unwrap()
            .is::<crate::error::ConnectionLost>()
    );
    assert_eq!(reactor.stats().sources, 0);
    // The port is closed: nothing accepts there any more.
    assert!(std::net::TcpStream::connect(address).is_err());
}
