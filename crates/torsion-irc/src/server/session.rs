//! [`ServerProtocol`]: one client's connection to the server, and the
//! timer that PINGs it when it is quiet and drops it when it does not
//! answer.
//!
//! ```text
//!  quiet for ping_interval ──► PING :server ──► a line arrives ──► quiet again ...
//!                                   │
//!                                   └─ nothing for ping_timeout ──► "Ping timeout", closed
//! ```
//!
//! The timer is not moved on each line (that would cost a timer operation
//! a line): it fires, looks at when the client last spoke, and sleeps for
//! what is left.

use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use torsion::Failure;
use torsion::net::{Address, HalfClose, Protocol, Transport};
use torsion::protocols::{FrameContext, FrameHandler, FramedProtocol};

use super::Server;
use super::commands;
use super::state::{Client, ClientId};
use crate::message::Message;
use crate::numeric::Numeric;
use crate::{IrcCodec, IrcError};

/// The protocol of one client connection to an
/// [`IrcServer`](super::IrcServer), from
/// [`IrcServer::protocol`](super::IrcServer::protocol) or its factory.
pub struct ServerProtocol {
    framed: FramedProtocol<IrcCodec, Session>,
}

struct Session {
    server: Rc<Server>,
    host: String,
    id: Option<ClientId>,
}

impl ServerProtocol {
    pub(super) fn new(server: Rc<Server>, peer: &Address) -> ServerProtocol {
        let host = match peer {
            Address::Tcp(address) => address.ip().to_string(),
            _ => "localhost".to_owned(),
        };
        let session = Session {
            server,
            host,
            id: None,
        };
        ServerProtocol {
            framed: FramedProtocol::new(IrcCodec::new(), session),
        }
    }
}

impl FrameHandler<IrcCodec> for Session {
    fn connection_made(&mut self, ctx: &mut FrameContext<'_, IrcCodec>) {
        let Some(transport) = ctx.transport() else {
            return;
        };
        let server = &self.server;
        let mut state = server.state.borrow_mut();
        let id = state.next_id;
        state.next_id += 1;
        state.clients.insert(
            id,
            Client {
                transport: transport.clone(),
                host: self.host.clone(),
                nick: None,
                user: None,
                realname: String::new(),
                registered: false,
                negotiating: false,
                channels: Default::default(),
                last_seen: server.scheduler.now(),
                ping_sent: None,
                timer: None,
            },
        );
        self.id = Some(id);
        let timer = watch(server, id, server.config.ping_interval);
        if let Some(client) = state.clients.get_mut(&id) {
            client.timer = Some(timer);
        }
    }

    fn frame_received(&mut self, _ctx: &mut FrameContext<'_, IrcCodec>, message: Message) {
        let Some(id) = self.id else { return };
        let server = &self.server;
        let mut state = server.state.borrow_mut();
        if let Some(client) = state.clients.get_mut(&id) {
            client.last_seen = server.scheduler.now();
            client.ping_sent = None;
        }
        commands::handle(server, &mut state, id, &message);
        server.reap(&mut state);
    }

    /// A line over the limits gets `417` and is dropped; a malformed one
    /// is dropped. The connection goes on either way.
    fn decode_error(&mut self, ctx: &mut FrameContext<'_, IrcCodec>, error: IrcError) {
        let Some(id) = self.id else { return };
        let server = &self.server;
        let mut state = server.state.borrow_mut();
        match error {
            IrcError::LineTooLong { .. } => {
                server.reply(
                    &mut state,
                    id,
                    Numeric::ERR_INPUTTOOLONG,
                    &["Input line was too long"],
                );
                server.reap(&mut state);
            }
            IrcError::Io(_) => ctx.lose_connection(),
            error => tracing::debug!(%error, "dropped a line from an IRC client"),
        }
    }

    fn connection_lost(&mut self, _ctx: &mut FrameContext<'_, IrcCodec>, reason: Failure) {
        let Some(id) = self.id.take() else { return };
        let mut state = self.server.state.borrow_mut();
        tracing::debug!(%reason, "an IRC client's connection closed");
        // Gone already if it said QUIT or was dropped by the server.
        state.remove(id, "Connection closed");
        self.server.reap(&mut state);
    }
}

/// Checks on client `id` after `delay`.
fn watch(server: &Rc<Server>, id: ClientId, delay: Duration) -> torsion::time::DelayedCall {
    let weak: Weak<Server> = Rc::downgrade(server);
    server.scheduler.call_later_boxed(
        delay,
        Box::new(move || {
            if let Some(server) = weak.upgrade() {
                check(&server, id);
            }
        }),
    )
}

/// The timer fired: PING a quiet client, drop one that did not answer,
/// or sleep until the client has been quiet long enough.
fn check(server: &Rc<Server>, id: ClientId) {
    let config = &server.config;
    let mut state = server.state.borrow_mut();
    let now = server.scheduler.now();
    let Some(client) = state.clients.get_mut(&id) else {
        return;
    };
    let next = if client.ping_sent.is_some() {
        let waited = config.ping_interval + config.ping_timeout;
        let reason = format!("Ping timeout: {} seconds", waited.as_secs());
        server.disconnect(&mut state, id, &reason);
        server.reap(&mut state);
        return;
    } else {
        let quiet = now.saturating_duration_since(client.last_seen);
        if quiet < config.ping_interval {
            config.ping_interval - quiet
        } else {
            client.ping_sent = Some(now);
            let ping = Message::new("PING", [config.name.as_str()]);
            state.send(id, &ping);
            config.ping_timeout
        }
    };
    let timer = watch(server, id, next);
    if let Some(client) = state.clients.get_mut(&id) {
        client.timer = Some(timer);
    }
    server.reap(&mut state);
}

impl Protocol for ServerProtocol {
    fn connection_made(&mut self, transport: &Transport) {
        self.framed.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.framed.data_received(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        self.framed.connection_lost(reason);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.framed.read_connection_lost()
    }

    fn reading_resumed(&mut self) {
        self.framed.reading_resumed();
    }

    fn protocol_name(&self) -> &'static str {
        "irc server"
    }
}

impl fmt::Debug for ServerProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let session = self.framed.handler();
        f.debug_struct("ServerProtocol")
            .field("host", &session.host)
            .field("id", &session.id)
            .finish()
    }
}
