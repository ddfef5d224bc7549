//! Serving a resource on loopback while a client runs on another thread,
//! and the real clients the tests drive (curl, Python's requests).

#![allow(dead_code)] // each test file uses its own part of this

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use torsion::Reactor;
use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::time::Scheduler;
use torsion_web::{Resource, Server};

/// No test may run longer than this: the reactor stops itself.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Serves `resource` on `127.0.0.1:<any port>` on `reactor`, runs
/// `client` on a thread of its own with the address, stops the reactor
/// when the client returns, and returns what it returned (or re-raises
/// its panic).
pub fn serve<T: Send + 'static>(
    reactor: &Reactor,
    resource: impl Resource,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    let endpoint = server_from_string(reactor, "tcp:0:interface=127.0.0.1").unwrap();
    let listening = Server::new(resource).listen(reactor, &endpoint);
    let handle = reactor.handle();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    drop(listening.map(move |listening| {
        let Address::Tcp(address) = listening.address().clone() else {
            panic!("a TCP address");
        };
        std::thread::spawn(move || {
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client(address)));
            done_tx.send(outcome).unwrap();
            handle.stop().unwrap();
        });
        listening
    }));
    let r = reactor.clone();
    let limit = reactor.call_later(TEST_LIMIT, move || {
        let _ = r.stop();
    });
    reactor.run().unwrap();
    if limit.active() {
        let _ = limit.cancel();
    }
    match done_rx.try_recv() {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the client did not finish within {TEST_LIMIT:?}"),
    }
}

/// What curl got: status, headers (names lowercased) and body.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Runs curl with `args` (plus `-sS -i`, a time limit) and parses its
/// answer; the last response when curl followed redirects.
pub fn curl(args: &[&str]) -> Fetched {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut rest = text.as_str();
    loop {
        let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        if body.starts_with("HTTP/") {
            rest = body;
            continue;
        }
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        return Fetched {
            status,
            headers,
            body: body.to_owned(),
        };
    }
}

/// Runs a Python script (with `requests` imported) with `args`; returns
/// its standard output, failing on a non-zero exit.
pub fn python(script: &str, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(format!("import requests, sys, json, time\n{script}"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
