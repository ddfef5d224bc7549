//! What the server does with each command: registration (CAP, PASS,
//! NICK, USER), PING / PONG, QUIT, and the dispatch to the channel
//! commands.

use super::state::{ClientId, State, key};
use super::{Server, channels};
use crate::message::Message;
use crate::numeric::Numeric;

/// The longest nickname accepted (ISUPPORT `NICKLEN`).
pub(super) const NICKLEN: usize = 30;

/// Handles one command from client `id`.
pub(super) fn handle(server: &Server, state: &mut State, id: ClientId, message: &Message) {
    let Some(client) = state.clients.get(&id) else {
        return;
    };
    let registered = client.registered;
    match message.command.as_str() {
        "CAP" => cap(server, state, id, message),
        "PASS" => {}
        "NICK" => nick(server, state, id, message),
        "USER" => user(server, state, id, message),
        "PING" => {
            let token = message.param(0).unwrap_or(&server.config.name);
            let pong = Message::new("PONG", [server.config.name.as_str(), token])
                .with_prefix(server.prefix());
            state.send(id, &pong);
        }
        "PONG" => {}
        "QUIT" => {
            let reason = match message.param(0) {
                Some(reason) => format!("Quit: {reason}"),
                None => "Client Quit".to_owned(),
            };
            server.disconnect(state, id, &reason);
        }
        _ if !registered => server.reply(
            state,
            id,
            Numeric::ERR_NOTREGISTERED,
            &["You have not registered"],
        ),
        _ => channels::handle(server, state, id, message),
    }
}

/// `CAP`: no capability is offered, but a client that asks holds
/// registration until `CAP END`, as IRCv3 says.
fn cap(server: &Server, state: &mut State, id: ClientId, message: &Message) {
    let target = state.clients[&id].target().to_owned();
    let subcommand = message.param(0).unwrap_or("").to_ascii_uppercase();
    let answer = |params: &[&str]| {
        let mut all = vec![target.as_str()];
        all.extend_from_slice(params);
        Message::new("CAP", all).with_prefix(server.prefix())
    };
    match subcommand.as_str() {
        "LS" => {
            if let Some(client) = state.clients.get_mut(&id) {
                client.negotiating = !client.registered;
            }
            state.send(id, &answer(&["LS", ""]));
        }
        "LIST" => state.send(id, &answer(&["LIST", ""])),
        "REQ" => state.send(id, &answer(&["NAK", message.param(1).unwrap_or("")])),
        "END" => {
            if let Some(client) = state.clients.get_mut(&id) {
                client.negotiating = false;
            }
            try_register(server, state, id);
        }
        _ => server.reply(
            state,
            id,
            Numeric::ERR_INVALIDCAPCMD,
            &[&subcommand, "Invalid CAP command"],
        ),
    }
}

/// Letters, digits and `[]\`_^{|}-`, not starting with a digit or `-`.
pub(super) fn valid_nick(nick: &str) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = nick.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    nick.len() <= NICKLEN
        && (first.is_ascii_alphabetic() || special(first))
        && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
}

fn nick(server: &Server, state: &mut State, id: ClientId, message: &Message) {
    let Some(new) = message.param(0).filter(|nick| !nick.is_empty()) else {
        server.reply(
            state,
            id,
            Numeric::ERR_NONICKNAMEGIVEN,
            &["No nickname given"],
        );
        return;
    };
    if !valid_nick(new) {
        server.reply(
            state,
            id,
            Numeric::ERR_ERRONEUSNICKNAME,
            &[new, "Erroneous nickname"],
        );
        return;
    }
    if state.nicks.get(&key(new)).is_some_and(|&owner| owner != id) {
        server.reply(
            state,
            id,
            Numeric::ERR_NICKNAMEINUSE,
            &[new, "Nickname is already in use"],
        );
        return;
    }
    let client = state.clients.get_mut(&id).expect("the client sending");
    let old_mask = client.mask();
    let registered = client.registered;
    if let Some(old) = client.nick.replace(new.to_owned()) {
        state.nicks.remove(&key(&old));
    }
    state.nicks.insert(key(new), id);
    if registered {
        let change = Message::new("NICK", [new]).with_prefix(old_mask);
        state.send(id, &change);
        for peer in state.peers(id) {
            state.send(peer, &change);
        }
    } else {
        try_register(server, state, id);
    }
}

fn user(server: &Server, state: &mut State, id: ClientId, message: &Message) {
    if state.clients[&id].registered {
        server.reply(
            state,
            id,
            Numeric::ERR_ALREADYREGISTERED,
            &["You may not reregister"],
        );
        return;
    }
    let (Some(user), Some(realname)) = (message.param(0), message.param(3)) else {
        server.reply(
            state,
            id,
            Numeric::ERR_NEEDMOREPARAMS,
            &["USER", "Not enough parameters"],
        );
        return;
    };
    let client = state.clients.get_mut(&id).expect("the client sending");
    client.user = Some(
        user.chars()
            .filter(|c| !c.is_whitespace())
            .take(10)
            .collect(),
    );
    client.realname = realname.to_owned();
    try_register(server, state, id);
}

/// Welcomes a client once it has a nickname and a user name and is not
/// negotiating capabilities.
fn try_register(server: &Server, state: &mut State, id: ClientId) {
    let Some(client) = state.clients.get_mut(&id) else {
        return;
    };
    if client.registered || client.negotiating || client.nick.is_none() || client.user.is_none() {
        return;
    }
    client.registered = true;
    let mask = client.mask();
    let config = &server.config;
    let version = concat!("torsion-irc-", env!("CARGO_PKG_VERSION"));
    let welcome = format!("Welcome to the {} IRC network {mask}", config.network);
    let host = format!("Your host is {}, running version {version}", config.name);
    let created = format!("This server was created {}", server.created);
    server.reply(state, id, Numeric::RPL_WELCOME, &[&welcome]);
    server.reply(state, id, Numeric::RPL_YOURHOST, &[&host]);
    server.reply(state, id, Numeric::RPL_CREATED, &[&created]);
    server.reply(
        state,
        id,
        Numeric::RPL_MYINFO,
        &[&config.name, version, "i", "nt"],
    );
    let nicklen = format!("NICKLEN={NICKLEN}");
    let network = format!("NETWORK={}", config.network);
    let isupport = [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        "CHANNELLEN=50",
        &nicklen,
        "TOPICLEN=390",
        &network,
        "are supported by this server",
    ];
    server.reply(state, id, Numeric::RPL_ISUPPORT, &isupport);
    if config.motd.is_empty() {
        server.reply(state, id, Numeric::ERR_NOMOTD, &["MOTD File is missing"]);
    } else {
        let start = format!("- {} Message of the day -", config.name);
        server.reply(state, id, Numeric::RPL_MOTDSTART, &[&start]);
        for line in &config.motd {
            server.reply(state, id, Numeric::RPL_MOTD, &[&format!("- {line}")]);
        }
        server.reply(
            state,
            id,
            Numeric::RPL_ENDOFMOTD,
            &["End of /MOTD command."],
        );
    }
}
