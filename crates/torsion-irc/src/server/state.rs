//! Who is connected and which channels they are in; sending to one
//! client, a channel, or everyone who shares a channel with a client.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use torsion::net::Transport;
use torsion::time::DelayedCall;

use crate::MAX_LINE_LENGTH;
use crate::message::{Message, Prefix};

/// A connection's number on its server.
pub(super) type ClientId = u64;

/// Names compare with ASCII case folding (ISUPPORT `CASEMAPPING=ascii`).
pub(super) fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

pub(super) struct Client {
    pub transport: Transport,
    pub host: String,
    pub nick: Option<String>,
    pub user: Option<String>,
    pub realname: String,
    pub registered: bool,
    /// Between `CAP LS` and `CAP END` registration waits.
    pub negotiating: bool,
    /// The channels' keys.
    pub channels: BTreeSet<String>,
    pub last_seen: Instant,
    pub ping_sent: Option<Instant>,
    pub timer: Option<DelayedCall>,
}

impl Client {
    /// `nick!user@host`, or what is known of it.
    pub fn mask(&self) -> Prefix {
        Prefix::user(
            self.nick.as_deref().unwrap_or("*"),
            self.user.as_deref().unwrap_or("*"),
            &self.host,
        )
    }

    /// What replies are addressed to: the nickname, `*` before one.
    pub fn target(&self) -> &str {
        self.nick.as_deref().unwrap_or("*")
    }
}

pub(super) struct Topic {
    pub text: String,
    pub set_by: String,
    pub set_at: u64,
}

pub(super) struct Channel {
    /// The name as first joined.
    pub name: String,
    pub members: BTreeSet<ClientId>,
    pub topic: Option<Topic>,
}

#[derive(Default)]
pub(super) struct State {
    pub clients: BTreeMap<ClientId, Client>,
    /// Nickname keys to clients, registered or not.
    pub nicks: BTreeMap<String, ClientId>,
    pub channels: BTreeMap<String, Channel>,
    pub next_id: ClientId,
    /// Clients whose unsent output passed the limit, to be dropped once
    /// the current command is done.
    pub overflowed: Vec<ClientId>,
    pub max_sendq: usize,
}

impl State {
    /// Writes `message` to client `id`; a relayed text too long for a line
    /// is cut (servers do), anything else that cannot be written is
    /// dropped.
    pub fn send(&mut self, id: ClientId, message: &Message) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let Some(line) = encode(message) else {
            tracing::debug!(command = %message.command, "an IRC message could not be written");
            return;
        };
        client.transport.write(&line);
        if client.transport.buffered() > self.max_sendq && !self.overflowed.contains(&id) {
            self.overflowed.push(id);
        }
    }

    /// Sends to every member of channel `key` but `except`.
    pub fn send_to_channel(&mut self, key: &str, message: &Message, except: Option<ClientId>) {
        let members: Vec<ClientId> = match self.channels.get(key) {
            Some(channel) => channel.members.iter().copied().collect(),
            None => return,
        };
        for member in members.into_iter().filter(|&m| Some(m) != except) {
            self.send(member, message);
        }
    }

    /// Everyone who shares a channel with `id`, once each, without `id`.
    pub fn peers(&self, id: ClientId) -> BTreeSet<ClientId> {
        let Some(client) = self.clients.get(&id) else {
            return BTreeSet::new();
        };
        let mut peers: BTreeSet<ClientId> = client
            .channels
            .iter()
            .filter_map(|key| self.channels.get(key))
            .flat_map(|channel| channel.members.iter().copied())
            .collect();
        peers.remove(&id);
        peers
    }

    /// Takes `id` out of a channel, dropping the channel once empty.
    pub fn leave(&mut self, id: ClientId, channel_key: &str) {
        if let Some(client) = self.clients.get_mut(&id) {
            client.channels.remove(channel_key);
        }
        if let Some(channel) = self.channels.get_mut(channel_key) {
            channel.members.remove(&id);
            if channel.members.is_empty() {
                self.channels.remove(channel_key);
            }
        }
    }

    /// Takes client `id` off the server: the others in its channels hear
    /// it QUIT with `reason`. Returns the client, whose connection the
    /// caller closes.
    pub fn remove(&mut self, id: ClientId, reason: &str) -> Option<Client> {
        let peers = self.peers(id);
        let client = self.clients.get(&id)?;
        let channels: Vec<String> = client.channels.iter().cloned().collect();
        if client.registered {
            let quit = Message::new("QUIT", [reason]).with_prefix(client.mask());
            for peer in peers {
                self.send(peer, &quit);
            }
        }
        for channel in channels {
            self.leave(id, &channel);
        }
        let client = self.clients.remove(&id)?;
        if let Some(nick) = &client.nick {
            self.nicks.remove(&key(nick));
        }
        if let Some(timer) = &client.timer {
            let _ = timer.cancel();
        }
        Some(client)
    }
}

/// The line for `message`, its last parameter cut to fit 512 bytes.
pub(super) fn encode(message: &Message) -> Option<Vec<u8>> {
    message.validate().ok()?;
    let over = (message.body_length() + 2).saturating_sub(MAX_LINE_LENGTH);
    let line = if over == 0 {
        message.to_string()
    } else {
        let mut cut = message.clone();
        let last = cut.params.last_mut()?;
        let mut keep = last.len().checked_sub(over)?;
        while !last.is_char_boundary(keep) {
            keep -= 1;
        }
        last.truncate(keep);
        cut.to_string()
    };
    let mut bytes = line.into_bytes();
    bytes.extend_from_slice(b"\r\n");
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_text_too_long_for_a_line_is_cut_to_fit() {
        let text = "é".repeat(300);
        let message =
            Message::new("PRIVMSG", ["#a", &text]).with_prefix(Prefix::user("n", "u", "h"));
        let line = encode(&message).unwrap();
        assert!(line.len() <= MAX_LINE_LENGTH && line.len() >= MAX_LINE_LENGTH - 1);
        assert!(std::str::from_utf8(&line).is_ok());
        assert!(line.ends_with(b"\r\n"));
    }
}
