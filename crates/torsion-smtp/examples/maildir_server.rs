//! An SMTP server that stores every message it accepts in a maildir.
//!
//! ```text
//! cargo run -p torsion-smtp --example maildir_server -- \
//!     --listen tcp:2525:interface=127.0.0.1 --maildir /tmp/inbox \
//!     [--cert cert.pem --key key.pem | --self-signed cert.pem] \
//!     [--max-size BYTES] [--only DOMAIN]
//! ```
//!
//! With a certificate and key it offers STARTTLS; `--self-signed` makes a
//! certificate for `localhost` at start instead, and writes it where
//! given for clients to trust. With `--only`, it takes
//! mail for that domain alone and refuses other recipients with 550. Each
//! message lands in `MAILDIR/new/` once its file is synced; the server
//! prints where. It stops on SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::PrivateKeyDer;
use torsion::endpoints::server_from_string;
use torsion::net::tls::{crypto_provider, server_config};
use torsion::{Deferred, Failure, Reactor};
use torsion_smtp::{Delivery, Envelope, Mailbox, Maildir, Message, Rejected, SmtpServer};

/// A maildir, a recipient policy, and a line printed per message.
struct Inbox {
    maildir: Maildir,
    only: Option<String>,
}

impl Delivery for Inbox {
    fn validate_to(&self, _: &Envelope, to: &Mailbox) -> Deferred<()> {
        match &self.only {
            Some(domain) if !to.domain().eq_ignore_ascii_case(domain) => {
                Deferred::fail(Rejected::no_such_user(format!("no mail for {to} here")))
            }
            _ => Deferred::succeed(()),
        }
    }

    fn deliver(&self, message: Message) -> Deferred<()> {
        let from = message
            .envelope
            .from
            .as_ref()
            .map_or_else(|| "<>".to_owned(), ToString::to_string);
        let to: Vec<String> = message
            .envelope
            .recipients
            .iter()
            .map(ToString::to_string)
            .collect();
        let (bytes, tls) = (message.data.len(), message.envelope.client.tls);
        let root = self.maildir.root().to_owned();
        // The maildir writes on the reactor's thread pool.
        self.maildir.deliver(message).map(move |()| {
            let over = if tls { " over TLS" } else { "" };
            println!(
                "stored {bytes} bytes from {from} for {} in {}{over}",
                to.join(", "),
                root.join("new").display()
            );
        })
    }
}

/// A server configuration with a certificate for `localhost` made now;
/// the certificate goes to `published` for clients to trust.
fn self_signed(published: &Path) -> Result<Arc<ServerConfig>, Box<dyn std::error::Error>> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    std::fs::write(published, certified.cert.pem())?;
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())?;
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)?;
    Ok(Arc::new(config))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let (Some(listen), Some(maildir)) = (value("--listen"), value("--maildir")) else {
        eprintln!(
            "usage: maildir_server --listen ENDPOINT --maildir DIR [--cert PEM --key PEM] \
             [--max-size BYTES] [--only DOMAIN]"
        );
        std::process::exit(2);
    };
    let inbox = Inbox {
        maildir: Maildir::open(PathBuf::from(maildir))?,
        only: value("--only"),
    };
    let mut server = SmtpServer::new("maildir.example", inbox);
    if let Some(size) = value("--max-size") {
        server = server.with_max_message_size(size.parse()?);
    }
    if let (Some(cert), Some(key)) = (value("--cert"), value("--key")) {
        let config = server_config(cert.as_ref(), key.as_ref())?;
        server = server.with_starttls(Arc::new(config));
    } else if let Some(published) = value("--self-signed") {
        server = server.with_starttls(self_signed(&PathBuf::from(published))?);
    }

    let reactor = Reactor::new()?;
    let stopper = reactor.clone();
    drop(
        server_from_string(&reactor, &listen)?
            .listen(server.factory())
            .map(|port| println!("serving SMTP on {}", port.address()))
            .or_else(move |failure: Failure| {
                eprintln!("cannot listen: {failure}");
                let _ = stopper.stop();
                Err(failure)
            }),
    );
    reactor.run()?;
    println!("stopped");
    Ok(())
}
