//! Datagram sockets over real loopback and UNIX sockets; the helpers the
//! tests share are here.

mod multicast_tests;
mod overload_and_stopping_tests;
mod unicast_tests;
mod unix_tests;

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
