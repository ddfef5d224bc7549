//! TLS echo: a server and a client on one reactor, with a certificate made
//! for `localhost` at start-up. The same echo protocol runs under TLS
//! unchanged; the transport encrypts.
//!
//! ```text
//! cargo run -p torsion --example tls_echo
//! ```
//!
//! With certificate files of your own, the `echo` example does the same
//! from endpoint strings:
//! `--listen tls:7443:privateKey=key.pem:certKey=cert.pem` and
//! `--connect tls:host=localhost:port=7443:caCerts=cert.pem`.

use std::rc::Rc;
use std::sync::Arc;

use torsion::net::tls::{TlsSetup, client_config, root_store, server_config};
use torsion::net::{ConnectOptions, ListenOptions, Protocol, Transport, factory_fn};
use torsion::{Failure, Reactor};

#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.transport.as_ref().unwrap().write(data);
    }
}

struct Client {
    reactor: Reactor,
    transport: Option<Transport>,
}

impl Protocol for Client {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(b"hello over TLS");
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        let transport = self.transport.as_ref().unwrap();
        let info = transport
            .tls_info()
            .expect("the handshake is done once data arrives");
        println!(
            "echoed {:?} over {} (ALPN {:?})",
            String::from_utf8_lossy(data),
            info.version,
            info.alpn_protocol
                .map(|p| String::from_utf8_lossy(&p).into_owned())
        );
        transport.lose_connection();
    }
    fn connection_lost(&mut self, reason: Failure) {
        println!("closed: {reason}");
        let _ = self.reactor.stop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let dir = std::env::temp_dir().join(format!("torsion-tls-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem())?;
    std::fs::write(&key, certified.signing_key.serialize_pem())?;

    let reactor = Reactor::new()?;
    let mut server = server_config(&cert, &key)?;
    server.alpn_protocols = vec![b"echo/1".to_vec()];
    let options = ListenOptions {
        tls: Some(Arc::new(server)),
        ..Default::default()
    };
    let port = reactor.listen_tcp_with(
        "127.0.0.1:0".parse()?,
        factory_fn(|_| Some(Echo::default())),
        options,
    )?;
    println!("TLS echo on {}", port.address());

    let mut client = client_config(root_store(&cert)?);
    client.alpn_protocols = vec![b"echo/1".to_vec()];
    let options = ConnectOptions {
        tls: Some(TlsSetup::client(Arc::new(client), "localhost")?),
        ..Default::default()
    };
    let protocol = Client {
        reactor: reactor.clone(),
        transport: None,
    };
    let r = Rc::new(reactor.clone());
    drop(
        reactor
            .connect_protocol(port.address(), protocol, options)
            .or_else(move |failure| {
                eprintln!("cannot connect: {failure}");
                let _ = r.stop();
                Err(failure)
            }),
    );
    reactor.run()?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
