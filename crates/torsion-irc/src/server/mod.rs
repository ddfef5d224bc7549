//! A small IRC server: registration (with IRCv3 `CAP` negotiation held
//! open until `CAP END`), channels with topics, private and channel
//! messages, nickname changes, and QUIT told to everyone who shared a
//! channel with the client, whether it said QUIT, vanished, was too slow
//! to read, or stopped answering PINGs.
//!
//! Enough for a standard client (irssi, WeeChat, Python's `irc`) to chat
//! on; not a network: one server, no operators, no modes but the fixed
//! `+nt`, no services. Each connection is an [`IrcCodec`](crate::IrcCodec)
//! on the core's framing layer; a line over the limits is answered with
//! `417 ERR_INPUTTOOLONG` and dropped, and the connection goes on.
//!
//! ```
//! use torsion::Reactor;
//! use torsion_irc::server::{IrcServer, ServerConfig};
//!
//! let reactor = Reactor::new()?;
//! let server = IrcServer::new(ServerConfig::new("irc.example.org"), reactor.clone());
//! let port = reactor.listen_tcp("127.0.0.1:0".parse()?, server.factory())?;
//! println!("IRC on {}", port.address());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod channels;
mod commands;
mod session;
mod state;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use torsion::net::{Address, Factory};
use torsion::time::Scheduler;

pub use session::ServerProtocol;

use crate::message::{Message, Prefix};
use crate::numeric::Numeric;
use state::{ClientId, State};

/// How a server names itself and how long it waits for quiet clients.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The server's name, the prefix of its replies.
    pub name: String,
    /// The network's name, in the welcome and ISUPPORT `NETWORK`.
    pub network: String,
    /// The message of the day, line by line; empty for none (`422`).
    pub motd: Vec<String>,
    /// After this long without a line from a client, it is sent a PING.
    pub ping_interval: Duration,
    /// After this long without an answer to that PING, it is
    /// disconnected ("Ping timeout").
    pub ping_timeout: Duration,
    /// A client with more than this many bytes written to it and not yet
    /// sent is disconnected ("SendQ exceeded") rather than buffered
    /// without end.
    pub max_sendq: usize,
}

impl ServerConfig {
    /// A server called `name`: PING after 90 s of silence, disconnect
    /// 60 s later, a send queue of 1 MiB, no message of the day.
    pub fn new(name: &str) -> ServerConfig {
        ServerConfig {
            name: name.to_owned(),
            network: "torsion".to_owned(),
            motd: Vec::new(),
            ping_interval: Duration::from_secs(90),
            ping_timeout: Duration::from_secs(60),
            max_sendq: 1 << 20,
        }
    }
}

/// A running IRC server's state, shared by its connections: a cheap
/// handle to build connections with ([`factory`](IrcServer::factory)) and
/// to look at who is where.
#[derive(Clone)]
pub struct IrcServer {
    inner: Rc<Server>,
}

pub(crate) struct Server {
    config: ServerConfig,
    scheduler: Rc<dyn Scheduler>,
    created: String,
    state: RefCell<State>,
}

impl IrcServer {
    /// A server with `config`, whose PING timers run on `scheduler` (the
    /// reactor, or a test's [`Clock`](torsion::testing::Clock)).
    pub fn new(config: ServerConfig, scheduler: impl Scheduler + 'static) -> IrcServer {
        let created = creation_time();
        let state = State {
            max_sendq: config.max_sendq,
            next_id: 1,
            ..State::default()
        };
        IrcServer {
            inner: Rc::new(Server {
                config,
                scheduler: Rc::new(scheduler),
                created,
                state: RefCell::new(state),
            }),
        }
    }

    /// The protocol for one connection from `peer`.
    pub fn protocol(&self, peer: &Address) -> ServerProtocol {
        ServerProtocol::new(self.inner.clone(), peer)
    }

    /// A factory for listening: each connection gets a
    /// [`ServerProtocol`] of this server.
    pub fn factory(&self) -> impl Factory + use<> {
        let server = self.clone();
        torsion::net::factory_fn(move |peer: &Address| Some(server.protocol(peer)))
    }

    /// The server's configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// How many connections the server has, registered or not.
    pub fn connections(&self) -> usize {
        self.inner.state.borrow().clients.len()
    }

    /// The registered nicknames, sorted.
    pub fn nicknames(&self) -> Vec<String> {
        let state = self.inner.state.borrow();
        let mut nicks: Vec<String> = state
            .clients
            .values()
            .filter(|client| client.registered)
            .filter_map(|client| client.nick.clone())
            .collect();
        nicks.sort();
        nicks
    }

    /// The nicknames in `channel`, sorted; empty if it does not exist.
    pub fn members(&self, channel: &str) -> Vec<String> {
        let state = self.inner.state.borrow();
        let Some(channel) = state.channels.get(&state::key(channel)) else {
            return Vec::new();
        };
        let mut nicks: Vec<String> = channel
            .members
            .iter()
            .filter_map(|id| state.clients.get(id)?.nick.clone())
            .collect();
        nicks.sort();
        nicks
    }

    /// `channel`'s topic, if it has one.
    pub fn topic(&self, channel: &str) -> Option<String> {
        let state = self.inner.state.borrow();
        let channel = state.channels.get(&state::key(channel))?;
        channel.topic.as_ref().map(|topic| topic.text.clone())
    }
}

impl Server {
    fn prefix(&self) -> Prefix {
        Prefix::new(self.config.name.clone())
    }

    /// `:server NNN target params...`
    fn reply(&self, state: &mut State, id: ClientId, numeric: Numeric, params: &[&str]) {
        let Some(client) = state.clients.get(&id) else {
            return;
        };
        let params = std::iter::once(client.target()).chain(params.iter().copied());
        let message = Message::new(numeric.as_command(), params).with_prefix(self.prefix());
        state.send(id, &message);
    }

    /// Says goodbye to client `id` with `ERROR`, tells its channels it
    /// quit with `reason`, and closes its connection.
    fn disconnect(&self, state: &mut State, id: ClientId, reason: &str) {
        let Some(client) = state.remove(id, reason) else {
            return;
        };
        let farewell = format!("Closing Link: {} ({reason})", client.host);
        if let Some(line) = state::encode(&Message::new("ERROR", [farewell])) {
            client.transport.write(&line);
        }
        client.transport.lose_connection();
    }

    /// Drops the clients that fell too far behind reading.
    fn reap(&self, state: &mut State) {
        while let Some(id) = state.overflowed.pop() {
            if let Some(client) = state.remove(id, "SendQ exceeded") {
                client.transport.abort_connection();
            }
        }
    }
}

/// The server's start time for `003 RPL_CREATED`, as seconds since the
/// epoch (no calendar arithmetic is worth a dependency here).
fn creation_time() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    format!("at {seconds} (seconds since 1970)")
}

impl fmt::Debug for IrcServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.borrow();
        f.debug_struct("IrcServer")
            .field("name", &self.inner.config.name)
            .field("connections", &state.clients.len())
            .field("channels", &state.channels.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
