//! [`WebSocket`]: the cheap, cloneable handle to one open connection.

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;

use bytes::Bytes;
use torsion::net::Address;
use torsion::{Deferred, Reactor};
use tungstenite::protocol::Role;

use super::connection::Connection;
use super::{CloseCode, CloseReason, Message, WebSocketError, WebSocketOptions, WebSocketProtocol};
use super::{driver, going_away};
use crate::upgrade::Handover;

/// What is known of a connection from its handshake.
#[derive(Debug)]
pub(crate) struct Details {
    pub(crate) uri: http::Uri,
    pub(crate) headers: http::HeaderMap,
    pub(crate) subprotocol: Option<String>,
}

/// A handle to one WebSocket connection: send on it, close it, watch its
/// flow. Clones share the connection; the handle stays valid (and sending
/// fails with [`WebSocketError::Closed`]) after the connection ends.
///
/// Sending never waits: a message is framed and handed to the transport at
/// once. A producer that may outpace its reader checks
/// [`buffered_amount`](Self::buffered_amount) or awaits
/// [`ready`](Self::ready) between messages.
#[derive(Clone)]
pub struct WebSocket {
    pub(crate) connection: Rc<RefCell<Connection>>,
    details: Rc<Details>,
    peer: Rc<Address>,
}

impl WebSocket {
    /// Starts serving a connection whose handshake is done: `protocol` is
    /// told it opened, then of what arrives, by a task on `reactor`. The
    /// connection goes away (1001) when the server that upgraded it stops,
    /// or, without one, when the reactor stops.
    pub(crate) fn start(
        reactor: &Reactor,
        upgraded: Handover,
        role: Role,
        options: WebSocketOptions,
        details: Details,
        mut protocol: Box<dyn WebSocketProtocol>,
    ) -> WebSocket {
        let Handover {
            stream,
            already_read,
            overseer,
        } = upgraded;
        let peer = Rc::new(stream.transport().peer());
        let connection = Rc::new_cyclic(|this| {
            RefCell::new(Connection::new(
                this.clone(),
                reactor,
                stream,
                already_read,
                role,
                options,
            ))
        });
        let ws = WebSocket {
            connection,
            details: Rc::new(details),
            peer,
        };
        // Told before anyone holding the handle can send on it.
        driver::call(&ws, &mut protocol, |protocol| protocol.opened(&ws));
        // After `opened`: a server already stopping closes it at once.
        let going_away_reason = match role {
            Role::Server => "server shutting down",
            Role::Client => "client shutting down",
        };
        let watch = going_away::watch(&ws, reactor, overseer, going_away_reason);
        drop(reactor.spawn(driver::drive(ws.clone(), protocol, watch)));
        ws
    }

    /// Sends a text or binary message.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), WebSocketError> {
        let message = match message.into() {
            Message::Text(text) => tungstenite::Message::text(text),
            Message::Binary(data) => tungstenite::Message::binary(data),
        };
        self.connection.borrow_mut().send(message)
    }

    /// Sends a text message.
    pub fn send_text(&self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(Message::Binary(data.into()))
    }

    /// Sends a ping; the peer answers with a pong carrying the same
    /// payload ([`WebSocketProtocol::pong_received`]). A control frame
    /// carries at most 125 bytes: a longer payload is cut.
    pub fn ping(&self, payload: impl Into<Bytes>) -> Result<(), WebSocketError> {
        let mut payload: Bytes = payload.into();
        payload.truncate(125);
        self.connection
            .borrow_mut()
            .send(tungstenite::Message::Ping(payload))
    }

    /// Starts the close handshake with `code` and `reason` (at most 123
    /// bytes; longer is cut). Messages still arriving are delivered until
    /// the peer answers; the connection then ends and the protocol's
    /// `closed` is called. If the peer does not answer within the close
    /// timeout the connection is dropped. Does nothing once closing.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.connection.borrow_mut().close(code, reason);
    }

    /// Drops the connection at once, without a close handshake.
    pub fn abort(&self) {
        self.connection.borrow_mut().abort();
    }

    /// True until the connection starts closing.
    pub fn is_open(&self) -> bool {
        self.connection.borrow().can_send()
    }

    /// How the connection ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.connection.borrow().close_reason()
    }

    /// Fires with how the connection ended, once it has.
    pub fn when_closed(&self) -> Deferred<CloseReason> {
        let (deferred, resolver) = Deferred::new();
        self.connection.borrow_mut().add_close_waiter(resolver);
        deferred
    }

    /// The peer's address.
    pub fn peer(&self) -> &Address {
        &self.peer
    }

    /// The URI of the upgrade request (on the server, the path and query
    /// the client asked for; on the client, the URL connected to).
    pub fn uri(&self) -> &http::Uri {
        &self.details.uri
    }

    /// On the server, the headers of the client's upgrade request; on the
    /// client, those of the server's answer.
    pub fn handshake_headers(&self) -> &http::HeaderMap {
        &self.details.headers
    }

    /// The subprotocol both sides agreed on, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.details.subprotocol.as_deref()
    }

    /// Bytes sent and not yet taken by the socket (the browser API's
    /// `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.connection.borrow().stream.transport().buffered()
    }

    /// Waits until the bytes buffered for sending are below the transport's
    /// high-water mark (64 KiB): await it between messages to send no faster
    /// than the peer reads. Fails once the connection is closing.
    pub async fn ready(&self) -> Result<(), WebSocketError> {
        poll_fn(|cx| self.connection.borrow_mut().poll_ready(cx)).await
    }

    /// Stops reading from the peer: no more messages are delivered, and
    /// once the socket's buffer fills TCP slows the sender down. Closing
    /// resumes reading (to see the peer's answer).
    pub fn pause_reading(&self) {
        self.connection.borrow_mut().paused = true;
    }

    /// Resumes reading after [`pause_reading`](Self::pause_reading).
    pub fn resume_reading(&self) {
        let mut connection = self.connection.borrow_mut();
        if connection.paused {
            connection.paused = false;
            connection.wake_driver();
        }
    }
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("peer", &self.peer)
            .field("uri", &self.details.uri)
            .field("open", &self.is_open())
            .finish()
    }
}
