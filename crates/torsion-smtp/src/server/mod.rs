//! The server: [`SmtpServer`] holds the configuration and the delivery
//! hook and builds one [`Session`] per connection, a [`LineReceiver`]
//! handler (Twisted's `ESMTP` protocol and its factory).
//!
//! ```text
//!  220 greeting ─► EHLO ─► [STARTTLS ─► 220 ─► TLS ─► EHLO]
//!     ─► MAIL ─► validate_from? ─► RCPT ─► validate_to? (each)
//!     ─► DATA ─► 354 ─► lines, unstuffed, bounded by SIZE ─► "." ─► deliver? ─► 250
//! ```
//!
//! While a hook's Deferred is pending the session stops reading (commands
//! a pipelining client sent meanwhile wait in the buffer), so replies go
//! out in the order of the commands and each command sees the outcome of
//! the ones before it.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use torsion::net::{Address, Factory, factory_fn};
use torsion::protocols::LineReceiver;

use crate::delivery::Delivery;

mod session;

pub use session::Session;

/// The longest command line, not counting its `\r\n`: RFC 5321's 512
/// octets (§4.5.3.1.4). A longer one gets 500 and the session goes on.
pub const MAX_COMMAND_LINE: usize = 512;

/// The largest message accepted unless
/// [`with_max_message_size`](SmtpServer::with_max_message_size) says
/// otherwise: 10 MiB, as many servers default to.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

/// At most this many recipients a message (RFC 5321 §4.5.3.1.8 asks a
/// server to take at least 100).
pub const DEFAULT_MAX_RECIPIENTS: usize = 100;

/// How long a client may stay quiet before it gets 421 and the connection
/// closes, unless [`with_idle_timeout`](SmtpServer::with_idle_timeout)
/// says otherwise: 600 s, Twisted's `SMTP.timeout` (RFC 5321 §4.5.3.2.7
/// asks servers to wait at least 5 minutes).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// An ESMTP server: its name, limits, TLS and delivery hook. Cheap to
/// clone; every connection shares it.
///
/// It offers SIZE, 8BITMIME, PIPELINING and, when given a TLS
/// configuration, STARTTLS. A client that sends no whole line for
/// [`DEFAULT_IDLE_TIMEOUT`] gets `421 <hostname> Timeout. Try talking
/// faster next time!` and the connection closes, as with Twisted's
/// server; the time the delivery hook takes to decide does not count.
///
/// ```no_run
/// use torsion::{Deferred, Reactor};
/// use torsion_smtp::{Delivery, Message, SmtpServer};
///
/// /// Prints who each message is for.
/// struct Print;
///
/// impl Delivery for Print {
///     fn deliver(&self, message: Message) -> Deferred<()> {
///         println!("{} bytes for {:?}", message.data.len(), message.envelope.recipients);
///         Deferred::succeed(())
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let server = SmtpServer::new("mail.example.org", Print).with_max_message_size(1 << 20);
/// let port = reactor.listen_tcp("127.0.0.1:2525".parse()?, server.factory())?;
/// reactor.run()?;
/// # drop(port);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SmtpServer {
    config: Rc<Config>,
}

/// What every session of a server shares.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) hostname: String,
    pub(crate) max_message_size: usize,
    pub(crate) max_recipients: usize,
    pub(crate) tls: Option<Arc<ServerConfig>>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) delivery: Rc<dyn Delivery>,
}

impl SmtpServer {
    /// A server that calls itself `hostname` in its replies and hands
    /// messages to `delivery`.
    pub fn new(hostname: impl Into<String>, delivery: impl Delivery) -> SmtpServer {
        SmtpServer {
            config: Rc::new(Config {
                hostname: hostname.into(),
                max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
                max_recipients: DEFAULT_MAX_RECIPIENTS,
                tls: None,
                idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
                delivery: Rc::new(delivery),
            }),
        }
    }

    /// Accepts messages of at most `bytes` (as delivered: dots unstuffed,
    /// lines ended by `\r\n`), announced in the EHLO reply as `SIZE`. A
    /// larger one gets 552.
    pub fn with_max_message_size(mut self, bytes: usize) -> SmtpServer {
        Rc::make_mut(&mut self.config).max_message_size = bytes;
        self
    }

    /// Accepts at most `count` recipients a message; more get 452.
    pub fn with_max_recipients(mut self, count: usize) -> SmtpServer {
        Rc::make_mut(&mut self.config).max_recipients = count;
        self
    }

    /// Offers STARTTLS with `config` (see
    /// [`torsion::net::tls::server_config`]).
    pub fn with_starttls(mut self, config: Arc<ServerConfig>) -> SmtpServer {
        Rc::make_mut(&mut self.config).tls = Some(config);
        self
    }

    /// Closes a connection whose client has been quiet for `period`
    /// (after a 421 reply), or never with `None`. The timer runs on the
    /// reactor that serves the connection.
    pub fn with_idle_timeout(mut self, period: Option<Duration>) -> SmtpServer {
        Rc::make_mut(&mut self.config).idle_timeout = period;
        self
    }

    /// The protocol for one connection.
    pub fn protocol(&self) -> LineReceiver<Session> {
        LineReceiver::new(Session::new(self.config.clone())).with_max_length(MAX_COMMAND_LINE)
    }

    /// A factory that serves every connection (for
    /// [`Reactor::listen_tcp`](torsion::Reactor::listen_tcp) or an
    /// endpoint's `listen`).
    pub fn factory(&self) -> impl Factory + use<> {
        let server = self.clone();
        factory_fn(move |_: &Address| Some(server.protocol()))
    }
}

#[cfg(test)]
mod tests;
