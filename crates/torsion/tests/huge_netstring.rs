//! A peer announcing a huge netstring to an echo server over a real
//! socket: the server holds only the bytes that actually arrive, refuses
//! the announcement cleanly once it is over the maximum, and goes on
//! serving everyone else either way.

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::turn_until;
use torsion::net::{HalfClose, ListeningPort, Protocol, Transport, factory_fn};
use torsion::protocols::{NetstringContext, NetstringHandler, NetstringReceiver};
use torsion::{Failure, Reactor};

/// 10^17 bytes, announced.
const ANNOUNCEMENT: &[u8] = b"100000000000000000:";

/// How much of the announced payload the peer actually sends.
const SENT: usize = 256 * 1024;

/// Echoes each netstring.
struct Echo;

impl NetstringHandler for Echo {
    fn string_received(&mut self, ctx: &mut NetstringContext<'_>, data: &[u8]) {
        ctx.send_string(data);
    }
}

/// A netstring echo that counts the bytes it was given, so that the test
/// knows when the server has read everything sent.
struct Counted {
    receiver: NetstringReceiver<Echo>,
    received: Rc<Cell<usize>>,
}

impl Protocol for Counted {
    fn connection_made(&mut self, transport: &Transport) {
        self.receiver.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.received.set(self.received.get() + data.len());
        self.receiver.data_received(data);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.receiver.read_connection_lost()
    }

    fn reading_resumed(&mut self) {
        self.receiver.reading_resumed();
    }

    fn connection_lost(&mut self, reason: Failure) {
        self.receiver.connection_lost(reason);
    }
}

/// A netstring echo server with `max_length`; the count of bytes received
/// on all connections.
fn serve(reactor: &Reactor, max_length: usize) -> (ListeningPort, Rc<Cell<usize>>) {
    let received = Rc::new(Cell::new(0));
    let counter = received.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(Counted {
                    receiver: NetstringReceiver::new(Echo).with_max_length(max_length),
                    received: counter.clone(),
                })
            }),
        )
        .unwrap();
    (port, received)
}

/// Connects, announces 10^17 bytes and sends `SENT` of them; then reads
/// until the server closes or a second passes, and returns what it read
/// and whether the server closed.
fn announce(address: SocketAddr) -> JoinHandle<(Vec<u8>, bool)> {
    thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(ANNOUNCEMENT).unwrap();
        // The server may close as soon as the announcement is read.
        let _ = stream.write_all(&vec![b'x'; SENT]);
        let mut read = Vec::new();
        let closed = match stream.read_to_end(&mut read) {
            Ok(_) => true,
            Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
        };
        (read, closed)
    })
}

/// Connects and has `5:hello,` echoed; returns the answer.
fn echo_hello(address: SocketAddr) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(b"5:hello,").unwrap();
        let mut answer = vec![0; 8];
        stream.read_exact(&mut answer).unwrap();
        answer
    })
}

/// This process's resident set size, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[test]
fn a_huge_announcement_under_a_raised_maximum_costs_the_server_only_what_arrives() {
    let reactor = Reactor::new().unwrap();
    let (port, received) = serve(&reactor, 10usize.pow(18));
    let address = port.tcp_address().unwrap();
    let before = resident_kib();
    let announcer = announce(address);
    turn_until(&reactor, Duration::from_secs(10), || {
        received.get() >= ANNOUNCEMENT.len() + SENT
    });
    let grown_kib = resident_kib().saturating_sub(before);
    println!("announced 10^17 bytes, sent {SENT}: the server grew by {grown_kib} KiB");
    let other = echo_hello(address);
    turn_until(&reactor, Duration::from_secs(10), || other.is_finished());
    assert_eq!(other.join().unwrap(), b"5:hello,");
    // Twice what was sent, and the client threads' stacks, would be far
    // less than this; a reservation of the announced length would not.
    assert!(
        grown_kib < 16 * 1024,
        "the server grew by {grown_kib} KiB for {SENT} bytes received"
    );
    turn_until(&reactor, Duration::from_secs(10), || {
        announcer.is_finished()
    });
    let (echoed, closed) = announcer.join().unwrap();
    assert!(echoed.is_empty());
    assert!(!closed, "the announcement is within the maximum");
}

#[test]
fn a_huge_announcement_over_the_maximum_closes_only_its_connection() {
    let reactor = Reactor::new().unwrap();
    let (port, _) = serve(&reactor, 10usize.pow(17) - 1);
    let address = port.tcp_address().unwrap();
    let announcer = announce(address);
    turn_until(&reactor, Duration::from_secs(10), || {
        announcer.is_finished()
    });
    let (echoed, closed) = announcer.join().unwrap();
    assert!(echoed.is_empty());
    assert!(
        closed,
        "the server keeps a connection over the maximum open"
    );
    let other = echo_hello(address);
    turn_until(&reactor, Duration::from_secs(10), || other.is_finished());
    assert_eq!(other.join().unwrap(), b"5:hello,");
}
