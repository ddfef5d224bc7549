use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{Member, Room};

/// A member that records what it hears; `room_for` lines before it stops
/// keeping up, and whether it echoes its own messages.
#[derive(Default)]
struct Ear {
    heard: RefCell<Vec<String>>,
    room_for: Cell<Option<usize>>,
    echo: bool,
    dropped: Cell<bool>,
}

impl Member for Ear {
    fn send_line(&self, line: &str) -> bool {
        if let Some(left) = self.room_for.get() {
            if left == 0 {
                return false;
            }
            self.room_for.set(Some(left - 1));
        }
        self.heard.borrow_mut().push(line.to_owned());
        true
    }
    fn dropped(&self) {
        self.dropped.set(true);
    }
    fn hears_itself(&self) -> bool {
        self.echo
    }
}

fn heard(ear: &Ear) -> Vec<String> {
    ear.heard.borrow().clone()
}

#[test]
fn a_newcomer_gets_the_last_messages_and_only_as_many_as_kept() {
    let room = Room::with_history(2);
    let bob = room.join("bob", Rc::new(Ear::default()));
    for n in 1..=3 {
        room.say(bob, &format!("message {n}"));
    }
    let alice = Rc::new(Ear::default());
    room.join("alice", alice.clone());
    assert_eq!(heard(&alice), ["<bob> message 2", "<bob> message 3"]);
    assert_eq!(room.history(), ["<bob> message 2", "<bob> message 3"]);
}

#[test]
fn joins_renames_and_leaves_are_told_to_the_others_but_not_kept() {
    let room = Room::new();
    let bob = Rc::new(Ear::default());
    room.join("bob", bob.clone());
    let alice = room.join("alice", Rc::new(Ear::default()));
    room.rename(alice, "carol");
    assert_eq!(room.leave(alice).as_deref(), Some("carol"));
    assert_eq!(room.leave(alice), None);
    assert_eq!(
        heard(&bob),
        ["* alice joined", "* alice is now carol", "* carol left"]
    );
    assert!(room.history().is_empty());
    assert_eq!(room.len(), 1);
}

#[test]
fn a_member_that_hears_itself_gets_its_own_message() {
    let room = Room::new();
    let page = Rc::new(Ear {
        echo: true,
        ..Ear::default()
    });
    let terminal = Rc::new(Ear::default());
    let page_id = room.join("page", page.clone());
    let terminal_id = room.join("terminal", terminal.clone());
    room.say(page_id, "from the page");
    room.say(terminal_id, "from the terminal");
    room.rename(page_id, "browser");
    room.rename(terminal_id, "nc");
    assert_eq!(
        heard(&page),
        [
            "* terminal joined",
            "<page> from the page",
            "<terminal> from the terminal",
            "* page is now browser",
            "* terminal is now nc",
        ]
    );
    assert_eq!(
        heard(&terminal),
        ["<page> from the page", "* page is now browser"]
    );
}

#[test]
fn a_member_that_falls_behind_is_dropped_and_the_rest_still_hear() {
    let room = Room::new();
    let slow = Rc::new(Ear {
        room_for: Cell::new(Some(1)),
        ..Ear::default()
    });
    let fast = Rc::new(Ear::default());
    let speaker = room.join("fast", fast.clone());
    let slow_id = room.join("slow", slow.clone());
    room.say(speaker, "one");
    room.say(speaker, "two");
    assert!(slow.dropped.get());
    assert_eq!(room.name(slow_id), None);
    assert_eq!(heard(&slow), ["<fast> one"]);
    assert_eq!(heard(&fast), ["* slow joined"]);
    assert_eq!(room.len(), 1);
}

#[test]
fn a_member_gone_says_nothing() {
    let room = Room::new();
    let ear = Rc::new(Ear::default());
    room.join("ear", ear.clone());
    let gone = room.join("gone", Rc::new(Ear::default()));
    room.leave(gone);
    room.say(gone, "still here?");
    assert_eq!(heard(&ear), ["* gone joined", "* gone left"]);
}

#[test]
fn a_newcomer_who_cannot_take_the_history_is_never_seated() {
    let room = Room::new();
    let ear = Rc::new(Ear::default());
    let speaker = room.join("ear", ear.clone());
    room.say(speaker, "one");
    room.say(speaker, "two");
    let slow = Rc::new(Ear {
        room_for: Cell::new(Some(1)),
        ..Ear::default()
    });
    let slow_id = room.join("slow", slow.clone());
    assert!(slow.dropped.get());
    assert_eq!(room.name(slow_id), None);
    assert!(heard(&ear).is_empty());
}
