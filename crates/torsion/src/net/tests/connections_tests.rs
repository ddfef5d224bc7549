//! A connection's life and end: round trips, refusals, flushing, aborts
//! and half-closes.

use super::*;

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

#[test]
fn lose_connection_flushes_a_large_buffer_before_closing() {
    let reactor = Reactor::new().unwrap();
    let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = payload.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(Recorder {
                    events: Rc::default(),
                    on_made: Some(Box::new({
                        let payload = payload.clone();
                        move |t: &Transport| {
                            t.write(&payload);
                            assert!(t.buffered() > 0, "4 MB should not fit the socket at once");
                            t.lose_connection();
                            t.write(b"dropped: written after lose_connection");
                        }
                    })),
                })
            }),
        )
        .unwrap();
    let (events, _) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(20), || {
        events.borrow().lost.is_some()
    });
    let events = events.borrow();
    assert_eq!(events.received.len(), expected.len());
    assert!(events.received == expected);
    assert!(events.lost.as_ref().unwrap().is::<ConnectionDone>());
}

#[test]
fn abort_connection_closes_even_when_the_peer_does_not_read() {
    let reactor = Reactor::new().unwrap();
    let server_lost = Rc::new(RefCell::new(None::<Failure>));
    let lost = server_lost.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                let lost = lost.clone();
                Some(LostRecorder {
                    lost,
                    on_made: Some(Box::new(|t: &Transport| {
                        t.write(&vec![7u8; 8 << 20]);
                        t.lose_connection();
                        let t = t.clone();
                        // lose_connection cannot finish: the peer never reads.
                        t.clone().abort_connection();
                    })),
                })
            }),
        )
        .unwrap();
    let peer = std::net::TcpStream::connect(port.tcp_address().unwrap()).unwrap();
    turn_until(&reactor, Duration::from_secs(10), || {
        server_lost.borrow().is_some()
    });
    assert!(
        server_lost
            .borrow()
            .as_ref()
            .unwrap()
            .is::<crate::error::ConnectionAborted>()
    );
    drop(peer);
}

struct LostRecorder {
    lost: Rc<RefCell<Option<Failure>>>,
    on_made: Option<OnMade>,
}

impl Protocol for LostRecorder {
    fn connection_made(&mut self, transport: &Transport) {
        if let Some(f) = self.on_made.take() {
            f(transport);
        }
    }
    fn data_received(&mut self, _: &[u8]) {}
    fn connection_lost(&mut self, reason: Failure) {
        *self.lost.borrow_mut() = Some(reason);
    }
}

/// Half-closing echo: answers after the peer's end of file, then closes.
#[derive(Default)]
struct Summer {
    transport: Option<Transport>,
    total: usize,
}

impl Protocol for Summer {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.total += data.len();
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        let transport = self.transport.as_ref().unwrap();
        transport.write(format!("{}", self.total).as_bytes());
        transport.lose_write_connection();
        HalfClose::KeepWriting
    }
}

#[test]
fn a_half_closing_protocol_answers_after_the_peers_end_of_file() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Summer::default())),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(&[1u8; 12345]).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    });
    turn_until(&reactor, Duration::from_secs(10), || client.is_finished());
    assert_eq!(client.join().unwrap(), "12345");
}

#[test]
fn without_half_close_end_of_file_closes_the_connection_cleanly() {
    let reactor = Reactor::new().unwrap();
    let server_lost = Rc::new(RefCell::new(None::<Failure>));
    let lost = server_lost.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(LostRecorder {
                    lost: lost.clone(),
                    on_made: None,
                })
            }),
        )
        .unwrap();
    let stream = std::net::TcpStream::connect(port.tcp_address().unwrap()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    turn_until(&reactor, Duration::from_secs(10), || {
        server_lost.borrow().is_some()
    });
    assert!(
        server_lost
            .borrow()
            .as_ref()
            .unwrap()
            .is::<ConnectionDone>()
    );
}
