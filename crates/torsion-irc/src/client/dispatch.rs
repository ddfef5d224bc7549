//! From a received [`Message`] to the handler's callbacks, with what the
//! protocol answers by itself (PONG, another nickname, CTCP replies).

use super::{ClientHandler, IrcClient};
use crate::message::{Message, Prefix};
use crate::numeric::Numeric;
use crate::{IrcError, ctcp};

/// Hands `message` to `handler`; false when the connection should close
/// (every nickname tried was taken).
pub(super) fn dispatch<H: ClientHandler>(
    client: &IrcClient,
    handler: &mut H,
    message: &Message,
) -> bool {
    handler.message_received(client, message);
    let param = |index: usize| message.param(index).unwrap_or("");
    let nick = message.source_nick().unwrap_or("");
    match message.command.as_str() {
        "PING" => client.pong(message),
        "PRIVMSG" => {
            if let Some(from) = &message.prefix {
                privmsg(client, handler, from, param(0), param(1));
            }
        }
        "NOTICE" => {
            // CTCP answers to our own queries come as notices; they are
            // left to message_received.
            if ctcp::parse(param(1)).is_none() {
                handler.notice(client, message.prefix.as_ref(), param(0), param(1));
            }
        }
        "JOIN" if client.is_me(nick) => handler.joined(client, param(0)),
        "JOIN" => handler.user_joined(client, nick, param(0)),
        "PART" if client.is_me(nick) => handler.left(client, param(0)),
        "PART" => handler.user_left(client, nick, param(0)),
        "KICK" if client.is_me(param(1)) => handler.kicked(client, param(0), nick, param(2)),
        "KICK" => handler.user_kicked(client, param(1), param(0), nick),
        "QUIT" => handler.user_quit(client, nick, param(0)),
        "NICK" if client.is_me(nick) => {
            client.renamed(param(0));
            handler.nick_changed(client, param(0));
        }
        "NICK" => handler.user_renamed(client, nick, param(0)),
        "TOPIC" => handler.topic_updated(client, param(0), Some(nick), param(1)),
        _ => return numeric(client, handler, message),
    }
    true
}

fn numeric<H: ClientHandler>(client: &IrcClient, handler: &mut H, message: &Message) -> bool {
    let param = |index: usize| message.param(index).unwrap_or("");
    match message.numeric() {
        Some(Numeric::RPL_WELCOME) => {
            client.welcomed(param(0));
            handler.signed_on(client);
        }
        Some(Numeric::RPL_TOPIC) => handler.topic_updated(client, param(1), None, param(2)),
        Some(Numeric::ERR_NICKNAMEINUSE | Numeric::ERR_NICKCOLLISION) if !client.is_signed_on() => {
            let taken = client.nickname();
            match handler.alter_collided_nick(client, &taken) {
                Some(next) => client.set_nick(&next),
                None => {
                    client.gave_up(|| IrcError::NicknameInUse(taken.clone()));
                    return false;
                }
            }
        }
        _ => {}
    }
    true
}

/// A PRIVMSG: a CTCP request, answered or handed on, or plain text.
fn privmsg<H: ClientHandler>(
    client: &IrcClient,
    handler: &mut H,
    from: &Prefix,
    target: &str,
    text: &str,
) {
    let Some(request) = ctcp::parse(text) else {
        handler.privmsg(client, from, target, text);
        return;
    };
    match request.command.as_str() {
        "ACTION" => handler.action(client, from, target, request.argument),
        "VERSION" => {
            if let Some(version) = &client.config().version {
                client.notice(from.nick(), &ctcp::quote("VERSION", version));
            }
        }
        "PING" => client.notice(from.nick(), &ctcp::quote("PING", request.argument)),
        // Other requests (DCC, CLIENTINFO, ...) reach message_received only.
        _ => {}
    }
}
