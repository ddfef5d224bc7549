//! A WebSocket protocol that records what it sees, for the WebSocket
//! tests to check from either side.

use std::cell::RefCell;
use std::rc::Rc;

use torsion_web::websocket::{CloseCode, CloseReason, Message, WebSocket, WebSocketProtocol};

/// What a [`Recorder`] saw, line by line.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, line: String) {
        self.0.borrow_mut().push(line);
    }
    pub fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    pub fn contains(&self, line: &str) -> bool {
        self.0.borrow().iter().any(|seen| seen == line)
    }
}

/// Echoes messages, pings on opening, and records everything; "close me"
/// makes it close with 4001, "panic" makes it panic.
pub struct Recorder {
    pub ws: Option<WebSocket>,
    pub log: Log,
}

impl Recorder {
    pub fn new(log: &Log) -> Recorder {
        Recorder {
            ws: None,
            log: log.clone(),
        }
    }
}

/// A close as the logs and the tests spell it.
pub fn describe(reason: &CloseReason) -> String {
    let code: u16 = reason.code.into();
    format!("closed {code} {:?} clean={}", reason.reason, reason.clean)
}

impl WebSocketProtocol for Recorder {
    fn opened(&mut self, ws: &WebSocket) {
        self.log
            .push(format!("opened subprotocol={:?}", ws.subprotocol()));
        ws.ping("server ping").unwrap();
        self.ws = Some(ws.clone());
    }

    fn message_received(&mut self, message: Message) {
        let ws = self.ws.as_ref().unwrap();
        match message.as_text() {
            Some("close me") => ws.close(CloseCode::from(4001), "server says bye"),
            Some("panic") => panic!("a protocol bug"),
            _ => {
                self.log.push(format!("message of {} bytes", message.len()));
                ws.send(message).unwrap();
            }
        }
    }

    fn pong_received(&mut self, payload: bytes::Bytes) {
        self.log
            .push(format!("pong {}", String::from_utf8_lossy(&payload)));
    }

    fn closed(&mut self, reason: &CloseReason) {
        self.log.push(describe(reason));
    }
}
