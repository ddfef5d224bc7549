//! 10,000 concurrent connections, all held open and all served.
//!
//! The clients run in a child process (this test binary again), so that
//! each side needs only 10,000 descriptors.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use common::{Echo, set_fd_limit, turn_until};
use torsion::Reactor;
use torsion::net::{Address, ConnectOptions, Protocol, Transport, factory_fn};

const CONNECTIONS: usize = 10_000;
const CLIENT_ENV: &str = "TORSION_MANY_CONNECTIONS_PORT";
const TEST_NAME: &str = "ten_thousand_connections_are_held_and_all_served";

#[test]
fn ten_thousand_connections_are_held_and_all_served() {
    let limit = set_fd_limit(CONNECTIONS as u64 + 1_000);
    assert!(
        limit >= CONNECTIONS as u64 + 100,
        "cannot raise the descriptor limit (now {limit}) for {CONNECTIONS} connections"
    );
    if let Ok(port) = std::env::var(CLIENT_ENV) {
        run_clients(port.parse().unwrap());
        return;
    }
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Echo::default())),
        )
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CLIENT_ENV, port.tcp_address().unwrap().port().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, reports) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut held_sources = None;
    turn_until(&reactor, Duration::from_secs(120), || {
        while let Ok(line) = reports.try_recv() {
            if line.ends_with("held") {
                // The child holds every connection open and all were served.
                held_sources = Some(reactor.stats().sources);
            }
            seen.push(line);
        }
        seen.iter().any(|line| line.ends_with("done")) || child.try_wait().unwrap().is_some()
    });
    let status = child.wait().unwrap();
    seen.extend(reports.try_iter());
    assert!(status.success(), "client process failed: {seen:?}");
    assert_eq!(
        held_sources,
        Some(CONNECTIONS + 1),
        "connections open at once, plus the port; client said {seen:?}"
    );
}

/// Counts the bytes echoed back to it.
struct Client {
    received: Rc<Cell<usize>>,
    transports: Rc<RefCell<Vec<Transport>>>,
}

impl Protocol for Client {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(b"x");
        self.transports.borrow_mut().push(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.received.set(self.received.get() + data.len());
    }
}

fn run_clients(port: u16) {
    let reactor = Reactor::new().unwrap();
    let address = Address::Tcp(([127, 0, 0, 1], port).into());
    let received = Rc::new(Cell::new(0));
    let transports = Rc::new(RefCell::new(Vec::new()));
    let failures = Rc::new(Cell::new(0usize));
    // Connect in waves so the listen backlog never overflows.
    for wave in 0..CONNECTIONS / 500 {
        for _ in 0..500 {
            let client = Client {
                received: received.clone(),
                transports: transports.clone(),
            };
            let failures = failures.clone();
            drop(
                reactor
                    .connect_protocol(address.clone(), client, ConnectOptions::default())
                    .or_else(move |failure| {
                        eprintln!("connect failed: {failure}");
                        failures.set(failures.get() + 1);
                        Err(failure)
                    })
                    .map(|_| ()),
            );
        }
        let target = (wave + 1) * 500;
        turn_until(&reactor, Duration::from_secs(60), || {
            transports.borrow().len() + failures.get() >= target
        });
    }
    assert_eq!(failures.get(), 0);
    turn_until(&reactor, Duration::from_secs(60), || {
        received.get() == CONNECTIONS
    });
    println!("held");
    // Give the server a moment to count; then all are served again.
    let until = std::time::Instant::now() + Duration::from_millis(300);
    turn_until(&reactor, Duration::from_secs(5), || {
        std::time::Instant::now() > until
    });
    for transport in transports.borrow().iter() {
        transport.write(b"again");
    }
    turn_until(&reactor, Duration::from_secs(60), || {
        received.get() == CONNECTIONS * 6
    });
    assert!(transports.borrow().iter().all(Transport::is_open));
    println!("done");
}
