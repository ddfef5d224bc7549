//! Connections over real loopback sockets.

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

#[test]
fn paused_reading_delivers_nothing_until_resumed() {
    let reactor = Reactor::new().unwrap();
    let port = echo_port(&reactor);
    let (events, transport) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        transport.borrow().is_some()
    });
    let t = transport.borrow().clone().unwrap();
    t.pause_reading();
    t.write(b"while paused");
    let until = std::time::Instant::now() + Duration::from_millis(100);
    turn_until(&reactor, Duration::from_secs(10), || {
        std::time::Instant::now() > until
    });
    assert!(events.borrow().received.is_empty());
    t.resume_reading();
    turn_until(&reactor, Duration::from_secs(10), || {
        events.borrow().received == b"while paused"
    });
}

/// A push producer writing 16 KiB chunks whenever it is not paused.
struct Pusher {
    transport: Transport,
    paused: std::cell::Cell<bool>,
    pauses: std::cell::Cell<usize>,
    resumes: std::cell::Cell<usize>,
    stopped: std::cell::Cell<bool>,
}

impl PushProducer for Pusher {
    fn pause_producing(&self) {
        self.paused.set(true);
        self.pauses.set(self.pauses.get() + 1);
    }
    fn resume_producing(&self) {
        self.paused.set(false);
        self.resumes.set(self.resumes.get() + 1);
    }
    fn stop_producing(&self) {
        self.stopped.set(true);
    }
}

#[test]
fn a_push_producer_is_paused_above_the_high_water_mark_and_resumed_below_the_low() {
    let reactor = Reactor::new().unwrap();
    // A server that reads nothing until told to.
    let server = Rc::new(RefCell::new(None::<Transport>));
    let slot = server.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                let slot = slot.clone();
                Some(Recorder {
                    events: Rc::default(),
                    on_made: Some(Box::new(move |t: &Transport| {
                        t.pause_reading();
                        *slot.borrow_mut() = Some(t.clone());
                    })),
                })
            }),
        )
        .unwrap();
    let (_, transport) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        transport.borrow().is_some() && server.borrow().is_some()
    });
    let t = transport.borrow().clone().unwrap();
    let pusher = Rc::new(Pusher {
        transport: t.clone(),
        paused: Default::default(),
        pauses: Default::default(),
        resumes: Default::default(),
        stopped: Default::default(),
    });
    t.register_producer(Producer::Push(pusher.clone())).unwrap();
    assert_eq!(
        t.register_producer(Producer::Push(pusher.clone())),
        Err(ProducerError::AlreadyRegistered)
    );
    let chunk = vec![0u8; 16 * 1024];
    let mut written = 0;
    while !pusher.paused.get() {
        pusher.transport.write(&chunk);
        written += chunk.len();
        assert!(written < 64 << 20, "never paused");
    }
    assert!(t.buffered() > HIGH_WATER_MARK);
    server.borrow().as_ref().unwrap().resume_reading();
    turn_until(&reactor, Duration::from_secs(10), || {
        pusher.resumes.get() == 1
    });
    assert!(t.buffered() <= LOW_WATER_MARK);
    t.abort_connection();
    turn_until(&reactor, Duration::from_secs(10), || pusher.stopped.get());
}

/// A pull producer writing `left` chunks, one per request.
struct Puller {
    transport: Transport,
    left: std::cell::Cell<usize>,
}

impl PullProducer for Puller {
    fn resume_producing(&self) {
        let left = self.left.get();
        if left == 0 {
            self.transport.unregister_producer();
            self.transport.lose_connection();
            return;
        }
        self.left.set(left - 1);
        self.transport.write(&[b'x'; 100_000]);
    }
    fn stop_producing(&self) {}
}

#[test]
fn a_pull_producer_is_asked_for_a_chunk_each_time_the_buffer_empties() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| {
                Some(Recorder {
                    events: Rc::default(),
                    on_made: Some(Box::new(|t: &Transport| {
                        let puller = Rc::new(Puller {
                            transport: t.clone(),
                            left: std::cell::Cell::new(30),
                        });
                        t.register_producer(Producer::Pull(puller)).unwrap();
                    })),
                })
            }),
        )
        .unwrap();
    let (events, _) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(20), || {
        events.borrow().lost.is_some()
    });
    assert_eq!(events.borrow().received.len(), 30 * 100_000);
    assert!(
        events
            .borrow()
            .lost
            .as_ref()
            .unwrap()
            .is::<ConnectionDone>()
    );
}

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
