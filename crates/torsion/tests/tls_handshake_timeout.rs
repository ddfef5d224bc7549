//! A `tls:` echo server, configured by its endpoint string, against
//! hostile clients: one that sends nothing, one that sends half a
//! handshake, one that sends garbage, and many that stall at once. Each is
//! cut (at the handshake timeout, or at once for garbage), its protocol
//! hears why, descriptors come back, and a normal client is served all the
//! while.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use torsion::endpoints::server_from_string;
use torsion::error::TlsHandshakeTimeout;
use torsion::net::{Protocol, Transport, factory_fn};
use torsion::{Failure, Reactor, ReactorHandle};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(300);
/// How late after the bound a cut may come on a loaded machine.
const SLACK: Duration = Duration::from_millis(700);

/// Echoes, and tells the test how its connection ended.
struct Echo {
    transport: Option<Transport>,
    lost: mpsc::Sender<String>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }

    fn connection_lost(&mut self, reason: Failure) {
        let told = match reason.downcast_ref::<TlsHandshakeTimeout>() {
            Some(timeout) => format!("handshake timeout {:?}", timeout.0),
            None => format!("other: {reason}"),
        };
        let _ = self.lost.send(told);
    }
}

struct Certificate {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    pem: String,
}

impl Certificate {
    fn new(tag: &str) -> Certificate {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = std::env::temp_dir();
        let stem = format!("torsion-handshake-{tag}-{}", std::process::id());
        let cert = dir.join(format!("{stem}-cert.pem"));
        let key = dir.join(format!("{stem}-key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        Certificate {
            cert,
            key,
            pem: certified.cert.pem(),
        }
    }

    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.pem.as_bytes()).unwrap())
            .unwrap();
        Arc::new(torsion::net::tls::client_config(roots))
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}

/// An echo server on its own reactor thread, listening on `tls:` with the
/// given handshake timeout, and what its protocols were told.
struct Running {
    address: SocketAddr,
    handle: ReactorHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    lost: mpsc::Receiver<String>,
}

fn serve(certificate: &Certificate, handshake_timeout: Duration) -> Running {
    let description = format!(
        "tls:0:interface=127.0.0.1:backlog=1024:privateKey={}:certKey={}:handshakeTimeout={}",
        certificate.key.display(),
        certificate.cert.display(),
        handshake_timeout.as_secs_f64()
    );
    let (lost, told_lost) = mpsc::channel();
    let (tell, told) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        let endpoint = server_from_string(&reactor, &description).unwrap();
        let handle = reactor.handle();
        let listening = endpoint.listen(factory_fn(move |_| {
            Some(Echo {
                transport: None,
                lost: lost.clone(),
            })
        }));
        let port = listening.map(move |port| {
            tell.send((port.tcp_address().unwrap(), handle)).unwrap();
            port
        });
        reactor.run().unwrap();
        drop(port);
    });
    let (address, handle) = told.recv_timeout(Duration::from_secs(10)).unwrap();
    Running {
        address,
        handle,
        thread: Some(thread),
        lost: told_lost,
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(thread) = self.thread.take()
            && !std::thread::panicking()
        {
            thread.join().unwrap();
        }
    }
}

/// A rustls client over a blocking socket: connects, sends `hello`, and
/// reads the echo.
fn echo_over_tls(address: SocketAddr, config: Arc<rustls::ClientConfig>) -> Duration {
    let started = Instant::now();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let client = rustls::ClientConnection::new(config, name).unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut stream = rustls::StreamOwned::new(client, socket);
    stream.write_all(b"hello").unwrap();
    let mut echoed = [0u8; 5];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"hello");
    started.elapsed()
}

/// The first flight of a real TLS client: its ClientHello.
fn client_hello(config: Arc<rustls::ClientConfig>) -> Vec<u8> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(config, name).unwrap();
    let mut hello = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut hello).unwrap();
    }
    hello
}

/// Sends `first` and waits for the server to close; how long that took.
fn send_and_wait_for_close(address: SocketAddr, first: &[u8]) -> (Vec<u8>, Duration) {
    let mut socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.write_all(first).unwrap();
    let sent = Instant::now();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    (answer, sent.elapsed())
}

fn assert_cut_at(after: Duration) {
    assert!(
        after >= HANDSHAKE_TIMEOUT - Duration::from_millis(20) && after < HANDSHAKE_TIMEOUT + SLACK,
        "cut after {after:?}, the handshake timeout is {HANDSHAKE_TIMEOUT:?}"
    );
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_client_that_sends_nothing_is_cut_at_the_handshake_timeout_and_its_protocol_told_why() {
    let certificate = Certificate::new("silent");
    let server = serve(&certificate, HANDSHAKE_TIMEOUT);
    let (answer, after) = send_and_wait_for_close(server.address, b"");
    assert!(answer.is_empty(), "{answer:?}");
    assert_cut_at(after);
    assert_eq!(
        server.lost.recv_timeout(Duration::from_secs(5)).unwrap(),
        format!("handshake timeout {HANDSHAKE_TIMEOUT:?}")
    );
}

#[test]
fn a_client_hello_followed_by_silence_is_cut_at_the_handshake_timeout() {
    let certificate = Certificate::new("half");
    let server = serve(&certificate, HANDSHAKE_TIMEOUT);
    let hello = client_hello(certificate.client_config());
    let (answer, after) = send_and_wait_for_close(server.address, &hello);
    assert!(!answer.is_empty(), "the server answered the hello");
    assert_cut_at(after);
    assert_eq!(
        server.lost.recv_timeout(Duration::from_secs(5)).unwrap(),
        format!("handshake timeout {HANDSHAKE_TIMEOUT:?}")
    );
}

#[test]
fn garbage_instead_of_a_client_hello_is_closed_at_once_and_the_listener_serves_on() {
    let certificate = Certificate::new("garbage");
    // A long bound, so that a close at once is told from a timeout.
    let server = serve(&certificate, Duration::from_secs(10));
    let (answer, after) = send_and_wait_for_close(
        server.address,
        b"GET / HTTP/1.1\r\nHost: not-tls\r\n\r\n\x00\xff\x16\x03",
    );
    assert!(after < Duration::from_secs(2), "closed after {after:?}");
    // An alert record (content type 21), or nothing at all.
    assert!(answer.is_empty() || answer[0] == 21, "{answer:?}");
    let lost = server.lost.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(lost.starts_with("other: "), "{lost}");
    echo_over_tls(server.address, certificate.client_config());
}

#[test]
fn many_stalled_handshakes_are_all_cut_and_give_their_descriptors_back_while_others_are_served() {
    const STALLED: usize = 100;
    let certificate = Certificate::new("many");
    let server = serve(&certificate, HANDSHAKE_TIMEOUT);
    let config = certificate.client_config();
    echo_over_tls(server.address, config.clone());
    let before = open_descriptors();
    let hello = client_hello(config.clone());
    let mut stalled: Vec<(TcpStream, Instant, Option<Duration>)> = (0..STALLED)
        .map(|n| {
            let mut socket = TcpStream::connect(server.address).unwrap();
            // Half stay silent, half send a hello and stop.
            if n % 2 == 1 {
                socket.write_all(&hello).unwrap();
            }
            socket.set_nonblocking(true).unwrap();
            (socket, Instant::now(), None)
        })
        .collect();
    let during = open_descriptors();
    let mut served = Vec::new();
    let started = Instant::now();
    while stalled.iter().any(|(_, _, cut)| cut.is_none()) {
        assert!(started.elapsed() < Duration::from_secs(5), "not all cut");
        served.push(echo_over_tls(server.address, config.clone()));
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
    drop(stalled);
    cuts.sort();
    served.sort();
    let mut after = open_descriptors();
    let settling = Instant::now();
    while after > before && settling.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
        after = open_descriptors();
    }
    println!(
        "{STALLED} stalled handshakes cut {:?}..{:?} after connecting (bound {HANDSHAKE_TIMEOUT:?}); \
         {} normal exchanges meanwhile, slowest {:?}; descriptors {before} before, {during} during, {after} after",
        cuts[0],
        cuts[STALLED - 1],
        served.len(),
        served[served.len() - 1]
    );
    for cut in cuts {
        assert_cut_at(cut);
    }
    assert!(
        after <= before,
        "descriptors: {before} before, {after} after"
    );
    let timeouts = server
        .lost
        .try_iter()
        .filter(|lost| lost.starts_with("handshake timeout"))
        .count();
    assert_eq!(timeouts, STALLED, "every stalled protocol was told");
}
