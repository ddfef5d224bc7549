//! SMTP for torsion, in the shape of Twisted's `twisted.mail.smtp`: an
//! ESMTP server whose delivery hook answers with Deferreds, and a client
//! that sends a message.
//!
//! - [`SmtpServer`] serves EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed,
//!   bounded by SIZE), RSET, NOOP, VRFY, HELP, QUIT and STARTTLS over
//!   torsion's TLS, and offers SIZE, 8BITMIME and PIPELINING. It is a
//!   [`LineReceiver`](torsion::protocols::LineReceiver) handler: commands
//!   and message lines alike are lines.
//! - [`Delivery`] is the application's part: accept or refuse each sender,
//!   each recipient and each message, with a Deferred, failing with a
//!   [`Rejected`] to choose the reply. [`Maildir`] is one, ready made.
//! - [`send_mail`] delivers a message through a server, with STARTTLS when
//!   offered and PIPELINING when offered.
//!
//! A server and a client on one reactor, over loopback:
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! use torsion::endpoints::client_from_string;
//! use torsion::net::Address;
//! use torsion::{Deferred, Reactor};
//! use torsion_smtp::{Delivery, Message, OutgoingMail, SendOptions, SmtpServer, send_mail};
//!
//! /// Keeps every message in memory.
//! #[derive(Clone, Default)]
//! struct Inbox(Rc<RefCell<Vec<Message>>>);
//!
//! impl Delivery for Inbox {
//!     fn deliver(&self, message: Message) -> Deferred<()> {
//!         self.0.borrow_mut().push(message);
//!         Deferred::succeed(())
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let inbox = Inbox::default();
//! let server = SmtpServer::new("mx.example.org", inbox.clone());
//! let port = reactor.listen_tcp("127.0.0.1:0".parse()?, server.factory())?;
//! let Address::Tcp(address) = port.address() else { unreachable!() };
//! let endpoint = client_from_string(&reactor, &format!("tcp:host=127.0.0.1:port={}", address.port()))?;
//!
//! let mail = OutgoingMail {
//!     from: Some("alice@example.org".parse()?),
//!     to: vec!["bob@example.org".parse()?],
//!     data: b"Subject: hi\r\n\r\n.a line that starts with a dot\r\n".to_vec(),
//! };
//! let outcome = Rc::new(RefCell::new(None));
//! let (seen, stopper) = (outcome.clone(), reactor.clone());
//! drop(send_mail(&reactor, &endpoint, mail.clone(), SendOptions::default()).both(move |result| {
//!     *seen.borrow_mut() = Some(result);
//!     stopper.stop()
//! }));
//! reactor.run()?;
//! let report = outcome.borrow_mut().take().expect("sent").map_err(|f| f.to_string())?;
//! assert_eq!(report.accepted, mail.to);
//! assert_eq!(inbox.0.borrow()[0].data, mail.data);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod command;
pub mod data;
pub mod delivery;
pub mod maildir;
pub mod reply;
pub mod server;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use client::{OutgoingMail, SendError, SendOptions, SendReport, send_mail};
pub use command::{Body, Command, CommandError, MailParams, Mailbox};
pub use delivery::{Client, Delivery, Envelope, Message, Rejected};
pub use maildir::Maildir;
pub use reply::{Reply, ReplyError, ReplyParser};
pub use server::{Session, SmtpServer};
