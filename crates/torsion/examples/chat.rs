//! A line-based chat server: every line a client sends goes to every other
//! client. Connect with `nc 127.0.0.1 8123`; `/nick NAME` picks a name,
//! `/quit` leaves. Idle clients cost the server a few hundred bytes each.
//!
//! ```text
//! cargo run -p torsion --example chat -- tcp:8123
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use torsion::endpoints::server_from_string;
use torsion::net::Transport;
use torsion::protocols::{LineContext, LineHandler, LineReceiver};
use torsion::{Failure, Reactor};

/// Who is in the room.
#[derive(Default)]
struct Room {
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

struct Chatter {
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let description = std::env::args().nth(1).unwrap_or_else(|| "tcp:8123".into());
    let reactor = Reactor::new()?;
    let room = Rc::new(RefCell::new(Room::default()));
    let endpoint = server_from_string(&reactor, &description)?;
    let r = reactor.clone();
    drop(
        endpoint
            .listen(torsion::net::factory_fn(move |_| {
                Some(LineReceiver::new(Chatter {
                    room: room.clone(),
                    name: String::new(),
                }))
            }))
            .map(|port| println!("chat on {}", port.address()))
            .or_else(move |failure| {
                eprintln!("cannot listen: {failure}");
                let _ = r.stop();
                Err(failure)
            }),
    );
    reactor.run()?;
    Ok(())
}
