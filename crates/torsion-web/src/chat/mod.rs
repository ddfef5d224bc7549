//! The WebSocket door into a [`torsion::chat::Room`]: a page with a chat
//! at `/` and its WebSocket at `/ws?name=NAME`. Every message goes to
//! everyone in the room, its sender included, prefixed with the sender's
//! name; a newcomer gets the room's last messages; `/nick NAME` renames. The same room can have
//! other doors (`torsion::chat::line_chatter` for `nc` users), so a browser
//! and a terminal talk to each other.
//!
//! ```no_run
//! use torsion::Reactor;
//! use torsion::chat::Room;
//! use torsion_web::{Server, chat};
//!
//! let reactor = Reactor::new()?;
//! let endpoint = torsion::endpoints::server_from_string(&reactor, "tcp:8080:interface=127.0.0.1")?;
//! drop(Server::new(chat::site(&Room::new())).listen(&reactor, &endpoint));
//! reactor.run()?; // open http://127.0.0.1:8080/ in a few tabs
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::Cell;
use std::rc::Rc;

use torsion::chat::{Member, MemberId, Room};

use crate::respond::html;
use crate::websocket::{
    CloseCode, CloseReason, Message, WebSocket, WebSocketOptions, WebSocketProtocol,
    WebSocketResource,
};
use crate::{Request, Router};

/// The chat page: join with a name, then talk; it opens its WebSocket at
/// `ws` beside its own URL.
pub const PAGE: &str = include_str!("page.html");

/// What may wait unsent for one member before the room drops it (1008), so
/// one browser that stops reading cannot make the server hold every
/// message.
const MAX_BACKLOG: usize = 1 << 20;

/// The longest message a member may send.
const MAX_MESSAGE: usize = 16 * 1024;

/// The page at `/` and the room's WebSocket at `/ws`; 404 elsewhere.
pub fn site(room: &Rc<Room>) -> Router {
    let socket = socket(room);
    Router::new()
        .get("/", |_request: Request| html(PAGE))
        .get("/ws", socket)
}

/// The WebSocket resource alone, for a site that places it itself: each
/// connection is a member of `room`, named by the `name` query parameter
/// (`guestN` without one).
pub fn socket(room: &Rc<Room>) -> WebSocketResource {
    let room = room.clone();
    WebSocketResource::new(move || ChatSocket {
        room: room.clone(),
        id: None,
        name: String::new(),
        socket: None,
    })
    .options(WebSocketOptions::default().max_message_size(MAX_MESSAGE))
}

/// One WebSocket member of a room (see [`socket`]).
#[derive(Debug)]
pub struct ChatSocket {
    room: Rc<Room>,
    id: Option<MemberId>,
    name: String,
    socket: Option<WebSocket>,
}

/// A WebSocket as a room member.
struct SocketMember(WebSocket);

impl Member for SocketMember {
    fn send_line(&self, line: &str) -> bool {
        if self.0.buffered_amount() > MAX_BACKLOG {
            return false;
        }
        let _ = self.0.send_text(line);
        true
    }

    fn dropped(&self) {
        self.0
            .close(CloseCode::Policy, "too slow to keep up with the room");
    }

    /// The page shows only what the server sends.
    fn hears_itself(&self) -> bool {
        true
    }
}

thread_local! {
    /// Numbers for members who gave no name.
    static GUESTS: Cell<u64> = const { Cell::new(0) };
}

impl WebSocketProtocol for ChatSocket {
    fn opened(&mut self, ws: &WebSocket) {
        self.name = name_from_query(ws.uri().query()).unwrap_or_else(|| {
            let number = GUESTS.with(|guests| {
                guests.set(guests.get() + 1);
                guests.get()
            });
            format!("guest{number}")
        });
        let _ = ws.send_text(format!(
            "* welcome, {}; {} other(s) here",
            self.name,
            self.room.len()
        ));
        self.id = Some(
            self.room
                .join(&self.name, Rc::new(SocketMember(ws.clone()))),
        );
        self.socket = Some(ws.clone());
    }

    fn message_received(&mut self, message: Message) {
        match (message.as_text(), self.id) {
            (Some(text), Some(id)) => match text.strip_prefix("/nick ") {
                // The same command as the line door's, cleaned as a name
                // from the query is.
                Some(name) => match clean_name(name) {
                    Some(name) => {
                        self.room.rename(id, &name);
                        self.name = name;
                    }
                    None => {
                        if let Some(ws) = &self.socket {
                            let _ = ws.send_text("* a name needs letters or digits");
                        }
                    }
                },
                None => self.room.say(id, text.trim_end()),
            },
            _ => tracing::debug!(name = %self.name, "ignored a binary message"),
        }
    }

    fn closed(&mut self, reason: &CloseReason) {
        if let Some(id) = self.id.take() {
            self.room.leave(id);
        }
        self.socket = None;
        tracing::info!(name = %self.name, %reason, "member left");
    }
}

/// `name=...` from a query string, [cleaned](clean_name).
fn name_from_query(query: Option<&str>) -> Option<String> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("name="))?;
    clean_name(value)
}

/// A name of letters, digits, `-` and `_`, at most 20 of them: the rest
/// of `text` is dropped.
fn clean_name(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .take(20)
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::{clean_name, name_from_query};

    #[test]
    fn a_name_is_taken_from_the_query_and_cleaned() {
        assert_eq!(name_from_query(Some("name=alice")), Some("alice".into()));
        assert_eq!(
            name_from_query(Some("x=1&name=b%3Cob>")),
            Some("b3Cob".into())
        );
        assert_eq!(name_from_query(Some("name=")), None);
        assert_eq!(name_from_query(None), None);
        assert_eq!(clean_name(" carol! "), Some("carol".into()));
    }
}
