//! The client: Twisted's `IRCClient` in Rust's shape. A [`ClientHandler`]
//! gets the events (signed on, joined, a message, someone left), an
//! [`IrcClient`] handle sends (join, part, msg, notice, describe, nick,
//! topic, quit), and a [`ClientProtocol`] is what a connection runs.
//!
//! The protocol registers on connecting (`PASS`, `NICK`, `USER`),
//! answers `PING` with `PONG` at once, tries another nickname when the
//! one asked for is taken (`433`, the handler's
//! [`alter_collided_nick`](ClientHandler::alter_collided_nick), by default
//! with `_` added), answers CTCP `VERSION` and `PING`, and sends
//! everything else through [flood control](crate::FloodControl). Long
//! texts are cut into several messages that each fit in a line; a text
//! with line breaks is sent line by line.

mod dispatch;
mod protocol;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use torsion::defer::Resolver;
use torsion::net::Transport;
use torsion::protocols::{BytesMut, Encoder};
use torsion::time::Scheduler;
use torsion::{Deferred, Failure};

pub use protocol::ClientProtocol;

use crate::flood::{FloodControl, Throttle};
use crate::message::{Message, Prefix};
use crate::{IrcCodec, IrcError, ctcp};

/// Who the client says it is, and how fast it may send.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The nickname asked for; the server may give another (see
    /// [`IrcClient::nickname`]).
    pub nickname: String,
    /// The user name (`USER`'s first parameter).
    pub username: String,
    /// The "real name" (`USER`'s last parameter).
    pub realname: String,
    /// The server password (`PASS`), if it needs one.
    pub password: Option<String>,
    /// Flood control on everything sent but `PONG`.
    pub flood: FloodControl,
    /// The answer to CTCP `VERSION`, or `None` to stay silent.
    pub version: Option<String>,
}

impl ClientConfig {
    /// A client called `nickname` (its user and real name too), with the
    /// default flood control.
    pub fn new(nickname: &str) -> ClientConfig {
        ClientConfig {
            nickname: nickname.to_owned(),
            username: nickname.to_owned(),
            realname: nickname.to_owned(),
            password: None,
            flood: FloodControl::default(),
            version: Some(format!("torsion-irc {}", env!("CARGO_PKG_VERSION"))),
        }
    }
}

/// What a client does with what the server tells it (Twisted's
/// `IRCClient` callbacks). Every method has a default that does nothing,
/// but [`alter_collided_nick`](ClientHandler::alter_collided_nick).
///
/// Each gets the [`IrcClient`] to answer with. `target` is where a
/// message was sent: a channel, or this client's nickname for a private
/// one ([`IrcClient::reply_target`] picks where to answer).
#[allow(unused_variables)]
pub trait ClientHandler: 'static {
    /// Every message, before the callbacks below: the place for numerics
    /// and commands this trait has no callback for.
    fn message_received(&mut self, client: &IrcClient, message: &Message) {}

    /// Registration succeeded (`001`).
    fn signed_on(&mut self, client: &IrcClient) {}

    /// This client joined `channel`.
    fn joined(&mut self, client: &IrcClient, channel: &str) {}

    /// This client left `channel`.
    fn left(&mut self, client: &IrcClient, channel: &str) {}

    /// This client was kicked from `channel` by `by`.
    fn kicked(&mut self, client: &IrcClient, channel: &str, by: &str, reason: &str) {}

    /// A PRIVMSG (not CTCP) from `from` to `target`.
    fn privmsg(&mut self, client: &IrcClient, from: &Prefix, target: &str, text: &str) {}

    /// A NOTICE to `target`; `from` is `None` for the server's notices
    /// before registration.
    fn notice(&mut self, client: &IrcClient, from: Option<&Prefix>, target: &str, text: &str) {}

    /// A CTCP ACTION (`/me`) from `from` to `target`.
    fn action(&mut self, client: &IrcClient, from: &Prefix, target: &str, action: &str) {}

    /// Another user joined `channel`.
    fn user_joined(&mut self, client: &IrcClient, nick: &str, channel: &str) {}

    /// Another user left `channel`.
    fn user_left(&mut self, client: &IrcClient, nick: &str, channel: &str) {}

    /// Another user was kicked from `channel`.
    fn user_kicked(&mut self, client: &IrcClient, nick: &str, channel: &str, by: &str) {}

    /// Another user quit IRC.
    fn user_quit(&mut self, client: &IrcClient, nick: &str, reason: &str) {}

    /// Another user changed nickname.
    fn user_renamed(&mut self, client: &IrcClient, old: &str, new: &str) {}

    /// This client's nickname changed (the server confirmed a
    /// [`set_nick`](IrcClient::set_nick)).
    fn nick_changed(&mut self, client: &IrcClient, nick: &str) {}

    /// A channel's topic, on joining (`332`, `by` is `None`) or when
    /// someone changes it.
    fn topic_updated(&mut self, client: &IrcClient, channel: &str, by: Option<&str>, topic: &str) {}

    /// The nickname `nick` is taken while signing on: the one to try
    /// next, or `None` to give up (the connection is closed and
    /// [`IrcClient::signed_on`] fails with [`IrcError::NicknameInUse`]).
    /// By default `nick` with `_` added, as Twisted does.
    fn alter_collided_nick(&mut self, client: &IrcClient, nick: &str) -> Option<String> {
        Some(format!("{nick}_"))
    }

    /// The connection closed.
    fn connection_lost(&mut self, client: &IrcClient, reason: &Failure) {}
}

/// The handle an IRC client sends with: cheap to clone, usable from any
/// callback on the reactor's thread. Sends before the connection is made
/// or after it closed are dropped.
#[derive(Clone)]
pub struct IrcClient {
    inner: Rc<Inner>,
}

struct Inner {
    config: ClientConfig,
    throttle: Throttle,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    nickname: String,
    signed_on: bool,
    connected: bool,
    waiting: Vec<Resolver<String>>,
}

impl IrcClient {
    /// A client with `config` whose events go to `handler`, and the
    /// protocol to connect with (to an endpoint's `connect`, say). Flood
    /// control runs on `scheduler`'s timers: the reactor, or a test's
    /// [`Clock`](torsion::testing::Clock).
    pub fn new<H: ClientHandler>(
        config: ClientConfig,
        handler: H,
        scheduler: impl Scheduler + 'static,
    ) -> (IrcClient, ClientProtocol<H>) {
        let client = IrcClient {
            inner: Rc::new(Inner {
                throttle: Throttle::new(config.flood, Rc::new(scheduler)),
                state: RefCell::new(State {
                    nickname: config.nickname.clone(),
                    ..State::default()
                }),
                config,
            }),
        };
        let protocol = ClientProtocol::new(client.clone(), handler);
        (client, protocol)
    }

    /// The nickname: the one being tried before signing on, the one the
    /// server confirmed after.
    pub fn nickname(&self) -> String {
        self.inner.state.borrow().nickname.clone()
    }

    /// Whether the server has welcomed this client.
    pub fn is_signed_on(&self) -> bool {
        self.inner.state.borrow().signed_on
    }

    /// Fires with the nickname once the server has welcomed this client
    /// (at once if it has); fails with [`IrcError::ConnectionLost`] or
    /// [`IrcError::NicknameInUse`] if it never does.
    pub fn signed_on(&self) -> Deferred<String> {
        let mut state = self.inner.state.borrow_mut();
        if state.signed_on {
            return Deferred::succeed(state.nickname.clone());
        }
        let (deferred, resolver) = Deferred::new();
        state.waiting.push(resolver);
        deferred
    }

    /// Where to answer a message sent to `target` by `from`: the channel,
    /// or the sender for a private message.
    pub fn reply_target<'a>(&self, from: &'a Prefix, target: &'a str) -> &'a str {
        if self.is_me(target) {
            from.nick()
        } else {
            target
        }
    }

    /// Joins `channel`.
    pub fn join(&self, channel: &str) {
        self.send_or_log(Message::new("JOIN", [channel]));
    }

    /// Joins `channel` with its key.
    pub fn join_with_key(&self, channel: &str, key: &str) {
        self.send_or_log(Message::new("JOIN", [channel, key]));
    }

    /// Leaves `channel`, saying `reason` if given.
    pub fn part(&self, channel: &str, reason: Option<&str>) {
        let params = std::iter::once(channel).chain(reason);
        self.send_or_log(Message::new("PART", params));
    }

    /// Sends `text` to `target` (a channel or a nickname), in as many
    /// PRIVMSGs as its lines and the line length need.
    pub fn msg(&self, target: &str, text: &str) {
        self.send_text("PRIVMSG", target, text);
    }

    /// Sends `text` to `target` as NOTICEs (which bots answer with, since
    /// nobody answers a notice automatically).
    pub fn notice(&self, target: &str, text: &str) {
        self.send_text("NOTICE", target, text);
    }

    /// Sends a CTCP ACTION (`/me action`) to `target`.
    pub fn describe(&self, target: &str, action: &str) {
        self.send_or_log(Message::new(
            "PRIVMSG",
            [target, &ctcp::quote("ACTION", action)],
        ));
    }

    /// Asks for a new nickname; [`ClientHandler::nick_changed`] follows
    /// when the server agrees.
    pub fn set_nick(&self, nickname: &str) {
        if !self.is_signed_on() {
            self.inner.state.borrow_mut().nickname = nickname.to_owned();
        }
        self.send_or_log(Message::new("NICK", [nickname]));
    }

    /// Sets `channel`'s topic.
    pub fn set_topic(&self, channel: &str, topic: &str) {
        self.send_or_log(Message::new("TOPIC", [channel, topic]));
    }

    /// Says goodbye; the server closes the connection.
    pub fn quit(&self, reason: &str) {
        self.send_or_log(Message::new("QUIT", [reason]));
    }

    /// Sends `message` through flood control, once it is valid and fits
    /// in a line; otherwise nothing is sent.
    pub fn send(&self, message: &Message) -> Result<(), IrcError> {
        let mut line = BytesMut::new();
        IrcCodec::new().encode(message, &mut line)?;
        self.inner.throttle.send(line.to_vec());
        Ok(())
    }

    /// How many lines wait for flood control to let them go.
    pub fn queued(&self) -> usize {
        self.inner.throttle.queued()
    }

    /// Whether `name` is this client's nickname (ASCII case folded).
    pub fn is_me(&self, name: &str) -> bool {
        self.inner
            .state
            .borrow()
            .nickname
            .eq_ignore_ascii_case(name)
    }

    fn send_or_log(&self, message: Message) {
        if let Err(error) = self.send(&message) {
            tracing::warn!(%error, command = %message.command, "an IRC message was not sent");
        }
    }

    /// Cuts `text` into lines, and lines into pieces that fit once the
    /// server has put our prefix in front.
    fn send_text(&self, command: &str, target: &str, text: &str) {
        let room = self.text_room(command, target);
        for line in text.split('\n').map(|line| line.trim_end_matches('\r')) {
            if line.is_empty() {
                continue;
            }
            for piece in split_at_most(line, room) {
                self.send_or_log(Message::new(command, [target, piece]));
            }
        }
    }

    /// The longest text a message to `target` can carry: 512 bytes less
    /// `\r\n`, the command and target, and the prefix the server adds
    /// when relaying (`:nick!user@host `, a host counted as 63 bytes,
    /// the most a hostname has).
    fn text_room(&self, command: &str, target: &str) -> usize {
        let prefix = 1 + self.nickname().len() + 1 + self.inner.config.username.len() + 1 + 63 + 1;
        let fixed = command.len() + 1 + target.len() + 2;
        (crate::MAX_LINE_LENGTH - 2)
            .saturating_sub(prefix + fixed)
            .max(16)
    }

    // What the protocol tells the handle.

    pub(crate) fn connected(&self, transport: Transport) {
        self.inner.throttle.attach(transport);
        self.inner.state.borrow_mut().connected = true;
        let config = &self.inner.config;
        if let Some(password) = &config.password {
            self.send_or_log(Message::new("PASS", [password.as_str()]));
        }
        let nickname = self.nickname();
        self.send_or_log(Message::new("NICK", [nickname]));
        self.send_or_log(Message::new(
            "USER",
            [config.username.as_str(), "0", "*", config.realname.as_str()],
        ));
    }

    pub(crate) fn welcomed(&self, nickname: &str) {
        let waiting = {
            let mut state = self.inner.state.borrow_mut();
            state.signed_on = true;
            state.nickname = nickname.to_owned();
            std::mem::take(&mut state.waiting)
        };
        for resolver in waiting {
            resolver.resolve(nickname.to_owned());
        }
    }

    pub(crate) fn renamed(&self, nickname: &str) {
        self.inner.state.borrow_mut().nickname = nickname.to_owned();
    }

    /// Fails the waiting `signed_on` Deferreds.
    pub(crate) fn gave_up(&self, error: impl Fn() -> IrcError) {
        let waiting = std::mem::take(&mut self.inner.state.borrow_mut().waiting);
        for resolver in waiting {
            resolver.reject(Failure::new(error()));
        }
    }

    pub(crate) fn disconnected(&self) {
        self.inner.throttle.detach();
        self.inner.state.borrow_mut().connected = false;
        self.gave_up(|| IrcError::ConnectionLost("signing on"));
    }

    pub(crate) fn pong(&self, message: &Message) {
        let pong = Message::new("PONG", message.params.iter().cloned());
        let mut line = BytesMut::new();
        if IrcCodec::new().encode(&pong, &mut line).is_ok() {
            self.inner.throttle.send_now(&line);
        }
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.inner.config
    }
}

/// `text` in pieces of at most `room` bytes, cut at a space when one is
/// near the end and never inside a character.
fn split_at_most(text: &str, room: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = rest[..cut].rfind(' ').filter(|&space| space > cut / 2) {
            cut = space + 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

impl fmt::Debug for IrcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.borrow();
        f.debug_struct("IrcClient")
            .field("nickname", &state.nickname)
            .field("signed_on", &state.signed_on)
            .field("connected", &state.connected)
            .field("throttle", &self.inner.throttle)
            .finish()
    }
}

#[cfg(test)]
mod tests;
