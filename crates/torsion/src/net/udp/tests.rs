//! Datagram sockets over real loopback and UNIX sockets.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::Reactor;
use crate::net::{
    Address, DatagramProtocol, DatagramTransport, MulticastInterface, UdpOptions,
    UnixDatagramOptions,
};
use crate::reactor::{Phase, SystemEvent};

const LIMIT: Duration = Duration::from_secs(10);

/// What a [`Recorder`] saw.
#[derive(Default)]
struct Log {
    started: usize,
    received: Vec<(Vec<u8>, Address)>,
    refused: usize,
    stopped: usize,
}

impl Log {
    fn payloads(&self) -> Vec<Vec<u8>> {
        self.received.iter().map(|(data, _)| data.clone()).collect()
    }
}

type OnStart = Box<dyn FnOnce(&DatagramTransport)>;

/// Records every callback; optionally acts when started.
struct Recorder {
    log: Rc<RefCell<Log>>,
    on_start: Option<OnStart>,
}

fn recorder() -> (Recorder, Rc<RefCell<Log>>) {
    let log = Rc::new(RefCell::new(Log::default()));
    (
        Recorder {
            log: log.clone(),
            on_start: None,
        },
        log,
    )
}

impl DatagramProtocol for Recorder {
    fn start_protocol(&mut self, transport: &DatagramTransport) {
        self.log.borrow_mut().started += 1;
        if let Some(f) = self.on_start.take() {
            f(transport);
        }
    }
    fn datagram_received(&mut self, data: &[u8], from: Address) {
        self.log.borrow_mut().received.push((data.to_vec(), from));
    }
    fn connection_refused(&mut self) {
        self.log.borrow_mut().refused += 1;
    }
    fn stop_protocol(&mut self) {
        self.log.borrow_mut().stopped += 1;
    }
}

/// Sends every datagram back to its sender.
#[derive(Default)]
struct Echo {
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for Echo {
    fn start_protocol(&mut self, transport: &DatagramTransport) {
        self.transport = Some(transport.clone());
    }
    fn datagram_received(&mut self, data: &[u8], from: Address) {
        self.transport
            .as_ref()
            .unwrap()
            .write_to(data, from)
            .unwrap();
    }
}

/// Runs the reactor until `done` holds or `limit` passes, checking every
/// couple of milliseconds.
fn run_until(reactor: &Reactor, limit: Duration, done: impl Fn() -> bool + 'static) {
    fn check(reactor: Reactor, deadline: Instant, done: Rc<dyn Fn() -> bool>) {
        if done() || Instant::now() >= deadline {
            let _ = reactor.stop();
            return;
        }
        let again = reactor.clone();
        reactor.call_later(Duration::from_millis(2), move || {
            check(again, deadline, done)
        });
    }
    let deadline = Instant::now() + limit;
    let r = reactor.clone();
    let done: Rc<dyn Fn() -> bool> = Rc::new(done);
    reactor.call_later(Duration::ZERO, move || check(r, deadline, done));
    reactor.run().unwrap();
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A UDP port nobody listens on.
fn closed_port() -> SocketAddr {
    let socket = UdpSocket::bind(loopback()).unwrap();
    let address = socket.local_addr().unwrap();
    drop(socket);
    address
}

/// A fresh directory for socket files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("torsion-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn echo_between_two_torsion_sockets() {
    let reactor = Reactor::new().unwrap();
    let server = reactor.listen_udp(loopback(), Echo::default()).unwrap();
    let server_address = server.udp_address().unwrap();
    let (mut client, log) = recorder();
    client.on_start = Some(Box::new(move |t: &DatagramTransport| {
        t.write_to(b"one", server_address).unwrap();
        t.write_to(b"two", server_address).unwrap();
    }));
    let client = reactor.listen_udp(loopback(), client).unwrap();
    let l = log.clone();
    run_until(&reactor, LIMIT, move || l.borrow().received.len() == 2);
    let log = log.borrow();
    assert_eq!(log.started, 1);
    assert_eq!(log.payloads(), vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(log.received[0].1, Address::Tcp(server_address));
    assert_eq!(log.stopped, 1, "the reactor's shutdown stops the protocol");
    assert!(!client.is_open());
}

#[test]
fn torsion_sender_and_a_std_echo_thread() {
    let peer = UdpSocket::bind(loopback()).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let peer_address = peer.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let mut buffer = [0u8; 64];
        let (n, from) = peer.recv_from(&mut buffer).unwrap();
        peer.send_to(&buffer[..n], from).unwrap();
    });
    let reactor = Reactor::new().unwrap();
    let (mut client, log) = recorder();
    client.on_start = Some(Box::new(move |t: &DatagramTransport| {
        t.write_to(b"ping", peer_address).unwrap();
    }));
    let _client = reactor.listen_udp(loopback(), client).unwrap();
    let l = log.clone();
    run_until(&reactor, LIMIT, move || !l.borrow().received.is_empty());
    echo.join().unwrap();
    let log = log.borrow();
    assert_eq!(
        log.received,
        vec![(b"ping".to_vec(), Address::Tcp(peer_address))]
    );
}

#[test]
fn echo_over_ipv6_loopback() {
    let any6: SocketAddr = "[::1]:0".parse().unwrap();
    if let Err(error) = UdpSocket::bind(any6) {
        eprintln!("skipped: cannot bind a UDP socket on ::1 here ({error})");
        return;
    }
    let reactor = Reactor::new().unwrap();
    let server = reactor.listen_udp(any6, Echo::default()).unwrap();
    let server_address = server.udp_address().unwrap();
    assert!(server_address.is_ipv6());
    let (mut client, log) = recorder();
    client.on_start = Some(Box::new(move |t: &DatagramTransport| {
        t.write_to(b"six", server_address).unwrap();
    }));
    let _client = reactor.listen_udp(any6, client).unwrap();
    let l = log.clone();
    run_until(&reactor, LIMIT, move || !l.borrow().received.is_empty());
    assert_eq!(
        log.borrow().received,
        vec![(b"six".to_vec(), Address::Tcp(server_address))]
    );
}

#[test]
fn adopted_socket_serves_the_protocol() {
    let socket = UdpSocket::bind(loopback()).unwrap();
    let address = socket.local_addr().unwrap();
    let reactor = Reactor::new().unwrap();
    let adopted = reactor.adopt_udp_socket(socket, Echo::default()).unwrap();
    assert_eq!(adopted.udp_address(), Some(address));
    assert_eq!(adopted.connected_address(), None);
    let (mut client, log) = recorder();
    client.on_start = Some(Box::new(move |t: &DatagramTransport| {
        t.write_to(b"adopted", address).unwrap();
    }));
    let _client = reactor.listen_udp(loopback(), client).unwrap();
    let l = log.clone();
    run_until(&reactor, LIMIT, move || !l.borrow().received.is_empty());
    assert_eq!(log.borrow().payloads(), vec![b"adopted".to_vec()]);
}

#[test]
fn long_datagrams_are_truncated_to_the_max_packet_size() {
    let reactor = Reactor::new().unwrap();
    let (protocol, log) = recorder();
    let options = UdpOptions {
        max_packet_size: 4,
        ..UdpOptions::default()
    };
    let port = reactor
        .listen_udp_with(loopback(), protocol, options)
        .unwrap();
    assert_eq!(port.max_packet_size(), 4);
    let sender = UdpSocket::bind(loopback()).unwrap();
    sender
        .send_to(b"0123456789", port.udp_address().unwrap())
        .unwrap();
    let l = log.clone();
    run_until(&reactor, LIMIT, move || !l.borrow().received.is_empty());
    assert_eq!(log.borrow().payloads(), vec![b"0123".to_vec()]);
}

#[test]
fn connected_udp_hears_connection_refused() {
    let reactor = Reactor::new().unwrap();
    let target = closed_port();
    let (mut protocol, log) = recorder();
    protocol.on_start = Some(Box::new(move |t: &DatagramTransport| {
        t.connect(target).unwrap();
        t.write(b"anyone?").unwrap();
    }));
    let port = reactor.listen_udp(loopback(), protocol).unwrap();
    assert_eq!(port.connected_address(), Some(Address::Tcp(target)));
    // The ICMP refusal shows up as a socket error on the next read or
    // write; write again a little later in case it is the write.
    let again = port.clone();
    reactor.call_later(Duration::from_millis(50), move || {
        let _ = again.write(b"still there?");
    });
    let l = log.clone();
    run_until(&reactor, LIMIT, move || l.borrow().refused > 0);
    assert!(log.borrow().refused >= 1);
    assert!(log.borrow().received.is_empty());
}

#[test]
fn misuse_is_reported_not_ignored() {
    let reactor = Reactor::new().unwrap();
    let (protocol, _log) = recorder();
    let port = reactor.listen_udp(loopback(), protocol).unwrap();
    let target = closed_port();
    let error = port.write(b"x").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotConnected);
    port.connect(target).unwrap();
    let other: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let error = port.write_to(b"x", other).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    let error = port.connect(other).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
    drop(port.stop_listening());
    let error = port.write_to(b"x", target).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotConnected);
    assert_eq!(port.ttl().unwrap_err().kind(), io::ErrorKind::NotConnected);
}

/// Whether a multicast datagram sent on loopback comes back to a member
/// joined on 127.0.0.1, tried with plain sockets; why not if it does not.
fn loopback_multicast_works(group: Ipv4Addr) -> Result<(), String> {
    let receiver = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
    receiver
        .join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
        .map_err(|e| format!("join_multicast_v4({group}, 127.0.0.1): {e}"))?;
    receiver
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let port = receiver.local_addr().map_err(|e| e.to_string())?.port();
    let sender = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .map_err(|e| e.to_string())?;
    sender
        .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
        .map_err(|e| format!("set_multicast_if_v4(127.0.0.1): {e}"))?;
    sender
        .set_multicast_loop_v4(true)
        .map_err(|e| e.to_string())?;
    let to = SocketAddr::from((group, port));
    sender
        .send_to(b"probe", &to.into())
        .map_err(|e| format!("sending to {to}: {e}"))?;
    let mut buffer = [0u8; 16];
    receiver
        .recv_from(&mut buffer)
        .map(drop)
        .map_err(|e| format!("no multicast datagram came back on loopback: {e}"))
}

#[test]
fn multicast_reaches_two_sockets_on_one_port_until_one_leaves() {
    let group = Ipv4Addr::new(239, 255, 97, 13);
    if let Err(why) = loopback_multicast_works(group) {
        eprintln!("skipped: multicast over the loopback interface does not work here: {why}");
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (first, first_log) = recorder();
    let first = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), first, true)
        .unwrap();
    let port = first.udp_address().unwrap().port();
    let (second, second_log) = recorder();
    let second = reactor
        .listen_multicast(
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            second,
            true,
        )
        .unwrap();
    for member in [&first, &second] {
        member
            .join_group(group.into(), Ipv4Addr::LOCALHOST)
            .unwrap();
    }
    let (sender, _) = recorder();
    let sender = reactor.listen_udp(loopback(), sender).unwrap();
    sender.set_outgoing_interface(Ipv4Addr::LOCALHOST).unwrap();
    sender.set_loopback_mode(true).unwrap();
    assert!(sender.loopback_mode().unwrap());
    let to = SocketAddr::from((group, port));
    sender.write_to(b"to all", to).unwrap();

    // Once both have the first datagram, the second leaves and another is
    // sent; the first member's copy of it shows that it went out.
    let (l1, l2) = (first_log.clone(), second_log.clone());
    let left = Rc::new(RefCell::new(None::<Instant>));
    let left_at = left.clone();
    run_until(&reactor, LIMIT, move || {
        let (n1, n2) = (l1.borrow().received.len(), l2.borrow().received.len());
        match *left_at.borrow() {
            None if n1 == 1 && n2 == 1 => {}
            None => return false,
            Some(when) => return n1 == 2 && when.elapsed() > Duration::from_millis(100),
        }
        second
            .leave_group(group.into(), Ipv4Addr::LOCALHOST)
            .unwrap();
        sender.write_to(b"after leaving", to).unwrap();
        *left_at.borrow_mut() = Some(Instant::now());
        false
    });
    assert!(
        left.borrow().is_some(),
        "both members got the first datagram"
    );
    assert_eq!(
        first_log.borrow().payloads(),
        vec![b"to all".to_vec(), b"after leaving".to_vec()]
    );
    assert_eq!(second_log.borrow().payloads(), vec![b"to all".to_vec()]);
    let from = &second_log.borrow().received[0].1;
    assert!(matches!(from, Address::Tcp(a) if a.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST)));
}

#[test]
fn multicast_options_round_trip_through_socket2() {
    let reactor = Reactor::new().unwrap();
    let (protocol, _log) = recorder();
    let port = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), protocol, false)
        .unwrap();
    port.set_ttl(7).unwrap();
    assert_eq!(port.ttl().unwrap(), 7);
    let seen = port
        .source
        .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_ttl_v4())
        .unwrap();
    assert_eq!(seen, 7);
    port.set_loopback_mode(false).unwrap();
    let seen = port
        .source
        .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_loop_v4())
        .unwrap();
    assert!(!seen);
    port.set_outgoing_interface(Ipv4Addr::LOCALHOST).unwrap();
    let seen = port
        .source
        .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_if_v4())
        .unwrap();
    assert_eq!(seen, Ipv4Addr::LOCALHOST);
    let error = port
        .join_group("ff02::1".parse().unwrap(), Ipv4Addr::LOCALHOST)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(MulticastInterface::from(3u32), MulticastInterface::Index(3));

    // An IPv6 socket sets the hop limit instead.
    let any6: SocketAddr = "[::1]:0".parse().unwrap();
    match reactor.listen_udp(any6, recorder().0) {
        Ok(port6) => {
            port6.set_ttl(9).unwrap();
            let seen = port6
                .source
                .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_hops_v6())
                .unwrap();
            assert_eq!(seen, 9);
            assert_eq!(port6.ttl().unwrap(), 9);
        }
        Err(error) => eprintln!("IPv6 part skipped: cannot bind a UDP socket on ::1 ({error})"),
    }
}

#[test]
fn two_sockets_bind_one_port_only_with_listen_multiple() {
    let reactor = Reactor::new().unwrap();
    let first = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), recorder().0, true)
        .unwrap();
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, first.udp_address().unwrap().port()));
    let second = reactor.listen_multicast(address, recorder().0, true);
    assert!(second.is_ok());
    let single = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), recorder().0, false)
        .unwrap();
    let again = SocketAddr::from((Ipv4Addr::UNSPECIFIED, single.udp_address().unwrap().port()));
    let error = reactor
        .listen_multicast(again, recorder().0, false)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn unix_datagrams_both_ways() {
    let dir = temp_dir("unix-datagram");
    let server_path = dir.join("server.sock");
    let client_path = dir.join("client.sock");
    let reactor = Reactor::new().unwrap();
    let server = reactor
        .listen_unix_datagram(&server_path, Echo::default())
        .unwrap();
    assert_eq!(
        server.local_address(),
        Address::Unix(Some(server_path.clone()))
    );
    let (mut client, log) = recorder();
    client.on_start = Some(Box::new(|t: &DatagramTransport| t.write(b"ping").unwrap()));
    let client = reactor
        .connect_unix_datagram(&server_path, client, Some(&client_path))
        .unwrap();
    assert_eq!(
        client.connected_address(),
        Some(Address::Unix(Some(server_path.clone())))
    );
    let error = server.set_ttl(1).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::Unsupported);
    let l = log.clone();
    run_until(&reactor, LIMIT, move || !l.borrow().received.is_empty());
    assert_eq!(
        log.borrow().received,
        vec![(b"ping".to_vec(), Address::Unix(Some(server_path.clone())))]
    );
    assert!(
        !server_path.exists() && !client_path.exists(),
        "socket files are removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unix_datagram_listen_replaces_a_stale_file_and_refuses_a_live_one() {
    let dir = temp_dir("unix-datagram-stale");
    let path = dir.join("port.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
    assert!(path.exists());
    let reactor = Reactor::new().unwrap();
    let options = UnixDatagramOptions {
        mode: Some(0o600),
        ..UnixDatagramOptions::default()
    };
    let port = reactor
        .listen_unix_datagram_with(&path, recorder().0, options)
        .unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let error = reactor
        .listen_unix_datagram(&path, recorder().0)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    drop(port.stop_listening());
    assert!(!path.exists());
    let error = reactor
        .connect_unix_datagram(&path, recorder().0, None)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    let _ = std::fs::remove_dir_all(&dir);
}

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
