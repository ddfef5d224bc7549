//! A WebSocket chat: open http://127.0.0.1:8080/ in a few browser tabs,
//! pick a name in each, and talk. The page is served at `/`, the WebSocket
//! at `/ws?name=NAME`; every message goes to everyone in the room, prefixed
//! with its sender's name.
//!
//! ```text
//! cargo run -p torsion-web --example websocket_chat -- tcp:8080:interface=127.0.0.1
//! ```
//!
//! A member whose browser stops reading is dropped (1008) once 1 MiB waits
//! for it, so one slow reader cannot make the server hold every message.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use torsion::Reactor;
use torsion::endpoints::server_from_string;
use torsion_web::http::{HeaderValue, StatusCode, header};
use torsion_web::websocket::{
    CloseCode, CloseReason, Message, WebSocket, WebSocketOptions, WebSocketProtocol,
    WebSocketResource,
};
use torsion_web::{Body, Request, Resource, Response, Server};

const PAGE: &str = include_str!("websocket_chat.html");

/// What may wait unsent for one member before it is dropped.
const MAX_BACKLOG: usize = 1 << 20;

/// Who is in the room, by member number.
#[derive(Default)]
struct Room {
    members: RefCell<BTreeMap<u64, WebSocket>>,
    next_id: Cell<u64>,
}

impl Room {
    fn broadcast(&self, line: &str) {
        // Sending never calls back into the room, so the borrow is safe;
        // members that fell too far behind are collected and dropped after.
        let mut too_slow = Vec::new();
        for (id, ws) in self.members.borrow().iter() {
            if ws.buffered_amount() > MAX_BACKLOG {
                too_slow.push((*id, ws.clone()));
            } else {
                let _ = ws.send_text(line);
            }
        }
        for (id, ws) in too_slow {
            self.members.borrow_mut().remove(&id);
            ws.close(CloseCode::Policy, "too slow to keep up with the room");
        }
    }
}

/// One member's connection.
struct Member {
    room: Rc<Room>,
    id: u64,
    name: String,
}

impl WebSocketProtocol for Member {
    fn opened(&mut self, ws: &WebSocket) {
        self.id = self.room.next_id.get();
        self.room.next_id.set(self.id + 1);
        self.name =
            name_from_query(ws.uri().query()).unwrap_or_else(|| format!("guest{}", self.id));
        let _ = ws.send_text(format!(
            "* welcome, {}; {} other(s) here",
            self.name,
            self.room.members.borrow().len()
        ));
        self.room.broadcast(&format!("* {} joined", self.name));
        self.room.members.borrow_mut().insert(self.id, ws.clone());
    }

    fn message_received(&mut self, message: Message) {
        match message.as_text() {
            Some(text) => self
                .room
                .broadcast(&format!("<{}> {}", self.name, text.trim_end())),
            None => tracing::debug!(name = %self.name, "ignored a binary message"),
        }
    }

    fn closed(&mut self, reason: &CloseReason) {
        if self.room.members.borrow_mut().remove(&self.id).is_some() {
            self.room.broadcast(&format!("* {} left", self.name));
        }
        tracing::info!(name = %self.name, %reason, "member left");
    }
}

/// `name=...` from a query string: letters, digits, `-` and `_`, at most
/// 20 of them.
fn name_from_query(query: Option<&str>) -> Option<String> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("name="))?;
    let name: String = value
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .take(20)
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The page at `/`, the chat at `/ws`, 404 elsewhere.
fn site() -> impl Resource {
    let room = Rc::new(Room::default());
    let chat = WebSocketResource::new(move || Member {
        room: room.clone(),
        id: 0,
        name: String::new(),
    })
    .options(WebSocketOptions::default().max_message_size(16 * 1024));
    move |request: Request| match request.uri().path() {
        "/" => {
            let mut page = Response::new(Body::from(PAGE));
            page.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            page.into()
        }
        "/ws" => chat.handle(request),
        _ => {
            let mut missing = Response::new(Body::from("404 Not Found\n"));
            *missing.status_mut() = StatusCode::NOT_FOUND;
            missing.into()
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let description = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp:8080:interface=127.0.0.1".into());
    let reactor = Reactor::new()?;
    let endpoint = server_from_string(&reactor, &description)?;
    let listening = Server::new(site()).listen(&reactor, &endpoint);
    drop(reactor.spawn(async move {
        let listening = listening.await?;
        tracing::info!("chat on http://{}/", listening.address());
        Ok::<(), torsion::Failure>(())
    }));
    // Ctrl-C or SIGTERM stops the reactor gracefully: the server stops
    // listening, closes every member's WebSocket with 1001 (going away)
    // and waits for their answers, so each is logged as "member left";
    // then `run` returns.
    reactor.run()?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::name_from_query;

    #[test]
    fn a_name_is_taken_from_the_query_and_cleaned() {
        assert_eq!(name_from_query(Some("name=alice")), Some("alice".into()));
        assert_eq!(
            name_from_query(Some("x=1&name=b%3Cob>")),
            Some("b3Cob".into())
        );
        assert_eq!(name_from_query(Some("name=")), None);
        assert_eq!(name_from_query(None), None);
    }
}
