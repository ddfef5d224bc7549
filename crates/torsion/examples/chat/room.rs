//! The chat room: every line a member sends goes to every other member.
//! Lines may end with `\n` (what `nc` sends) or `\r\n` (telnet); the
//! room answers with `\r\n`, which both show as a line end.
//!
//! Shared by the example's `main` and the test that drives it over real
//! sockets.

use std::cell::RefCell;
use std::rc::Rc;

use torsion::Failure;
use torsion::net::Transport;
use torsion::protocols::{Delimiter, LineContext, LineHandler, LineReceiver};

/// Who is in the room.
#[derive(Default)]
pub struct Room {
    members: Vec<(String, Transport)>,
}

impl Room {
    fn broadcast(&self, from: &Transport, line: &[u8]) {
        for (_, member) in &self.members {
            if !member.same_connection(from) {
                member.write(line);
                member.write(b"\r\n");
            }
        }
    }
}

/// The protocol of one member of `room`: lines ending with `\n` or
/// `\r\n`.
pub fn chatter(room: &Rc<RefCell<Room>>) -> LineReceiver<Chatter> {
    LineReceiver::new(Chatter {
        room: room.clone(),
        name: String::new(),
    })
    .with_delimiter(Delimiter::CrLfOrLf)
}

/// One member: `/nick NAME` renames, `/quit` leaves, anything else is said
/// to the room.
pub struct Chatter {
    room: Rc<RefCell<Room>>,
    name: String,
}

impl LineHandler for Chatter {
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        let transport = ctx.transport().unwrap().clone();
        self.name = transport.peer().to_string();
        ctx.send_line(
            format!(
                "welcome, {}; /nick NAME to rename, /quit to leave",
                self.name
            )
            .as_bytes(),
        );
        let joined = format!("* {} joined", self.name);
        let mut room = self.room.borrow_mut();
        room.broadcast(&transport, joined.as_bytes());
        room.members.push((self.name.clone(), transport));
    }

    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        let transport = ctx.transport().unwrap().clone();
        let text = String::from_utf8_lossy(line);
        if let Some(name) = text.strip_prefix("/nick ") {
            let notice = format!("* {} is now {}", self.name, name.trim());
            self.name = name.trim().to_owned();
            self.room.borrow().broadcast(&transport, notice.as_bytes());
        } else if text.trim() == "/quit" {
            ctx.send_line(b"bye");
            ctx.lose_connection();
        } else {
            let said = format!("<{}> {}", self.name, text);
            self.room.borrow().broadcast(&transport, said.as_bytes());
        }
    }

    fn connection_lost(&mut self, ctx: &mut LineContext<'_>, _: Failure) {
        let transport = ctx.transport().unwrap().clone();
        let mut room = self.room.borrow_mut();
        room.members
            .retain(|(_, member)| !member.same_connection(&transport));
        room.broadcast(&transport, format!("* {} left", self.name).as_bytes());
    }
}
