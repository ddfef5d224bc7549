//! Blocking code using a reactor that runs behind it: a plain `main`, no
//! async anywhere, starts a small page server and fetches pages from it
//! concurrently, all through `torsion::blocking`.
//!
//! ```text
//! cargo run -p torsion --example download_page
//! ```
//!
//! The page server speaks a one-line protocol: the client sends
//! `GET name\r\n`, the server answers with the page and closes. Each fetch
//! is a `run_in_reactor` call whose Deferred fires with the page once the
//! connection closes; `main` starts them all, then waits for each.

use std::net::SocketAddr;
use std::time::Duration;

use torsion::blocking;
use torsion::defer::Resolver;
use torsion::error::ConnectionDone;
use torsion::net::{Address, ConnectOptions, Protocol, Transport, factory_fn};
use torsion::protocols::{LineContext, LineHandler, LineReceiver};
use torsion::{Deferred, Failure, Reactor};

const TIMEOUT: Duration = Duration::from_secs(5);

/// The pages the server knows.
fn page(name: &str) -> Option<&'static str> {
    match name {
        "index" => Some("Welcome to the torsion page server.\nSee also: about, news.\n"),
        "about" => Some("A reactor on a background thread serves these pages.\n"),
        "news" => Some("Blocking code can use torsion now.\n"),
        _ => None,
    }
}

/// Answers `GET name` with the page (or a not-found line) and closes.
struct PageServer;

impl LineHandler for PageServer {
    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        let request = String::from_utf8_lossy(line);
        let reply = match request.strip_prefix("GET ").map(str::trim).and_then(page) {
            Some(body) => body.to_owned(),
            None => format!("not found: {request}\n"),
        };
        ctx.write(reply.as_bytes());
        ctx.lose_connection();
    }
}

/// Asks for one page and fires `done` with everything the server sent,
/// once it closes the connection.
struct Fetch {
    name: String,
    body: Vec<u8>,
    done: Option<Resolver<String>>,
}

impl Protocol for Fetch {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(format!("GET {}\r\n", self.name).as_bytes());
    }

    fn data_received(&mut self, data: &[u8]) {
        self.body.extend_from_slice(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        let Some(done) = self.done.take() else { return };
        if reason.is::<ConnectionDone>() {
            done.resolve(String::from_utf8_lossy(&self.body).into_owned());
        } else {
            done.reject(reason);
        }
    }
}

/// On the reactor thread: connect, send the request, and fire with the
/// page when the server has sent it all.
fn fetch(reactor: &Reactor, server: SocketAddr, name: String) -> Deferred<String> {
    let (body, done) = Deferred::new();
    let protocol = Fetch {
        name,
        body: Vec::new(),
        done: Some(done),
    };
    reactor
        .connect_protocol(Address::Tcp(server), protocol, ConnectOptions::default())
        .then(move |_transport| body)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The reactor runs on a background thread until `_reactor` is dropped
    // at the end of main.
    let _reactor = blocking::setup()?;

    let server = blocking::wait_for(TIMEOUT, |reactor| {
        let port = reactor.listen_tcp(
            "127.0.0.1:0".parse().expect("an address"),
            factory_fn(|_| Some(LineReceiver::new(PageServer))),
        )?;
        Ok::<_, Failure>(port.tcp_address().expect("a TCP port"))
    })?;
    println!("page server listening on {server}");

    // Start every download first: they run concurrently on the reactor.
    let names = ["index", "about", "news", "missing"];
    let downloads: Vec<_> = names
        .iter()
        .map(|name| {
            let name = name.to_string();
            blocking::run_in_reactor(move |reactor| fetch(reactor, server, name))
        })
        .collect();

    // Then block for each result in turn.
    for (name, download) in names.iter().zip(downloads) {
        let body = download.wait(TIMEOUT)?;
        println!("--- {name} ({} bytes)", body.len());
        print!("{body}");
    }
    println!("--- all pages fetched; shutting down");
    Ok(())
}
