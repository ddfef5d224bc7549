//! The memory reactor records what endpoints asked for, without sockets.

use super::*;

struct Discard;

impl Protocol for Discard {
    fn data_received(&mut self, _: &[u8]) {}
}

#[test]
fn memory_reactor_records_listens() {
    let reactor = MemoryReactor::new();
    let tcp = server_from_string(&reactor, "tcp:8080").unwrap();
    let tcp6 = server_from_string(&reactor, r"tcp6:8443:interface=\:\:1:backlog=9").unwrap();
    let unix = server_from_string(&reactor, "unix:/run/app.sock:mode=660").unwrap();
    let port = record(tcp.listen(factory_fn(|_| Some(Discard))));
    drop(record(tcp6.listen(factory_fn(|_| Some(Discard)))));
    drop(record(unix.listen(factory_fn(|_| Some(Discard)))));
    let port = port.borrow_mut().take().unwrap().unwrap();
    assert!(port.is_listening());
    drop(port.stop_listening());
    assert!(!port.is_listening());

    let listens = reactor.tcp_listens();
    assert_eq!(listens.len(), 2);
    assert_eq!(listens[0].address, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(listens[0].options.backlog, 50);
    assert!(listens[0].options.tls.is_none());
    assert_eq!(listens[1].address, "[::1]:8443".parse().unwrap());
    assert_eq!(listens[1].options.backlog, 9);
    let built = listens[0]
        .factory
        .build_protocol(&crate::net::Address::Unknown);
    assert!(built.is_some());

    let unix = reactor.unix_listens();
    assert_eq!(unix.len(), 1);
    assert_eq!(unix[0].path, PathBuf::from("/run/app.sock"));
    assert_eq!(unix[0].options.mode, Some(0o660));
    assert_eq!(unix[0].options.backlog, 50);
}

#[test]
fn memory_reactor_listen_failure_fails_the_deferred() {
    let reactor = MemoryReactor::new();
    reactor.fail_next_listen(std::io::Error::new(std::io::ErrorKind::AddrInUse, "in use"));
    let endpoint = server_from_string(&reactor, "tcp:80").unwrap();
    let outcome = record(endpoint.listen(factory_fn(|_| Some(Discard))));
    assert!(outcome.borrow_mut().take().unwrap().is_err());
    assert!(reactor.tcp_listens().is_empty());
}

#[test]
fn memory_reactor_records_tls_listen_options() {
    let dir = temp_dir("memory-tls");
    let (cert, key) = certificate(&dir, "server");
    let reactor = MemoryReactor::new();
    let endpoint = server_from_string(
        &reactor,
        &format!(
            "tls:443:privateKey={}:certKey={}",
            escaped(&key),
            escaped(&cert)
        ),
    )
    .unwrap();
    assert!(endpoint.is_tls());
    drop(record(endpoint.listen(factory_fn(|_| Some(Discard)))));
    assert!(reactor.tcp_listens()[0].options.tls.is_some());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_reactor_records_connects_with_their_options() {
    let reactor = MemoryReactor::new();
    let client = client_from_string(
        &reactor,
        "tcp:host=10.0.0.1:port=25:timeout=2.5:bindAddress=10.0.0.2",
    )
    .unwrap();
    let pending = record(client.connect(Discard));
    let connects = reactor.connects();
    assert_eq!(connects.len(), 1);
    assert_eq!(
        connects[0].address,
        crate::net::Address::Tcp("10.0.0.1:25".parse().unwrap())
    );
    assert_eq!(
        connects[0].options.timeout,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(
        connects[0].options.bind,
        Some("10.0.0.2:0".parse().unwrap())
    );
    assert!(
        reactor.lookups().is_empty(),
        "IP literals are not looked up"
    );
    assert!(connects[0].take_protocol().is_some());
    assert!(pending.borrow().is_none());
    connects[0].fail(ConnectionRefused);
    let failure = pending.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<ConnectionRefused>());

    let unix = client_from_string(&reactor, "unix:/run/app.sock").unwrap();
    drop(unix.connect(Discard));
    assert_eq!(
        reactor.connects()[1].address,
        crate::net::Address::Unix(Some("/run/app.sock".into()))
    );
    assert_eq!(
        reactor.connects()[1].options.timeout,
        Some(crate::net::DEFAULT_CONNECT_TIMEOUT)
    );
}

#[test]
fn memory_reactor_tries_each_resolved_address_in_turn() {
    let reactor = MemoryReactor::new();
    reactor.add_host(
        "db.example",
        vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
    );
    let client = client_from_string(&reactor, "tcp:db.example:5432").unwrap();
    let (protocol, events) = Recorder::new(b"");
    let pending = record(client.connect(protocol));
    assert_eq!(reactor.lookups(), vec!["db.example".to_owned()]);
    assert_eq!(reactor.connects().len(), 1);
    reactor.connects()[0].fail(ConnectionRefused);
    let connects = reactor.connects();
    assert_eq!(connects.len(), 2);
    assert_eq!(
        connects[1].address,
        crate::net::Address::Tcp("10.0.0.2:5432".parse().unwrap())
    );
    assert!(pending.borrow().is_none());
    connects[1].fail(TimedOut(Duration::from_secs(30)));
    let failure = pending.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<TimedOut>(), "the last failure is reported");
    assert_eq!(events.borrow().made, 0);
}

#[test]
fn memory_reactor_unknown_host_fails_with_a_lookup_error() {
    let reactor = MemoryReactor::new();
    let client = client_from_string(&reactor, "tcp:nowhere.example:80").unwrap();
    let pending = record(client.connect(Discard));
    let failure = pending.borrow_mut().take().unwrap().unwrap_err();
    assert_eq!(
        failure.downcast_ref::<DnsLookupError>().unwrap().host,
        "nowhere.example"
    );
    assert!(reactor.connects().is_empty());
}

#[test]
fn memory_reactor_sees_a_cancelled_connect() {
    let reactor = MemoryReactor::new();
    let client = client_from_string(&reactor, "tcp:127.0.0.1:80").unwrap();
    let deferred = client.connect(Discard);
    deferred.cancel();
    let failure = record(deferred).borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<Cancelled>());
    assert!(reactor.connects()[0].is_cancelled());
}

#[test]
fn memory_reactor_records_tls_connects() {
    let dir = temp_dir("memory-tls-client");
    let (cert, _) = certificate(&dir, "ca");
    let reactor = MemoryReactor::new();
    let client = client_from_string(
        &reactor,
        &format!("tls:localhost:443:caCerts={}", escaped(&cert)),
    )
    .unwrap();
    drop(client.connect(Discard));
    let connects = reactor.connects();
    assert_eq!(
        connects[0].address,
        crate::net::Address::Tcp("127.0.0.1:443".parse().unwrap())
    );
    match &connects[0].options.tls {
        Some(crate::net::tls::TlsSetup::Client { server_name, .. }) => {
            assert_eq!(server_name.to_str(), "localhost");
        }
        other => panic!("expected a TLS client setup, got {other:?}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_tls_handshake_timeout_is_read_from_server_and_client_strings() {
    let dir = temp_dir("handshake-timeout");
    let (cert, key) = certificate(&dir, "server");
    let reactor = Reactor::new().unwrap();
    let server = |extra: &str| {
        let description = format!(
            "tls:0:privateKey={}:certKey={}{extra}",
            escaped(&key),
            escaped(&cert)
        );
        format!("{:?}", server_from_string(&reactor, &description).unwrap())
    };
    assert!(
        server("").contains("handshake_timeout: Some(30s)"),
        "{}",
        server("")
    );
    assert!(server(":handshakeTimeout=1.5").contains("handshake_timeout: Some(1.5s)"));
    assert!(server(":handshakeTimeout=0").contains("handshake_timeout: None"));
    let bad = server_error(&format!(
        "tls:0:privateKey={}:certKey={}:handshakeTimeout=soon",
        escaped(&key),
        escaped(&cert)
    ));
    assert!(bad.contains("bad handshakeTimeout \"soon\""), "{bad}");
    let client = |extra: &str| {
        let description = format!(
            "tls:host=localhost:port=1:caCerts={}{extra}",
            escaped(&cert)
        );
        client_from_string(&reactor, &description)
            .unwrap()
            .options()
            .tls_handshake_timeout
    };
    assert_eq!(client(""), Some(Duration::from_secs(30)));
    assert_eq!(client(":handshakeTimeout=2"), Some(Duration::from_secs(2)));
    assert_eq!(client(":handshakeTimeout=0"), None);
}
