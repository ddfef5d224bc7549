//! TLS over real loopback sockets, with certificates made for each test.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::tls::{TlsConfigError, TlsSetup, client_config, root_store, server_config};
use super::*;
use crate::testing::net_support::turn_until;
use crate::{Failure, Reactor};

/// A certificate for `localhost` and its key, written to PEM files.
struct TestCertificate {
    cert: PathBuf,
    key: PathBuf,
}

impl TestCertificate {
    fn new(tag: &str) -> TestCertificate {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = std::env::temp_dir();
        let stem = format!("torsion-tls-{tag}-{}", std::process::id());
        let cert = dir.join(format!("{stem}-cert.pem"));
        let key = dir.join(format!("{stem}-key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        TestCertificate { cert, key }
    }
}

impl Drop for TestCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}

#[derive(Default)]
struct Seen {
    transport: Option<Transport>,
    received: Vec<u8>,
    lost: Option<Failure>,
}

/// Records what it sees; echoes when `echo` is set.
struct Probe {
    seen: Rc<RefCell<Seen>>,
    echo: bool,
}

impl Protocol for Probe {
    fn connection_made(&mut self, transport: &Transport) {
        self.seen.borrow_mut().transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        let mut seen = self.seen.borrow_mut();
        seen.received.extend_from_slice(data);
        if self.echo {
            seen.transport.as_ref().unwrap().write(data);
        }
    }
    fn connection_lost(&mut self, reason: Failure) {
        self.seen.borrow_mut().lost = Some(reason);
    }
}

fn tls_server(
    reactor: &Reactor,
    certificate: &TestCertificate,
    seen: Rc<RefCell<Seen>>,
) -> ListeningPort {
    let mut config = server_config(&certificate.cert, &certificate.key).unwrap();
    config.alpn_protocols = vec![b"torsion/1".to_vec()];
    let options = ListenOptions {
        tls: Some(Arc::new(config)),
        ..Default::default()
    };
    reactor
        .listen_tcp_with(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(Probe {
                    seen: seen.clone(),
                    echo: true,
                })
            }),
            options,
        )
        .unwrap()
}

fn tls_client(
    reactor: &Reactor,
    port: &ListeningPort,
    trusted: &TestCertificate,
) -> Rc<RefCell<Seen>> {
    let mut config = client_config(root_store(&trusted.cert).unwrap());
    config.alpn_protocols = vec![b"torsion/1".to_vec()];
    let options = ConnectOptions {
        tls: Some(TlsSetup::client(Arc::new(config), "localhost").unwrap()),
        ..Default::default()
    };
    let seen = Rc::new(RefCell::new(Seen::default()));
    drop(reactor.connect_protocol(
        port.address(),
        Probe {
            seen: seen.clone(),
            echo: false,
        },
        options,
    ));
    seen
}

#[test]
fn tls_echo_negotiates_alpn_and_sni() {
    let certificate = TestCertificate::new("echo");
    let reactor = Reactor::new().unwrap();
    let server = Rc::new(RefCell::new(Seen::default()));
    let port = tls_server(&reactor, &certificate, server.clone());
    let client = tls_client(&reactor, &port, &certificate);
    turn_until(&reactor, Duration::from_secs(10), || {
        client.borrow().transport.is_some()
    });
    let transport = client.borrow().transport.clone().unwrap();
    // Written before the handshake finished: held, then encrypted.
    let message: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    transport.write(&message);
    turn_until(&reactor, Duration::from_secs(10), || {
        client.borrow().received.len() == message.len()
    });
    assert!(client.borrow().received == message);
    let info = transport.tls_info().unwrap();
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"torsion/1"[..]));
    let server_info = server
        .borrow()
        .transport
        .as_ref()
        .unwrap()
        .tls_info()
        .unwrap();
    assert_eq!(server_info.server_name.as_deref(), Some("localhost"));
    transport.lose_connection();
    turn_until(&reactor, Duration::from_secs(10), || {
        client.borrow().lost.is_some() && server.borrow().lost.is_some()
    });
    assert!(
        client
            .borrow()
            .lost
            .as_ref()
            .unwrap()
            .is::<crate::error::ConnectionDone>()
    );
    assert!(
        server
            .borrow()
            .lost
            .as_ref()
            .unwrap()
            .is::<crate::error::ConnectionDone>()
    );
}

#[test]
fn a_client_rejects_a_certificate_it_does_not_trust() {
    let certificate = TestCertificate::new("served");
    let other = TestCertificate::new("trusted");
    let reactor = Reactor::new().unwrap();
    let server = Rc::new(RefCell::new(Seen::default()));
    let port = tls_server(&reactor, &certificate, server.clone());
    let client = tls_client(&reactor, &port, &other);
    turn_until(&reactor, Duration::from_secs(10), || {
        client.borrow().lost.is_some()
    });
    let lost = client.borrow_mut().lost.take().unwrap();
    let error = lost
        .downcast_ref::<rustls::Error>()
        .expect("a rustls error");
    assert!(
        matches!(error, rustls::Error::InvalidCertificate(_)),
        "{error}"
    );
    assert!(client.borrow().received.is_empty());
    turn_until(&reactor, Duration::from_secs(10), || {
        server.borrow().lost.is_some()
    });
}

/// Sends a greeting in the clear, then switches to TLS as a server.
struct StartTlsServer {
    config: Arc<rustls::ServerConfig>,
    transport: Option<Transport>,
}

impl Protocol for StartTlsServer {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(b"clear-greeting");
        transport.start_tls(self.config.clone()).unwrap();
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.transport.as_ref().unwrap().write(data);
    }
}

#[test]
fn start_tls_switches_an_open_connection_after_clear_bytes() {
    let certificate = TestCertificate::new("starttls");
    let reactor = Reactor::new().unwrap();
    let config = Arc::new(server_config(&certificate.cert, &certificate.key).unwrap());
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(StartTlsServer {
                    config: config.clone(),
                    transport: None,
                })
            }),
        )
        .unwrap();
    let seen = Rc::new(RefCell::new(Seen::default()));
    drop(reactor.connect_protocol(
        port.address(),
        Probe {
            seen: seen.clone(),
            echo: false,
        },
        ConnectOptions::default(),
    ));
    turn_until(&reactor, Duration::from_secs(10), || {
        seen.borrow().received == b"clear-greeting"
    });
    let transport = seen.borrow().transport.clone().unwrap();
    let client = client_config(root_store(&certificate.cert).unwrap());
    transport
        .start_tls(TlsSetup::client(Arc::new(client), "localhost").unwrap())
        .unwrap();
    transport.write(b"secret");
    turn_until(&reactor, Duration::from_secs(10), || {
        seen.borrow().received == b"clear-greetingsecret"
    });
    assert!(transport.tls_info().is_some());
}

#[test]
fn a_missing_key_file_is_an_error_naming_it() {
    let certificate = TestCertificate::new("missing");
    let missing = std::env::temp_dir().join("torsion-no-such-key.pem");
    let error = server_config(&certificate.cert, &missing).unwrap_err();
    assert!(matches!(error, TlsConfigError::Pem { .. }));
    assert!(
        error.to_string().contains("torsion-no-such-key.pem"),
        "{error}"
    );
}

#[test]
fn a_garbage_certificate_file_is_an_error() {
    let path = std::env::temp_dir().join(format!("torsion-garbage-{}.pem", std::process::id()));
    std::fs::write(&path, "not a certificate").unwrap();
    let error = root_store(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(error.to_string().contains("no certificate"), "{error}");
}

#[test]
fn an_async_stream_waits_for_the_handshake_and_learns_alpn_or_why_it_failed() {
    let certificate = TestCertificate::new("handshake");
    let other = TestCertificate::new("handshake-other");
    let reactor = Reactor::new().unwrap();
    let port = tls_server(
        &reactor,
        &certificate,
        Rc::new(RefCell::new(Seen::default())),
    );
    let options = |trusted: &TestCertificate| {
        let mut config = client_config(root_store(&trusted.cert).unwrap());
        config.alpn_protocols = vec![b"torsion/1".to_vec()];
        ConnectOptions {
            tls: Some(TlsSetup::client(Arc::new(config), "localhost").unwrap()),
            ..Default::default()
        }
    };
    let good = reactor.connect_stream(port.address(), options(&certificate));
    let bad = reactor.connect_stream(port.address(), options(&other));
    let plain = reactor.connect_stream(port.address(), ConnectOptions::default());
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    drop(reactor.spawn(async move {
        let good = good.await?;
        let info = good.tls_handshake().await?;
        let bad = bad.await?.tls_handshake().await.unwrap_err();
        let plain = plain.await?.tls_handshake().await.unwrap_err();
        *o.borrow_mut() = Some((info, bad, plain));
        Ok::<(), Failure>(())
    }));
    turn_until(&reactor, Duration::from_secs(10), || {
        outcome.borrow().is_some()
    });
    let (info, bad, plain) = outcome.borrow_mut().take().unwrap();
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"torsion/1"[..]));
    assert!(
        bad.to_string().contains("invalid peer certificate"),
        "{bad}"
    );
    assert_eq!(plain.kind(), std::io::ErrorKind::InvalidInput);
}

/// Counts handshakes, and whether any data came before the first.
#[derive(Default)]
struct HandshakeOrder {
    handshakes: Rc<RefCell<Vec<&'static str>>>,
}

impl Protocol for HandshakeOrder {
    fn handshake_completed(&mut self) {
        self.handshakes.borrow_mut().push("handshake");
    }
    fn data_received(&mut self, _data: &[u8]) {
        self.handshakes.borrow_mut().push("data");
    }
}

#[test]
fn handshake_completed_comes_once_and_before_any_data() {
    let certificate = TestCertificate::new("order");
    let reactor = Reactor::new().unwrap();
    let port = tls_server(
        &reactor,
        &certificate,
        Rc::new(RefCell::new(Seen::default())),
    );
    let config = client_config(root_store(&certificate.cert).unwrap());
    let options = ConnectOptions {
        tls: Some(TlsSetup::client(Arc::new(config), "localhost").unwrap()),
        ..Default::default()
    };
    let order = HandshakeOrder::default();
    let events = order.handshakes.clone();
    let connecting = reactor.connect_protocol(port.address(), order, options);
    let transport = Rc::new(RefCell::new(None));
    let t = transport.clone();
    let connected = connecting.map(move |transport| *t.borrow_mut() = Some(transport));
    turn_until(&reactor, Duration::from_secs(10), || {
        transport.borrow().is_some()
    });
    drop(connected);
    // The echo server sends the bytes back once it has them.
    transport.borrow().as_ref().unwrap().write(b"ping");
    turn_until(&reactor, Duration::from_secs(10), || {
        events.borrow().contains(&"data")
    });
    let events = events.borrow();
    assert_eq!(events[0], "handshake");
    assert_eq!(events.iter().filter(|e| **e == "handshake").count(), 1);
}
