//! IRC on torsion, in the shape of Twisted's `twisted.words.protocols.irc`:
//! a client protocol with callbacks ([`ClientHandler`], Twisted's
//! `IRCClient`) and a handle to send with ([`IrcClient`]), a small server
//! ([`IrcServer`]) that standard clients can chat on, and what both are
//! made of: [`Message`] (IRCv3 tags, prefix, command, parameters),
//! [`Numeric`] replies, and [`IrcCodec`], the line codec with IRC's limits
//! on the core's [`LineCodec`](torsion::protocols::LineCodec).
//!
//! The client signs on (`PASS`, `NICK`, `USER`), answers `PING`, picks
//! another nickname when its own is taken, parses numerics and tags,
//! answers CTCP `VERSION` and `PING`, sends CTCP `ACTION`s, cuts long
//! texts to fit a line, and sends through [`FloodControl`]: a burst at
//! once, then one line per interval on the reactor's timers.
//!
//! ```
//! use torsion::endpoints::client_from_string;
//! use torsion::{Failure, Reactor};
//! use torsion_irc::{ClientConfig, ClientHandler, IrcClient, IrcServer, ServerConfig};
//!
//! /// Joins #rust as soon as the server has welcomed it.
//! struct Joiner;
//!
//! impl ClientHandler for Joiner {
//!     fn signed_on(&mut self, client: &IrcClient) {
//!         client.join("#rust");
//!     }
//!     fn joined(&mut self, client: &IrcClient, channel: &str) {
//!         client.msg(channel, "hello from torsion");
//!         client.quit("that was all");
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let server = IrcServer::new(ServerConfig::new("irc.example.org"), reactor.clone());
//! let port = reactor.listen_tcp("127.0.0.1:0".parse()?, server.factory())?;
//! let address = format!("tcp:host=127.0.0.1:port={}", port.tcp_address().unwrap().port());
//!
//! let r = reactor.clone();
//! let done = reactor.spawn(async move {
//!     let (client, protocol) = IrcClient::new(ClientConfig::new("ferris"), Joiner, r.clone());
//!     client_from_string(&r, &address)?.connect(protocol).await?;
//!     assert_eq!(client.signed_on().await?, "ferris");
//!     r.stop()?;
//!     Ok::<(), Failure>(())
//! });
//! reactor.run()?;
//! # assert!(done.is_fired());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The book's chapter is `docs/irc.md`; `examples/bot.rs` is a bot that
//! answers in a channel.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

pub mod client;
mod codec;
pub mod ctcp;
mod error;
mod flood;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod message;
mod numeric;
pub mod server;

pub use client::{ClientConfig, ClientHandler, ClientProtocol, IrcClient};
pub use codec::{IrcCodec, MAX_LINE_LENGTH, MAX_TAGS_LENGTH};
pub use error::{IrcError, LinePart};
pub use flood::FloodControl;
pub use message::{Message, Prefix, Tag};
pub use numeric::Numeric;
pub use server::{IrcServer, ServerConfig, ServerProtocol};

/// docs/irc.md, compiled as doctests.
#[doc = include_str!("../../../docs/irc.md")]
#[cfg(doctest)]
pub struct IrcDoctests;
