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
//! The list is moved into a thread-local while the task is polled and back
//! afterwards, so the poll path costs two swaps and no allocation; a
//! Deferred notes itself only when it returns `Pending`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::cancel::{AwaitState, Cancel, cancel_chain};

/// Past this many entries, finished ones are dropped before adding more.
const PRUNE_AT: usize = 8;

thread_local! {
    /// The list of the task being polled on this thread, if any.
    static CURRENT: RefCell<Option<AwaitList>> = const { RefCell::new(None) };
}

/// The Deferreds one task has awaited and that may still be pending.
#[derive(Default)]
pub(crate) struct AwaitList {
    entries: Vec<Weak<dyn Cancel>>,
}

/// Puts the task's list back when its poll ends, even by a panic.
pub(crate) struct Entered<'a> {
    home: &'a mut AwaitList,
    previous: Option<AwaitList>,
}

impl AwaitList {
    /// Makes this the current task's list until the guard is dropped.
    pub(crate) fn enter(&mut self) -> Entered<'_> {
        let mine = std::mem::take(self);
        let previous = CURRENT.with(|current| current.borrow_mut().replace(mine));
        Entered {
            home: self,
            previous,
        }
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
        let previous = self.previous.take();
        let mine = CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), previous));
        if let Some(mine) = mine {
            *self.home = mine;
        }
    }
}

/// Notes that the task being polled awaits `deferred`, which is pending.
/// Outside a task (a Deferred polled by hand or by another executor) this
/// does nothing.
pub(crate) fn note(deferred: Weak<dyn Cancel>) {
    let _ = CURRENT.try_with(|current| {
        if let Ok(mut current) = current.try_borrow_mut()
            && let Some(list) = current.as_mut()
        {
            list.add(deferred);
        }
    });
}

/// Cancels each Deferred of `pending` (from [`AwaitList::pending`]).
pub(crate) fn cancel_all(pending: Vec<Rc<dyn Cancel>>) {
    for deferred in pending {
        cancel_chain(deferred);
    }
}
