//! Endpoints: where to listen and where to connect, described by a string
//! (Twisted's `serverFromString` and `clientFromString`).
//!
//! A description is a type and `:`-separated arguments, positional or
//! `key=value`; a backslash makes the next character literal (`\:`, `\=`,
//! `\\`), and [`quote_string_argument`] escapes a value. Type names are
//! case-insensitive; keyword names are not.
//!
//! Servers ([`server_from_string`]):
//!
//! | description | |
//! |---|---|
//! | `tcp:PORT[:interface=IP][:backlog=N][:reusePort=true]` | TCP over IPv4, on every interface by default; backlog 50 |
//! | `tcp6:PORT[:interface=IP][:backlog=N][:reusePort=true]` | TCP over IPv6 (`interface=\:\:1`), on `::` by default |
//! | `unix:PATH[:mode=OCTAL][:backlog=N]` | a UNIX socket; mode 666 by default, as in Twisted |
//! | `tls:PORT:privateKey=KEY.pem[:certKey=CERT.pem][:interface=IP][:backlog=N][:handshakeTimeout=S][:reusePort=true]` | TLS over TCP; `certKey` defaults to the `privateKey` file; a connection whose handshake takes longer than `handshakeTimeout` seconds (default 30, 0 for no bound) is aborted; `ssl:` is the same |
//!
//! `reusePort=true` (on `tcp:`, `tcp6:` and `tls:`) sets SO_REUSEPORT on
//! the listening socket, so several sockets of the same user can listen
//! on one port and the kernel spreads new connections among them: what a
//! [`ReactorPool`](crate::reactor_pool::ReactorPool) does, one socket per
//! reactor. It is a torsion addition; Twisted has no such argument.
//!
//! Clients ([`client_from_string`]):
//!
//! | description | |
//! |---|---|
//! | `tcp:host=H:port=P[:timeout=S][:bindAddress=IP]` or `tcp:H:P` | TCP; the timeout is 30 s by default |
//! | `unix:path=PATH[:timeout=S]` or `unix:PATH` | a UNIX socket |
//! | `tls:host=H:port=P:caCerts=ROOTS.pem[:timeout=S][:bindAddress=IP][:alpn=h2,http/1.1][:handshakeTimeout=S]` or `tls:H:P:caCerts=..` | TLS over TCP, verifying the server's certificate against `caCerts` and its name against `H` (also sent as SNI); the handshake bound is as for servers; `ssl:` is the same |
//!
//! `caCerts` is required for TLS clients: torsion does not read the
//! system's trust roots, so without it no server could be verified.
//!
//! A host that is not an IP address is resolved without blocking the
//! reactor, by the reactor's [`NameResolver`](crate::net::NameResolver)
//! (the system's lookup on a short-lived thread, unless
//! [`Reactor::install_name_resolver`](crate::Reactor::install_name_resolver)
//! installed another); its addresses are tried in turn, each
//! with the timeout, until one connects. A name that does not resolve fails
//! with a [`DnsLookupError`](crate::error::DnsLookupError) naming it.
//!
//! Endpoints work on anything that implements [`Network`](crate::net::Network):
//! a [`Reactor`](crate::Reactor), or a
//! [`MemoryReactor`](crate::testing::MemoryReactor) that records what was
//! asked of it.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::time::Duration;
//! use torsion::endpoints::{client_from_string, server_from_string};
//! use torsion::net::{Protocol, Transport, factory_fn};
//! use torsion::time::Scheduler;
//! use torsion::{Failure, Reactor};
//!
//! /// Says hello to whoever connects.
//! struct Greeter;
//! impl Protocol for Greeter {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         transport.write(b"hello");
//!         transport.lose_connection();
//!     }
//!     fn data_received(&mut self, _: &[u8]) {}
//! }
//!
//! /// Keeps what it receives.
//! struct Collector(Rc<RefCell<Vec<u8>>>);
//! impl Protocol for Collector {
//!     fn data_received(&mut self, data: &[u8]) {
//!         self.0.borrow_mut().extend_from_slice(data);
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let received = Rc::new(RefCell::new(Vec::new()));
//! let server = server_from_string(&reactor, "tcp:0:interface=127.0.0.1")?;
//! let (r, into) = (reactor.clone(), received.clone());
//! let _ = server
//!     .listen(factory_fn(|_| Some(Greeter)))
//!     .then(move |port| {
//!         let address = port.tcp_address().expect("a TCP port");
//!         let client = client_from_string(&r, &format!("tcp:127.0.0.1:{}", address.port()))?;
//!         Ok::<_, Failure>(client.connect(Collector(into)).map(move |_| port))
//!     });
//! let stopper = reactor.clone();
//! reactor.call_later(Duration::from_millis(200), move || stopper.stop().unwrap());
//! reactor.run()?;
//! assert_eq!(*received.borrow(), b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod parse;
mod server;

#[cfg(test)]
mod tests;

pub use client::{ClientEndpoint, client_from_string};
pub use parse::quote_string_argument;
pub use server::{ServerEndpoint, server_from_string};

use crate::net::tls::TlsConfigError;

/// Why an endpoint description was refused. Each names the part at fault.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The description is empty or has no type.
    #[error("empty endpoint description")]
    Empty,
    /// The type before the first `:` is not one torsion knows.
    #[error("unknown endpoint type {0:?}")]
    UnknownType(String),
    /// The description ends in a backslash that escapes nothing.
    #[error("endpoint description {0:?} ends with a lone backslash")]
    TrailingBackslash(String),
    /// A required argument is missing (or empty).
    #[error("{endpoint}: missing {argument}")]
    Missing {
        /// The endpoint type.
        endpoint: &'static str,
        /// The argument's name.
        argument: &'static str,
    },
    /// A port that is not a number from 0 to 65535.
    #[error("{endpoint}: bad port number {value:?}")]
    BadPort {
        /// The endpoint type.
        endpoint: &'static str,
        /// What was given.
        value: String,
    },
    /// Another argument with a value that does not parse.
    #[error("{endpoint}: bad {argument} {value:?}: expected {expected}")]
    BadValue {
        /// The endpoint type.
        endpoint: &'static str,
        /// The argument's name.
        argument: &'static str,
        /// What was given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A `key=value` whose key this endpoint type does not take.
    #[error("{endpoint}: unknown keyword {keyword:?}")]
    UnknownKeyword {
        /// The endpoint type.
        endpoint: &'static str,
        /// The key.
        keyword: String,
    },
    /// More positional arguments than the type takes.
    #[error("{endpoint}: unexpected argument {argument:?}")]
    TooManyArguments {
        /// The endpoint type.
        endpoint: &'static str,
        /// The first one too many.
        argument: String,
    },
    /// The same argument given twice (positionally and as a keyword, say).
    #[error("{endpoint}: {argument} given twice")]
    Duplicate {
        /// The endpoint type.
        endpoint: &'static str,
        /// The argument's name.
        argument: &'static str,
    },
    /// A TLS client without `caCerts`.
    #[error(
        "{endpoint}: caCerts=FILE is required: torsion has no system trust roots to verify the server with"
    )]
    NoTrustRoots {
        /// The endpoint type.
        endpoint: &'static str,
    },
    /// The certificates, key or trust roots could not be loaded.
    #[error("{endpoint}: {source}")]
    Tls {
        /// The endpoint type.
        endpoint: &'static str,
        /// What went wrong.
        #[source]
        source: TlsConfigError,
    },
}
