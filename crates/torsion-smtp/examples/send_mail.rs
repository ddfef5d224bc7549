//! Sends one message through an SMTP server, with STARTTLS when the
//! server offers it and a CA certificate is given.
//!
//! ```text
//! cargo run -p torsion-smtp --example send_mail -- \
//!     --server tcp:host=127.0.0.1:port=2525 --from alice@example.org \
//!     --to bob@example.org [--to carol@example.org] [--ca cert.pem] \
//!     [--tls-name NAME] [--require-tls] < message.eml
//! ```
//!
//! The server's certificate is verified against `--ca` for the name
//! `--tls-name` (`localhost` unless given).
//!
//! The message is read from standard input (lines ended by `\n` are sent
//! with `\r\n`). Prints what became of each recipient and exits with 0
//! once the server has accepted the message, 1 otherwise.

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;
use std::sync::Arc;

use torsion::Reactor;
use torsion::endpoints::client_from_string;
use torsion::net::tls::{TlsSetup, client_config, root_store};
use torsion_smtp::{OutgoingMail, SendOptions, send_mail};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let values = |flag: &str| -> Vec<String> {
        args.windows(2)
            .filter(|pair| pair[0] == flag)
            .map(|pair| pair[1].clone())
            .collect()
    };
    let (Some(server), Some(from)) = (values("--server").pop(), values("--from").pop()) else {
        eprintln!(
            "usage: send_mail --server ENDPOINT --from ADDRESS --to ADDRESS.. \
             [--ca PEM] [--require-tls] < message"
        );
        std::process::exit(2);
    };
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    // Text typed or written with `\n` goes out with SMTP's `\r\n`.
    let mut data = Vec::with_capacity(input.len());
    for (index, &byte) in input.iter().enumerate() {
        if byte == b'\n' && (index == 0 || input[index - 1] != b'\r') {
            data.push(b'\r');
        }
        data.push(byte);
    }
    let mail = OutgoingMail {
        from: if from == "<>" {
            None
        } else {
            Some(from.parse()?)
        },
        to: values("--to")
            .iter()
            .map(|to| to.parse())
            .collect::<Result<_, _>>()?,
        data,
    };
    let mut options = SendOptions {
        require_tls: args.iter().any(|arg| arg == "--require-tls"),
        ..SendOptions::default()
    };
    if let Some(ca) = values("--ca").pop() {
        let config = client_config(root_store(ca.as_ref())?);
        let name = values("--tls-name")
            .pop()
            .unwrap_or_else(|| "localhost".to_owned());
        options.tls = Some(TlsSetup::client(Arc::new(config), &name)?);
    }

    let reactor = Reactor::new()?;
    let endpoint = client_from_string(&reactor, &server)?;
    let sent = Rc::new(RefCell::new(false));
    let (done, stopper) = (sent.clone(), reactor.clone());
    drop(
        send_mail(&reactor, &endpoint, mail, options).both(move |result| {
            match result {
                Ok(report) => {
                    for to in &report.accepted {
                        println!("accepted: {to}");
                    }
                    for (to, reply) in &report.refused {
                        println!("refused: {to}: {reply}");
                    }
                    let over = if report.tls { " over TLS" } else { "" };
                    println!("sent{over}: {}", report.reply);
                    *done.borrow_mut() = true;
                }
                Err(failure) => eprintln!("not sent: {failure}"),
            }
            stopper.stop()
        }),
    );
    reactor.run()?;
    if !*sent.borrow() {
        std::process::exit(1);
    }
    Ok(())
}
