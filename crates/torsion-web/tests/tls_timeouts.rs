//! torsion-web's TLS server against clients that stall or garble the
//! handshake: it runs on the core TLS transport, so the endpoint's
//! `handshakeTimeout` cuts a stalled handshake long before the header read
//! timeout would, garbage is closed at once, and a normal HTTPS client is
//! served meanwhile.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{TestCertificate, curl, serve_on};
use torsion_web::{Body, Request, Response, Server};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(300);

fn hello() -> Server {
    Server::new(|_request: Request| Response::new(Body::from("hello\n")))
}

fn https_get(certificate: &TestCertificate, port: u16) -> (String, Duration) {
    let started = Instant::now();
    let cacert = certificate.cert.display().to_string();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}/");
    let fetched = curl(&["--cacert", &cacert, "--resolve", &resolve, &url]);
    (fetched.text(), started.elapsed())
}

/// The first flight of a real TLS client.
fn client_hello(certificate: &TestCertificate) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(certificate.pem.as_bytes()).unwrap())
        .unwrap();
    let config = torsion::net::tls::client_config(roots);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut hello = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut hello).unwrap();
    }
    hello
}

#[test]
fn stalled_handshakes_on_the_web_server_are_cut_at_the_endpoints_handshake_timeout() {
    const STALLED: usize = 40;
    let certificate = TestCertificate::new("tls-timeouts");
    let endpoint = format!(
        "{}:backlog=1024:handshakeTimeout={}",
        certificate.endpoint(),
        HANDSHAKE_TIMEOUT.as_secs_f64()
    );
    let server = serve_on(&endpoint, |_| hello());
    let hello_bytes = client_hello(&certificate);
    let mut stalled: Vec<(TcpStream, Instant, Option<Duration>)> = (0..STALLED)
        .map(|n| {
            let mut socket = TcpStream::connect(server.address).unwrap();
            if n % 2 == 1 {
                socket.write_all(&hello_bytes).unwrap();
            }
            socket.set_nonblocking(true).unwrap();
            (socket, Instant::now(), None)
        })
        .collect();
    let mut served = Vec::new();
    let started = Instant::now();
    while stalled.iter().any(|(_, _, cut)| cut.is_none()) {
        assert!(started.elapsed() < Duration::from_secs(5), "not all cut");
        let (text, took) = https_get(&certificate, server.address.port());
        assert_eq!(text, "hello\n");
        served.push(took);
        for (socket, opened, cut) in &mut stalled {
            let mut buffer = [0u8; 4096];
            while cut.is_none() {
                match socket.read(&mut buffer) {
                    Ok(0) => *cut = Some(opened.elapsed()),
                    Ok(_) => {}
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => *cut = Some(opened.elapsed()),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut cuts: Vec<Duration> = stalled.iter().map(|(_, _, cut)| cut.unwrap()).collect();
    cuts.sort();
    println!(
        "{STALLED} stalled handshakes cut {:?}..{:?} (bound {HANDSHAKE_TIMEOUT:?}); {} HTTPS requests served meanwhile",
        cuts[0],
        cuts[STALLED - 1],
        served.len()
    );
    for cut in cuts {
        assert!(
            cut >= HANDSHAKE_TIMEOUT - Duration::from_millis(20)
                && cut < HANDSHAKE_TIMEOUT + Duration::from_millis(700),
            "cut after {cut:?}, the handshake timeout is {HANDSHAKE_TIMEOUT:?}"
        );
    }
}

#[test]
fn garbage_instead_of_a_client_hello_is_closed_at_once_by_the_web_server_which_serves_on() {
    let certificate = TestCertificate::new("tls-garbage");
    let server = serve_on(&certificate.endpoint(), |_| hello());
    let mut socket = TcpStream::connect(server.address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: not-tls\r\n\r\n")
        .unwrap();
    let sent = Instant::now();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    let after = sent.elapsed();
    assert!(after < Duration::from_secs(2), "closed after {after:?}");
    assert!(
        answer.is_empty() || answer[0] == 21,
        "an alert at most: {answer:?}"
    );
    let (text, _) = https_get(&certificate, server.address.port());
    assert_eq!(text, "hello\n");
}
