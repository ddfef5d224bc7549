//! The chat room's line door (`torsion::chat`, which the chat example
//! serves) over real loopback sockets: a line typed with `nc` (ending with
//! `\n`) or telnet (`\r\n`) reaches the other clients.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use torsion::Reactor;
use torsion::net::factory_fn;

use torsion::chat::{Room, line_chatter};

/// Serves the chat on a free loopback port while `clients` runs on another
/// thread; stops when it returns, or after ten seconds.
fn with_chat_server(clients: impl FnOnce(SocketAddr) + Send + 'static) {
    let reactor = Reactor::new().unwrap();
    let room = Room::new();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| Some(line_chatter(&room))),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    let handle = reactor.handle();
    let clients = std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| clients(address)));
        let _ = handle.stop();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
    let stopper = reactor.clone();
    reactor.call_later(Duration::from_secs(10), move || {
        let _ = stopper.stop();
    });
    reactor.run().unwrap();
    clients.join().unwrap();
}

/// A client connection that reads whole lines.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects and reads the welcome line.
    fn join(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut client = Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        };
        assert!(client.line().starts_with("welcome, "));
        client
    }

    fn type_in(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
    }

    /// The next line, which must end with `\r\n`, without it.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.strip_suffix("\r\n")
            .unwrap_or_else(|| panic!("not a whole line: {line:?}"))
            .to_owned()
    }
}

#[test]
fn a_message_typed_with_lf_reaches_the_other_client() {
    with_chat_server(|address| {
        let mut bob = Client::join(address);
        let mut alice = Client::join(address);
        assert!(bob.line().ends_with(" joined"));
        alice.type_in("/nick alice\nhello from alice\n");
        assert!(bob.line().ends_with(" is now alice"));
        assert_eq!(bob.line(), "<alice> hello from alice");
    });
}

#[test]
fn a_message_typed_with_crlf_reaches_the_other_client_without_its_cr() {
    with_chat_server(|address| {
        let mut bob = Client::join(address);
        let mut alice = Client::join(address);
        assert!(bob.line().ends_with(" joined"));
        bob.type_in("/nick bob\r\nhi alice\r\n");
        assert!(alice.line().ends_with(" is now bob"));
        assert_eq!(alice.line(), "<bob> hi alice");
    });
}

#[test]
fn quit_typed_with_lf_says_bye_and_the_room_hears_the_member_leave() {
    with_chat_server(|address| {
        let mut bob = Client::join(address);
        let mut alice = Client::join(address);
        assert!(bob.line().ends_with(" joined"));
        alice.type_in("/nick alice\n/quit\n");
        assert_eq!(alice.line(), "bye");
        assert!(bob.line().ends_with(" is now alice"));
        assert_eq!(bob.line(), "* alice left");
    });
}
