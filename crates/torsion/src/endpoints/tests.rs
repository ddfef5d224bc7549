//! The grammar, and every endpoint kind over real loopback sockets.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::parse::{Field, parse};
use super::*;
use crate::error::{Cancelled, ConnectionRefused, DnsLookupError, TimedOut};
use crate::net::{ListeningPort, Protocol, Transport, factory_fn};
use crate::testing::MemoryReactor;
use crate::testing::net_support::Echo;
use crate::testing::outcome::{Slot, record};
use crate::{Deferred, Failure, Reactor};

// ---------------------------------------------------------------- helpers

/// What happened to a client connection.
#[derive(Default)]
struct Events {
    made: usize,
    received: Vec<u8>,
    lost: Option<Failure>,
    /// The local address, seen in `connection_made`.
    host: Option<crate::net::Address>,
    /// What the TLS handshake agreed on, seen with the first data.
    tls: Option<crate::net::tls::TlsInfo>,
}

/// Sends a greeting when connected and records everything.
struct Recorder {
    events: Rc<RefCell<Events>>,
    greeting: &'static [u8],
    transport: Option<Transport>,
}

impl Recorder {
    fn new(greeting: &'static [u8]) -> (Recorder, Rc<RefCell<Events>>) {
        let events = Rc::new(RefCell::new(Events::default()));
        (
            Recorder {
                events: events.clone(),
                greeting,
                transport: None,
            },
            events,
        )
    }
}

impl Protocol for Recorder {
    fn connection_made(&mut self, transport: &Transport) {
        let mut events = self.events.borrow_mut();
        events.made += 1;
        events.host = Some(transport.host());
        transport.write(self.greeting);
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        let mut events = self.events.borrow_mut();
        events.received.extend_from_slice(data);
        if let Some(transport) = &self.transport {
            events.tls = events.tls.take().or_else(|| transport.tls_info());
        }
    }
    fn connection_lost(&mut self, reason: Failure) {
        self.events.borrow_mut().lost = Some(reason);
    }
}

/// Runs the reactor until `done` says so or `limit` passes.
fn run_until(reactor: &Reactor, limit: Duration, done: impl Fn() -> bool + 'static) {
    let stopper = reactor.clone();
    reactor.call_later(limit, move || {
        let _ = stopper.stop();
    });
    let poller = reactor.clone();
    let check = Rc::new(RefCell::new(None::<Box<dyn Fn()>>));
    let again = check.clone();
    *check.borrow_mut() = Some(Box::new(move || {
        if done() {
            let _ = poller.stop();
        } else {
            let again = again.clone();
            poller.call_later(Duration::from_millis(5), move || {
                if let Some(f) = again.borrow().as_ref() {
                    f();
                }
            });
        }
    }));
    let first = check.clone();
    reactor.call_later(Duration::ZERO, move || {
        if let Some(f) = first.borrow().as_ref() {
            f();
        }
    });
    reactor.run().unwrap();
    // Break the self-reference.
    check.borrow_mut().take();
}

fn listen_echo(reactor: &Reactor, description: &str) -> ListeningPort {
    let endpoint = server_from_string(reactor, description).unwrap();
    let slot = record(endpoint.listen(factory_fn(|_| Some(Echo::default()))));
    slot.borrow_mut().take().unwrap().unwrap()
}

/// Connects a recorder through `description`, and runs until it has the
/// echo of its greeting (or gives up).
fn echo_through(reactor: &Reactor, description: &str) -> (Rc<RefCell<Events>>, Slot<Transport>) {
    let client = client_from_string(reactor, description).unwrap();
    let (protocol, events) = Recorder::new(b"ping");
    let connected = record(client.connect(protocol));
    let ev = events.clone();
    let c = connected.clone();
    run_until(reactor, Duration::from_secs(10), move || {
        ev.borrow().received.len() >= 4
            || ev.borrow().lost.is_some()
            || matches!(&*c.borrow(), Some(Err(_)))
    });
    (events, connected)
}

fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "torsion-endpoints-{}-{}-{}",
        name,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A self-signed certificate for "localhost", written as PEM files:
/// (certificate, key).
fn certificate(dir: &std::path::Path, name: &str) -> (PathBuf, PathBuf) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

fn escaped(path: &std::path::Path) -> String {
    quote_string_argument(path.to_str().unwrap())
}

/// The message of a parse error, which must mention `part`.
fn server_error(description: &str) -> String {
    server_from_string(&MemoryReactor::new(), description)
        .unwrap_err()
        .to_string()
}

fn client_error(description: &str) -> String {
    client_from_string(&MemoryReactor::new(), description)
        .unwrap_err()
        .to_string()
}

// ---------------------------------------------------------------- grammar

#[test]
fn fields_are_positional_or_keyword() {
    let parsed = parse("tcp:80:interface=127.0.0.1:backlog=5").unwrap();
    assert_eq!(parsed.kind, "tcp");
    assert_eq!(
        parsed.fields,
        vec![
            Field::Positional("80".into()),
            Field::Keyword("interface".into(), "127.0.0.1".into()),
            Field::Keyword("backlog".into(), "5".into()),
        ]
    );
}

#[test]
fn keywords_split_at_the_first_equals_sign() {
    let parsed = parse("x:key=a=b").unwrap();
    assert_eq!(
        parsed.fields,
        vec![Field::Keyword("key".into(), "a=b".into())]
    );
}

#[test]
fn backslash_escapes_colon_equals_and_backslash() {
    let parsed = parse(r"unix:/tmp/a\:b\=c\\d:k\=ey=v\:al").unwrap();
    assert_eq!(
        parsed.fields,
        vec![
            Field::Positional(r"/tmp/a:b=c\d".into()),
            Field::Keyword("k=ey".into(), "v:al".into()),
        ]
    );
}

#[test]
fn quoted_arguments_read_back_unchanged() {
    for original in [r"C:\path", "a=b:c", r"\\::==", "plain", ""] {
        let parsed = parse(&format!("x:{}", quote_string_argument(original))).unwrap();
        assert_eq!(parsed.fields, vec![Field::Positional(original.into())]);
    }
    assert_eq!(quote_string_argument(r"a:b\c"), r"a\:b\\c");
}

#[test]
fn type_names_are_case_insensitive() {
    let reactor = MemoryReactor::new();
    assert!(server_from_string(&reactor, "TCP:80").is_ok());
    assert!(server_from_string(&reactor, "Unix:/tmp/x.sock").is_ok());
    assert!(client_from_string(&reactor, "Tcp:localhost:80").is_ok());
    assert_eq!(parse("TcP6:1").unwrap().kind, "tcp6");
}

#[test]
fn every_parse_error_names_the_bad_part() {
    let cases: Vec<(String, &str)> = vec![
        (server_error(""), "empty"),
        (server_error("bogus:80"), "\"bogus\""),
        (server_error("tcp"), "missing port"),
        (server_error("tcp:abc"), "bad port number \"abc\""),
        (server_error("tcp:70000"), "bad port number \"70000\""),
        (
            server_error("tcp:80:colour=red"),
            "unknown keyword \"colour\"",
        ),
        (server_error("tcp:80:81"), "unexpected argument \"81\""),
        (server_error("tcp:80:port=81"), "port given twice"),
        (server_error("tcp:80:backlog=many"), "bad backlog \"many\""),
        (server_error("tcp:80:backlog=0"), "bad backlog \"0\""),
        (
            server_error("tcp:80:interface=nowhere"),
            "bad interface \"nowhere\"",
        ),
        (
            server_error("tcp6:80:interface=127.0.0.1"),
            "bad interface \"127.0.0.1\"",
        ),
        (server_error("unix:/tmp/s:mode=rw"), "bad mode \"rw\""),
        (server_error("unix:/tmp/s:mode=999"), "bad mode \"999\""),
        (server_error("unix"), "missing address"),
        (server_error("tcp:80\\"), "lone backslash"),
        (server_error("tls:443"), "missing privateKey"),
        (
            server_error("tls:443:privateKey=/nonexistent/key.pem"),
            "/nonexistent/key.pem",
        ),
        (client_error("tcp:port=80"), "missing host"),
        (client_error("tcp:example.com"), "missing port"),
        (
            client_error("tcp:example.com:http"),
            "bad port number \"http\"",
        ),
        (client_error("tcp:h:1:timeout=soon"), "bad timeout \"soon\""),
        (client_error("tcp:h:1:timeout=-1"), "bad timeout \"-1\""),
        (
            client_error("tcp:h:1:bindAddress=me"),
            "bad bindAddress \"me\"",
        ),
        (
            client_error("tcp:h:1:checkPID=1"),
            "unknown keyword \"checkPID\"",
        ),
        (client_error("unix:timeout=1"), "missing path"),
        (
            client_error("tls:localhost:443"),
            "caCerts=FILE is required",
        ),
        (
            client_error("tls:localhost:443:caCerts=/nonexistent/roots.pem"),
            "/nonexistent/roots.pem",
        ),
        (client_error("ftp:h:21"), "unknown endpoint type \"ftp\""),
    ];
    for (message, part) in cases {
        assert!(
            message.contains(part),
            "{message:?} should mention {part:?}"
        );
    }
}

#[test]
fn a_timeout_longer_than_a_duration_holds_is_a_bad_value() {
    // Found by the endpoint grammar's property test: `1e300` is a finite
    // number of seconds, and converting it panicked.
    for description in ["tcp:h:1:timeout=1e300", "unix:/s:timeout=1e300"] {
        let message = client_error(description);
        assert!(message.contains("bad timeout \"1e300\""), "{message}");
    }
}

#[test]
fn a_bad_certificate_file_is_a_parse_error() {
    let dir = temp_dir("badpem");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a pem file").unwrap();
    let message = server_error(&format!("tls:0:privateKey={}", escaped(&junk)));
    assert!(message.starts_with("tls: "), "{message}");
    assert!(message.contains("junk.pem"), "{message}");
    let message = client_error(&format!("tls:localhost:1:caCerts={}", escaped(&junk)));
    assert!(message.contains("no certificate in"), "{message}");
    std::fs::remove_dir_all(dir).unwrap();
}

// ------------------------------------------------------- real sockets

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

// ------------------------------------------------------- memory reactor

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
