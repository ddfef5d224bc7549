//! Which Deferreds a task is awaiting, so that cancelling the task can
//! cancel them (Twisted's `ensureDeferred(...).cancel()`).
//!
//! An executor gives each task an [`AwaitList`] and polls the task inside
//! [`AwaitList::enter`]. A Deferred polled as a future that is still
//! pending notes itself in the list of the task being polled ([`note`]).
//! Cancelling the task then cancels the Deferreds it awaits: their
//! operations stop, they fail with `Cancelled`, which wakes the task, and
//! the failure comes out of `.await` where the async code can handle it.
//!
//! A Deferred notes itself only when it returns `Pending`, on a stack
//! kept per thread; when the poll ends, what was noted above the mark the
//! poll began at moves to the task's list. A poll that noted nothing (the
//! common case) costs a counter and a length read, each way, with no move
//! of the list and no allocation. Polls nest (a task polled inside
//! another's poll), and each takes only what was noted above its mark.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::cancel::{AwaitState, Cancel, cancel_chain};

/// Past this many entries, finished ones are dropped before adding more.
const PRUNE_AT: usize = 8;

thread_local! {
    /// What the tasks being polled on this thread have noted so far.
    static NOTED: RefCell<Noted> = const {
        RefCell::new(Noted {
            polls: 0,
            entries: Vec::new(),
        })
    };
}

/// Awaited Deferreds noted during the polls under way on a thread.
struct Noted {
    /// Task polls under way (nested ones count each); a note outside
    /// any is dropped.
    polls: usize,
    entries: Vec<Weak<dyn Cancel>>,
}

/// The Deferreds one task has awaited and that may still be pending.
#[derive(Default)]
pub(crate) struct AwaitList {
    entries: Vec<Weak<dyn Cancel>>,
}

/// Moves what the poll noted to the task's list when the poll ends, even
/// by a panic.
pub(crate) struct Entered<'a> {
    home: &'a mut AwaitList,
    /// Where this poll's notes start on the thread's stack.
    mark: usize,
}

impl AwaitList {
    /// Makes this the list that Deferreds found pending are added to,
    /// until the guard is dropped.
    pub(crate) fn enter(&mut self) -> Entered<'_> {
        let mark = NOTED.with_borrow_mut(|noted| {
            noted.polls += 1;
            noted.entries.len()
        });
        Entered { home: self, mark }
    }

    /// Where the awaited Deferreds stand, all together: `Pending` if any
    /// of them is, else `ReadyUnpolled` if any is, else `Done`.
    pub(crate) fn state(&self) -> AwaitState {
        let mut state = AwaitState::Done;
        for entry in &self.entries {
            match entry.upgrade().map(|deferred| deferred.await_state()) {
                Some(AwaitState::Pending) => return AwaitState::Pending,
                Some(AwaitState::ReadyUnpolled) => state = AwaitState::ReadyUnpolled,
                _ => {}
            }
        }
        state
    }

    /// The awaited Deferreds still pending, to be cancelled by
    /// [`cancel_all`] once the caller holds no borrow.
    pub(crate) fn pending(&self) -> Vec<Rc<dyn Cancel>> {
        self.entries
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|deferred| deferred.await_state() == AwaitState::Pending)
            .collect()
    }

    fn add(&mut self, deferred: Weak<dyn Cancel>) {
        if self.entries.iter().any(|entry| entry.ptr_eq(&deferred)) {
            return;
        }
        if self.entries.len() >= PRUNE_AT {
            self.entries.retain(|entry| {
                entry
                    .upgrade()
                    .is_some_and(|deferred| deferred.await_state() != AwaitState::Done)
            });
        }
        self.entries.push(deferred);
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        NOTED.with_borrow_mut(|noted| {
            noted.polls -= 1;
            if noted.entries.len() > self.mark {
                for deferred in noted.entries.drain(self.mark..) {
                    self.home.add(deferred);
                }
            }
        });
    }
}

/// Notes that the task being polled awaits `deferred`, which is pending.
/// Outside a task (a Deferred polled by hand or by another executor) this
/// does nothing.
pub(crate) fn note(deferred: Weak<dyn Cancel>) {
    let _ = NOTED.try_with(|noted| {
        if let Ok(mut noted) = noted.try_borrow_mut()
            && noted.polls > 0
        {
            noted.entries.push(deferred);
        }
    });
}

/// Cancels each Deferred of `pending` (from [`AwaitList::pending`]).
pub(crate) fn cancel_all(pending: Vec<Rc<dyn Cancel>>) {
    for deferred in pending {
        cancel_chain(deferred);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::*;
    use crate::Deferred;

    /// Polls `deferred` as a future, once: pending, it notes itself.
    fn poll_once(deferred: &mut Deferred<u32>) {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pin!(deferred).poll(&mut cx).is_pending());
    }

    #[test]
    fn each_nested_poll_keeps_what_it_noted_and_a_note_outside_any_is_dropped() {
        let (mut outer_awaits, _outer_resolver) = Deferred::<u32>::new();
        let (mut inner_awaits, _inner_resolver) = Deferred::<u32>::new();
        let (mut outside, _resolver) = Deferred::<u32>::new();
        let mut outer = AwaitList::default();
        let mut inner = AwaitList::default();
        {
            let outer_poll = outer.enter();
            poll_once(&mut outer_awaits);
            {
                let _inner_poll = inner.enter();
                poll_once(&mut inner_awaits);
                poll_once(&mut inner_awaits);
            }
            drop(outer_poll);
        }
        poll_once(&mut outside);
        assert_eq!(outer.entries.len(), 1);
        assert_eq!(inner.entries.len(), 1, "noted twice, kept once");
        assert!(NOTED.with_borrow(|noted| noted.polls == 0 && noted.entries.is_empty()));
        assert_eq!(outer.state(), AwaitState::Pending);
        assert_eq!(outer.pending().len(), 1);
    }
}
