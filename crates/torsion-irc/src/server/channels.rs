//! The commands of registered clients: channels (JOIN, PART, TOPIC,
//! NAMES, WHO, MODE) and messages (PRIVMSG, NOTICE). Channels have no
//! operators and no modes but the fixed `+nt`: only members speak in a
//! channel, any member may set the topic.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Server;
use super::state::{Channel, ClientId, State, Topic, key};
use crate::message::Message;
use crate::numeric::Numeric;

/// The longest topic kept (ISUPPORT `TOPICLEN`).
const TOPICLEN: usize = 390;

pub(super) fn handle(server: &Server, state: &mut State, id: ClientId, message: &Message) {
    let command = message.command.as_str();
    let needs = match command {
        "JOIN" | "PART" | "TOPIC" | "MODE" => 1,
        _ => 0,
    };
    if message.params.len() < needs {
        server.reply(
            state,
            id,
            Numeric::ERR_NEEDMOREPARAMS,
            &[command, "Not enough parameters"],
        );
        return;
    }
    let first = message.param(0).unwrap_or("");
    match command {
        "JOIN" if first == "0" => {
            let joined: Vec<String> = state.clients[&id].channels.iter().cloned().collect();
            for channel in joined {
                part(server, state, id, &channel, None);
            }
        }
        "JOIN" => first
            .split(',')
            .for_each(|name| join(server, state, id, name)),
        "PART" => {
            let reason = message.param(1);
            first
                .split(',')
                .for_each(|name| part(server, state, id, name, reason));
        }
        "PRIVMSG" | "NOTICE" => say(server, state, id, message),
        "TOPIC" => topic(server, state, id, first, message.param(1)),
        "NAMES" if first.is_empty() => server.reply(
            state,
            id,
            Numeric::RPL_ENDOFNAMES,
            &["*", "End of /NAMES list."],
        ),
        "NAMES" => first
            .split(',')
            .for_each(|name| names(server, state, id, name)),
        "WHO" => who(server, state, id, first),
        "MODE" => mode(server, state, id, message),
        _ => server.reply(
            state,
            id,
            Numeric::ERR_UNKNOWNCOMMAND,
            &[command, "Unknown command"],
        ),
    }
}

/// `#` and up to 49 more bytes, without space, comma or BEL.
fn valid_channel(name: &str) -> bool {
    name.len() > 1
        && name.len() <= 50
        && name.starts_with('#')
        && !name.contains([' ', ',', '\x07'])
}

fn join(server: &Server, state: &mut State, id: ClientId, name: &str) {
    if !valid_channel(name) {
        server.reply(
            state,
            id,
            Numeric::ERR_BADCHANMASK,
            &[name, "Bad Channel Mask"],
        );
        return;
    }
    let channel_key = key(name);
    let client = state.clients.get_mut(&id).expect("the client sending");
    if !client.channels.insert(channel_key.clone()) {
        return;
    }
    let mask = client.mask();
    let channel = state
        .channels
        .entry(channel_key.clone())
        .or_insert_with(|| Channel {
            name: name.to_owned(),
            members: BTreeSet::new(),
            topic: None,
        });
    channel.members.insert(id);
    let name = channel.name.clone();
    state.send_to_channel(
        &channel_key,
        &Message::new("JOIN", [&name]).with_prefix(mask),
        None,
    );
    send_topic(server, state, id, &channel_key, false);
    names(server, state, id, &name);
}

fn part(server: &Server, state: &mut State, id: ClientId, name: &str, reason: Option<&str>) {
    let channel_key = key(name);
    let Some(channel) = member_of(server, state, id, name) else {
        return;
    };
    let mask = state.clients[&id].mask();
    let params = std::iter::once(channel.as_str()).chain(reason);
    let message = Message::new("PART", params).with_prefix(mask);
    state.send_to_channel(&channel_key, &message, None);
    state.leave(id, &channel_key);
}

/// The channel's name if `id` is in it; otherwise replies 403 or 442.
fn member_of(server: &Server, state: &mut State, id: ClientId, name: &str) -> Option<String> {
    match state.channels.get(&key(name)) {
        None => {
            server.reply(
                state,
                id,
                Numeric::ERR_NOSUCHCHANNEL,
                &[name, "No such channel"],
            );
            None
        }
        Some(channel) if !channel.members.contains(&id) => {
            server.reply(
                state,
                id,
                Numeric::ERR_NOTONCHANNEL,
                &[name, "You're not on that channel"],
            );
            None
        }
        Some(channel) => Some(channel.name.clone()),
    }
}

/// PRIVMSG and NOTICE, to channels and nicknames; a NOTICE never gets an
/// error back (RFC 1459 §4.4.2).
fn say(server: &Server, state: &mut State, id: ClientId, message: &Message) {
    let command = message.command.as_str();
    let errors = command == "PRIVMSG";
    let (Some(targets), Some(text)) = (message.param(0), message.param(1)) else {
        if errors && message.params.is_empty() {
            let reason = format!("No recipient given ({command})");
            server.reply(state, id, Numeric::ERR_NORECIPIENT, &[&reason]);
        } else if errors {
            server.reply(state, id, Numeric::ERR_NOTEXTTOSEND, &["No text to send"]);
        }
        return;
    };
    let mask = state.clients[&id].mask();
    for target in targets.split(',') {
        let relayed = Message::new(command, [target, text]).with_prefix(mask.clone());
        if target.starts_with('#') {
            let channel_key = key(target);
            match state.channels.get(&channel_key) {
                Some(channel) if channel.members.contains(&id) => {
                    state.send_to_channel(&channel_key, &relayed, Some(id));
                }
                Some(_) if errors => server.reply(
                    state,
                    id,
                    Numeric::ERR_CANNOTSENDTOCHAN,
                    &[target, "Cannot send to channel"],
                ),
                None if errors => server.reply(
                    state,
                    id,
                    Numeric::ERR_NOSUCHCHANNEL,
                    &[target, "No such channel"],
                ),
                _ => {}
            }
        } else if let Some(&recipient) = state.nicks.get(&key(target)) {
            state.send(recipient, &relayed);
        } else if errors {
            server.reply(
                state,
                id,
                Numeric::ERR_NOSUCHNICK,
                &[target, "No such nick/channel"],
            );
        }
    }
}

fn topic(server: &Server, state: &mut State, id: ClientId, name: &str, text: Option<&str>) {
    let Some(channel_name) = member_of(server, state, id, name) else {
        return;
    };
    let channel_key = key(name);
    let Some(text) = text else {
        send_topic(server, state, id, &channel_key, true);
        return;
    };
    let mut text = text.to_owned();
    if text.len() > TOPICLEN {
        let mut keep = TOPICLEN;
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        text.truncate(keep);
    }
    let mask = state.clients[&id].mask();
    let set_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    if let Some(channel) = state.channels.get_mut(&channel_key) {
        channel.topic = (!text.is_empty()).then(|| Topic {
            text: text.clone(),
            set_by: mask.to_string(),
            set_at,
        });
    }
    let message = Message::new("TOPIC", [channel_name.as_str(), &text]).with_prefix(mask);
    state.send_to_channel(&channel_key, &message, None);
}

/// 332 and 333 for a channel with a topic; 331 without one, if asked.
fn send_topic(server: &Server, state: &mut State, id: ClientId, channel_key: &str, asked: bool) {
    let Some(channel) = state.channels.get(channel_key) else {
        return;
    };
    let name = channel.name.clone();
    match &channel.topic {
        Some(topic) => {
            let (text, by, at) = (topic.text.clone(), topic.set_by.clone(), topic.set_at);
            server.reply(state, id, Numeric::RPL_TOPIC, &[&name, &text]);
            server.reply(
                state,
                id,
                Numeric::RPL_TOPICWHOTIME,
                &[&name, &by, &at.to_string()],
            );
        }
        None if asked => server.reply(state, id, Numeric::RPL_NOTOPIC, &[&name, "No topic is set"]),
        None => {}
    }
}

/// 353 lines of nicknames, as many as fit, then 366.
fn names(server: &Server, state: &mut State, id: ClientId, name: &str) {
    if let Some(channel) = state.channels.get(&key(name)) {
        let name = channel.name.clone();
        let nicks: Vec<String> = channel
            .members
            .iter()
            .filter_map(|member| state.clients.get(member)?.nick.clone())
            .collect();
        for chunk in nicks.chunks(20) {
            server.reply(
                state,
                id,
                Numeric::RPL_NAMREPLY,
                &["=", &name, &chunk.join(" ")],
            );
        }
    }
    server.reply(
        state,
        id,
        Numeric::RPL_ENDOFNAMES,
        &[name, "End of /NAMES list."],
    );
}

/// WHO for a channel's members or one nickname.
fn who(server: &Server, state: &mut State, id: ClientId, mask: &str) {
    let members: Vec<ClientId> = match state.channels.get(&key(mask)) {
        Some(channel) => channel.members.iter().copied().collect(),
        None => state.nicks.get(&key(mask)).copied().into_iter().collect(),
    };
    for member in members {
        let Some(client) = state.clients.get(&member) else {
            continue;
        };
        let line = [
            if mask.starts_with('#') { mask } else { "*" }.to_owned(),
            client.user.clone().unwrap_or_default(),
            client.host.clone(),
            server.config.name.clone(),
            client.target().to_owned(),
            "H".to_owned(),
            format!("0 {}", client.realname),
        ];
        let params: Vec<&str> = line.iter().map(String::as_str).collect();
        server.reply(state, id, Numeric::RPL_WHOREPLY, &params);
    }
    server.reply(
        state,
        id,
        Numeric::RPL_ENDOFWHO,
        &[mask, "End of /WHO list."],
    );
}

/// Modes can be asked, not changed: channels are `+nt`, users have none.
fn mode(server: &Server, state: &mut State, id: ClientId, message: &Message) {
    let target = message.param(0).unwrap_or("");
    let changing = message.params.len() > 1;
    if target.starts_with('#') {
        let Some(name) = state.channels.get(&key(target)).map(|c| c.name.clone()) else {
            server.reply(
                state,
                id,
                Numeric::ERR_NOSUCHCHANNEL,
                &[target, "No such channel"],
            );
            return;
        };
        if changing {
            let text = "You're not channel operator";
            server.reply(state, id, Numeric::ERR_CHANOPRIVSNEEDED, &[&name, text]);
        } else {
            server.reply(state, id, Numeric::RPL_CHANNELMODEIS, &[&name, "+nt"]);
        }
    } else if changing {
        server.reply(
            state,
            id,
            Numeric::ERR_UMODEUNKNOWNFLAG,
            &["Unknown MODE flag"],
        );
    } else {
        server.reply(state, id, Numeric::RPL_UMODEIS, &["+"]);
    }
}
