//! A chat room shared by every kind of door into it: the line protocol
//! that `nc` and telnet users speak ([`line_chatter`]), and torsion-web's
//! WebSocket page. The room names its members, tells everyone when someone
//! joins, leaves or renames, and keeps the last messages said, which a new
//! member gets on joining.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use torsion::chat::{Member, Room};
//!
//! /// A member that writes down what it hears.
//! #[derive(Default)]
//! struct Notebook(RefCell<Vec<String>>);
//!
//! impl Member for Notebook {
//!     fn send_line(&self, line: &str) -> bool {
//!         self.0.borrow_mut().push(line.to_owned());
//!         true
//!     }
//! }
//!
//! let room = Room::new();
//! let bob = Rc::new(Notebook::default());
//! let bob_id = room.join("bob", bob.clone());
//! room.say(bob_id, "anyone here?");
//! let alice = Rc::new(Notebook::default());
//! let alice_id = room.join("alice", alice.clone());
//! room.say(alice_id, "hi bob");
//! room.leave(alice_id);
//! // alice got the history on joining; bob heard her join, speak and leave.
//! assert_eq!(*alice.0.borrow(), ["<bob> anyone here?"]);
//! assert_eq!(
//!     *bob.0.borrow(),
//!     ["* alice joined", "<alice> hi bob", "* alice left"]
//! );
//! ```

mod line;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::rc::Rc;

pub use line::{LineChatter, line_chatter};

/// How many messages a room keeps for members who join later, unless told.
pub const DEFAULT_HISTORY: usize = 50;

/// One connection in a room, whatever carries it.
pub trait Member {
    /// Sends one line of the room's talk. `false` means the member cannot
    /// keep up (too much waits unsent for it): the room drops it and calls
    /// [`dropped`](Member::dropped).
    fn send_line(&self, line: &str) -> bool;

    /// The room dropped this member for falling behind; close its
    /// connection. Does nothing by default.
    fn dropped(&self) {}

    /// Whether the member's own messages come back to it: a web page shows
    /// only what the server sends, a terminal already shows what was typed.
    fn hears_itself(&self) -> bool {
        false
    }
}

/// A member's number in its room, from [`Room::join`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(u64);

struct Seat {
    name: String,
    member: Rc<dyn Member>,
}

/// Who is in the room and what was said last. Lives on the reactor's
/// thread, shared (`Rc`) by every door into it.
pub struct Room {
    seats: RefCell<BTreeMap<MemberId, Seat>>,
    next_id: Cell<u64>,
    history: RefCell<VecDeque<String>>,
    history_size: usize,
}

impl Room {
    /// An empty room keeping the last [`DEFAULT_HISTORY`] messages.
    pub fn new() -> Rc<Room> {
        Room::with_history(DEFAULT_HISTORY)
    }

    /// An empty room keeping the last `size` messages.
    pub fn with_history(size: usize) -> Rc<Room> {
        Rc::new(Room {
            seats: RefCell::default(),
            next_id: Cell::new(1),
            history: RefCell::default(),
            history_size: size,
        })
    }

    /// Seats `member` as `name`: it is sent the messages kept, the others
    /// hear `* NAME joined`.
    pub fn join(&self, name: &str, member: Rc<dyn Member>) -> MemberId {
        let id = MemberId(self.next_id.get());
        self.next_id.set(id.0 + 1);
        let backlog: Vec<String> = self.history.borrow().iter().cloned().collect();
        // A member that cannot take the history is never seated, and the
        // room never hears of it.
        if !backlog.iter().all(|line| member.send_line(line)) {
            member.dropped();
            return id;
        }
        self.broadcast(&format!("* {name} joined"), None);
        self.seats.borrow_mut().insert(
            id,
            Seat {
                name: name.to_owned(),
                member,
            },
        );
        id
    }

    /// `text` said by member `from`: `<NAME> text` to everyone else (and to
    /// the sender if it [hears itself](Member::hears_itself)), kept in the
    /// history. A member no longer seated says nothing.
    pub fn say(&self, from: MemberId, text: &str) {
        let Some(name) = self.name(from) else { return };
        let line = format!("<{name}> {text}");
        {
            let mut history = self.history.borrow_mut();
            history.push_back(line.clone());
            while history.len() > self.history_size {
                history.pop_front();
            }
        }
        self.broadcast(&line, Some(from));
    }

    /// Renames a member; everyone else (and the member, if it
    /// [hears itself](Member::hears_itself)) hears `* OLD is now NEW`.
    pub fn rename(&self, id: MemberId, name: &str) {
        let old = match self.seats.borrow_mut().get_mut(&id) {
            Some(seat) => std::mem::replace(&mut seat.name, name.to_owned()),
            None => return,
        };
        self.broadcast(&format!("* {old} is now {name}"), Some(id));
    }

    /// Unseats a member; everyone else hears `* NAME left`. Returns its
    /// name, or `None` if it was not seated (already gone, or dropped).
    pub fn leave(&self, id: MemberId) -> Option<String> {
        let seat = self.seats.borrow_mut().remove(&id)?;
        self.broadcast(&format!("* {} left", seat.name), None);
        Some(seat.name)
    }

    /// The name of a seated member.
    pub fn name(&self, id: MemberId) -> Option<String> {
        self.seats.borrow().get(&id).map(|seat| seat.name.clone())
    }

    /// How many members are seated.
    pub fn len(&self) -> usize {
        self.seats.borrow().len()
    }

    /// Whether nobody is seated.
    pub fn is_empty(&self) -> bool {
        self.seats.borrow().is_empty()
    }

    /// The messages kept, oldest first.
    pub fn history(&self) -> Vec<String> {
        self.history.borrow().iter().cloned().collect()
    }

    /// Sends `line` to every member but `from` (unless it hears itself).
    fn broadcast(&self, line: &str, from: Option<MemberId>) {
        let listeners: Vec<_> = self
            .seats
            .borrow()
            .iter()
            .filter(|(id, seat)| Some(**id) != from || seat.member.hears_itself())
            .map(|(id, seat)| (*id, seat.member.clone()))
            .collect();
        self.deliver(line, listeners);
    }

    /// The seats are not borrowed while members send, so a member whose
    /// connection reacts at once (and calls back into the room) is safe.
    fn deliver(&self, line: &str, listeners: Vec<(MemberId, Rc<dyn Member>)>) {
        let mut too_slow = Vec::new();
        for (id, member) in listeners {
            if !member.send_line(line) {
                too_slow.push((id, member));
            }
        }
        for (id, member) in too_slow {
            if let Some(seat) = self.seats.borrow_mut().remove(&id) {
                tracing::info!(name = %seat.name, "dropped a chat member too slow to keep up");
            }
            member.dropped();
        }
    }
}

impl fmt::Debug for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Room")
            .field("members", &self.len())
            .field("history", &self.history.borrow().len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
