//! A FIFO of Deferreds waiting for a value, whose members can cancel their
//! wait: shared by [`DeferredSemaphore`](super::DeferredSemaphore) and
//! [`DeferredQueue`](super::DeferredQueue).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::{Deferred, Resolver};

/// Waiters in arrival order.
pub(crate) struct Waiters<T: 'static> {
    next_id: u64,
    entries: VecDeque<(u64, Resolver<T>)>,
}

impl<T: 'static> Waiters<T> {
    pub(crate) fn new() -> Waiters<T> {
        Waiters {
            next_id: 0,
            entries: VecDeque::new(),
        }
    }

    /// The oldest waiter, to be fired by the caller outside any borrow.
    pub(crate) fn pop(&mut self) -> Option<Resolver<T>> {
        self.entries.pop_front().map(|(_, resolver)| resolver)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Adds a waiter to the list that `waiters` finds inside `owner`.
/// Cancelling the returned Deferred takes it out of the list again (it then
/// fails with `Cancelled`, not as dropped).
pub(crate) fn wait<S: 'static, T: 'static>(
    owner: &Rc<RefCell<S>>,
    waiters: fn(&mut S) -> &mut Waiters<T>,
) -> Deferred<T> {
    let weak = Rc::downgrade(owner);
    let mut state = owner.borrow_mut();
    let list = waiters(&mut state);
    let id = list.next_id;
    list.next_id += 1;
    let (deferred, resolver) = Deferred::with_canceller(move || {
        let Some(owner) = weak.upgrade() else { return };
        let removed = {
            let mut state = owner.borrow_mut();
            let list = waiters(&mut state);
            let position = list.entries.iter().position(|(waiter, _)| *waiter == id);
            position.and_then(|position| list.entries.remove(position))
        };
        if let Some((_, resolver)) = removed {
            resolver.disarm();
        }
    });
    list.entries.push_back((id, resolver));
    deferred
}
