//! WebSockets (RFC 6455): a [`WebSocketResource`] that upgrades HTTP
//! requests on the server, and [`connect_websocket`] / [`WebSocketClient`]
//! for the client, both giving the same [`WebSocket`] handle.
//!
//! A connection is served the way Twisted serves a TCP connection: a
//! [`WebSocketProtocol`], made per connection, is told when the WebSocket
//! opened, of each message, and when it closed; it answers through the
//! [`WebSocket`] handle it was given (send text or binary, ping, close with
//! a code and a reason). Pings are answered with pongs, and the close
//! handshake is carried out, without the protocol's help. Async code can
//! instead read a [`Messages`] stream (see [`WebSocketResource::from_async`]
//! and [`connect_websocket`]).
//!
//! Frames are parsed and built by tungstenite, fed from the connection's
//! buffer rather than from a blocking socket: nothing waits on the
//! reactor thread.
//!
//! Limits ([`WebSocketOptions`]): a message larger than
//! [`max_message_size`](WebSocketOptions::max_message_size) (default
//! 16 MiB) or a frame larger than
//! [`max_frame_size`](WebSocketOptions::max_frame_size) (default 16 MiB)
//! closes the connection with code 1009 (message too big); a malformed frame
//! closes it with 1002 (protocol error), invalid UTF-8 in a text message
//! with 1007. A panic in a protocol's callback closes that connection with
//! 1011 and nothing else.
//!
//! Stopping: when the [`Server`](crate::Server) that upgraded a connection
//! stops (as it does when its reactor stops), the connection is closed with
//! 1001 (going away), the peer's answer is waited for within the server's
//! shutdown timeout, and the protocol hears `closed`; a client's connection
//! does the same when its reactor stops.
//!
//! ```no_run
//! use torsion::Reactor;
//! use torsion::endpoints::server_from_string;
//! use torsion_web::Server;
//! use torsion_web::websocket::{Message, WebSocket, WebSocketProtocol, WebSocketResource};
//!
//! /// Sends every message back.
//! #[derive(Default)]
//! struct Echo {
//!     ws: Option<WebSocket>,
//! }
//!
//! impl WebSocketProtocol for Echo {
//!     fn opened(&mut self, ws: &WebSocket) {
//!         self.ws = Some(ws.clone());
//!     }
//!     fn message_received(&mut self, message: Message) {
//!         if let Some(ws) = &self.ws {
//!             let _ = ws.send(message);
//!         }
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let server = Server::new(WebSocketResource::new(Echo::default));
//! drop(server.listen(&reactor, &server_from_string(&reactor, "tcp:8080")?));
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod connection;
mod driver;
mod going_away;
mod handle;
pub(crate) mod handshake;
mod messages;
mod options;
mod resource;

use std::fmt;

use bytes::Bytes;

pub use client::{WebSocketClient, connect_websocket};
pub use handle::WebSocket;
pub use messages::Messages;
pub use options::WebSocketOptions;
pub use resource::WebSocketResource;
/// The close codes of RFC 6455 (section 7.4); `CloseCode::from(4000)` for
/// an application's own.
pub use tungstenite::protocol::frame::coding::CloseCode;

/// One WebSocket message (a whole message: fragments are joined).
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        }
    }

    /// The bytes of the message, text or binary.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
        }
    }

    /// The length of the payload in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 64;
        match self {
            Message::Text(text) if text.len() <= SHOWN => {
                f.debug_tuple("Text").field(text).finish()
            }
            Message::Text(text) => write!(f, "Text({} bytes)", text.len()),
            Message::Binary(bytes) if bytes.len() <= SHOWN => {
                f.debug_tuple("Binary").field(bytes).finish()
            }
            Message::Binary(bytes) => write!(f, "Binary({} bytes)", bytes.len()),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(text.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Message {
        Message::Binary(bytes)
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Message {
        Message::Binary(bytes.into())
    }
}

/// How a WebSocket ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason {
    /// The code the peer gave in its close frame when the close handshake
    /// completed ([`CloseCode::Status`], 1005, when its frame had none);
    /// otherwise the code this side closed with (1009, 1002, 1011...), or
    /// [`CloseCode::Abnormal`] (1006) when the connection just dropped.
    pub code: CloseCode,
    /// The reason that came with the code (may be empty).
    pub reason: String,
    /// True when both close frames were exchanged.
    pub clean: bool,
}

impl CloseReason {
    pub(crate) fn abnormal(reason: impl Into<String>) -> CloseReason {
        CloseReason {
            code: CloseCode::Abnormal,
            reason: reason.into(),
            clean: false,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code: u16 = self.code.into();
        write!(f, "{code}")?;
        if !self.reason.is_empty() {
            write!(f, " {:?}", self.reason)?;
        }
        if !self.clean {
            f.write_str(" (not clean)")?;
        }
        Ok(())
    }
}

/// One WebSocket connection's behaviour, made per connection by a
/// [`WebSocketResource`]'s factory (or given to
/// [`WebSocketClient::connect_protocol`]).
///
/// The callbacks run on the reactor thread, one at a time and in this
/// order: `opened` once, then `message_received` / `pong_received` for as
/// long as the connection is open, then `closed` once. Calling the
/// [`WebSocket`] from inside any of them is allowed. A panic in a callback
/// closes the connection with 1011 (internal error); `closed` is still
/// called.
pub trait WebSocketProtocol: 'static {
    /// The WebSocket is open; keep a clone of `ws` to send on it later.
    fn opened(&mut self, ws: &WebSocket) {
        let _ = ws;
    }

    /// A whole message arrived.
    fn message_received(&mut self, message: Message);

    /// A pong arrived (the answer to [`WebSocket::ping`], or unsolicited).
    fn pong_received(&mut self, payload: Bytes) {
        let _ = payload;
    }

    /// The connection is over; nothing more can be sent.
    fn closed(&mut self, reason: &CloseReason) {
        let _ = reason;
    }
}

/// Why a WebSocket operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// The WebSocket is closing or closed: nothing more can be sent.
    #[error("the WebSocket is closed")]
    Closed,
    /// The URL given to the client is not a `ws://` or `wss://` URL.
    #[error("invalid WebSocket URL {url:?}: {problem}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The server answered the upgrade request with something other than
    /// `101 Switching Protocols`.
    #[error("the server refused the WebSocket upgrade with {status}: {body}")]
    Rejected {
        /// The status the server answered with.
        status: http::StatusCode,
        /// The start of its answer's body.
        body: String,
    },
    /// The server switched protocols but its answer does not complete a
    /// WebSocket handshake (wrong accept key, unasked-for subprotocol...).
    #[error("invalid WebSocket handshake from the server: {0}")]
    Handshake(String),
    /// HTTP failed while upgrading.
    #[error("HTTP failed during the WebSocket handshake: {0}")]
    Http(#[from] hyper::Error),
}

impl WebSocketError {
    /// True for [`WebSocketError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, WebSocketError::Closed)
    }
}
