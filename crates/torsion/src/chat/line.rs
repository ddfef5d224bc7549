//! The line door into a [`Room`]: what `nc` and telnet users speak.

use std::rc::Rc;

use crate::Failure;
use crate::chat::{Member, MemberId, Room};
use crate::net::Transport;
use crate::protocols::{Delimiter, LineContext, LineHandler, LineReceiver};

/// What may wait unsent for one line member before the room drops it.
const MAX_BACKLOG: usize = 1 << 20;

/// The protocol of one member of `room`: lines ending with `\n` (what
/// `nc` sends) or `\r\n` (telnet); the room answers with `\r\n`, which
/// both show as a line end. `/nick NAME` renames, `/quit` leaves, any
/// other line is said to the room. A member starts named after its
/// address.
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::chat::{Room, line_chatter};
/// use torsion::net::factory_fn;
///
/// let reactor = Reactor::new()?;
/// let room = Room::new();
/// reactor.listen_tcp(
///     "127.0.0.1:8123".parse()?,
///     factory_fn(move |_| Some(line_chatter(&room))),
/// )?;
/// reactor.run()?; // nc 127.0.0.1 8123
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn line_chatter(room: &Rc<Room>) -> LineReceiver<LineChatter> {
    LineReceiver::new(LineChatter {
        room: room.clone(),
        id: None,
    })
    .with_delimiter(Delimiter::CrLfOrLf)
}

/// One line member of a room (see [`line_chatter`]).
#[derive(Debug)]
pub struct LineChatter {
    room: Rc<Room>,
    id: Option<MemberId>,
}

/// A connection as a room member.
struct LineMember(Transport);

impl Member for LineMember {
    fn send_line(&self, line: &str) -> bool {
        if self.0.buffered() > MAX_BACKLOG {
            return false;
        }
        self.0.write(line.as_bytes());
        self.0.write(b"\r\n");
        true
    }

    fn dropped(&self) {
        self.0.lose_connection();
    }
}

impl LineHandler for LineChatter {
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        let Some(transport) = ctx.transport().cloned() else {
            return;
        };
        let name = transport.peer().to_string();
        ctx.send_line(format!("welcome, {name}; /nick NAME to rename, /quit to leave").as_bytes());
        self.id = Some(self.room.join(&name, Rc::new(LineMember(transport))));
    }

    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        let Some(id) = self.id else { return };
        let text = String::from_utf8_lossy(line);
        if let Some(name) = text.strip_prefix("/nick ") {
            self.room.rename(id, name.trim());
        } else if text.trim() == "/quit" {
            ctx.send_line(b"bye");
            ctx.lose_connection();
        } else {
            self.room.say(id, &text);
        }
    }

    fn connection_lost(&mut self, _ctx: &mut LineContext<'_>, _reason: Failure) {
        if let Some(id) = self.id.take() {
            self.room.leave(id);
        }
    }
}
