//! A full peer, a panicking protocol, and stopping a port.

use super::*;

#[test]
fn a_full_peer_drops_the_datagram_instead_of_buffering_it() {
    let (mine, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let reactor = Reactor::new().unwrap();
    let transport = reactor.adopt_unix_datagram(mine, recorder().0).unwrap();
    assert!(transport.connected_address().is_some());
    let mut sent = 0;
    let error = loop {
        match transport.write(&[0u8; 1024]) {
            Ok(()) => sent += 1,
            Err(error) => break error,
        }
        assert!(sent < 1_000_000, "the peer's queue never filled");
    };
    assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    // Once the peer reads, writing works again: nothing was queued on our
    // side.
    theirs.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 2048];
    while theirs.recv(&mut buffer).is_ok() {
        sent -= 1;
    }
    assert_eq!(sent, 0, "every datagram that was accepted arrived");
    transport.write(b"again").unwrap();
    assert_eq!(theirs.recv(&mut buffer).unwrap(), 5);
}

/// Panics on "boom", records the rest.
struct Fragile {
    log: Rc<RefCell<Log>>,
}

impl DatagramProtocol for Fragile {
    fn datagram_received(&mut self, data: &[u8], from: Address) {
        if data == b"boom" {
            panic!("fragile protocol");
        }
        self.log.borrow_mut().received.push((data.to_vec(), from));
    }
}

#[test]
fn a_panic_in_datagram_received_drops_only_that_datagram() {
    let reactor = Reactor::new().unwrap();
    let log = Rc::new(RefCell::new(Log::default()));
    let port = reactor
        .listen_udp(loopback(), Fragile { log: log.clone() })
        .unwrap();
    let address = port.udp_address().unwrap();
    let sender = UdpSocket::bind(loopback()).unwrap();
    for data in [&b"before"[..], b"boom", b"after"] {
        sender.send_to(data, address).unwrap();
    }
    // A later datagram, in a later turn, still arrives too.
    let r = reactor.clone();
    let l = log.clone();
    reactor.call_later(Duration::from_millis(20), move || {
        sender.send_to(b"later", address).unwrap();
    });
    run_until(&reactor, LIMIT, move || l.borrow().received.len() == 3);
    assert!(r.is_finished());
    assert_eq!(
        log.borrow().payloads(),
        vec![b"before".to_vec(), b"after".to_vec(), b"later".to_vec()]
    );
}

#[test]
fn stop_listening_frees_the_port_then_stops_the_protocol() {
    let reactor = Reactor::new().unwrap();
    let (protocol, log) = recorder();
    let port = reactor.listen_udp(loopback(), protocol).unwrap();
    let address = port.udp_address().unwrap();
    let stopped = port.stop_listening();
    assert!(!port.is_open());
    assert_eq!(log.borrow().stopped, 0, "stop_protocol waits for the loop");
    let fired = Rc::new(RefCell::new(false));
    let f = fired.clone();
    let l = log.clone();
    drop(stopped.map(move |()| {
        assert_eq!(l.borrow().stopped, 1);
        *f.borrow_mut() = true;
    }));
    // The port is free at once.
    let (again, again_log) = recorder();
    let rebound = reactor.listen_udp(address, again).unwrap();
    assert_eq!(rebound.udp_address(), Some(address));
    UdpSocket::bind(loopback())
        .unwrap()
        .send_to(b"new owner", address)
        .unwrap();
    let (f, l) = (fired.clone(), again_log.clone());
    run_until(&reactor, LIMIT, move || {
        *f.borrow() && !l.borrow().received.is_empty()
    });
    assert!(*fired.borrow());
    assert_eq!(log.borrow().stopped, 1);
    assert_eq!(again_log.borrow().payloads(), vec![b"new owner".to_vec()]);
    // Stopping again is harmless and fires at once.
    let twice = Rc::new(RefCell::new(false));
    let t = twice.clone();
    drop(port.stop_listening().map(move |()| *t.borrow_mut() = true));
    assert!(*twice.borrow());
    assert_eq!(log.borrow().stopped, 1);
}

#[test]
fn stop_listening_from_inside_datagram_received() {
    /// Stops its own port on the first datagram.
    struct StopOnFirst {
        transport: Option<DatagramTransport>,
        log: Rc<RefCell<Log>>,
    }
    impl DatagramProtocol for StopOnFirst {
        fn start_protocol(&mut self, transport: &DatagramTransport) {
            self.transport = Some(transport.clone());
        }
        fn datagram_received(&mut self, data: &[u8], from: Address) {
            self.log.borrow_mut().received.push((data.to_vec(), from));
            drop(self.transport.as_ref().unwrap().stop_listening());
        }
        fn stop_protocol(&mut self) {
            self.log.borrow_mut().stopped += 1;
            self.transport = None;
        }
    }
    let reactor = Reactor::new().unwrap();
    let log = Rc::new(RefCell::new(Log::default()));
    let port = reactor
        .listen_udp(
            loopback(),
            StopOnFirst {
                transport: None,
                log: log.clone(),
            },
        )
        .unwrap();
    let sender = UdpSocket::bind(loopback()).unwrap();
    for data in [&b"first"[..], b"second"] {
        sender.send_to(data, port.udp_address().unwrap()).unwrap();
    }
    let l = log.clone();
    run_until(&reactor, LIMIT, move || l.borrow().stopped == 1);
    assert_eq!(log.borrow().payloads(), vec![b"first".to_vec()]);
    assert_eq!(log.borrow().stopped, 1);
    assert!(!port.is_open());
}

#[test]
fn stop_listening_while_the_reactor_finishes_still_stops_the_protocol() {
    let reactor = Reactor::new().unwrap();
    let (protocol, log) = recorder();
    let port = reactor.listen_udp(loopback(), protocol).unwrap();
    let fired = Rc::new(RefCell::new(false));
    let f = fired.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        drop(port.stop_listening().map(move |()| *f.borrow_mut() = true));
    });
    run_until(&reactor, LIMIT, || true);
    assert!(reactor.is_finished());
    assert_eq!(log.borrow().stopped, 1);
    assert!(*fired.borrow());
}
