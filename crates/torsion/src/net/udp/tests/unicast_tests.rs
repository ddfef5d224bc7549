//! Unicast over loopback: echoes, IPv6, adopted sockets, truncation,
//! refusals and misuse.

use super::*;

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
