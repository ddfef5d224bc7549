//! An echo server and client, each taking an endpoint string.
//!
//! ```text
//! cargo run -p torsion --example echo -- --listen tcp:7000:interface=127.0.0.1
//! cargo run -p torsion --example echo -- --connect tcp:host=127.0.0.1:port=7000 --message hello
//! ```
//!
//! Any endpoint works: `unix:/tmp/echo.sock`, `tls:7443:privateKey=key.pem:certKey=cert.pem`
//! with `tls:host=localhost:port=7443:caCerts=cert.pem`, and so on. The server
//! stops on Ctrl-C; the client sends its message (or its standard input, line
//! by line), prints what comes back and exits.

use std::cell::RefCell;
use std::io::BufRead;
use std::rc::Rc;

use torsion::endpoints::{client_from_string, server_from_string};
use torsion::net::{Protocol, Transport, factory_fn};
use torsion::{Failure, Reactor};

/// Writes back what it reads.
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        println!("connection from {}", transport.peer());
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
    fn connection_lost(&mut self, reason: Failure) {
        println!("connection closed: {reason}");
    }
}

/// Sends its message, prints the echo, and closes once all came back.
struct Client {
    message: Vec<u8>,
    received: Vec<u8>,
    transport: Option<Transport>,
    reactor: Reactor,
}

impl Protocol for Client {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(&self.message);
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.received.extend_from_slice(data);
        if self.received.len() >= self.message.len() {
            print!("{}", String::from_utf8_lossy(&self.received));
            self.transport.as_ref().unwrap().lose_connection();
        }
    }
    fn connection_lost(&mut self, _: Failure) {
        let _ = self.reactor.stop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let reactor = Reactor::new()?;
    if let Some(description) = value("--listen") {
        let endpoint = server_from_string(&reactor, &description)?;
        let r = reactor.clone();
        drop(
            endpoint
                .listen(factory_fn(|_| Some(Echo::default())))
                .map(|port| println!("echoing on {}", port.address()))
                .or_else(move |failure| {
                    eprintln!("cannot listen: {failure}");
                    let _ = r.stop();
                    Err(failure)
                }),
        );
    } else if let Some(description) = value("--connect") {
        let message = match value("--message") {
            Some(message) => format!("{message}\n"),
            None => std::io::stdin()
                .lock()
                .lines()
                .map_while(Result::ok)
                .map(|line| line + "\n")
                .collect(),
        };
        let endpoint = client_from_string(&reactor, &description)?;
        let client = Client {
            message: message.into_bytes(),
            received: Vec::new(),
            transport: None,
            reactor: reactor.clone(),
        };
        let failed = Rc::new(RefCell::new(false));
        let (r, f) = (reactor.clone(), failed.clone());
        drop(endpoint.connect(client).or_else(move |failure| {
            eprintln!("cannot connect: {failure}");
            *f.borrow_mut() = true;
            let _ = r.stop();
            Err(failure)
        }));
        reactor.run()?;
        if *failed.borrow() {
            std::process::exit(1);
        }
        return Ok(());
    } else {
        eprintln!("usage: echo --listen ENDPOINT | --connect ENDPOINT [--message TEXT]");
        std::process::exit(2);
    }
    reactor.run()?;
    Ok(())
}
