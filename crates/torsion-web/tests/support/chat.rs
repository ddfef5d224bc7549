//! The WebSocket chat of `examples/websocket_chat.rs`, as the browser test
//! serves it: the example's own page, and a room that speaks the lines the
//! example's room speaks (`* welcome, NAME; N other(s) here`, `* NAME
//! joined`, `<NAME> text`, `* NAME left`), which is all the page knows of
//! it. The example's room is private to its binary; this stand-in is built
//! from public API only, and records each member's peer address so a test
//! can look for those connections elsewhere (in the live view).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use torsion_web::respond::html;
use torsion_web::websocket::{WebSocket, WebSocketResource};
use torsion_web::{Request, Router};

/// The example's page, unchanged.
pub const CHAT_PAGE: &str = include_str!("../../examples/websocket_chat.html");

/// Who is in the room: member number and WebSocket.
#[derive(Default)]
struct Room {
    members: RefCell<Vec<(u64, WebSocket)>>,
    next_id: Cell<u64>,
}

impl Room {
    fn broadcast(&self, line: &str) {
        for (_, ws) in self.members.borrow().iter() {
            let _ = ws.send_text(line);
        }
    }
}

/// The page at `/`, the room at `/ws?name=NAME`. `peers` gets the address
/// of each member's connection as it joins.
pub fn chat_routes(router: Router, peers: Arc<Mutex<Vec<String>>>) -> Router {
    let room = Rc::new(Room::default());
    let chat = WebSocketResource::from_async(move |ws, mut messages| {
        let room = room.clone();
        let peers = peers.clone();
        async move {
            let id = room.next_id.get();
            room.next_id.set(id + 1);
            let name = name_from_query(ws.uri().query()).unwrap_or(format!("guest{id}"));
            let others = room.members.borrow().len();
            let _ = ws.send_text(format!("* welcome, {name}; {others} other(s) here"));
            room.broadcast(&format!("* {name} joined"));
            room.members.borrow_mut().push((id, ws.clone()));
            peers.lock().unwrap().push(ws.peer().to_string());
            while let Some(message) = messages.next().await {
                if let Some(text) = message.as_text() {
                    room.broadcast(&format!("<{name}> {}", text.trim_end()));
                }
            }
            room.members
                .borrow_mut()
                .retain(|(member, _)| *member != id);
            room.broadcast(&format!("* {name} left"));
        }
    });
    router
        .get("/", |_: Request| html(CHAT_PAGE))
        .get("/ws", chat)
}

/// `name=...` from a query string, letters, digits, `-` and `_` only.
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
