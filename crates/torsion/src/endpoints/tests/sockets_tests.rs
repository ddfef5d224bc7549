//! Every endpoint kind over real loopback sockets: TCP, TCP over IPv6,
//! UNIX, TLS, name resolution, refusals, timeouts and cancelling.

use super::*;

#[test]
fn tcp_server_and_client_on_loopback() {
    let reactor = Reactor::new().unwrap();
    let port = listen_echo(&reactor, "tcp:0:interface=127.0.0.1:backlog=10");
    let address = port.tcp_address().unwrap();
    assert_eq!(address.ip().to_string(), "127.0.0.1");
    let (events, connected) = echo_through(
        &reactor,
        &format!("tcp:host=127.0.0.1:port={}:timeout=5", address.port()),
    );
    assert!(matches!(&*connected.borrow(), Some(Ok(_))));
    assert_eq!(events.borrow().made, 1);
    assert_eq!(events.borrow().received, b"ping");
}

#[test]
fn positional_tcp_client_with_a_bind_address() {
    let reactor = Reactor::new().unwrap();
    let port = listen_echo(&reactor, "tcp:0:interface=127.0.0.1");
    let (events, connected) = echo_through(
        &reactor,
        &format!(
            "tcp:127.0.0.1:{}:bindAddress=127.0.0.1",
            port.tcp_address().unwrap().port()
        ),
    );
    assert!(matches!(&*connected.borrow(), Some(Ok(_))));
    let events = events.borrow();
    assert_eq!(events.received, b"ping");
    match &events.host {
        Some(crate::net::Address::Tcp(local)) => {
            assert_eq!(local.ip().to_string(), "127.0.0.1")
        }
        other => panic!("unexpected local address {other:?}"),
    }
}

#[test]
fn tcp6_server_and_client_on_ipv6_loopback() {
    // The second client spells the address as a bracketed literal.
    for client in [r"tcp:host=\:\:1:port=", r"tcp:[\:\:1]:"] {
        let reactor = Reactor::new().unwrap();
        let port = listen_echo(&reactor, r"tcp6:0:interface=\:\:1");
        let address = port.tcp_address().unwrap();
        assert!(address.is_ipv6());
        let (events, _) = echo_through(&reactor, &format!("{client}{}", address.port()));
        assert_eq!(events.borrow().received, b"ping");
    }
}

#[test]
fn unix_server_with_mode_and_client() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("unix");
    let path = dir.join("echo.sock");
    let quoted = escaped(&path);
    for client in [
        format!("unix:{quoted}"),
        format!("unix:path={quoted}:timeout=2"),
    ] {
        let reactor = Reactor::new().unwrap();
        let port = listen_echo(&reactor, &format!("unix:{quoted}:mode=600:backlog=5"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (events, _) = echo_through(&reactor, &client);
        assert_eq!(events.borrow().received, b"ping");
        drop(port);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tls_server_and_client_verify_the_name() {
    let dir = temp_dir("tls");
    let (cert, key) = certificate(&dir, "server");
    let reactor = Reactor::new().unwrap();
    let port = listen_echo(
        &reactor,
        &format!(
            "tls:0:privateKey={}:certKey={}:interface=127.0.0.1",
            escaped(&key),
            escaped(&cert)
        ),
    );
    let (events, connected) = echo_through(
        &reactor,
        &format!(
            "tls:host=localhost:port={}:caCerts={}:alpn=h2,http/1.1:timeout=5",
            port.tcp_address().unwrap().port(),
            escaped(&cert)
        ),
    );
    assert_eq!(events.borrow().received, b"ping");
    assert!(matches!(&*connected.borrow(), Some(Ok(_))));
    let info = events.borrow().tls.clone().expect("the handshake is done");
    assert!(info.version.starts_with("TLS"), "{info:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_tls_endpoint_offering_alpn_agrees_on_its_own_first_choice_the_client_offers() {
    let dir = temp_dir("alpn");
    let (cert, key) = certificate(&dir, "server");
    let reactor = Reactor::new().unwrap();
    let endpoint = server_from_string(
        &reactor,
        &format!(
            "tls:0:privateKey={}:certKey={}:interface=127.0.0.1",
            escaped(&key),
            escaped(&cert)
        ),
    )
    .unwrap()
    .offering_alpn(&[b"h2", b"http/1.1"]);
    let slot = record(endpoint.listen(factory_fn(|_| Some(Echo::default()))));
    let port = slot.borrow_mut().take().unwrap().unwrap();
    let (events, _) = echo_through(
        &reactor,
        &format!(
            "tls:host=localhost:port={}:caCerts={}:alpn=http/1.1,h2:timeout=5",
            port.tcp_address().unwrap().port(),
            escaped(&cert)
        ),
    );
    assert_eq!(events.borrow().received, b"ping");
    let info = events.borrow().tls.clone().expect("the handshake is done");
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"h2"[..]));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ssl_alias_with_certificate_and_key_in_one_file() {
    let dir = temp_dir("ssl");
    let (cert, key) = certificate(&dir, "server");
    let both = dir.join("both.pem");
    let mut pem = std::fs::read_to_string(&cert).unwrap();
    pem.push_str(&std::fs::read_to_string(&key).unwrap());
    std::fs::write(&both, pem).unwrap();
    let reactor = Reactor::new().unwrap();
    let port = listen_echo(
        &reactor,
        &format!("SSL:0:privateKey={}:interface=127.0.0.1", escaped(&both)),
    );
    let (events, _) = echo_through(
        &reactor,
        &format!(
            "ssl:localhost:{}:caCerts={}",
            port.tcp_address().unwrap().port(),
            escaped(&cert)
        ),
    );
    assert_eq!(events.borrow().received, b"ping");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tls_client_rejects_a_certificate_not_in_ca_certs() {
    let dir = temp_dir("tls-reject");
    let (cert, key) = certificate(&dir, "server");
    let (other, _) = certificate(&dir, "other");
    let reactor = Reactor::new().unwrap();
    let port = listen_echo(
        &reactor,
        &format!(
            "tls:0:privateKey={}:certKey={}:interface=127.0.0.1",
            escaped(&key),
            escaped(&cert)
        ),
    );
    let (events, _) = echo_through(
        &reactor,
        &format!(
            "tls:127.0.0.1:{}:caCerts={}",
            port.tcp_address().unwrap().port(),
            escaped(&other)
        ),
    );
    let events = events.borrow();
    assert!(
        events.received.is_empty(),
        "no plaintext from an unverified server"
    );
    let lost = events.lost.as_ref().expect("the connection is dropped");
    let message = format!("{lost} {:?}", lost.error());
    assert!(
        message.to_lowercase().contains("certificate"),
        "the failure should say why: {message}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn localhost_is_resolved_off_the_reactor_thread() {
    let reactor = Reactor::new().unwrap();
    let port = listen_echo(&reactor, "tcp:0:interface=127.0.0.1");
    // localhost may resolve to ::1 first: that address is refused and the
    // next one is tried.
    let (events, connected) = echo_through(
        &reactor,
        &format!("tcp:localhost:{}", port.tcp_address().unwrap().port()),
    );
    assert!(matches!(&*connected.borrow(), Some(Ok(_))));
    assert_eq!(events.borrow().received, b"ping");
}

#[test]
fn a_name_that_does_not_resolve_fails_naming_the_host() {
    let reactor = Reactor::new().unwrap();
    let (events, connected) = echo_through(&reactor, "tcp:no-such-host.invalid:80");
    let failure = connected.borrow_mut().take().unwrap().unwrap_err();
    let lookup = failure
        .downcast_ref::<DnsLookupError>()
        .expect("a DnsLookupError");
    assert_eq!(lookup.host, "no-such-host.invalid");
    assert!(failure.to_string().contains("no-such-host.invalid"));
    assert_eq!(events.borrow().made, 0);
}

#[test]
fn a_refused_connection_fails_with_connection_refused() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = unused.local_addr().unwrap();
    drop(unused);
    let reactor = Reactor::new().unwrap();
    let (_, connected) = echo_through(&reactor, &format!("tcp:127.0.0.1:{}", address.port()));
    let failure = connected.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<ConnectionRefused>(), "{failure}");
}

/// A port whose accept queue is full: connecting to it hangs.
fn unanswered_port() -> (socket2::Socket, Vec<std::net::TcpStream>, u16) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let address = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(stream) =
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(100))
        {
            fillers.push(stream);
        }
    }
    (socket, fillers, address.port())
}

#[test]
fn connect_times_out() {
    let (_listener, _fillers, port) = unanswered_port();
    let reactor = Reactor::new().unwrap();
    let (events, connected) = echo_through(&reactor, &format!("tcp:127.0.0.1:{port}:timeout=0.2"));
    let failure = connected.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<TimedOut>(), "{failure}");
    assert_eq!(events.borrow().made, 0);
}

#[test]
fn cancelling_abandons_the_attempt() {
    let (_listener, _fillers, port) = unanswered_port();
    let reactor = Reactor::new().unwrap();
    let client = client_from_string(&reactor, &format!("tcp:127.0.0.1:{port}:timeout=30")).unwrap();
    let (protocol, events) = Recorder::new(b"ping");
    let outcome: Slot<Transport> = Rc::new(RefCell::new(None));
    let into = outcome.clone();
    let end: Deferred<()> = client.connect(protocol).both(move |result| {
        *into.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    });
    reactor.call_later(Duration::from_millis(50), move || end.cancel());
    let o = outcome.clone();
    run_until(&reactor, Duration::from_secs(10), move || {
        o.borrow().is_some()
    });
    let failure = outcome.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<Cancelled>(), "{failure}");
    assert_eq!(events.borrow().made, 0);
}

#[test]
fn cancelling_during_name_resolution() {
    let reactor = Reactor::new().unwrap();
    let client = client_from_string(&reactor, "tcp:localhost:9").unwrap();
    let (protocol, events) = Recorder::new(b"ping");
    let deferred = client.connect(protocol);
    deferred.cancel();
    let outcome = record(deferred);
    // The lookup's answer arrives later and is ignored.
    run_until(&reactor, Duration::from_millis(300), || false);
    let failure = outcome.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<Cancelled>(), "{failure}");
    assert_eq!(events.borrow().made, 0);
}

#[test]
fn listening_on_a_port_in_use_fails_the_deferred() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let reactor = Reactor::new().unwrap();
    let endpoint =
        server_from_string(&reactor, &format!("tcp:{port}:interface=127.0.0.1")).unwrap();
    let outcome = record(endpoint.listen(factory_fn(|_| Some(Echo::default()))));
    let failure = outcome.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.to_string().contains(&port.to_string()), "{failure}");
}
